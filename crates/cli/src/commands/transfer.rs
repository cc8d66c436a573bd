//! `transfer`: the zoho-zoho job (org A → org B + WorkDrive); a line per record, then a
//! summary with counts and API credits. Exit 0 only when every record succeeded.

use clap::Args;
use crosswalk_engine::zoho_transfer::{RecordOutcome, TransferOptions};
use crosswalk_engine::AppError;

use crate::{output, Cli};

#[derive(Args)]
pub struct TransferArgs {
    /// The origin connection (default: the only one with a `transfer` table).
    pub connection: Option<String>,
    /// Read everything and log what would happen; write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Only this origin record (by id), whatever its checkbox says.
    #[arg(long)]
    pub record_id: Option<String>,
    /// At most this many records.
    #[arg(long)]
    pub limit: Option<usize>,
}

fn line(r: &RecordOutcome) -> String {
    format!("{} {} {:?}: {}", r.status.as_str(), r.record_id, r.name, r.message)
}

pub async fn run(cli: &Cli, a: &TransferArgs) -> Result<u8, AppError> {
    let app = super::open(cli)?;
    let opts = TransferOptions { dry_run: a.dry_run, record_id: a.record_id.clone(), limit: a.limit };
    let json = cli.json;
    let report = app.transfer(a.connection.as_deref(), &opts, &move |r| {
        if !json {
            println!("{}", line(r));
        }
    })
    .await?;
    if cli.json {
        output::json(&report);
    } else {
        let head = if report.dry_run { "dry run (nothing written)" } else if report.ok() { "done" } else { "done with failures" };
        println!("{} → {}: {head} (run {})", report.from, report.to, report.run_id);
        println!("  {}", report.one_line());
        if report.rate_limited > 0 || report.token_refreshes > 2 {
            println!("  waited out {} rate limit(s); {} access token(s) fetched", report.rate_limited, report.token_refreshes);
        }
    }
    Ok(if report.ok() { 0 } else { 1 })
}
