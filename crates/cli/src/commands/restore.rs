//! `restore`: bring back an earlier version of a workbook.

use std::path::PathBuf;

use clap::Args;
use crosswalk_engine::{AppError, ErrorCode, Paths};

use crate::{output, Cli};

#[derive(Args)]
pub struct RestoreArgs {
    /// The workbook to restore.
    pub workbook: PathBuf,
    /// Which version (1 = the newest saved before our last write; see --list).
    #[arg(long)]
    pub version: Option<usize>,
    /// List the versions kept instead of restoring.
    #[arg(long)]
    pub list: bool,
}

pub fn run(cli: &Cli, a: &RestoreArgs) -> Result<u8, AppError> {
    let data_dir = Paths::from_env().data_dir;
    let path = std::fs::canonicalize(&a.workbook).unwrap_or_else(|_| a.workbook.clone());
    if a.list {
        let versions = crosswalk_connectors::workbook::list_versions(&data_dir, &path)
            .map_err(|e| AppError::new(ErrorCode::Internal, format!("cannot read the versions of {}: {e}", path.display())))?;
        let rows: Vec<serde_json::Value> = versions
            .iter()
            .map(|v| {
                let at: chrono::DateTime<chrono::Utc> = v.saved_at.into();
                serde_json::json!({"version": v.number, "saved_at": at.to_rfc3339(), "bytes": v.size})
            })
            .collect();
        if cli.json {
            output::json(&rows);
        } else if rows.is_empty() {
            println!("no versions of {} are kept yet (one is kept before every write Crosswalk makes)", path.display());
        } else {
            for r in rows {
                println!("version {}: saved {}, {} bytes", r["version"], r["saved_at"].as_str().unwrap_or(""), r["bytes"]);
            }
        }
        return Ok(0);
    }
    let restored = crosswalk_connectors::workbook::restore(&data_dir, &path, a.version)
        .map_err(AppError::from)?;
    println!("restored {} from version {}; the version it replaced was kept too", path.display(), restored.number);
    Ok(0)
}
