//! A Payamgostar CRM instance (API v2) on 127.0.0.1, faithful to API_FACTS §6.1 (itself
//! third-party [3P]): `POST /api/v2/auth/login` → `{expiresAt, accessToken, refreshToken}`
//! with `expiresAt` in Tehran time (`+03:30`, 7 fraction digits); every other call a JSON
//! POST with `Authorization: Bearer`; a token past its `expiresAt` answers 401. Objects
//! `person`, `organization` and `invoice/sales` under `/api/v2/crmobject/` with
//! `create/get/update/delete/find`; `find` takes `Queries` (`=`, `>=` on a field, names
//! case-insensitive) and `PageNumber` (from 0) / `PageSize` (clamped to `max_page_size`);
//! `identity/getIdentitiesSimple` pages persons (1) or organizations (2). Keys sent in
//! camelCase are stored PascalCase (.NET's case-insensitive JSON binding); records carry
//! `CrmId`, `CreatDate` (sic) and `ModifyDate`. Errors: `{"message": "<Persian>"}` with 400/401/404
//! (the real wording and shape are not documented [UNSURE]).
//!
//! Test hooks: seed, edit as a user, read back, expire every token, counters, faults.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use chrono::{FixedOffset, Utc};
use serde_json::{json, Map, Value as Json};

/// How to run the simulator.
#[derive(Clone, Debug)]
pub struct PayamgostarSimOptions {
    pub port: u16,
    pub username: String,
    pub password: String,
    /// How long a token lives (`expiresAt` = login time + this).
    pub token_ttl: Duration,
    /// `PageSize` is clamped to this.
    pub max_page_size: usize,
}

impl Default for PayamgostarSimOptions {
    fn default() -> Self {
        PayamgostarSimOptions { port: 0, username: "crm-api".into(), password: "crm-sim-pass".into(), token_ttl: Duration::from_secs(3600), max_page_size: 100 }
    }
}

/// Requests seen.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PayamgostarCounters {
    pub requests: u64,
    pub logins: u64,
    pub unauthorized: u64,
    /// By path (`/api/v2/crmobject/person/find`, …).
    pub by_path: BTreeMap<String, u64>,
}

impl PayamgostarCounters {
    pub fn path(&self, p: &str) -> u64 {
        self.by_path.get(p).copied().unwrap_or(0)
    }
}

#[derive(Default)]
struct State_ {
    /// object (`person`, `organization`, `invoice/sales`) → insertion seq → record.
    objects: BTreeMap<String, BTreeMap<u64, Map<String, Json>>>,
    seq: u64,
    tokens: HashMap<String, Instant>,
    counters: PayamgostarCounters,
    fail: Vec<(u64, u16)>,
}

struct Shared {
    opts: PayamgostarSimOptions,
    st: Mutex<State_>,
}

fn lock(m: &Mutex<State_>) -> MutexGuard<'_, State_> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn tehran_now() -> String {
    tehran_text(Utc::now())
}

/// `2025-12-16T11:43:53.1385332+03:30`: .NET's 7 fraction digits, Tehran offset.
fn tehran_text(t: chrono::DateTime<Utc>) -> String {
    let off = FixedOffset::east_opt(3 * 3600 + 1800).expect("valid offset");
    let l = t.with_timezone(&off);
    format!("{}.{:07}{}", l.format("%Y-%m-%dT%H:%M:%S"), chrono::Timelike::nanosecond(&l) / 100, l.format("%:z"))
}

/// .NET-style key: first letter upper-case.
fn pascal(k: &str) -> String {
    let mut c = k.chars();
    c.next().map(|f| f.to_uppercase().collect::<String>() + c.as_str()).unwrap_or_default()
}

fn field<'a>(m: &'a Map<String, Json>, name: &str) -> Option<&'a Json> {
    m.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v)
}

fn as_text(v: &Json) -> String {
    v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string())
}

fn err(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(json!({"message": message}))).into_response()
}

/// The Payamgostar simulator.
pub struct PayamgostarSim;

impl PayamgostarSim {
    pub async fn spawn(opts: PayamgostarSimOptions) -> PayamgostarSimHandle {
        Self::try_spawn(opts).await.expect("could not start the Payamgostar simulator")
    }

    pub async fn try_spawn(opts: PayamgostarSimOptions) -> std::io::Result<PayamgostarSimHandle> {
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], opts.port))).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared { opts: opts.clone(), st: Mutex::new(State_::default()) });
        let app = Router::new().fallback(handle).with_state(shared.clone());
        let server = crate::Server::serve(listener, app);
        Ok(PayamgostarSimHandle { base_url: format!("http://{addr}"), username: opts.username, password: opts.password, shared, _server: server })
    }
}

