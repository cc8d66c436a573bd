//! `crosswalk-sim`: run a vendor simulator on its own, for trying Crosswalk by hand, the
//! demo and end-to-end tests.
//!
//! ```text
//! crosswalk-sim twenty --port 3000 --api-key KEY --records 200
//! crosswalk-sim for twenty-excel --env-out sim.env --records 200
//! ```

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use crosswalk_simulators::{TwentySim, TwentySimHandle, TwentySimOptions};

#[derive(Parser)]
#[command(name = "crosswalk-sim", version, about = "Local simulators of the systems Crosswalk syncs, for trying it without an account")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// A Twenty CRM workspace (REST API at http://127.0.0.1:PORT/rest/...).
    Twenty(TwentyArgs),
    /// Every simulator a preset needs, with sample data; writes the preset's .env file.
    For(ForArgs),
}

#[derive(Args, Clone)]
struct TwentyArgs {
    /// Port on 127.0.0.1 (0 = any free port; the address is printed).
    #[arg(long, default_value_t = 3000)]
    port: u16,
    /// The API key the simulator accepts (send it as `Authorization: Bearer KEY`).
    #[arg(long, default_value = "twenty-sim-key")]
    api_key: String,
    /// Sample companies to create; about twice as many people are created with them.
    #[arg(long, default_value_t = 100)]
    records: usize,
    /// Requests allowed per minute per workspace (Twenty's long bucket; real default 100).
    #[arg(long, default_value_t = 100)]
    rate_per_minute: u32,
    /// Requests allowed per second (Twenty's short bucket; real default 100).
    #[arg(long, default_value_t = 100)]
    rate_per_second: u32,
    /// POST a signed webhook for every record change to this URL.
    #[arg(long)]
    webhook_url: Option<String>,
    /// The webhook secret (signs X-Twenty-Webhook-Signature).
    #[arg(long, default_value = "twenty-sim-webhook-secret")]
    webhook_secret: String,
}

#[derive(Args)]
struct ForArgs {
    /// The preset: twenty-excel.
    preset: String,
    /// Where to write the preset's .env (TWENTY_API_URL, TWENTY_API_KEY, ...).
    #[arg(long)]
    env_out: PathBuf,
    /// Sample records (companies) to create.
    #[arg(long, default_value_t = 100)]
    records: usize,
}

async fn start_twenty(a: &TwentyArgs) -> anyhow::Result<TwentySimHandle> {
    let opts = TwentySimOptions {
        port: a.port,
        api_key: a.api_key.clone(),
        long_limit: a.rate_per_minute,
        long_ttl: Duration::from_secs(60),
        short_limit: a.rate_per_second,
        short_ttl: Duration::from_secs(1),
        ..TwentySimOptions::default()
    };
    let sim = TwentySim::try_spawn(opts).await.with_context(|| format!("while starting the Twenty simulator on port {}", a.port))?;
    sim.seed(a.records, a.records * 2);
    if let Some(url) = &a.webhook_url {
        sim.register_webhook(url, &a.webhook_secret);
    }
    Ok(sim)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let _sims: Vec<TwentySimHandle> = match cli.command {
        Command::Twenty(a) => {
            let sim = start_twenty(&a).await?;
            println!("Twenty simulator at {} (API key {:?}); {} companies, {} people", sim.base_url, sim.api_key, sim.count("companies"), sim.count("people"));
            println!("Try: curl -H 'Authorization: Bearer {}' '{}/rest/companies?limit=2'", sim.api_key, sim.base_url);
            vec![sim]
        }
        Command::For(f) => match f.preset.as_str() {
            "twenty-excel" => {
                let a = TwentyArgs { port: 0, api_key: "twenty-sim-key".into(), records: f.records, rate_per_minute: 100, rate_per_second: 100, webhook_url: None, webhook_secret: String::new() };
                let sim = start_twenty(&a).await?;
                let env = format!("TWENTY_API_URL={}\nTWENTY_API_KEY={}\n", sim.base_url, sim.api_key);
                std::fs::write(&f.env_out, env).with_context(|| format!("while writing {}", f.env_out.display()))?;
                println!("Twenty simulator at {}; wrote {}", sim.base_url, f.env_out.display());
                vec![sim]
            }
            other => anyhow::bail!("no simulators for preset {other:?} yet; known: twenty-excel"),
        },
    };
    println!("Serving until Ctrl-C.");
    tokio::signal::ctrl_c().await.context("while waiting for Ctrl-C")?;
    Ok(())
}
