//! Databases: migrations and connection settings.

use crate::helpers::{Backend, TestDatabase};
use gatehouse::server::db::Db;

const TABLES: [&str; 6] = [
    "users",
    "oauth_accounts",
    "sessions",
    "login_throttle",
    "rate_limits",
    "audit_events",
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

backend_tests!(migrations_create_every_table_and_running_them_again_changes_nothing);

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
