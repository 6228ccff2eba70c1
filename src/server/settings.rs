//! The signed-in user's own account: sessions, password, linked providers, deletion.

use crate::{
    domain::{SecretString, Username},
    model::{AccountOverview, AppError, AuditKind, Role, SessionInfo},
    server::{
        audit::{self, Event},
        auth::{
            accounts::{self, AfterPasswordChange},
            sessions::{self, How},
            throttle,
        },
        context::RequestCtx,
        db::{self, users},
        identity::factors::{self, Factors},
    },
};

/// The user's unexpired sessions, newest first, the current one marked.
pub async fn sessions(ctx: &RequestCtx) -> Result<Vec<SessionInfo>, AppError> {
    let auth = ctx.user()?;
    let mut conn = ctx.state.db.conn().await?;
    let rows = db::sessions::list_for_user(conn.exec(), auth.user.id, ctx.now()).await?;
    Ok(rows
        .into_iter()
        .map(|row| SessionInfo {
            current: row.handle == auth.session_handle,
            device: crate::server::user_agent::describe(row.user_agent.as_deref()),
            handle: row.handle,
            ip: row.ip,
            created_at: row.created_at,
            last_seen_at: row.last_seen_at,
            viewed_by_admin: row.viewed != 0,
        })
        .collect())
}

/// Ends one of the user's sessions by its handle. Another user's handle (or one that
/// does not exist) is a 404: the answer never says whose a handle is. Ending the current
/// session signs this browser out; ending another needs a recent authentication (a
/// stolen session must not sign its owner out). Returns whether it was the current one.
pub async fn revoke(ctx: &RequestCtx, handle: &str) -> Result<bool, AppError> {
    let auth = ctx.user()?;
    let handle = handle.trim();
    let well_formed = handle.len() == 24 && handle.bytes().all(|b| b.is_ascii_hexdigit());
    let not_found = || AppError::not_found("That session does not exist, or has already ended.");
    if !well_formed {
        return Err(not_found());
    }
    if handle != auth.session_handle {
        ctx.require_recent()?;
    }
    let mut tx = ctx.state.db.begin().await?;
    if !db::sessions::delete_by_handle(tx.exec(), auth.user.id, handle).await? {
        return Err(not_found());
    }
    let current = handle == auth.session_handle;
    let detail = if current { "this device" } else { "another device" };
    let event = Event::about(AuditKind::SessionRevoked, auth.user.id, &auth.user.username).detail(detail);
    audit::record(tx.exec(), &ctx.client, ctx.now(), event).await?;
    tx.commit().await?;
    if current {
        ctx.state.cookie.clear(&ctx.cookies);
    }
    Ok(current)
}

/// Signs out everywhere else (recent authentication): every other session of the user
/// ends, and so does anything issued before now — pending sign-ins, and a sign-in whose
/// password check is still running (the credentials version goes up). This browser's
/// session is replaced by a new one (a copy of its token elsewhere stops working too),
/// which keeps its confirmation time. Returns how many other sessions ended.
pub async fn revoke_others(ctx: &RequestCtx) -> Result<u64, AppError> {
    let auth = ctx.require_recent()?;
    let mut tx = ctx.state.db.begin().await?;
    let version = users::bump_credentials(tx.exec(), auth.user.id).await?;
    let ended = db::sessions::delete_for_user_except(tx.exec(), auth.user.id, Some(&auth.session_id)).await?;
    let detail = format!("all other sessions ({ended})");
    let event = Event::about(AuditKind::SessionRevoked, auth.user.id, &auth.user.username).detail(&detail);
    audit::record(tx.exec(), &ctx.client, ctx.now(), event).await?;
    sessions::start(tx, ctx, &auth.user, How::SignOutEverywhere, version).await?;
    Ok(ended)
}

