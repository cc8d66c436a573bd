//! A Siagh finance server on 127.0.0.1, faithful to API_FACTS §6.2 (one third-party source
//! [3P]; the parts it does not say are marked [UNSURE] and made plausible):
//! - `POST /GeneralApi/LoginUser` `{"UserName","Password":<MD5 hex upper-case>}` →
//!   `{"SessionId","Token","UserCode","UserName","BranchCode","BranchName","IsAdminUser",
//!   "FiscalYear","SystemDate":"1404/09/04","SystemTime"}`; a wrong password answers HTTP 200
//!   with `Errors[]` (ErrError, Persian) and no `SessionId` [UNSURE].
//! - Every other call needs `Authorization: <SessionId>` raw (a `Bearer` prefix is refused).
//!   An unknown or ended session answers 401 with `Errors[]` saying, in Persian, that the
//!   session expired [UNSURE: shape].
//! - `POST /api/Sgh/GEN/Gn_Web_Users/GetAll` with `{}` or a filter (`{"TelNo":"0912…"}`)
//!   → every matching contact, no paging.
//! - `POST /BpmsApi/SaveFormData` with `formId`, `ctrlValues` (`table.field=value|…`),
//!   `dataRows` (a JSON string) → `{"Errors":[…],"FinalMessages":[],"ReturnValue",
//!   "ReturnCode","ReturnParams"}`. Form `2BFDA` saves a contact (a `…code=` control edits
//!   that contact), `43D81` a pre-invoice (its customer must exist, its date be Jalali).
//!
//! Test hooks: seed, edit as a user, read back, end sessions, counters, faults.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::{json, Map, Value as Json};

/// How to run the simulator.
#[derive(Clone, Debug)]
pub struct SiaghSimOptions {
    pub port: u16,
    pub username: String,
    pub password: String,
    /// A session ends this long after login.
    pub session_ttl: Duration,
    pub fiscal_year: i64,
    pub contact_form_id: String,
    pub pre_invoice_form_id: String,
}

impl Default for SiaghSimOptions {
    fn default() -> Self {
        SiaghSimOptions { port: 0, username: "finance-api".into(), password: "siagh-sim-pass".into(), session_ttl: Duration::from_secs(3600), fiscal_year: 1404, contact_form_id: "2BFDA".into(), pre_invoice_form_id: "43D81".into() }
    }
}

/// Requests seen.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SiaghCounters {
    pub requests: u64,
    pub logins: u64,
    pub failed_logins: u64,
    /// Calls refused because the session was unknown or had ended.
    pub session_refused: u64,
    pub by_path: BTreeMap<String, u64>,
    /// `SaveFormData` calls by form id.
    pub saves: BTreeMap<String, u64>,
}

/// A pre-invoice as saved: header controls by code, and its rows.
#[derive(Clone, Debug, PartialEq)]
pub struct SavedPreInvoice {
    pub code: String,
    pub header: BTreeMap<String, String>,
    pub rows: Vec<Json>,
}

#[derive(Default)]
struct St {
    contacts: BTreeMap<u64, Map<String, Json>>,
    next_contact: u64,
    pre_invoices: Vec<SavedPreInvoice>,
    sessions: HashMap<String, Instant>,
    counters: SiaghCounters,
    fail: Vec<(u64, u16)>,
}

struct Shared {
    opts: SiaghSimOptions,
    st: Mutex<St>,
}

fn lock(m: &Mutex<St>) -> MutexGuard<'_, St> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn errors(kind: &str, code: &str, description: &str) -> Json {
    json!([{"ErrorType": kind, "ErrorCode": code, "Description": description, "ControlName": null}])
}

fn refuse(description: &str, code: &str) -> Response {
    (StatusCode::OK, axum::Json(json!({"Errors": errors("ErrError", code, description), "FinalMessages": [], "ReturnValue": false, "ReturnCode": "", "ReturnParams": ""}))).into_response()
}

/// The contact key a `table.field` control code writes (`gn_web_users.telno` → `TelNo`).
fn contact_key(code: &str) -> String {
    let f = code.rsplit('.').next().unwrap_or(code).to_ascii_lowercase();
    match f.as_str() {
        "name" => "Name".into(),
        "telno" => "TelNo".into(),
        "email" => "Email".into(),
        "nationalcode" => "NationalCode".into(),
        "address" => "Address".into(),
        "postalcode" => "PostalCode".into(),
        "code" => "Code".into(),
        _ => f,
    }
}

/// `a.b=v|c.d=w` → pairs (a value may hold `=`).
fn parse_ctrl(s: &str) -> Vec<(String, String)> {
    s.split('|').filter(|p| !p.trim().is_empty()).filter_map(|p| p.split_once('=').map(|(k, v)| (k.trim().to_string(), v.to_string()))).collect()
}

