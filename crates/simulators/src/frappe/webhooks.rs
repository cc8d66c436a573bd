//! Webhooks as Frappe sends them (API_FACTS §2.7, §9): queued during the request and sent
//! after the commit by a background job; on insert both `after_insert` and `on_update`
//! fire; the body is Python's `json.dumps` of the documented template; signed with
//! `X-Frappe-Webhook-Signature` = base64(HMAC-SHA256(secret, body)); no Content-Type; 3
//! attempts with sleeps of 1 s and 4 s (scalable) on failure.

use std::sync::Arc;

use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::{json, Map, Value as Json};
use sha2::Sha256;

use super::store::Event;
use super::{lock, Shared};

/// Python's `json.dumps(v)` with default options: `", "` and `": "` separators,
/// `ensure_ascii=True`.
pub fn py_dumps(v: &Json) -> String {
    let mut out = String::new();
    write(v, &mut out);
    out
}

fn write(v: &Json, out: &mut String) {
    match v {
        Json::Object(m) => {
            out.push('{');
            for (i, (k, v)) in m.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_str(k, out);
                out.push_str(": ");
                write(v, out);
            }
            out.push('}');
        }
        Json::Array(a) => {
            out.push('[');
            for (i, v) in a.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write(v, out);
            }
            out.push(']');
        }
        Json::String(s) => write_str(s, out),
        other => out.push_str(&other.to_string()),
    }
}

fn write_str(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || (c as u32) > 0x7e => {
                let mut buf = [0u16; 2];
                for u in c.encode_utf16(&mut buf) {
                    out.push_str(&format!("\\u{u:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

pub fn signature(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(body);
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// The documented template's body for one event.
pub fn body(event: &str, doctype: &str, doc: &Map<String, Json>) -> String {
    py_dumps(&json!({"event": event, "doctype": doctype, "name": doc.get("name").cloned().unwrap_or(Json::Null), "modified": doc.get("modified").cloned().unwrap_or(Json::Null), "doc": doc}))
}

/// Queues `events` for every matching webhook; called once the store lock is released
/// (the "commit").
pub(super) fn after_commit(shared: &Arc<Shared>, events: Vec<Event>) {
    let targets = lock(&shared.webhooks).clone();
    if targets.is_empty() || events.is_empty() {
        return;
    }
    for (event, doctype, doc) in events {
        for t in targets.iter().filter(|t| t.doctypes.is_empty() || t.doctypes.iter().any(|d| d == &doctype)) {
            let payload = body(event, &doctype, &doc);
            let sig = (!t.secret.is_empty()).then(|| signature(&t.secret, payload.as_bytes()));
            let shared = shared.clone();
            let url = t.url.clone();
            shared.rt.clone().spawn(async move {
                let delays = shared.opts.webhook_retry_delays.clone();
                for attempt in 0..=delays.len() {
                    let mut req = shared.http.post(&url).body(payload.clone());
                    if let Some(s) = &sig {
                        req = req.header("X-Frappe-Webhook-Signature", s);
                    }
                    let ok = matches!(req.send().await, Ok(r) if r.status().is_success());
                    {
                        let mut c = lock(&shared.counters);
                        c.webhook_attempts += 1;
                        if ok {
                            c.webhooks_sent += 1;
                        }
                    }
                    if ok {
                        return;
                    }
                    if let Some(d) = delays.get(attempt) {
                        tokio::time::sleep(*d).await;
                    }
                }
                lock(&shared.counters).webhooks_failed += 1;
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dumps_like_python() {
        assert_eq!(py_dumps(&json!({"a": [1, "é"], "b": null})), r#"{"a": [1, "\u00e9"], "b": null}"#, "separators and ensure_ascii as json.dumps");
    }
}
