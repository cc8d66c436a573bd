//! Zoho CRM transport and the Records API (API_FACTS §3.3–3.5).
//!
//! Every call goes through [`ZohoClient::call`]: at most `max_concurrency` in flight
//! (a semaphore; Zoho answers 429 past the edition's concurrency), the cached access token
//! (`Authorization: Zoho-oauthtoken …`), one refresh-and-retry on 401, back-off on 429 and
//! (for reads) on 5xx and time-outs. Each CRM call is counted: Zoho charges credits per
//! call (Get Records = 1 [DOC]); we count one credit per CRM call answered, which is exact
//! for reads and an upper bound for small batches [UNSURE for update/search pricing].

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crosswalk_core::{ConnectorError, Secret};
use reqwest::Method;
use serde_json::{json, Map, Value as Json};
use tokio::sync::Semaphore;

use super::config::ZohoConfig;
use super::oauth::{OAuthClient, TokenManager};
use crate::http::{map_status, parse_retry_after, RetryPolicy, USER_AGENT};

/// Which API a path belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Api {
    /// `{api_domain}/crm/{version}{path}`.
    Crm,
    /// `{workdrive_url}{path}`.
    WorkDrive,
}

/// A request body.
#[derive(Clone, Debug)]
pub enum Body {
    None,
    Json(Json),
    /// `multipart/form-data` with this boundary.
    Multipart { boundary: String, bytes: Vec<u8> },
}

/// A 2xx answer.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub bytes: Vec<u8>,
    pub headers: reqwest::header::HeaderMap,
}

impl Answer {
    /// The JSON body (`null` for 204 / empty).
    pub fn json(&self) -> Result<Json, ConnectorError> {
        if self.status == 204 || self.bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Json::Null);
        }
        serde_json::from_slice(&self.bytes).map_err(|e| ConnectorError::Other(format!("Zoho answered with something that is not JSON ({e}); is the api_url right?")))
    }
}

/// Calls made in a run, for the summary.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CallStats {
    /// CRM API calls answered (≈ API credits spent).
    pub crm_credits: u64,
    pub workdrive_calls: u64,
    /// 429 answers that were waited out.
    pub rate_limited: u64,
    /// Access tokens minted.
    pub token_refreshes: u64,
    /// 401s answered by refreshing the token.
    pub unauthorized: u64,
}

/// One page of Get Records.
#[derive(Debug, Default)]
pub struct RecordsPage {
    pub data: Vec<Map<String, Json>>,
    pub more: bool,
    pub next_page_token: Option<String>,
}

/// Where the next page of a listing starts.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PageCursor {
    /// 1-based page number (used while within the first `page_limit_records`).
    pub page: u32,
    /// `page_token` for records past that.
    #[serde(default)]
    pub token: Option<String>,
}

/// A record attachment (the Attachments related list).
#[derive(Clone, Debug, PartialEq)]
pub struct Attachment {
    pub id: String,
    pub file_name: String,
    pub size: Option<u64>,
}

/// A Zoho CRM + WorkDrive client for one connection.
#[derive(Debug)]
pub struct ZohoClient {
    pub config: ZohoConfig,
    http: reqwest::Client,
    tokens: TokenManager,
    slots: Semaphore,
    retry: RetryPolicy,
    crm_calls: AtomicU64,
    wd_calls: AtomicU64,
    rate_limited: AtomicU64,
    unauthorized: AtomicU64,
}

