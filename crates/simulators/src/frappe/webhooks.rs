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

/// Whether a Webhook document with `docevent` fires for `event` (`on_change` fires on every
/// save after the insert).
fn fires(docevent: &str, event: &str) -> bool {
    docevent == event || (docevent == "on_change" && !matches!(event, "after_insert" | "on_trash"))
}

fn text<'a>(m: &'a Map<String, Json>, k: &str) -> &'a str {
    m.get(k).and_then(Json::as_str).unwrap_or_default()
}

/// Renders the Jinja a webhook template uses: `{{ doc.FIELD }}` and `{{ doc | tojson }}`
/// (sorted keys, HTML-safe, as Jinja's `tojson`); other expressions render empty, as an
/// undefined value does. A missing field prints `None`, as Python does.
pub fn render(template: &str, doc: &Map<String, Json>) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(i) = rest.find("{{") {
        out.push_str(&rest[..i]);
        let Some(j) = rest[i..].find("}}") else {
            out.push_str(&rest[i..]);
            return out;
        };
        let expr = rest[i + 2..i + j].trim();
        let compact: String = expr.chars().filter(|c| !c.is_whitespace()).collect();
        if compact == "doc|tojson" {
            let j = py_dumps(&Json::Object(doc.clone()));
            out.push_str(&j.replace('<', "\\u003c").replace('>', "\\u003e").replace('&', "\\u0026").replace('\'', "\\u0027"));
        } else if let Some(field) = compact.strip_prefix("doc.") {
            match doc.get(field) {
                None | Some(Json::Null) => out.push_str("None"),
                Some(Json::String(s)) => out.push_str(s),
                Some(other) => out.push_str(&other.to_string()),
            }
        }
        rest = &rest[i + j + 2..];
    }
    out.push_str(rest);
    out
}

/// The body and headers a Webhook document sends for `doc`: the rendered JSON template
/// (re-dumped as `json.dumps(json.loads(...))`, as Frappe does), or the `webhook_data`
/// selection.
pub(super) fn hook_request(hook: &Map<String, Json>, doc: &Map<String, Json>) -> Result<(String, Vec<(String, String)>), String> {
    let template = text(hook, "webhook_json");
    let data: Json = if text(hook, "request_structure") == "JSON" || !template.trim().is_empty() {
        serde_json::from_str(&render(template, doc)).map_err(|e| format!("the webhook's JSON template does not render to JSON: {e}"))?
    } else {
        let rows = hook.get("webhook_data").and_then(Json::as_array).cloned().unwrap_or_default();
        let mut m = Map::new();
        for r in rows.iter().filter_map(Json::as_object) {
            m.insert(text(r, "key").to_string(), doc.get(text(r, "fieldname")).cloned().unwrap_or(Json::Null));
        }
        Json::Object(m)
    };
    let headers = hook
        .get("webhook_headers")
        .and_then(Json::as_array)
        .map(|rows| rows.iter().filter_map(Json::as_object).filter(|r| !text(r, "key").is_empty()).map(|r| (text(r, "key").to_string(), text(r, "value").to_string())).collect())
        .unwrap_or_default();
    Ok((py_dumps(&data), headers))
}

/// Queues `events` for every matching webhook (registered targets and enabled Webhook
/// documents); called once the store lock is released (the "commit").
pub(super) fn after_commit(shared: &Arc<Shared>, events: Vec<Event>) {
    if events.is_empty() {
        return;
    }
    let targets = lock(&shared.webhooks).clone();
    let hooks: Vec<Map<String, Json>> = lock(&shared.store).all("Webhook").into_iter().filter(|h| h.get("enabled").and_then(Json::as_i64) == Some(1)).cloned().collect();
    if targets.is_empty() && hooks.is_empty() {
        return;
    }
    for (event, doctype, doc) in events {
        for t in targets.iter().filter(|t| t.doctypes.is_empty() || t.doctypes.iter().any(|d| d == &doctype)) {
            let payload = body(event, &doctype, &doc);
            let sig = (!t.secret.is_empty()).then(|| signature(&t.secret, payload.as_bytes()));
            send(shared, reqwest::Method::POST, t.url.clone(), payload, sig, vec![]);
        }
        for h in hooks.iter().filter(|h| text(h, "webhook_doctype") == doctype && fires(text(h, "webhook_docevent"), event)) {
            match hook_request(h, &doc) {
                Ok((payload, headers)) => {
                    let secure = h.get("enable_security").and_then(Json::as_i64) == Some(1) && !text(h, "webhook_secret").is_empty();
                    let sig = secure.then(|| signature(text(h, "webhook_secret"), payload.as_bytes()));
                    let method = reqwest::Method::from_bytes(text(h, "request_method").as_bytes()).unwrap_or(reqwest::Method::POST);
                    send(shared, method, text(h, "request_url").to_string(), payload, sig, headers);
                }
                Err(_) => lock(&shared.counters).webhooks_failed += 1,
            }
        }
    }
}

/// Sends one webhook in a background job: up to 3 attempts, sleeping between them.
fn send(shared: &Arc<Shared>, method: reqwest::Method, url: String, payload: String, sig: Option<String>, headers: Vec<(String, String)>) {
    let shared = shared.clone();
    shared.rt.clone().spawn(async move {
        let delays = shared.opts.webhook_retry_delays.clone();
        for attempt in 0..=delays.len() {
            let mut req = shared.http.request(method.clone(), &url).body(payload.clone());
            if let Some(s) = &sig {
                req = req.header("X-Frappe-Webhook-Signature", s);
            }
            for (k, v) in &headers {
                req = req.header(k.as_str(), v.as_str());
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dumps_like_python() {
        assert_eq!(py_dumps(&json!({"a": [1, "é"], "b": null})), r#"{"a": [1, "\u00e9"], "b": null}"#, "separators and ensure_ascii as json.dumps");
    }

    #[test]
    fn templates_render_like_jinja() {
        let doc = json!({"doctype": "Customer", "name": "CUST-0001", "modified": "2026-01-01 10:00:00.000001", "note": "<b>&'", "empty": null});
        let doc = doc.as_object().unwrap();
        let t = r#"{"event": "on_update", "doctype": "{{ doc.doctype }}", "name": "{{doc.name}}", "modified": "{{ doc.modified }}", "x": "{{ doc.empty }}", "doc": {{ doc | tojson }} }"#;
        let out = render(t, doc);
        let j: Json = serde_json::from_str(&out).expect("the rendered template is JSON");
        assert_eq!((j["name"].as_str(), j["x"].as_str()), (Some("CUST-0001"), Some("None")), "{out}");
        assert_eq!(j["doc"]["note"], "<b>&'", "tojson escapes HTML characters as \\u00XX, which JSON reads back: {out}");
        assert!(out.contains("\\u003cb\\u003e"), "{out}");
    }
}
