//! `log`: recent runs, or everything one run changed.

use clap::Args;
use crosswalk_engine::AppError;

use crate::{output, Cli};

#[derive(Args)]
pub struct LogArgs {
    /// Show the changes of this run.
    #[arg(long)]
    pub run: Option<i64>,
    /// Only this link.
    #[arg(long)]
    pub link: Option<String>,
    /// How many runs.
    #[arg(long, default_value_t = 20)]
    pub limit: usize,
}

pub fn run(cli: &Cli, a: &LogArgs) -> Result<u8, AppError> {
    let app = super::open(cli)?;
    if let Some(id) = a.run {
        let changes = app.changes(id)?;
        if cli.json {
            output::json(&changes);
            return Ok(0);
        }
        if changes.is_empty() {
            println!("run {id} changed nothing");
        }
        for c in changes {
            let field = c.field.map(|f| format!(" {f}")).unwrap_or_default();
            let delta = match (&c.before, &c.after) {
                (Some(b), Some(a)) => format!(": {b:?} → {a:?}"),
                (None, Some(a)) => format!(": {a}"),
                _ => String::new(),
            };
            let note = c.note.map(|n| format!(" ({n})")).unwrap_or_default();
            println!("{} {} {}{field}{delta}{note}", c.side, c.action, c.record_id);
        }
        return Ok(0);
    }
    let runs = app.runs(a.link.as_deref(), a.limit)?;
    if cli.json {
        output::json(&runs);
        return Ok(0);
    }
    for r in runs {
        let sum: crosswalk_core::runner::RunSummary = serde_json::from_value(r.summary.clone()).unwrap_or_default();
        println!(
            "#{} {} {} {} [{}] {}{}",
            r.id,
            r.started_at,
            r.link,
            r.mode,
            r.status,
            sum.one_line("left", "right"),
            r.message.map(|m| format!(" — {m}")).unwrap_or_default()
        );
    }
    Ok(0)
}
