//! `crosswalk-sim`: run a vendor simulator on its own, for trying Crosswalk by hand, the
//! demo and end-to-end tests.
//!
//! ```text
//! crosswalk-sim twenty --port 3000 --api-key KEY --records 200
//! crosswalk-sim for twenty-excel --env-out sim.env --records 200
//! crosswalk-sim wefact --port 3100 --api-key KEY --records 300
//! crosswalk-sim webhook --port 3200
//! crosswalk-sim for wefact-webhook --env-out sim.env --records 300
//! crosswalk-sim payamgostar --port 3300
//! crosswalk-sim siagh --port 3400 --records 100
//! crosswalk-sim for siagh-payamgostar --env-out sim.env --records 1000
//! crosswalk-sim zoho --port 3500 --records 20
//! crosswalk-sim for zoho-zoho --env-out sim.env --records 20
//! ```

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use crosswalk_simulators::{TwentySim, TwentySimHandle, TwentySimOptions};
use crosswalk_simulators::{WeFactSim, WeFactSimOptions, WebhookReceiver, WebhookReceiverOptions};

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
    /// A WeFact account (API v2: POST http://127.0.0.1:PORT/v2/ with api_key, controller, action).
    Wefact(WeFactArgs),
    /// A webhook receiver (like a Zapier catch hook) that records what it gets.
    Webhook(WebhookArgs),
    /// A Frappe v15 / ERPNext site (REST at http://127.0.0.1:PORT/api/resource/...).
    Frappe(FrappeArgs),
    /// A Payamgostar CRM (POST http://127.0.0.1:PORT/api/v2/auth/login, then Bearer).
    Payamgostar(IranArgs),
    /// A Siagh finance server (POST http://127.0.0.1:PORT/GeneralApi/LoginUser, then SessionId).
    Siagh(IranArgs),
    /// Zoho accounts + CRM + WorkDrive for orgs A and B (http://127.0.0.1:PORT/oauth/v2/token, /crm/v8/..., /workdrive/api/v1/...).
    Zoho(ZohoArgs),
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

#[derive(Args, Clone)]
struct WeFactArgs {
    /// Port on 127.0.0.1 (0 = any free port; the address is printed).
    #[arg(long, default_value_t = 3100)]
    port: u16,
    /// The API key the simulator accepts (send it as the `api_key` form field).
    #[arg(long, default_value = "wefact-sim-key")]
    api_key: String,
    /// Sample debtors to create; about twice as many invoices are created with them.
    #[arg(long, default_value_t = 100)]
    records: usize,
}

#[derive(Args, Clone)]
struct WebhookArgs {
    /// Port on 127.0.0.1 (0 = any free port; the address is printed).
    #[arg(long, default_value_t = 3200)]
    port: u16,
}

async fn start_wefact(a: &WeFactArgs) -> anyhow::Result<crosswalk_simulators::WeFactSimHandle> {
    let sim = WeFactSim::try_spawn(WeFactSimOptions { port: a.port, api_key: a.api_key.clone(), ..WeFactSimOptions::default() })
        .await
        .with_context(|| format!("while starting the WeFact simulator on port {}", a.port))?;
    sim.seed(a.records, a.records * 2);
    Ok(sim)
}

#[derive(Args, Clone)]
struct FrappeArgs {
    /// Port on 127.0.0.1 (0 = any free port; the address is printed).
    #[arg(long, default_value_t = 8000)]
    port: u16,
    /// The API key the site accepts (`Authorization: token KEY:SECRET`).
    #[arg(long, default_value = "frappe-sim-key")]
    api_key: String,
    /// The API secret the site accepts.
    #[arg(long, default_value = "frappe-sim-secret")]
    api_secret: String,
    /// Sample customers; half as many items and a fifth as many sales orders come with them.
    #[arg(long, default_value_t = 100)]
    records: usize,
    /// First number of the naming series (CUST-0001 vs CUST-1001 on a second site).
    #[arg(long, default_value_t = 1)]
    series_start: u64,
    /// POST signed webhooks for every document change to this URL.
    #[arg(long)]
    webhook_url: Option<String>,
    /// The webhook secret (signs X-Frappe-Webhook-Signature).
    #[arg(long, default_value = "frappe-sim-webhook-secret")]
    webhook_secret: String,
}

