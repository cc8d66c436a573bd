//! The Zoho simulator's routes: accounts, CRM, WorkDrive.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use chrono::Utc;
use serde_json::{json, Map, Value as Json};
use sha2::Digest;

use super::{lock, zoho_time, Shared, SimRequest, State_, WdNode};

fn params(s: &str) -> HashMap<String, String> {
    reqwest::Url::parse(&format!("http://x/?{s}")).map(|u| u.query_pairs().into_owned().collect()).unwrap_or_default()
}

fn zerr(status: StatusCode, code: &str, message: &str) -> Response {
    (status, axum::Json(json!({"code": code, "details": {}, "message": message, "status": "error"}))).into_response()
}

fn ok(j: Json) -> Response {
    (StatusCode::OK, axum::Json(j)).into_response()
}

pub(super) async fn handle(State(sh): State<Arc<Shared>>, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let path = uri.path().to_string();
    let query = uri.query().unwrap_or("").to_string();
    let is_token = path.starts_with("/oauth/");
    let now_in = sh.in_flight.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
    {
        let mut st = lock(&sh.st);
        st.counters.max_in_flight = st.counters.max_in_flight.max(now_in);
    }
    if !is_token && !sh.opts.latency.is_zero() {
        tokio::time::sleep(sh.opts.latency).await;
    }
    let resp = answer(&sh, method, path, query, is_token, &headers, &body);
    sh.in_flight.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    resp
}

fn answer(sh: &Shared, method: Method, path: String, query: String, is_token: bool, headers: &HeaderMap, body: &[u8]) -> Response {
    let mut st = lock(&sh.st);
    if !is_token {
        let hay = format!("{path}?{query} {:?} {}", headers, String::from_utf8_lossy(body));
        if sh.opts.clients.iter().any(|c| hay.contains(&c.client_secret) || hay.contains(&c.refresh_token)) {
            st.counters.secret_leaks += 1;
        }
    }
    let (org, resp) = route(sh, &mut st, &method, &path, &query, headers, body);
    st.log.push(SimRequest { method: method.to_string(), path, query, org, status: resp.status().as_u16() });
    resp
}

fn route(sh: &Shared, st: &mut State_, method: &Method, path: &str, query: &str, headers: &HeaderMap, body: &[u8]) -> (Option<String>, Response) {
    let q = params(query);
    if path == "/oauth/v2/auth" && method == Method::GET {
        return (None, authorize(sh, st, &q));
    }
    if path.starts_with("/oauth/") && method == Method::POST {
        let mut p = q.clone();
        p.extend(params(&String::from_utf8_lossy(body)));
        return (None, token(sh, st, path, &p));
    }
    // Every API call needs a live access token.
    let token = headers.get("authorization").and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Zoho-oauthtoken ")).unwrap_or("").to_string();
    let org = match st.tokens.get(&token) {
        Some((org, exp)) if *exp > Instant::now() => org.clone(),
        _ => {
            st.counters.unauthorized += 1;
            return (None, zerr(StatusCode::UNAUTHORIZED, "INVALID_TOKEN", "invalid oauth token"));
        }
    };
    if let Some(n) = st.expire_after {
        if n == 0 {
            st.expire_after = None;
            st.tokens.clear();
            st.counters.unauthorized += 1;
            return (Some(org), zerr(StatusCode::UNAUTHORIZED, "INVALID_TOKEN", "invalid oauth token"));
        }
        st.expire_after = Some(n - 1);
    }
    if st.rate_limit_next > 0 {
        st.rate_limit_next -= 1;
        st.counters.rate_limited += 1;
        return (Some(org), zerr(StatusCode::TOO_MANY_REQUESTS, "TOO_MANY_REQUESTS", "You have made too many requests within a short period."));
    }
    let resp = if let Some(rest) = path.strip_prefix("/workdrive/api/v1") {
        workdrive(st, &org, method, rest, &q, headers, body)
    } else if let Some(rest) = path.strip_prefix("/crm/") {
        let (version, rest) = rest.split_once('/').unwrap_or((rest, ""));
        if !version.starts_with('v') {
            return (Some(org), zerr(StatusCode::NOT_FOUND, "INVALID_URL_PATTERN", "Please check if the URL trying to access is a correct one"));
        }
        let fields_mandatory = !matches!(version, "v2" | "v2.1");
        crm(st, &org, method, rest, &q, headers, body, fields_mandatory)
    } else {
        zerr(StatusCode::NOT_FOUND, "INVALID_URL_PATTERN", "Please check if the URL trying to access is a correct one")
    };
    (Some(org), resp)
}

