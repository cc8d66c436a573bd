//! Numbered, forward-only schema migrations.

use rusqlite::Connection;

use super::{Result, StoreError};

const MIGRATIONS: &[&str] = &[
    // 1: the first schema.
    r#"
    CREATE TABLE pairs (
        link TEXT NOT NULL,
        left_id TEXT NOT NULL,
        right_id TEXT NOT NULL,
        base TEXT NOT NULL,
        base_hash TEXT NOT NULL,
        gone TEXT,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (link, left_id)
    );
    CREATE UNIQUE INDEX pairs_right ON pairs(link, right_id);
    CREATE TABLE cursors (
        link TEXT NOT NULL,
        side TEXT NOT NULL,
        value TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (link, side)
    );
    CREATE TABLE runs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        link TEXT NOT NULL,
        mode TEXT NOT NULL,
        trigger TEXT NOT NULL,
        started_at TEXT NOT NULL,
        finished_at TEXT,
        status TEXT NOT NULL,
        summary TEXT NOT NULL DEFAULT '{}',
        message TEXT
    );
    CREATE INDEX runs_link ON runs(link, id);
    CREATE TABLE changes (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        side TEXT NOT NULL,
        record_id TEXT NOT NULL,
        action TEXT NOT NULL,
        field TEXT,
        before TEXT,
        after TEXT,
        note TEXT
    );
    CREATE INDEX changes_run ON changes(run_id);
    CREATE TABLE conflicts (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        link TEXT NOT NULL,
        left_id TEXT NOT NULL,
        right_id TEXT NOT NULL,
        field TEXT NOT NULL,
        kind TEXT NOT NULL,
        base TEXT NOT NULL,
        left_value TEXT NOT NULL,
        right_value TEXT NOT NULL,
        status TEXT NOT NULL,
        resolution TEXT,
        created_at TEXT NOT NULL,
        resolved_at TEXT
    );
    CREATE UNIQUE INDEX conflicts_open ON conflicts(link, left_id, right_id, field) WHERE status <> 'done';
    CREATE TABLE journal (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        link TEXT NOT NULL,
        target TEXT NOT NULL,
        source_id TEXT NOT NULL,
        values_json TEXT NOT NULL,
        values_hash TEXT NOT NULL,
        status TEXT NOT NULL,
        created_at TEXT NOT NULL,
        closed_at TEXT
    );
    CREATE INDEX journal_pending ON journal(link, status);
    CREATE TABLE inbox (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        connection TEXT NOT NULL,
        nonce TEXT,
        received_at TEXT NOT NULL,
        event TEXT NOT NULL,
        processed_at TEXT
    );
    CREATE UNIQUE INDEX inbox_nonce ON inbox(connection, nonce) WHERE nonce IS NOT NULL;
    "#,
];

pub fn migrate(conn: &Connection, name: &str) -> Result<()> {
    let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    let known = MIGRATIONS.len() as i64;
    if version > known {
        return Err(StoreError::TooNew { path: name.to_string(), found: version, known });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        conn.execute_batch(&format!("BEGIN; {sql}; PRAGMA user_version = {}; COMMIT;", i + 1))?;
    }
    Ok(())
}
