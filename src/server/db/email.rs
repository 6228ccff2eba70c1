//! Queries on `email_tokens` (links sent by e-mail) and `mail_queue`.

use super::{on_exec, Exec};
use anyhow::Context;

/// What a link is for (`email_tokens.purpose`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    /// Verifies the address on the account.
    Verify,
    /// Verifies a new address, which then replaces the (verified) one on the account.
    Change,
    /// Sets a new password.
    Reset,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Verify => "verify",
            Purpose::Change => "change",
            Purpose::Reset => "reset",
        }
    }

    fn parse(stored: &str) -> Option<Purpose> {
        [Purpose::Verify, Purpose::Change, Purpose::Reset]
            .into_iter()
            .find(|p| p.as_str() == stored)
    }
}

/// A new link's row.
#[derive(Debug)]
pub struct NewToken<'a> {
    /// Hex SHA-256 of the token in the link.
    pub id: &'a str,
    pub user_id: i64,
    pub purpose: Purpose,
    pub email: &'a str,
    pub expires_at: i64,
    pub created_at: i64,
}

pub async fn insert_token(ex: Exec<'_>, token: &NewToken<'_>) -> anyhow::Result<()> {
    on_exec!(ex, c => sqlx::query(
        "INSERT INTO email_tokens (id, user_id, purpose, email, expires_at, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(token.id)
    .bind(token.user_id)
    .bind(token.purpose.as_str())
    .bind(token.email)
    .bind(token.expires_at)
    .bind(token.created_at)
    .execute(c)
    .await
    .map(|_| ()))
    .context("store an e-mail link")
}

/// A link that is still good: unused and unexpired.
#[derive(Clone, Debug)]
pub struct LiveToken {
    pub user_id: i64,
    pub purpose: Purpose,
    /// The address the link was sent to.
    pub email: String,
}

fn live(row: Option<(i64, String, String)>) -> Option<LiveToken> {
    let (user_id, purpose, email) = row?;
    Some(LiveToken {
        user_id,
        purpose: Purpose::parse(&purpose)?,
        email,
    })
}

/// The link for a page: one purpose, or the two of the verification page.
#[derive(Clone, Copy, Debug)]
pub struct Purposes(pub Purpose, pub Purpose);

impl Purposes {
    pub const RESET: Purposes = Purposes(Purpose::Reset, Purpose::Reset);
    pub const VERIFY: Purposes = Purposes(Purpose::Verify, Purpose::Change);
}

/// The link with this id if it has one of `purposes` and is still good, without using it.
pub async fn peek(ex: Exec<'_>, id: &str, purposes: Purposes, now: i64) -> anyhow::Result<Option<LiveToken>> {
    let row: Option<(i64, String, String)> = on_exec!(ex, c => sqlx::query_as(
        "SELECT user_id, purpose, email FROM email_tokens \
         WHERE id = $1 AND used_at IS NULL AND expires_at > $2 AND purpose IN ($3, $4)",
    )
    .bind(id)
    .bind(now)
    .bind(purposes.0.as_str())
    .bind(purposes.1.as_str())
    .fetch_optional(c)
    .await)
    .context("read an e-mail link")?;
    Ok(live(row))
}

/// Uses the link: marks it used if it has one of `purposes` and is still good, in one
/// statement, so of two requests with one link exactly one gets it.
pub async fn take(ex: Exec<'_>, id: &str, purposes: Purposes, now: i64) -> anyhow::Result<Option<LiveToken>> {
    let row: Option<(i64, String, String)> = on_exec!(ex, c => sqlx::query_as(
        "UPDATE email_tokens SET used_at = $2 \
         WHERE id = $1 AND used_at IS NULL AND expires_at > $2 AND purpose IN ($3, $4) \
         RETURNING user_id, purpose, email",
    )
    .bind(id)
    .bind(now)
    .bind(purposes.0.as_str())
    .bind(purposes.1.as_str())
    .fetch_optional(c)
    .await)
    .context("use an e-mail link")?;
    Ok(live(row))
}

/// Marks every good link of the user with this purpose used (a reset ends the others).
pub async fn spend_all(ex: Exec<'_>, user_id: i64, purpose: Purpose, now: i64) -> anyhow::Result<u64> {
    on_exec!(ex, c => sqlx::query(
        "UPDATE email_tokens SET used_at = $3 WHERE user_id = $1 AND purpose = $2 AND used_at IS NULL",
    )
    .bind(user_id)
    .bind(purpose.as_str())
    .bind(now)
    .execute(c)
    .await
    .map(|r| r.rows_affected()))
    .context("end e-mail links")
}

/// The address of the newest good `change` link: the new address waiting to be verified.
pub async fn pending_change(ex: Exec<'_>, user_id: i64, now: i64) -> anyhow::Result<Option<String>> {
    on_exec!(ex, c => sqlx::query_scalar(
        "SELECT email FROM email_tokens WHERE user_id = $1 AND purpose = 'change' AND used_at IS NULL \
         AND expires_at > $2 ORDER BY created_at DESC, id LIMIT 1",
    )
    .bind(user_id)
    .bind(now)
    .fetch_optional(c)
    .await)
    .context("read a pending address change")
}

/// Deletes links that expired before `before` (hourly).
pub async fn purge_tokens(ex: Exec<'_>, before: i64) -> anyhow::Result<u64> {
    on_exec!(ex, c => sqlx::query("DELETE FROM email_tokens WHERE expires_at < $1")
        .bind(before)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))
    .context("purge e-mail links")
}

