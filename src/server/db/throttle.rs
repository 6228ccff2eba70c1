//! Queries on `login_throttle`: sign-in attempts and lock-outs per username (and per
//! trusted device).

use super::{on_exec, Exec};
use anyhow::Context;

/// A throttle row as read inside the attempt's transaction.
#[derive(Debug, Clone, Copy, sqlx::FromRow)]
pub struct Counter {
    pub failures: i32,
    pub locked_until_ms: i64,
    pub updated_at_ms: i64,
}

/// The key's counter, locked for the rest of the transaction: PostgreSQL takes a row
/// lock (`FOR UPDATE`, after making sure the row exists); SQLite's `BEGIN IMMEDIATE`
/// already holds the database's write lock.
pub async fn lock_counter(mut ex: Exec<'_>, key: &str, now_ms: i64) -> anyhow::Result<Counter> {
    on_exec!(ex.reborrow(), c => sqlx::query(
        "INSERT INTO login_throttle (key, failures, locked_until_ms, updated_at_ms) VALUES ($1, 0, 0, $2) \
         ON CONFLICT (key) DO NOTHING",
    )
    .bind(key)
    .bind(now_ms)
    .execute(c)
    .await
    .map(|_| ()))
    .context("start a sign-in counter")?;
    match ex {
        Exec::Sqlite(c) => {
            sqlx::query_as(
                "SELECT failures, locked_until_ms, updated_at_ms FROM login_throttle WHERE key = $1",
            )
            .bind(key)
            .fetch_one(c)
            .await
        }
        Exec::Postgres(c) => sqlx::query_as(
            "SELECT failures, locked_until_ms, updated_at_ms FROM login_throttle WHERE key = $1 FOR UPDATE",
        )
        .bind(key)
        .fetch_one(c)
        .await,
    }
    .context("read a sign-in counter")
}

/// Stores the counter decided for `key`.
pub async fn store(ex: Exec<'_>, key: &str, counter: Counter) -> anyhow::Result<()> {
    on_exec!(ex, c => sqlx::query(
        "UPDATE login_throttle SET failures = $2, locked_until_ms = $3, updated_at_ms = $4 WHERE key = $1",
    )
    .bind(key)
    .bind(counter.failures)
    .bind(counter.locked_until_ms)
    .bind(counter.updated_at_ms)
    .execute(c)
    .await
    .map(|_| ()))
    .context("store a sign-in counter")
}

/// Forgets a key's attempts (a successful sign-in).
pub async fn reset(ex: Exec<'_>, key: &str) -> anyhow::Result<()> {
    on_exec!(ex, c => sqlx::query("DELETE FROM login_throttle WHERE key = $1")
        .bind(key)
        .execute(c)
        .await
        .map(|_| ()))
    .context("reset sign-in failures")
}

/// Forgets every attempt counted against a username, its trusted devices' included
/// (an unlock); returns how many counters there were.
pub async fn unlock(ex: Exec<'_>, username_key: &str, device_prefix: &str) -> anyhow::Result<u64> {
    on_exec!(ex, c => sqlx::query("DELETE FROM login_throttle WHERE key = $1 OR key LIKE $2 ESCAPE '\\'")
        .bind(username_key)
        .bind(super::users::like_prefix(device_prefix))
        .execute(c)
        .await
        .map(|r| r.rows_affected()))
    .context("unlock a username")
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
