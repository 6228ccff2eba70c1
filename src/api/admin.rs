//! The admin area's server functions. The services they call check the caller's role.

use crate::model::{AppError, AuditPage, UsersPage};
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use crate::server::{admin, context::RequestCtx};

/// One page of users matching `query` (a username prefix, case-insensitive).
#[server(endpoint = "admin_users")]
pub async fn admin_users(query: String, page: i64) -> Result<UsersPage, AppError> {
    admin::list_users(&RequestCtx::current()?, &query, page).await
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
