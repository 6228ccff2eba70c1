//! Queries on `ceremonies`: every browser midway through a ceremony (identity::ceremony).
//! Rows are found by the SHA-256 of the browser's handle; the handle itself never
//! reaches this module. Every function that judges expiry takes the moment.

use super::{on_exec, Exec};
use crate::server::identity::ceremony::Kind;
use anyhow::Context;

/// A ceremony as stored.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct CeremonyRow {
    pub kind: String,
    pub user_id: Option<i64>,
    /// What the kind keeps (a first factor's name, a WebAuthn state …).
    pub payload: String,
    /// Where to go once it is complete.
    pub next: String,
    /// Tries counted so far (the current one included, after [`try_once`]).
    pub failures: i64,
    /// The user's credentials version when it began.
    pub credentials_version: i64,
    pub expires_at: i64,
}

/// A ceremony to begin.
pub struct NewCeremony<'a> {
    pub id: &'a str,
    pub kind: Kind,
    pub user_id: Option<i64>,
    pub payload: &'a str,
    pub next: &'a str,
    pub credentials_version: i64,
    pub expires_at: i64,
    pub now: i64,
}

const COLUMNS: &str = "kind, user_id, payload, next, CAST(failures AS BIGINT) AS failures, \
                       CAST(credentials_version AS BIGINT) AS credentials_version, expires_at";

pub async fn begin(ex: Exec<'_>, c: &NewCeremony<'_>) -> anyhow::Result<()> {
    on_exec!(ex, conn => sqlx::query(
        "INSERT INTO ceremonies (id, kind, user_id, payload, next, failures, credentials_version, \
                                 expires_at, created_at) \
         VALUES ($1, $2, $3, $4, $5, 0, $6, $7, $8)",
    )
    .bind(c.id)
    .bind(c.kind.as_str())
    .bind(c.user_id)
    .bind(c.payload)
    .bind(c.next)
    .bind(c.credentials_version)
    .bind(c.expires_at)
    .bind(c.now)
    .execute(conn)
    .await
    .map(|_| ()))
    .with_context(|| format!("begin a {} ceremony", c.kind.as_str()))
}

/// The ceremony of `kind` with this id, still running at `now`; nothing is changed.
pub async fn peek(ex: Exec<'_>, id: &str, kind: Kind, now: i64) -> anyhow::Result<Option<CeremonyRow>> {
    let sql = format!("SELECT {COLUMNS} FROM ceremonies WHERE id = $1 AND kind = $2 AND expires_at > $3");
    on_exec!(ex, c => sqlx::query_as(&sql)
        .bind(id)
        .bind(kind.as_str())
        .bind(now)
        .fetch_optional(c)
        .await)
    .context("read a ceremony")
}

/// Takes a ceremony out, in one statement: whatever comes of the answer it was answered
/// once, and of two requests that present one handle only one gets it. `None` when there
/// is none, it is of another kind, or it has expired at `now` (it is gone either way).
pub async fn take(ex: Exec<'_>, id: &str, kind: Kind, now: i64) -> anyhow::Result<Option<CeremonyRow>> {
    let sql = format!("DELETE FROM ceremonies WHERE id = $1 RETURNING {COLUMNS}");
    let row: Option<CeremonyRow> = on_exec!(ex, c => sqlx::query_as(&sql)
        .bind(id)
        .fetch_optional(c)
        .await)
    .context("take a ceremony")?;
    Ok(row.filter(|r| r.kind == kind.as_str() && r.expires_at > now))
}

/// Counts one try against a ceremony of `kind` that is still running at `now` with
/// fewer than `max_tries` so far, in one statement: concurrent tries are counted one by
/// one, so no more than `max_tries` are ever let through. `None` when it is over.
pub async fn try_once(
    ex: Exec<'_>,
    id: &str,
    kind: Kind,
    max_tries: i64,
    now: i64,
) -> anyhow::Result<Option<CeremonyRow>> {
    let sql = format!(
        "UPDATE ceremonies SET failures = failures + 1 \
         WHERE id = $1 AND kind = $2 AND failures < $3 AND expires_at > $4 RETURNING {COLUMNS}"
    );
    on_exec!(ex, c => sqlx::query_as(&sql)
        .bind(id)
        .bind(kind.as_str())
        .bind(max_tries)
        .bind(now)
        .fetch_optional(c)
        .await)
    .context("count a try of a ceremony")
}

/// Ends a ceremony; true when it was still there (so two requests can't both complete it).
pub async fn end(ex: Exec<'_>, id: &str) -> anyhow::Result<bool> {
    let ended = on_exec!(ex, c => sqlx::query("DELETE FROM ceremonies WHERE id = $1")
        .bind(id)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))
    .context("end a ceremony")?;
    Ok(ended == 1)
}

/// Ends every ceremony of a user (their credentials changed).
pub async fn end_for_user(ex: Exec<'_>, user_id: i64) -> anyhow::Result<u64> {
    on_exec!(ex, c => sqlx::query("DELETE FROM ceremonies WHERE user_id = $1")
        .bind(user_id)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))
    .context("end a user's ceremonies")
}

