//! The HTTP client a connector talks through: base URL, time-out, user agent, bearer
//! token, rate limiter and retries in one place.

use std::sync::Arc;
use std::time::Duration;

use crosswalk_core::{ConnectorError, Secret};
use reqwest::Method;

use super::errors::map_status;
use super::rate::{RateLimit, RateLimiter};
use super::retry::{parse_retry_after, RetryPolicy};

/// `crosswalk/<version>`: sent with every request.
pub const USER_AGENT: &str = concat!("crosswalk/", env!("CARGO_PKG_VERSION"));

/// Builds an [`HttpClient`].
#[derive(Debug, Clone)]
pub struct HttpClientBuilder {
    base_url: String,
    timeout: Duration,
    retry: RetryPolicy,
    rate: Option<RateLimit>,
    bearer: Option<Secret>,
    authorization: Option<Secret>,
    error_mapper: Option<ErrorMapper>,
    headers: Vec<(String, String)>,
}

/// Turns a failed answer into an error: `(status, retry_after_secs, body, what)`. The
/// default is [`map_status`]; a vendor with its own error shapes (Frappe) passes its own.
pub type ErrorMapper = fn(u16, Option<u64>, &str, &str) -> ConnectorError;

impl HttpClientBuilder {
    pub fn new(base_url: &str) -> Self {
        HttpClientBuilder {
            base_url: base_url.trim().trim_end_matches('/').to_string(),
            timeout: Duration::from_secs(30),
            retry: RetryPolicy::default(),
            rate: None,
            bearer: None,
            authorization: None,
            error_mapper: None,
            headers: vec![],
        }
    }
    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = t;
        self
    }
    pub fn retry(mut self, p: RetryPolicy) -> Self {
        self.retry = p;
        self
    }
    pub fn rate_limit(mut self, r: RateLimit) -> Self {
        self.rate = Some(r);
        self
    }
    /// Sends `Authorization: Bearer <token>` with every request.
    pub fn bearer(mut self, token: Secret) -> Self {
        self.bearer = Some(token);
        self
    }
    /// Sends `Authorization: <value>` verbatim (Frappe's `token key:secret`). Wins over
    /// [`HttpClientBuilder::bearer`].
    pub fn authorization(mut self, value: Secret) -> Self {
        self.authorization = Some(value);
        self
    }
    /// Maps failed answers with `f` instead of [`map_status`].
    pub fn error_mapper(mut self, f: ErrorMapper) -> Self {
        self.error_mapper = Some(f);
        self
    }
    /// Sends this header with every request (not for secrets: use `authorization`).
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }
    pub fn build(self) -> Result<HttpClient, ConnectorError> {
        let inner = reqwest::Client::builder()
            .timeout(self.timeout)
            .connect_timeout(self.timeout.min(Duration::from_secs(10)))
            .user_agent(USER_AGENT)
            .build()
            .map_err(|e| ConnectorError::Other(format!("could not set up the HTTP client: {e}")))?;
        Ok(HttpClient {
            inner,
            base_url: self.base_url,
            timeout: self.timeout,
            retry: self.retry,
            limiter: self.rate.map(|r| Arc::new(RateLimiter::new(r))),
            bearer: self.bearer,
            authorization: self.authorization,
            error_mapper: self.error_mapper.unwrap_or(map_status),
            headers: self.headers,
        })
    }
}

/// One request, relative to the base URL.
#[derive(Debug, Clone)]
pub struct HttpRequest {
    pub method: Method,
    /// Starts with `/`; already percent-encoded where needed.
    pub path: String,
    pub query: Vec<(String, String)>,
    pub body: Option<serde_json::Value>,
}

impl HttpRequest {
    pub fn new(method: Method, path: impl Into<String>) -> Self {
        HttpRequest { method, path: path.into(), query: vec![], body: None }
    }
    pub fn get(path: impl Into<String>) -> Self {
        Self::new(Method::GET, path)
    }
    pub fn query(mut self, k: &str, v: impl Into<String>) -> Self {
        self.query.push((k.to_string(), v.into()));
        self
    }
    pub fn json(mut self, body: serde_json::Value) -> Self {
        self.body = Some(body);
        self
    }
    /// Whether sending it twice does no more than sending it once.
    fn idempotent(&self) -> bool {
        self.method != Method::POST
    }
}

