//! `demo`: a local Twenty simulator with sample data, a config and a workbook to try.

use std::path::PathBuf;

use clap::Args;
use crosswalk_core::runner::{RunMode, RunOptions};
use crosswalk_engine::presets::{self, Values};
use crosswalk_engine::{App, AppError, ErrorCode};
use crosswalk_simulators::twenty::{TwentySim, TwentySimOptions};

use crate::progress::Bar;
use crate::{output, Cli};

#[derive(Args)]
pub struct DemoArgs {
    /// The preset to try.
    #[arg(default_value = "twenty-excel")]
    pub preset: String,
    /// Folder for the config and workbook (default: a new temporary folder, kept).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Sample companies (people: twice as many).
    #[arg(long, default_value_t = 200)]
    pub records: usize,
    /// Simulator port (default: any free port).
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Set up, pull once and exit (don't keep the simulator running).
    #[arg(long)]
    pub no_wait: bool,
}

const DEMO_KEY: &str = "demo-api-key";

pub async fn run(cli: &Cli, a: &DemoArgs) -> Result<u8, AppError> {
    if a.preset != "twenty-excel" {
        return Err(AppError::new(ErrorCode::BadInput, format!("the demo covers twenty-excel so far, not {:?}", a.preset)));
    }
    let dir = match &a.dir {
        Some(d) => d.clone(),
        None => tempfile::Builder::new().prefix("crosswalk-demo-").tempdir().map_err(|e| AppError::new(ErrorCode::Internal, e.to_string()))?.keep(),
    };
    std::fs::create_dir_all(&dir).map_err(|e| AppError::new(ErrorCode::Internal, format!("cannot create {}: {e}", dir.display())))?;
    let opts = TwentySimOptions { port: a.port, api_key: DEMO_KEY.into(), ..TwentySimOptions::default() };
    let sim = TwentySim::try_spawn(opts).await.map_err(|e| AppError::new(ErrorCode::Unavailable, format!("cannot start the Twenty simulator: {e}")))?;
    sim.seed(a.records, a.records * 2);
    let config = dir.join("crosswalk.toml");
    let workbook = dir.join("crm.xlsx");
    let mut values = Values::default();
    values.flags.insert("TWENTY_API_URL".into(), sim.base_url.clone());
    values.flags.insert("EXCEL_FILE_PATH".into(), workbook.display().to_string());
    let plan = presets::init("twenty-excel", &config, &values)?;
    std::fs::write(&config, &plan.config_text).map_err(|e| AppError::new(ErrorCode::Internal, format!("cannot write {}: {e}", config.display())))?;
    // The demo key is the simulator's, not a secret; it goes through the environment so a
    // real key stored in the keyring under "crm" is never touched.
    std::env::set_var("TWENTY_API_KEY", DEMO_KEY);
    let app = App::open(Some(&config))?;
    for link in app.link_names() {
        let bar = Bar::new(cli.json);
        let r = app.run_link(&link, &RunOptions { mode: RunMode::Pull, ..Default::default() }, &bar).await;
        bar.finish();
        let r = r?;
        if cli.json {
            output::json(&r);
        } else {
            output::report(&r, "crm", "workbook");
        }
    }
    let cfg = config.display();
    println!();
    println!("Twenty simulator: {} ({} companies, {} people)", sim.base_url, a.records, a.records * 2);
    println!("config:   {cfg}");
    println!("workbook: {}", workbook.display());
    println!();
    println!("Try, in another terminal:");
    println!("  export TWENTY_API_KEY={DEMO_KEY}");
    println!("  open the workbook, edit a company's name or add a row, save, then:");
    println!("  crosswalk --config {cfg} sync");
    println!("  crosswalk --config {cfg} status");
    println!("  crosswalk --config {cfg} watch      # syncs whenever the workbook is saved");
    if a.no_wait {
        return Ok(0);
    }
    println!();
    println!("The simulator runs until you press Ctrl-C.");
    let _ = tokio::signal::ctrl_c().await;
    sim.shutdown().await;
    Ok(0)
}
