//! `pairs`: matched records and their bases.

use rusqlite::{params, OptionalExtension, Transaction};

use super::{now, Result, Store};
use crate::config::Side;
use crate::planner::PairState;
use crate::value::{stable_hash, Fields};

fn side_of(s: Option<String>) -> Option<Side> {
    match s.as_deref() {
        Some("left") => Some(Side::Left),
        Some("right") => Some(Side::Right),
        _ => None,
    }
}

impl Store {
    /// Every pair of a link.
    pub fn pairs(&self, link: &str) -> Result<Vec<PairState>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached("SELECT left_id, right_id, base, gone FROM pairs WHERE link = ?1 ORDER BY left_id")?;
        let rows = stmt.query_map(params![link], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get::<_, Option<String>>(3)?)))?;
        let mut out = Vec::new();
        for row in rows {
            let (left_id, right_id, base, gone) = row?;
            out.push(PairState { left_id, right_id, base: serde_json::from_str(&base)?, gone: side_of(gone) });
        }
        Ok(out)
    }

    pub fn pair_count(&self, link: &str) -> Result<usize> {
        Ok(self.conn().query_row("SELECT COUNT(*) FROM pairs WHERE link = ?1", params![link], |r| r.get::<_, i64>(0))? as usize)
    }

    /// The pair holding `id` on `side`, if any.
    pub fn pair_by(&self, link: &str, side: Side, id: &str) -> Result<Option<PairState>> {
        let col = if side == Side::Left { "left_id" } else { "right_id" };
        let conn = self.conn();
        let row = conn
            .query_row(&format!("SELECT left_id, right_id, base, gone FROM pairs WHERE link = ?1 AND {col} = ?2"), params![link, id], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?, r.get::<_, Option<String>>(3)?))
            })
            .optional()?;
        match row {
            Some((left_id, right_id, base, gone)) => Ok(Some(PairState { left_id, right_id, base: serde_json::from_str(&base)?, gone: side_of(gone) })),
            None => Ok(None),
        }
    }

    /// Inserts or replaces a pair; any other pair holding either id is removed first.
    pub fn put_pair_tx(tx: &Transaction<'_>, link: &str, left_id: &str, right_id: &str, base: &Fields, gone: Option<Side>) -> Result<()> {
        tx.execute("DELETE FROM pairs WHERE link = ?1 AND (left_id = ?2 OR right_id = ?3)", params![link, left_id, right_id])?;
        tx.execute(
            "INSERT INTO pairs (link, left_id, right_id, base, base_hash, gone, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![link, left_id, right_id, serde_json::to_string(base)?, stable_hash(base), gone.map(|s| s.as_str()), now()],
        )?;
        Ok(())
    }

    pub fn delete_pair_tx(tx: &Transaction<'_>, link: &str, left_id: &str, right_id: &str) -> Result<()> {
        tx.execute("DELETE FROM pairs WHERE link = ?1 AND left_id = ?2 AND right_id = ?3", params![link, left_id, right_id])?;
        Ok(())
    }

    pub fn put_pair(&self, link: &str, left_id: &str, right_id: &str, base: &Fields, gone: Option<Side>) -> Result<()> {
        self.transaction(|tx| Self::put_pair_tx(tx, link, left_id, right_id, base, gone))
    }

    /// Forgets everything about a link (used when a link is removed or reset).
    pub fn reset_link(&self, link: &str) -> Result<()> {
        self.transaction(|tx| {
            for table in ["pairs", "cursors", "journal"] {
                tx.execute(&format!("DELETE FROM {table} WHERE link = ?1"), params![link])?;
            }
            Ok(())
        })
    }
}
