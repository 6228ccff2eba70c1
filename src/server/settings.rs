//! The signed-in user's own account: sessions, password, linked providers, deletion.

use crate::{
    domain::{normalise_for_verification, Password, SecretString},
    model::{AccountOverview, AppError, AuditKind, ErrorKind, SessionInfo, RECENT_SIGN_IN_SECONDS},
    server::{
        audit::{self, Event},
        auth::{
            accounts::{self, hash_failure},
            session::{Authenticated, ClientInfo},
            throttle,
        },
        db::{self, now_seconds, users},
        error::internal,
        state::AppState,
        user_agent,
    },
};
use tower_cookies::Cookies;

/// The user's unexpired sessions, newest first, the current one marked.
pub async fn sessions(state: &AppState, auth: &Authenticated) -> Result<Vec<SessionInfo>, AppError> {
    let mut conn = state.db.conn().await.map_err(internal)?;
    let rows = db::sessions::list_for_user(conn.exec(), auth.user.id, now_seconds())
        .await
        .map_err(internal)?;
    Ok(rows
        .into_iter()
        .map(|row| SessionInfo {
            current: row.handle == auth.session_handle,
            device: user_agent::describe(row.user_agent.as_deref()),
            handle: row.handle,
            ip: row.ip,
            created_at: row.created_at,
            last_seen_at: row.last_seen_at,
        })
        .collect())
}

/// Ends one of the user's sessions by its handle. Another user's handle (or one that
/// does not exist) is a 404: the answer never says whose a handle is. Ending the current
/// session signs this browser out. Returns whether it was the current one.
pub async fn revoke(
    state: &AppState,
    cookies: &Cookies,
    client: &ClientInfo,
    auth: &Authenticated,
    handle: &str,
) -> Result<bool, AppError> {
    let handle = handle.trim();
    let well_formed = handle.len() == 24 && handle.bytes().all(|b| b.is_ascii_hexdigit());
    let not_found = || AppError::not_found("That session does not exist, or has already ended.");
    if !well_formed {
        return Err(not_found());
    }
    let mut tx = state.db.begin().await.map_err(internal)?;
    if !db::sessions::delete_by_handle(tx.exec(), auth.user.id, handle)
        .await
        .map_err(internal)?
    {
        return Err(not_found());
    }
    let current = handle == auth.session_handle;
    let detail = if current { "this device" } else { "another device" };
    audit::record(
        tx.exec(),
        client,
        Event::about(AuditKind::SessionRevoked, auth.user.id, &auth.user.username).detail(detail),
    )
    .await
    .map_err(internal)?;
    tx.commit().await.map_err(internal)?;
    if current {
        state.cookie.clear(cookies);
    }
    Ok(current)
}

/// Ends every session of the user but this one; returns how many.
pub async fn revoke_others(
    state: &AppState,
    client: &ClientInfo,
    auth: &Authenticated,
) -> Result<u64, AppError> {
    let mut tx = state.db.begin().await.map_err(internal)?;
    let ended = db::sessions::delete_for_user_except(tx.exec(), auth.user.id, Some(&auth.session_id))
        .await
        .map_err(internal)?;
    if ended > 0 {
        let detail = format!("all other sessions ({ended})");
        audit::record(
            tx.exec(),
            client,
            Event::about(AuditKind::SessionRevoked, auth.user.id, &auth.user.username).detail(&detail),
        )
        .await
        .map_err(internal)?;
    }
    tx.commit().await.map_err(internal)?;
    Ok(ended)
}

/// What the account page shows.
pub async fn overview(state: &AppState, auth: &Authenticated) -> Result<AccountOverview, AppError> {
    let mut conn = state.db.conn().await.map_err(internal)?;
    let user = users::find_by_id(conn.exec(), auth.user.id)
        .await
        .map_err(internal)?
        .ok_or_else(AppError::unauthorized)?;
    let links = db::oauth::for_user(conn.exec(), auth.user.id)
        .await
        .map_err(internal)?;
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
        recently_signed_in: now_seconds() - auth.signed_in_at <= RECENT_SIGN_IN_SECONDS,
    })
}

