//! The admin area's server functions. The services they call check the caller's role.

use crate::model::{AppError, AuditPage, UsersPage};
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use crate::server::{admin, context::RequestCtx};

/// One page of users matching `query` (a username prefix, case-insensitive).
#[server(endpoint = "admin_users")]
pub async fn admin_users(query: String, page: i64, state: Option<String>) -> Result<UsersPage, AppError> {
    let only_disabled = state.as_deref() == Some("disabled");
    admin::list_users(&RequestCtx::current()?, &query, only_disabled, page).await
}

/// Disables a user: every session ends and no sign-in works until `until` (empty: until
/// enabled again). Answers a sentence saying what happened.
#[server(endpoint = "disable_user")]
pub async fn disable_user(
    user_id: i64,
    reason: Option<String>,
    until: Option<String>,
) -> Result<String, AppError> {
    use crate::model::Role;
    let ctx = RequestCtx::current()?;
    ctx.actor(Role::Admin)?;
    let until = admin::parse_until(until.as_deref().unwrap_or_default(), ctx.now())?;
    let done = admin::set_disabled(&ctx, user_id, Some((until, reason.as_deref()))).await?;
    Ok(format!(
        "{} is disabled; {}.",
        done.username,
        crate::model::sessions_ended(done.ended)
    ))
}

/// Ends every session of a user.
#[server(endpoint = "sign_out_user")]
pub async fn sign_out_user(user_id: i64) -> Result<String, AppError> {
    let (username, ended) = admin::sign_out_everywhere(&RequestCtx::current()?, user_id).await?;
    Ok(format!(
        "{username} was signed out everywhere ({}).",
        crate::model::sessions_ended(ended)
    ))
}

/// Deletes a user; `confirm` must be ticked.
#[server(endpoint = "delete_user")]
pub async fn delete_user(user_id: i64, confirm: Option<String>) -> Result<String, AppError> {
    let ctx = RequestCtx::current()?;
    ctx.actor(crate::model::Role::Admin)?;
    if confirm.is_none() {
        return Err(AppError::bad_request("Tick the box to confirm the deletion."));
    }
    let username = admin::delete_user(&ctx, user_id).await?;
    Ok(format!("{username} was deleted."))
}

/// Enables a disabled user again.
#[server(endpoint = "enable_user")]
pub async fn enable_user(user_id: i64) -> Result<String, AppError> {
    let done = admin::set_disabled(&RequestCtx::current()?, user_id, None).await?;
    Ok(format!("{} can sign in again.", done.username))
}

/// Gives a user another role. Answers a sentence saying what changed.
#[server(endpoint = "set_role")]
pub async fn set_role(user_id: i64, role: String) -> Result<String, AppError> {
    use crate::model::Role;
    let ctx = RequestCtx::current()?;
    // Who may ask comes before what was asked: a signed-out caller gets 401, not 400.
    ctx.actor(Role::Admin)?;
    let role: Role = role
        .parse()
        .map_err(|_| AppError::bad_request("Choose one of the roles offered."))?;
    let changed = admin::change_role(&ctx, user_id, role).await?;
    Ok(format!("{} is now {}.", changed.username, changed.to))
}

/// The latest audit events, filtered by kind and username when given.
#[server(endpoint = "admin_events")]
pub async fn admin_events(kind: String, username: String, page: i64) -> Result<AuditPage, AppError> {
    admin::list_events(&RequestCtx::current()?, &kind, &username, page).await
}

/// Lifts a user's sign-in lock-out. Answers a sentence saying what happened.
#[server(endpoint = "unlock_user")]
pub async fn unlock_user(user_id: i64) -> Result<String, AppError> {
    admin::unlock(&RequestCtx::current()?, user_id).await
}

/// Starts viewing the app as a user below the caller's role, for at most an hour.
#[server(endpoint = "view_as")]
pub async fn view_as(user_id: i64) -> Result<String, AppError> {
    let ctx = RequestCtx::current()?;
    crate::server::auth::view_as::start(&ctx, user_id).await?;
    Ok(ctx.continue_to("/profile"))
}
