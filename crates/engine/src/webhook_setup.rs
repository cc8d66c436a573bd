//! `crosswalk webhook-setup CONNECTION`: the Webhook documents a Frappe site needs so its
//! changes reach the listener, created through the site's API — or, with `--print` or when
//! the site refuses (the API user may not manage Webhooks), described for a person with that
//! permission to enter by hand.
//!
//! The DocTypes are the objects of the links that use the connection and run on webhooks;
//! the request URL is `--url` (the address the *site* reaches the listener at, e.g. through
//! a reverse proxy) or `http://webhook_host:webhook_port`, followed by
//! `/webhooks/CONNECTION`. The webhook secret comes from the connection's
//! `webhook_secret_env` variable or the keyring (`CONNECTION.webhook`); it is sent to the
//! site and never printed.

use crosswalk_connectors::frappe::setup::{self, Applied, WebhookDoc};
use crosswalk_connectors::frappe::{split_secret, FrappeClient, FrappeConfig};
use crosswalk_core::{ConnectorError, Secret};
use serde::Serialize;

use crate::app::{App, ENGINE_SETTINGS};
use crate::error::{AppError, ErrorCode};
use crate::secrets;
use crate::webhooks::secret_account;

/// DocTypes ERPNext ships as submittable, for `--print` when the site can't be asked.
const SUBMITTABLE: &[&str] = &["Sales Order", "Purchase Order", "Sales Invoice", "Purchase Invoice", "Delivery Note", "Purchase Receipt", "Quotation", "Material Request", "Journal Entry", "Payment Entry", "Stock Entry"];

/// What `webhook-setup` did or asks a person to do.
#[derive(Clone, Debug, Serialize)]
pub struct WebhookSetup {
    pub connection: String,
    pub request_url: String,
    /// The documents, without the secret.
    pub documents: Vec<serde_json::Value>,
    /// `created HOOK-0001` / `updated HOOK-0002`, one per document, when made on the site.
    pub applied: Vec<String>,
    /// Why the documents were printed instead of made (`--print`, or the site's refusal).
    pub printed_because: Option<String>,
    /// Where the webhook secret comes from (a variable name or the keyring account).
    pub secret_from: String,
}

fn bad(message: String) -> AppError {
    AppError::new(ErrorCode::BadInput, message)
}

/// The request URL for `connection`: `base` (no trailing slash) or the listener's address.
fn request_url(app: &App, connection: &str, base: Option<&str>) -> Result<String, AppError> {
    let def = &app.config().connections[connection];
    let base = match base {
        Some(b) => b.trim().trim_end_matches('/').to_string(),
        None => {
            let port = def.settings.get("webhook_port").and_then(|v| v.as_integer()).filter(|p| *p > 0).ok_or_else(|| {
                bad(format!("connection {connection} has no webhook_port; set it in the config, or pass --url with the address the site reaches `crosswalk watch` at"))
            })?;
            let host = def.settings.get("webhook_host").and_then(|v| v.as_str()).unwrap_or("127.0.0.1");
            format!("http://{host}:{port}")
        }
    };
    if !(base.starts_with("http://") || base.starts_with("https://")) {
        return Err(bad(format!("--url {base:?} is not a web address; give one such as https://sync.example.com")));
    }
    Ok(format!("{base}/webhooks/{connection}"))
}

/// The DocTypes whose changes should come in by webhook.
fn doctypes(app: &App, connection: &str) -> Vec<String> {
    let mut out: Vec<String> = vec![];
    for link in app.links_using(connection) {
        let def = &app.config().links[&link];
        if !def.triggers.on_webhook {
            continue;
        }
        for ep in [&def.left, &def.right] {
            if ep.connection == connection && !out.contains(&ep.object) {
                out.push(ep.object.clone());
            }
        }
    }
    out
}

