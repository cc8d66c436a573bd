//! What one POST carries: the body (default or a user template), the idempotency key of a
//! record version, and the HMAC signature.

use crosswalk_core::value::{unflatten_json, Fields};
use crosswalk_core::Value;
use hmac::{Hmac, Mac};
use serde_json::{json, Value as Json};
use sha2::{Digest, Sha256};

use super::config::WebhookConfig;

/// The record as JSON: dotted names nested (`address.city` → `{"address":{"city":…}}`),
/// fields listed in `json_fields` holding JSON text embedded as JSON (invoice `lines`).
pub fn record_json(fields: &Fields, json_fields: &[String]) -> Json {
    let mut plain = Fields::new();
    let mut embedded = vec![];
    for (k, v) in fields {
        match v {
            Value::Text(t) if json_fields.iter().any(|f| f == k) => match serde_json::from_str::<Json>(t) {
                Ok(j) => embedded.push((k.clone(), j)),
                Err(_) => {
                    plain.insert(k.clone(), v.clone());
                }
            },
            _ => {
                plain.insert(k.clone(), v.clone());
            }
        }
    }
    let mut obj = unflatten_json(&plain);
    for (k, j) in embedded {
        obj.insert(k, j);
    }
    Json::Object(obj)
}

/// The idempotency key of one record version: the same object, id and field values give
/// the same key on every run and every machine; any change gives a new one.
pub fn idempotency_key(object: &str, id: &str, fields: &Fields) -> String {
    let mut h = Sha256::new();
    h.update(object.as_bytes());
    h.update([0]);
    h.update(id.as_bytes());
    h.update([0]);
    h.update(serde_json::to_vec(fields).unwrap_or_default());
    hex::encode(&h.finalize()[..16])
}

/// The id a record has on the receiver's side: the first of `id_fields` with a value,
/// else a hash of the content (stable, so a re-sent create keeps its key).
pub fn record_id(fields: &Fields, config: &WebhookConfig) -> String {
    for f in &config.id_fields {
        if let Some(v) = fields.get(f).filter(|v| !v.is_null()) {
            let s = v.display();
            if !s.trim().is_empty() {
                return s.trim().to_string();
            }
        }
    }
    format!("h-{}", idempotency_key("", "", fields))
}

/// The exact bytes to POST. The default body is `{"data_type", "sync_time", "record"}`
/// (what the old script sent). A template replaces `{{name}}` with JSON: `{{record}}` the
/// whole record, `{{data_type}}`, `{{sync_time}}`, `{{object}}`, `{{id}}`, or any field
/// (`{{CompanyName}}`, dotted names too) — text comes out quoted, so write
/// `"name": {{CompanyName}}`, not `"name": "{{CompanyName}}"`. A missing field is `null`.
pub fn build_body(config: &WebhookConfig, object: &str, id: &str, fields: &Fields, sync_time: &str) -> Result<Vec<u8>, String> {
    let record = record_json(fields, &config.json_fields);
    let data_type = config.data_type(object);
    let Some(template) = &config.template else {
        let body = json!({"data_type": data_type, "sync_time": sync_time, "record": record});
        return serde_json::to_vec(&body).map_err(|e| e.to_string());
    };
    let out = substitute(template, |name| match name {
        "record" => record.clone(),
        "data_type" => Json::String(data_type.clone()),
        "sync_time" => Json::String(sync_time.to_string()),
        "object" => Json::String(object.to_string()),
        "id" => Json::String(id.to_string()),
        field => match fields.get(field) {
            Some(Value::Text(t)) if config.json_fields.iter().any(|f| f == field) => serde_json::from_str(t).unwrap_or_else(|_| Json::String(t.clone())),
            Some(v) => v.to_json(),
            None => Json::Null,
        },
    });
    serde_json::from_str::<Json>(&out).map_err(|e| format!("the body template does not make valid JSON for record {id} ({e}); write placeholders without quotes, like \"name\": {{{{CompanyName}}}}"))?;
    Ok(out.into_bytes())
}

fn substitute(template: &str, value: impl Fn(&str) -> Json) -> String {
    let mut out = String::with_capacity(template.len() * 2);
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        match after.find("}}") {
            Some(end) => {
                out.push_str(&value(after[..end].trim()).to_string());
                rest = &after[end + 2..];
            }
            None => {
                out.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// Checks a template makes JSON when every placeholder is `null` (pure; at config time).
pub fn check_template(template: &str) -> Result<(), String> {
    let out = substitute(template, |_| Json::Null);
    serde_json::from_str::<Json>(&out).map(|_| ()).map_err(|e| format!("does not make valid JSON ({e}); placeholders like {{{{record}}}} stand for JSON values, so don't put them in quotes"))
}

/// Hex HMAC-SHA256 of `body` under `secret`.
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(pairs: &[(&str, Value)]) -> Fields {
        pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
    }

    #[test]
    fn default_body_template_and_keys() {
        let c = WebhookConfig::new("https://h/x");
        let fields = f(&[("Identifier", Value::text("7")), ("lines", Value::text(r#"[{"n":1}]"#)), ("address.city", Value::text("Delft"))]);
        let body: Json = serde_json::from_slice(&build_body(&c, "invoices", "7", &fields, "2024-01-01T00:00:00Z").unwrap()).unwrap();
        assert_eq!(body["data_type"], "invoices", "data_type defaults to the object name");
        assert_eq!(body["record"]["lines"][0]["n"], 1, "lines are embedded as JSON, not a string");
        assert_eq!(body["record"]["address"]["city"], "Delft", "dotted names are nested");
        let mut t = c.clone();
        t.template = Some(r#"{"who": {{Identifier}}, "r": {{record}}, "x": {{missing}}}"#.into());
        let body: Json = serde_json::from_slice(&build_body(&t, "invoices", "7", &fields, "now").unwrap()).unwrap();
        assert_eq!((body["who"].as_str(), body["x"].is_null()), (Some("7"), true), "placeholders become JSON values; missing ones null");
        assert_eq!(idempotency_key("debtors", "1", &fields), idempotency_key("debtors", "1", &fields.clone()), "same version, same key");
        assert_ne!(idempotency_key("debtors", "1", &fields), idempotency_key("invoices", "1", &fields), "the object is part of the key");
        assert_eq!(record_id(&fields, &c), "7", "Identifier names the record when there is no id field");
        assert_eq!(sign(b"key", b"The quick brown fox jumps over the lazy dog"), "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8", "RFC-style HMAC-SHA256 test vector");
    }
}