fn authorize(sh: &Shared, st: &mut State_, q: &HashMap<String, String>) -> Response {
    let client_id = q.get("client_id").cloned().unwrap_or_default();
    let Some(c) = sh.opts.clients.iter().find(|c| c.client_id == client_id) else {
        return (StatusCode::BAD_REQUEST, "Invalid Client").into_response();
    };
    let Some(redirect) = q.get("redirect_uri") else { return (StatusCode::BAD_REQUEST, "redirect_uri missing").into_response() };
    if q.get("code_challenge").is_some() && q.get("code_challenge_method").map(String::as_str) != Some("S256") {
        return (StatusCode::BAD_REQUEST, "only S256 challenges").into_response();
    }
    let code = format!("1000.code{}", st.next_id());
    st.codes.insert(code.clone(), (c.client_id.clone(), q.get("code_challenge").cloned(), redirect.clone()));
    let mut u = match reqwest::Url::parse(redirect) {
        Ok(u) => u,
        Err(_) => return (StatusCode::BAD_REQUEST, "bad redirect_uri").into_response(),
    };
    u.query_pairs_mut().append_pair("code", &code).append_pair("location", &sh.opts.location).append_pair("accounts-server", &sh.base_url);
    if let Some(s) = q.get("state") {
        u.query_pairs_mut().append_pair("state", s);
    }
    (StatusCode::FOUND, [("location", u.to_string())]).into_response()
}

fn token(sh: &Shared, st: &mut State_, path: &str, p: &HashMap<String, String>) -> Response {
    let g = |k: &str| p.get(k).cloned().unwrap_or_default();
    let Some(c) = sh.opts.clients.iter().find(|c| c.client_id == g("client_id")).cloned() else {
        return ok(json!({"error": "invalid_client"}));
    };
    if path == "/oauth/v3/device/code" {
        let dc = format!("1000.device{}", st.next_id());
        st.devices.insert(dc.clone(), (c.client_id.clone(), 0));
        return ok(json!({"user_code": "ABCD-1234", "device_code": dc, "verification_url": format!("{}/device", sh.base_url), "interval": 1, "expires_in": 300}));
    }
    let secret_ok = g("client_secret") == c.client_secret;
    if secret_ok {
        st.counters.token_requests_with_secret += 1;
    }
    let grant = g("grant_type");
    match grant.as_str() {
        "refresh_token" => {
            if !secret_ok {
                return ok(json!({"error": "invalid_client"}));
            }
            if g("refresh_token") != c.refresh_token {
                return ok(json!({"error": "invalid_code"}));
            }
            let now = Instant::now();
            let window = sh.opts.refresh_window;
            let q = st.minted.entry(c.refresh_token.clone()).or_default();
            while q.front().is_some_and(|t| now.duration_since(*t) >= window) {
                q.pop_front();
            }
            if q.len() as u32 >= sh.opts.refresh_limit {
                st.counters.refresh_refused += 1;
                return (StatusCode::BAD_REQUEST, axum::Json(json!({"error": "Access Denied", "error_description": "You have made too many requests continuously. Please try again after some time."}))).into_response();
            }
            q.push_back(now);
        }
        "authorization_code" => {
            let Some((cid, challenge, redirect)) = st.codes.remove(&g("code")) else { return ok(json!({"error": "invalid_code"})) };
            if cid != c.client_id || !secret_ok {
                return ok(json!({"error": "invalid_client"}));
            }
            if p.get("redirect_uri").is_some_and(|r| *r != redirect) {
                return ok(json!({"error": "invalid_redirect_uri"}));
            }
            if let Some(ch) = challenge {
                let got = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(g("code_verifier").as_bytes()));
                if got != ch {
                    return ok(json!({"error": "invalid_code", "error_description": "code_verifier does not match the code_challenge"}));
                }
                st.counters.pkce_verified += 1;
            }
        }
        "device_token" => {
            let Some(d) = st.devices.get_mut(&g("code")) else { return ok(json!({"error": "invalid_code"})) };
            d.1 += 1;
            if d.1 < 2 {
                return ok(json!({"error": "authorization_pending"}));
            }
            if !secret_ok {
                return ok(json!({"error": "invalid_client"}));
            }
        }
        _ => return ok(json!({"error": "unsupported_grant_type"})),
    }
    let access = format!("1000.access{}.{}", st.next_id(), c.org);
    st.tokens.insert(access.clone(), (c.org.clone(), Instant::now() + sh.opts.token_ttl));
    *st.counters.tokens_issued.entry(grant.clone()).or_default() += 1;
    let mut j = json!({"access_token": access, "api_domain": sh.base_url, "token_type": "Bearer", "expires_in": sh.opts.token_ttl.as_secs(), "scope": "ZohoCRM.modules.ALL"});
    if grant != "refresh_token" {
        j["refresh_token"] = json!(c.refresh_token);
    }
    ok(j)
}

