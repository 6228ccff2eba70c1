//! The admin area's server functions. Each checks the caller's role itself.

use crate::model::{AppError, AuditPage, UsersPage};
use leptos::prelude::*;

/// One page of users matching `query` (a username prefix, case-insensitive).
#[server(endpoint = "admin_users")]
pub async fn admin_users(query: String, page: i64) -> Result<UsersPage, AppError> {
    use crate::{model::Role, server::context};
    let viewer = context::require_role(Role::Admin)?;
    let state = context::state()?;
    crate::server::admin::list_users(&state.db, &viewer, &query, page).await
}

/// Gives a user another role. Answers a sentence saying what changed.
#[server(endpoint = "set_role")]
pub async fn set_role(user_id: i64, role: String) -> Result<String, AppError> {
    use crate::{
        model::Role,
        server::{admin, context},
    };
    let actor = context::require_role(Role::Admin)?;
    let state = context::state()?;
    let role: Role = role
        .parse()
        .map_err(|_| AppError::bad_request("Choose one of the roles offered."))?;
    let changed = admin::change_role(
        &state.db,
        &context::client_info(),
        admin::Actor::User(&actor),
        user_id,
        role,
    )
    .await?;
    Ok(format!("{} is now {}.", changed.username, changed.to))
}

/// The latest audit events, filtered by kind and username when given.
#[server(endpoint = "admin_events")]
pub async fn admin_events(kind: String, username: String, page: i64) -> Result<AuditPage, AppError> {
    use crate::{model::Role, server::context};
    context::require_role(Role::Admin)?;
    let state = context::state()?;
    crate::server::admin::list_events(&state.db, &kind, &username, page).await
}
