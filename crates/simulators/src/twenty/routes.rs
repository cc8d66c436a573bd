//! The HTTP surface: auth, rate limits and fault switches in front of Twenty's REST paths.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::{json, Map, Value as Json};

use super::query::{cmp_keys, decode_cursor, encode_cursor, parse_filter, parse_order_by, sort_key};
use super::schema::op_key;
use super::store::{is_uuid, Actor, ApiError, Store};
use super::{lock, webhooks, Shared, SimFault};

pub(super) fn router(shared: Arc<Shared>) -> Router {
    Router::new().fallback(handle).with_state(shared)
}

fn error(e: ApiError) -> Response {
    (StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST), axum::Json(e.body())).into_response()
}

fn ok(status: StatusCode, body: Json) -> Response {
    (status, axum::Json(body)).into_response()
}

/// The path after `/rest/`, as Twenty's parser reads it.
enum Route {
    Metadata,
    Batch(String),
    Many(String),
    One(String, String),
}

fn route(path: &str) -> Result<Route, ApiError> {
    let rest = path.strip_prefix("/rest/").ok_or_else(|| ApiError::not_found(format!("Cannot find {path}")))?;
    let parts: Vec<&str> = rest.trim_end_matches('/').split('/').filter(|s| !s.is_empty()).collect();
    match parts.as_slice() {
        ["metadata", "objects"] => Ok(Route::Metadata),
        ["batch", object] => Ok(Route::Batch(object.to_string())),
        [object] => Ok(Route::Many(object.to_string())),
        [object, id] if is_uuid(id) => Ok(Route::One(object.to_string(), id.to_string())),
        [_, id] => Err(ApiError::bad_request(format!("'{id}' is not a valid UUID"))),
        _ => Err(ApiError::bad_request(format!("Query path '{path}' invalid. Valid examples: /rest/companies/id or /rest/companies or /rest/batch/companies"))),
    }
}

fn kind(method: &Method, path: &str) -> String {
    let k = match route(path) {
        Ok(Route::Metadata) => "metadata",
        Ok(Route::Batch(_)) => "batch",
        Ok(Route::Many(_)) if method == Method::GET => "list",
        Ok(Route::Many(_)) => "one",
        Ok(Route::One(..)) => "one",
        Err(_) => return "other".into(),
    };
    format!("{method} {k}")
}

async fn handle(State(s): State<Arc<Shared>>, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    {
        let mut c = lock(&s.counters);
        c.requests += 1;
        if method == Method::GET {
            c.reads += 1;
        } else {
            c.writes += 1;
        }
        *c.by_kind.entry(kind(&method, uri.path())).or_default() += 1;
    }
    let latency = s.latency();
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    if let Some(fault) = s.next_fault() {
        lock(&s.counters).faults += 1;
        match fault {
            SimFault::Status(code) => {
                let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                return ok(status, json!({"statusCode": code, "error": "InternalServerError", "messages": ["Internal server error (simulated fault)"]}));
            }
            SimFault::Drop => {
                let stream = futures::stream::once(async { Err::<Bytes, std::io::Error>(std::io::Error::other("connection dropped (simulated fault)")) });
                return Response::builder().status(200).header("content-type", "application/json").body(Body::from_stream(stream)).unwrap_or_default();
            }
            SimFault::Slow(d) => tokio::time::sleep(d).await,
        }
    }
    let token = headers.get("authorization").and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
    if token != Some(s.opts.api_key.as_str()) {
        lock(&s.counters).unauthorized += 1;
        return ok(StatusCode::UNAUTHORIZED, json!({"statusCode": 401, "error": "UNAUTHENTICATED", "messages": ["Token invalid."]}));
    }
    if let Err(wait) = s.take_token() {
        lock(&s.counters).throttled += 1;
        let mut r = ok(StatusCode::TOO_MANY_REQUESTS, json!({"statusCode": 429, "error": "TooManyRequestsException", "messages": [format!("Limit reached ({} tokens per {} ms)", s.opts.long_limit, s.opts.long_ttl.as_millis())]}));
        if s.opts.retry_after_on_429 {
            let secs = wait.as_secs_f64().ceil().max(1.0) as u64;
            r.headers_mut().insert("retry-after", secs.to_string().parse().expect("digits are a valid header"));
        }
        return r;
    }
    let params: Vec<(String, String)> = Query::try_from_uri(&uri).map(|q: Query<Vec<(String, String)>>| q.0).unwrap_or_default();
    let params = Params(params);
    let param = |k: &str| params.get(k);
    let json_body = || -> Result<Json, ApiError> {
        if body.is_empty() {
            return Err(ApiError::bad_request("the request has no body"));
        }
        serde_json::from_slice(&body).map_err(|e| ApiError::bad_request(format!("invalid JSON body: {e}")))
    };
    let result = match route(uri.path()) {
        Err(e) => Err(e),
        Ok(Route::Metadata) if method == Method::GET => Ok(metadata(&s)),
        Ok(Route::Batch(object)) if method == Method::POST => json_body().and_then(|b| create_many(&s, &object, &b)),
        Ok(Route::Many(object)) if method == Method::GET => find_many(&s, &object, &params),
        Ok(Route::Many(object)) if method == Method::POST => json_body().and_then(|b| create_one(&s, &object, &b)),
        Ok(Route::One(object, id)) if method == Method::GET => find_one(&s, &object, &id, &params),
        Ok(Route::One(object, id)) if method == Method::PATCH || method == Method::PUT => json_body().and_then(|b| update_one(&s, &object, &id, &b)),
        Ok(Route::One(object, id)) if method == Method::DELETE => delete_one(&s, &object, &id, param("soft_delete") == Some("true")),
        Ok(_) => Err(ApiError { status: 405, error: "MethodNotAllowed", message: format!("{method} is not allowed on {}", uri.path()) }),
    };
    result.unwrap_or_else(error)
}

