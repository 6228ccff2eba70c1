//! Throttling of sign-in and sign-up (SPEC §11), kept in the database so it holds across
//! instances and restarts.
//!
//! - Per client: a rate per IP address (IPv6 grouped by /64) for sign-in attempts and
//!   for sign-up attempts (`GATEHOUSE_RATE_SIGNIN`, `GATEHOUSE_RATE_SIGNUP`).
//! - Per username: after `GATEHOUSE_LOGIN_MAX_FAILURES` failures the name is locked for
//!   1 s, then 2 s, 4 s … up to 15 minutes per further failure. Unknown names are counted
//!   exactly like real ones (keyed by `username_key`), so a lock says nothing about
//!   whether an account exists, and a correct password does not open a locked name.

use crate::{
    model::{AppError, AuditKind},
    server::{
        audit::{self, Event},
        auth::session::ClientInfo,
        config::Rate,
        db::{self, now_millis, rate_limits::Taken, Db},
        http::client::throttle_key,
    },
};

/// Longest lock a username can get.
pub const MAX_LOCK_MS: i64 = 15 * 60 * 1000;
/// Failures older than this are forgotten.
const FORGET_AFTER_MS: i64 = 24 * 3600 * 1000;

/// What a client is limited on.
#[derive(Clone, Copy, Debug)]
pub enum Action {
    SignIn,
    SignUp,
}

impl Action {
    fn name(self) -> &'static str {
        match self {
            Action::SignIn => "signin",
            Action::SignUp => "signup",
        }
    }
}

/// Whole seconds to wait, rounded up, at least 1.
fn seconds_from_ms(ms: i64) -> u64 {
    u64::try_from((ms + 999) / 1000).unwrap_or(1).max(1)
}

/// Takes one attempt from the client's allowance for `action`; 429 when none is left.
pub async fn check_client(
    db: &Db,
    rate: Rate,
    action: Action,
    client: &ClientInfo,
) -> anyhow::Result<Result<(), AppError>> {
    let Some(ip) = client.ip.as_deref() else {
        return Ok(Ok(()));
    };
    let key = format!("{}:{}", action.name(), throttle_key(ip));
    let period_ms = i64::try_from(rate.per.as_millis()).unwrap_or(i64::MAX / 4);
    let interval_ms = (period_ms / i64::from(rate.count)).max(1);
    let tolerance_ms = interval_ms * (i64::from(rate.count) - 1);
    let mut conn = db.conn().await?;
    match db::rate_limits::take(conn.exec(), &key, now_millis(), interval_ms, tolerance_ms).await? {
        Taken::Allowed => Ok(Ok(())),
        Taken::Denied { retry_after_ms } => {
            let detail = format!("{} rate limit for this address", action.name());
            audit::record(
                conn.exec(),
                client,
                Event::anonymous(AuditKind::Throttled).detail(&detail),
            )
            .await?;
            Ok(Err(AppError::too_many_attempts(seconds_from_ms(retry_after_ms))))
        }
    }
}

/// Refuses a sign-in for a username that is locked right now.
pub async fn check_username(
    db: &Db,
    username_key: &str,
    client: &ClientInfo,
    account: Option<(i64, &str)>,
) -> anyhow::Result<Result<(), AppError>> {
    let now = now_millis();
    let mut conn = db.conn().await?;
    let Some(until) = db::throttle::locked_until(conn.exec(), username_key, now).await? else {
        return Ok(Ok(()));
    };
    let event = match account {
        Some((id, name)) => Event::about(AuditKind::Throttled, id, name),
        None => Event::anonymous(AuditKind::Throttled),
    };
    audit::record(
        conn.exec(),
        client,
        event.detail("username locked after repeated failures"),
    )
    .await?;
    Ok(Err(AppError::too_many_attempts(seconds_from_ms(until - now))))
}

/// The lock after `failures` failures, when `max_failures` are allowed: none below the
/// threshold, then 1 s doubling per further failure, capped at 15 minutes.
pub fn lock_for(failures: i64, max_failures: u32) -> Option<i64> {
    let over = failures - i64::from(max_failures);
    (over >= 0).then(|| {
        let doubled = 1000i64
            .checked_shl(u32::try_from(over.min(30)).unwrap_or(30))
            .unwrap_or(MAX_LOCK_MS);
        doubled.min(MAX_LOCK_MS)
    })
}

/// Counts a failed sign-in for the username and locks it when the threshold is reached.
pub async fn record_failure(db: &Db, username_key: &str, max_failures: u32) -> anyhow::Result<()> {
    let now = now_millis();
    let mut conn = db.conn().await?;
    let failures =
        db::throttle::record_failure(conn.exec(), username_key, now, now - FORGET_AFTER_MS).await?;
    if let Some(lock_ms) = lock_for(failures, max_failures) {
        db::throttle::lock(conn.exec(), username_key, now + lock_ms).await?;
    }
    Ok(())
}

/// Forgets a username's failures after a successful sign-in.
pub async fn reset(db: &Db, username_key: &str) -> anyhow::Result<()> {
    let mut conn = db.conn().await?;
    db::throttle::reset(conn.exec(), username_key).await
}

/// Deletes throttling rows nobody needs any more (hourly).
pub async fn purge(db: &Db) -> anyhow::Result<u64> {
    let now = now_millis();
    let mut conn = db.conn().await?;
    let limits = db::rate_limits::purge(conn.exec(), now).await?;
    let failures = db::throttle::purge(conn.exec(), now - FORGET_AFTER_MS, now).await?;
    Ok(limits + failures)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locks_start_at_the_threshold_and_double_up_to_fifteen_minutes() {
        assert_eq!(lock_for(4, 5), None);
        assert_eq!(lock_for(5, 5), Some(1_000));
        assert_eq!(lock_for(6, 5), Some(2_000));
        assert_eq!(lock_for(7, 5), Some(4_000));
        assert_eq!(lock_for(14, 5), Some(512_000));
        assert_eq!(lock_for(15, 5), Some(MAX_LOCK_MS));
        assert_eq!(lock_for(500, 5), Some(MAX_LOCK_MS));
        assert_eq!(lock_for(1, 1), Some(1_000));
    }

    #[test]
    fn waits_round_up_to_whole_seconds() {
        assert_eq!(seconds_from_ms(1), 1);
        assert_eq!(seconds_from_ms(1000), 1);
        assert_eq!(seconds_from_ms(1001), 2);
        assert_eq!(seconds_from_ms(0), 1);
    }
}
