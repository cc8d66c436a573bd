//! One module per subcommand; each maps flags to an app API call and prints the result.

pub mod conflicts;
pub mod demo;
pub mod init;
pub mod log;
pub mod login;
pub mod restore;
pub mod run;
pub mod transfer;
pub mod webhook_setup;

use std::io::IsTerminal;
use std::sync::Arc;

use crosswalk_core::Secret;
use crosswalk_engine::{App, AppError, ErrorCode};

use crate::{output, Cli, Command};

pub async fn dispatch(cli: &Cli) -> Result<u8, AppError> {
    match &cli.command {
        Command::Init(a) => init::run(cli, a),
        Command::Login(a) => login::run(cli, a).await,
        Command::Logout { connection } => {
            crosswalk_engine::logout(connection)?;
            crosswalk_engine::zoho_auth::forget_access_token(connection);
            println!("signed out of {connection}: its secret was removed from the OS keyring");
            Ok(0)
        }
        Command::Health { connection } => health(cli, connection.as_deref()).await,
        Command::Sync(a) => run::run(cli, a, crosswalk_core::runner::RunMode::Sync).await,
        Command::Pull(a) => run::run(cli, a, crosswalk_core::runner::RunMode::Pull).await,
        Command::Push(a) => run::run(cli, a, crosswalk_core::runner::RunMode::Push).await,
        Command::Status => status(cli),
        Command::Conflicts(a) => conflicts::run(cli, a),
        Command::Log(a) => log::run(cli, a),
        Command::Watch => watch(cli).await,
        Command::Retry { connection } => retry(cli, connection.as_deref()),
        Command::Restore(a) => restore::run(cli, a),
        Command::Demo(a) => demo::run(cli, a).await,
        Command::Transfer(a) => transfer::run(cli, a).await,
        Command::WebhookSetup(a) => webhook_setup::run(cli, a).await,
    }
}

pub fn open(cli: &Cli) -> Result<App, AppError> {
    App::open(cli.config.as_deref())
}

/// Reads a secret: hidden prompt on a terminal, else one line from stdin.
pub fn read_secret(prompt: &str) -> Result<Secret, AppError> {
    let value = if std::io::stdin().is_terminal() {
        rpassword::prompt_password(format!("{prompt}: ")).map_err(|e| AppError::new(ErrorCode::BadInput, format!("cannot read the secret: {e}")))?
    } else {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line).map_err(|e| AppError::new(ErrorCode::BadInput, format!("cannot read the secret from stdin: {e}")))?;
        line
    };
    let value = value.trim().to_string();
    if value.is_empty() {
        return Err(AppError::new(ErrorCode::BadInput, format!("no value given for {prompt}")));
    }
    Ok(Secret::new(value))
}

pub(crate) fn login(cli: &Cli, connection: &str) -> Result<u8, AppError> {
    let app = open(cli)?;
    let def = app.config().connections.get(connection).ok_or_else(|| {
        AppError::new(ErrorCode::NotFound, format!("there is no connection {connection:?}; connections: {}", app.config().connections.keys().cloned().collect::<Vec<_>>().join(", ")))
    })?;
    let secret = read_secret(&format!("Secret for {connection} ({})", def.kind))?;
    crosswalk_engine::login(connection, &secret)?;
    println!("saved the secret for {connection} in the OS keyring; check it with `crosswalk health {connection}`");
    Ok(0)
}

async fn health(cli: &Cli, only: Option<&str>) -> Result<u8, AppError> {
    let app = open(cli)?;
    let names: Vec<String> = match only {
        Some(n) => vec![n.to_string()],
        None => app.config().connections.keys().cloned().collect(),
    };
    let mut failed = false;
    let mut results = vec![];
    for name in names {
        match app.health(&name).await {
            Ok(id) => {
                if !cli.json {
                    println!("✓ {name}: {}", id.display);
                }
                results.push(serde_json::json!({"connection": name, "ok": true, "identity": id.display}));
            }
            Err(e) => {
                failed = true;
                if !cli.json {
                    println!("✗ {name}: {}", e.message);
                }
                results.push(serde_json::json!({"connection": name, "ok": false, "error": e}));
            }
        }
    }
    if cli.json {
        output::json(&results);
    }
    Ok(if failed { 1 } else { 0 })
}

