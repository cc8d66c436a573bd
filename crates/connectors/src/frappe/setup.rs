//! The Webhook documents a site needs so its changes reach Crosswalk (`crosswalk
//! webhook-setup`), created through the API (DocType `Webhook`, API_FACTS §2.7).
//!
//! One document per DocType and event: `on_update` (fires on insert too, §9) and
//! `on_trash`, and for submittable DocTypes `on_submit`, `on_cancel` and
//! `on_update_after_submit`. Each POSTs the JSON template [`TEMPLATE`] with a
//! `Content-Type: application/json` header (Frappe sets none by itself), with Enable
//! Security on and the webhook secret, so the listener can verify
//! `X-Frappe-Webhook-Signature`.
//!
//! Setting up is idempotent: a document for the same DocType, event and request URL is
//! brought up to date instead of being made twice.

use crosswalk_core::{ConnectorError, Secret};
use serde_json::{json, Map, Value as Json};

use super::client::FrappeClient;

/// The request body template; `EVENT` is replaced by the document's event.
pub const TEMPLATE: &str = r#"{"event": "EVENT", "doctype": "{{ doc.doctype }}", "name": "{{ doc.name }}", "modified": "{{ doc.modified }}", "doc": {{ doc | tojson }} }"#;

/// The events a DocType's webhooks listen to.
pub fn events(is_submittable: bool) -> &'static [&'static str] {
    if is_submittable {
        &["on_update", "on_trash", "on_submit", "on_cancel", "on_update_after_submit"]
    } else {
        &["on_update", "on_trash"]
    }
}

/// One Webhook document, without its secret (that is added only when sending it).
#[derive(Clone, Debug, PartialEq)]
pub struct WebhookDoc {
    pub doctype: String,
    pub event: String,
    pub request_url: String,
}

impl WebhookDoc {
    /// The document's fields as Frappe's Webhook DocType names them; `webhook_secret` only
    /// when `secret` is given.
    pub fn fields(&self, secret: Option<&Secret>) -> Map<String, Json> {
        let mut m = json!({
            "webhook_doctype": self.doctype,
            "webhook_docevent": self.event,
            "enabled": 1,
            "request_url": self.request_url,
            "request_method": "POST",
            "request_structure": "JSON",
            "webhook_json": TEMPLATE.replace("EVENT", &self.event),
            "webhook_headers": [{"key": "Content-Type", "value": "application/json"}],
            "enable_security": 1,
            "timeout": 5,
        })
        .as_object()
        .cloned()
        .unwrap_or_default();
        if let Some(s) = secret {
            m.insert("webhook_secret".into(), Json::String(s.expose().to_string()));
        }
        m
    }
}

/// The documents for `doctypes` (`(name, is_submittable)`) posting to `request_url`.
pub fn plan(doctypes: &[(String, bool)], request_url: &str) -> Vec<WebhookDoc> {
    doctypes
        .iter()
        .flat_map(|(dt, sub)| events(*sub).iter().map(move |e| WebhookDoc { doctype: dt.clone(), event: e.to_string(), request_url: request_url.to_string() }))
        .collect()
}

/// What setting up one document did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Applied {
    Created(String),
    Updated(String),
}

impl Applied {
    pub fn name(&self) -> &str {
        match self {
            Applied::Created(n) | Applied::Updated(n) => n,
        }
    }
}

/// Whether DocType `doctype` is submittable on this site.
pub async fn is_submittable(client: &FrappeClient, doctype: &str) -> Result<bool, ConnectorError> {
    Ok(client.meta(doctype).await?.is_submittable)
}

/// Creates (or updates) each document on the site. Stops at the first error: an `Auth`
/// error here, after the credentials worked, means the API user may not manage webhooks.
pub async fn apply(client: &FrappeClient, docs: &[WebhookDoc], secret: &Secret) -> Result<Vec<Applied>, ConnectorError> {
    let mut out = vec![];
    for d in docs {
        let filters = json!([["webhook_doctype", "=", d.doctype], ["webhook_docevent", "=", d.event], ["request_url", "=", d.request_url]]);
        let existing = client.list("Webhook", &["name"], &filters, "name asc", 0, 1).await?;
        let fields = d.fields(Some(secret));
        match existing.first().and_then(|r| r.get("name")).and_then(Json::as_str) {
            Some(name) => {
                client.update("Webhook", name, fields).await?;
                out.push(Applied::Updated(name.to_string()));
            }
            None => {
                let doc = client.insert("Webhook", fields).await?;
                out.push(Applied::Created(doc.get("name").and_then(Json::as_str).unwrap_or_default().to_string()));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_per_doctype_and_event_without_the_secret() {
        let docs = plan(&[("Customer".into(), false), ("Sales Order".into(), true)], "https://sync.example.com/webhooks/cloud");
        let events: Vec<String> = docs.iter().map(|d| format!("{}:{}", d.doctype, d.event)).collect();
        assert_eq!(events, ["Customer:on_update", "Customer:on_trash", "Sales Order:on_update", "Sales Order:on_trash", "Sales Order:on_submit", "Sales Order:on_cancel", "Sales Order:on_update_after_submit"], "submit events only for submittable DocTypes");
        let f = docs[0].fields(None);
        assert!(!f.contains_key("webhook_secret"), "a printed document never carries the secret");
        assert_eq!(f["webhook_json"].as_str().unwrap(), TEMPLATE.replace("EVENT", "on_update"));
        assert_eq!(f["webhook_headers"][0]["value"], "application/json", "Frappe sends no Content-Type by itself (§9)");
        assert_eq!(docs[0].fields(Some(&Secret::new("s"))).get("webhook_secret"), Some(&Json::String("s".into())));
    }
}
