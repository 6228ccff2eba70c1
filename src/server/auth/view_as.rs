//! "View as" (docs/accounts.md "Viewing as a user"): an administrator sees the app as a user
//! below their own role, to understand what that user sees.
//!
//! Starting a view stores a separate session row for the user, marked with the
//! administrator's own session, and puts its token in a cookie of its own
//! (`gatehouse_view_as`). The administrator's session cookie is left as it was. The
//! session layer honours the view only beside the very session that started it, and
//! only while the administrator still outranks the user: the view's token alone is
//! worth nothing, a view ends with the administrator's session (the row goes with it),
//! and "Stop" just ends the view, which leaves the administrator's session in charge
//! again. A view lasts at most `GATEHOUSE_VIEW_AS_TTL` (1 hour) and is never renewed.
//!
//! While viewing, the access layer refuses the admin area, `/reauth`, the OAuth and
//! passkey routes and every server function but the few that read what the pages show
//! ([`READ_ONLY_FUNCTIONS`]); the services refuse too (`RequestCtx::require_recent`,
//! `RequestCtx::require_role`), so no credential, e-mail, two-factor, passkey or
//! deletion action can be taken in the user's name.

use crate::{
    model::{AppError, AuditKind, ErrorKind, Role},
    server::{
        audit::{self, Event},
        auth::{
            cookie::{clear_view, VIEW_AS_COOKIE},
            sessions::{self, authenticated, seconds, Authenticated, SessionToken},
        },
        context::RequestCtx,
        db::{self, users},
        http::client::ClientInfo,
        identity::session::Impersonator,
        state::AppState,
    },
};
use std::sync::Arc;
use tower_cookies::Cookies;

/// Server functions that work while viewing: the reads the user's pages make, signing
/// out, and stopping.
pub const READ_ONLY_FUNCTIONS: &[&str] = &[
    "current_user",
    "auth_settings",
    "account",
    "security",
    "my_sessions",
    "logout",
    "stop_viewing",
];

/// Forgets any view the browser holds (stopping).
fn forget(ctx: &RequestCtx) {
    clear_view(&ctx.cookies, ctx.state.config.https);
}

/// The session layer's step after validating the session cookie: when the request also
/// carries a view cookie for a view this very session started, the request is the
/// viewed user's. A view cookie that does not qualify is removed and the request goes
/// on as the administrator (or signed out).
pub async fn apply(
    state: &AppState,
    cookies: &Cookies,
    client: &ClientInfo,
    own: Option<Arc<Authenticated>>,
    now: i64,
) -> anyhow::Result<Option<Arc<Authenticated>>> {
    let https = state.config.https;
    let Some(value) = cookies
        .get(VIEW_AS_COOKIE.name(https))
        .map(|c| c.value().to_owned())
    else {
        return Ok(own);
    };
    let view = match (&own, SessionToken::parse(&value)) {
        (Some(admin), Some(token)) => validate(state, client, admin, &token, now).await?,
        _ => None,
    };
    match view {
        Some(view) => Ok(Some(Arc::new(view))),
        None => {
            clear_view(cookies, https);
            Ok(own)
        }
    }
}

/// The viewed user, when `token` names a view `admin`'s session started, still running,
/// of a user the administrator still outranks. A view that ran out, or whose
/// administrator no longer outranks the user, is ended and recorded.
async fn validate(
    state: &AppState,
    client: &ClientInfo,
    admin: &Authenticated,
    token: &SessionToken,
    now: i64,
) -> anyhow::Result<Option<Authenticated>> {
    let id = token.id();
    let Some(row) = state.db.find_session(&id).await? else {
        return Ok(None);
    };
    if row.impersonator_session.as_deref() != Some(admin.session_id.as_str()) || admin.impersonator.is_some()
    {
        return Ok(None);
    }
    let ended = if row.expires_at <= now {
        Some("ran out")
    } else if users::stored_role(&row.role) >= admin.user.role {
        Some("the administrator no longer outranks the user")
    } else {
        None
    };
    let impersonator = Impersonator {
        user_id: admin.user.id,
        username: admin.user.username.clone(),
        session_id: admin.session_id.clone(),
    };
    let last_seen_at = row.last_seen_at;
    let mut view = authenticated(id, row);
    if let Some(reason) = ended {
        let mut tx = state.db.begin().await?;
        if db::sessions::delete(tx.exec(), &view.session_id).await? {
            let event = Event::about(AuditKind::ImpersonationStopped, view.user.id, &view.user.username)
                .actor(impersonator.user_id)
                .detail(reason);
            audit::record(tx.exec(), client, now, event).await?;
        }
        tx.commit().await?;
        return Ok(None);
    }
    if now - last_seen_at >= sessions::LAST_SEEN_EVERY_SECONDS {
        let mut conn = state.db.conn().await?;
        db::sessions::touch(conn.exec(), &view.session_id, now).await?;
    }
    // Never "recently authenticated": the administrator proved nothing as this user.
    view.confirmed_at = 0;
    view.user.viewed_by = Some(impersonator.username.clone());
    view.impersonator = Some(impersonator);
    Ok(Some(view))
}

