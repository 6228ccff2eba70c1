//! Administration: listing users, changing roles (docs/accounts.md "Roles"), reading the audit
//! trail. Each function checks the caller's role itself.

use crate::{
    model::{
        AppError, AuditEntry, AuditKind, AuditPage, Disabled, ErrorKind, Role, RoleChange, RoleRefusal,
        UserSummary, UsersPage, EVENTS_PAGE_SIZE, MSG_DISABLED, USERS_PAGE_SIZE,
    },
    server::{
        audit::{self, Event},
        auth::throttle,
        context::{Actor, RequestCtx},
        db::{
            self,
            users::{self, stored_role},
            Tx,
        },
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
/// roles the viewer (an admin or owner) may give each of them.
pub async fn list_users(
    ctx: &RequestCtx,
    query: &str,
    only_disabled: bool,
    page: i64,
) -> Result<UsersPage, AppError> {
    let viewer = ctx.require_role(Role::Admin)?;
    let key = search_key(query);
    let page = page.clamp(1, 1_000_000);
    let mut conn = ctx.state.db.conn().await?;
    let now = ctx.now();
    let total = users::count_matching(conn.exec(), &key, only_disabled, now).await?;
    let owners = users::count_enabled_owners(conn.exec(), now).await?;
    let offset = (page - 1) * USERS_PAGE_SIZE;
    let rows = users::search(conn.exec(), &key, only_disabled, USERS_PAGE_SIZE, offset, now).await?;
    let now_ms = ctx.now_ms;
    let users = rows
        .into_iter()
        .map(|row| {
            let role = stored_role(&row.role);
            let disabled = row.disabled_at.is_some() && row.disabled_until.is_none_or(|until| until > now);
            let other_owners = owners - i64::from(role == Role::Owner && !disabled);
            UserSummary {
                assignable: RoleChange::assignable(
                    viewer.user.id,
                    viewer.user.role,
                    row.id,
                    role,
                    other_owners,
                ),
                id: row.id,
                username: row.username,
                role,
                created_at: row.created_at,
                last_seen_at: row.last_seen_at,
                has_password: row.has_password != 0,
                has_github: row.has_github != 0,
                has_google: row.has_google != 0,
                locked_until: (row.locked_until_ms > now_ms).then(|| (row.locked_until_ms + 999) / 1000),
                failed_attempts: row.failed_attempts,
                two_factor: row.two_factor != 0,
                can_disable: may_act(
                    AdminAction::Disable,
                    viewer.user.id,
                    viewer.user.role,
                    row.id,
                    role,
                    other_owners,
                )
                .is_ok(),
                can_view_as: row.id != viewer.user.id && role < viewer.user.role,
                disabled: match row.disabled_at {
                    Some(_) if row.disabled_until.is_none_or(|until| until > now) => Some(Disabled {
                        until: row.disabled_until,
                        reason: row.disabled_reason,
                    }),
                    _ => None,
                },
            }
        })
        .collect();
    Ok(UsersPage { users, page, total })
}

/// Who acted, for an audit detail: an admin on the site, or the operator.
fn by(actor_id: Option<i64>) -> &'static str {
    if actor_id.is_some() {
        "by an admin"
    } else {
        "by the command line"
    }
}

/// An event about `target` done by `actor_id` (`None`: the operator).
fn by_actor<'a>(
    kind: AuditKind,
    target: &'a users::UserRow,
    actor_id: Option<i64>,
    detail: &'a str,
) -> Event<'a> {
    let event = Event::about(kind, target.id, &target.username).detail(detail);
    match actor_id {
        Some(id) => event.actor(id),
        None => event,
    }
}

/// What an admin does to another account.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum AdminAction {
    Disable,
    SignOut,
    Delete,
    Unlock,
}

impl AdminAction {
    /// True when the rule of the last owner applies (it may not be taken away).
    fn guards_the_last_owner(self) -> bool {
        matches!(self, AdminAction::Disable | AdminAction::Delete)
    }

    /// True when a signed-in admin needs a recent authentication for it (SPEC §14).
    /// Lifting a lock-out gives nobody a way in, so it does not.
    fn needs_recent_authentication(self) -> bool {
        !matches!(self, AdminAction::Unlock)
    }

