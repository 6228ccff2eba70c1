//! The one clean-up of everything that expires: [`purge_expired`] at a given moment.

use super::{
    audit,
    auth::{email, sessions, throttle},
    config::Config,
    db::{self, Db},
};

/// Deletes, as of `now_ms` (unix milliseconds), whatever has expired or is past its
/// keeping: sessions, throttling rows, ceremonies (pending two-factor sign-ins, passkey
/// and OAuth flows), e-mail links, and audit events past `GATEHOUSE_AUDIT_RETENTION`.
/// Each purge is logged; one that fails is logged and the others still run. Answers how
/// many rows went, per kind.
pub async fn purge_expired(db: &Db, config: &Config, now_ms: i64) -> Vec<(&'static str, u64)> {
    let now = now_ms / 1000;
    let results = [
        ("expired sessions", sessions::purge_expired(db, now).await),
        ("stale throttling rows", throttle::purge(db, now_ms).await),
        (
            "audit events past their retention",
            audit::prune(db, config.audit_retention, now).await,
        ),
        (
            "expired ceremonies (pending sign-ins, passkey and OAuth flows)",
            expired_ceremonies(db, now).await,
        ),
        ("expired e-mail links", email::purge(db, now).await),
    ];
    let mut purged = Vec::with_capacity(results.len());
    for (what, result) in results {
        match result {
            Ok(0) => purged.push((what, 0)),
            Ok(n) => {
                tracing::info!(purged = n, what, "purged");
                purged.push((what, n));
            }
            Err(e) => tracing::warn!(error = format!("{e:#}"), what, "purge failed"),
        }
    }
    purged
}

async fn expired_ceremonies(db: &Db, now: i64) -> anyhow::Result<u64> {
    let mut conn = db.conn().await?;
    db::ceremonies::purge(conn.exec(), now).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::{db::testing::db_with_user, identity::ceremony::Kind};

    const T0: i64 = 1_800_000_000;
    const CEREMONIES: &str = "expired ceremonies (pending sign-ins, passkey and OAuth flows)";

    fn purged(result: &[(&'static str, u64)], what: &str) -> u64 {
        result.iter().find(|(w, _)| *w == what).map_or(0, |(_, n)| *n)
    }

    /// Whatever expires goes at the moment it is given, not at the wall clock's: a
    /// session and a pending sign-in that expire at T0 + 300 are kept by a purge at that
    /// second, and gone after it.
    #[tokio::test]
    async fn expiry_is_judged_at_the_moment_given() {
        let (db, user) = db_with_user().await;
        let config = Config::from_lookup(|_| None).expect("defaults");
        let mut conn = db.conn().await.expect("conn");
        let session = db::sessions::NewSession {
            id: "s1",
            handle: "h1",
            user_id: user,
            created_at: T0,
            expires_at: T0 + 300,
            ip: None,
            user_agent: None,
            impersonator: None,
            credentials_version: 0,
            confirmed_at: None,
        };
        db::sessions::insert(conn.exec(), &session)
            .await
            .expect("session");
        let pending = db::ceremonies::NewCeremony {
            id: "c1",
            kind: Kind::SecondFactor,
            user_id: Some(user),
            payload: "password",
            next: "/profile",
            credentials_version: 0,
            expires_at: T0 + 300,
            now: T0,
        };
        db::ceremonies::begin(conn.exec(), &pending)
            .await
            .expect("pending");
        drop(conn);

        let early = purge_expired(&db, &config, (T0 + 299) * 1000).await;
        assert_eq!(purged(&early, "expired sessions"), 0);
        assert_eq!(purged(&early, CEREMONIES), 0);
        let late = purge_expired(&db, &config, (T0 + 301) * 1000).await;
        assert_eq!(purged(&late, "expired sessions"), 1);
        assert_eq!(purged(&late, CEREMONIES), 1);
        assert_eq!(late.len(), 5, "every kind is purged: {late:?}");
    }
}
