//! `conflicts`: parked `ask` conflicts and people's answers.
//!
//! Life cycle: `open` (both sides left as they were) → `resolved` (someone chose; the next
//! run applies it) → `done`.

use rusqlite::{params, OptionalExtension, Transaction};
use serde::{Deserialize, Serialize};

use super::{now, Result, Store, StoreError};
use crate::planner::{Conflict, ConflictKind, Resolution};
use crate::value::Value;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConflictStatus {
    Open,
    Resolved,
    Done,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConflictRow {
    pub id: i64,
    pub link: String,
    pub status: ConflictStatus,
    pub conflict: Conflict,
    pub resolution: Option<Value>,
    pub created_at: String,
}

fn status_str(s: ConflictStatus) -> &'static str {
    match s {
        ConflictStatus::Open => "open",
        ConflictStatus::Resolved => "resolved",
        ConflictStatus::Done => "done",
    }
}

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(i64, String, String, String, String, String, String, String, String, String, Option<String>, String)> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?, r.get(8)?, r.get(9)?, r.get(10)?, r.get(11)?))
}

const COLS: &str = "id, link, left_id, right_id, field, kind, base, left_value, right_value, status, resolution, created_at";

fn decode(t: (i64, String, String, String, String, String, String, String, String, String, Option<String>, String)) -> Result<ConflictRow> {
    let (id, link, left_id, right_id, field, kind, base, left, right, status, resolution, created_at) = t;
    Ok(ConflictRow {
        id,
        link,
        status: match status.as_str() {
            "open" => ConflictStatus::Open,
            "resolved" => ConflictStatus::Resolved,
            _ => ConflictStatus::Done,
        },
        conflict: Conflict {
            left_id,
            right_id,
            field,
            kind: serde_json::from_str::<ConflictKind>(&kind)?,
            base: serde_json::from_str(&base)?,
            left: serde_json::from_str(&left)?,
            right: serde_json::from_str(&right)?,
        },
        resolution: resolution.map(|r| serde_json::from_str(&r)).transpose()?,
        created_at,
    })
}

impl Store {
    /// Records the conflicts a plan parked: new ones are added, known open ones get the
    /// latest values, and open ones the plan no longer reports are closed (settled by hand
    /// on the systems themselves).
    pub fn sync_open_conflicts_tx(tx: &Transaction<'_>, link: &str, current: &[Conflict]) -> Result<usize> {
        let mut added = 0;
        for c in current {
            let changed = tx.execute(
                "UPDATE conflicts SET base = ?5, left_value = ?6, right_value = ?7, kind = ?8
                 WHERE link = ?1 AND left_id = ?2 AND right_id = ?3 AND field = ?4 AND status = 'open'",
                params![link, c.left_id, c.right_id, c.field, serde_json::to_string(&c.base)?, serde_json::to_string(&c.left)?, serde_json::to_string(&c.right)?, serde_json::to_string(&c.kind)?],
            )?;
            if changed == 0 {
                let exists: bool = tx.query_row(
                    "SELECT COUNT(*) FROM conflicts WHERE link = ?1 AND left_id = ?2 AND right_id = ?3 AND field = ?4 AND status <> 'done'",
                    params![link, c.left_id, c.right_id, c.field],
                    |r| r.get::<_, i64>(0),
                )? > 0;
                if !exists {
                    tx.execute(
                        &format!("INSERT INTO conflicts ({}) VALUES (NULL, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'open', NULL, ?9)", COLS.replacen("id, ", "id, ", 1)),
                        params![link, c.left_id, c.right_id, c.field, serde_json::to_string(&c.kind)?, serde_json::to_string(&c.base)?, serde_json::to_string(&c.left)?, serde_json::to_string(&c.right)?, now()],
                    )?;
                    added += 1;
                }
            }
        }
        let open = Self::conflicts_tx(tx, Some(link), Some(ConflictStatus::Open))?;
        for o in open {
            let still = current.iter().any(|c| c.left_id == o.conflict.left_id && c.right_id == o.conflict.right_id && c.field == o.conflict.field);
            if !still {
                tx.execute("UPDATE conflicts SET status = 'done', resolved_at = ?2 WHERE id = ?1", params![o.id, now()])?;
            }
        }
        Ok(added)
    }

    fn conflicts_tx(conn: &rusqlite::Connection, link: Option<&str>, status: Option<ConflictStatus>) -> Result<Vec<ConflictRow>> {
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {COLS} FROM conflicts WHERE (?1 IS NULL OR link = ?1) AND (?2 IS NULL OR status = ?2) ORDER BY id"
        ))?;
        let rows = stmt.query_map(params![link, status.map(status_str)], row)?;
        let mut out = Vec::new();
        for r in rows {
            out.push(decode(r?)?);
        }
        Ok(out)
    }

    pub fn conflicts(&self, link: Option<&str>, status: Option<ConflictStatus>) -> Result<Vec<ConflictRow>> {
        Self::conflicts_tx(&self.conn(), link, status)
    }

    pub fn conflict(&self, id: i64) -> Result<Option<ConflictRow>> {
        let conn = self.conn();
        let t = conn.query_row(&format!("SELECT {COLS} FROM conflicts WHERE id = ?1"), params![id], row).optional()?;
        t.map(decode).transpose()
    }

    /// Records a person's answer; the next run of the link applies it.
    pub fn resolve_conflict(&self, id: i64, value: &Value) -> Result<ConflictRow> {
        let c = self.conflict(id)?.ok_or_else(|| StoreError::NotFound(format!("there is no conflict {id}; list them with `crosswalk conflicts`")))?;
        if c.status != ConflictStatus::Open {
            return Err(StoreError::NotFound(format!("conflict {id} is already settled")));
        }
        self.conn().execute(
            "UPDATE conflicts SET status = 'resolved', resolution = ?2, resolved_at = ?3 WHERE id = ?1",
            params![id, serde_json::to_string(value)?, now()],
        )?;
        self.conflict(id).map(|c| c.expect("just updated"))
    }

    /// Answers waiting to be applied by the next run of `link`.
    pub fn pending_resolutions(&self, link: &str) -> Result<Vec<(i64, Resolution)>> {
        Ok(self
            .conflicts(Some(link), Some(ConflictStatus::Resolved))?
            .into_iter()
            .map(|c| {
                let value = c.resolution.clone().unwrap_or_default();
                (c.id, Resolution { left_id: c.conflict.left_id, right_id: c.conflict.right_id, field: c.conflict.field, value })
            })
            .collect())
    }

    /// Puts an answered conflict back to `open` (its values changed after the answer).
    pub fn reopen_conflict(&self, id: i64) -> Result<()> {
        self.conn().execute("UPDATE conflicts SET status = 'open', resolution = NULL, resolved_at = NULL WHERE id = ?1 AND status = 'resolved'", params![id])?;
        Ok(())
    }

    pub fn close_conflicts_tx(tx: &Transaction<'_>, ids: &[i64]) -> Result<()> {
        for id in ids {
            tx.execute("UPDATE conflicts SET status = 'done' WHERE id = ?1", params![id])?;
        }
        Ok(())
    }
}
