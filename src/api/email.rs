//! Server functions of the e-mail flows: a forgotten password, a reset link, a
//! verification link, and the address on `/settings/account`.

use crate::{
    domain::SecretString,
    model::{AppError, ResetLinkState},
};
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use crate::server::{auth::email, context::RequestCtx};

/// Asks for a reset link for `login` (a username or an address). The answer is the same
/// whether or not an account matches.
#[server(endpoint = "forgot_password")]
pub async fn forgot_password(login: String) -> Result<String, AppError> {
    let ctx = RequestCtx::current()?;
    email::forgot_password(&ctx, &login).await?;
    Ok(ctx.continue_to("/forgot-password?sent=1"))
}

/// Whether a reset link is good, and whether its account needs a code too.
#[server(endpoint = "reset_link")]
pub async fn reset_link(token: String) -> Result<ResetLinkState, AppError> {
    let check = email::check_reset_link(&RequestCtx::current()?, &token).await?;
    Ok(ResetLinkState {
        valid: check.valid,
        needs_code: check.needs_code,
    })
}

/// Sets a new password with a reset link; signs in.
#[server(endpoint = "reset_password")]
pub async fn reset_password(
    token: String,
    password: SecretString,
    code: Option<String>,
) -> Result<String, AppError> {
    let ctx = RequestCtx::current()?;
    email::reset_password(&ctx, &token, &password, code.as_deref().unwrap_or_default()).await?;
    Ok(ctx.continue_to("/settings/account?done=reset"))
}

/// The address a verification link is for, while it is good.
#[server(endpoint = "verify_link")]
pub async fn verify_link(token: String) -> Result<Option<String>, AppError> {
    email::check_verify_link(&RequestCtx::current()?, &token).await
}

/// Uses a verification link.
#[server(endpoint = "verify_email")]
pub async fn verify_email(token: String) -> Result<String, AppError> {
    let ctx = RequestCtx::current()?;
    email::verify(&ctx, &token).await?;
    Ok(ctx.continue_to(if ctx.session.is_some() {
        "/settings/account?done=email-verified"
    } else {
        "/verify-email?done=verified"
    }))
}

/// Sends the verification link again.
#[server(endpoint = "resend_verification")]
pub async fn resend_verification() -> Result<String, AppError> {
    let ctx = RequestCtx::current()?;
    email::resend(&ctx).await?;
    Ok(ctx.continue_to("/settings/account?done=email-sent"))
}

/// Changes the signed-in user's address (recent authentication).
#[server(endpoint = "change_email")]
pub async fn change_email(email: String) -> Result<String, AppError> {
    let ctx = RequestCtx::current()?;
    email::change(&ctx, &email).await?;
    Ok(ctx.continue_to("/settings/account?done=email-pending"))
}
