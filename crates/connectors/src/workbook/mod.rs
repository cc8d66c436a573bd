//! The workbook connector: an Excel workbook (`.xlsx`/`.xlsm`; `.xls`/`.ods` read-only)
//! as a connection whose objects are its sheets.
//!
//! # Settings (`[connections.NAME]`, `kind = "workbook"`)
//! - `path` (required): the workbook, relative to the config file's folder.
//! - `header_row` (default 1): the row holding the column names.
//! - `on_delete` (default `"move"`): `"move"` copies a deleted row to a `Deleted` sheet and
//!   empties it; `"remove"` only empties it. Rows are emptied in place, never shifted, so
//!   formulas, merged cells and references elsewhere stay valid.
//! - `[connections.NAME.sheets.SHEET]`: `columns` (column order for a new sheet/workbook),
//!   `id_columns` (always written as text), `date_columns`, `options = { status = [..] }`
//!   (drop-downs in a new workbook), `types = { revenue = "decimal" }` (cells that don't fit
//!   are reported).
//!
//! # Invariants
//! - A record's id is our own stable row key, kept in a hidden `crosswalk_key` column after
//!   the user's columns, so sorting, moving and inserting rows never breaks matching. A row
//!   without a key gets one on read (remembered for that row's content) and it is written at
//!   the next [`Connector::flush`]. A flush with nothing to write doesn't touch the file.
//! - Writes are queued and land at `flush`, losslessly (see [`write`]): parts we don't change
//!   stay byte-identical; the file is replaced atomically; the old one goes to the version
//!   history ([`list_versions`], [`restore`]); our own writes are registered so the
//!   [`WorkbookWatcher`] ignores them.
//! - Nothing is written while Excel or LibreOffice has the workbook open.

pub mod config;
pub mod create;
pub mod fastread;
pub mod lock;
pub mod plan;
pub mod read;
pub mod sheetxml;
pub mod styles;
pub mod versions;
pub mod watcher;
pub mod write;
mod connector;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use crosswalk_core::Connector;

use crate::{BuildContext, SettingsError};

pub use config::{OnDelete, SheetConfig, WorkbookConfig, DELETED_SHEET, KEY_HEADER};
pub use connector::WorkbookConnector;
pub use lock::check_writable;
pub use versions::{content_hash, is_own_write, list_versions, note_own_write, restore, VersionInfo};
pub use watcher::WorkbookWatcher;

/// Builds a workbook connection from its settings (validated purely; no file is opened).
pub fn build(name: &str, settings: &toml::Table, ctx: &BuildContext) -> Result<Arc<dyn Connector>, SettingsError> {
    Ok(Arc::new(WorkbookConnector::new(config::parse(name, settings, ctx)?)))
}
