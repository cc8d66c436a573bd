//! Verifying Frappe's outgoing webhooks (API_FACTS §2.7, §9).
//!
//! With "Enable Security" on, Frappe sends `X-Frappe-Webhook-Signature` =
//! base64(HMAC-SHA256(key = webhook secret, msg = the body bytes)). The body is Python's
//! `json.dumps` output, so the signature is checked over the **raw bytes** received, never
//! over re-serialised JSON. Frappe sets no Content-Type unless the webhook's headers add
//! one, so the body is read whatever the Content-Type says.
//!
//! The Webhook documents Crosswalk expects (one per DocType and event — `on_update`, which
//! fires on insert too, `on_trash`, and for submittable DocTypes `on_submit`, `on_cancel`,
//! `on_update_after_submit`; made by `crosswalk webhook-setup`, see [`super::setup`]) use
//! this JSON template:
//!
//! ```text
//! {"event": "on_update", "doctype": "{{ doc.doctype }}", "name": "{{ doc.name }}",
//!  "modified": "{{ doc.modified }}", "doc": {{ doc | tojson }} }
//! ```
//!
//! `doc` is optional (a receiver can fetch the document); `name` and `doctype` are required.

use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::Value as Json;
use sha2::Sha256;

pub const HEADER_SIGNATURE: &str = "X-Frappe-Webhook-Signature";

/// Bodies larger than this are refused before any parsing.
pub const MAX_BODY: usize = 2 * 1024 * 1024;

/// Why a webhook was refused: 401 for signature problems, 400 for a bad body, 413 for a
/// body that is too large.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    #[error("the webhook has no X-Frappe-Webhook-Signature header; turn on Enable Security on the Frappe webhook and set its secret")]
    MissingSignature,
    #[error("the webhook signature does not match; check that the secret is the one set on the Frappe webhook")]
    BadSignature,
    #[error("the webhook body is {0} bytes, more than the {MAX_BODY} accepted")]
    TooLarge(usize),
    #[error("the webhook body is not the expected JSON: {0}")]
    BadBody(String),
}

impl WebhookError {
    /// The HTTP status to answer with.
    pub fn status(&self) -> u16 {
        match self {
            WebhookError::MissingSignature | WebhookError::BadSignature => 401,
            WebhookError::TooLarge(_) => 413,
            WebhookError::BadBody(_) => 400,
        }
    }
}

/// A verified webhook.
#[derive(Clone, Debug, PartialEq)]
pub struct FrappeEvent {
    pub doctype: String,
    pub name: String,
    /// `after_insert`, `on_update`, `on_trash`, … (`None` when the template has no `event`).
    pub event: Option<String>,
    /// The document's `modified` as the site wrote it (naive, site-local).
    pub modified: Option<String>,
    /// The whole document when the template sends it.
    pub doc: Option<Json>,
}

impl FrappeEvent {
    pub fn is_delete(&self) -> bool {
        self.event.as_deref() == Some("on_trash")
    }
}

/// base64(HMAC-SHA256(secret, body)), as Frappe computes it.
pub fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(body);
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// Checks the signature over the raw body (constant time), then parses the event.
pub fn verify_frappe_webhook(secret: &str, signature: Option<&str>, body: &[u8]) -> Result<FrappeEvent, WebhookError> {
    if body.len() > MAX_BODY {
        return Err(WebhookError::TooLarge(body.len()));
    }
    let sig = signature.map(str::trim).filter(|s| !s.is_empty()).ok_or(WebhookError::MissingSignature)?;
    let given = base64::engine::general_purpose::STANDARD.decode(sig).map_err(|_| WebhookError::BadSignature)?;
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(body);
    mac.verify_slice(&given).map_err(|_| WebhookError::BadSignature)?;
    parse_event(body)
}

/// Parses the body of the documented template (or a `webhook_data` selection that has
/// `doctype`/`name`; `doc.doctype`/`doc.name` are used when the top-level keys are absent).
pub fn parse_event(body: &[u8]) -> Result<FrappeEvent, WebhookError> {
    let j: Json = serde_json::from_slice(body).map_err(|e| WebhookError::BadBody(e.to_string()))?;
    let obj = j.as_object().ok_or_else(|| WebhookError::BadBody("expected a JSON object".into()))?;
    let doc = obj.get("doc").filter(|d| d.is_object()).cloned();
    let text = |k: &str| obj.get(k).and_then(Json::as_str).or_else(|| doc.as_ref().and_then(|d| d.get(k)).and_then(Json::as_str)).map(str::to_string).filter(|s| !s.is_empty());
    let doctype = text("doctype").ok_or_else(|| WebhookError::BadBody("no \"doctype\"; use the template documented by Crosswalk".into()))?;
    let name = text("name").ok_or_else(|| WebhookError::BadBody("no \"name\"; use the template documented by Crosswalk".into()))?;
    Ok(FrappeEvent { doctype, name, event: text("event"), modified: text("modified"), doc })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_forged_unsigned_and_oversized() {
        let body = br#"{"event": "on_update", "doctype": "Customer", "name": "CUST-0001", "modified": "2025-01-01 10:00:00.000001", "doc": {"name": "CUST-0001"}}"#;
        let sig = sign("s3cret", body);
        let ev = verify_frappe_webhook("s3cret", Some(&sig), body).expect("a correctly signed body passes");
        assert_eq!((ev.doctype.as_str(), ev.name.as_str(), ev.event.as_deref()), ("Customer", "CUST-0001", Some("on_update")));
        assert_eq!(verify_frappe_webhook("other", Some(&sig), body), Err(WebhookError::BadSignature), "a different secret is a forgery");
        let mut tampered = body.to_vec();
        tampered[30] ^= 1;
        assert_eq!(verify_frappe_webhook("s3cret", Some(&sig), &tampered), Err(WebhookError::BadSignature), "a changed body is refused");
        assert_eq!(verify_frappe_webhook("s3cret", None, body), Err(WebhookError::MissingSignature), "unsigned is refused");
        assert_eq!(verify_frappe_webhook("s3cret", Some("%%%"), body), Err(WebhookError::BadSignature), "non-base64 is refused, not a crash");
        let big = vec![b' '; MAX_BODY + 1];
        assert_eq!(verify_frappe_webhook("s3cret", Some(&sig), &big).unwrap_err().status(), 413, "oversized bodies are refused before hashing");
        let junk = b"not json";
        assert_eq!(verify_frappe_webhook("s3cret", Some(&sign("s3cret", junk)), junk).unwrap_err().status(), 400, "signed garbage is a bad request");
    }
}