impl ZohoClient {
    pub fn new(config: ZohoConfig, client_secret: Option<Secret>, refresh_token: Secret, accounts_server: Option<&str>) -> Result<ZohoClient, ConnectorError> {
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout.min(Duration::from_secs(10)))
            .user_agent(USER_AGENT)
            .build()
            .map_err(|e| ConnectorError::Other(format!("could not set up the HTTP client: {e}")))?;
        let mut oauth = OAuthClient::new(&config, client_secret)?;
        if let Some(a) = accounts_server.filter(|a| a.starts_with("http")) {
            oauth = oauth.at(a);
        }
        let tokens = TokenManager::new(oauth, refresh_token, &config);
        let retry = RetryPolicy { max_attempts: config.max_attempts, base_delay: Duration::from_millis(500), ..RetryPolicy::default() };
        Ok(ZohoClient {
            slots: Semaphore::new(config.max_concurrency),
            http,
            tokens,
            retry,
            config,
            crm_calls: AtomicU64::new(0),
            wd_calls: AtomicU64::new(0),
            rate_limited: AtomicU64::new(0),
            unauthorized: AtomicU64::new(0),
        })
    }

    /// Keeps the access token in `cache` between runs.
    pub fn with_token_cache(mut self, cache: std::sync::Arc<dyn super::oauth::TokenCache>) -> Self {
        self.tokens = self.tokens.with_cache(cache);
        self
    }

    /// Uses `policy` for retries (tests shorten the waits).
    pub fn with_retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    pub fn stats(&self) -> CallStats {
        CallStats {
            crm_credits: self.crm_calls.load(Ordering::Relaxed),
            workdrive_calls: self.wd_calls.load(Ordering::Relaxed),
            rate_limited: self.rate_limited.load(Ordering::Relaxed),
            token_refreshes: self.tokens.refreshes(),
            unauthorized: self.unauthorized.load(Ordering::Relaxed),
        }
    }

    async fn base(&self, api: Api) -> Result<String, ConnectorError> {
        let domain = match &self.config.api_url {
            Some(u) => u.clone(),
            None => match self.tokens.api_domain().await? {
                Some(d) => d,
                None => super::config::data_centre(&self.config.region).map(|d| d.api.to_string()).unwrap_or_else(|| "https://www.zohoapis.com".into()),
            },
        };
        Ok(match api {
            Api::Crm => format!("{domain}/crm/{}", self.config.api_version),
            Api::WorkDrive => self.config.workdrive_url.clone().unwrap_or_else(|| format!("{domain}/workdrive/api/v1")),
        })
    }

    /// Sends one request with the access token; see the module docs for retries.
    pub async fn call(&self, api: Api, method: Method, path: &str, query: &[(String, String)], headers: &[(&str, String)], body: &Body) -> Result<Answer, ConnectorError> {
        let _slot = self.slots.acquire().await.map_err(|_| ConnectorError::Other("the client is closing".into()))?;
        let url = format!("{}{path}", self.base(api).await?);
        let what = format!("{method} {url}");
        let idempotent = method != Method::POST;
        let (mut token, mut generation) = self.tokens.token().await?;
        let mut refreshed = false;
        let mut attempt = 1;
        loop {
            let mut rb = self.http.request(method.clone(), &url).header(reqwest::header::AUTHORIZATION, format!("Zoho-oauthtoken {}", token.expose()));
            if !query.is_empty() {
                rb = rb.query(query);
            }
            for (k, v) in headers {
                rb = rb.header(*k, v.as_str());
            }
            rb = match body {
                Body::None => rb,
                Body::Json(j) => rb.json(j),
                Body::Multipart { boundary, bytes } => rb.header("Content-Type", format!("multipart/form-data; boundary={boundary}")).body(bytes.clone()),
            };
            let sent = rb.send().await;
            let (error, not_processed, retry_after) = match sent {
                Err(e) => {
                    let connect = e.is_connect();
                    let msg = if connect {
                        format!("could not connect to {url} — check the network and the region / api_url setting")
                    } else if e.is_timeout() {
                        format!("no answer within {} s from {what}", self.config.timeout.as_secs())
                    } else {
                        format!("the connection failed during {what}")
                    };
                    (ConnectorError::Unavailable(msg), connect, None)
                }
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    let retry_after = resp.headers().get(reqwest::header::RETRY_AFTER).and_then(|v| v.to_str().ok()).and_then(|v| parse_retry_after(v, chrono::Utc::now()));
                    let headers = resp.headers().clone();
                    let bytes = resp.bytes().await.map(|b| b.to_vec()).unwrap_or_default();
                    // OAUTH_SCOPE_MISMATCH [RECALL]: a new token would not help.
                    let scope = status == 401 && String::from_utf8_lossy(&bytes).contains("OAUTH_SCOPE_MISMATCH");
                    if scope {
                        return Err(ConnectorError::Auth(format!("the Zoho client was not granted the scope {what} needs; add it to the connection's scopes and sign in again")));
                    }
                    if status == 401 && !refreshed {
                        // The token expired or was revoked early: refresh once and retry.
                        self.unauthorized.fetch_add(1, Ordering::Relaxed);
                        refreshed = true;
                        (token, generation) = self.tokens.refresh_after_401(generation).await?;
                        continue;
                    }
                    if status != 429 {
                        match api {
                            Api::Crm => self.crm_calls.fetch_add(1, Ordering::Relaxed),
                            Api::WorkDrive => self.wd_calls.fetch_add(1, Ordering::Relaxed),
                        };
                    }
                    if (200..300).contains(&status) {
                        return Ok(Answer { status, bytes, headers });
                    }
                    let text = String::from_utf8_lossy(&bytes).to_string();
                    let error = match status {
                        401 => ConnectorError::Auth(format!("Zoho refused the access token for {what} even after a refresh ({}); sign in again with `crosswalk login CONNECTION` and check the client's scopes", crate::http::server_message(&text).unwrap_or_default())),
                        429 => {
                            self.rate_limited.fetch_add(1, Ordering::Relaxed);
                            ConnectorError::RateLimited { retry_after_secs: retry_after.map(|d| d.as_secs()) }
                        }
                        _ => map_status(status, retry_after.map(|d| d.as_secs()), &text, &what),
                    };
                    (error, status == 429, retry_after)
                }
            };
            let retryable = error.is_retryable() && (idempotent || not_processed);
            if !retryable || attempt >= self.retry.max_attempts {
                return Err(error);
            }
            let delay = self.retry.delay(attempt, retry_after);
            tracing::debug!(attempt, delay_ms = delay.as_millis() as u64, error = %error, "Retrying {what}");
            tokio::time::sleep(delay).await;
            attempt += 1;
        }
    }

    async fn crm_json(&self, method: Method, path: &str, query: &[(String, String)], headers: &[(&str, String)], body: &Body) -> Result<Json, ConnectorError> {
        self.call(Api::Crm, method, path, query, headers, body).await?.json()
    }

    /// Groups of at most `max_fields_per_call` fields, each including `id`.
    pub fn field_groups(&self, fields: &[String]) -> Vec<Vec<String>> {
        let rest: Vec<String> = fields.iter().filter(|f| f.as_str() != "id").cloned().collect();
        let per = self.config.max_fields_per_call.saturating_sub(1).max(1);
        let mut groups: Vec<Vec<String>> = rest.chunks(per).map(|c| std::iter::once("id".to_string()).chain(c.iter().cloned()).collect()).collect();
        if groups.is_empty() {
            groups.push(vec!["id".to_string()]);
        }
        groups
    }

    /// One page of Get Records with every field in `fields` (split into calls of at most
    /// 50 fields and merged by id). `modified_since` sends `If-Modified-Since` and sorts by
    /// `Modified_Time` ascending.
    pub async fn records_page(&self, module: &str, fields: &[String], cursor: &PageCursor, modified_since: Option<&str>) -> Result<(RecordsPage, PageCursor), ConnectorError> {
        let groups = self.field_groups(fields);
        let mut q = vec![("fields".to_string(), groups[0].join(",")), ("per_page".to_string(), self.config.per_page.to_string())];
        match &cursor.token {
            Some(t) => q.push(("page_token".into(), t.clone())),
            None => q.push(("page".into(), cursor.page.max(1).to_string())),
        }
        let mut headers = vec![];
        if let Some(since) = modified_since {
            q.push(("sort_by".into(), "Modified_Time".into()));
            q.push(("sort_order".into(), "asc".into()));
            headers.push(("If-Modified-Since", overlap(since)));
        } else {
            q.push(("sort_by".into(), "id".into()));
            q.push(("sort_order".into(), "asc".into()));
        }
        let j = self.crm_json(Method::GET, &format!("/{module}"), &q, &headers, &Body::None).await?;
        let mut page = parse_page(&j);
        if groups.len() > 1 && !page.data.is_empty() {
            let ids: Vec<String> = page.data.iter().filter_map(|r| id_of(r)).collect();
            for g in &groups[1..] {
                for r in self.by_ids(module, &ids, g).await? {
                    if let Some(id) = id_of(&r) {
                        if let Some(target) = page.data.iter_mut().find(|d| id_of(d).as_deref() == Some(id.as_str())) {
                            target.extend(r);
                        }
                    }
                }
            }
        }
        // `page` reaches only the first 2,000 records; past them Zoho pages by token.
        let next_page = cursor.page.max(1) + 1;
        let next = if cursor.token.is_some() || (next_page as usize - 1) * self.config.per_page >= self.config.page_limit_records {
            PageCursor { page: next_page, token: page.next_page_token.clone() }
        } else {
            PageCursor { page: next_page, token: None }
        };
        if page.more && next.token.is_none() && (next_page as usize - 1) * self.config.per_page >= self.config.page_limit_records {
            return Err(ConnectorError::Other(format!("Zoho gave no next_page_token past record {} of {module}; use API version v3 or later", self.config.page_limit_records)));
        }
        page.more = page.more && !page.data.is_empty();
        Ok((page, next))
    }

    /// Records by id with `fields` (at most 50), `ids_per_call` ids per call.
    pub async fn by_ids(&self, module: &str, ids: &[String], fields: &[String]) -> Result<Vec<Map<String, Json>>, ConnectorError> {
        let mut out = vec![];
        for chunk in ids.chunks(self.config.ids_per_call) {
            let q = vec![("ids".to_string(), chunk.join(",")), ("fields".to_string(), fields.join(","))];
            let j = self.crm_json(Method::GET, &format!("/{module}"), &q, &[], &Body::None).await?;
            out.extend(parse_page(&j).data);
        }
        Ok(out)
    }

    /// Records by id with every field in `fields` (split into groups and merged).
    pub async fn get_records(&self, module: &str, ids: &[String], fields: &[String]) -> Result<Vec<Map<String, Json>>, ConnectorError> {
        let groups = self.field_groups(fields);
        let mut out = self.by_ids(module, ids, &groups[0]).await?;
        for g in &groups[1..] {
            for r in self.by_ids(module, ids, g).await? {
                if let Some(target) = out.iter_mut().find(|d| id_of(d) == id_of(&r)) {
                    target.extend(r);
                }
            }
        }
        Ok(out)
    }

    /// Search by `field equals value`, then keep only exact matches locally (Zoho's
    /// `equals` can match words of a longer value, API_FACTS §3.3). `case_insensitive`
    /// compares trimmed, case-folded texts.
    pub async fn search_exact(&self, module: &str, field: &str, value: &str, fields: &[String], case_insensitive: bool) -> Result<Vec<Map<String, Json>>, ConnectorError> {
        let criteria = format!("({field}:equals:{})", escape_criteria(value.trim()));
        let want = norm(value, case_insensitive);
        let groups = self.field_groups(fields);
        let mut out = vec![];
        let mut page = 1u32;
        loop {
            let q = vec![
                ("criteria".to_string(), criteria.clone()),
                ("fields".to_string(), groups[0].join(",")),
                ("page".to_string(), page.to_string()),
                ("per_page".to_string(), self.config.per_page.to_string()),
            ];
            let j = self.crm_json(Method::GET, &format!("/{module}/search"), &q, &[], &Body::None).await?;
            let p = parse_page(&j);
            let n = p.data.len();
            out.extend(p.data.into_iter().filter(|r| r.get(field).map(|v| norm(&text_of(v), case_insensitive) == want).unwrap_or(false)));
            // Search returns at most 2,000 records [RECALL/UNSURE].
            if !p.more || n == 0 || page as usize * self.config.per_page >= 2000 {
                break;
            }
            page += 1;
        }
        if groups.len() > 1 && !out.is_empty() {
            let ids: Vec<String> = out.iter().filter_map(|r| id_of(r)).collect();
            for g in &groups[1..] {
                for r in self.by_ids(module, &ids, g).await? {
                    if let Some(target) = out.iter_mut().find(|d| id_of(d) == id_of(&r)) {
                        target.extend(r);
                    }
                }
            }
        }
        Ok(out)
    }

    /// Updates records (`{"id", …fields}`), at most `max_batch` per call; one result per
    /// record in input order (`details` of each success).
    pub async fn update(&self, module: &str, records: Vec<Map<String, Json>>) -> Result<Vec<Result<Map<String, Json>, ConnectorError>>, ConnectorError> {
        self.write(Method::PUT, module, records).await
    }

    /// Inserts records, at most `max_batch` per call; one result per record.
    pub async fn insert(&self, module: &str, records: Vec<Map<String, Json>>) -> Result<Vec<Result<Map<String, Json>, ConnectorError>>, ConnectorError> {
        self.write(Method::POST, module, records).await
    }

    async fn write(&self, method: Method, module: &str, records: Vec<Map<String, Json>>) -> Result<Vec<Result<Map<String, Json>, ConnectorError>>, ConnectorError> {
        let mut out = Vec::with_capacity(records.len());
        for chunk in records.chunks(self.config.max_batch) {
            let body = Body::Json(json!({ "data": chunk }));
            let j = self.crm_json(method.clone(), &format!("/{module}"), &[], &[], &body).await?;
            out.extend(per_record_results(&j, chunk.len()));
        }
        Ok(out)
    }

    /// Deletes records by id (to Zoho's recycle bin); one result per id.
    pub async fn delete(&self, module: &str, ids: &[String]) -> Result<Vec<Result<Map<String, Json>, ConnectorError>>, ConnectorError> {
        let mut out = vec![];
        for chunk in ids.chunks(self.config.max_batch) {
            let q = vec![("ids".to_string(), chunk.join(","))];
            let j = self.crm_json(Method::DELETE, &format!("/{module}"), &q, &[], &Body::None).await?;
            out.extend(per_record_results(&j, chunk.len()));
        }
        Ok(out)
    }

    /// The attachments of a record (every page).
    pub async fn attachments(&self, module: &str, record_id: &str) -> Result<Vec<Attachment>, ConnectorError> {
        let mut out = vec![];
        let mut page = 1u32;
        loop {
            let q = vec![
                ("fields".to_string(), "id,File_Name,Size,Created_Time,Modified_Time".to_string()),
                ("page".to_string(), page.to_string()),
                ("per_page".to_string(), self.config.per_page.to_string()),
            ];
            let j = self.crm_json(Method::GET, &format!("/{module}/{record_id}/Attachments"), &q, &[], &Body::None).await?;
            let p = parse_page(&j);
            let n = p.data.len();
            for a in p.data {
                let Some(id) = id_of(&a) else { continue };
                out.push(Attachment { id, file_name: a.get("File_Name").map(text_of).unwrap_or_else(|| "attachment".into()), size: a.get("Size").and_then(|v| v.as_u64().or_else(|| v.as_str().and_then(|s| s.parse().ok()))) });
            }
            if !p.more || n == 0 {
                break;
            }
            page += 1;
        }
        Ok(out)
    }

    /// The bytes of one attachment.
    pub async fn download_attachment(&self, module: &str, record_id: &str, attachment_id: &str) -> Result<Vec<u8>, ConnectorError> {
        Ok(self.call(Api::Crm, Method::GET, &format!("/{module}/{record_id}/Attachments/{attachment_id}"), &[], &[], &Body::None).await?.bytes)
    }

    /// Field API names and types of a module (`/settings/fields?module=`).
    pub async fn module_fields(&self, module: &str) -> Result<Vec<Map<String, Json>>, ConnectorError> {
        let j = self.crm_json(Method::GET, "/settings/fields", &[("module".into(), module.to_string())], &[], &Body::None).await?;
        Ok(j.get("fields").and_then(Json::as_array).map(|a| a.iter().filter_map(|f| f.as_object().cloned()).collect()).unwrap_or_default())
    }

    /// The signed-in user (`/users?type=CurrentUser`).
    pub async fn current_user(&self) -> Result<Map<String, Json>, ConnectorError> {
        let j = self.crm_json(Method::GET, "/users", &[("type".into(), "CurrentUser".into())], &[], &Body::None).await?;
        Ok(j.get("users").and_then(Json::as_array).and_then(|a| a.first()).and_then(Json::as_object).cloned().unwrap_or_default())
    }
}