/// Deletes the ceremonies that have expired at `now` (hourly).
pub async fn purge(ex: Exec<'_>, now: i64) -> anyhow::Result<u64> {
    on_exec!(ex, c => sqlx::query("DELETE FROM ceremonies WHERE expires_at <= $1")
        .bind(now)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))
    .context("purge ceremonies")
}

/// The rules of a ceremony (expiry, single use, tries, a user's credentials change) at
/// fixed moments, on a fresh in-memory database.
#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::db::testing::db_with_user;

    const T0: i64 = 1_800_000_000;

    async fn begun(ex: Exec<'_>, user_id: i64, kind: Kind) {
        let c = NewCeremony {
            id: "c1",
            kind,
            user_id: Some(user_id),
            payload: "password",
            next: "/profile",
            credentials_version: 3,
            expires_at: T0 + 300,
            now: T0,
        };
        begin(ex, &c).await.expect("begin");
    }

    #[tokio::test]
    async fn a_ceremony_runs_until_the_second_it_expires() {
        let (db, user) = db_with_user().await;
        let mut conn = db.conn().await.expect("conn");
        begun(conn.exec(), user, Kind::SecondFactor).await;
        let first = try_once(conn.exec(), "c1", Kind::SecondFactor, 5, T0 + 299)
            .await
            .expect("try");
        let first = first.expect("a second before expiry");
        assert_eq!((first.failures, first.credentials_version), (1, 3));
        assert_eq!(
            (first.payload.as_str(), first.next.as_str()),
            ("password", "/profile")
        );
        assert!(peek(conn.exec(), "c1", Kind::SecondFactor, T0 + 299)
            .await
            .expect("peek")
            .is_some());
        assert!(
            try_once(conn.exec(), "c1", Kind::SecondFactor, 5, T0 + 300)
                .await
                .expect("try")
                .is_none(),
            "at the expiry itself it is over"
        );
        assert!(peek(conn.exec(), "c1", Kind::SecondFactor, T0 + 300)
            .await
            .expect("peek")
            .is_none());
        assert_eq!(
            purge(conn.exec(), T0 + 299).await.expect("purge"),
            0,
            "kept while running"
        );
        assert_eq!(purge(conn.exec(), T0 + 300).await.expect("purge"), 1);
    }

    #[tokio::test]
    async fn a_ceremony_lets_through_only_its_allowance_of_tries() {
        let (db, user) = db_with_user().await;
        let mut conn = db.conn().await.expect("conn");
        begun(conn.exec(), user, Kind::SecondFactor).await;
        for n in 1..=5 {
            let tried = try_once(conn.exec(), "c1", Kind::SecondFactor, 5, T0 + n)
                .await
                .expect("try");
            assert_eq!(tried.map(|c| c.failures), Some(n), "try {n}");
        }
        assert!(try_once(conn.exec(), "c1", Kind::SecondFactor, 5, T0 + 6)
            .await
            .expect("try")
            .is_none());
        assert!(end(conn.exec(), "c1").await.expect("end"));
        assert!(!end(conn.exec(), "c1").await.expect("end"), "ended once only");
    }

    #[tokio::test]
    async fn a_ceremony_is_taken_once_and_only_as_its_own_kind() {
        let (db, user) = db_with_user().await;
        let mut conn = db.conn().await.expect("conn");
        begun(conn.exec(), user, Kind::PasskeyRegistration).await;
        assert!(
            try_once(conn.exec(), "c1", Kind::SecondFactor, 5, T0)
                .await
                .expect("try")
                .is_none(),
            "another kind's handle counts for nothing"
        );
        assert!(take(conn.exec(), "c1", Kind::PasskeyRegistration, T0 + 1)
            .await
            .expect("take")
            .is_some());
        assert!(
            take(conn.exec(), "c1", Kind::PasskeyRegistration, T0 + 2)
                .await
                .expect("take")
                .is_none(),
            "answered once"
        );
        // Presented as another kind, or too late, it is used up all the same.
        begun(conn.exec(), user, Kind::PasskeyRegistration).await;
        assert!(take(conn.exec(), "c1", Kind::PasskeySignIn, T0)
            .await
            .expect("take")
            .is_none());
        assert!(peek(conn.exec(), "c1", Kind::PasskeyRegistration, T0)
            .await
            .expect("peek")
            .is_none());
        begun(conn.exec(), user, Kind::PasskeyRegistration).await;
        assert!(take(conn.exec(), "c1", Kind::PasskeyRegistration, T0 + 300)
            .await
            .expect("take")
            .is_none());
        assert!(peek(conn.exec(), "c1", Kind::PasskeyRegistration, T0)
            .await
            .expect("peek")
            .is_none());
    }

    #[tokio::test]
    async fn a_credentials_change_ends_the_users_ceremonies() {
        let (db, user) = db_with_user().await;
        let mut conn = db.conn().await.expect("conn");
        begun(conn.exec(), user, Kind::SecondFactor).await;
        crate::server::db::users::bump_credentials(conn.exec(), user)
            .await
            .expect("bump");
        assert!(peek(conn.exec(), "c1", Kind::SecondFactor, T0)
            .await
            .expect("peek")
            .is_none());
    }
}
