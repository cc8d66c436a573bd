//! The webhook listener: verifies deliveries, stores them in the inbox (the nonce makes a
//! replayed delivery land once), and triggers the links that use the connection. A forged,
//! unsigned, stale or replayed webhook gets 401, an oversized one 413, a signed but
//! malformed one 400, and none of them is stored or starts anything. `GET /health` answers
//! for monitoring. [`crate::webhook_setup`] makes the Webhook documents on a Frappe site
//! (`crosswalk webhook-setup`).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;
use crosswalk_connectors::frappe::webhook::MAX_BODY;
use crosswalk_connectors::twenty::webhook::{verify_twenty_webhook, NonceCache, TwentyWebhookHeaders, WebhookError, DEFAULT_WINDOW};

use crate::app::App;
use crate::error::{AppError, ErrorCode};
use crate::secrets;

#[derive(Clone)]
struct Shared {
    app: Arc<App>,
    nonces: Arc<NonceCache>,
}

/// The keyring account of a connection's webhook signing secret.
pub fn secret_account(connection: &str) -> String {
    format!("{connection}.webhook")
}

/// Ports to listen on, from connections' `webhook_port` settings: port → host.
pub fn listen_addrs(app: &App) -> BTreeMap<u16, String> {
    let mut out = BTreeMap::new();
    for def in app.config().connections.values() {
        if let Some(port) = def.settings.get("webhook_port").and_then(|v| v.as_integer()) {
            let host = def.settings.get("webhook_host").and_then(|v| v.as_str()).unwrap_or("127.0.0.1").to_string();
            out.insert(port as u16, host);
        }
    }
    out
}

/// Twenty names objects in the singular in events (`company`, `person`) and in the plural
/// in paths (`companies`, `people`).
fn plural(singular: &str) -> String {
    match singular {
        "person" => "people".into(),
        s if s.ends_with('y') && !s.ends_with("ey") => format!("{}ies", &s[..s.len() - 1]),
        s if s.ends_with('s') => s.to_string(),
        s => format!("{s}s"),
    }
}

/// The links an event concerns: those whose object on this connection is the event's
/// object; all links of the connection when none matches (an unknown object still
/// deserves a reconciling run).
fn links_for_event(app: &App, connection: &str, object: Option<&str>) -> Vec<String> {
    let using: Vec<String> = app.links_using(connection).into_iter().filter(|l| app.config().links[l].triggers.on_webhook).collect();
    let Some(obj) = object else { return using };
    let names = [obj.to_string(), plural(obj)];
    let matching: Vec<String> = using
        .iter()
        .filter(|l| {
            let d = &app.config().links[*l];
            [&d.left, &d.right].iter().any(|e| e.connection == connection && names.iter().any(|n| n.eq_ignore_ascii_case(&e.object)))
        })
        .cloned()
        .collect();
    if matching.is_empty() {
        using
    } else {
        matching
    }
}

/// Serves `POST /webhooks/{connection}` on `addr` until `shutdown` resolves. Returns the
/// bound address (useful with port 0).
pub async fn serve(app: Arc<App>, addr: SocketAddr, shutdown: impl std::future::Future<Output = ()> + Send + 'static) -> Result<SocketAddr, AppError> {
    let router = router(app);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| AppError::new(ErrorCode::Unavailable, format!("cannot listen for webhooks on {addr}: {e}")))?;
    let bound = listener.local_addr().map_err(|e| AppError::new(ErrorCode::Internal, e.to_string()))?;
    tracing::info!(%bound, "Listening for webhooks");
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).with_graceful_shutdown(shutdown).await;
    });
    Ok(bound)
}

/// The listener's routes: `POST /webhooks/{connection}` (and `/webhook/{connection}`),
/// bodies up to [`MAX_BODY`] (larger → 413), and `GET /health` for monitoring. Public so
/// tests can drive the handler without a socket.
pub fn router(app: Arc<App>) -> Router {
    let shared = Shared { app, nonces: Arc::new(NonceCache::new()) };
    Router::new()
        .route("/webhooks/:connection", post(receive))
        .route("/webhook/:connection", post(receive))
        .route("/health", get(health))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(shared)
}

