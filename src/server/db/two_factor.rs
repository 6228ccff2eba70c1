//! Queries on `totp_factors` and `recovery_codes`.

use super::{on_exec, Exec};
use anyhow::Context;

/// A user's TOTP factor as stored (its secret sealed).
#[derive(Clone, sqlx::FromRow)]
pub struct FactorRow {
    pub secret_sealed: String,
    pub confirmed_at: Option<i64>,
    pub last_used_step: i64,
}

impl std::fmt::Debug for FactorRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FactorRow")
            .field("confirmed_at", &self.confirmed_at)
            .field("last_used_step", &self.last_used_step)
            .finish_non_exhaustive()
    }
}

pub async fn factor(ex: Exec<'_>, user_id: i64) -> anyhow::Result<Option<FactorRow>> {
    on_exec!(ex, c => sqlx::query_as(
        "SELECT secret_sealed, confirmed_at, last_used_step FROM totp_factors WHERE user_id = $1",
    )
    .bind(user_id)
    .fetch_optional(c)
    .await)
    .context("read a TOTP factor")
}

/// Starts (or restarts) setting up a factor with a new secret; a confirmed factor is
/// left as it is (false).
pub async fn begin(ex: Exec<'_>, user_id: i64, secret_sealed: &str, now: i64) -> anyhow::Result<bool> {
    let changed = on_exec!(ex, c => sqlx::query(
        "INSERT INTO totp_factors (user_id, secret_sealed, confirmed_at, last_used_step, created_at) \
         VALUES ($1, $2, NULL, 0, $3) \
         ON CONFLICT (user_id) DO UPDATE SET secret_sealed = $2, last_used_step = 0, created_at = $3 \
         WHERE totp_factors.confirmed_at IS NULL",
    )
    .bind(user_id)
    .bind(secret_sealed)
    .bind(now)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))
    .context("begin a TOTP factor")?;
    Ok(changed == 1)
}

/// Turns a factor being set up on, with the step of the code that confirmed it.
pub async fn confirm(ex: Exec<'_>, user_id: i64, step: i64, now: i64) -> anyhow::Result<bool> {
    let changed = on_exec!(ex, c => sqlx::query(
        "UPDATE totp_factors SET confirmed_at = $3, last_used_step = $2 \
         WHERE user_id = $1 AND confirmed_at IS NULL",
    )
    .bind(user_id)
    .bind(step)
    .bind(now)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))
    .context("confirm a TOTP factor")?;
    Ok(changed == 1)
}

/// Accepts a code of time step `step` once: true only if no code of this or a later
/// step was accepted before (one statement, so two requests with one code can't both pass).
pub async fn use_step(ex: Exec<'_>, user_id: i64, step: i64) -> anyhow::Result<bool> {
    let changed = on_exec!(ex, c => sqlx::query(
        "UPDATE totp_factors SET last_used_step = $2 \
         WHERE user_id = $1 AND confirmed_at IS NOT NULL AND last_used_step < $2",
    )
    .bind(user_id)
    .bind(step)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))
    .context("use a TOTP code")?;
    Ok(changed == 1)
}

/// Re-seals a factor's secret (with the current server key).
pub async fn reseal(ex: Exec<'_>, user_id: i64, secret_sealed: &str) -> anyhow::Result<()> {
    on_exec!(ex, c => sqlx::query("UPDATE totp_factors SET secret_sealed = $2 WHERE user_id = $1")
        .bind(user_id)
        .bind(secret_sealed)
        .execute(c)
        .await
        .map(|_| ()))
    .context("reseal a TOTP secret")
}

/// Removes the factor and the recovery codes of a user; true when there was a factor.
pub async fn remove(mut ex: Exec<'_>, user_id: i64) -> anyhow::Result<bool> {
    on_exec!(ex.reborrow(), c => sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
        .bind(user_id)
        .execute(c)
        .await
        .map(|_| ()))
    .context("remove recovery codes")?;
    let removed = on_exec!(ex, c => sqlx::query("DELETE FROM totp_factors WHERE user_id = $1")
        .bind(user_id)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))
    .context("remove a TOTP factor")?;
    Ok(removed > 0)
}