/// A connection's HTTP client. Cheap to clone (shares the pool and the rate limiter).
#[derive(Debug, Clone)]
pub struct HttpClient {
    inner: reqwest::Client,
    base_url: String,
    timeout: Duration,
    retry: RetryPolicy,
    limiter: Option<Arc<RateLimiter>>,
    bearer: Option<Secret>,
    authorization: Option<Secret>,
    error_mapper: ErrorMapper,
    headers: Vec<(String, String)>,
}

/// One try's failure, before the retry decision.
struct Failure {
    error: ConnectorError,
    /// Safe to send again even when the request is not idempotent (the server did nothing).
    not_processed: bool,
    retry_after: Option<Duration>,
}

impl HttpClient {
    pub fn builder(base_url: &str) -> HttpClientBuilder {
        HttpClientBuilder::new(base_url)
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    pub fn rate_limiter(&self) -> Option<&RateLimiter> {
        self.limiter.as_deref()
    }

    /// Sends `req` (rate limited, retried by the policy) and returns the JSON body of the
    /// 2xx answer (`null` when empty).
    pub async fn send(&self, req: &HttpRequest) -> Result<serde_json::Value, ConnectorError> {
        let what = format!("{} {}{}", req.method, self.base_url, req.path);
        let mut attempt = 1;
        loop {
            if let Some(l) = &self.limiter {
                l.acquire().await;
            }
            let failure = match self.try_once(req, &what).await {
                Ok(v) => return Ok(v),
                Err(f) => f,
            };
            let retryable = failure.error.is_retryable() && (req.idempotent() || failure.not_processed);
            if !retryable || attempt >= self.retry.max_attempts {
                return Err(failure.error);
            }
            let delay = self.retry.delay(attempt, failure.retry_after);
            tracing::debug!(attempt, delay_ms = delay.as_millis() as u64, error = %failure.error, "Retrying {what}");
            if matches!(failure.error, ConnectorError::RateLimited { .. }) {
                if let Some(l) = &self.limiter {
                    l.pause(delay).await;
                }
            }
            tokio::time::sleep(delay).await;
            attempt += 1;
        }
    }

    async fn try_once(&self, req: &HttpRequest, what: &str) -> Result<serde_json::Value, Failure> {
        let url = format!("{}{}", self.base_url, req.path);
        let mut rb = self.inner.request(req.method.clone(), &url).header("Accept", "application/json");
        if !req.query.is_empty() {
            rb = rb.query(&req.query);
        }
        for (k, v) in &self.headers {
            rb = rb.header(k.as_str(), v.as_str());
        }
        if let Some(value) = &self.authorization {
            rb = rb.header(reqwest::header::AUTHORIZATION, value.expose());
        } else if let Some(token) = &self.bearer {
            rb = rb.bearer_auth(token.expose());
        }
        if let Some(body) = &req.body {
            rb = rb.json(body);
        }
        let resp = rb.send().await.map_err(|e| self.network_failure(&e, what))?;
        let status = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, chrono::Utc::now()));
        let text = resp.text().await.map_err(|e| self.network_failure(&e, what))?;
        if (200..300).contains(&status) {
            if text.trim().is_empty() {
                return Ok(serde_json::Value::Null);
            }
            return serde_json::from_str(&text).map_err(|e| Failure {
                error: ConnectorError::Other(format!("{what} answered with something that is not JSON ({e}); is the URL right?")),
                not_processed: false,
                retry_after: None,
            });
        }
        let error = (self.error_mapper)(status, retry_after.map(|d| d.as_secs()), &text, what);
        // A rate-limit refusal (429, or a vendor's own mapped to RateLimited) did nothing.
        let not_processed = status == 429 || status == 503 || matches!(error, ConnectorError::RateLimited { .. });
        Err(Failure { error, not_processed, retry_after })
    }

    fn network_failure(&self, e: &reqwest::Error, what: &str) -> Failure {
        let mut cause = String::new();
        let mut src: Option<&dyn std::error::Error> = std::error::Error::source(e);
        while let Some(s) = src {
            cause = s.to_string();
            src = s.source();
        }
        let cause = if cause.is_empty() { String::new() } else { format!(" ({cause})") };
        let (msg, not_processed) = if e.is_connect() {
            (format!("could not connect to {}{cause} — check the URL and that the server is reachable", self.base_url), true)
        } else if e.is_timeout() {
            (format!("no answer within {} s from {what} — the server is slow or unreachable", self.timeout.as_secs()), false)
        } else {
            (format!("the connection to {} failed during {what}{cause}", self.base_url), false)
        };
        Failure { error: ConnectorError::Unavailable(msg), not_processed, retry_after: None }
    }
}
