//! Storage: one code path over SQLite and PostgreSQL.
//!
//! Every query is written once, with `$1`-style placeholders that both drivers accept,
//! and compiled against both native sqlx drivers by [`on_pool!`]. We chose this over
//! sqlx's `Any` driver because the native drivers keep their own types, prepared
//! statement caches and error codes (unique violations), and `Any` would add a dynamic
//! layer on the hottest query (session validation). Where the dialects differ (DDL,
//! `BEGIN IMMEDIATE`), the difference is spelled out next to the query.

pub mod audit;
pub mod ceremonies;
pub mod email;
pub mod oauth;
pub mod passkeys;
pub mod rate_limits;
pub mod reader;
pub mod sessions;
pub mod throttle;
pub mod two_factor;
pub mod users;

use anyhow::Context;
use sqlx::{
    migrate::Migrator,
    pool::PoolConnection,
    postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions},
    sqlite::{
        SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
        SqliteSynchronous,
    },
    ConnectOptions, Connection, Postgres, Sqlite, Transaction,
};
use std::{path::PathBuf, str::FromStr, sync::Arc, time::Duration};

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("migrations/postgres");

/// A connection pool on either database. Cheap to clone.
#[derive(Clone, Debug)]
pub enum Db {
    Sqlite {
        pool: SqlitePool,
        file: Option<PathBuf>,
        /// The request-thread reader for session validation (file databases only).
        reader: Option<Arc<reader::SqliteReader>>,
    },
    Postgres {
        pool: PgPool,
    },
}

/// A connection taken from the pool for a few statements.
pub enum Conn {
    Sqlite(PoolConnection<Sqlite>),
    Postgres(PoolConnection<Postgres>),
}

/// A transaction; dropped without [`Tx::commit`] it rolls back.
pub enum Tx {
    Sqlite(Transaction<'static, Sqlite>),
    Postgres(Transaction<'static, Postgres>),
}

/// What every query function runs on: a borrowed connection of either driver, taken
/// from a [`Conn`] or a [`Tx`].
pub enum Exec<'a> {
    Sqlite(&'a mut SqliteConnection),
    Postgres(&'a mut PgConnection),
}

/// Runs the same expression against whichever pool `db` holds; `$pool` names the pool
/// inside it. The expression is compiled once per driver, so it must type-check on both.
#[allow(unused_macros)]
macro_rules! on_pool {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db {
            $crate::server::db::Db::Sqlite { pool: $pool, .. } => $body,
            $crate::server::db::Db::Postgres { pool: $pool } => $body,
        }
    };
}

/// Like [`on_pool!`] for an [`Exec`]: `$conn` is a `&mut` connection of either driver.
macro_rules! on_exec {
    ($exec:expr, $conn:ident => $body:expr) => {
        match $exec {
            $crate::server::db::Exec::Sqlite($conn) => $body,
            $crate::server::db::Exec::Postgres($conn) => $body,
        }
    };
}
pub(crate) use on_exec;

impl Exec<'_> {
    /// Borrows the connection again, for a function that runs several statements.
    pub fn reborrow(&mut self) -> Exec<'_> {
        match self {
            Exec::Sqlite(c) => Exec::Sqlite(c),
            Exec::Postgres(c) => Exec::Postgres(c),
        }
    }
}

impl Conn {
    pub fn exec(&mut self) -> Exec<'_> {
        match self {
            Conn::Sqlite(c) => Exec::Sqlite(c),
            Conn::Postgres(c) => Exec::Postgres(c),
        }
    }
}

impl Tx {
    pub fn exec(&mut self) -> Exec<'_> {
        match self {
            Tx::Sqlite(t) => Exec::Sqlite(t),
            Tx::Postgres(t) => Exec::Postgres(t),
        }
    }

    pub async fn commit(self) -> anyhow::Result<()> {
        match self {
            Tx::Sqlite(t) => t.commit().await,
            Tx::Postgres(t) => t.commit().await,
        }
        .context("commit failed")
    }
}

