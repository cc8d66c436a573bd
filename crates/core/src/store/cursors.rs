//! `cursors`: where each side's incremental listing continues.

use rusqlite::{params, OptionalExtension, Transaction};

use super::{now, Result, Store};
use crate::config::Side;

impl Store {
    pub fn cursor(&self, link: &str, side: Side) -> Result<Option<String>> {
        Ok(self
            .conn()
            .query_row("SELECT value FROM cursors WHERE link = ?1 AND side = ?2", params![link, side.as_str()], |r| r.get(0))
            .optional()?)
    }

    pub fn set_cursor_tx(tx: &Transaction<'_>, link: &str, side: Side, value: &str) -> Result<()> {
        tx.execute(
            "INSERT INTO cursors (link, side, value, updated_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT(link, side) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
            params![link, side.as_str(), value, now()],
        )?;
        Ok(())
    }
}