async fn start_frappe(a: &FrappeArgs) -> anyhow::Result<crosswalk_simulators::FrappeSimHandle> {
    let opts = crosswalk_simulators::FrappeSimOptions { port: a.port, api_key: a.api_key.clone(), api_secret: a.api_secret.clone(), series_start: a.series_start, ..Default::default() };
    let sim = crosswalk_simulators::FrappeSim::try_spawn(opts).await.with_context(|| format!("while starting the Frappe simulator on port {}", a.port))?;
    sim.seed(a.records, a.records / 2, a.records / 5);
    if let Some(url) = &a.webhook_url {
        sim.register_webhook(url, &a.webhook_secret, &[]);
    }
    Ok(sim)
}

async fn start_webhook(a: &WebhookArgs) -> anyhow::Result<crosswalk_simulators::WebhookReceiverHandle> {
    WebhookReceiver::try_spawn(WebhookReceiverOptions { port: a.port, ..WebhookReceiverOptions::default() }).await.with_context(|| format!("while starting the webhook receiver on port {}", a.port))
}

#[derive(Args, Clone)]
struct IranArgs {
    /// Port on 127.0.0.1 (0 = any free port; the address is printed).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// The username the simulator accepts.
    #[arg(long)]
    username: Option<String>,
    /// The password the simulator accepts.
    #[arg(long)]
    password: Option<String>,
    /// Sample customers (Siagh contacts or Payamgostar persons) to create.
    #[arg(long, default_value_t = 100)]
    records: usize,
}

async fn start_payamgostar(a: &IranArgs) -> anyhow::Result<crosswalk_simulators::PayamgostarSimHandle> {
    let d = crosswalk_simulators::PayamgostarSimOptions::default();
    let opts = crosswalk_simulators::PayamgostarSimOptions { port: a.port, username: a.username.clone().unwrap_or(d.username.clone()), password: a.password.clone().unwrap_or(d.password.clone()), ..d };
    crosswalk_simulators::PayamgostarSim::try_spawn(opts).await.with_context(|| format!("while starting the Payamgostar simulator on port {}", a.port))
}

async fn start_siagh(a: &IranArgs) -> anyhow::Result<crosswalk_simulators::SiaghSimHandle> {
    let d = crosswalk_simulators::SiaghSimOptions::default();
    let opts = crosswalk_simulators::SiaghSimOptions { port: a.port, username: a.username.clone().unwrap_or(d.username.clone()), password: a.password.clone().unwrap_or(d.password.clone()), ..d };
    crosswalk_simulators::SiaghSim::try_spawn(opts).await.with_context(|| format!("while starting the Siagh simulator on port {}", a.port))
}

#[derive(Args, Clone)]
struct ZohoArgs {
    /// Port on 127.0.0.1 (0 = any free port; the address is printed).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Sample deals in org A (and of the same names in org B, with WorkDrive folders).
    #[arg(long, default_value_t = 20)]
    records: usize,
    /// Seconds an access token lives (Zoho: 3600).
    #[arg(long, default_value_t = 3600)]
    token_ttl: u64,
}

async fn start_zoho(a: &ZohoArgs) -> anyhow::Result<crosswalk_simulators::ZohoSimHandle> {
    let opts = crosswalk_simulators::ZohoSimOptions { port: a.port, token_ttl: Duration::from_secs(a.token_ttl.max(1)), ..Default::default() };
    let sim = crosswalk_simulators::ZohoSim::try_spawn(opts).await.with_context(|| format!("while starting the Zoho simulator on port {}", a.port))?;
    sim.seed_transfer("Deals", a.records);
    Ok(sim)
}

/// The zoho-zoho preset's .env for a running Zoho simulator.
fn zoho_env(sim: &crosswalk_simulators::ZohoSimHandle) -> String {
    let (a, b) = (sim.client("a"), sim.client("b"));
    format!(
        "ZOHO_REGION=us\nZOHO_ACCOUNTS_URL={}\nORG_A_CLIENT_ID={}\nORG_A_CLIENT_SECRET={}\nORG_A_REFRESH_TOKEN={}\nORG_B_CLIENT_ID={}\nORG_B_CLIENT_SECRET={}\nORG_B_REFRESH_TOKEN={}\nORG_B_TEAM_FOLDER_ID={}\nCRM_MODULE_API_NAME=Deals\nCRM_CHECKBOX_FIELD_API_NAME=Transfer_Complete\nCRM_RECORD_NAME_FIELD_API_NAME=Deal_Name\nCRM_WORKDRIVE_URL_FIELD_API_NAME=WorkDrive_URL\nCRM_WORKDRIVE_FOLDER_ID_FIELD_API_NAME=WorkDrive_Folder_ID\nCRM_RECORD_UPDATED_FROM_FIELD_API_NAME=Record_Updated_From\n",
        sim.base_url, a.client_id, a.client_secret, a.refresh_token, b.client_id, b.client_secret, b.refresh_token, sim.team_folder("b")
    )
}

