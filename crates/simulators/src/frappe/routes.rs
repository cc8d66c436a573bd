//! The HTTP surface: token auth (403 Guest / 401 wrong secret), the global rate limiter,
//! fault switches, and Frappe's v1 paths.

use std::cmp::Ordering;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::{json, Map, Value as Json};

use super::store::FrappeError;
use super::{lock, webhooks, Shared};

pub(super) fn router(shared: Arc<Shared>) -> Router {
    Router::new().fallback(handle).with_state(shared)
}

fn error(e: FrappeError) -> Response {
    (StatusCode::from_u16(e.status).unwrap_or(StatusCode::EXPECTATION_FAILED), axum::Json(e.body())).into_response()
}

fn ok(status: StatusCode, body: Json) -> Response {
    (status, axum::Json(body)).into_response()
}

fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = vec![];
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() && s.is_char_boundary(i + 3) {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(if b[i] == b'+' { b' ' } else { b[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn query_params(uri: &Uri) -> Vec<(String, String)> {
    uri.query().unwrap_or_default().split('&').filter(|s| !s.is_empty()).map(|kv| {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        (decode(k), decode(v))
    }).collect()
}

/// Checks `Authorization: token key:secret` (or Basic). No header → Guest → 403.
fn auth(shared: &Shared, headers: &HeaderMap) -> Result<(), FrappeError> {
    let Some(h) = headers.get("authorization").and_then(|v| v.to_str().ok()) else {
        return Err(FrappeError::new(403, "PermissionError", "Not permitted: login as a user with access (Guest)"));
    };
    let expected = format!("{}:{}", shared.opts.api_key, shared.opts.api_secret);
    let given = if let Some(t) = h.strip_prefix("token ") {
        t.trim().to_string()
    } else if let Some(b) = h.strip_prefix("Basic ") {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.decode(b.trim()).ok().and_then(|v| String::from_utf8(v).ok()).unwrap_or_default()
    } else {
        return Err(FrappeError::new(401, "AuthenticationError", "Invalid authorization header"));
    };
    if given == expected {
        Ok(())
    } else {
        Err(FrappeError::new(401, "AuthenticationError", "Invalid login credentials"))
    }
}

async fn handle(State(shared): State<Arc<Shared>>, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let path = uri.path().trim_end_matches('/').to_string();
    let path = path.strip_prefix("/api/v1").map(|p| format!("/api{p}")).unwrap_or(path);
    {
        let mut c = lock(&shared.counters);
        c.requests += 1;
        let kind = if path.starts_with("/api/method/") { "method" } else if path.matches('/').count() >= 4 { "one" } else { "list" };
        *c.by_kind.entry(format!("{method} {kind}")).or_default() += 1;
    }
    let latency = shared.latency();
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    if let Some(status) = shared.next_fault() {
        lock(&shared.counters).faults += 1;
        return error(FrappeError::new(status, "InternalServerError", "simulated fault"));
    }
    if path == "/api/method/ping" {
        return ok(StatusCode::OK, json!({"message": "pong"}));
    }
    if let Err(retry_after) = shared.take_budget() {
        lock(&shared.counters).throttled += 1;
        let secs = retry_after.as_secs().max(1);
        return (StatusCode::TOO_MANY_REQUESTS, [("Retry-After", secs.to_string()), ("X-RateLimit-Reset", secs.to_string()), ("X-RateLimit-Remaining", "0".into())], "Too Many Requests").into_response();
    }
    if let Err(e) = auth(&shared, &headers) {
        lock(&shared.counters).unauthorized += 1;
        return error(e);
    }
    if path == "/api/method/frappe.auth.get_logged_user" {
        return ok(StatusCode::OK, json!({"message": shared.opts.user}));
    }
    let Some(rest) = path.strip_prefix("/api/resource/") else {
        return error(FrappeError::new(404, "PageDoesNotExistError", format!("{path} not found")));
    };
    let (doctype, name) = match rest.split_once('/') {
        Some((d, n)) => (decode(d), Some(decode(n))),
        None => (decode(rest), None),
    };
    if doctype.starts_with("Webhook") && !shared.opts.webhook_admin {
        return error(FrappeError::new(403, "PermissionError", format!("Insufficient Permission for {doctype}")));
    }
    let body: Map<String, Json> = if body.is_empty() {
        Map::new()
    } else {
        match serde_json::from_slice::<Json>(&body) {
            Ok(Json::Object(m)) => m,
            _ => return error(FrappeError::validation("ValidationError", "The body must be a JSON object")),
        }
    };
    match (method, name) {
        (Method::GET, Some(n)) if doctype == "DocType" => match lock(&shared.store).def(&n) {
            Ok(d) => ok(StatusCode::OK, json!({"data": d.meta_json()})),
            Err(e) => error(e),
        },
        (Method::GET, Some(n)) if doctype == "System Settings" && n == "System Settings" => {
            let tz = shared.opts.time_zone.clone().filter(|s| !s.is_empty()).map(Json::String).unwrap_or(Json::Null);
            ok(StatusCode::OK, json!({"data": {"name": "System Settings", "doctype": "System Settings", "time_zone": tz, "country": "India"}}))
        }
        (Method::GET, None) => list(&shared, &doctype, &query_params(&uri)),
        (Method::GET, Some(n)) => match lock(&shared.store).get(&doctype, &n) {
            Some(d) => ok(StatusCode::OK, json!({"data": masked(d.clone())})),
            None => error(FrappeError::not_found(&doctype, &n)),
        },
        (Method::POST, None) => {
            let r = lock(&shared.store).insert(&doctype, &body);
            match r {
                Ok((doc, events)) => {
                    webhooks::after_commit(&shared, events);
                    ok(StatusCode::OK, json!({"data": masked(doc)}))
                }
                Err(e) => error(e),
            }
        }
        (Method::PUT, Some(n)) => {
            let r = lock(&shared.store).update(&doctype, &n, &body);
            match r {
                Ok((doc, events)) => {
                    webhooks::after_commit(&shared, events);
                    ok(StatusCode::OK, json!({"data": masked(doc)}))
                }
                Err(e) => error(e),
            }
        }
        (Method::DELETE, Some(n)) => {
            let r = lock(&shared.store).delete(&doctype, &n);
            match r {
                Ok(events) => {
                    webhooks::after_commit(&shared, events);
                    ok(StatusCode::ACCEPTED, json!({"data": "ok"}))
                }
                Err(e) => error(e),
            }
        }
        (m, _) => error(FrappeError::new(405, "ValidationError", format!("{m} is not allowed here"))),
    }
}

/// Password fields read back as asterisks, as Frappe shows them.
fn masked(mut doc: Map<String, Json>) -> Map<String, Json> {
    if let Some(Json::String(s)) = doc.get_mut("webhook_secret") {
        *s = "*".repeat(s.chars().count());
    }
    doc
}

fn compare(a: &Json, b: &Json) -> Ordering {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => x.partial_cmp(&y).unwrap_or(Ordering::Equal),
        _ => {
            let s = |v: &Json| v.as_str().map(str::to_string).unwrap_or_else(|| if v.is_null() { String::new() } else { v.to_string() });
            s(a).cmp(&s(b))
        }
    }
}

fn matches(doc: &Map<String, Json>, field: &str, op: &str, value: &Json) -> Result<bool, FrappeError> {
    let v = doc.get(field).unwrap_or(&Json::Null);
    let op = op.trim().to_ascii_lowercase();
    Ok(match op.as_str() {
        "=" => compare(v, value) == Ordering::Equal,
        "!=" | "<>" => compare(v, value) != Ordering::Equal,
        ">" => compare(v, value) == Ordering::Greater,
        "<" => compare(v, value) == Ordering::Less,
        ">=" => compare(v, value) != Ordering::Less,
        "<=" => compare(v, value) != Ordering::Greater,
        "in" | "not in" => {
            let list: Vec<Json> = match value {
                Json::Array(a) => a.clone(),
                Json::String(s) => s.split(',').map(|x| Json::String(x.trim().to_string())).collect(),
                other => vec![other.clone()],
            };
            let found = list.iter().any(|x| compare(v, x) == Ordering::Equal);
            if op == "in" { found } else { !found }
        }
        "like" => {
            let pat = value.as_str().unwrap_or_default().to_lowercase().replace('%', "");
            v.as_str().unwrap_or_default().to_lowercase().contains(&pat)
        }
        "is" => match value.as_str() {
            Some("set") => !(v.is_null() || v.as_str() == Some("")),
            _ => v.is_null() || v.as_str() == Some(""),
        },
        other => return Err(FrappeError::validation("ValidationError", format!("Operator {other} is not supported"))),
    })
}

/// `[[f, op, v], ...]`, `[[doctype, f, op, v], ...]` or `{"f": v}` / `{"f": [op, v]}`.
fn parse_filters(raw: &str) -> Result<Vec<(String, String, Json)>, FrappeError> {
    let bad = || FrappeError::validation("ValidationError", format!("Invalid filters {raw}"));
    let j: Json = serde_json::from_str(raw).map_err(|_| bad())?;
    let mut out = vec![];
    match j {
        Json::Array(items) => {
            for it in items {
                let a = it.as_array().ok_or_else(bad)?;
                let s = |i: usize| a.get(i).and_then(Json::as_str).map(str::to_string).ok_or_else(bad);
                match a.len() {
                    3 => out.push((s(0)?, s(1)?, a[2].clone())),
                    4 => out.push((s(1)?, s(2)?, a[3].clone())),
                    _ => return Err(bad()),
                }
            }
        }
        Json::Object(m) => {
            for (k, v) in m {
                match v {
                    Json::Array(a) if a.len() == 2 && a[0].is_string() => out.push((k, a[0].as_str().unwrap_or("=").to_string(), a[1].clone())),
                    other => out.push((k, "=".into(), other)),
                }
            }
        }
        _ => return Err(bad()),
    }
    Ok(out)
}

fn list(shared: &Shared, doctype: &str, params: &[(String, String)]) -> Response {
    let p = |k: &str| params.iter().rev().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let store = lock(&shared.store);
    let def = match store.def(doctype) {
        Ok(d) => d.clone(),
        Err(e) => return error(e),
    };
    let filters = match p("filters").map(parse_filters).transpose() {
        Ok(f) => f.unwrap_or_default(),
        Err(e) => return error(e),
    };
    let fields: Vec<String> = match p("fields") {
        Some(f) => match serde_json::from_str::<Vec<String>>(f) {
            Ok(v) => v,
            Err(_) => return error(FrappeError::validation("ValidationError", format!("Invalid fields {f}"))),
        },
        None => vec!["name".into()],
    };
    let order: Vec<(String, bool)> = p("order_by")
        .unwrap_or("modified desc")
        .split(',')
        .filter_map(|t| {
            let mut it = t.split_whitespace();
            let f = it.next()?.trim_matches('`').rsplit('.').next()?.trim_matches('`').to_string();
            Some((f, it.next().is_some_and(|d| d.eq_ignore_ascii_case("desc"))))
        })
        .collect();
    let start: usize = p("limit_start").and_then(|s| s.parse().ok()).unwrap_or(0);
    let len: usize = p("limit_page_length").or(p("limit")).and_then(|s| s.parse().ok()).unwrap_or(shared.opts.default_page_length);
    let mut rows = vec![];
    for d in store.all(doctype) {
        let mut keep = true;
        for (f, op, v) in &filters {
            match matches(d, f, op, v) {
                Ok(true) => {}
                Ok(false) => keep = false,
                Err(e) => return error(e),
            }
        }
        if keep {
            rows.push(d);
        }
    }
    rows.sort_by(|a, b| {
        for (f, desc) in &order {
            let o = compare(a.get(f).unwrap_or(&Json::Null), b.get(f).unwrap_or(&Json::Null));
            let o = if *desc { o.reverse() } else { o };
            if o != Ordering::Equal {
                return o;
            }
        }
        Ordering::Equal
    });
    let take = if len == 0 { usize::MAX } else { len };
    let data: Vec<Json> = rows
        .into_iter()
        .skip(start)
        .take(take)
        .map(|d| {
            let mut m = Map::new();
            for f in &fields {
                if f == "*" {
                    for (k, v) in d.iter().filter(|(k, _)| def.field(k).is_none_or(|fd| fd.fieldtype != "Table")) {
                        m.insert(k.clone(), v.clone());
                    }
                } else if def.field(f).is_none_or(|fd| fd.fieldtype != "Table") {
                    m.insert(f.clone(), d.get(f).cloned().unwrap_or(Json::Null));
                }
            }
            Json::Object(masked(m))
        })
        .collect();
    ok(StatusCode::OK, json!({"data": data}))
}
