//! Server functions of the settings pages. Each needs a signed-in user (401 otherwise).

use crate::{
    domain::SecretString,
    model::{AccountOverview, AppError, SessionInfo},
};
use leptos::prelude::*;

/// The caller's active sessions.
#[server(endpoint = "my_sessions")]
pub async fn my_sessions() -> Result<Vec<SessionInfo>, AppError> {
    use crate::server::context;
    let auth = context::require_user()?;
    crate::server::settings::sessions(&context::state()?, &auth).await
}

/// Ends one of the caller's sessions, named by its handle.
#[server(endpoint = "revoke_session")]
pub async fn revoke_session(handle: String) -> Result<String, AppError> {
    use crate::server::context;
    let auth = context::require_user()?;
    let state = context::state()?;
    let current = crate::server::settings::revoke(
        &state,
        &context::cookies()?,
        &context::client_info(),
        &auth,
        &handle,
    )
    .await?;
    Ok(context::go_to(if current {
        "/login"
    } else {
        "/settings/sessions?done=revoked"
    }))
}

/// Ends every session of the caller except this one.
#[server(endpoint = "revoke_other_sessions")]
pub async fn revoke_other_sessions() -> Result<String, AppError> {
    use crate::server::context;
    let auth = context::require_user()?;
    let state = context::state()?;
    crate::server::settings::revoke_others(&state, &context::client_info(), &auth).await?;
    Ok(context::go_to("/settings/sessions?done=others"))
}

/// What the account page needs to know.
#[server(endpoint = "account")]
pub async fn load_account() -> Result<AccountOverview, AppError> {
    use crate::server::context;
    let auth = context::require_user()?;
    crate::server::settings::overview(&context::state()?, &auth).await
}

/// Changes the caller's password (or sets one for an account that has none).
#[server(endpoint = "change_password")]
pub async fn change_password(
    current_password: Option<SecretString>,
    new_password: SecretString,
) -> Result<String, AppError> {
    use crate::server::context;
    let auth = context::require_user()?;
    let state = context::state()?;
    let current = current_password.unwrap_or_default();
    crate::server::settings::change_password(
        &state,
        &context::cookies()?,
        &context::client_info(),
        &auth,
        &current,
        &new_password,
    )
    .await?;
    Ok(context::go_to("/settings/account?done=password"))
}

/// Deletes the caller's account.
#[server(endpoint = "delete_account")]
pub async fn delete_account(password: Option<SecretString>) -> Result<String, AppError> {
    use crate::server::context;
    let auth = context::require_user()?;
    let state = context::state()?;
    let password = password.unwrap_or_default();
    crate::server::settings::delete_account(
        &state,
        &context::cookies()?,
        &context::client_info(),
        &auth,
        &password,
    )
    .await?;
    Ok(context::go_to("/?done=deleted"))
}

/// Disconnects GitHub or Google from the caller's account (never the last way in).
#[server(endpoint = "unlink_provider")]
pub async fn unlink_provider(provider: String) -> Result<String, AppError> {
    use crate::{model::Provider, server::context};
    let auth = context::require_user()?;
    let state = context::state()?;
    let provider: Provider = provider
        .parse()
        .map_err(|()| AppError::bad_request("Unknown sign-in provider."))?;
    crate::server::auth::oauth::unlink(
        &state,
        &context::client_info(),
        auth.user.id,
        &auth.user.username,
        provider,
    )
    .await?;
    Ok(context::go_to("/settings/account?done=unlinked"))
}