#[derive(Args)]
struct ForArgs {
    /// The preset: twenty-excel, wefact-webhook, erpnext-erpnext, siagh-payamgostar, zoho-zoho.
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
    // Handles of simulators other than Twenty's: kept alive until Ctrl-C.
    let mut _others: Vec<Box<dyn std::any::Any>> = vec![];
    let _sims: Vec<TwentySimHandle> = match cli.command {
        Command::Twenty(a) => {
            let sim = start_twenty(&a).await?;
            println!("Twenty simulator at {} (API key {:?}); {} companies, {} people", sim.base_url, sim.api_key, sim.count("companies"), sim.count("people"));
            println!("Try: curl -H 'Authorization: Bearer {}' '{}/rest/companies?limit=2'", sim.api_key, sim.base_url);
            vec![sim]
        }
        Command::Wefact(a) => {
            let sim = start_wefact(&a).await?;
            println!("WeFact simulator at {} (API key {:?}); {} debtors, {} invoices", sim.url, sim.api_key, sim.count("debtor"), sim.count("invoice"));
            println!("Try: curl -d api_key={} -d controller=debtor -d action=list -d limit=2 {}", sim.api_key, sim.url);
            _others.push(Box::new(sim));
            vec![]
        }
        Command::Webhook(a) => {
            let r = start_webhook(&a).await?;
            println!("Webhook receiver at {}; POST to any path, e.g. {}", r.base_url, r.url("debtors"));
            _others.push(Box::new(r));
            vec![]
        }
        Command::Frappe(a) => {
            let sim = start_frappe(&a).await?;
            println!("Frappe simulator at {} (token {}:{}); {} customers, {} items, {} sales orders", sim.base_url, sim.api_key, sim.api_secret, sim.count("Customer"), sim.count("Item"), sim.count("Sales Order"));
            println!("Try: curl -H 'Authorization: token {}' '{}/api/resource/Customer?limit_page_length=2'", sim.secret(), sim.base_url);
            _others.push(Box::new(sim));
            vec![]
        }
        Command::Payamgostar(a) => {
            let sim = start_payamgostar(&a).await?;
            for i in 0..a.records {
                sim.insert("person", serde_json::json!({"FirstName": "نمونه", "LastName": format!("شماره {i}"), "CustomerNumber": format!("P{i:05}")}));
            }
            println!("Payamgostar simulator at {} (user {:?}, password {:?}); {} persons", sim.base_url, sim.username, sim.password, sim.count("person"));
            _others.push(Box::new(sim));
            vec![]
        }
        Command::Siagh(a) => {
            let sim = start_siagh(&a).await?;
            sim.seed_customers(a.records);
            println!("Siagh simulator at {} (user {:?}, password {:?}, sent as its upper-case MD5); {} contacts", sim.base_url, sim.username, sim.password, sim.contacts().len());
            _others.push(Box::new(sim));
            vec![]
        }
        Command::Zoho(a) => {
            let sim = start_zoho(&a).await?;
            let c = sim.client("a");
            println!("Zoho simulator at {} (accounts, CRM and WorkDrive); orgs a and b with {} deals each", sim.base_url, a.records);
            println!("Org a: client id {}, refresh token {:?} (org b likewise); org b's team folder {}", c.client_id, c.refresh_token, sim.team_folder("b"));
            _others.push(Box::new(sim));
            vec![]
        }
        Command::For(f) => match f.preset.as_str() {
            "zoho-zoho" => {
                let sim = start_zoho(&ZohoArgs { port: 0, records: f.records, token_ttl: 3600 }).await?;
                std::fs::write(&f.env_out, zoho_env(&sim)).with_context(|| format!("while writing {}", f.env_out.display()))?;
                println!("Zoho simulator at {} (orgs A and B, {} deals; every tenth has no WorkDrive folder in B); wrote {}", sim.base_url, f.records, f.env_out.display());
                _others.push(Box::new(sim));
                vec![]
            }
            "siagh-payamgostar" => {
                let a = IranArgs { port: 0, username: None, password: None, records: f.records };
                let finance = start_siagh(&a).await?;
                let crm = start_payamgostar(&a).await?;
                // Finance customers; a fifth of them are already in the CRM under the same
                // customer number (the finance contact code).
                let codes = finance.seed_customers(f.records);
                for (i, code) in codes.iter().enumerate().filter(|(i, _)| i % 5 == 0) {
                    crm.insert("person", serde_json::json!({"FirstName": "موجود", "LastName": format!("در CRM {i}"), "CustomerNumber": code}));
                }
                let env = format!(
                    "CRM_API_BASE_URL={}\nCRM_USERNAME={}\nCRM_PASSWORD={}\nFINANCE_API_BASE_URL={}\nFINANCE_USERNAME={}\nFINANCE_PASSWORD={}\nSYNC_INTERVAL=300\n",
                    crm.base_url, crm.username, crm.password, finance.base_url, finance.username, finance.password
                );
                std::fs::write(&f.env_out, env).with_context(|| format!("while writing {}", f.env_out.display()))?;
                println!("Siagh simulator at {} ({} customers), Payamgostar simulator at {} ({} of them already there); wrote {}", finance.base_url, codes.len(), crm.base_url, crm.count("person"), f.env_out.display());
                _others.push(Box::new(finance));
                _others.push(Box::new(crm));
                vec![]
            }
            "erpnext-erpnext" => {
                let base = FrappeArgs { port: 0, api_key: String::new(), api_secret: String::new(), records: f.records, series_start: 1, webhook_url: None, webhook_secret: String::new() };
                let cloud = start_frappe(&FrappeArgs { api_key: "cloud-key".into(), api_secret: "cloud-secret".into(), ..base.clone() }).await?;
                let local = start_frappe(&FrappeArgs { api_key: "local-key".into(), api_secret: "local-secret".into(), records: 0, series_start: 1001, ..base }).await?;
                let secret = "erpnext-sim-webhook-secret";
                let env = format!(
                    "CLOUD_ERP_URL={}\nCLOUD_API_KEY={}\nCLOUD_API_SECRET={}\nLOCAL_ERP_URL={}\nLOCAL_API_KEY={}\nLOCAL_API_SECRET={}\nWEBHOOK_HOST=127.0.0.1\nWEBHOOK_PORT=8765\nWEBHOOK_SECRET={secret}\nCONFLICT_RESOLUTION=manual\n",
                    cloud.base_url, cloud.api_key, cloud.api_secret, local.base_url, local.api_key, local.api_secret
                );
                // The erpnext-erpnext preset's connections are `cloud` and `local`; `crosswalk
                // watch` listens on WEBHOOK_PORT at /webhooks/{connection}.
                cloud.register_webhook("http://127.0.0.1:8765/webhooks/cloud", secret, &[]);
                local.register_webhook("http://127.0.0.1:8765/webhooks/local", secret, &[]);
                std::fs::write(&f.env_out, env).with_context(|| format!("while writing {}", f.env_out.display()))?;
                println!("Frappe cloud site at {}, local site at {}; wrote {}", cloud.base_url, local.base_url, f.env_out.display());
                _others.push(Box::new(cloud));
                _others.push(Box::new(local));
                vec![]
            }
            "wefact-webhook" => {
                let sim = start_wefact(&WeFactArgs { port: 0, api_key: "wefact-sim-key".into(), records: f.records }).await?;
                let r = start_webhook(&WebhookArgs { port: 0 }).await?;
                let env = format!(
                    "WEFACT_API_URL={}\nWEFACT_API_KEY={}\nDEBTORS_WEBHOOK_URL={}\nINVOICES_WEBHOOK_URL={}\nSYNC_INTERVAL=300\n",
                    sim.url,
                    sim.api_key,
                    r.url("debtors"),
                    r.url("invoices")
                );
                std::fs::write(&f.env_out, env).with_context(|| format!("while writing {}", f.env_out.display()))?;
                println!("WeFact simulator at {}, webhook receiver at {}; wrote {}", sim.url, r.base_url, f.env_out.display());
                _others.push(Box::new(sim));
                _others.push(Box::new(r));
                vec![]
            }
            "twenty-excel" => {
                let a = TwentyArgs { port: 0, api_key: "twenty-sim-key".into(), records: f.records, rate_per_minute: 100, rate_per_second: 100, webhook_url: None, webhook_secret: String::new() };
                let sim = start_twenty(&a).await?;
                let env = format!("TWENTY_API_URL={}\nTWENTY_API_KEY={}\n", sim.base_url, sim.api_key);
                std::fs::write(&f.env_out, env).with_context(|| format!("while writing {}", f.env_out.display()))?;
                println!("Twenty simulator at {}; wrote {}", sim.base_url, f.env_out.display());
                vec![sim]
            }
            other => anyhow::bail!("no simulators for preset {other:?} yet; known: twenty-excel, wefact-webhook, erpnext-erpnext, siagh-payamgostar, zoho-zoho"),
        },
    };
    println!("Serving until Ctrl-C.");
    tokio::signal::ctrl_c().await.context("while waiting for Ctrl-C")?;
    Ok(())
}