/// A running simulator; dropping it stops the server.
pub struct PayamgostarSimHandle {
    pub base_url: String,
    pub username: String,
    pub password: String,
    shared: Arc<Shared>,
    /// Held so that dropping the handle stops the server.
    _server: crate::Server,
}

impl PayamgostarSimHandle {
    /// Adds a record as a user would (keys PascalCase or camelCase); returns its `CrmId`.
    pub fn insert(&self, object: &str, fields: Json) -> String {
        let mut st = lock(&self.shared.st);
        insert(&mut st, object, fields.as_object().cloned().unwrap_or_default())
    }

    /// Merges `patch` into a record as a user would; bumps `ModifyDate`.
    pub fn edit_as_user(&self, object: &str, id: &str, patch: Json) -> Result<(), String> {
        let mut st = lock(&self.shared.st);
        let rec = find_mut(&mut st, object, id).ok_or_else(|| format!("no {object} {id}"))?;
        for (k, v) in patch.as_object().cloned().unwrap_or_default() {
            rec.insert(pascal(&k), v);
        }
        rec.insert("ModifyDate".into(), json!(tehran_now()));
        Ok(())
    }

    /// Every record of `object`, in creation order.
    pub fn records(&self, object: &str) -> Vec<Json> {
        lock(&self.shared.st).objects.get(object).map(|t| t.values().map(|m| Json::Object(m.clone())).collect()).unwrap_or_default()
    }

    pub fn count(&self, object: &str) -> usize {
        lock(&self.shared.st).objects.get(object).map(BTreeMap::len).unwrap_or(0)
    }

    /// Ends every session now: the next call with an old token answers 401.
    pub fn expire_tokens(&self) {
        lock(&self.shared.st).tokens.clear();
    }

    pub fn counters(&self) -> PayamgostarCounters {
        lock(&self.shared.st).counters.clone()
    }

    /// The next `count` requests answer HTTP `status` and do nothing.
    pub fn fail_next(&self, count: u64, status: u16) {
        lock(&self.shared.st).fail.push((count, status));
    }
}

fn insert(st: &mut State_, object: &str, fields: Map<String, Json>) -> String {
    st.seq += 1;
    let id = uuid::Uuid::new_v4().to_string();
    let now = tehran_now();
    let mut rec = Map::new();
    for (k, v) in fields {
        rec.insert(pascal(&k), v);
    }
    rec.insert("CrmId".into(), json!(id));
    rec.insert("CreatDate".into(), json!(now));
    rec.insert("ModifyDate".into(), json!(now));
    let seq = st.seq;
    st.objects.entry(object.to_string()).or_default().insert(seq, rec);
    id
}

fn find_mut<'a>(st: &'a mut State_, object: &str, id: &str) -> Option<&'a mut Map<String, Json>> {
    st.objects.get_mut(object)?.values_mut().find(|r| r.get("CrmId").and_then(Json::as_str) == Some(id))
}

fn matches(rec: &Map<String, Json>, q: &Json) -> bool {
    let (Some(f), Some(op)) = (q.get("Field").and_then(Json::as_str), q.get("Operator").and_then(Json::as_str)) else { return true };
    let want = q.get("Value").map(as_text).unwrap_or_default();
    let got = field(rec, f).map(as_text).unwrap_or_default();
    match op {
        "=" | "==" | "Equal" => got == want,
        ">=" | "GreaterThanOrEqual" => got >= want,
        _ => true,
    }
}

