//! Queries on `totp_factors`, `recovery_codes` and `pending_sign_ins`.

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

/// A sign-in waiting for its second factor.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PendingRow {
    pub user_id: i64,
    pub method: String,
    pub next: String,
    /// Tries counted so far (the current one included, after [`take_try`]).
    pub failures: i64,
    pub expires_at: i64,
    /// The user's credentials version when the first factor was checked.
    pub credentials_version: i64,
}

/// A pending sign-in to store.
pub struct NewPending<'a> {
    pub id: &'a str,
    pub user_id: i64,
    pub method: &'a str,
    pub next: &'a str,
    pub credentials_version: i64,
    pub expires_at: i64,
    pub now: i64,
}

pub async fn create_pending(ex: Exec<'_>, p: &NewPending<'_>) -> anyhow::Result<()> {
    on_exec!(ex, c => sqlx::query(
        "INSERT INTO pending_sign_ins (id, user_id, method, next, failures, expires_at, created_at, \
                                       credentials_version) \
         VALUES ($1, $2, $3, $4, 0, $5, $6, $7)",
    )
    .bind(p.id)
    .bind(p.user_id)
    .bind(p.method)
    .bind(p.next)
    .bind(p.expires_at)
    .bind(p.now)
    .bind(p.credentials_version)
    .execute(c)
    .await
    .map(|_| ()))
    .context("store a pending sign-in")
}

pub async fn pending(ex: Exec<'_>, id: &str) -> anyhow::Result<Option<PendingRow>> {
    on_exec!(ex, c => sqlx::query_as(
        "SELECT user_id, method, next, CAST(failures AS BIGINT) AS failures, expires_at, \
                CAST(credentials_version AS BIGINT) AS credentials_version \
         FROM pending_sign_ins WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(c)
    .await)
    .context("read a pending sign-in")
}

/// Counts one try of a code against a pending sign-in that is still running (not expired,
/// fewer than `max_tries` so far), in one statement: concurrent tries are counted one by
/// one, so no more than `max_tries` are ever let through. `None` when it is over.
pub async fn take_try(
    ex: Exec<'_>,
    id: &str,
    max_tries: i64,
    now: i64,
) -> anyhow::Result<Option<PendingRow>> {
    on_exec!(ex, c => sqlx::query_as(
        "UPDATE pending_sign_ins SET failures = failures + 1 \
         WHERE id = $1 AND failures < $2 AND expires_at > $3 \
         RETURNING user_id, method, next, CAST(failures AS BIGINT) AS failures, expires_at, \
                   CAST(credentials_version AS BIGINT) AS credentials_version",
    )
    .bind(id)
    .bind(max_tries)
    .bind(now)
    .fetch_optional(c)
    .await)
    .context("count a try of a code")
}

/// Ends a pending sign-in; true when it was still there (so two requests can't both
/// complete it).
pub async fn end_pending(ex: Exec<'_>, id: &str) -> anyhow::Result<bool> {
    let ended = on_exec!(ex, c => sqlx::query("DELETE FROM pending_sign_ins WHERE id = $1")
        .bind(id)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))
    .context("end a pending sign-in")?;
    Ok(ended == 1)
}

/// Deletes pending sign-ins that have expired (hourly).
pub async fn purge_pending(ex: Exec<'_>, now: i64) -> anyhow::Result<u64> {
    on_exec!(ex, c => sqlx::query("DELETE FROM pending_sign_ins WHERE expires_at < $1")
        .bind(now)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))
    .context("purge pending sign-ins")
}

/// The rules of pending expiry, tries and code reuse, at fixed moments, on a fresh
/// in-memory database: no wall clock and no HTTP in the way.
#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        domain::Username,
        model::Role,
        server::{
            auth::totp::TotpSecret,
            db::{users, Db},
        },
    };

    const T0: i64 = 1_800_000_000;

    async fn db_with_user() -> (Db, i64) {
        let db = Db::connect("sqlite::memory:").await.expect("open");
        db.migrate().await.expect("migrate");
        let name = Username::parse("ada").expect("name");
        let mut conn = db.conn().await.expect("conn");
        let user = match users::insert(
            conn.exec(),
            &users::NewUser::with_password(&name, "x", Role::User),
        )
        .await
        .expect("insert")
        {
            users::Inserted::Created(user) => user,
            _ => panic!("not created"),
        };
        drop(conn);
        (db, user.id)
    }

    async fn pending_until(db: &Db, user_id: i64, expires_at: i64) {
        let mut conn = db.conn().await.expect("conn");
        let p = NewPending {
            id: "p1",
            user_id,
            method: "password",
            next: "/profile",
            credentials_version: 0,
            expires_at,
            now: T0,
        };
        create_pending(conn.exec(), &p).await.expect("create");
    }

    #[tokio::test]
    async fn a_pending_sign_in_takes_tries_until_the_second_it_expires() {
        let (db, user) = db_with_user().await;
        pending_until(&db, user, T0 + 300).await;
        let mut conn = db.conn().await.expect("conn");
        let first = take_try(conn.exec(), "p1", 5, T0 + 299).await.expect("try");
        assert_eq!(first.map(|p| p.failures), Some(1), "a second before expiry");
        assert!(
            take_try(conn.exec(), "p1", 5, T0 + 300)
                .await
                .expect("try")
                .is_none(),
            "at the expiry itself it is over"
        );
        assert_eq!(
            purge_pending(conn.exec(), T0 + 300).await.expect("purge"),
            0,
            "kept until its expiry has passed"
        );
        assert_eq!(purge_pending(conn.exec(), T0 + 301).await.expect("purge"), 1);
        assert!(pending(conn.exec(), "p1").await.expect("read").is_none());
    }

    #[tokio::test]
    async fn a_pending_sign_in_lets_through_only_its_allowance_of_tries() {
        let (db, user) = db_with_user().await;
        pending_until(&db, user, T0 + 300).await;
        let mut conn = db.conn().await.expect("conn");
        for n in 1..=5 {
            let taken = take_try(conn.exec(), "p1", 5, T0 + n).await.expect("try");
            assert_eq!(taken.map(|p| p.failures), Some(n), "try {n}");
        }
        assert!(take_try(conn.exec(), "p1", 5, T0 + 6)
            .await
            .expect("try")
            .is_none());
        assert!(end_pending(conn.exec(), "p1").await.expect("end"));
        assert!(
            !end_pending(conn.exec(), "p1").await.expect("end"),
            "ended once only"
        );
    }

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