/// `GET /health`: 200 while the listener serves, with what it serves.
async fn health(State(s): State<Shared>) -> axum::Json<serde_json::Value> {
    let connections: Vec<&String> = s.app.config().connections.iter().filter(|(_, d)| matches!(d.kind.as_str(), "frappe" | "twenty")).map(|(n, _)| n).collect();
    axum::Json(serde_json::json!({"status": "ok", "connections": connections, "links": s.app.link_names().len()}))
}

async fn receive(State(s): State<Shared>, Path(connection): Path<String>, headers: HeaderMap, body: Bytes) -> (StatusCode, String) {
    let Some(def) = s.app.config().connections.get(&connection) else {
        return (StatusCode::NOT_FOUND, format!("no connection {connection:?}"));
    };
    let env = def.settings.get("webhook_secret_env").and_then(|v| v.as_str());
    let Some((secret, _)) = secrets::get(&secret_account(&connection), env) else {
        tracing::warn!(connection, "Webhook refused: no signing secret configured");
        return (StatusCode::UNAUTHORIZED, "no webhook secret is configured for this connection".into());
    };
    let h = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let (nonce, event) = match def.kind.as_str() {
        "twenty" => {
            let hdr = TwentyWebhookHeaders {
                timestamp: h("x-twenty-webhook-timestamp"),
                signature: h("x-twenty-webhook-signature"),
                nonce: h("x-twenty-webhook-nonce"),
            };
            match verify_twenty_webhook(secret.expose(), &hdr, &body, chrono::Utc::now(), DEFAULT_WINDOW, &s.nonces) {
                Ok(ev) => (
                    hdr.nonce.map(str::to_string),
                    serde_json::json!({"object": ev.object, "action": ev.action, "records": ev.record_ids, "at": ev.event_date}),
                ),
                Err(e) => {
                    tracing::warn!(connection, error = %e, "Webhook refused");
                    let code = if matches!(e, WebhookError::BadBody(_)) { StatusCode::BAD_REQUEST } else { StatusCode::UNAUTHORIZED };
                    return (code, e.to_string());
                }
            }
        }
        "frappe" => match crosswalk_connectors::frappe::verify_frappe_webhook(secret.expose(), h("x-frappe-webhook-signature"), &body) {
            // Frappe sends no nonce: the body's hash stands in (it carries `modified`, so a
            // new change is a new body and an exact replay lands once).
            Ok(ev) => {
                use sha2::Digest;
                (
                    Some(format!("frappe:{}", hex::encode(sha2::Sha256::digest(&body)))),
                    serde_json::json!({"object": ev.doctype, "action": ev.event, "records": [ev.name], "at": ev.modified}),
                )
            }
            Err(e) => {
                tracing::warn!(connection, error = %e, "Webhook refused");
                return (StatusCode::from_u16(e.status()).unwrap_or(StatusCode::UNAUTHORIZED), e.to_string());
            }
        },
        other => return (StatusCode::NOT_FOUND, format!("connections of kind {other} don't receive webhooks")),
    };
    match s.app.store().add_inbox(&connection, nonce.as_deref(), &event) {
        Ok(true) => {}
        Ok(false) => return (StatusCode::UNAUTHORIZED, "the webhook nonce was seen before (a replay)".into()),
        Err(e) => return (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
    for link in links_for_event(&s.app, &connection, event.get("object").and_then(|o| o.as_str())) {
        let app = s.app.clone();
        tokio::spawn(async move {
            app.emit(crate::AppEvent::TriggerSeen { link: link.clone(), trigger: "webhook".into() });
            app.trigger(&link, "webhook").await;
        });
    }
    (StatusCode::ACCEPTED, "accepted".into())
}
