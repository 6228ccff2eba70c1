//! The audit trail: who did what, from where.

use crate::{
    model::AuditKind,
    server::{
        db::{audit, Db, Exec},
        http::client::ClientInfo,
    },
};

/// One event to record; fields left `None` are not known or not relevant.
#[derive(Debug, Clone, Copy)]
pub struct Event<'a> {
    pub kind: AuditKind,
    /// The account the event is about.
    pub user_id: Option<i64>,
    pub username: Option<&'a str>,
    /// Who did it, when not the user themselves (an admin changing a role).
    pub actor_id: Option<i64>,
    pub detail: Option<&'a str>,
    /// Repeats of the same event for the same key within a window are counted in one
    /// row (a flood of refused requests), not written one by one.
    pub coalesce: Option<&'a str>,
}

/// How long one coalesced row keeps counting.
const COALESCE_WINDOW_SECONDS: i64 = 600;

impl<'a> Event<'a> {
    /// An event about `user_id`/`username`, done by that user.
    pub fn about(kind: AuditKind, user_id: i64, username: &'a str) -> Event<'a> {
        Event {
            kind,
            user_id: Some(user_id),
            username: Some(username),
            actor_id: None,
            detail: None,
            coalesce: None,
        }
    }

    /// An event with no known account (a sign-in for an unknown username).
    pub fn anonymous(kind: AuditKind) -> Event<'a> {
        Event {
            kind,
            user_id: None,
            username: None,
            actor_id: None,
            detail: None,
            coalesce: None,
        }
    }

    /// Counts this event in one row per `key` and ten-minute window.
    pub fn coalesced(mut self, key: &'a str) -> Event<'a> {
        self.coalesce = Some(key);
        self
    }

    pub fn detail(mut self, detail: &'a str) -> Event<'a> {
        self.detail = Some(detail);
        self
    }

    pub fn actor(mut self, actor_id: i64) -> Event<'a> {
        self.actor_id = Some(actor_id);
        self
    }
}

/// Writes the event (inside the caller's transaction when given one).
pub async fn record(ex: Exec<'_>, client: &ClientInfo, at: i64, event: Event<'_>) -> anyhow::Result<()> {
    let user_agent = client.user_agent_truncated();
    let coalesce_key = event
        .coalesce
        .map(|key| format!("{}|{key}|{}", event.kind.as_str(), at / COALESCE_WINDOW_SECONDS));
    audit::insert(
        ex,
        &audit::NewEvent {
            at,
            kind: event.kind.as_str(),
            user_id: event.user_id,
            username: event.username,
            actor_id: event.actor_id,
            ip: client.ip.as_deref(),
            user_agent: user_agent.as_deref(),
            detail: event.detail,
            coalesce_key: coalesce_key.as_deref(),
        },
    )
    .await?;
    ::metrics::counter!(crate::server::metrics::AUDIT_EVENTS, "kind" => event.kind.as_str()).increment(1);
    Ok(())
}

/// Deletes events older than `retention` (the hourly task).
pub async fn prune(db: &Db, retention: std::time::Duration, now: i64) -> anyhow::Result<u64> {
    let seconds = i64::try_from(retention.as_secs()).unwrap_or(i64::MAX);
    let mut conn = db.conn().await?;
    audit::prune(conn.exec(), now.saturating_sub(seconds)).await
}