async fn handle(State(s): State<Arc<Shared>>, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let path = uri.path().trim_end_matches('/').to_string();
    let body: Map<String, Json> = serde_json::from_slice(&body).ok().and_then(|j: Json| j.as_object().cloned()).unwrap_or_default();
    let mut st = lock(&s.st);
    st.counters.requests += 1;
    *st.counters.by_path.entry(path.clone()).or_default() += 1;
    if let Some(f) = st.fail.first_mut() {
        let status = f.1;
        f.0 -= 1;
        if f.0 == 0 {
            st.fail.remove(0);
        }
        return err(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR), "خطای داخلی سرور");
    }
    if path == "/api/v2/auth/login" {
        let user = field(&body, "username").map(as_text).unwrap_or_default();
        let pass = field(&body, "password").map(as_text).unwrap_or_default();
        if user != s.opts.username || pass != s.opts.password {
            return err(StatusCode::UNAUTHORIZED, "نام کاربری یا کلمه عبور اشتباه است");
        }
        st.counters.logins += 1;
        let token = format!("pg-{}", uuid::Uuid::new_v4().simple());
        st.tokens.insert(token.clone(), Instant::now() + s.opts.token_ttl);
        let expires = tehran_text(Utc::now() + chrono::Duration::from_std(s.opts.token_ttl).unwrap_or_default());
        return (StatusCode::OK, axum::Json(json!({"expiresAt": expires, "accessToken": token, "refreshToken": uuid::Uuid::new_v4().to_string()}))).into_response();
    }
    let token = headers.get("authorization").and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer ")).unwrap_or_default().to_string();
    match st.tokens.get(&token) {
        Some(exp) if *exp > Instant::now() => {}
        _ => {
            st.counters.unauthorized += 1;
            return err(StatusCode::UNAUTHORIZED, "توکن نامعتبر است یا منقضی شده است");
        }
    }
    if path == "/api/v2/crmobject/identity/getIdentitiesSimple" {
        let kind = if field(&body, "identityType").and_then(Json::as_i64) == Some(2) { "organization" } else { "person" };
        let size = field(&body, "pageSize").and_then(Json::as_u64).unwrap_or(150).clamp(1, s.opts.max_page_size as u64) as usize;
        let page = field(&body, "pageNumber").and_then(Json::as_u64).unwrap_or(0) as usize;
        let rows: Vec<Json> = st.objects.get(kind).map(|t| t.values().skip(page * size).take(size).map(|r| json!({"identityId": r["CrmId"], "nickName": field(r, "NickName").cloned().unwrap_or(Json::Null), "customerNo": field(r, "CustomerNumber").cloned().unwrap_or(Json::Null)})).collect()).unwrap_or_default();
        return (StatusCode::OK, axum::Json(Json::Array(rows))).into_response();
    }
    let Some(rest) = path.strip_prefix("/api/v2/crmobject/") else { return err(StatusCode::NOT_FOUND, "مسیر یافت نشد") };
    let Some((object, op)) = rest.rsplit_once('/') else { return err(StatusCode::NOT_FOUND, "مسیر یافت نشد") };
    if !matches!(object, "person" | "organization" | "invoice/sales") {
        return err(StatusCode::NOT_FOUND, "مسیر یافت نشد");
    }
    let id = field(&body, "id").or_else(|| field(&body, "crmId")).map(as_text).unwrap_or_default();
    match op {
        "find" => {
            let size = field(&body, "PageSize").and_then(Json::as_u64).unwrap_or(150).clamp(1, s.opts.max_page_size as u64) as usize;
            let page = field(&body, "PageNumber").and_then(Json::as_u64).unwrap_or(0) as usize;
            let queries = field(&body, "Queries").and_then(Json::as_array).cloned().unwrap_or_default();
            let rows: Vec<Json> = st.objects.get(object).map(|t| t.values().filter(|r| queries.iter().all(|q| matches(r, q))).skip(page * size).take(size).map(|r| Json::Object(r.clone())).collect()).unwrap_or_default();
            (StatusCode::OK, axum::Json(Json::Array(rows))).into_response()
        }
        "get" => match find_mut(&mut st, object, &id) {
            Some(r) => (StatusCode::OK, axum::Json(Json::Object(r.clone()))).into_response(),
            None => err(StatusCode::NOT_FOUND, "رکورد مورد نظر یافت نشد"),
        },
        "create" => {
            let mut fields = body.clone();
            fields.retain(|k, _| !k.eq_ignore_ascii_case("id") && !k.eq_ignore_ascii_case("crmId"));
            let named = ["firstName", "lastName", "nickName", "name", "number", "identityId", "customerNumber"].iter().any(|k| field(&fields, k).map(|v| !as_text(v).trim().is_empty() && !v.is_null()).unwrap_or(false));
            if !named {
                return err(StatusCode::BAD_REQUEST, "فیلد نام الزامی است");
            }
            let id = insert(&mut st, object, fields);
            (StatusCode::OK, axum::Json(json!({"crmId": id}))).into_response()
        }
        "update" => match find_mut(&mut st, object, &id) {
            Some(r) => {
                for (k, v) in body {
                    if !k.eq_ignore_ascii_case("id") && !k.eq_ignore_ascii_case("crmId") {
                        r.insert(pascal(&k), v);
                    }
                }
                r.insert("ModifyDate".into(), json!(tehran_now()));
                (StatusCode::OK, axum::Json(json!({"crmId": id}))).into_response()
            }
            None => err(StatusCode::NOT_FOUND, "رکورد مورد نظر یافت نشد"),
        },
        "delete" => {
            let t = st.objects.entry(object.to_string()).or_default();
            let before = t.len();
            t.retain(|_, r| r.get("CrmId").and_then(Json::as_str) != Some(id.as_str()));
            if t.len() == before {
                err(StatusCode::NOT_FOUND, "رکورد مورد نظر یافت نشد")
            } else {
                (StatusCode::OK, axum::Json(json!({"succeeded": true}))).into_response()
            }
        }
        _ => err(StatusCode::NOT_FOUND, "مسیر یافت نشد"),
    }
}
