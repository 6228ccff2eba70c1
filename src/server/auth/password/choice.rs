//! A password a user chooses: every new password on the site goes through
//! [`new_password`].

use crate::{
    domain::{Password, SecretString, Username},
    model::AppError,
    server::context::RequestCtx,
};

/// A new password for `name`, typed into the form field `field`: the policy (length,
/// guessability), then — when it is on — the breached-password check. Every password a
/// user chooses on the site goes through here; a refusal names the field.
pub async fn new_password(
    ctx: &RequestCtx,
    typed: &SecretString,
    name: &Username,
    field: &str,
) -> Result<Password, AppError> {
    let password = Password::parse(typed, name, ctx.state.config.password_min_length)
        .map_err(|e| AppError::bad_request(e.to_string()).on_field(field))?;
    breached_check(ctx, &password)
        .await
        .map_err(|e| e.on_field(field))?;
    Ok(password)
}

/// The breached-password check, when it is on (`GATEHOUSE_BREACHED_PASSWORDS`).
pub async fn breached_check(ctx: &RequestCtx, password: &Password) -> Result<(), AppError> {
    match &ctx.state.breached {
        Some(check) => check.check(password).await,
        None => Ok(()),
    }
}
