//! Sending e-mail (docs/email.md "E-mail").
//!
//! A request never talks to an SMTP server: it queues the message in `mail_queue`, in
//! the same transaction as whatever the message is about, and a background task of each
//! server instance sends what is due. A message leaves the queue only once it is sent,
//! so a restart or an unreachable server delays it and loses nothing; failures are
//! retried with a growing wait (30 s doubling, at most an hour) for three days.
//!
//! The queued message is sealed with the server key: a copy of the database does not
//! hand out the reset links waiting in it. Without `GATEHOUSE_SMTP_URL` each message is
//! written to `GATEHOUSE_MAIL_OUTBOX` as an `.eml` file and its link is logged, so a
//! development set-up needs no mail server.

pub mod templates;
pub mod transport;

use crate::server::{
    db::{self, Exec},
    keys::Purpose,
    state::AppState,
};
use anyhow::Context;
use std::time::Duration;
pub use templates::{Message, Template};

/// How long a message is tried before it is given up (links expire long before).
const GIVE_UP_AFTER_SECONDS: i64 = 3 * 24 * 3600;
/// Longest wait between two attempts.
const MAX_RETRY_SECONDS: i64 = 3600;
/// How long an instance holds a message it is sending (longer than an SMTP timeout).
const LEASE_SECONDS: i64 = 120;
/// How often the queue is looked at when nothing woke the sender.
const POLL: Duration = Duration::from_secs(2);
/// What sealed messages are bound to.
const SEAL_CONTEXT: &[u8] = b"mail queue";
/// How long a message this instance cannot open waits before it is looked at again
/// (meanwhile an instance that holds its key takes it).
const UNDECRYPTABLE_WAIT_SECONDS: i64 = 60;

/// Queues `template` for `to` in the caller's transaction: it is sent only if that
/// commits. Ring [`transport::Mailer::wake`] after the commit.
pub async fn queue(ex: Exec<'_>, state: &AppState, to: &str, template: &Template<'_>) -> anyhow::Result<()> {
    let message = template.render(&state.config.app_name, &state.config.public_origin);
    let json = serde_json::to_vec(&message).context("serialise a message")?;
    let sealed = state.keys.seal(Purpose::QueuedMail, SEAL_CONTEXT, &json);
    db::email::enqueue(
        ex,
        &db::email::NewMail {
            recipient: to,
            kind: template.kind(),
            sealed: &sealed,
            now: state.clock.now_seconds(),
        },
    )
    .await
}

/// The wait before the next attempt after `attempts` failed ones: 30 s, doubling, at
/// most an hour.
fn retry_after(attempts: i64) -> i64 {
    let doublings = u32::try_from(attempts.clamp(1, 16) - 1).unwrap_or(0);
    (30i64 << doublings).min(MAX_RETRY_SECONDS)
}

/// Sends every message that is due; answers how many went out.
pub async fn send_due(state: &AppState) -> anyhow::Result<usize> {
    let mut sent = 0;
    loop {
        let now = state.clock.now_seconds();
        let mut conn = state.db.conn().await?;
        let Some(queued) = db::email::claim(conn.exec(), now, LEASE_SECONDS).await? else {
            return Ok(sent);
        };
        drop(conn);
        let opened = state
            .keys
            .open(Purpose::QueuedMail, SEAL_CONTEXT, &queued.sealed)
            .and_then(|json| serde_json::from_slice::<Message>(&json).ok());
        let Some(message) = opened else {
            // Sealed with a key this instance does not hold (during a key rotation, an
            // instance with only the old key meets what new-key instances queued): never
            // destroyed, it waits for an instance that holds the key.
            tracing::error!(id = queued.id, kind = %queued.kind,
                "a queued message does not open with this instance's keys: it stays queued for \
                 an instance that holds its key (is GATEHOUSE_SECRET_KEY the same on every instance?)");
            let mut conn = state.db.conn().await?;
            let later = now + UNDECRYPTABLE_WAIT_SECONDS;
            db::email::retry_later(conn.exec(), queued.id, later, db::email::UNDECRYPTABLE).await?;
            continue;
        };
        let outcome = state.mailer.deliver(&queued, &message).await;
        let mut conn = state.db.conn().await?;
        match outcome {
            Ok(()) => {
                db::email::remove(conn.exec(), queued.id).await?;
                sent += 1;
            }
            Err(e) if now - queued.created_at > GIVE_UP_AFTER_SECONDS => {
                tracing::error!(id = queued.id, kind = %queued.kind, attempts = queued.attempts,
                    error = format!("{e:#}"), "message given up");
                db::email::remove(conn.exec(), queued.id).await?;
            }
            Err(e) => {
                let wait = retry_after(queued.attempts);
                tracing::warn!(id = queued.id, kind = %queued.kind, attempts = queued.attempts,
                    retry_in_seconds = wait, error = format!("{e:#}"), "message not sent; it stays queued");
                let error: String = format!("{e:#}").chars().take(500).collect();
                db::email::retry_later(conn.exec(), queued.id, now + wait, &error).await?;
                // The server is unreachable now: the others wait for their own turn.
                return Ok(sent);
            }
        }
    }
}

/// The sender of a running server: sends what is due when woken, and every few seconds
/// otherwise; stops when the database is closed.
pub fn spawn_sender(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        tracing::info!(to = %state.mailer.describe(), "mail sender started");
        match state.db.conn().await {
            Ok(mut conn) => {
                if let Err(e) = db::email::due_now(conn.exec(), state.clock.now_seconds()).await {
                    tracing::warn!(error = format!("{e:#}"), "mail queue not readable");
                }
            }
            Err(e) => tracing::warn!(error = format!("{e:#}"), "mail queue not readable"),
        }
        while !state.db.is_closed() {
            if let Err(e) = send_due(&state).await {
                if state.db.is_closed() {
                    break;
                }
                tracing::warn!(error = format!("{e:#}"), "mail queue not readable");
            }
            tokio::select! {
                () = state.mailer.woken() => {}
                () = tokio::time::sleep(POLL) => {}
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::retry_after;

    #[test]
    fn retries_wait_longer_each_time_up_to_an_hour() {
        assert_eq!(retry_after(1), 30);
        assert_eq!(retry_after(2), 60);
        assert_eq!(retry_after(3), 120);
        assert_eq!(retry_after(8), 3600);
        assert_eq!(retry_after(1000), 3600);
        assert_eq!(retry_after(0), 30);
    }
}