/// A message to queue.
#[derive(Debug)]
pub struct NewMail<'a> {
    pub recipient: &'a str,
    pub kind: &'a str,
    /// The message, sealed with the server key.
    pub sealed: &'a str,
    pub now: i64,
}

pub async fn enqueue(ex: Exec<'_>, mail: &NewMail<'_>) -> anyhow::Result<()> {
    on_exec!(ex, c => sqlx::query(
        "INSERT INTO mail_queue (recipient, kind, sealed, next_attempt_at, created_at) VALUES ($1, $2, $3, $4, $4)",
    )
    .bind(mail.recipient)
    .bind(mail.kind)
    .bind(mail.sealed)
    .bind(mail.now)
    .execute(c)
    .await
    .map(|_| ()))
    .context("queue a message")
}

/// A queued message, claimed for sending.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct QueuedMail {
    pub id: i64,
    pub recipient: String,
    pub kind: String,
    pub sealed: String,
    pub attempts: i64,
    pub created_at: i64,
}

/// Claims the oldest message that is due and not being sent by anyone else, for
/// `lease` seconds. The outer condition is checked again on the row itself, so when two
/// instances pick the same message only one claims it.
pub async fn claim(ex: Exec<'_>, now: i64, lease: i64) -> anyhow::Result<Option<QueuedMail>> {
    on_exec!(ex, c => sqlx::query_as(
        "UPDATE mail_queue SET locked_until = $2, attempts = attempts + 1 \
         WHERE id = (SELECT id FROM mail_queue WHERE next_attempt_at <= $1 AND locked_until <= $1 \
                     ORDER BY id LIMIT 1) \
           AND next_attempt_at <= $1 AND locked_until <= $1 \
         RETURNING id, recipient, kind, sealed, CAST(attempts AS BIGINT) AS attempts, created_at",
    )
    .bind(now)
    .bind(now + lease)
    .fetch_optional(c)
    .await)
    .context("claim a queued message")
}

/// Removes a message (sent, or given up on).
pub async fn remove(ex: Exec<'_>, id: i64) -> anyhow::Result<()> {
    on_exec!(ex, c => sqlx::query("DELETE FROM mail_queue WHERE id = $1")
        .bind(id)
        .execute(c)
        .await
        .map(|_| ()))
    .context("remove a queued message")
}

/// Puts a message that could not be sent back, to be tried at `next_attempt_at`.
pub async fn retry_later(ex: Exec<'_>, id: i64, next_attempt_at: i64, error: &str) -> anyhow::Result<()> {
    on_exec!(ex, c => sqlx::query(
        "UPDATE mail_queue SET next_attempt_at = $2, locked_until = 0, last_error = $3 WHERE id = $1",
    )
    .bind(id)
    .bind(next_attempt_at)
    .bind(error)
    .execute(c)
    .await
    .map(|_| ()))
    .context("reschedule a queued message")
}

/// Makes every waiting message due now (a server starting tries them all once: a new
/// configuration is often what they were waiting for).
pub async fn due_now(ex: Exec<'_>, now: i64) -> anyhow::Result<u64> {
    on_exec!(ex, c => sqlx::query("UPDATE mail_queue SET next_attempt_at = $1 WHERE next_attempt_at > $1")
        .bind(now)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))
    .context("make queued messages due")
}

/// What `last_error` says of a message an instance could not open with its keys.
pub const UNDECRYPTABLE: &str = "does not open with the keys of the instance that tried";

/// Messages waiting for an instance that holds their key (the `/metrics` gauge).
pub async fn undecryptable(ex: Exec<'_>) -> anyhow::Result<i64> {
    on_exec!(ex, c => sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM mail_queue WHERE last_error = $1")
        .bind(UNDECRYPTABLE)
        .fetch_one(c)
        .await)
    .context("count undecryptable messages")
}

/// Messages waiting to be sent (the `/metrics` gauge).
pub async fn queue_length(ex: Exec<'_>) -> anyhow::Result<i64> {
    on_exec!(ex, c => sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM mail_queue")
        .fetch_one(c)
        .await)
    .context("count queued messages")
}