    /// The refusals: acting on oneself, on the last owner, above one's role.
    fn refusals(self) -> [&'static str; 3] {
        match self {
            AdminAction::Unlock => [
                "You can't unlock your own account.",
                "",
                "Admins can unlock only users below admin.",
            ],
            AdminAction::Disable => [
                "You can't disable your own account.",
                "The last owner can't be disabled.",
                "Admins can disable and enable only users below admin.",
            ],
            AdminAction::SignOut => [
                "Sign yourself out on your own sessions page.",
                "",
                "Admins can sign out only users below admin.",
            ],
            AdminAction::Delete => [
                "Delete your own account from your account settings.",
                "The last owner can't be deleted.",
                "Admins can delete only users below admin.",
            ],
        }
    }
}

/// The rules of every admin action on an account: never on oneself (the settings pages
/// are for that); an admin only on users below admin (never on an owner, unlocking
/// included); an owner on anyone — but the last enabled owner can be neither disabled
/// nor deleted. `other_owners`: enabled owners besides the target.
fn may_act(
    action: AdminAction,
    actor_id: i64,
    actor_role: Role,
    target_id: i64,
    target_role: Role,
    other_owners: i64,
) -> Result<(), AppError> {
    let [own, last_owner, above] = action.refusals();
    if actor_id == target_id {
        return Err(AppError::new(ErrorKind::Forbidden, own));
    }
    match actor_role {
        Role::Owner if action.guards_the_last_owner() && target_role == Role::Owner && other_owners == 0 => {
            Err(AppError::conflict(last_owner))
        }
        Role::Owner => Ok(()),
        Role::Admin if target_role < Role::Admin => Ok(()),
        _ => Err(AppError::new(ErrorKind::Forbidden, above)),
    }
}

/// The roles an admin action depends on, read (and on PostgreSQL locked, with the
/// owners) in `tx`.
pub(crate) struct Roles {
    pub target: Role,
    /// The actor's role now (it may have changed since the request began); the operator
    /// (`None` as the actor) acts with an owner's powers.
    pub actor: Role,
    /// Enabled owners other than the target, right now.
    pub other_owners: i64,
}

/// Reads [`Roles`] for `actor_id` acting on `target_id`; 404 when there is no such user,
/// 403 when the acting account was disabled meanwhile (two owners disabling each other at
/// once: the second finds itself disabled).
pub(crate) async fn lock_roles(
    tx: &mut Tx,
    actor_id: Option<i64>,
    target_id: i64,
    now: i64,
) -> Result<Roles, AppError> {
    let rows = users::lock_role_rows(tx.exec(), actor_id.unwrap_or(-1), target_id, now).await?;
    let row_of = |id: i64| rows.iter().find(|row| row.id == id);
    let target = row_of(target_id)
        .map(|row| row.role)
        .ok_or_else(|| AppError::not_found("There is no such user."))?;
    let actor = match actor_id.map(row_of) {
        Some(Some(row)) if row.disabled => return Err(AppError::new(ErrorKind::Forbidden, MSG_DISABLED)),
        Some(row) => row.map_or(Role::None, |row| row.role),
        None => Role::Owner,
    };
    let other_owners = rows
        .iter()
        .filter(|row| row.role == Role::Owner && !row.disabled && row.id != target_id)
        .count();
    Ok(Roles {
        target,
        actor,
        other_owners: i64::try_from(other_owners).unwrap_or(i64::MAX),
    })
}

/// The id of the admin acting (`None`: the operator on the command line). A signed-in
/// admin needs a recent authentication for the actions that change what a user can do
/// (`recent`): a stolen admin session alone does not get that far.
fn acting_admin(ctx: &RequestCtx, recent: bool) -> Result<Option<i64>, AppError> {
    match ctx.actor(Role::Admin)? {
        Actor::User(auth) => {
            if recent {
                ctx.require_recent()?;
            }
            Ok(Some(auth.user.id))
        }
        Actor::Operator => Ok(None),
    }
}

/// The target of an admin action, read (and on PostgreSQL locked, with the owners) in
/// `tx`, once the rules allow the action. Answers the actor's id (`None`: the operator).
async fn checked_target(
    tx: &mut Tx,
    ctx: &RequestCtx,
    action: AdminAction,
    target_id: i64,
) -> Result<(Option<i64>, users::UserRow), AppError> {
    let actor_id = acting_admin(ctx, action.needs_recent_authentication())?;
    let Roles {
        target: target_role,
        actor: actor_role,
        other_owners,
    } = lock_roles(tx, actor_id, target_id, ctx.now()).await?;
    may_act(
        action,
        actor_id.unwrap_or(-1),
        actor_role,
        target_id,
        target_role,
        other_owners,
    )?;
    let target = users::find_by_id(tx.exec(), target_id)
        .await?
        .ok_or_else(|| AppError::not_found("There is no such user."))?;
    Ok((actor_id, target))
}

