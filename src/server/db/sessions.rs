//! Queries on `sessions`. Rows are found by `id` (hex SHA-256 of the token) or, from
//! forms, by `handle`; the token itself never reaches this module.

use super::{on_exec, Exec};
use anyhow::Context;

/// A session to store.
pub struct NewSession<'a> {
    pub id: &'a str,
    pub handle: &'a str,
    pub user_id: i64,
    pub created_at: i64,
    pub expires_at: i64,
    pub ip: Option<&'a str>,
    pub user_agent: Option<&'a str>,
    /// For a "view as" session: the admin's own session and the admin.
    pub impersonator: Option<(&'a str, i64)>,
    /// The user's credentials version when the session was issued.
    pub credentials_version: i64,
    /// When its holder last passed every factor the account has, when that was not the
    /// session's creation (stored in `reauthenticated_at`): the time of the session this
    /// one replaces.
    pub confirmed_at: Option<i64>,
}

pub async fn insert(ex: Exec<'_>, s: &NewSession<'_>) -> anyhow::Result<()> {
    on_exec!(ex, c => sqlx::query(
        "INSERT INTO sessions (id, handle, user_id, created_at, expires_at, last_seen_at, ip, user_agent, \
                               impersonator_session, impersonator_id, credentials_version, reauthenticated_at) \
         VALUES ($1, $2, $3, $4, $5, $4, $6, $7, $8, $9, $10, $11)",
    )
    .bind(s.id)
    .bind(s.handle)
    .bind(s.user_id)
    .bind(s.created_at)
    .bind(s.expires_at)
    .bind(s.ip)
    .bind(s.user_agent)
    .bind(s.impersonator.map(|(session, _)| session))
    .bind(s.impersonator.map(|(_, admin)| admin))
    .bind(s.credentials_version)
    .bind(s.confirmed_at)
    .execute(c)
    .await
    .map(|_| ()))
    .context("insert session")?;
    Ok(())
}

/// A session joined with its user: everything a request needs, in one indexed look-up.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SessionWithUser {
    pub handle: String,
    pub created_at: i64,
    pub reauthenticated_at: Option<i64>,
    pub expires_at: i64,
    pub last_seen_at: i64,
    pub user_id: i64,
    pub username: String,
    pub role: String,
    pub display_name: Option<String>,
    pub avatar_url: Option<String>,
    pub user_created_at: i64,
    /// 1 when the user has two-factor sign-in on.
    pub two_factor: i64,
    /// 1 when the user has a passkey (which satisfies `GATEHOUSE_REQUIRE_2FA` too).
    pub has_passkey: i64,
    /// 1 when the user's e-mail address waits to be verified.
    pub email_unverified: i64,
    /// Set on a "view as" session: the id of the admin's own session beside it.
    pub impersonator_session: Option<String>,
}

/// The one query of request validation. A session issued under an older credentials
/// version than its user's is not found.
pub async fn find_with_user(ex: Exec<'_>, id: &str) -> anyhow::Result<Option<SessionWithUser>> {
    on_exec!(ex, c => sqlx::query_as(
        "SELECT s.handle, s.created_at, s.reauthenticated_at, s.expires_at, s.last_seen_at, \
                u.id AS user_id, u.username, u.role, u.display_name, u.avatar_url, u.created_at AS user_created_at, \
                CAST(CASE WHEN f.confirmed_at IS NULL THEN 0 ELSE 1 END AS BIGINT) AS two_factor, \
                CAST(CASE WHEN EXISTS (SELECT 1 FROM passkeys p WHERE p.user_id = u.id) THEN 1 ELSE 0 END \
                     AS BIGINT) AS has_passkey, \
                CAST(CASE WHEN u.email IS NOT NULL AND u.email_verified_at IS NULL THEN 1 ELSE 0 END AS BIGINT) \
                     AS email_unverified, \
                s.impersonator_session \
         FROM sessions s JOIN users u ON u.id = s.user_id LEFT JOIN totp_factors f ON f.user_id = u.id \
         WHERE s.id = $1 AND s.credentials_version = u.credentials_version",
    )
    .bind(id)
    .fetch_optional(c)
    .await)
    .context("validate session")
}

/// Moves the expiry (renewal) and records activity.
pub async fn renew(ex: Exec<'_>, id: &str, expires_at: i64, now: i64) -> anyhow::Result<()> {
    on_exec!(ex, c => sqlx::query("UPDATE sessions SET expires_at = $1, last_seen_at = $2 WHERE id = $3")
        .bind(expires_at)
        .bind(now)
        .bind(id)
        .execute(c)
        .await
        .map(|_| ()))
    .context("renew session")?;
    Ok(())
}

