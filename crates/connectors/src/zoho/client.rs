//! Zoho transport (API_FACTS §3.3–3.4); the Records API calls are in [`super::records`].
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
use serde_json::{Map, Value as Json};
use tokio::sync::Semaphore;

use super::config::ZohoConfig;
use super::oauth::{OAuthClient, TokenManager};
use crate::http::{map_status, parse_retry_after, RetryPolicy, USER_AGENT};

pub use super::records::{escape_criteria, id_of, overlap, parse_page, per_record_results, text_of};

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
}