/// The cursor one second earlier, in its own offset: `If-Modified-Since` means "after", and
/// a record changed in the cursor's own second after our read must not be missed (the
/// planner makes the repeated boundary records harmless).
pub fn overlap(since: &str) -> String {
    match chrono::DateTime::parse_from_rfc3339(since.trim()) {
        Ok(t) => (t - chrono::Duration::seconds(1)).format("%Y-%m-%dT%H:%M:%S%:z").to_string(),
        Err(_) => since.trim().to_string(),
    }
}

/// `data` + `info` of a list answer; 204 (null) is an empty last page.
pub fn parse_page(j: &Json) -> RecordsPage {
    let data = j.get("data").and_then(Json::as_array).map(|a| a.iter().filter_map(|v| v.as_object().cloned()).collect()).unwrap_or_default();
    let info = j.get("info");
    RecordsPage {
        data,
        more: info.and_then(|i| i.get("more_records")).and_then(Json::as_bool).unwrap_or(false),
        next_page_token: info.and_then(|i| i.get("next_page_token")).and_then(Json::as_str).filter(|s| !s.is_empty()).map(str::to_string),
    }
}

/// Per-record results of a write answer, aligned with the request (`status` of each).
pub fn per_record_results(j: &Json, n: usize) -> Vec<Result<Map<String, Json>, ConnectorError>> {
    let items = j.get("data").and_then(Json::as_array).cloned().unwrap_or_default();
    (0..n)
        .map(|i| match items.get(i) {
            Some(it) if it.get("status").and_then(Json::as_str) == Some("success") => Ok(it.get("details").and_then(Json::as_object).cloned().unwrap_or_default()),
            Some(it) => {
                let code = it.get("code").and_then(Json::as_str).unwrap_or("ERROR");
                let msg = it.get("message").and_then(Json::as_str).unwrap_or("");
                let details = it.get("details").map(|d| d.to_string()).unwrap_or_default();
                let text = format!("Zoho refused the record: {code} {msg} {details}").trim().to_string();
                Err(match code {
                    "INVALID_DATA" | "MANDATORY_NOT_FOUND" | "DUPLICATE_DATA" => ConnectorError::Invalid(text),
                    "ID_ALREADY_DELETED" | "INVALID_ID" => ConnectorError::NotFound(text),
                    "RECORD_LOCKED" => ConnectorError::Conflict(text),
                    _ => ConnectorError::Other(text),
                })
            }
            None => Err(ConnectorError::Other("Zoho's answer had no result for this record".into())),
        })
        .collect()
}