/// What the account page shows.
pub async fn overview(ctx: &RequestCtx) -> Result<AccountOverview, AppError> {
    let auth = ctx.user()?;
    let state = &ctx.state;
    let mut conn = state.db.conn().await?;
    let user = users::find_by_id(conn.exec(), auth.user.id)
        .await?
        .ok_or_else(AppError::unauthorized)?;
    let links = db::oauth::for_user(conn.exec(), auth.user.id).await?;
    let passkeys = db::passkeys::count_for_user(conn.exec(), auth.user.id).await?;
    let email = crate::server::auth::email::state_of(conn.exec(), &user, ctx.now()).await?;
    let linked = |provider: &str| {
        links
            .iter()
            .find(|l| l.provider == provider)
            .map(|l| l.display.clone().unwrap_or_else(|| l.provider_user_id.clone()))
    };
    Ok(AccountOverview {
        username: user.username.clone(),
        has_password: user.password_hash.is_some(),
        github: linked("github"),
        google: linked("google"),
        github_enabled: state.config.github.is_some(),
        google_enabled: state.config.google.is_some(),
        recently_authenticated: ctx.recently_authenticated(),
        two_factor: auth.two_factor,
        passkeys: passkeys > 0 && state.config.passkeys,
        email,
    })
}

/// The signed-in user's row (401 when the account is gone).
async fn own_row(ctx: &RequestCtx) -> Result<users::UserRow, AppError> {
    let auth = ctx.user()?;
    let mut conn = ctx.state.db.conn().await?;
    users::find_by_id(conn.exec(), auth.user.id)
        .await?
        .ok_or_else(AppError::unauthorized)
}

/// What a password change and a deletion need besides the current password (SPEC §14,
/// "What counts as a recent authentication"): typing the password proves only the
/// password. An account with a second factor (or without a password) needs a recent
/// authentication that passed every factor — `/reauth` — within the window.
fn require_every_factor(ctx: &RequestCtx, user: &users::UserRow) -> Result<(), AppError> {
    let auth = ctx.user()?;
    let account = Factors {
        totp: auth.two_factor,
        passkey: auth.has_passkey,
        password: user.password_hash.is_some(),
    };
    if !factors::current_password_suffices(account) {
        ctx.require_recent()?;
    }
    Ok(())
}

/// Changes (or, for an account that has none, sets) the password. Every session of the
/// user ends; this browser gets a new one.
pub async fn change_password(
    ctx: &RequestCtx,
    current: &SecretString,
    new: &SecretString,
) -> Result<(), AppError> {
    let user = own_row(ctx).await?;
    require_every_factor(ctx, &user)?;
    let name = Username::parse(&user.username).map_err(|e| AppError::bad_request(e.to_string()))?;
    let password =
        crate::server::auth::password::choice::new_password(ctx, new, &name, "new_password").await?;
    let detail = if user.password_hash.is_some() {
        let attempts = accounts::confirm_password(ctx, &user, current, "current_password").await?;
        let mut conn = ctx.state.db.conn().await?;
        throttle::succeeded(conn.exec(), &attempts).await?;
        "changed on the settings page"
    } else {
        throttle::password_work(ctx, user.id).await?;
        "set on the settings page"
    };
    let user = user.to_session_user();
    accounts::replace_password(ctx, &user, &password, detail, AfterPasswordChange::SignInHere).await?;
    Ok(())
}

/// Deletes the account: sessions, links and the user in one transaction; the audit
/// trail keeps a row with the username. Needs the password, and — for an account with a
/// second factor or without a password — a recent authentication.
pub async fn delete_account(ctx: &RequestCtx, password: &SecretString) -> Result<(), AppError> {
    let user = own_row(ctx).await?;
    require_every_factor(ctx, &user)?;
    if user.password_hash.is_some() {
        let attempts = accounts::confirm_password(ctx, &user, password, "password").await?;
        let mut conn = ctx.state.db.conn().await?;
        throttle::succeeded(conn.exec(), &attempts).await?;
    }
    let mut tx = ctx.state.db.begin().await?;
    // The last owner can't leave: read (and on PostgreSQL lock) the owners in the same
    // transaction, so two owners deleting themselves at once can't both go.
    let roles = crate::server::admin::lock_roles(&mut tx, Some(user.id), user.id, ctx.now()).await?;
    if roles.target == Role::Owner && roles.other_owners == 0 {
        return Err(AppError::conflict(
            "You are the last owner. Make someone else an owner before deleting your account.",
        ));
    }
    let event = Event::about(AuditKind::AccountDeleted, user.id, &user.username);
    audit::record(tx.exec(), &ctx.client, ctx.now(), event).await?;
    users::delete(tx.exec(), user.id).await?;
    tx.commit().await?;
    ctx.state.cookie.clear(&ctx.cookies);
    tracing::info!(user_id = user.id, "account deleted");
    Ok(())
}
