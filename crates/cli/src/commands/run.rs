//! `sync`, `pull`, `push`.

use clap::Args;
use crosswalk_core::runner::{RunMode, RunOptions, RunStatus};
use crosswalk_engine::select::{self, SelectedRun, Selection};
use crosswalk_engine::{AppError, ErrorCode};

use crate::progress::Bar;
use crate::{output, Cli};

#[derive(Args)]
pub struct RunArgs {
    /// The link to run (default: all links).
    pub link: Option<String>,
    /// Plan and print what would change; write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Read everything instead of only what changed since the last run (for a webhook
    /// target: send every record again).
    #[arg(long)]
    pub full: bool,
    /// Apply deletions even when more than the link's mass-delete brake allows.
    #[arg(long)]
    pub allow_mass_delete: bool,
    /// Only the links of this object (a DocType such as `Customer`, a sheet, `companies`).
    #[arg(long)]
    pub object: Option<String>,
    /// Only this record, by its id on the source side (needs --direction).
    #[arg(long, requires = "direction")]
    pub record: Option<String>,
    /// One way only, by connection names (`cloud-to-local`, `local-to-cloud`) or sides
    /// (`left-to-right`, `right-to-left`).
    #[arg(long)]
    pub direction: Option<String>,
}

pub async fn run(cli: &Cli, a: &RunArgs, mode: RunMode) -> Result<u8, AppError> {
    let app = super::open(cli)?;
    let links = match &a.link {
        Some(l) => vec![l.clone()],
        None => app.link_names(),
    };
    let selection = Selection { object: a.object.clone(), record: a.record.clone(), direction: a.direction.clone() };
    let runs = select::plan_runs(app.config(), &links, mode, &selection)?;
    let mut code = 0u8;
    let mut reports = vec![];
    for SelectedRun { link, mode, only } in runs {
        let opts = RunOptions { mode, dry_run: a.dry_run, full: a.full, allow_mass_delete: a.allow_mass_delete, trigger: "manual".into() };
        if a.full && mode != RunMode::Push && !a.dry_run && only.is_none() && app.reset_for_resend(&link)? && !cli.json {
            println!("{link}: --full: every record is sent again");
        }
        let bar = Bar::new(cli.json || !std::io::IsTerminal::is_terminal(&std::io::stderr()));
        let result = app.run_link_selected(&link, &opts, only.as_ref(), &bar).await;
        bar.finish();
        let def = &app.config().links[&link];
        match result {
            Ok(r) => {
                if !cli.json {
                    output::report(&r, &def.left.connection, &def.right.connection);
                }
                code = code.max(match r.status {
                    RunStatus::Ok | RunStatus::DryRun => 0,
                    RunStatus::BadInput => 2,
                    _ => 1,
                });
                reports.push(serde_json::to_value(&r).unwrap_or_default());
            }
            Err(e) => {
                if e.code == ErrorCode::BadConfig {
                    return Err(e);
                }
                if !cli.json {
                    eprintln!("{link}: failed: {}", e.message);
                }
                code = code.max(e.exit_code() as u8);
                reports.push(serde_json::json!({"link": link, "error": e}));
            }
        }
    }
    if cli.json {
        output::json(&reports);
    }
    Ok(code)
}
