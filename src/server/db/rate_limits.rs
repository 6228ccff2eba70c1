//! Queries on `rate_limits`: a generic cell rate algorithm (GCRA) kept in the database,
//! so every instance sees the same limits and a restart forgets nothing (an in-memory
//! limiter such as `governor` would give each instance its own count).
//!
//! With `N` requests allowed per `period`, each request advances the key's theoretical
//! arrival time (TAT) by `interval = period / N`; a request is allowed while
//! `TAT - tolerance <= now`, where `tolerance = interval * (N - 1)` lets a burst of `N`
//! through. Every step is a single conditional statement, so concurrent requests on
//! several instances can never both take the last slot.

use super::{on_exec, Exec};
use anyhow::Context;

/// The outcome of asking for one slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Taken {
    Allowed,
    /// Denied; the next slot frees up in this many milliseconds.
    Denied {
        retry_after_ms: i64,
    },
}

/// Takes a slot for `key` at `now_ms`.
pub async fn take(
    mut ex: Exec<'_>,
    key: &str,
    now_ms: i64,
    interval_ms: i64,
    tolerance_ms: i64,
) -> anyhow::Result<Taken> {
    // A refused request writes nothing: read first (a flood of refusals must not
    // compete with real sign-ins for SQLite's one writer).
    if let Some(tat) = read_tat(ex.reborrow(), key)
        .await?
        .filter(|tat| tat - tolerance_ms > now_ms)
    {
        return Ok(Taken::Denied {
            retry_after_ms: tat - tolerance_ms - now_ms,
        });
    }
    // Two rounds at most: a first request for a key can race another instance's insert.
    for _ in 0..2 {
        let advanced = on_exec!(ex.reborrow(), c => sqlx::query(
            "UPDATE rate_limits SET tat_ms = CASE WHEN tat_ms > $2 THEN tat_ms ELSE $2 END + $3 \
             WHERE key = $1 AND tat_ms - $4 <= $2",
        )
        .bind(key)
        .bind(now_ms)
        .bind(interval_ms)
        .bind(tolerance_ms)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))
        .context("take a rate-limit slot")?;
        if advanced == 1 {
            return Ok(Taken::Allowed);
        }
        let inserted = on_exec!(ex.reborrow(), c => sqlx::query(
            "INSERT INTO rate_limits (key, tat_ms) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
        )
        .bind(key)
        .bind(now_ms + interval_ms)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))
        .context("start a rate limit")?;
        if inserted == 1 {
            return Ok(Taken::Allowed);
        }
        let tat = read_tat(ex.reborrow(), key).await?;
        if let Some(tat) = tat {
            if tat - tolerance_ms > now_ms {
                return Ok(Taken::Denied {
                    retry_after_ms: tat - tolerance_ms - now_ms,
                });
            }
        }
    }
    Ok(Taken::Allowed)
}

/// The key's theoretical arrival time, if it has one.
async fn read_tat(ex: Exec<'_>, key: &str) -> anyhow::Result<Option<i64>> {
    on_exec!(ex, c => sqlx::query_scalar("SELECT tat_ms FROM rate_limits WHERE key = $1")
        .bind(key)
        .fetch_optional(c)
        .await)
    .context("read a rate limit")
}

/// Deletes limits that have fully recovered (their TAT is in the past).
pub async fn purge(ex: Exec<'_>, now_ms: i64) -> anyhow::Result<u64> {
    on_exec!(ex, c => sqlx::query("DELETE FROM rate_limits WHERE tat_ms < $1")
        .bind(now_ms)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))
    .context("purge rate limits")
}
