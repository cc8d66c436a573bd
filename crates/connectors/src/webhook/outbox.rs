//! The durable outbox: one SQLite file (`outbox.db`, WAL) in the app's data folder, shared
//! by every webhook connection.
//!
//! - `outbox_items`: one row per record version to deliver, with the exact body bytes, its
//!   idempotency key (unique per URL) and its state: `pending` → `sent` (only after a 2xx),
//!   `dead` (permanent failure or too many attempts; [`retry_dead`] puts it back), or
//!   `superseded` (a newer version of the same record was queued before it went out).
//! - `outbox_records`: the last full version queued per record, so an update (which
//!   carries only the changed fields) is sent as the whole record.
//!
//! A record version is enqueued once: queuing it again finds its key and reports the
//! state it has. A crash between a 2xx and marking it sent means the one in-flight item is
//! sent again with the same idempotency key — the receiver deduplicates by it.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use crosswalk_core::value::Fields;
use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};

/// The outbox file under the app's data folder.
pub fn outbox_path(data_dir: &Path) -> PathBuf {
    data_dir.join("outbox.db")
}

/// Errors reading or writing the outbox; the message names the file.
#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    #[error("webhook outbox {path}: {source}")]
    Sql { path: String, source: rusqlite::Error },
    #[error("webhook outbox {path} holds unreadable data: {message}")]
    Data { path: String, message: String },
}

/// Where one record version stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemState {
    Pending,
    Sent,
    Dead,
    Superseded,
}

impl ItemState {
    pub fn as_str(self) -> &'static str {
        match self {
            ItemState::Pending => "pending",
            ItemState::Sent => "sent",
            ItemState::Dead => "dead",
            ItemState::Superseded => "superseded",
        }
    }
    fn parse(s: &str) -> ItemState {
        match s {
            "sent" => ItemState::Sent,
            "dead" => ItemState::Dead,
            "superseded" => ItemState::Superseded,
            _ => ItemState::Pending,
        }
    }
}

/// One queued record version.
#[derive(Clone, Debug, PartialEq)]
pub struct OutboxItem {
    pub id: i64,
    pub connection: String,
    pub url: String,
    pub object: String,
    pub record_id: String,
    pub idem_key: String,
    pub body: Vec<u8>,
    pub state: ItemState,
    pub attempts: u32,
    pub next_attempt_ms: i64,
    pub last_error: Option<String>,
    pub last_status: Option<u16>,
}

/// Per connection, URL and object: how many record versions were sent, wait, or failed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxStatus {
    pub connection: String,
    /// The URL with its secret part hidden (a Zapier URL is its own secret).
    pub url: String,
    pub object: String,
    pub sent: u64,
    pub pending: u64,
    pub dead: u64,
    /// Versions replaced by a newer one before they went out (never sent, by design).
    pub superseded: u64,
    /// Milliseconds since the Unix epoch of the last 2xx.
    pub last_sent_ms: Option<i64>,
    /// The newest error of a pending or dead item.
    pub last_error: Option<String>,
}

/// A dead-lettered record version, for `status` and the UI.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadLetter {
    pub id: i64,
    pub connection: String,
    pub url: String,
    pub object: String,
    pub record_id: String,
    pub attempts: u32,
    pub last_status: Option<u16>,
    pub last_error: Option<String>,
    pub created_ms: i64,
}

const SCHEMA: &[&str] = &[
    // 1
    "CREATE TABLE outbox_items (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        connection TEXT NOT NULL,
        url TEXT NOT NULL,
        object TEXT NOT NULL,
        record_id TEXT NOT NULL,
        idem_key TEXT NOT NULL,
        body BLOB NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('pending','sent','dead','superseded')),
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_ms INTEGER NOT NULL,
        last_error TEXT,
        last_status INTEGER,
        created_ms INTEGER NOT NULL,
        sent_ms INTEGER,
        UNIQUE (url, idem_key)
    );
    CREATE INDEX outbox_items_due ON outbox_items (connection, state, next_attempt_ms);
    CREATE INDEX outbox_items_record ON outbox_items (connection, object, record_id, state);
    CREATE TABLE outbox_records (
        connection TEXT NOT NULL,
        object TEXT NOT NULL,
        record_id TEXT NOT NULL,
        fields TEXT NOT NULL,
        PRIMARY KEY (connection, object, record_id)
    );",
];

pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// The outbox database. Calls are serialised on one connection.
pub struct Outbox {
    conn: Mutex<Connection>,
    path: String,
}

impl std::fmt::Debug for Outbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Outbox({})", self.path)
    }
}

impl Outbox {
    /// Opens (creating and migrating) the outbox in `data_dir`.
    pub fn open(data_dir: &Path) -> Result<Outbox, OutboxError> {
        let path = outbox_path(data_dir);
        let name = path.display().to_string();
        let sql = |source| OutboxError::Sql { path: name.clone(), source };
        let _ = std::fs::create_dir_all(data_dir);
        let conn = Connection::open(&path).map_err(sql)?;
        conn.pragma_update(None, "journal_mode", "WAL").map_err(sql)?;
        conn.pragma_update(None, "synchronous", "NORMAL").map_err(sql)?;
        conn.pragma_update(None, "foreign_keys", "ON").map_err(sql)?;
        conn.busy_timeout(std::time::Duration::from_secs(10)).map_err(sql)?;
        let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).map_err(sql)?;
        if version > SCHEMA.len() as i64 {
            return Err(OutboxError::Data { path: name, message: format!("schema {version} is newer than this build knows ({}); update Crosswalk", SCHEMA.len()) });
        }
        for (i, step) in SCHEMA.iter().enumerate().skip(version as usize) {
            conn.execute_batch(&format!("BEGIN; {step}; PRAGMA user_version = {}; COMMIT;", i + 1)).map_err(sql)?;
        }
        Ok(Outbox { conn: Mutex::new(conn), path: name })
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn sql(&self) -> impl Fn(rusqlite::Error) -> OutboxError + '_ {
        move |source| OutboxError::Sql { path: self.path.clone(), source }
    }

    /// The last full version queued for a record.
    pub fn last_fields(&self, connection: &str, object: &str, record_id: &str) -> Result<Option<Fields>, OutboxError> {
        let text: Option<String> = self
            .lock()
            .query_row("SELECT fields FROM outbox_records WHERE connection = ?1 AND object = ?2 AND record_id = ?3", params![connection, object, record_id], |r| r.get(0))
            .optional()
            .map_err(self.sql())?;
        text.map(|t| serde_json::from_str(&t).map_err(|e| OutboxError::Data { path: self.path.clone(), message: e.to_string() })).transpose()
    }

    /// Queues record versions in one transaction. For each, returns the item id and its
    /// state: a version already queued (same URL and key) is not queued again. A new
    /// version supersedes older pending versions of the same record.
    pub fn enqueue(&self, items: &[NewItem]) -> Result<Vec<(i64, ItemState)>, OutboxError> {
        let mut conn = self.lock();
        let tx = conn.transaction().map_err(self.sql())?;
        let now = now_ms();
        let mut out = Vec::with_capacity(items.len());
        for it in items {
            let existing: Option<(i64, String)> = tx
                .query_row("SELECT id, state FROM outbox_items WHERE url = ?1 AND idem_key = ?2", params![it.url, it.idem_key], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()
                .map_err(self.sql())?;
            if let Some((id, state)) = existing {
                let state = ItemState::parse(&state);
                if state == ItemState::Superseded {
                    // Back to an earlier version: it is the newest again.
                    tx.execute("UPDATE outbox_items SET state = 'superseded' WHERE connection = ?1 AND object = ?2 AND record_id = ?3 AND state = 'pending'", params![it.connection, it.object, it.record_id]).map_err(self.sql())?;
                    tx.execute("UPDATE outbox_items SET state = 'pending', next_attempt_ms = ?2 WHERE id = ?1", params![id, now]).map_err(self.sql())?;
                    out.push((id, ItemState::Pending));
                } else {
                    out.push((id, state));
                }
            } else {
                tx.execute("UPDATE outbox_items SET state = 'superseded' WHERE connection = ?1 AND object = ?2 AND record_id = ?3 AND state = 'pending'", params![it.connection, it.object, it.record_id]).map_err(self.sql())?;
                tx.execute(
                    "INSERT INTO outbox_items (connection, url, object, record_id, idem_key, body, state, attempts, next_attempt_ms, created_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'pending', 0, ?7, ?7)",
                    params![it.connection, it.url, it.object, it.record_id, it.idem_key, it.body, now],
                )
                .map_err(self.sql())?;
                out.push((tx.last_insert_rowid(), ItemState::Pending));
            }
            let fields = serde_json::to_string(&it.fields).unwrap_or_default();
            tx.execute(
                "INSERT INTO outbox_records (connection, object, record_id, fields) VALUES (?1, ?2, ?3, ?4) ON CONFLICT (connection, object, record_id) DO UPDATE SET fields = excluded.fields",
                params![it.connection, it.object, it.record_id, fields],
            )
            .map_err(self.sql())?;
        }
        tx.commit().map_err(self.sql())?;
        Ok(out)
    }

    /// Pending items of `connection` due by `now`, oldest first.
    pub fn due(&self, connection: &str, now: i64, limit: usize) -> Result<Vec<OutboxItem>, OutboxError> {
        let conn = self.lock();
        let mut st = conn
            .prepare("SELECT id, connection, url, object, record_id, idem_key, body, state, attempts, next_attempt_ms, last_error, last_status FROM outbox_items WHERE connection = ?1 AND state = 'pending' AND next_attempt_ms <= ?2 ORDER BY id LIMIT ?3")
            .map_err(self.sql())?;
        let rows = st
            .query_map(params![connection, now, limit as i64], |r| {
                Ok(OutboxItem {
                    id: r.get(0)?,
                    connection: r.get(1)?,
                    url: r.get(2)?,
                    object: r.get(3)?,
                    record_id: r.get(4)?,
                    idem_key: r.get(5)?,
                    body: r.get(6)?,
                    state: ItemState::parse(&r.get::<_, String>(7)?),
                    attempts: r.get::<_, i64>(8)? as u32,
                    next_attempt_ms: r.get(9)?,
                    last_error: r.get(10)?,
                    last_status: r.get::<_, Option<i64>>(11)?.map(|s| s as u16),
                })
            })
            .map_err(self.sql())?;
        rows.collect::<Result<Vec<_>, _>>().map_err(self.sql())
    }

    /// The earliest retry time of `connection`'s pending items.
    pub fn next_due(&self, connection: &str) -> Result<Option<i64>, OutboxError> {
        self.lock().query_row("SELECT MIN(next_attempt_ms) FROM outbox_items WHERE connection = ?1 AND state = 'pending'", params![connection], |r| r.get(0)).map_err(self.sql())
    }

    /// The receiver answered 2xx.
    pub fn mark_sent(&self, id: i64, status: u16) -> Result<(), OutboxError> {
        self.lock()
            .execute("UPDATE outbox_items SET state = 'sent', sent_ms = ?2, attempts = attempts + 1, last_status = ?3, last_error = NULL WHERE id = ?1", params![id, now_ms(), status])
            .map(|_| ())
            .map_err(self.sql())
    }

    /// A failed attempt: try again at `next_attempt_ms`, or dead-letter it.
    pub fn mark_failed(&self, id: i64, status: Option<u16>, error: &str, next_attempt_ms: Option<i64>) -> Result<(), OutboxError> {
        let (state, next) = match next_attempt_ms {
            Some(t) => ("pending", t),
            None => ("dead", now_ms()),
        };
        self.lock()
            .execute(
                "UPDATE outbox_items SET state = ?2, attempts = attempts + 1, next_attempt_ms = ?3, last_status = ?4, last_error = ?5 WHERE id = ?1 AND state = 'pending'",
                params![id, state, next, status, error],
            )
            .map(|_| ())
            .map_err(self.sql())
    }

    /// The state and last error of items by id.
    pub fn states(&self, ids: &[i64]) -> Result<Vec<(ItemState, Option<String>, u32)>, OutboxError> {
        let conn = self.lock();
        let mut st = conn.prepare("SELECT state, last_error, attempts FROM outbox_items WHERE id = ?1").map_err(self.sql())?;
        ids.iter()
            .map(|id| st.query_row(params![id], |r| Ok((ItemState::parse(&r.get::<_, String>(0)?), r.get(1)?, r.get::<_, i64>(2)? as u32))).map_err(self.sql()))
            .collect()
    }

    pub fn status(&self) -> Result<Vec<OutboxStatus>, OutboxError> {
        let conn = self.lock();
        let mut st = conn
            .prepare(
                "SELECT connection, url, object,
                    SUM(state = 'sent'), SUM(state = 'pending'), SUM(state = 'dead'), SUM(state = 'superseded'),
                    MAX(sent_ms),
                    (SELECT last_error FROM outbox_items j WHERE j.connection = i.connection AND j.url = i.url AND j.object = i.object AND j.state IN ('pending','dead') AND j.last_error IS NOT NULL ORDER BY j.id DESC LIMIT 1)
                 FROM outbox_items i GROUP BY connection, url, object ORDER BY connection, object, url",
            )
            .map_err(self.sql())?;
        let rows = st
            .query_map([], |r| {
                Ok(OutboxStatus {
                    connection: r.get(0)?,
                    url: super::redact_url(&r.get::<_, String>(1)?),
                    object: r.get(2)?,
                    sent: r.get::<_, i64>(3)? as u64,
                    pending: r.get::<_, i64>(4)? as u64,
                    dead: r.get::<_, i64>(5)? as u64,
                    superseded: r.get::<_, i64>(6)? as u64,
                    last_sent_ms: r.get(7)?,
                    last_error: r.get(8)?,
                })
            })
            .map_err(self.sql())?;
        rows.collect::<Result<Vec<_>, _>>().map_err(self.sql())
    }

    pub fn dead_letters(&self, connection: Option<&str>) -> Result<Vec<DeadLetter>, OutboxError> {
        let conn = self.lock();
        let mut st = conn
            .prepare("SELECT id, connection, url, object, record_id, attempts, last_status, last_error, created_ms FROM outbox_items WHERE state = 'dead' AND (?1 IS NULL OR connection = ?1) ORDER BY id")
            .map_err(self.sql())?;
        let rows = st
            .query_map(params![connection], |r| {
                Ok(DeadLetter {
                    id: r.get(0)?,
                    connection: r.get(1)?,
                    url: super::redact_url(&r.get::<_, String>(2)?),
                    object: r.get(3)?,
                    record_id: r.get(4)?,
                    attempts: r.get::<_, i64>(5)? as u32,
                    last_status: r.get::<_, Option<i64>>(6)?.map(|s| s as u16),
                    last_error: r.get(7)?,
                    created_ms: r.get(8)?,
                })
            })
            .map_err(self.sql())?;
        rows.collect::<Result<Vec<_>, _>>().map_err(self.sql())
    }

    /// Puts dead items back in the queue (attempts reset), filtered by connection, object
    /// and item ids. A dead version a newer one replaced since is superseded instead.
    pub fn retry_dead(&self, filter: &RetryFilter) -> Result<usize, OutboxError> {
        let mut conn = self.lock();
        let tx = conn.transaction().map_err(self.sql())?;
        let now = now_ms();
        let ids: Vec<(i64, String, String, String)> = {
            let mut st = tx
                .prepare("SELECT id, connection, object, record_id FROM outbox_items WHERE state = 'dead' AND (?1 IS NULL OR connection = ?1) AND (?2 IS NULL OR object = ?2) ORDER BY id")
                .map_err(self.sql())?;
            let rows = st.query_map(params![filter.connection, filter.object], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))).map_err(self.sql())?;
            rows.collect::<Result<Vec<_>, _>>().map_err(self.sql())?
        };
        let mut n = 0;
        for (id, c, o, rid) in ids {
            if let Some(only) = &filter.ids {
                if !only.contains(&id) {
                    continue;
                }
            }
            let newer: bool = tx
                .query_row("SELECT EXISTS (SELECT 1 FROM outbox_items WHERE connection = ?1 AND object = ?2 AND record_id = ?3 AND id > ?4 AND state IN ('pending','sent'))", params![c, o, rid, id], |r| r.get(0))
                .map_err(self.sql())?;
            let state = if newer { "superseded" } else { "pending" };
            tx.execute("UPDATE outbox_items SET state = ?2, attempts = 0, next_attempt_ms = ?3 WHERE id = ?1", params![id, state, now]).map_err(self.sql())?;
            if !newer {
                n += 1;
            }
        }
        tx.commit().map_err(self.sql())?;
        Ok(n)
    }

    /// Forgets that record versions were sent, so the same versions go out again on the
    /// next sync (a full re-send). Returns how many were forgotten.
    pub fn forget_sent(&self, connection: &str, object: Option<&str>) -> Result<usize, OutboxError> {
        self.lock().execute("DELETE FROM outbox_items WHERE connection = ?1 AND (?2 IS NULL OR object = ?2) AND state IN ('sent','superseded')", params![connection, object]).map_err(self.sql())
    }
}

