//! `webhook-setup CONNECTION`: make the Webhook documents on a Frappe site, or print them.

use clap::Args;
use crosswalk_engine::AppError;

use crate::{output, Cli};

#[derive(Args)]
pub struct WebhookSetupArgs {
    /// The Frappe/ERPNext connection (e.g. `cloud`).
    pub connection: String,
    /// The address the site reaches `crosswalk watch` at (default: http://webhook_host:webhook_port).
    #[arg(long)]
    pub url: Option<String>,
    /// Print the documents for someone to enter by hand instead of making them.
    #[arg(long)]
    pub print: bool,
}

pub async fn run(cli: &Cli, a: &WebhookSetupArgs) -> Result<u8, AppError> {
    let app = super::open(cli)?;
    let s = crosswalk_engine::webhook_setup::setup_frappe(&app, &a.connection, a.url.as_deref(), a.print).await?;
    if cli.json {
        output::json(&s);
        return Ok(0);
    }
    let Some(why) = &s.printed_because else {
        for line in &s.applied {
            println!("{line}");
        }
        println!("{} Webhook document(s) on {} now POST to {}; check with `crosswalk watch`", s.applied.len(), s.connection, s.request_url);
        return Ok(0);
    };
    println!("Not made on the site: {why}.");
    println!("In the site's desk, open Webhook → New and enter each of these {} document(s):\n", s.documents.len());
    for d in &s.documents {
        let f = |k: &str| d.get(k).and_then(|v| v.as_str()).unwrap_or_default().to_string();
        println!("  DocType: {}    Doc Event: {}", f("webhook_doctype"), f("webhook_docevent"));
        println!("    Request URL: {}    Request Method: POST    Request Structure: JSON", f("request_url"));
        println!("    Headers: Content-Type = application/json");
        println!("    Enable Security: on    Webhook Secret: {}", s.secret_from);
        println!("    Request Body (JSON): {}\n", f("webhook_json"));
    }
    // Printing is what was asked for with --print; a refusal means nothing was set up.
    Ok(if a.print { 0 } else { 1 })
}
