//! Databases: migrations and connection settings.

use crate::helpers::{Backend, TestDatabase};
use gatehouse::server::db::{Db, Tx};

const TABLES: [&str; 7] = [
    "users",
    "oauth_accounts",
    "sessions",
    "login_throttle",
    "rate_limits",
    "audit_events",
    "ceremonies",
];

async fn table_exists(db: &Db, table: &str) -> bool {
    let sql = match db {
        Db::Sqlite { .. } => "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = $1",
        Db::Postgres { .. } => "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = $1",
    };
    let n: i64 = match db {
        Db::Sqlite { pool, .. } => sqlx::query_scalar(sql)
            .bind(table)
            .fetch_one(pool)
            .await
            .expect("query"),
        Db::Postgres { pool } => sqlx::query_scalar(sql)
            .bind(table)
            .fetch_one(pool)
            .await
            .expect("query"),
    };
    n == 1
}

async fn migrations_create_every_table_and_running_them_again_changes_nothing(backend: Backend) {
    let database = TestDatabase::create(backend).await.expect("database");
    let db = Db::connect(&database.url).await.expect("connect");
    db.migrate().await.expect("first migration");
    for table in TABLES {
        assert!(table_exists(&db, table).await, "{table} exists");
    }
    db.migrate().await.expect("second migration is a no-op");
    let applied: i64 = match &db {
        Db::Sqlite { pool, .. } => sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations")
            .fetch_one(pool)
            .await
            .expect("count"),
        Db::Postgres { pool } => sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations")
            .fetch_one(pool)
            .await
            .expect("count"),
    };
    let files = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/sqlite"))
        .expect("dir")
        .count();
    assert_eq!(applied, i64::try_from(files).expect("small"));
    db.close().await;
}

/// A request dropped while its transaction starts (a client that disconnects: every
/// load test's last requests) must not leave a pooled connection inside a transaction
/// nobody holds. It did: sqlx's `begin` is not cancel-safe, and every later transaction
/// on that connection failed with "attempted to call begin_with at non-zero transaction
/// depth" (thousands of 500s in a benchmark round).
async fn transactions_abandoned_while_starting_leave_the_pool_usable(backend: Backend) {
    let database = TestDatabase::create(backend).await.expect("database");
    let db = Db::connect(&database.url).await.expect("connect");
    db.migrate().await.expect("migrate");
    for round in 0..400u64 {
        // Cut short at every stage of starting: before BEGIN is sent, while it runs,
        // and right after it was acknowledged.
        let wait = std::time::Duration::from_micros((round * 37) % 400);
        let _ = tokio::time::timeout(wait, db.begin()).await;
    }
    // Every connection of the pool starts, uses and ends a transaction again (the pool
    // hands its idle connections out in turn, so fifty rounds reach each of them).
    for _ in 0..50 {
        let mut tx = db.begin().await.expect("a transaction starts");
        gatehouse::server::db::users::key_exists(tx.exec(), "nobody")
            .await
            .expect("query");
        tx.commit().await.expect("commit");
    }
}

backend_tests!(
    migrations_create_every_table_and_running_them_again_changes_nothing,
    transactions_abandoned_while_starting_leave_the_pool_usable,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_runs_in_wal_mode_with_foreign_keys_and_a_busy_timeout() {
    let database = TestDatabase::create(Backend::Sqlite).await.expect("database");
    let db = Db::connect(&database.url).await.expect("connect");
    let Db::Sqlite { pool, .. } = &db else {
        panic!("sqlite")
    };
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(pool)
        .await
        .expect("pragma");
    assert_eq!(mode, "wal");
    let fk: i64 = sqlx::query_scalar("PRAGMA foreign_keys")
        .fetch_one(pool)
        .await
        .expect("pragma");
    assert_eq!(fk, 1);
    let timeout: i64 = sqlx::query_scalar("PRAGMA busy_timeout")
        .fetch_one(pool)
        .await
        .expect("pragma");
    assert!(timeout >= 1000, "busy timeout {timeout} ms");
    db.close().await;
}

/// A request cancelled while its transaction was starting (the client hung up while
/// another writer held the lock) must not leave the write lock held by nobody.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transaction_start_cancelled_midway_does_not_keep_the_write_lock() {
    use std::time::Duration;
    let database = TestDatabase::create(Backend::Sqlite).await.expect("database");
    let db = Db::connect(&database.url).await.expect("connect");
    db.migrate().await.expect("migrate");

    let holder = db.begin().await.expect("first writer");
    // The second start waits for the lock (busy timeout) and is cancelled meanwhile.
    let cancelled = tokio::time::timeout(Duration::from_millis(200), db.begin()).await;
    assert!(cancelled.is_err(), "the second start had to wait for the lock");
    drop(holder);
    // Let the cancelled start's connection get the lock it was waiting for, if it will.
    tokio::time::sleep(Duration::from_millis(500)).await;

    // Another process (a second pool) can still write, well within its busy timeout.
    let other = Db::connect(&database.url).await.expect("connect again");
    let started = std::time::Instant::now();
    let mut tx = tokio::time::timeout(Duration::from_secs(4), other.begin())
        .await
        .expect("the write lock was left held")
        .expect("begin");
    let Tx::Sqlite(inner) = &mut tx else {
        panic!("sqlite")
    };
    sqlx::query("CREATE TABLE cancelled_start_probe (x INTEGER)")
        .execute(&mut **inner)
        .await
        .expect("write");
    tx.commit().await.expect("commit");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "waited {:?}",
        started.elapsed()
    );
    other.close().await;
    db.close().await;
}