impl Db {
    /// Opens a pool for `url` (`sqlite://…` or `postgres://…`). Does not migrate.
    pub async fn connect(url: &str) -> anyhow::Result<Db> {
        if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)
                .context("DATABASE_URL is not a valid SQLite URL")?
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(5))
                .pragma("temp_store", "memory")
                .pragma("cache_size", "-4000")
                .disable_statement_logging();
            // The file SQLite itself opens for these options, whatever form the URL took
            // (`sqlite://x.db`, `sqlite:x.db`, `sqlite:file:x.db`, `sqlite::memory:`,
            // `?mode=memory` …): the session reader must open that file, or nothing at
            // all for an in-memory database.
            let file = {
                let mut probe = SqliteConnection::connect_with(&options)
                    .await
                    .context("could not open the SQLite database")?;
                let main: String =
                    sqlx::query_scalar("SELECT file FROM pragma_database_list WHERE name = 'main'")
                        .fetch_one(&mut probe)
                        .await
                        .context("cannot ask SQLite which file it opened")?;
                let _ = probe.close().await;
                Some(PathBuf::from(main)).filter(|p| !p.as_os_str().is_empty())
            };
            // An in-memory database is shared between connections through SQLite's
            // shared cache, whose table locks do not wait (busy_timeout does not apply):
            // one connection serves it, so nothing ever conflicts. It is for trying
            // things out and tests; a file is for anything else.
            let connections = if file.is_some() { 8 } else { 1 };
            // A local file does not drop connections behind our back: no ping before
            // each use (it would double the round trips to SQLite's worker threads).
            let pool = SqlitePoolOptions::new()
                .max_connections(connections)
                .min_connections(1)
                .test_before_acquire(false)
                .acquire_timeout(Duration::from_secs(5))
                .connect_with(options)
                .await
                .context("could not open the SQLite database")?;
            let reader = file.as_deref().map(|f| Arc::new(reader::SqliteReader::new(f)));
            Ok(Db::Sqlite { pool, file, reader })
        } else {
            let options = PgConnectOptions::from_str(url)
                .context("DATABASE_URL is not a valid PostgreSQL URL")?
                .disable_statement_logging();
            let pool = PgPoolOptions::new()
                .max_connections(16)
                .acquire_timeout(Duration::from_secs(5))
                .connect_with(options)
                .await
                .context("could not connect to PostgreSQL")?;
            Ok(Db::Postgres { pool })
        }
    }

    /// Applies pending migrations. On PostgreSQL sqlx holds an advisory lock while it
    /// migrates, so instances starting together apply each migration exactly once.
    /// Then it gives e-mail addresses the key the application computes, where a
    /// migration's SQL computed another (`users::rekey_emails`).
    pub async fn migrate(&self) -> anyhow::Result<()> {
        match self {
            Db::Sqlite { pool, .. } => SQLITE_MIGRATIONS.run(pool).await,
            Db::Postgres { pool } => POSTGRES_MIGRATIONS.run(pool).await,
        }
        .context("database migration failed")?;
        let mut tx = self.begin().await?;
        let rekeyed = users::rekey_emails(tx.exec()).await?;
        tx.commit().await?;
        if rekeyed > 0 {
            tracing::info!(rekeyed, "e-mail addresses re-keyed");
        }
        Ok(())
    }

    /// Readiness: the database answers a query, and (SQLite) its file is still in place.
    pub async fn ping(&self) -> anyhow::Result<()> {
        if let Db::Sqlite { file: Some(file), .. } = self {
            // A deleted file keeps working for open connections, but everything written
            // from then on is lost: that is not a ready service.
            anyhow::ensure!(
                file.exists(),
                "the SQLite database file {} is gone",
                file.display()
            );
        }
        let limit = Duration::from_secs(2);
        let one: i32 = on_pool!(self, pool => tokio::time::timeout(limit, sqlx::query_scalar("SELECT 1").fetch_one(pool)).await)
            .context("database ping timed out")?
            .context("database ping failed")?;
        anyhow::ensure!(one == 1, "database ping answered {one}");
        Ok(())
    }

    /// Takes a connection from the pool.
    pub async fn conn(&self) -> anyhow::Result<Conn> {
        match self {
            Db::Sqlite { pool, .. } => pool.acquire().await.map(Conn::Sqlite),
            Db::Postgres { pool } => pool.acquire().await.map(Conn::Postgres),
        }
        .context("no database connection available")
    }

    /// Starts a write transaction. SQLite takes the write lock up front (`BEGIN
    /// IMMEDIATE`): a deferred transaction that reads and then writes can fail with
    /// "database is locked" without waiting, while an immediate one queues politely.
    ///
    /// The start runs in a task of its own. sqlx's `begin` is not cancel-safe: a request
    /// dropped (its client gone) just as the database acknowledged `BEGIN` returned the
    /// connection to the pool inside a transaction nobody held, and every later
    /// transaction on that connection failed. A dropped caller now leaves the task to
    /// finish, and the transaction it made is dropped, which rolls it back.
    pub async fn begin(&self) -> anyhow::Result<Tx> {
        let db = self.clone();
        tokio::spawn(async move {
            match db {
                Db::Sqlite { pool, .. } => pool.begin_with("BEGIN IMMEDIATE").await.map(Tx::Sqlite),
                Db::Postgres { pool } => pool.begin().await.map(Tx::Postgres),
            }
        })
        .await
        .context("the task starting a transaction failed")?
        .context("could not start a transaction")
    }

    /// Writes what the write-ahead log holds into the database file and empties the log
    /// (SQLite; nothing to do on PostgreSQL). After a bulk load the log can be as large
    /// as the table, and every reader would search it page by page.
    pub async fn checkpoint(&self) -> anyhow::Result<()> {
        if let Db::Sqlite { pool, .. } = self {
            sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .execute(pool)
                .await
                .context("cannot checkpoint the write-ahead log")?;
        }
        Ok(())
    }

    /// The session with this id joined with its user: the one read of every request.
    pub async fn find_session(&self, id: &str) -> anyhow::Result<Option<sessions::SessionWithUser>> {
        match self {
            Db::Sqlite {
                reader: Some(reader), ..
            } => reader.find_with_user(id),
            _ => {
                let mut conn = self.conn().await?;
                sessions::find_with_user(conn.exec(), id).await
            }
        }
    }

    /// Where the server key comes from when none is configured.
    pub fn key_source(&self) -> crate::server::keys::KeySource<'_> {
        use crate::server::keys::KeySource;
        match self {
            Db::Sqlite { file: Some(file), .. } => KeySource::SqliteFile(file),
            Db::Sqlite { file: None, .. } => KeySource::Ephemeral,
            Db::Postgres { .. } => KeySource::Required,
        }
    }

    /// A short name for logs and the CLI.
    pub fn kind(&self) -> &'static str {
        match self {
            Db::Sqlite { .. } => "sqlite",
            Db::Postgres { .. } => "postgres",
        }
    }

    /// Closes every connection (graceful shutdown, tests).
    pub async fn close(&self) {
        on_pool!(self, pool => pool.close().await)
    }

    /// True once [`Db::close`] was called: background tasks stop.
    pub fn is_closed(&self) -> bool {
        on_pool!(self, pool => pool.is_closed())
    }
}