/// The query string's parameters.
struct Params(Vec<(String, String)>);

impl Params {
    fn get(&self, k: &str) -> Option<&str> {
        self.0.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str())
    }
}

fn metadata(s: &Shared) -> Response {
    let store = lock(&s.store);
    let objects: Vec<Json> = store.objects.iter().map(|o| o.metadata()).collect();
    let n = objects.len();
    ok(StatusCode::OK, json!({"data": {"objects": objects}, "pageInfo": {"hasNextPage": false, "startCursor": null, "endCursor": null}, "totalCount": n}))
}

/// A record as the API returns it at `depth` (1+: the person's company embedded).
fn render(store: &Store, object: &str, r: &Map<String, Json>, depth: u8) -> Json {
    let mut out = r.clone();
    if depth >= 1 && object == "people" {
        let company = r.get("companyId").and_then(Json::as_str).and_then(|id| store.get("companies", id)).map(|c| Json::Object(c.clone()));
        out.insert("company".into(), company.unwrap_or(Json::Null));
    }
    Json::Object(out)
}

fn known_object(store: &Store, object: &str) -> Result<(), ApiError> {
    store.def(object).map(|_| ()).ok_or_else(|| ApiError::bad_request(format!("object '{object}' not found")))
}

fn find_many(s: &Shared, object: &str, params: &Params) -> Result<Response, ApiError> {
    let param = |k: &str| params.get(k);
    let store = lock(&s.store);
    known_object(&store, object)?;
    let def = store.def(object).expect("checked").clone();
    let limit = match param("limit") {
        Some(l) => l.parse::<usize>().map_err(|_| ApiError::bad_request(format!("limit '{l}' is invalid; it should be an integer")))?,
        None => s.opts.default_limit,
    }
    .min(s.opts.max_records);
    let depth: u8 = match param("depth") {
        Some(d) => d.parse().ok().filter(|d| *d <= 2).ok_or_else(|| ApiError::bad_request(format!("depth '{d}' is invalid; use 0, 1 or 2")))?,
        None => 1,
    };
    let filter = param("filter").filter(|f| !f.trim().is_empty()).map(parse_filter).transpose().map_err(ApiError::bad_request)?;
    if let Some(f) = &filter {
        for p in f.paths() {
            let top = p.split('.').next().unwrap_or(p);
            if !def.knows(top) {
                return Err(ApiError::bad_request(format!("field '{top}' does not exist in '{}' object", def.singular)));
            }
        }
    }
    let order = parse_order_by(param("order_by")).map_err(ApiError::bad_request)?;
    let mut rows: Vec<(Vec<Json>, &Map<String, Json>)> = store.query(object, filter.as_ref()).into_iter().map(|r| (sort_key(r, &order), r)).collect();
    let total = rows.len();
    rows.sort_by(|a, b| cmp_keys(&a.0, &b.0, &order));
    if let Some(c) = param("starting_after") {
        let key = decode_cursor(c).filter(|k| k.len() == order.len()).ok_or_else(|| ApiError::bad_request(format!("Invalid cursor '{c}'; a cursor only works with the order_by it came from")))?;
        rows.retain(|(k, _)| cmp_keys(k, &key, &order) == std::cmp::Ordering::Greater);
    }
    let has_next = rows.len() > limit;
    rows.truncate(limit);
    let start = rows.first().map(|(k, _)| encode_cursor(k));
    let end = rows.last().map(|(k, _)| encode_cursor(k));
    let data: Vec<Json> = rows.iter().map(|(_, r)| render(&store, object, r, depth)).collect();
    let mut env = Map::new();
    env.insert(object.to_string(), Json::Array(data));
    Ok(ok(StatusCode::OK, json!({"data": env, "pageInfo": {"hasNextPage": has_next, "startCursor": start, "endCursor": end}, "totalCount": total})))
}