/// Zoho's text `equals` on search behaves like a word match [API_FACTS §3.3]: any value
/// containing the wanted words matches.
fn search_matches(v: &Json, want: &str) -> bool {
    let have = match v {
        Json::String(s) => s.to_lowercase(),
        Json::Null => return false,
        other => other.to_string().to_lowercase(),
    };
    let want = want.to_lowercase();
    have.split_whitespace().collect::<Vec<_>>().windows(want.split_whitespace().count().max(1)).any(|w| w.join(" ") == want.split_whitespace().collect::<Vec<_>>().join(" "))
}

fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut esc = false;
    for c in s.chars() {
        if esc {
            out.push(c);
            esc = false;
        } else if c == '\\' {
            esc = true;
        } else {
            out.push(c);
        }
    }
    out
}

fn project(r: &Map<String, Json>, fields: &Option<Vec<String>>) -> Json {
    match fields {
        None => Json::Object(r.clone()),
        Some(f) => {
            let mut m = Map::new();
            m.insert("id".into(), r.get("id").cloned().unwrap_or(Json::Null));
            for k in f {
                m.insert(k.clone(), r.get(k).cloned().unwrap_or(Json::Null));
            }
            Json::Object(m)
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn crm(st: &mut State_, org: &str, method: &Method, rest: &str, q: &HashMap<String, String>, headers: &HeaderMap, body: &[u8], fields_mandatory: bool) -> Response {
    let parts: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
    let fields: Option<Vec<String>> = q.get("fields").map(|f| f.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect());
    if let Some(f) = &fields {
        if f.len() > 50 {
            return zerr(StatusCode::BAD_REQUEST, "LIMIT_EXCEEDED", "maximum of 50 fields can be requested");
        }
    }
    let per_page: usize = q.get("per_page").and_then(|s| s.parse().ok()).unwrap_or(200);
    if per_page > 200 {
        return zerr(StatusCode::BAD_REQUEST, "INVALID_DATA", "per_page can be at most 200");
    }
    match (method.as_str(), parts.as_slice()) {
        ("GET", ["users"]) => ok(json!({"users": [{"id": "1", "full_name": format!("Sim Admin {org}"), "email": format!("admin@{org}.example.com")}]})),
        ("GET", ["settings", "fields"]) => {
            let module = q.get("module").cloned().unwrap_or_default();
            let o = st.orgs.get(org).expect("org exists");
            let mut names: std::collections::BTreeSet<String> = ["id", "Modified_Time", "Created_Time"].iter().map(|s| s.to_string()).collect();
            for r in o.modules.get(&module).map(|m| m.values().collect::<Vec<_>>()).unwrap_or_default() {
                names.extend(r.keys().cloned());
            }
            let f: Vec<Json> = names.iter().map(|n| json!({"api_name": n, "field_label": n.replace('_', " "), "data_type": if n.ends_with("_Time") { "datetime" } else if n == "Transfer_Complete" { "boolean" } else { "text" }, "read_only": n.ends_with("_Time") || n == "id"})).collect();
            ok(json!({"fields": f}))
        }
        ("GET", [module]) => {
            if fields.is_none() && fields_mandatory {
                return zerr(StatusCode::BAD_REQUEST, "REQUIRED_PARAM_MISSING", "One of the expected parameter is missing: fields");
            }
            let o = st.orgs.get(org).expect("org exists");
            let mut rows: Vec<&Map<String, Json>> = o.modules.get(*module).map(|m| m.values().collect()).unwrap_or_default();
            if let Some(ids) = q.get("ids") {
                let want: Vec<&str> = ids.split(',').collect();
                rows.retain(|r| r.get("id").and_then(Json::as_str).is_some_and(|i| want.contains(&i)));
            }
            if let Some(since) = headers.get("if-modified-since").and_then(|v| v.to_str().ok()).and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok()) {
                rows.retain(|r| r.get("Modified_Time").and_then(Json::as_str).and_then(|m| chrono::DateTime::parse_from_rfc3339(m).ok()).is_some_and(|m| m > since));
            }
            let key = |r: &Map<String, Json>, k: &str| r.get(k).and_then(Json::as_str).map(|s| chrono::DateTime::parse_from_rfc3339(s).map(|t| t.timestamp().to_string()).unwrap_or_else(|_| format!("{s:0>24}"))).unwrap_or_default();
            let sort_by = q.get("sort_by").cloned().unwrap_or_else(|| "id".into());
            rows.sort_by(|a, b| key(a, &sort_by).cmp(&key(b, &sort_by)).then(key(a, "id").cmp(&key(b, "id"))));
            if q.get("sort_order").map(String::as_str) != Some("asc") {
                rows.reverse();
            }
            let offset = match (q.get("page"), q.get("page_token")) {
                (Some(_), Some(_)) => return zerr(StatusCode::BAD_REQUEST, "INVALID_DATA", "page and page_token cannot be used together"),
                (_, Some(t)) => match t.strip_prefix("pt_").and_then(|s| s.parse::<usize>().ok()) {
                    Some(o) => o,
                    None => return zerr(StatusCode::BAD_REQUEST, "INVALID_DATA", "invalid page_token"),
                },
                (p, None) => {
                    let page: usize = p.and_then(|s| s.parse().ok()).unwrap_or(1).max(1);
                    let off = (page - 1) * per_page;
                    if off + per_page > 2000 {
                        return zerr(StatusCode::BAD_REQUEST, "LIMIT_REACHED", "You can only get the first 2000 records without using page_token");
                    }
                    off
                }
            };
            let total = rows.len();
            let data: Vec<Json> = rows.into_iter().skip(offset).take(per_page).map(|r| project(r, &fields)).collect();
            if data.is_empty() {
                return StatusCode::NO_CONTENT.into_response();
            }
            let more = offset + data.len() < total;
            let mut info = json!({"per_page": per_page, "count": data.len(), "page": offset / per_page + 1, "more_records": more, "sort_by": sort_by});
            if more {
                info["next_page_token"] = json!(format!("pt_{}", offset + data.len()));
            }
            ok(json!({"data": data, "info": info}))
        }
        ("GET", [module, "search"]) => {
            let Some(criteria) = q.get("criteria") else { return zerr(StatusCode::BAD_REQUEST, "REQUIRED_PARAM_MISSING", "criteria") };
            let inner = criteria.trim().trim_start_matches('(').trim_end_matches(')');
            let mut it = inner.splitn(3, ':');
            let (Some(field), Some("equals"), Some(value)) = (it.next(), it.next(), it.next()) else {
                return zerr(StatusCode::BAD_REQUEST, "INVALID_QUERY", "only (field:equals:value) is simulated");
            };
            let value = unescape(value);
            let o = st.orgs.get(org).expect("org exists");
            let rows: Vec<Json> = o.modules.get(*module).map(|m| m.values().filter(|r| r.get(field).is_some_and(|v| search_matches(v, &value))).map(|r| project(r, &fields)).collect()).unwrap_or_default();
            let page: usize = q.get("page").and_then(|s| s.parse().ok()).unwrap_or(1).max(1);
            let data: Vec<Json> = rows.iter().skip((page - 1) * per_page).take(per_page).cloned().collect();
            if data.is_empty() {
                return StatusCode::NO_CONTENT.into_response();
            }
            let more = page * per_page < rows.len();
            ok(json!({"data": data, "info": {"per_page": per_page, "count": data.len(), "page": page, "more_records": more}}))
        }
        ("PUT" | "POST", [module]) => {
            let j: Json = serde_json::from_slice(body).unwrap_or(Json::Null);
            let Some(items) = j.get("data").and_then(Json::as_array) else { return zerr(StatusCode::BAD_REQUEST, "INVALID_DATA", "body must have data[]") };
            if items.len() > 100 {
                return zerr(StatusCode::BAD_REQUEST, "LIMIT_EXCEEDED", "only 100 records can be written per call");
            }
            let now = zoho_time(Utc::now());
            let mut results = vec![];
            let mut all_ok = true;
            for it in items {
                let Some(m) = it.as_object() else { continue };
                let id = if method == Method::PUT { m.get("id").and_then(Json::as_str).map(str::to_string) } else { Some(st.next_id()) };
                let recs = st.orgs.get_mut(org).expect("org").modules.entry(module.to_string()).or_default();
                match id {
                    Some(id) if method == Method::POST || recs.contains_key(&id) => {
                        let r = recs.entry(id.clone()).or_insert_with(|| {
                            let mut n = Map::new();
                            n.insert("id".into(), json!(id));
                            n.insert("Created_Time".into(), json!(now));
                            n
                        });
                        for (k, v) in m {
                            if k != "id" {
                                r.insert(k.clone(), v.clone());
                            }
                        }
                        r.insert("Modified_Time".into(), json!(now));
                        results.push(json!({"code": "SUCCESS", "status": "success", "message": if method == Method::PUT { "record updated" } else { "record added" }, "details": {"id": id, "Modified_Time": now}}));
                    }
                    _ => {
                        all_ok = false;
                        results.push(json!({"code": "INVALID_DATA", "status": "error", "message": "the id given seems to be invalid", "details": {"api_name": "id"}}));
                    }
                }
            }
            let status = if all_ok { if method == Method::POST { StatusCode::CREATED } else { StatusCode::OK } } else { StatusCode::MULTI_STATUS };
            (status, axum::Json(json!({"data": results}))).into_response()
        }
        ("DELETE", [module]) => {
            let ids: Vec<String> = q.get("ids").map(|s| s.split(',').map(str::to_string).collect()).unwrap_or_default();
            if ids.len() > 100 {
                return zerr(StatusCode::BAD_REQUEST, "LIMIT_EXCEEDED", "only 100 records can be deleted per call");
            }
            let recs = st.orgs.get_mut(org).expect("org").modules.entry(module.to_string()).or_default();
            let results: Vec<Json> = ids
                .iter()
                .map(|id| match recs.remove(id) {
                    Some(_) => json!({"code": "SUCCESS", "status": "success", "message": "record deleted", "details": {"id": id}}),
                    None => json!({"code": "INVALID_DATA", "status": "error", "message": "the related id given seems to be invalid", "details": {"id": id}}),
                })
                .collect();
            ok(json!({"data": results}))
        }
        ("GET", [module, id]) => {
            let o = st.orgs.get(org).expect("org exists");
            match o.modules.get(*module).and_then(|m| m.get(*id)) {
                Some(r) => ok(json!({"data": [project(r, &fields)]})),
                None => StatusCode::NO_CONTENT.into_response(),
            }
        }
        ("GET", [_module, id, "Attachments"]) => {
            if fields.is_none() && fields_mandatory {
                return zerr(StatusCode::BAD_REQUEST, "REQUIRED_PARAM_MISSING", "One of the expected parameter is missing: fields");
            }
            let o = st.orgs.get(org).expect("org exists");
            let list: Vec<Json> = o.attachments.iter().filter(|a| a.record == *id).map(|a| json!({"id": a.id, "File_Name": a.file_name, "Size": a.bytes.len().to_string(), "Parent_Id": {"id": a.record}})).collect();
            if list.is_empty() {
                return StatusCode::NO_CONTENT.into_response();
            }
            ok(json!({"data": list, "info": {"per_page": per_page, "count": list.len(), "page": 1, "more_records": false}}))
        }
        ("GET", [_module, id, "Attachments", att]) => {
            if st.fail_downloads.contains(*att) {
                return zerr(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL_ERROR", "Internal Server Error");
            }
            let o = st.orgs.get(org).expect("org exists");
            match o.attachments.iter().find(|a| a.id == *att && a.record == *id) {
                Some(a) => (StatusCode::OK, [("content-type", "application/octet-stream".to_string()), ("content-disposition", format!("attachment; filename=\"{}\"", a.file_name))], a.bytes.clone()).into_response(),
                None => zerr(StatusCode::NOT_FOUND, "INVALID_DATA", "the attachment does not exist"),
            }
        }
        _ => zerr(StatusCode::NOT_FOUND, "INVALID_URL_PATTERN", "Please check if the URL trying to access is a correct one"),
    }
}

/// Parts of a multipart body: name → (filename, bytes).
fn multipart(headers: &HeaderMap, body: &[u8]) -> Option<HashMap<String, (Option<String>, Vec<u8>)>> {
    let ct = headers.get("content-type")?.to_str().ok()?;
    let boundary = ct.split(';').find_map(|p| p.trim().strip_prefix("boundary="))?.trim_matches('"');
    let delim = format!("--{boundary}").into_bytes();
    let mut out = HashMap::new();
    let mut pos = 0;
    let find = |hay: &[u8], needle: &[u8], from: usize| hay[from..].windows(needle.len()).position(|w| w == needle).map(|p| p + from);
    while let Some(start) = find(body, &delim, pos) {
        let after = start + delim.len();
        if body[after..].starts_with(b"--") {
            break;
        }
        let head_end = find(body, b"\r\n\r\n", after)?;
        let head = String::from_utf8_lossy(&body[after..head_end]).to_string();
        let next = find(body, &delim, head_end + 4)?;
        let content = body[head_end + 4..next.saturating_sub(2)].to_vec();
        let attr = |k: &str| head.split(';').find_map(|p| p.trim().strip_prefix(&format!("{k}=")).map(|v| v.trim_matches('"').to_string()));
        if let Some(name) = attr("name") {
            out.insert(name, (attr("filename"), content));
        }
        pos = next;
    }
    Some(out)
}

fn node_json(n: &WdNode) -> Json {
    json!({"id": n.id, "type": "files", "attributes": {"name": n.name, "type": if n.folder { "folder" } else { "file" }, "parent_id": n.parent, "is_folder": n.folder, "modified_time_in_millisecond": n.modified_ms}})
}

fn workdrive(st: &mut State_, org: &str, method: &Method, rest: &str, q: &HashMap<String, String>, headers: &HeaderMap, body: &[u8]) -> Response {
    let parts: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
    let wd_err = |status: StatusCode, title: &str| (status, axum::Json(json!({"errors": [{"id": "F000", "title": title}]}))).into_response();
    match (method.as_str(), parts.as_slice()) {
        ("GET", ["files", id, "files"]) => {
            let o = st.orgs.get(org).expect("org exists");
            if !o.nodes.get(*id).is_some_and(|n| n.folder) {
                return wd_err(StatusCode::NOT_FOUND, "The resource does not exist");
            }
            let want = q.get("filter[type]").map(String::as_str).unwrap_or("all");
            let limit: usize = q.get("page[limit]").and_then(|s| s.parse().ok()).unwrap_or(50).min(50);
            let offset: usize = q.get("page[offset]").and_then(|s| s.parse().ok()).unwrap_or(0);
            let data: Vec<Json> = o.nodes.values().filter(|n| n.parent == *id && (want != "folder" || n.folder)).skip(offset).take(limit).map(node_json).collect();
            ok(json!({"data": data}))
        }
        ("POST", ["upload"]) => {
            let Some(parts) = multipart(headers, body) else { return wd_err(StatusCode::BAD_REQUEST, "multipart body expected") };
            let text = |k: &str| parts.get(k).map(|(_, b)| String::from_utf8_lossy(b).to_string());
            let Some((_, content)) = parts.get("content").cloned() else { return wd_err(StatusCode::BAD_REQUEST, "content missing") };
            let parent = text("parent_id").unwrap_or_default();
            let name = text("filename").or_else(|| parts.get("content").and_then(|(f, _)| f.clone())).unwrap_or_default();
            let override_ = text("override-name-exist").as_deref() == Some("true");
            if st.fail_uploads.contains(&name) {
                return wd_err(StatusCode::INTERNAL_SERVER_ERROR, "Unknown error");
            }
            let id = format!("wd{}", st.next_id());
            let o = st.orgs.get_mut(org).expect("org exists");
            if !o.nodes.get(&parent).is_some_and(|n| n.folder) {
                return wd_err(StatusCode::UNAUTHORIZED, "Parent folder not found or not permitted");
            }
            if let Some(existing) = o.nodes.values().find(|n| n.parent == parent && n.name == name && !n.folder).map(|n| n.id.clone()) {
                if !override_ {
                    return wd_err(StatusCode::CONFLICT, "A file with this name already exists");
                }
                o.nodes.remove(&existing);
            }
            let n = WdNode { id: id.clone(), name: name.clone(), parent: parent.clone(), folder: false, bytes: content, modified_ms: Utc::now().timestamp_millis() };
            o.nodes.insert(id.clone(), n);
            ok(json!({"data": [{"attributes": {"resource_id": id, "FileName": name, "parent_id": parent}, "type": "files"}]}))
        }
        _ => wd_err(StatusCode::NOT_FOUND, "Invalid URL"),
    }
}
