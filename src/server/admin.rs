//! Administration: listing users, changing roles (SPEC §9), reading the audit trail.

use crate::{
    model::{
        AppError, AuditEntry, AuditKind, AuditPage, ErrorKind, Role, RoleChange, RoleRefusal, UserSummary,
        UsersPage, EVENTS_PAGE_SIZE, USERS_PAGE_SIZE,
    },
    server::{
        audit::{self, Event},
        auth::session::{Authenticated, ClientInfo},
        db::{self, now_seconds, users, Db},
        error::internal,
    },
};
use unicode_normalization::UnicodeNormalization;

/// Most characters of a search or filter that are looked at.
const QUERY_MAX_CHARS: usize = 64;

/// A search as typed, in the form usernames are keyed by (NFKC, lowercase).
pub fn search_key(query: &str) -> String {
    let short: String = query.trim().chars().take(QUERY_MAX_CHARS).collect();
    short.nfkc().collect::<String>().to_lowercase()
}

/// One page of users whose username starts with `query` (case-insensitive), with the
/// roles `viewer` may give each of them.
pub async fn list_users(
    db: &Db,
    viewer: &Authenticated,
    query: &str,
    page: i64,
) -> Result<UsersPage, AppError> {
    let key = search_key(query);
    let page = page.clamp(1, 1_000_000);
    let mut conn = db.conn().await.map_err(internal)?;
    let total = users::count_matching(conn.exec(), &key).await.map_err(internal)?;
    let owners = users::count_with_role(conn.exec(), Role::Owner)
        .await
        .map_err(internal)?;
    let rows = users::search(conn.exec(), &key, USERS_PAGE_SIZE, (page - 1) * USERS_PAGE_SIZE)
        .await
        .map_err(internal)?;
    let users = rows
        .into_iter()
        .map(|row| {
            let role = row.role.parse().unwrap_or(Role::None);
            UserSummary {
                assignable: RoleChange::assignable(viewer.user.id, viewer.user.role, row.id, role, owners),
                id: row.id,
                username: row.username,
                role,
                created_at: row.created_at,
                last_seen_at: row.last_seen_at,
                has_password: row.has_password != 0,
                has_github: row.has_github != 0,
                has_google: row.has_google != 0,
            }
        })
        .collect();
    Ok(UsersPage { users, page, total })
}

/// Who asks for a role change.
#[derive(Clone, Copy, Debug)]
pub enum Actor<'a> {
    /// A signed-in admin or owner; the rules of SPEC §9 apply.
    User(&'a Authenticated),
    /// The operator at the command line: may set any role, but still never demote the
    /// last owner.
    Operator,
}

/// What a role change did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoleChanged {
    pub username: String,
    pub from: Role,
    pub to: Role,
}

fn refusal(reason: RoleRefusal) -> AppError {
    let kind = match reason {
        RoleRefusal::LastOwner => ErrorKind::Conflict,
        _ => ErrorKind::Forbidden,
    };
    AppError::new(kind, reason.to_string())
}

/// Changes a user's role. The decision reads the current roles inside the transaction
/// that writes, so two changes at once (the last two owners demoting each other) can
/// never leave the site without an owner.
pub async fn change_role(
    db: &Db,
    client: &ClientInfo,
    actor: Actor<'_>,
    target_id: i64,
    new_role: Role,
) -> Result<RoleChanged, AppError> {
    let actor_id = match actor {
        Actor::User(auth) => Some(auth.user.id),
        Actor::Operator => None,
    };
    let mut tx = db.begin().await.map_err(internal)?;
    let rows = users::lock_role_rows(tx.exec(), actor_id.unwrap_or(-1), target_id)
        .await
        .map_err(internal)?;
    let role_of = |id: i64| {
        rows.iter()
            .find(|(row_id, _)| *row_id == id)
            .map(|(_, role)| role.parse().unwrap_or(Role::None))
    };
    let Some(target_role) = role_of(target_id) else {
        return Err(AppError::not_found("There is no such user."));
    };
    let owners = i64::try_from(rows.iter().filter(|(_, role)| role == "owner").count()).unwrap_or(i64::MAX);
    let change = RoleChange {
        actor_id: actor_id.unwrap_or(-1),
        // The operator acts with an owner's powers; a signed-in actor with the role they
        // have now (it may have changed since the request began).
        actor_role: match actor_id {
            Some(id) => role_of(id).unwrap_or(Role::None),
            None => Role::Owner,
        },
        target_id,
        target_role,
        new_role,
        owners,
    };
    change.check().map_err(refusal)?;
    let target = users::find_by_id(tx.exec(), target_id)
        .await
        .map_err(internal)?
        .ok_or_else(|| AppError::not_found("There is no such user."))?;
    let changed = RoleChanged {
        username: target.username.clone(),
        from: target_role,
        to: new_role,
    };
    if target_role == new_role {
        return Ok(changed);
    }
    users::set_role(tx.exec(), target_id, new_role, now_seconds())
        .await
        .map_err(internal)?;
    let detail = format!(
        "{} → {}{}",
        target_role,
        new_role,
        if actor_id.is_none() { " (command line)" } else { "" }
    );
    let mut event = Event::about(AuditKind::RoleChanged, target_id, &target.username).detail(&detail);
    if let Some(id) = actor_id {
        event = event.actor(id);
    }
    audit::record(tx.exec(), client, event).await.map_err(internal)?;
    tx.commit().await.map_err(internal)?;
    tracing::info!(target_id, actor_id, from = %target_role, to = %new_role, "role changed");
    Ok(changed)
}

/// The latest audit events, optionally of one kind and/or about one username.
pub async fn list_events(db: &Db, kind: &str, username: &str, page: i64) -> Result<AuditPage, AppError> {
    let kind = kind.trim();
    let kind = if kind.is_empty() {
        None
    } else {
        Some(
            kind.parse::<AuditKind>()
                .map_err(|()| AppError::bad_request("Unknown kind of event."))?
                .as_str(),
        )
    };
    let name = search_key(username);
    let name = (!name.is_empty()).then_some(name);
    let page = page.clamp(1, 1_000_000);
    let mut conn = db.conn().await.map_err(internal)?;
    let mut rows = db::audit::list(
        conn.exec(),
        kind,
        name.as_deref(),
        EVENTS_PAGE_SIZE + 1,
        (page - 1) * EVENTS_PAGE_SIZE,
    )
    .await
    .map_err(internal)?;
    let has_more = i64::try_from(rows.len()).unwrap_or(0) > EVENTS_PAGE_SIZE;
    rows.truncate(usize::try_from(EVENTS_PAGE_SIZE).unwrap_or(25));
    let events = rows
        .into_iter()
        .map(|row| AuditEntry {
            id: row.id,
            at: row.at,
            kind: row.kind,
            username: row.username,
            actor: row.actor_username,
            ip: row.ip,
            detail: row.detail,
        })
        .collect();
    Ok(AuditPage {
        events,
        page,
        has_more,
    })
}
