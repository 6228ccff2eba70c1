//! Queries on `audit_events`.

use super::{on_exec, Exec};
use anyhow::Context;

/// An event to record. `username` is copied so the trail survives account deletion.
#[derive(Debug, Default)]
pub struct NewEvent<'a> {
    pub at: i64,
    pub kind: &'a str,
    pub user_id: Option<i64>,
    pub username: Option<&'a str>,
    pub actor_id: Option<i64>,
    pub ip: Option<&'a str>,
    pub user_agent: Option<&'a str>,
    pub detail: Option<&'a str>,
    /// Events with the same key are one row whose `occurrences` counts them.
    pub coalesce_key: Option<&'a str>,
}

/// Records an event; one with a coalesce key already recorded adds to its count and
/// takes the latest client address and browser (a guesser moving between addresses shows
/// up where it is now, not only where it started).
pub async fn insert(ex: Exec<'_>, e: &NewEvent<'_>) -> anyhow::Result<()> {
    on_exec!(ex, c => sqlx::query(
        "INSERT INTO audit_events (at, kind, user_id, username, actor_id, ip, user_agent, detail, coalesce_key) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
         ON CONFLICT (coalesce_key) DO UPDATE SET occurrences = audit_events.occurrences + 1, \
             ip = EXCLUDED.ip, user_agent = EXCLUDED.user_agent",
    )
    .bind(e.at)
    .bind(e.kind)
    .bind(e.user_id)
    .bind(e.username)
    .bind(e.actor_id)
    .bind(e.ip)
    .bind(e.user_agent)
    .bind(e.detail)
    .bind(e.coalesce_key)
    .execute(c)
    .await
    .map(|_| ()))
    .context("record audit event")?;
    Ok(())
}

/// A recorded event, as the admin page lists it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EventRow {
    pub id: i64,
    pub at: i64,
    pub kind: String,
    pub user_id: Option<i64>,
    pub username: Option<String>,
    pub actor_id: Option<i64>,
    pub actor_username: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub detail: Option<String>,
    pub occurrences: i64,
}

/// Latest events first, optionally only one kind and/or one username (by key).
pub async fn list(
    ex: Exec<'_>,
    kind: Option<&str>,
    username_key: Option<&str>,
    limit: i64,
    offset: i64,
) -> anyhow::Result<Vec<EventRow>> {
    on_exec!(ex, c => sqlx::query_as(
        "SELECT e.id, e.at, e.kind, e.user_id, e.username, e.actor_id, a.username AS actor_username, \
                e.ip, e.user_agent, e.detail, CAST(e.occurrences AS BIGINT) AS occurrences \
         FROM audit_events e LEFT JOIN users a ON a.id = e.actor_id \
         WHERE ($1 IS NULL OR e.kind = $1) AND ($2 IS NULL OR LOWER(e.username) = $2) \
         ORDER BY e.id DESC LIMIT $3 OFFSET $4",
    )
    .bind(kind)
    .bind(username_key)
    .bind(limit)
    .bind(offset)
    .fetch_all(c)
    .await)
    .context("list audit events")
}

/// Deletes events recorded before `before` (unix seconds); returns how many.
pub async fn prune(ex: Exec<'_>, before: i64) -> anyhow::Result<u64> {
    on_exec!(ex, c => sqlx::query("DELETE FROM audit_events WHERE at < $1")
        .bind(before)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))
    .context("prune audit events")
}
