//! Throttling of sign-in and sign-up, kept in the database so it holds across instances
//! and restarts (which is why this is not an in-memory limiter such as `governor`).
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
        config::{Config, Rate},
        context::RequestCtx,
        db::{self, now_millis, rate_limits::Taken, Db, Exec},
        http::client::ClientInfo,
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

    /// The configured allowance per client.
    fn rate(self, config: &Config) -> Rate {
        match self {
            Action::SignIn => config.rate_signin,
            Action::SignUp => config.rate_signup,
        }
    }
}

/// Whole seconds to wait, rounded up, at least 1.
fn seconds_from_ms(ms: i64) -> u64 {
    u64::try_from((ms + 999) / 1000).unwrap_or(1).max(1)
}

/// What a throttle check decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use]
pub enum Verdict {
    Allowed,
    /// Refused; the client may try again after this many seconds.
    Refused {
        retry_after: u64,
    },
}

impl Verdict {
    /// `Ok` when allowed; the 429 answer (with `Retry-After`) when refused.
    pub fn or_refuse(self) -> Result<(), AppError> {
        match self {
            Verdict::Allowed => Ok(()),
            Verdict::Refused { retry_after } => Err(AppError::too_many_attempts(retry_after)),
        }
    }
}

/// Takes one attempt from the request's client's allowance for `action`.
pub async fn check_client(mut ex: Exec<'_>, ctx: &RequestCtx, action: Action) -> anyhow::Result<Verdict> {
    let client = &ctx.client;
    let rate = action.rate(&ctx.state.config);
    let Some(client_key) = client.throttle_key() else {
        return Ok(Verdict::Allowed);
    };
    let key = format!("{}:{client_key}", action.name());
    let period_ms = i64::try_from(rate.per.as_millis()).unwrap_or(i64::MAX / 4);
    let interval_ms = (period_ms / i64::from(rate.count)).max(1);
    let tolerance_ms = interval_ms * (i64::from(rate.count) - 1);
    match db::rate_limits::take(ex.reborrow(), &key, now_millis(), interval_ms, tolerance_ms).await? {
        Taken::Allowed => Ok(Verdict::Allowed),
        Taken::Denied { retry_after_ms } => {
            let detail = format!("{} rate limit for this address", action.name());
            let event = Event::anonymous(AuditKind::Throttled).detail(&detail);
            audit::record(ex, client, event).await?;
            Ok(Verdict::Refused {
                retry_after: seconds_from_ms(retry_after_ms),
            })
        }
    }
}

/// Refuses a sign-in for a username that is locked right now.
pub async fn check_username(
    mut ex: Exec<'_>,
    username_key: &str,
    client: &ClientInfo,
    account: Option<(i64, &str)>,
) -> anyhow::Result<Verdict> {
    let now = now_millis();
    let Some(until) = db::throttle::locked_until(ex.reborrow(), username_key, now).await? else {
        return Ok(Verdict::Allowed);
    };
    let event = match account {
        Some((id, name)) => Event::about(AuditKind::Throttled, id, name),
        None => Event::anonymous(AuditKind::Throttled),
    };
    let event = event.detail("username locked after repeated failures");
    audit::record(ex, client, event).await?;
    Ok(Verdict::Refused {
        retry_after: seconds_from_ms(until - now),
    })
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
pub async fn record_failure(mut ex: Exec<'_>, username_key: &str, max_failures: u32) -> anyhow::Result<()> {
    let now = now_millis();
    let failures =
        db::throttle::record_failure(ex.reborrow(), username_key, now, now - FORGET_AFTER_MS).await?;
    if let Some(lock_ms) = lock_for(failures, max_failures) {
        db::throttle::lock(ex, username_key, now + lock_ms).await?;
    }
    Ok(())
}

/// Forgets a username's failures after a successful sign-in.
pub async fn reset(ex: Exec<'_>, username_key: &str) -> anyhow::Result<()> {
    db::throttle::reset(ex, username_key).await
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
