//! `journal`: an intent is written before every create, so a crash between the remote
//! create and our bookkeeping can be recognised on restart instead of creating twice.

use rusqlite::{params, Transaction};
use serde::{Deserialize, Serialize};

use super::{now, Result, Store};
use crate::config::Side;
use crate::value::{stable_hash, Fields};

/// A create whose outcome is not yet known.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Intent {
    pub id: i64,
    pub link: String,
    /// The side the record is being created on.
    pub target: Side,
    /// The record on the other side it copies.
    pub source_id: String,
    /// The link-space values it is created with.
    pub values: Fields,
    pub values_hash: String,
}

impl Store {
    /// Records intents for a batch of creates, in one transaction, before the call.
    pub fn add_intents(&self, link: &str, target: Side, items: &[(String, Fields)]) -> Result<Vec<i64>> {
        self.transaction(|tx| {
            let mut ids = Vec::with_capacity(items.len());
            let mut stmt = tx.prepare_cached(
                "INSERT INTO journal (link, target, source_id, values_json, values_hash, status, created_at) VALUES (?1, ?2, ?3, ?4, ?5, 'pending', ?6)",
            )?;
            for (source_id, values) in items {
                stmt.execute(params![link, target.as_str(), source_id, serde_json::to_string(values)?, stable_hash(values), now()])?;
                ids.push(tx.last_insert_rowid());
            }
            Ok(ids)
        })
    }

    /// Closes an intent: `done` (recorded), `failed` (the create surely didn't happen) or
    /// `abandoned` (recovery found no trace of it).
    pub fn close_intent_tx(tx: &Transaction<'_>, id: i64, status: &str) -> Result<()> {
        tx.execute("UPDATE journal SET status = ?2, closed_at = ?3 WHERE id = ?1", params![id, status, now()])?;
        Ok(())
    }

    pub fn close_intent(&self, id: i64, status: &str) -> Result<()> {
        self.transaction(|tx| Self::close_intent_tx(tx, id, status))
    }

    pub fn pending_intents(&self, link: &str) -> Result<Vec<Intent>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT id, link, target, source_id, values_json, values_hash FROM journal WHERE link = ?1 AND status = 'pending' ORDER BY id",
        )?;
        let rows = stmt.query_map(params![link], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get::<_, String>(3)?, r.get::<_, String>(4)?, r.get::<_, String>(5)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (id, link, target, source_id, values, values_hash) = row?;
            out.push(Intent {
                id,
                link,
                target: if target == "left" { Side::Left } else { Side::Right },
                source_id,
                values: serde_json::from_str(&values)?,
                values_hash,
            });
        }
        Ok(out)
    }
}