/// Gives this connection a page cache of `kib` KiB for a bulk load (SQLite; PostgreSQL
/// has no per-connection page cache). The server's connections keep their 4 MiB.
pub async fn enlarge_page_cache(ex: Exec<'_>, kib: u32) -> anyhow::Result<()> {
    if let Exec::Sqlite(conn) = ex {
        sqlx::query(&format!("PRAGMA cache_size = -{kib}"))
            .execute(conn)
            .await
            .context("cannot enlarge the page cache")?;
    }
    Ok(())
}

/// True when `err` is a unique-constraint violation (a taken username, a linked account).
pub fn is_unique_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if db.is_unique_violation())
}

/// A fresh in-memory SQLite database, migrated, with one user ("ada"): for unit tests of
/// the rules that live in SQL, run at fixed moments.
#[cfg(test)]
pub(crate) mod testing {
    use super::{users, Db};
    use crate::{domain::Username, model::Role};

    pub async fn db_with_user() -> (Db, i64) {
        let db = Db::connect("sqlite::memory:").await.expect("open");
        db.migrate().await.expect("migrate");
        let name = Username::parse("ada").expect("name");
        let mut conn = db.conn().await.expect("conn");
        let inserted = users::insert(
            conn.exec(),
            &users::NewUser::with_password(&name, "x", Role::User),
            0,
        )
        .await
        .expect("insert");
        let users::Inserted::Created(user) = inserted else {
            panic!("not created");
        };
        drop(conn);
        (db, user.id)
    }
}
