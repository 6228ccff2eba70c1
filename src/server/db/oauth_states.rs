//! Queries on `spent_oauth_states`: OAuth flows whose callback has been answered.

use super::{on_exec, Exec};
use anyhow::Context;

/// Records a flow's state as spent; false when it was spent already (a replay).
pub async fn spend(ex: Exec<'_>, state_hash: &str, expires_at: i64) -> anyhow::Result<bool> {
    let inserted = on_exec!(ex, c => sqlx::query(
        "INSERT INTO spent_oauth_states (state_hash, expires_at) VALUES ($1, $2) ON CONFLICT (state_hash) DO NOTHING",
    )
    .bind(state_hash)
    .bind(expires_at)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))
    .context("spend an OAuth state")?;
    Ok(inserted == 1)
}

/// Forgets states whose flows have expired anyway (hourly).
pub async fn purge(ex: Exec<'_>, now: i64) -> anyhow::Result<u64> {
    on_exec!(ex, c => sqlx::query("DELETE FROM spent_oauth_states WHERE expires_at < $1")
        .bind(now)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))
    .context("purge spent OAuth states")
}
