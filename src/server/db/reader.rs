//! The hottest read, session validation, on SQLite without leaving the request's thread.
//!
//! sqlx runs every SQLite statement on a worker thread of its own and hands results back
//! over a channel: two thread switches per query. For the one indexed look-up every
//! request makes, that hand-off cost more than the query (measured: about a quarter of
//! a core at full load). This reader keeps a few read-only connections and runs the
//! look-up in place; in WAL mode a reader never waits for a writer, so it takes
//! microseconds. Everything else, and every write, still goes through sqlx.

use super::sessions::SessionWithUser;
use anyhow::Context;
use rusqlite::{Connection, OpenFlags, OptionalExtension};
use std::{
    path::{Path, PathBuf},
    sync::Mutex,
    time::Duration,
};

/// Most idle connections kept; more may exist briefly under load.
const KEEP_IDLE: usize = 8;

const FIND_WITH_USER: &str =
    "SELECT s.handle, s.created_at, s.reauthenticated_at, s.expires_at, s.last_seen_at, \
     u.id, u.username, u.role, u.display_name, u.avatar_url, u.created_at, \
     CASE WHEN f.confirmed_at IS NULL THEN 0 ELSE 1 END, \
     CASE WHEN EXISTS (SELECT 1 FROM passkeys p WHERE p.user_id = u.id) THEN 1 ELSE 0 END, \
     CASE WHEN u.email IS NOT NULL AND u.email_verified_at IS NULL THEN 1 ELSE 0 END, \
     s.impersonator_session \
     FROM sessions s JOIN users u ON u.id = s.user_id LEFT JOIN totp_factors f ON f.user_id = u.id \
     WHERE s.id = ?1 AND s.credentials_version = u.credentials_version";

/// A small pool of read-only connections to one SQLite file.
#[derive(Debug)]
pub struct SqliteReader {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl SqliteReader {
    pub fn new(path: &Path) -> SqliteReader {
        SqliteReader {
            path: path.to_path_buf(),
            idle: Mutex::new(Vec::new()),
        }
    }

    fn open(&self) -> anyhow::Result<Connection> {
        let flags =
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI;
        let conn = Connection::open_with_flags(&self.path, flags)
            .with_context(|| format!("open {} for reading", self.path.display()))?;
        conn.busy_timeout(Duration::from_millis(500))
            .context("set busy timeout")?;
        Ok(conn)
    }

    /// The session with this id joined with its user, as [`super::sessions::find_with_user`].
    pub fn find_with_user(&self, id: &str) -> anyhow::Result<Option<SessionWithUser>> {
        let taken = self.idle.lock().ok().and_then(|mut idle| idle.pop());
        let conn = match taken {
            Some(conn) => conn,
            None => self.open()?,
        };
        let found = {
            let mut statement = conn
                .prepare_cached(FIND_WITH_USER)
                .context("prepare session look-up")?;
            statement
                .query_row([id], |row| {
                    Ok(SessionWithUser {
                        handle: row.get(0)?,
                        created_at: row.get(1)?,
                        reauthenticated_at: row.get(2)?,
                        expires_at: row.get(3)?,
                        last_seen_at: row.get(4)?,
                        user_id: row.get(5)?,
                        username: row.get(6)?,
                        role: row.get(7)?,
                        display_name: row.get(8)?,
                        avatar_url: row.get(9)?,
                        user_created_at: row.get(10)?,
                        two_factor: row.get(11)?,
                        has_passkey: row.get(12)?,
                        email_unverified: row.get(13)?,
                        impersonator_session: row.get(14)?,
                    })
                })
                .optional()
                .context("validate session")?
        };
        if let Ok(mut idle) = self.idle.lock() {
            if idle.len() < KEEP_IDLE {
                idle.push(conn);
            }
        }
        Ok(found)
    }
}
