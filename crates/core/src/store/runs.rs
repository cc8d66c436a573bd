//! `runs` and `changes`: the audit log of every run and every record it changed.

use rusqlite::{params, OptionalExtension, Transaction};
use serde::{Deserialize, Serialize};

use super::{now, Result, Store};

/// One run of one link.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunRow {
    pub id: i64,
    pub link: String,
    pub mode: String,
    pub trigger: String,
    pub started_at: String,
    pub finished_at: Option<String>,
    /// `running`, `ok`, `partial`, `failed`, `waiting`, `dry_run`, `interrupted`.
    pub status: String,
    /// Counts and notes as JSON (see the runner's `RunSummary`).
    pub summary: serde_json::Value,
    pub message: Option<String>,
}

/// One changed record (and field) in a run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChangeRow {
    pub run_id: i64,
    pub side: String,
    pub record_id: String,
    /// `create`, `update`, `delete`, `overwrite` (a conflict loser), `failed`, `skipped`.
    pub action: String,
    pub field: Option<String>,
    pub before: Option<String>,
    pub after: Option<String>,
    pub note: Option<String>,
}

fn run_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<RunRow> {
    let summary: String = r.get(7)?;
    Ok(RunRow {
        id: r.get(0)?,
        link: r.get(1)?,
        mode: r.get(2)?,
        trigger: r.get(3)?,
        started_at: r.get(4)?,
        finished_at: r.get(5)?,
        status: r.get(6)?,
        summary: serde_json::from_str(&summary).unwrap_or(serde_json::Value::Null),
        message: r.get(8)?,
    })
}

const RUN_COLS: &str = "id, link, mode, trigger, started_at, finished_at, status, summary, message";

impl Store {
    /// Starts a run. Runs left `running` by a crash are marked `interrupted` first.
    pub fn start_run(&self, link: &str, mode: &str, trigger: &str) -> Result<i64> {
        let conn = self.conn();
        conn.execute("UPDATE runs SET status = 'interrupted', finished_at = ?2 WHERE link = ?1 AND status = 'running'", params![link, now()])?;
        conn.execute(
            "INSERT INTO runs (link, mode, trigger, started_at, status) VALUES (?1, ?2, ?3, ?4, 'running')",
            params![link, mode, trigger, now()],
        )?;
        Ok(conn.last_insert_rowid())
    }

    pub fn finish_run_tx(tx: &Transaction<'_>, run_id: i64, status: &str, summary: &serde_json::Value, message: Option<&str>) -> Result<()> {
        tx.execute(
            "UPDATE runs SET status = ?2, summary = ?3, message = ?4, finished_at = ?5 WHERE id = ?1",
            params![run_id, status, summary.to_string(), message, now()],
        )?;
        Ok(())
    }

    pub fn finish_run(&self, run_id: i64, status: &str, summary: &serde_json::Value, message: Option<&str>) -> Result<()> {
        self.transaction(|tx| Self::finish_run_tx(tx, run_id, status, summary, message))
    }

    pub fn add_changes_tx(tx: &Transaction<'_>, changes: &[ChangeRow]) -> Result<()> {
        let mut stmt = tx.prepare_cached(
            "INSERT INTO changes (run_id, side, record_id, action, field, before, after, note) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )?;
        for c in changes {
            stmt.execute(params![c.run_id, c.side, c.record_id, c.action, c.field, c.before, c.after, c.note])?;
        }
        Ok(())
    }

    /// The latest runs, newest first (all links when `link` is `None`).
    pub fn runs(&self, link: Option<&str>, limit: usize) -> Result<Vec<RunRow>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {RUN_COLS} FROM runs WHERE (?1 IS NULL OR link = ?1) ORDER BY id DESC LIMIT ?2"
        ))?;
        let rows = stmt.query_map(params![link, limit as i64], run_from_row)?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }

    pub fn run(&self, id: i64) -> Result<Option<RunRow>> {
        Ok(self.conn().query_row(&format!("SELECT {RUN_COLS} FROM runs WHERE id = ?1"), params![id], run_from_row).optional()?)
    }

    /// The last finished run of a link with one of `statuses`.
    pub fn last_run_with(&self, link: &str, statuses: &[&str]) -> Result<Option<RunRow>> {
        Ok(self.runs(Some(link), 200)?.into_iter().find(|r| statuses.contains(&r.status.as_str())))
    }

    pub fn changes(&self, run_id: i64) -> Result<Vec<ChangeRow>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT run_id, side, record_id, action, field, before, after, note FROM changes WHERE run_id = ?1 ORDER BY id",
        )?;
        let rows = stmt.query_map(params![run_id], |r| {
            Ok(ChangeRow {
                run_id: r.get(0)?,
                side: r.get(1)?,
                record_id: r.get(2)?,
                action: r.get(3)?,
                field: r.get(4)?,
                before: r.get(5)?,
                after: r.get(6)?,
                note: r.get(7)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
    }
}
