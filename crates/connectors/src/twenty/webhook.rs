//! Verifying Twenty's outgoing webhooks (API_FACTS §1.8).
//!
//! Twenty signs `"{timestamp}:{raw JSON body}"` with HMAC-SHA256 keyed by the webhook's
//! secret, hex-encoded, and sends `X-Twenty-Webhook-Timestamp` (milliseconds since the
//! epoch), `X-Twenty-Webhook-Signature` and `X-Twenty-Webhook-Nonce`. A request passes only
//! if the signature matches the raw bytes (constant-time), the timestamp is inside the
//! window, and the nonce was not seen before (checked after the signature, so forged
//! requests cannot fill the cache).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use hmac::{Hmac, Mac};
use serde_json::Value as Json;
use sha2::Sha256;

pub const HEADER_TIMESTAMP: &str = "X-Twenty-Webhook-Timestamp";
pub const HEADER_SIGNATURE: &str = "X-Twenty-Webhook-Signature";
pub const HEADER_NONCE: &str = "X-Twenty-Webhook-Nonce";

/// The default accepted clock difference.
pub const DEFAULT_WINDOW: Duration = Duration::from_secs(5 * 60);

/// The signature headers as received (`None` when absent).
#[derive(Clone, Copy, Debug, Default)]
pub struct TwentyWebhookHeaders<'a> {
    pub timestamp: Option<&'a str>,
    pub signature: Option<&'a str>,
    pub nonce: Option<&'a str>,
}

/// Why a webhook was refused. Answer 401 for all but `BadBody` (400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    #[error("the webhook has no {0} header; is a secret set on the Twenty webhook?")]
    MissingHeader(&'static str),
    #[error("the webhook signature does not match; check that the secret is the one set in Twenty")]
    BadSignature,
    #[error("the webhook timestamp {0:?} is not a time in milliseconds")]
    BadTimestamp(String),
    #[error("the webhook is {0} s away from our clock (outside the accepted window); replayed or the clocks disagree")]
    OutsideWindow(i64),
    #[error("the webhook nonce was seen before (a replay)")]
    Replayed,
    #[error("the webhook body is not a Twenty event: {0}")]
    BadBody(String),
}

/// A verified event: which object, what happened, which records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TwentyEvent {
    /// Singular object name (`company`, `person`).
    pub object: String,
    /// `created`, `updated`, `deleted`, `destroyed`, `restored`, …
    pub action: String,
    pub record_ids: Vec<String>,
    pub event_date: Option<String>,
    pub workspace_id: Option<String>,
}

/// Nonces seen recently, forgotten after they fall out of the window.
#[derive(Debug, Default)]
pub struct NonceCache {
    seen: Mutex<HashMap<String, DateTime<Utc>>>,
}

impl NonceCache {
    pub fn new() -> Self {
        Self::default()
    }

    /// Records `nonce`; false when it was already there (a replay).
    pub fn check_and_insert(&self, nonce: &str, now: DateTime<Utc>, window: Duration) -> bool {
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        let keep = chrono::Duration::from_std(window * 2).unwrap_or(chrono::Duration::minutes(10));
        if seen.len() > 1000 {
            seen.retain(|_, at| now - *at < keep);
        }
        if seen.contains_key(nonce) {
            return false;
        }
        seen.insert(nonce.to_string(), now);
        true
    }
}

/// The hex signature Twenty sends for `timestamp` and `body`.
pub fn sign(secret: &str, timestamp: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(timestamp.as_bytes());
    mac.update(b":");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// Verifies a received webhook and parses its event.
pub fn verify_twenty_webhook(
    secret: &str,
    headers: &TwentyWebhookHeaders<'_>,
    raw_body: &[u8],
    now: DateTime<Utc>,
    window: Duration,
    nonces: &NonceCache,
) -> Result<TwentyEvent, WebhookError> {
    let ts = headers.timestamp.ok_or(WebhookError::MissingHeader(HEADER_TIMESTAMP))?.trim();
    let sig = headers.signature.ok_or(WebhookError::MissingHeader(HEADER_SIGNATURE))?.trim();
    let expected = {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
        mac.update(ts.as_bytes());
        mac.update(b":");
        mac.update(raw_body);
        mac
    };
    let given = hex::decode(sig.to_ascii_lowercase()).map_err(|_| WebhookError::BadSignature)?;
    expected.verify_slice(&given).map_err(|_| WebhookError::BadSignature)?;
    let ms: i64 = ts.parse().map_err(|_| WebhookError::BadTimestamp(ts.to_string()))?;
    let sent = Utc.timestamp_millis_opt(ms).single().ok_or_else(|| WebhookError::BadTimestamp(ts.to_string()))?;
    let skew = (now - sent).num_seconds();
    if skew.unsigned_abs() > window.as_secs() {
        return Err(WebhookError::OutsideWindow(skew));
    }
    if let Some(nonce) = headers.nonce {
        if !nonces.check_and_insert(nonce.trim(), now, window) {
            return Err(WebhookError::Replayed);
        }
    }
    parse_event(raw_body)
}

/// Parses both body shapes: one `record`, or batched `items[].record`.
pub fn parse_event(raw_body: &[u8]) -> Result<TwentyEvent, WebhookError> {
    let j: Json = serde_json::from_slice(raw_body).map_err(|e| WebhookError::BadBody(e.to_string()))?;
    let event_name = j.get("eventName").and_then(Json::as_str).ok_or_else(|| WebhookError::BadBody("no eventName".into()))?;
    let (prefix, action) = event_name.rsplit_once('.').ok_or_else(|| WebhookError::BadBody(format!("event {event_name:?} is not object.action")))?;
    let object = j.pointer("/objectMetadata/nameSingular").and_then(Json::as_str).unwrap_or(prefix).to_string();
    let id_of = |r: &Json| r.get("id").and_then(Json::as_str).map(str::to_string);
    let mut record_ids: Vec<String> = j.get("record").and_then(id_of).into_iter().collect();
    if let Some(items) = j.get("items").and_then(Json::as_array) {
        record_ids.extend(items.iter().filter_map(|i| i.get("record").and_then(id_of)));
    }
    Ok(TwentyEvent {
        object,
        action: action.to_string(),
        record_ids,
        event_date: j.get("eventDate").and_then(Json::as_str).map(str::to_string),
        workspace_id: j.get("workspaceId").and_then(Json::as_str).map(str::to_string),
    })
}
