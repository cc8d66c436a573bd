//! The HTTP surface: faults, rate limit, `api_key` and IP checks in front of the
//! controller/action dispatch.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use chrono::Utc;
use serde_json::{json, Map, Value as Json};

use super::form::parse_body;
use super::{envelope_date, local_text, lock, seed, Shared};

pub(super) fn router(shared: Arc<Shared>) -> Router {
    Router::new().fallback(handle).with_state(shared)
}

fn envelope(controller: &str, action: &str) -> Map<String, Json> {
    let mut m = Map::new();
    m.insert("controller".into(), Json::String(controller.into()));
    m.insert("action".into(), Json::String(action.into()));
    m.insert("status".into(), Json::String("success".into()));
    m.insert("date".into(), Json::String(envelope_date()));
    m
}

/// WeFact's error envelope, on HTTP 200.
fn error(controller: &str, action: &str, errors: Vec<String>) -> Response {
    let mut m = envelope(controller, action);
    m.insert("status".into(), Json::String("error".into()));
    m.insert("errors".into(), json!(errors));
    (StatusCode::OK, axum::Json(Json::Object(m))).into_response()
}

fn ok(m: Map<String, Json>) -> Response {
    (StatusCode::OK, axum::Json(Json::Object(m))).into_response()
}

fn text(p: &Map<String, Json>, k: &str) -> Option<String> {
    match p.get(k)? {
        Json::String(s) => Some(s.trim().to_string()),
        Json::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

async fn handle(State(s): State<Arc<Shared>>, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let ct = headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    let p = parse_body(&body, &ct);
    let controller = text(&p, "controller").unwrap_or_default();
    let action = text(&p, "action").unwrap_or_default();
    {
        let mut c = lock(&s.counters);
        c.requests += 1;
        *c.by_action.entry(format!("{controller}.{action}")).or_default() += 1;
        lock(&s.times).push(Instant::now());
    }
    let (latency, fault) = {
        let mut sw = lock(&s.switches);
        let fault = sw.fail.first().map(|f| f.1);
        if let Some(first) = sw.fail.first_mut() {
            first.0 -= 1;
            if first.0 == 0 {
                sw.fail.remove(0);
            }
        }
        (sw.latency, fault)
    };
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    if let Some(code) = fault {
        lock(&s.counters).faults += 1;
        return (StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR), "Internal Server Error (simulated fault)").into_response();
    }
    if method != Method::POST || !(uri.path() == "/v2/" || uri.path() == "/v2") {
        return (StatusCode::NOT_FOUND, "Not Found: WeFact's API is POST /v2/").into_response();
    }
    // Rate limit (token bucket); WeFact documents none, so this is opt-in.
    {
        let mut sw = lock(&s.switches);
        if let Some((n, per)) = sw.rate {
            let now = Instant::now();
            let rate = f64::from(n) / per.as_secs_f64().max(1e-6);
            if let Some(last) = sw.last {
                sw.tokens = (sw.tokens + now.duration_since(last).as_secs_f64() * rate).min(f64::from(n));
            }
            sw.last = Some(now);
            if sw.tokens < 1.0 {
                let wait = ((1.0 - sw.tokens) / rate).ceil().max(1.0) as u64;
                drop(sw);
                lock(&s.counters).throttled += 1;
                let mut m = envelope(&controller, &action);
                m.insert("status".into(), Json::String("error".into()));
                m.insert("errors".into(), json!(["Too many requests, please try again later"]));
                let mut r = (StatusCode::TOO_MANY_REQUESTS, axum::Json(Json::Object(m))).into_response();
                if s.opts.retry_after_on_429 {
                    r.headers_mut().insert("retry-after", wait.to_string().parse().expect("digits are a valid header"));
                }
                return r;
            }
            sw.tokens -= 1.0;
        }
    }
    if text(&p, "api_key").as_deref() != Some(s.opts.api_key.as_str()) {
        lock(&s.counters).unauthorized += 1;
        return error(&controller, &action, vec!["Invalid API key".into()]);
    }
    if lock(&s.switches).refuse_ip {
        lock(&s.counters).ip_refused += 1;
        return error(&controller, &action, vec!["Your IP address 127.0.0.1 is not allowed to use this API key; add it to the IP whitelist".into()]);
    }
    let plural = match controller.as_str() {
        "debtor" => "debtors",
        "invoice" => "invoices",
        "" => return error("", "", vec!["No controller given".into()]),
        other => return error(other, &action, vec![format!("Controller '{other}' does not exist")]),
    };
    match action.as_str() {
        "list" => list(&s, &controller, plural, &p),
        "show" => show(&s, &controller, &p),
        "add" => add(&s, &controller, p),
        "edit" => edit(&s, &controller, p),
        "delete" if controller == "invoice" => delete(&s, &controller, &p),
        other => error(&controller, other, vec![format!("Action '{other}' is not available for controller '{controller}'")]),
    }
}

fn find_id(s: &Shared, controller: &str, p: &Map<String, Json>) -> Option<u64> {
    let mut store = lock(&s.store);
    let table = store.table(controller)?;
    if let Some(id) = text(p, "Identifier").and_then(|t| t.parse::<u64>().ok()) {
        return table.contains_key(&id).then_some(id);
    }
    let code_key = if controller == "debtor" { "DebtorCode" } else { "InvoiceCode" };
    let code = text(p, code_key)?;
    table.iter().find(|(_, r)| r.get(code_key).and_then(Json::as_str) == Some(code.as_str())).map(|(id, _)| *id)
}

fn list(s: &Shared, controller: &str, plural: &str, p: &Map<String, Json>) -> Response {
    let offset = text(p, "offset").and_then(|t| t.parse::<usize>().ok()).unwrap_or(0);
    let limit = text(p, "limit").and_then(|t| t.parse::<usize>().ok()).unwrap_or(1000).min(s.opts.max_limit);
    let modified = p.get("modified").and_then(Json::as_object).cloned();
    if let Some(m) = &modified {
        if let Some(from) = m.get("from").and_then(Json::as_str) {
            lock(&s.counters).modified_from.push(from.to_string());
        }
        if lock(&s.switches).refuse_modified_filter {
            return error(controller, "list", vec!["Invalid filter 'modified'".into()]);
        }
    }
    let from = modified.as_ref().and_then(|m| m.get("from")).and_then(Json::as_str).map(str::to_string);
    let to = modified.as_ref().and_then(|m| m.get("to")).and_then(Json::as_str).map(str::to_string);
    let search = text(p, "searchat").zip(text(p, "searchfor"));
    let mut store = lock(&s.store);
    let Some(table) = store.table(controller) else { return error(controller, "list", vec!["Unknown controller".into()]) };
    let matching: Vec<&Map<String, Json>> = table
        .values()
        .filter(|r| {
            let m = r.get("Modified").and_then(Json::as_str).unwrap_or_default();
            from.as_deref().map(|f| m >= f).unwrap_or(true) && to.as_deref().map(|t| m <= t).unwrap_or(true)
        })
        .filter(|r| match &search {
            Some((at, val)) => r.get(at).and_then(Json::as_str).map(|v| v.to_lowercase().contains(&val.to_lowercase())).unwrap_or(false),
            None => true,
        })
        .collect();
    let total = matching.len();
    let page: Vec<Json> = matching
        .into_iter()
        .skip(offset)
        .take(limit)
        .map(|r| {
            let mut r = r.clone();
            // List answers are summaries: invoice lines come with `show` only.
            r.remove("InvoiceLines");
            Json::Object(r)
        })
        .collect();
    let mut m = envelope(controller, "list");
    m.insert("totalresults".into(), json!(total));
    m.insert("currentresults".into(), json!(page.len()));
    m.insert("offset".into(), json!(offset));
    let mut filters = Map::new();
    if let Some(mm) = modified {
        filters.insert("modified".into(), Json::Object(mm));
    }
    m.insert("filters".into(), Json::Object(filters));
    m.insert(plural.into(), Json::Array(page));
    ok(m)
}

fn show(s: &Shared, controller: &str, p: &Map<String, Json>) -> Response {
    let Some(id) = find_id(s, controller, p) else { return error(controller, "show", vec![format!("{controller} not found")]) };
    let mut store = lock(&s.store);
    let rec = store.table(controller).and_then(|t| t.get(&id)).cloned().unwrap_or_default();
    let mut m = envelope(controller, "show");
    m.insert(controller.into(), Json::Object(rec));
    ok(m)
}

fn clean(mut p: Map<String, Json>) -> Map<String, Json> {
    for k in ["api_key", "controller", "action", "Identifier", "Created", "Modified"] {
        p.remove(k);
    }
    p
}

fn add(s: &Shared, controller: &str, p: Map<String, Json>) -> Response {
    let now = local_text(Utc::now());
    let mut store = lock(&s.store);
    let r = if controller == "debtor" { seed::add_debtor(&mut store, clean(p), &now) } else { seed::add_invoice(&mut store, clean(p), &now) };
    drop(store);
    match r {
        Ok(rec) => {
            let mut m = envelope(controller, "add");
            m.insert(controller.into(), Json::Object(rec));
            ok(m)
        }
        Err(errors) => error(controller, "add", errors),
    }
}

fn edit(s: &Shared, controller: &str, p: Map<String, Json>) -> Response {
    let Some(id) = find_id(s, controller, &p) else { return error(controller, "edit", vec![format!("{controller} not found")]) };
    let now = local_text(Utc::now());
    let mut store = lock(&s.store);
    let Some(rec) = store.table(controller).and_then(|t| t.get_mut(&id)) else { return error(controller, "edit", vec![format!("{controller} not found")]) };
    for (k, v) in clean(p) {
        rec.insert(k, v);
    }
    if controller == "invoice" {
        seed::totals(rec);
    }
    rec.insert("Modified".into(), Json::String(now));
    let rec = rec.clone();
    let mut m = envelope(controller, "edit");
    m.insert(controller.into(), Json::Object(rec));
    ok(m)
}

fn delete(s: &Shared, controller: &str, p: &Map<String, Json>) -> Response {
    let Some(id) = find_id(s, controller, p) else { return error(controller, "delete", vec![format!("{controller} not found")]) };
    lock(&s.store).table(controller).map(|t| t.remove(&id));
    ok(envelope(controller, "delete"))
}