/// Today as Siagh's Jalali `SystemDate` (the same arithmetic as the connector's, kept here
/// so the simulator does not depend on the connector it tests: a 33-year-cycle estimate is
/// enough for a display value).
fn system_date() -> String {
    let today = chrono::Utc::now().date_naive();
    let epoch = chrono::NaiveDate::from_ymd_opt(2025, 3, 21).expect("valid date"); // 1404/01/01
    let days = (today - epoch).num_days();
    if (0..365).contains(&days) {
        let (m, d) = if days < 186 { (1 + days / 31, days % 31 + 1) } else { (7 + (days - 186) / 30, (days - 186) % 30 + 1) };
        format!("1404/{m:02}/{d:02}")
    } else {
        "1404/09/04".into()
    }
}

/// The Siagh simulator.
pub struct SiaghSim;

impl SiaghSim {
    pub async fn spawn(opts: SiaghSimOptions) -> SiaghSimHandle {
        Self::try_spawn(opts).await.expect("could not start the Siagh simulator")
    }

    pub async fn try_spawn(opts: SiaghSimOptions) -> std::io::Result<SiaghSimHandle> {
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], opts.port))).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared { opts: opts.clone(), st: Mutex::new(St { next_contact: 10001, ..St::default() }) });
        let app = Router::new().fallback(handle).with_state(shared.clone());
        let server = crate::Server::serve(listener, app);
        Ok(SiaghSimHandle { base_url: format!("http://{addr}"), username: opts.username, password: opts.password, shared, _server: server })
    }
}

/// A running simulator; dropping it stops the server.
pub struct SiaghSimHandle {
    pub base_url: String,
    pub username: String,
    pub password: String,
    shared: Arc<Shared>,
    /// Held so that dropping the handle stops the server.
    _server: crate::Server,
}

impl SiaghSimHandle {
    /// Adds a contact as a user would; returns its `Code`.
    pub fn insert_contact(&self, fields: Json) -> String {
        let mut st = lock(&self.shared.st);
        let code = st.next_contact;
        st.next_contact += 1;
        let mut m = fields.as_object().cloned().unwrap_or_default();
        m.insert("Code".into(), json!(code.to_string()));
        st.contacts.insert(code, m);
        code.to_string()
    }

    /// Adds `n` sample customers (Persian names, mobile numbers in ASCII digits, national
    /// codes); returns their codes in order.
    pub fn seed_customers(&self, n: usize) -> Vec<String> {
        const FIRST: &[&str] = &["علی", "مریم", "رضا", "زهرا", "حسین", "فاطمه", "محمد", "سارا"];
        const LAST: &[&str] = &["رضایی", "محمدی", "حسینی", "احمدی", "کریمی", "موسوی", "جعفری", "صادقی"];
        (0..n)
            .map(|i| {
                let name = format!("{} {}", FIRST[i % FIRST.len()], LAST[(i / FIRST.len()) % LAST.len()]);
                self.insert_contact(json!({"Name": name, "TelNo": format!("0912{:07}", 1_000_000 + i), "Email": format!("customer{i}@example.ir"), "NationalCode": format!("{:010}", 1_000_000_000u64 + i as u64)}))
            })
            .collect()
    }

    /// Changes a contact as a user in Siagh would.
    pub fn edit_as_user(&self, code: &str, patch: Json) -> Result<(), String> {
        let mut st = lock(&self.shared.st);
        let c = code.parse::<u64>().ok().and_then(|k| st.contacts.get_mut(&k)).ok_or_else(|| format!("no contact {code}"))?;
        for (k, v) in patch.as_object().cloned().unwrap_or_default() {
            c.insert(k, v);
        }
        Ok(())
    }

    pub fn contacts(&self) -> Vec<Json> {
        lock(&self.shared.st).contacts.values().map(|m| Json::Object(m.clone())).collect()
    }

    pub fn pre_invoices(&self) -> Vec<SavedPreInvoice> {
        lock(&self.shared.st).pre_invoices.clone()
    }

    /// Ends every session now.
    pub fn end_sessions(&self) {
        lock(&self.shared.st).sessions.clear();
    }

    pub fn counters(&self) -> SiaghCounters {
        lock(&self.shared.st).counters.clone()
    }