/// Replaces the user's recovery codes with these hashes.
pub async fn replace_codes(
    mut ex: Exec<'_>,
    user_id: i64,
    hashes: &[String],
    now: i64,
) -> anyhow::Result<()> {
    on_exec!(ex.reborrow(), c => sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
        .bind(user_id)
        .execute(c)
        .await
        .map(|_| ()))
    .context("drop old recovery codes")?;
    for hash in hashes {
        on_exec!(ex.reborrow(), c => sqlx::query(
            "INSERT INTO recovery_codes (user_id, code_hash, created_at) VALUES ($1, $2, $3)",
        )
        .bind(user_id)
        .bind(hash)
        .bind(now)
        .execute(c)
        .await
        .map(|_| ()))
        .context("store a recovery code")?;
    }
    Ok(())
}

/// Uses the unused recovery code with one of these hashes (the code hashed under each
/// server key); true when there was one. The outer `used_at IS NULL` is checked again on
/// the row a concurrent request may just have used (PostgreSQL), so a code works once.
pub async fn use_code(ex: Exec<'_>, user_id: i64, hashes: &[String], now: i64) -> anyhow::Result<bool> {
    let (first, second) = match hashes {
        [] => return Ok(false),
        [only] => (only, only),
        [first, second, ..] => (first, second),
    };
    let used = on_exec!(ex, c => sqlx::query(
        "UPDATE recovery_codes SET used_at = $4 \
         WHERE used_at IS NULL AND id = (SELECT id FROM recovery_codes \
                     WHERE user_id = $1 AND used_at IS NULL AND (code_hash = $2 OR code_hash = $3) LIMIT 1)",
    )
    .bind(user_id)
    .bind(first)
    .bind(second)
    .bind(now)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))
    .context("use a recovery code")?;
    Ok(used == 1)
}

/// How many unused recovery codes the user has.
pub async fn codes_left(ex: Exec<'_>, user_id: i64) -> anyhow::Result<i64> {
    on_exec!(ex, c => sqlx::query_scalar(
        "SELECT COUNT(*) FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL",
    )
    .bind(user_id)
    .fetch_one(c)
    .await)
    .context("count recovery codes")
}

/// The rule of code reuse, at fixed moments, on a fresh in-memory database: no wall
/// clock and no HTTP in the way.
#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::{auth::totp::TotpSecret, db::testing::db_with_user};

    const T0: i64 = 1_800_000_000;

    #[tokio::test]
    async fn a_code_is_accepted_once_and_never_after_a_later_one() {
        let (db, user) = db_with_user().await;
        let secret = TotpSecret::generate();
        let now = u64::try_from(T0).expect("positive");
        let mut conn = db.conn().await.expect("conn");
        assert!(begin(conn.exec(), user, "sealed", T0).await.expect("begin"));
        // Set up with the code of this step: that step is used by the confirmation.
        let setup = secret
            .matching_step(&secret.code_at_step(now / 30), now)
            .expect("step");
        let setup = i64::try_from(setup).expect("step");
        assert!(confirm(conn.exec(), user, setup, T0).await.expect("confirm"));
        assert!(
            !use_step(conn.exec(), user, setup).await.expect("use"),
            "the setup code again"
        );

        // Thirty seconds on, the next step's code works once; the one before it no more.
        let later = now + 30;
        let code = secret.code_at_step(later / 30);
        let step = i64::try_from(secret.matching_step(&code, later).expect("step")).expect("step");
        assert_eq!(step, setup + 1);
        assert!(use_step(conn.exec(), user, step).await.expect("use"));
        assert!(!use_step(conn.exec(), user, step).await.expect("use"), "replayed");
        assert!(
            !use_step(conn.exec(), user, setup).await.expect("use"),
            "an older code after a newer one"
        );
        // A factor that is not confirmed accepts nothing.
        assert!(remove(conn.exec(), user).await.expect("remove"));
        assert!(begin(conn.exec(), user, "sealed", T0).await.expect("begin"));
        assert!(!use_step(conn.exec(), user, step + 1).await.expect("use"));
    }
}