/// Checks the current password of a user who has one. A wrong one counts towards the
/// username's lock-out like a failed sign-in, so a stolen session can't be used to
/// guess the password.
async fn confirm_password(
    state: &AppState,
    client: &ClientInfo,
    user: &users::UserRow,
    typed: &SecretString,
) -> Result<(), AppError> {
    let wrong = || AppError::new(ErrorKind::Forbidden, "Your current password is not correct.");
    throttle::check_username(
        &state.db,
        &user.username_key,
        client,
        Some((user.id, &user.username)),
    )
    .await
    .map_err(internal)??;
    let Some(typed) = normalise_for_verification(typed) else {
        return Err(wrong());
    };
    let verified = state
        .hasher
        .verify(&typed, user.password_hash.as_deref())
        .await
        .map_err(hash_failure)?;
    if verified.matches {
        return Ok(());
    }
    throttle::record_failure(&state.db, &user.username_key, state.config.login_max_failures)
        .await
        .map_err(internal)?;
    Err(wrong())
}

/// Changes (or, for an account that has none, sets) the password. Every session of the
/// user ends; this browser gets a new one.
pub async fn change_password(
    state: &AppState,
    cookies: &Cookies,
    client: &ClientInfo,
    auth: &Authenticated,
    current: &SecretString,
    new: &SecretString,
) -> Result<(), AppError> {
    let mut conn = state.db.conn().await.map_err(internal)?;
    let user = users::find_by_id(conn.exec(), auth.user.id)
        .await
        .map_err(internal)?
        .ok_or_else(AppError::unauthorized)?;
    drop(conn);
    let name =
        crate::domain::Username::parse(&user.username).map_err(|e| AppError::bad_request(e.to_string()))?;
    let password = Password::parse(new, &name, state.config.password_min_length)
        .map_err(|e| AppError::bad_request(e.to_string()))?;
    let detail = if user.password_hash.is_some() {
        confirm_password(state, client, &user, current).await?;
        "changed on the settings page"
    } else {
        "set on the settings page"
    };
    let (_, fresh) =
        accounts::replace_password(state, client, user.id, &user.username, &password, true, detail).await?;
    if let Some(fresh) = fresh {
        state
            .cookie
            .issue(cookies, fresh.token.expose(), fresh.expires_at);
    }
    Ok(())
}

/// Deletes the account: sessions, links and the user in one transaction; the audit
/// trail keeps a row with the username. Needs the password, or — for an account without
/// one — a sign-in within the last ten minutes.
pub async fn delete_account(
    state: &AppState,
    cookies: &Cookies,
    client: &ClientInfo,
    auth: &Authenticated,
    password: &SecretString,
) -> Result<(), AppError> {
    let mut conn = state.db.conn().await.map_err(internal)?;
    let user = users::find_by_id(conn.exec(), auth.user.id)
        .await
        .map_err(internal)?
        .ok_or_else(AppError::unauthorized)?;
    drop(conn);
    if user.password_hash.is_some() {
        confirm_password(state, client, &user, password).await?;
    } else if now_seconds() - auth.signed_in_at > RECENT_SIGN_IN_SECONDS {
        return Err(AppError::new(
            ErrorKind::Forbidden,
            "For your safety, sign in again (within the last 10 minutes) before deleting your account.",
        ));
    }
    let mut tx = state.db.begin().await.map_err(internal)?;
    // The last owner can't leave: read (and on PostgreSQL lock) the owners in the same
    // transaction, so two owners deleting themselves at once can't both go.
    let rows = users::lock_role_rows(tx.exec(), user.id, user.id)
        .await
        .map_err(internal)?;
    let owners = rows.iter().filter(|(_, role)| role == "owner").count();
    let is_owner = rows.iter().any(|(id, role)| *id == user.id && role == "owner");
    if is_owner && owners <= 1 {
        return Err(AppError::conflict(
            "You are the last owner. Make someone else an owner before deleting your account.",
        ));
    }
    audit::record(
        tx.exec(),
        client,
        Event::about(AuditKind::AccountDeleted, user.id, &user.username),
    )
    .await
    .map_err(internal)?;
    users::delete(tx.exec(), user.id).await.map_err(internal)?;
    tx.commit().await.map_err(internal)?;
    state.cookie.clear(cookies);
    tracing::info!(user_id = user.id, "account deleted");
    Ok(())
}