fn status(cli: &Cli) -> Result<u8, AppError> {
    let app = open(cli)?;
    let st = app.status()?;
    let outbox = app.outbox()?;
    let dead = app.dead_letters(None)?;
    if cli.json {
        output::json(&serde_json::json!({ "links": st, "deliveries": outbox, "failed_deliveries": dead }));
        return Ok(0);
    }
    for s in st {
        println!("{}: {} ↔ {} ({} linked records)", s.link, s.left, s.right, s.pairs);
        match &s.last_run {
            Some(r) => {
                let sum: crosswalk_core::runner::RunSummary = serde_json::from_value(r.summary.clone()).unwrap_or_default();
                println!(
                    "  last run {} ({}, {}): {}",
                    r.finished_at.as_deref().unwrap_or(&r.started_at),
                    r.mode,
                    r.status,
                    sum.one_line("left", "right")
                );
            }
            None => println!("  never run"),
        }
        if let Some(ok) = &s.last_ok_at {
            println!("  last successful sync: {ok}");
        }
        if let Some(w) = &s.waiting_for {
            println!("  {w}");
        }
        if s.open_conflicts > 0 {
            println!("  {} conflict(s) wait for you: `crosswalk conflicts`", s.open_conflicts);
        }
        if let Some(m) = s.every_minutes {
            println!("  runs every {m} min under `crosswalk watch`");
        }
    }
    for o in &outbox {
        let last = o.last_sent_ms.and_then(|ms| chrono::DateTime::from_timestamp_millis(ms)).map(|t| t.to_rfc3339()).unwrap_or_else(|| "never".into());
        println!("{} {} → {}: {} sent (last {last}), {} waiting, {} failed", o.connection, o.object, o.url, o.sent, o.pending, o.dead);
        if let Some(e) = &o.last_error {
            println!("  last error: {e}");
        }
    }
    for d in dead.iter().take(10) {
        println!("  failed: {} {} {}: {}", d.connection, d.object, d.record_id, d.last_error.as_deref().unwrap_or("?"));
    }
    if !dead.is_empty() {
        println!("  send them again with `crosswalk retry`");
    }
    Ok(0)
}

fn retry(cli: &Cli, connection: Option<&str>) -> Result<u8, AppError> {
    let app = open(cli)?;
    let n = app.retry_dead(connection)?;
    if cli.json {
        output::json(&serde_json::json!({ "requeued": n }));
    } else {
        println!("{n} failed deliver{} queued again; they are sent on the next `crosswalk sync`", if n == 1 { "y" } else { "ies" });
    }
    Ok(0)
}

async fn watch(cli: &Cli) -> Result<u8, AppError> {
    let app = Arc::new(open(cli)?);
    let mut events = app.subscribe();
    let w = crosswalk_engine::watch::start(app.clone(), true).await?;
    println!("watching {} link(s); Ctrl-C to stop", app.link_names().len());
    for a in &w.webhook_addrs {
        println!("listening for webhooks on http://{a}/webhooks/CONNECTION");
    }
    loop {
        tokio::select! {
            ev = events.recv() => match ev {
                Ok(crosswalk_engine::AppEvent::RunFinished { report }) => {
                    if cli.json { output::json(&report); } else {
                        println!("{} [{}] {}: {}", report.link, report.status.as_str(), report.run_id, report.summary.one_line("left", "right"));
                    }
                }
                Ok(crosswalk_engine::AppEvent::RunFailed { link, error }) => eprintln!("{link}: failed: {}", error.message),
                Ok(crosswalk_engine::AppEvent::TriggerSeen { link, trigger }) => if !cli.json { println!("{link}: {trigger} seen, syncing") },
                _ => {}
            },
            _ = tokio::signal::ctrl_c() => {
                w.stop();
                println!("stopped");
                return Ok(0);
            }
        }
    }
}