/// A record's id as text (Zoho ids are 19-digit strings).
pub fn id_of(r: &Map<String, Json>) -> Option<String> {
    r.get("id").map(text_of).filter(|s| !s.is_empty())
}

/// A JSON value as plain text (strings unquoted; lookups by their `name`).
pub fn text_of(v: &Json) -> String {
    match v {
        Json::String(s) => s.clone(),
        Json::Null => String::new(),
        Json::Object(m) => m.get("name").map(text_of).unwrap_or_else(|| v.to_string()),
        other => other.to_string(),
    }
}

fn norm(s: &str, case_insensitive: bool) -> String {
    let t = s.trim();
    if case_insensitive {
        t.to_lowercase()
    } else {
        t.to_string()
    }
}

/// Escapes `(`, `)`, `,` and `\` in a criteria value with a backslash (API_FACTS §3.3).
pub fn escape_criteria(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        if matches!(c, '(' | ')' | ',' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn increments_overlap_by_a_second_in_zohos_format() {
        assert_eq!(overlap("2019-07-25T15:26:49+05:30"), "2019-07-25T15:26:48+05:30", "one second back, same offset");
        assert_eq!(overlap("garbage"), "garbage", "an unknown text is passed as it is");
    }

    #[test]
    fn criteria_values_are_escaped() {
        assert_eq!(escape_criteria("Acme (EU), Ltd"), "Acme \\(EU\\)\\, Ltd", "brackets and commas would end the criteria");
    }

    #[test]
    fn per_record_results_follow_request_order() {
        let j = json!({"data": [
            {"code": "SUCCESS", "status": "success", "details": {"id": "1"}},
            {"code": "INVALID_DATA", "status": "error", "message": "invalid data", "details": {"api_name": "Email"}}
        ]});
        let r = per_record_results(&j, 3);
        assert!(r[0].is_ok(), "the first record succeeded");
        assert!(matches!(&r[1], Err(ConnectorError::Invalid(m)) if m.contains("Email")), "the second names its field: {:?}", r[1]);
        assert!(r[2].is_err(), "a missing result is a failure, never a silent success");
        assert!(parse_page(&Json::Null).data.is_empty() && !parse_page(&Json::Null).more, "204 is an empty last page");
    }
}