fn find_one(s: &Shared, object: &str, id: &str, params: &Params) -> Result<Response, ApiError> {
    let store = lock(&s.store);
    known_object(&store, object)?;
    let singular = store.def(object).expect("checked").singular;
    let depth: u8 = params.get("depth").and_then(|d| d.parse().ok()).unwrap_or(1);
    let r = store.get(object, id).ok_or_else(|| ApiError::not_found(format!("Record with id {id} not found")))?;
    let mut env = Map::new();
    env.insert(singular.to_string(), render(&store, object, r, depth));
    Ok(ok(StatusCode::OK, json!({"data": env})))
}

fn create_one(s: &Arc<Shared>, object: &str, body: &Json) -> Result<Response, ApiError> {
    let (r, ev, singular) = {
        let mut store = lock(&s.store);
        let (r, ev) = store.create(object, body, Actor::Api)?;
        (r, ev, store.def(object).expect("created").singular)
    };
    webhooks::deliver(s, ev);
    let mut env = Map::new();
    env.insert(op_key("create", singular), Json::Object(r));
    Ok(ok(StatusCode::CREATED, json!({"data": env})))
}

fn create_many(s: &Arc<Shared>, object: &str, body: &Json) -> Result<Response, ApiError> {
    let items = body.as_array().ok_or_else(|| ApiError::bad_request("the body of a batch create must be a JSON array"))?;
    if items.is_empty() {
        return Err(ApiError::bad_request("the batch is empty; send at least one record"));
    }
    if items.len() > s.opts.batch_limit {
        return Err(ApiError::bad_request(format!("Maximum number of records to create is {} (got {})", s.opts.batch_limit, items.len())));
    }
    let (created, events) = {
        let mut store = lock(&s.store);
        known_object(&store, object)?;
        // All or nothing, like the database transaction behind it: undo on the first error.
        let mut created = vec![];
        let mut events = vec![];
        for (i, item) in items.iter().enumerate() {
            match store.create(object, item, Actor::Api) {
                Ok((r, ev)) => {
                    created.push(r);
                    events.push(ev);
                }
                Err(e) => {
                    for r in &created {
                        let _ = store.delete(object, r["id"].as_str().unwrap_or_default(), false);
                    }
                    return Err(ApiError::bad_request(format!("record {i}: {}", e.message)));
                }
            }
        }
        (created, events)
    };
    lock(&s.counters).batch_sizes.push(created.len());
    for ev in events {
        webhooks::deliver(s, ev);
    }
    let plural = object;
    let mut env = Map::new();
    env.insert(op_key("create", plural), Json::Array(created.into_iter().map(Json::Object).collect()));
    Ok(ok(StatusCode::CREATED, json!({"data": env})))
}

fn update_one(s: &Arc<Shared>, object: &str, id: &str, body: &Json) -> Result<Response, ApiError> {
    let (r, ev, singular) = {
        let mut store = lock(&s.store);
        known_object(&store, object)?;
        let (r, ev) = store.update(object, id, body)?;
        (r, ev, store.def(object).expect("checked").singular)
    };
    webhooks::deliver(s, ev);
    let mut env = Map::new();
    env.insert(op_key("update", singular), Json::Object(r));
    Ok(ok(StatusCode::OK, json!({"data": env})))
}

fn delete_one(s: &Arc<Shared>, object: &str, id: &str, soft: bool) -> Result<Response, ApiError> {
    let (r, ev, singular) = {
        let mut store = lock(&s.store);
        known_object(&store, object)?;
        let (r, ev) = store.delete(object, id, soft)?;
        (r, ev, store.def(object).expect("checked").singular)
    };
    webhooks::deliver(s, ev);
    let mut env = Map::new();
    env.insert(op_key(if soft { "delete" } else { "destroy" }, singular), Json::Object(r));
    Ok(ok(StatusCode::OK, json!({"data": env})))
}