/// Starts viewing the app as the user `target_id`, for an admin or owner acting on a
/// user below their own role (not while already viewing, not on a disabled account);
/// it replaces any earlier view of the same administrator's session.
/// Answers the user's name; the browser then holds the view cookie beside its own.
pub async fn start(ctx: &RequestCtx, target_id: i64) -> Result<String, AppError> {
    let admin = ctx.require_role(Role::Admin)?;
    // Seeing the app as someone else is an admin action: a recent authentication first.
    ctx.require_recent()?;
    let mut tx = ctx.state.db.begin().await?;
    let roles = crate::server::admin::lock_roles(&mut tx, Some(admin.user.id), target_id, ctx.now()).await?;
    if target_id == admin.user.id {
        return Err(AppError::new(ErrorKind::Forbidden, "You can't view as yourself."));
    }
    if roles.target >= roles.actor {
        return Err(AppError::new(
            ErrorKind::Forbidden,
            "You can view as users below your own role only.",
        ));
    }
    let target = users::find_by_id(tx.exec(), target_id)
        .await?
        .ok_or_else(|| AppError::not_found("There is no such user."))?;
    let now = ctx.now();
    if target.is_disabled(now) {
        return Err(AppError::conflict(format!(
            "{} is disabled: enable the account to view as them.",
            target.username
        )));
    }
    // One view at a time per administrator's session: a new one replaces the last.
    db::sessions::delete_views_of(tx.exec(), &admin.session_id).await?;
    let lifetime = seconds(ctx.state.config.session.view_as);
    let grant = sessions::Grant {
        user_id: target.id,
        expires_at: now + lifetime,
        // A view ends with any change that ends the user's own sessions.
        credentials_version: target.credentials_version,
        // Never a recent authentication: the administrator proved nothing as this user.
        confirmed_at: Some(0),
        impersonator: Some((&admin.session_id, admin.user.id)),
    };
    let created = sessions::create(tx.exec(), &ctx.client, &grant, now).await?;
    let detail = format!("for up to {} minutes", lifetime.div_euclid(60).max(1));
    let event = Event::about(AuditKind::ImpersonationStarted, target.id, &target.username)
        .actor(admin.user.id)
        .detail(&detail);
    audit::record(tx.exec(), &ctx.client, ctx.now(), event).await?;
    tx.commit().await?;
    ::metrics::counter!(crate::server::metrics::SESSIONS_CREATED).increment(1);
    ctx.cookies.add(VIEW_AS_COOKIE.build(
        ctx.state.config.https,
        created.token.expose().to_owned(),
        lifetime,
    ));
    tracing::info!(admin_id = admin.user.id, target_id, "viewing as another user");
    Ok(target.username)
}

/// Stops viewing: the view's session ends and the administrator's own session is in
/// charge again. Answers the viewed user's name, or `None` when there was no view (a
/// second click on "Stop").
pub async fn stop(ctx: &RequestCtx) -> Result<Option<String>, AppError> {
    forget(ctx);
    let Some(view) = ctx.session.as_ref() else {
        return Ok(None);
    };
    let Some(admin) = &view.impersonator else {
        return Ok(None);
    };
    let mut tx = ctx.state.db.begin().await?;
    db::sessions::delete(tx.exec(), &view.session_id).await?;
    sessions::record_view_stopped(tx.exec(), ctx, view, admin, "stopped").await?;
    tx.commit().await?;
    tracing::info!(
        admin_id = admin.user_id,
        target_id = view.user.id,
        "stopped viewing"
    );
    Ok(Some(view.user.username.clone()))
}