/// Records that the session's holder confirmed it was them just now.
pub async fn mark_reauthenticated(ex: Exec<'_>, id: &str, now: i64) -> anyhow::Result<()> {
    on_exec!(ex, c => sqlx::query("UPDATE sessions SET reauthenticated_at = $1 WHERE id = $2")
        .bind(now)
        .bind(id)
        .execute(c)
        .await
        .map(|_| ()))
    .context("mark a session reauthenticated")
}

/// Records activity (at most once a minute per session, decided by the caller).
pub async fn touch(ex: Exec<'_>, id: &str, now: i64) -> anyhow::Result<()> {
    on_exec!(ex, c => sqlx::query("UPDATE sessions SET last_seen_at = $1 WHERE id = $2")
        .bind(now)
        .bind(id)
        .execute(c)
        .await
        .map(|_| ()))
    .context("touch session")?;
    Ok(())
}

/// Deletes one session by id; true when it existed.
pub async fn delete(ex: Exec<'_>, id: &str) -> anyhow::Result<bool> {
    let n = on_exec!(ex, c => sqlx::query("DELETE FROM sessions WHERE id = $1").bind(id).execute(c).await.map(|r| r.rows_affected()))
        .context("delete session")?;
    crate::server::metrics::sessions_ended(n);
    Ok(n > 0)
}

/// Deletes every session of a user except `keep_id` (none kept when `keep_id` is None).
pub async fn delete_for_user_except(
    ex: Exec<'_>,
    user_id: i64,
    keep_id: Option<&str>,
) -> anyhow::Result<u64> {
    let n =
        on_exec!(ex, c => sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND ($2 IS NULL OR id <> $2)")
        .bind(user_id)
        .bind(keep_id)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))
        .context("delete sessions of user")?;
    crate::server::metrics::sessions_ended(n);
    Ok(n)
}

/// Deletes the "view as" sessions an administrator's session started; how many.
pub async fn delete_views_of(ex: Exec<'_>, admin_session: &str) -> anyhow::Result<u64> {
    let n = on_exec!(ex, c => sqlx::query("DELETE FROM sessions WHERE impersonator_session = $1")
        .bind(admin_session)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))
    .context("end views")?;
    crate::server::metrics::sessions_ended(n);
    Ok(n)
}

/// Deletes sessions whose expiry has passed; returns how many.
pub async fn delete_expired(ex: Exec<'_>, now: i64) -> anyhow::Result<u64> {
    let n = on_exec!(ex, c => sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
        .bind(now)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))
    .context("purge expired sessions")?;
    crate::server::metrics::sessions_ended(n);
    Ok(n)
}

/// A session as the sessions page shows it: no id, no token.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SessionListRow {
    pub handle: String,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub expires_at: i64,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// An administrator's "view as" session (1), or the user's own (0).
    pub viewed: i64,
}

/// A user's unexpired sessions, newest first.
pub async fn list_for_user(ex: Exec<'_>, user_id: i64, now: i64) -> anyhow::Result<Vec<SessionListRow>> {
    on_exec!(ex, c => sqlx::query_as(
        "SELECT handle, created_at, last_seen_at, expires_at, ip, user_agent, \
                CAST(CASE WHEN impersonator_id IS NULL THEN 0 ELSE 1 END AS BIGINT) AS viewed FROM sessions \
         WHERE user_id = $1 AND expires_at > $2 ORDER BY created_at DESC, handle",
    )
    .bind(user_id)
    .bind(now)
    .fetch_all(c)
    .await)
    .context("list sessions")
}

/// Deletes the session with `handle` if it belongs to `user_id`; true when it did.
pub async fn delete_by_handle(ex: Exec<'_>, user_id: i64, handle: &str) -> anyhow::Result<bool> {
    let n = on_exec!(ex, c => sqlx::query("DELETE FROM sessions WHERE handle = $1 AND user_id = $2")
        .bind(handle)
        .bind(user_id)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))
    .context("revoke session")?;
    crate::server::metrics::sessions_ended(n);
    Ok(n > 0)
}

/// Inserts many sessions in one statement (benchmark seeding); ids and handles must be
/// unique. Each row: (id, handle, user_id, created_at, expires_at).
pub async fn insert_many(ex: Exec<'_>, rows: &[(String, String, i64, i64, i64)]) -> anyhow::Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    on_exec!(ex, c => {
        let mut query = sqlx::QueryBuilder::new("INSERT INTO sessions (id, handle, user_id, created_at, expires_at, last_seen_at) ");
        query.push_values(rows, |mut row, (id, handle, user_id, created_at, expires_at)| {
            row.push_bind(id)
                .push_bind(handle)
                .push_bind(*user_id)
                .push_bind(*created_at)
                .push_bind(*expires_at)
                .push_bind(*created_at);
        });
        query.build().execute(c).await.map(|_| ())
    })
    .context("insert sessions")
}
