//! Throttling of sign-in and sign-up, kept in the database so it holds across instances
//! and restarts (which is why this is not an in-memory limiter such as `governor`).
//!
//! - Per client: a rate per IP address (IPv6 grouped by /64) for sign-in attempts and
//!   for sign-up attempts (`GATEHOUSE_RATE_SIGNIN`, `GATEHOUSE_RATE_SIGNUP`).
//! - Per username: after `GATEHOUSE_LOGIN_MAX_FAILURES` failures the name is locked for
//!   1 s, then 2 s, 4 s … up to 15 minutes per further failure. Unknown names are counted
//!   exactly like real ones (keyed by `username_key`), so a lock says nothing about
//!   whether an account exists, and a correct password does not open a locked name.
//!   Attempts are counted before the password is checked, so a burst of concurrent
//!   guesses gets no more than the limit. A browser that signed in as the user before
//!   has a counter of its own ([`Attempts`]), so nobody can lock an owner out of the
//!   devices they use; `gatehouse user unlock` and the admin page lift a lock.

use crate::{
    model::{AppError, AuditKind},
    server::{
        audit::{self, Event},
        auth::device,
        config::{Config, Rate},
        context::RequestCtx,
        db::{self, rate_limits::Taken, throttle::Counter, users::UserRow, Db, Exec},
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
            Action::SignIn => config.limits.rate_signin,
            Action::SignUp => config.limits.rate_signup,
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
pub async fn check_client(ex: Exec<'_>, ctx: &RequestCtx, action: Action) -> anyhow::Result<Verdict> {
    let Some(client_key) = ctx.client.throttle_key() else {
        return Ok(Verdict::Allowed);
    };
    let key = format!("{}:{client_key}", action.name());
    let detail = format!("{} rate limit for this address", action.name());
    take_from(
        ex,
        &ctx.client,
        ctx.now_ms,
        &key,
        action.rate(&ctx.state.config),
        &detail,
    )
    .await
}

/// How many ceremonies of one kind a client may begin per sign-in attempt it is allowed.
pub const CEREMONIES_PER_SIGN_IN: u32 = 10;

/// Takes one from the client's allowance of ceremonies kept under `key` (`oauth`,
/// `passkey-options`): ten times its sign-in allowance. Beginning one costs no password
/// check but stores a row until it expires, so the allowance bounds the rows one client
/// address can have stored; `what` names them in the audit trail.
pub async fn ceremony_allowance(ctx: &RequestCtx, key: &str, what: &str) -> Result<(), AppError> {
    let Some(client_key) = ctx.client.throttle_key() else {
        return Ok(());
    };
    let signin = ctx.state.config.limits.rate_signin;
    let rate = Rate {
        count: signin.count.saturating_mul(CEREMONIES_PER_SIGN_IN),
        per: signin.per,
    };
    let key = format!("{key}:{client_key}");
    let mut conn = ctx.state.db.conn().await?;
    take_from(conn.exec(), &ctx.client, ctx.now_ms, &key, rate, what)
        .await?
        .or_refuse()
}

/// Takes one from the allowance `rate` kept under `key` (shared by every instance,
/// kept across restarts); a refusal is audited (coalesced per key) with `detail`.
pub async fn take_from(
    mut ex: Exec<'_>,
    client: &ClientInfo,
    now_ms: i64,
    key: &str,
    rate: Rate,
    detail: &str,
) -> anyhow::Result<Verdict> {
    let period_ms = i64::try_from(rate.per.as_millis()).unwrap_or(i64::MAX / 4);
    let interval_ms = (period_ms / i64::from(rate.count)).max(1);
    let tolerance_ms = interval_ms * (i64::from(rate.count) - 1);
    match db::rate_limits::take(ex.reborrow(), key, now_ms, interval_ms, tolerance_ms).await? {
        Taken::Allowed => Ok(Verdict::Allowed),
        Taken::Denied { retry_after_ms } => {
            let event = Event::anonymous(AuditKind::Throttled)
                .detail(detail)
                .coalesced(key);
            audit::record(ex, client, now_ms.div_euclid(1000), event).await?;
            Ok(Verdict::Refused {
                retry_after: seconds_from_ms(retry_after_ms),
            })
        }
    }
}

/// Counts a hash the server computes for a signed-in user — checking their password on
/// `/reauth`, for a password change or a deletion, or hashing a first password — against
/// the client's sign-in allowance and an allowance of the account's own of the same size
/// (`GATEHOUSE_RATE_SIGNIN`): neither one address nor one cheap account, from however
/// many addresses, can keep the hashing threads busy. 429 when either is used up.
pub async fn password_work(ctx: &RequestCtx, user_id: i64) -> Result<(), AppError> {
    let mut tx = ctx.state.db.begin().await?;
    let mut verdict = check_client(tx.exec(), ctx, Action::SignIn).await?;
    if verdict == Verdict::Allowed {
        let key = format!("password-work:user:{user_id}");
        let rate = ctx.state.config.limits.rate_signin;
        verdict = take_from(
            tx.exec(),
            &ctx.client,
            ctx.now_ms,
            &key,
            rate,
            "password checks of one account",
        )
        .await?;
    }
    tx.commit().await?;
    verdict.or_refuse()
}

/// The counter a sign-in attempt is kept in: the username's own, shared by every
/// browser; or, for a browser that signed in as that user before (it holds a sealed
/// device record, see `auth::device`), a counter of its own. An attacker's failures
/// lock the shared counter and never the devices the owner already uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attempts {
    key: String,
}

impl Attempts {
    /// The counter for `username_key`, tried from `device` when that browser is trusted
    /// for this user.
    pub fn for_username(username_key: &str, device: Option<&str>) -> Attempts {
        let key = match device {
            Some(device) => format!("{}{device}", device_prefix(username_key)),
            None => username_key.to_owned(),
        };
        Attempts { key }
    }
}

/// Where the device counters of a username start (`:` never occurs in a username).
fn device_prefix(username_key: &str) -> String {
    format!("device:{username_key}:")
}

/// What one more attempt on a counter comes to at `now_ms`: refused while the counter
/// is locked (with the milliseconds left), or the counter to store — its failures one
/// more (those older than a day forgotten first), and, from `max_failures` on, a lock
/// of 1 s doubling per further failure up to 15 minutes ([`lock_for`]). The lock-out
/// rules, apart from the database: [`take_attempt`] carries them out.
pub fn next_attempt(counter: Counter, max_failures: u32, now_ms: i64) -> Result<Counter, i64> {
    if counter.locked_until_ms > now_ms {
        return Err(counter.locked_until_ms - now_ms);
    }
    let previous = if counter.updated_at_ms < now_ms - FORGET_AFTER_MS {
        0
    } else {
        counter.failures
    };
    let failures = previous.saturating_add(1);
    let locked_until_ms = match lock_for(i64::from(failures), max_failures) {
        Some(lock_ms) => now_ms + lock_ms,
        None => counter.locked_until_ms,
    };
    Ok(Counter {
        failures,
        locked_until_ms,
        updated_at_ms: now_ms,
    })
}

/// Counts one attempt before the password is checked, in the caller's transaction:
/// the counter is read and written under a lock, so concurrent attempts are counted one
/// by one and at most `max_failures` of them (then one per back-off period) are ever
/// checked. Each attempt counts as a failure until [`succeeded`] forgets them all; the
/// attempt that reaches the threshold already sets the next lock. Refused (429) while
/// locked, whether or not the password would be right.
pub async fn take_attempt(
    mut ex: Exec<'_>,
    attempts: &Attempts,
    max_failures: u32,
    client: &ClientInfo,
    now: i64,
    account: Option<(i64, &str)>,
) -> anyhow::Result<Verdict> {
    let counter = db::throttle::lock_counter(ex.reborrow(), &attempts.key, now).await?;
    match next_attempt(counter, max_failures, now) {
        Ok(counter) => {
            db::throttle::store(ex, &attempts.key, counter).await?;
            Ok(Verdict::Allowed)
        }
        Err(locked_for_ms) => {
            let event = match account {
                Some((id, name)) => Event::about(AuditKind::Throttled, id, name),
                None => Event::anonymous(AuditKind::Throttled),
            };
            let event = event
                .detail("username locked after repeated failures")
                .coalesced(&attempts.key);
            audit::record(ex, client, now.div_euclid(1000), event).await?;
            Ok(Verdict::Refused {
                retry_after: seconds_from_ms(locked_for_ms),
            })
        }
    }
}

/// Counts an attempt at a known user's secret (a password confirmation, a code) before
/// it is checked, in a transaction of its own (the right counter for this browser, see
/// [`Attempts`]); 429 while locked. Gives the counter, to be told of a success.
pub async fn attempt_for(ctx: &RequestCtx, user: &UserRow) -> Result<Attempts, AppError> {
    let attempts = attempts_of(ctx, user);
    let account = Some((user.id, user.username.as_str()));
    let max_failures = ctx.state.config.limits.login_max_failures;
    let mut tx = ctx.state.db.begin().await?;
    let verdict = take_attempt(
        tx.exec(),
        &attempts,
        max_failures,
        &ctx.client,
        ctx.now_ms,
        account,
    )
    .await?;
    tx.commit().await?;
    verdict.or_refuse()?;
    Ok(attempts)
}

/// The counter this browser's attempts at `user`'s secrets are kept in.
pub fn attempts_of(ctx: &RequestCtx, user: &UserRow) -> Attempts {
    let device = device::trusted(ctx, user.id);
    Attempts::for_username(&user.username_key, device.as_deref())
}

/// Forgets the attempts after a right password: the counter (and its lock) is gone.
pub async fn succeeded(ex: Exec<'_>, attempts: &Attempts) -> anyhow::Result<()> {
    db::throttle::reset(ex, &attempts.key).await
}

/// Lifts every lock on a username and forgets its failed attempts (its trusted devices'
/// included); returns how many counters there were.
pub async fn unlock(ex: Exec<'_>, username_key: &str) -> anyhow::Result<u64> {
    db::throttle::unlock(ex, username_key, &device_prefix(username_key)).await
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

/// Deletes throttling rows nobody needs any more (hourly).
pub async fn purge(db: &Db, now_ms: i64) -> anyhow::Result<u64> {
    let mut conn = db.conn().await?;
    let limits = db::rate_limits::purge(conn.exec(), now_ms).await?;
    let failures = db::throttle::purge(conn.exec(), now_ms - FORGET_AFTER_MS, now_ms).await?;
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

    const MAX: u32 = 5;

    fn counter(failures: i32, locked_until_ms: i64, updated_at_ms: i64) -> Counter {
        Counter {
            failures,
            locked_until_ms,
            updated_at_ms,
        }
    }

    #[test]
    fn the_fifth_attempt_sets_a_one_second_lock_and_each_further_one_doubles_it() {
        let now = 1_000_000;
        let mut c = counter(0, 0, 0);
        for n in 1..MAX {
            c = next_attempt(c, MAX, now).expect("allowed");
            assert_eq!((c.failures, c.locked_until_ms), (n as i32, 0));
        }
        c = next_attempt(c, MAX, now).expect("the fifth is still checked");
        assert_eq!(c.locked_until_ms, now + 1_000);
        // Locked: refused with what is left, whether or not the password would be right.
        assert_eq!(next_attempt(c, MAX, now + 400).map(|_| ()), Err(600));
        // After the lock, the sixth attempt locks for two seconds, the seventh four.
        c = next_attempt(c, MAX, now + 1_000).expect("allowed again");
        assert_eq!(c.locked_until_ms, now + 1_000 + 2_000);
        c = next_attempt(c, MAX, now + 3_000).expect("allowed again");
        assert_eq!(c.locked_until_ms, now + 3_000 + 4_000);
    }

    #[test]
    fn failures_older_than_a_day_are_forgotten() {
        let now = 10 * FORGET_AFTER_MS;
        let old = counter(4, 0, now - FORGET_AFTER_MS - 1);
        let c = next_attempt(old, MAX, now).expect("allowed");
        assert_eq!((c.failures, c.locked_until_ms), (1, 0));
        let recent = counter(4, 0, now - FORGET_AFTER_MS + 1);
        let c = next_attempt(recent, MAX, now).expect("allowed");
        assert_eq!((c.failures, c.locked_until_ms), (5, now + 1_000));
    }

    #[test]
    fn the_lock_stops_growing_at_fifteen_minutes() {
        let now = 1_000_000;
        let c = next_attempt(counter(40, 0, now), MAX, now).expect("allowed");
        assert_eq!(c.locked_until_ms, now + MAX_LOCK_MS);
    }

    #[test]
    fn waits_round_up_to_whole_seconds() {
        assert_eq!(seconds_from_ms(1), 1);
        assert_eq!(seconds_from_ms(1000), 1);
        assert_eq!(seconds_from_ms(1001), 2);
        assert_eq!(seconds_from_ms(0), 1);
    }
}
