//! The one clock. Every rule that depends on time takes `now` as a parameter; the edges
//! (a request, the mail sender, the hourly purge, a command) read it here, once, and pass
//! it on. Nothing else in the server reads the wall clock.
//!
//! A clock can be moved forward ([`Clock::advance`]): tests use it to reach an expiry, a
//! renewal or the end of a lock-out over real HTTP without rewriting timestamps in the
//! database. A running server never moves its clock.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Unix time, moved forward by however far the clock has been advanced.
#[derive(Clone, Debug, Default)]
pub struct Clock {
    ahead_ms: Arc<AtomicI64>,
}

impl Clock {
    /// The wall clock.
    pub fn system() -> Clock {
        Clock::default()
    }

    /// Unix time now, in milliseconds.
    pub fn now_millis(&self) -> i64 {
        wall_millis().saturating_add(self.ahead_ms.load(Ordering::Relaxed))
    }

    /// Unix time now, in seconds.
    pub fn now_seconds(&self) -> i64 {
        self.now_millis().div_euclid(1000)
    }

    /// Moves this clock (and every copy of it) forward by `by`.
    pub fn advance(&self, by: Duration) {
        let ms = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        self.ahead_ms.fetch_add(ms, Ordering::Relaxed);
    }
}

fn wall_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_advanced_clock_is_ahead_by_exactly_the_advance_in_every_copy() {
        let clock = Clock::system();
        let copy = clock.clone();
        let before = clock.now_millis();
        copy.advance(Duration::from_secs(3600));
        let after = clock.now_millis();
        assert!(after - before >= 3_600_000, "{before} → {after}");
        // The wall clock does not run an hour during a test.
        assert!(after - before < 3_660_000, "{before} → {after}");
        assert_eq!(clock.now_seconds(), clock.now_millis().div_euclid(1000));
    }
}
