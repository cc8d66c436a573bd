//! The state store: one SQLite file (WAL) holding pairs with their bases, cursors, runs,
//! per-record changes, conflicts, the write journal and the webhook inbox.
//!
//! One module per table with its row type and queries; schema changes are numbered,
//! forward-only migrations tracked in `PRAGMA user_version`.

mod conflicts;
mod cursors;
mod inbox;
mod journal;
mod migrations;
mod pairs;
mod runs;

use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use rusqlite::Connection;

pub use conflicts::{ConflictRow, ConflictStatus};
pub use inbox::{InboxEvent, INBOX_KEEP_DAYS};
pub use journal::Intent;
pub use runs::{ChangeRow, RunRow};

/// Errors from the state store. The message names the database file when it has one.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("state database error: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("state database holds unreadable data: {0}")]
    Json(#[from] serde_json::Error),
    #[error("state database {path} was written by a newer Crosswalk (schema {found}, this build knows {known}); update Crosswalk")]
    TooNew { path: String, found: i64, known: i64 },
    #[error("{0}")]
    NotFound(String),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// The state database. Cheap to share behind an `Arc`; calls are serialised.
pub struct Store {
    conn: Mutex<Connection>,
}

impl Store {
    /// Opens (creating if needed) the database at `path` and migrates it.
    pub fn open(path: &Path) -> Result<Store> {
        if let Some(parent) = path.parent() {
            let _ = std::fs::create_dir_all(parent);
        }
        let conn = Connection::open(path)?;
        Self::init(conn, &path.display().to_string())
    }

    /// A private in-memory database (tests).
    pub fn open_in_memory() -> Result<Store> {
        Self::init(Connection::open_in_memory()?, ":memory:")
    }

    fn init(conn: Connection, name: &str) -> Result<Store> {
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        migrations::migrate(&conn, name)?;
        Ok(Store { conn: Mutex::new(conn) })
    }

    pub(crate) fn conn(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `f` in one transaction: all of it lands, or none.
    pub fn transaction<T>(&self, f: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T>) -> Result<T> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let out = f(&tx)?;
        tx.commit()?;
        Ok(out)
    }
}

pub(crate) fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests;