/// A record version to queue.
#[derive(Clone, Debug)]
pub struct NewItem {
    pub connection: String,
    pub url: String,
    pub object: String,
    pub record_id: String,
    pub idem_key: String,
    pub body: Vec<u8>,
    /// The full record (kept to complete later updates).
    pub fields: Fields,
}

/// Which dead letters [`retry_dead`] puts back (`None` = any).
#[derive(Clone, Debug, Default)]
pub struct RetryFilter {
    pub connection: Option<String>,
    pub object: Option<String>,
    /// Item ids from [`dead_letters`].
    pub ids: Option<Vec<i64>>,
}

/// Per connection, URL and object: sent / pending / dead counts, for `crosswalk status`
/// and the Activity screen. An absent outbox is empty.
pub fn outbox_status(data_dir: &Path) -> Result<Vec<OutboxStatus>, OutboxError> {
    if !outbox_path(data_dir).exists() {
        return Ok(vec![]);
    }
    Outbox::open(data_dir)?.status()
}

/// The dead-letter list (optionally of one connection).
pub fn dead_letters(data_dir: &Path, connection: Option<&str>) -> Result<Vec<DeadLetter>, OutboxError> {
    if !outbox_path(data_dir).exists() {
        return Ok(vec![]);
    }
    Outbox::open(data_dir)?.dead_letters(connection)
}

/// Puts dead letters back in the queue; they go out on the connection's next sync (or
/// [`super::WebhookConnector::deliver_pending`]). Returns how many were re-queued.
pub fn retry_dead(data_dir: &Path, filter: &RetryFilter) -> Result<usize, OutboxError> {
    if !outbox_path(data_dir).exists() {
        return Ok(0);
    }
    Outbox::open(data_dir)?.retry_dead(filter)
}

/// Forgets sent versions of `connection` (optionally one object) so a full re-send sends
/// them again.
pub fn forget_sent(data_dir: &Path, connection: &str, object: Option<&str>) -> Result<usize, OutboxError> {
    Outbox::open(data_dir)?.forget_sent(connection, object)
}