fn client(app: &App, connection: &str) -> Result<FrappeClient, AppError> {
    let def = &app.config().connections[connection];
    let mut settings = def.settings.clone();
    for k in ENGINE_SETTINGS {
        settings.remove(*k);
    }
    let config = FrappeConfig::from_settings(&settings).map_err(|e| AppError::bad_config(format!("connection {connection}: {}: {}", e.key, e.message)))?;
    let env = def.settings.get("secret_env").and_then(|v| v.as_str());
    let (secret, _) = secrets::get(connection, env).ok_or_else(|| AppError::new(ErrorCode::Auth, format!("connection {connection} has no secret: run `crosswalk login {connection}` or set {}", env.map(str::to_string).unwrap_or_else(|| secrets::env_name(connection)))))?;
    let (key, sec) = split_secret(secret.expose(), config.api_key.as_deref()).unwrap_or_default();
    Ok(FrappeClient::new(connection, config, &key, &Secret::new(sec))?)
}

/// Makes (or, with `print_only`, describes) the Webhook documents of a Frappe connection.
pub async fn setup_frappe(app: &App, connection: &str, base_url: Option<&str>, print_only: bool) -> Result<WebhookSetup, AppError> {
    let def = app.config().connections.get(connection).ok_or_else(|| {
        AppError::new(ErrorCode::NotFound, format!("there is no connection {connection:?}; connections: {}", app.config().connections.keys().cloned().collect::<Vec<_>>().join(", ")))
    })?;
    if def.kind != "frappe" {
        return Err(bad(format!("connection {connection} is a {} connection; webhook-setup makes Webhook documents on Frappe/ERPNext sites", def.kind)));
    }
    let url = request_url(app, connection, base_url)?;
    let doctypes = doctypes(app, connection);
    if doctypes.is_empty() {
        return Err(bad(format!("no link that runs on webhooks uses connection {connection}; nothing to set up")));
    }
    let env = def.settings.get("webhook_secret_env").and_then(|v| v.as_str());
    let secret_from = env.map(|e| format!("the environment variable {e}")).unwrap_or_else(|| format!("the keyring entry {} (or {})", secret_account(connection), secrets::env_name(&secret_account(connection))));
    let secret = secrets::get(&secret_account(connection), env).map(|(s, _)| s);
    let client = client(app, connection);
    // Which DocTypes are submittable: asked of the site when it answers, else ERPNext's.
    let mut typed = vec![];
    for dt in &doctypes {
        let sub = match &client {
            Ok(c) => match setup::is_submittable(c, dt).await {
                Ok(s) => s,
                Err(e) if print_only => {
                    tracing::debug!(doctype = %dt, error = %e, "Could not read the DocType; assuming ERPNext's");
                    SUBMITTABLE.contains(&dt.as_str())
                }
                Err(e) => return Err(e.into()),
            },
            Err(_) if print_only => SUBMITTABLE.contains(&dt.as_str()),
            Err(e) => return Err(e.clone()),
        };
        typed.push((dt.clone(), sub));
    }
    let docs: Vec<WebhookDoc> = setup::plan(&typed, &url);
    let mut out = WebhookSetup {
        connection: connection.to_string(),
        request_url: url,
        documents: docs.iter().map(|d| serde_json::Value::Object(d.fields(None))).collect(),
        applied: vec![],
        printed_because: None,
        secret_from,
    };
    if print_only {
        out.printed_because = Some("--print was given".into());
        return Ok(out);
    }
    let secret = secret.ok_or_else(|| bad(format!("there is no webhook secret for {connection}: set {}", out.secret_from)))?;
    let client = client?;
    // Credentials first: after they work, an Auth answer about Webhook is a permission.
    client.logged_user().await.map_err(AppError::from)?;
    match setup::apply(&client, &docs, &secret).await {
        Ok(applied) => {
            out.applied = applied
                .iter()
                .map(|a| match a {
                    Applied::Created(n) => format!("created {n}"),
                    Applied::Updated(n) => format!("updated {n}"),
                })
                .collect();
            Ok(out)
        }
        Err(ConnectorError::Auth(m)) => {
            tracing::warn!(connection, "The site refused to make Webhook documents");
            out.printed_because = Some(format!("the site refused to make Webhook documents ({m}); a user with the System Manager role can enter them by hand"));
            Ok(out)
        }
        Err(e) => Err(e.into()),
    }
}
