//! Server functions of the settings pages. Each needs a signed-in user (401 otherwise);
//! the services they call check it.

use crate::{
    domain::SecretString,
    model::{AccountOverview, AppError, SessionInfo},
};
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use crate::server::{auth::accounts::providers, context::RequestCtx, settings};

/// The caller's active sessions.
#[server(endpoint = "my_sessions")]
pub async fn my_sessions() -> Result<Vec<SessionInfo>, AppError> {
    settings::sessions(&RequestCtx::current()?).await
}

/// Ends one of the caller's sessions, named by its handle.
#[server(endpoint = "revoke_session")]
pub async fn revoke_session(handle: String) -> Result<String, AppError> {
    let ctx = RequestCtx::current()?;
    let current = settings::revoke(&ctx, &handle).await?;
    Ok(ctx.continue_to(if current {
        "/login"
    } else {
        "/settings/sessions?done=revoked"
    }))
}

/// Ends every session of the caller except this one.
#[server(endpoint = "revoke_other_sessions")]
pub async fn revoke_other_sessions() -> Result<String, AppError> {
    let ctx = RequestCtx::current()?;
    settings::revoke_others(&ctx).await?;
    Ok(ctx.continue_to("/settings/sessions?done=others"))
}

/// What the account page needs to know.
#[server(endpoint = "account")]
pub async fn load_account() -> Result<AccountOverview, AppError> {
    settings::overview(&RequestCtx::current()?).await
}

/// Changes the caller's password (or sets one for an account that has none).
#[server(endpoint = "change_password")]
pub async fn change_password(
    current_password: Option<SecretString>,
    new_password: SecretString,
) -> Result<String, AppError> {
    let ctx = RequestCtx::current()?;
    let current = current_password.unwrap_or_default();
    settings::change_password(&ctx, &current, &new_password).await?;
    Ok(ctx.continue_to("/settings/account?done=password"))
}

/// Deletes the caller's account.
#[server(endpoint = "delete_account")]
pub async fn delete_account(password: Option<SecretString>) -> Result<String, AppError> {
    let ctx = RequestCtx::current()?;
    settings::delete_account(&ctx, &password.unwrap_or_default()).await?;
    Ok(ctx.continue_to("/?done=deleted"))
}

/// Disconnects GitHub or Google from the caller's account (never the last way in).
#[server(endpoint = "unlink_provider")]
pub async fn unlink_provider(provider: String) -> Result<String, AppError> {
    let ctx = RequestCtx::current()?;
    let provider: crate::model::Provider = provider
        .parse()
        .map_err(|()| AppError::bad_request("Unknown sign-in provider."))?;
    providers::unlink(&ctx, provider).await?;
    Ok(ctx.continue_to("/settings/account?done=unlinked"))
}
