//! Server functions of `/settings/security` (two-factor sign-in, passkeys). Each needs a
//! signed-in user; turning the factor on or off, new recovery codes and removing a
//! passkey need a recent authentication (the services check both). Adding a passkey is
//! the JSON endpoints' work (`auth::passkeys`): it needs the browser's WebAuthn API.

use crate::model::{AppError, SecurityOverview};
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use crate::server::{
    auth::{passkeys, two_factor},
    context::RequestCtx,
    flash,
};

/// What the security page shows.
#[server(endpoint = "security")]
pub async fn load_security() -> Result<SecurityOverview, AppError> {
    two_factor::overview(&RequestCtx::current()?).await
}

/// Makes a new key to add to an authenticator app (two-factor sign-in stays off until a
/// first code confirms it).
#[server(endpoint = "begin_two_factor")]
pub async fn begin_two_factor() -> Result<String, AppError> {
    let ctx = RequestCtx::current()?;
    two_factor::begin_setup(&ctx).await?;
    Ok(ctx.continue_to("/settings/security"))
}

/// Turns two-factor sign-in on with a first code; the recovery codes are shown next.
#[server(endpoint = "confirm_two_factor")]
pub async fn confirm_two_factor(code: String) -> Result<String, AppError> {
    let ctx = RequestCtx::current()?;
    let codes = two_factor::confirm_setup(&ctx, &code).await?;
    flash::keep_recovery_codes(&ctx, &codes);
    Ok(ctx.continue_to("/settings/security?done=enabled"))
}

/// New recovery codes (the old ones stop working); shown next.
#[server(endpoint = "regenerate_recovery_codes")]
pub async fn regenerate_recovery_codes() -> Result<String, AppError> {
    let ctx = RequestCtx::current()?;
    let codes = two_factor::regenerate_codes(&ctx).await?;
    flash::keep_recovery_codes(&ctx, &codes);
    // An address of its own for each new set, so the page asks for it once.
    let at = ctx.now_ms;
    Ok(ctx.continue_to(&format!("/settings/security?done=codes&at={at}")))
}

/// The recovery codes just made, once (the page right after making them shows them).
#[server(endpoint = "new_recovery_codes")]
pub async fn new_recovery_codes() -> Result<Option<Vec<String>>, AppError> {
    let ctx = RequestCtx::current()?;
    ctx.user()?;
    Ok(flash::take_recovery_codes(&ctx))
}

/// Turns two-factor sign-in off, with a current code or a recovery code.
#[server(endpoint = "disable_two_factor")]
pub async fn disable_two_factor(code: String) -> Result<String, AppError> {
    let ctx = RequestCtx::current()?;
    two_factor::disable(&ctx, &code).await?;
    Ok(ctx.continue_to("/settings/security?done=disabled"))
}

/// Renames one of the user's passkeys.
#[server(endpoint = "rename_passkey")]
pub async fn rename_passkey(id: i64, name: String) -> Result<String, AppError> {
    let ctx = RequestCtx::current()?;
    passkeys::rename(&ctx, id, &name).await?;
    Ok(ctx.continue_to("/settings/security?done=renamed"))
}

/// Removes one of the user's passkeys (not the last way to sign in).
#[server(endpoint = "remove_passkey")]
pub async fn remove_passkey(id: i64) -> Result<String, AppError> {
    let ctx = RequestCtx::current()?;
    passkeys::remove(&ctx, id).await?;
    Ok(ctx.continue_to("/settings/security?done=removed"))
}
