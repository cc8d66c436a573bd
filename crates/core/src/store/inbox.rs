//! `inbox`: verified webhook deliveries waiting to trigger runs. The nonce is unique per
//! connection, so a replayed or duplicated delivery is stored once.

use rusqlite::params;
use serde::{Deserialize, Serialize};

use super::{now, Result, Store};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InboxEvent {
    pub id: i64,
    pub connection: String,
    pub received_at: String,
    pub event: serde_json::Value,
}

/// How long deliveries are kept. A delivery only triggers a run (the run itself reads the
/// systems), so old rows serve just as replay memory; Twenty's signed timestamps are refused
/// after minutes anyway, and a Frappe body replayed after this long only starts a reconciling
/// run. Without pruning, a server receiving webhooks for years grows the database forever.
pub const INBOX_KEEP_DAYS: i64 = 30;

impl Store {
    /// Stores a delivery; returns `false` when the nonce was seen before (a replay).
    /// Deliveries older than [`INBOX_KEEP_DAYS`] are dropped on the way.
    pub fn add_inbox(&self, connection: &str, nonce: Option<&str>, event: &serde_json::Value) -> Result<bool> {
        let cutoff = (chrono::Utc::now() - chrono::Duration::days(INBOX_KEEP_DAYS)).to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        self.conn().execute("DELETE FROM inbox WHERE received_at < ?1", params![cutoff])?;
        let n = self.conn().execute(
            "INSERT OR IGNORE INTO inbox (connection, nonce, received_at, event) VALUES (?1, ?2, ?3, ?4)",
            params![connection, nonce, now(), event.to_string()],
        )?;
        Ok(n == 1)
    }

    /// Unprocessed deliveries of a connection, oldest first.
    pub fn inbox(&self, connection: &str) -> Result<Vec<InboxEvent>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached("SELECT id, connection, received_at, event FROM inbox WHERE connection = ?1 AND processed_at IS NULL ORDER BY id")?;
        let rows = stmt.query_map(params![connection], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get::<_, String>(3)?)))?;
        let mut out = Vec::new();
        for row in rows {
            let (id, connection, received_at, event) = row?;
            out.push(InboxEvent { id, connection, received_at, event: serde_json::from_str(&event)? });
        }
        Ok(out)
    }

    pub fn mark_inbox_processed(&self, ids: &[i64]) -> Result<()> {
        self.transaction(|tx| {
            for id in ids {
                tx.execute("UPDATE inbox SET processed_at = ?2 WHERE id = ?1", params![id, now()])?;
            }
            Ok(())
        })
    }
}
