//! Queries on `login_throttle`: per-username sign-in failures and lock-outs.

use super::{on_exec, Exec};
use anyhow::Context;

/// When the username's lock ends (unix ms), if it is locked at `now_ms`.
pub async fn locked_until(ex: Exec<'_>, key: &str, now_ms: i64) -> anyhow::Result<Option<i64>> {
    let until: Option<i64> = on_exec!(ex, c => sqlx::query_scalar(
        "SELECT locked_until_ms FROM login_throttle WHERE key = $1 AND locked_until_ms > $2",
    )
    .bind(key)
    .bind(now_ms)
    .fetch_optional(c)
    .await)
    .context("read sign-in lock")?;
    Ok(until)
}

/// Counts one more failure and returns the count. Failures older than `forget_before_ms`
/// no longer count: the counter starts again.
pub async fn record_failure(
    ex: Exec<'_>,
    key: &str,
    now_ms: i64,
    forget_before_ms: i64,
) -> anyhow::Result<i64> {
    let failures: i32 = on_exec!(ex, c => sqlx::query_scalar(
        "INSERT INTO login_throttle (key, failures, locked_until_ms, updated_at_ms) VALUES ($1, 1, 0, $2) \
         ON CONFLICT (key) DO UPDATE SET \
           failures = CASE WHEN login_throttle.updated_at_ms < $3 THEN 1 ELSE login_throttle.failures + 1 END, \
           updated_at_ms = $2 \
         RETURNING failures",
    )
    .bind(key)
    .bind(now_ms)
    .bind(forget_before_ms)
    .fetch_one(c)
    .await)
    .context("record sign-in failure")?;
    Ok(i64::from(failures))
}

/// Locks the username until `until_ms` (never shortens a longer lock).
pub async fn lock(ex: Exec<'_>, key: &str, until_ms: i64) -> anyhow::Result<()> {
    on_exec!(ex, c => sqlx::query("UPDATE login_throttle SET locked_until_ms = $2 WHERE key = $1 AND locked_until_ms < $2")
        .bind(key)
        .bind(until_ms)
        .execute(c)
        .await
        .map(|_| ()))
    .context("lock username")
}

/// Forgets the failures of a username (after a successful sign-in).
pub async fn reset(ex: Exec<'_>, key: &str) -> anyhow::Result<()> {
    on_exec!(ex, c => sqlx::query("DELETE FROM login_throttle WHERE key = $1")
        .bind(key)
        .execute(c)
        .await
        .map(|_| ()))
    .context("reset sign-in failures")
}

/// Deletes rows untouched since `before_ms` whose lock has ended.
pub async fn purge(ex: Exec<'_>, before_ms: i64, now_ms: i64) -> anyhow::Result<u64> {
    on_exec!(ex, c => sqlx::query("DELETE FROM login_throttle WHERE updated_at_ms < $1 AND locked_until_ms < $2")
        .bind(before_ms)
        .bind(now_ms)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))
    .context("purge sign-in failures")
}