/// Ends every session of a user (an admin or owner, or the operator). Answers the
/// username and how many sessions ended.
pub async fn sign_out_everywhere(ctx: &RequestCtx, target_id: i64) -> Result<(String, u64), AppError> {
    let mut tx = ctx.state.db.begin().await?;
    let (actor_id, target) = checked_target(&mut tx, ctx, AdminAction::SignOut, target_id).await?;
    users::bump_credentials(tx.exec(), target.id).await?;
    let ended = db::sessions::delete_for_user_except(tx.exec(), target.id, None).await?;
    let detail = format!("all sessions ({ended}), {}", by(actor_id));
    let event = by_actor(AuditKind::SessionRevoked, &target, actor_id, &detail);
    audit::record(tx.exec(), &ctx.client, ctx.now(), event).await?;
    tx.commit().await?;
    tracing::info!(target_id, actor_id, ended, "signed out everywhere by an admin");
    Ok((target.username, ended))
}

/// Deletes a user (an admin or owner, or the operator; the role rules apply): sessions,
/// links, passkeys and the user go in one transaction; the audit trail keeps the
/// username. Answers it.
pub async fn delete_user(ctx: &RequestCtx, target_id: i64) -> Result<String, AppError> {
    let mut tx = ctx.state.db.begin().await?;
    let (actor_id, target) = checked_target(&mut tx, ctx, AdminAction::Delete, target_id).await?;
    let event = by_actor(AuditKind::AccountDeleted, &target, actor_id, by(actor_id));
    audit::record(tx.exec(), &ctx.client, ctx.now(), event).await?;
    users::delete(tx.exec(), target.id).await?;
    tx.commit().await?;
    tracing::info!(target_id, actor_id, "account deleted by an admin");
    Ok(target.username)
}

/// When a disabling ends: empty (never, until enabled), a duration from now (`7d`,
/// `12h`), or a UTC date and time (`2027-01-31T18:00`, `2027-01-31 18:00:00`, RFC 3339).
pub fn parse_until(raw: &str, now: i64) -> Result<Option<i64>, AppError> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    let bad = || {
        AppError::bad_request("Give the end as a date and time (2027-01-31T18:00, UTC) or a duration (7d).")
    };
    let at = if let Ok(duration) = humantime::parse_duration(raw) {
        now.saturating_add(i64::try_from(duration.as_secs()).map_err(|_| bad())?)
    } else if let Ok(at) = time::OffsetDateTime::parse(raw, &time::format_description::well_known::Rfc3339) {
        at.unix_timestamp()
    } else {
        let formats = [
            time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]"),
            time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]"),
            time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]"),
            time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]"),
        ];
        formats
            .iter()
            .find_map(|format| time::PrimitiveDateTime::parse(raw, format).ok())
            .map(|at| at.assume_utc().unix_timestamp())
            .ok_or_else(bad)?
    };
    if at <= now {
        return Err(AppError::bad_request("The end must be in the future."));
    }
    Ok(Some(at))
}

/// What disabling or enabling did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DisableOutcome {
    pub username: String,
    /// Sessions ended.
    pub ended: u64,
}