    /// The next `count` requests answer HTTP `status` and do nothing.
    pub fn fail_next(&self, count: u64, status: u16) {
        lock(&self.shared.st).fail.push((count, status));
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
        return (StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR), axum::Json(json!({"Errors": errors("ErrError", "500", "خطای داخلی سرور")}))).into_response();
    }
    if path == "/GeneralApi/LoginUser" {
        let user = body.get("UserName").and_then(Json::as_str).unwrap_or_default();
        let pass = body.get("Password").and_then(Json::as_str).unwrap_or_default();
        let want = crosswalk_core::md5::md5_hex_upper(&s.opts.password);
        // Siagh wants the digest upper-case (API_FACTS §6.2): a plain password is refused.
        if user != s.opts.username || pass != want {
            st.counters.failed_logins += 1;
            return (StatusCode::OK, axum::Json(json!({"SessionId": null, "Errors": errors("ErrError", "1001", "نام کاربری یا کلمه عبور اشتباه است")}))).into_response();
        }
        st.counters.logins += 1;
        let session = uuid::Uuid::new_v4().to_string();
        st.sessions.insert(session.clone(), Instant::now() + s.opts.session_ttl);
        let now = chrono::Utc::now().with_timezone(&chrono::FixedOffset::east_opt(12600).expect("valid offset"));
        return (StatusCode::OK, axum::Json(json!({
            "SessionId": session, "Token": format!("tok-{}", uuid::Uuid::new_v4().simple()), "UserCode": "1", "UserName": user,
            "ContactCode": "1", "BranchCode": "1", "BranchName": "دفتر مرکزی", "IsAdminUser": false,
            "FiscalYear": s.opts.fiscal_year, "SystemDate": system_date(), "SystemTime": now.format("%H:%M").to_string(),
        })))
        .into_response();
    }
    let session = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    match st.sessions.get(&session) {
        Some(exp) if *exp > Instant::now() => {}
        _ => {
            st.counters.session_refused += 1;
            return (StatusCode::UNAUTHORIZED, axum::Json(json!({"Errors": errors("ErrError", "401", "نشست کاربر منقضی شده است. لطفا مجددا وارد شوید")}))).into_response();
        }
    }
    match path.as_str() {
        "/api/Sgh/GEN/Gn_Web_Users/GetAll" => {
            let filters: Vec<(String, String)> = body.iter().map(|(k, v)| (k.clone(), v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string()))).filter(|(_, v)| !v.is_empty()).collect();
            let rows: Vec<Json> = st
                .contacts
                .values()
                .filter(|c| filters.iter().all(|(k, v)| c.iter().any(|(ck, cv)| ck.eq_ignore_ascii_case(k) && cv.as_str().map(str::to_string).unwrap_or_else(|| cv.to_string()) == *v)))
                .map(|c| Json::Object(c.clone()))
                .collect();
            (StatusCode::OK, axum::Json(Json::Array(rows))).into_response()
        }
        "/BpmsApi/SaveFormData" => {
            let form = body.get("formId").and_then(Json::as_str).unwrap_or_default().to_string();
            *st.counters.saves.entry(form.clone()).or_default() += 1;
            let ctrl = parse_ctrl(body.get("ctrlValues").and_then(Json::as_str).unwrap_or_default());
            let ok = |code: &str| (StatusCode::OK, axum::Json(json!({"Errors": errors("ErrSuccs", "0", "عملیات با موفقیت انجام شد"), "FinalMessages": [], "ReturnValue": true, "ReturnCode": code, "ReturnParams": ""}))).into_response();
            if form == s.opts.contact_form_id {
                let values: Vec<(String, String)> = ctrl.iter().map(|(k, v)| (contact_key(k), v.clone())).collect();
                if let Some((_, code)) = values.iter().find(|(k, _)| k == "Code") {
                    let Some(c) = code.parse::<u64>().ok().and_then(|k| st.contacts.get_mut(&k)) else { return refuse("مخاطب با این کد یافت نشد", "1204") };
                    for (k, v) in values.iter().filter(|(k, _)| k != "Code") {
                        c.insert(k.clone(), json!(v));
                    }
                    return ok(code);
                }
                if !values.iter().any(|(k, v)| k == "Name" && !v.trim().is_empty()) {
                    return refuse("نام مخاطب الزامی است", "1201");
                }
                let code = st.next_contact;
                st.next_contact += 1;
                let mut m: Map<String, Json> = values.into_iter().map(|(k, v)| (k, json!(v))).collect();
                m.insert("Code".into(), json!(code.to_string()));
                st.contacts.insert(code, m);
                ok(&code.to_string())
            } else if form == s.opts.pre_invoice_form_id {
                let header: BTreeMap<String, String> = ctrl.into_iter().collect();
                let customer = header.iter().find(|(k, _)| k.ends_with(".customercode")).map(|(_, v)| v.clone()).unwrap_or_default();
                if !st.contacts.values().any(|c| c.get("Code").and_then(Json::as_str) == Some(customer.as_str())) {
                    return refuse(&format!("مشتری با کد {customer} یافت نشد"), "1302");
                }
                let date = header.iter().find(|(k, _)| k.ends_with(".date")).map(|(_, v)| v.clone()).unwrap_or_default();
                let parts: Vec<&str> = date.split('/').collect();
                if parts.len() != 3 || parts[0].len() != 4 || !parts[0].starts_with('1') {
                    return refuse("تاریخ پیش فاکتور نامعتبر است", "1303");
                }
                let rows: Vec<Json> = body.get("dataRows").and_then(Json::as_str).and_then(|r| serde_json::from_str(r).ok()).unwrap_or_default();
                if rows.is_empty() {
                    return refuse("پیش فاکتور باید حداقل یک ردیف داشته باشد", "1304");
                }
                let code = format!("PF-{}", st.pre_invoices.len() + 1);
                st.pre_invoices.push(SavedPreInvoice { code: code.clone(), header, rows });
                ok(&code)
            } else {
                refuse(&format!("فرم {form} یافت نشد"), "1100")
            }
        }
        _ => (StatusCode::NOT_FOUND, axum::Json(json!({"Errors": errors("ErrError", "404", "آدرس یافت نشد")}))).into_response(),
    }
}
