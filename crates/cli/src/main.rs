//! `crosswalk`: the headless command. Every subcommand is a thin adapter over the engine's
//! app API: parse flags, call, print (readable by default, `--json` for scripts).
//!
//! Exit codes: 0 when everything asked succeeded, 2 for bad input or config, 1 otherwise.

mod commands;
mod output;
mod progress;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use crosswalk_engine::AppError;

#[derive(Parser)]
#[command(name = "crosswalk", version, about = "Keep a CRM/ERP, workbooks and webhooks in step", long_about = None)]
pub struct Cli {
    /// Config file (default: the OS config folder's crosswalk.toml, or $CROSSWALK_HOME/config).
    #[arg(long, global = true, env = "CROSSWALK_CONFIG")]
    pub config: Option<PathBuf>,
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    pub json: bool,
    /// Debug logs on stderr (-v); -vv for connectors' request logs.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Write a working config for a preset (twenty-excel).
    Init(commands::init::InitArgs),
    /// Store a connection's secret (API key, password) in the OS keyring; Zoho: sign in
    /// in the browser (or --device, --grant-code CODE).
    Login(commands::login::LoginArgs),
    /// Remove a connection's secret from the OS keyring.
    Logout { connection: String },
    /// Check each connection (or one) works and say who it is signed in as.
    Health { connection: Option<String> },
    /// Sync links both ways (all links, or one).
    Sync(commands::run::RunArgs),
    /// Left → right only (e.g. CRM → workbook; creates a styled workbook when missing).
    Pull(commands::run::RunArgs),
    /// Right → left only (e.g. workbook → CRM; new rows get their ids written back).
    Push(commands::run::RunArgs),
    /// Every link's last run, counts, open conflicts and what it waits for.
    Status,
    /// List conflicts waiting for a person, or settle one.
    Conflicts(commands::conflicts::ConflictArgs),
    /// The activity log: recent runs, or what one run changed.
    Log(commands::log::LogArgs),
    /// Queue failed webhook deliveries again (they go out on the next sync).
    Retry { connection: Option<String> },
    /// Run schedules, workbook auto-sync on save and webhooks in the foreground.
    Watch,
    /// Bring back an earlier version of a workbook from the version history.
    Restore(commands::restore::RestoreArgs),
    /// Try Crosswalk against a local Twenty simulator with sample data.
    Demo(commands::demo::DemoArgs),
    /// Zoho CRM org A → org B (zoho-zoho): copy fields and attachments, tick the checkbox.
    Transfer(commands::transfer::TransferArgs),
    /// Make the Webhook documents on a Frappe/ERPNext site (or print them with --print).
    WebhookSetup(commands::webhook_setup::WebhookSetupArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = match cli.verbose {
        0 => "warn",
        1 => "info,crosswalk_core=debug,crosswalk_engine=debug",
        _ => "debug",
    };
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(filter)))
        .with_writer(std::io::stderr)
        .init();
    crosswalk_engine::secrets::init_default_store();
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start: {e}");
            return ExitCode::from(1);
        }
    };
    match rt.block_on(commands::dispatch(&cli)) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            report_error(&cli, &e);
            ExitCode::from(e.exit_code() as u8)
        }
    }
}

fn report_error(cli: &Cli, e: &AppError) {
    if cli.json {
        println!("{}", serde_json::json!({ "error": e }));
    } else {
        eprintln!("error: {}", e.message);
    }
}