/// Disables (`Some((until, reason))`) or enables (`None`) a user, as an admin or owner or
/// the operator. Disabling ends every session of the user in the same transaction, and
/// their pending sign-ins; every way of signing in then answers 403 (`sessions::start`).
/// The roles are read in the transaction that writes, like a role change.
pub async fn set_disabled(
    ctx: &RequestCtx,
    target_id: i64,
    disabled: Option<(Option<i64>, Option<&str>)>,
) -> Result<DisableOutcome, AppError> {
    let mut tx = ctx.state.db.begin().await?;
    let (actor_id, target) = checked_target(&mut tx, ctx, AdminAction::Disable, target_id).await?;
    let now = ctx.now();
    let reason = disabled.and_then(|(_, reason)| reason.map(str::trim).filter(|r| !r.is_empty()));
    let reason: Option<String> = reason.map(|r| r.chars().take(500).collect());
    users::set_disabled(
        tx.exec(),
        target_id,
        disabled.map(|(until, _)| (until, reason.as_deref())),
        now,
    )
    .await?;
    let (kind, ended) = match disabled {
        Some(_) => {
            users::bump_credentials(tx.exec(), target_id).await?;
            let ended = db::sessions::delete_for_user_except(tx.exec(), target_id, None).await?;
            (AuditKind::AccountDisabled, ended)
        }
        None => (AuditKind::AccountEnabled, 0),
    };
    let mut detail = match disabled {
        Some((Some(until), _)) => format!("until {}", crate::model::format_datetime(until)),
        Some((None, _)) => "until enabled".to_owned(),
        None => "enabled".to_owned(),
    };
    if let Some(reason) = &reason {
        detail = format!("{detail}: {reason}");
    }
    let detail = format!("{detail} ({})", by(actor_id));
    let event = by_actor(kind, &target, actor_id, &detail);
    audit::record(tx.exec(), &ctx.client, ctx.now(), event).await?;
    tx.commit().await?;
    tracing::info!(
        target_id,
        actor_id,
        disabled = disabled.is_some(),
        ended,
        "account disabled or enabled"
    );
    Ok(DisableOutcome {
        username: target.username,
        ended,
    })
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

/// Changes a user's role, as an admin or owner (or the operator on the command line).
/// The decision reads the current roles inside the transaction that writes, so two
/// changes at once (the last two owners demoting each other) can never leave the site
/// without an owner.
pub async fn change_role(ctx: &RequestCtx, target_id: i64, new_role: Role) -> Result<RoleChanged, AppError> {
    let actor_id = acting_admin(ctx, true)?;
    let mut tx = ctx.state.db.begin().await?;
    let Roles {
        target: target_role,
        actor: actor_role,
        other_owners,
    } = lock_roles(&mut tx, actor_id, target_id, ctx.now()).await?;
    let change = RoleChange {
        actor_id: actor_id.unwrap_or(-1),
        actor_role,
        target_id,
        target_role,
        new_role,
        other_owners,
    };
    change.check().map_err(refusal)?;
    let target = users::find_by_id(tx.exec(), target_id)
        .await?
        .ok_or_else(|| AppError::not_found("There is no such user."))?;
    let changed = RoleChanged {
        username: target.username.clone(),
        from: target_role,
        to: new_role,
    };
    if target_role == new_role {
        return Ok(changed);
    }
    users::set_role(tx.exec(), target_id, new_role, ctx.now()).await?;
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
    audit::record(tx.exec(), &ctx.client, ctx.now(), event).await?;
    tx.commit().await?;
    tracing::info!(target_id, actor_id, from = %target_role, to = %new_role, "role changed");
    Ok(changed)
}

/// Lifts the sign-in lock-out of a user (an admin or owner, or the operator): every
/// counter of the username, its trusted devices' included, is forgotten, and the
/// unlock is recorded. Answers a sentence saying what happened.
pub async fn unlock(ctx: &RequestCtx, target_id: i64) -> Result<String, AppError> {
    let mut tx = ctx.state.db.begin().await?;
    let (actor_id, target) = checked_target(&mut tx, ctx, AdminAction::Unlock, target_id).await?;
    let lifted = throttle::unlock(tx.exec(), &target.username_key).await?;
    let event = by_actor(AuditKind::Unlocked, &target, actor_id, by(actor_id));
    audit::record(tx.exec(), &ctx.client, ctx.now(), event).await?;
    tx.commit().await?;
    tracing::info!(target_id, actor_id, lifted, "sign-in lock lifted");
    Ok(if lifted > 0 {
        format!("{} can sign in again.", target.username)
    } else {
        format!(
            "{} was not locked; any failed attempts are forgotten.",
            target.username
        )
    })
}

/// The latest audit events, optionally of one kind and/or about one username.
pub async fn list_events(
    ctx: &RequestCtx,
    kind: &str,
    username: &str,
    page: i64,
) -> Result<AuditPage, AppError> {
    ctx.require_role(Role::Admin)?;
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
    let mut conn = ctx.state.db.conn().await?;
    let mut rows = db::audit::list(
        conn.exec(),
        kind,
        name.as_deref(),
        EVENTS_PAGE_SIZE + 1,
        (page - 1) * EVENTS_PAGE_SIZE,
    )
    .await?;
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
            occurrences: row.occurrences,
        })
        .collect();
    Ok(AuditPage {
        events,
        page,
        has_more,
    })
}
