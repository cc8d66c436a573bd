//! Sending queued record versions: one POST each, under the per-URL rate limit, with the
//! idempotency key, signature and custom headers; the answer decides the item's fate.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use crosswalk_core::{ConnectorError, Secret};
use rand::Rng;

use super::body::sign;
use super::config::WebhookConfig;
use super::outbox::{now_ms, Outbox, OutboxError, OutboxItem};
use crate::http::{parse_retry_after, server_message, RateLimit, RateLimiter, USER_AGENT};

/// Both of a URL's limits (per second and per five minutes).
#[derive(Debug)]
pub struct UrlLimiter {
    short: RateLimiter,
    long: RateLimiter,
}

impl UrlLimiter {
    /// `n` per `per` in *any* window of that length: a burst of `b` plus a steady rate of
    /// `n - b` per period never adds up to more than `n`.
    fn strict(n: u32, per: Duration) -> RateLimiter {
        let burst = (n / 10).clamp(1, 10);
        RateLimiter::new(RateLimit { requests: n.saturating_sub(burst).max(1), per, burst })
    }

    fn new(per_second: u32, per_5_min: u32) -> Self {
        UrlLimiter { short: Self::strict(per_second, Duration::from_secs(1)), long: Self::strict(per_5_min, Duration::from_secs(300)) }
    }

    pub async fn acquire(&self) {
        self.long.acquire().await;
        self.short.acquire().await;
    }

    pub async fn pause(&self, d: Duration) {
        self.short.pause(d).await;
    }
}

/// The process-wide limiter of `url` (every connection posting to it shares one).
pub fn limiter_for(url: &str, per_second: u32, per_5_min: u32) -> Arc<UrlLimiter> {
    type Limiters = Mutex<HashMap<(String, u32, u32), Arc<UrlLimiter>>>;
    static LIMITERS: OnceLock<Limiters> = OnceLock::new();
    let mut m = LIMITERS.get_or_init(Default::default).lock().unwrap_or_else(|e| e.into_inner());
    m.entry((url.to_string(), per_second, per_5_min)).or_insert_with(|| Arc::new(UrlLimiter::new(per_second, per_5_min))).clone()
}

/// What one attempt came to.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Sent(u16),
    /// Worth trying again (429, 5xx, 408, time-out, connection error).
    Retry { status: Option<u16>, error: String, retry_after: Option<Duration> },
    /// The receiver refused it for good (other 4xx): dead-letter.
    Permanent { status: u16, error: String },
}

/// Posts queued items for one connection.
#[derive(Debug)]
pub struct Deliverer {
    http: reqwest::Client,
    config: WebhookConfig,
    secret: Option<Secret>,
}

impl Deliverer {
    pub fn new(config: WebhookConfig, secret: Option<Secret>) -> Result<Self, ConnectorError> {
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout.min(Duration::from_secs(10)))
            .user_agent(USER_AGENT)
            .build()
            .map_err(|e| ConnectorError::Other(format!("could not set up the HTTP client: {e}")))?;
        Ok(Deliverer { http, config, secret: secret.filter(|s| !s.is_empty()) })
    }

    pub fn config(&self) -> &WebhookConfig {
        &self.config
    }

    /// One POST of one item.
    pub async fn attempt(&self, item: &OutboxItem) -> Outcome {
        let limiter = limiter_for(&item.url, self.config.requests_per_second, self.config.requests_per_5_minutes);
        limiter.acquire().await;
        let mut rb = self.http.post(&item.url).header("Content-Type", "application/json").header(self.config.idempotency_header.as_str(), item.idem_key.as_str());
        if let Some(s) = &self.secret {
            rb = rb.header(self.config.signature_header.as_str(), format!("{}{}", self.config.signature_prefix, sign(s.expose().as_bytes(), &item.body)));
        }
        for (k, v) in &self.config.headers {
            rb = rb.header(k.as_str(), v.as_str());
        }
        let where_ = super::redact_url(&item.url);
        let resp = match rb.body(item.body.clone()).send().await {
            Ok(r) => r,
            Err(e) => {
                let error = if e.is_timeout() {
                    format!("no answer from {where_} within {} s", self.config.timeout.as_secs())
                } else if e.is_connect() {
                    format!("could not connect to {where_}")
                } else {
                    format!("the connection to {where_} failed")
                };
                return Outcome::Retry { status: None, error, retry_after: None };
            }
        };
        let status = resp.status().as_u16();
        let retry_after = resp.headers().get(reqwest::header::RETRY_AFTER).and_then(|v| v.to_str().ok()).and_then(|v| parse_retry_after(v, chrono::Utc::now()));
        if (200..300).contains(&status) {
            return Outcome::Sent(status);
        }
        let said = resp.text().await.ok().and_then(|t| server_message(&t)).map(|s| format!(": {s}")).unwrap_or_default();
        let error = format!("{where_} answered HTTP {status}{said}");
        if status == 429 {
            limiter.pause(retry_after.unwrap_or(Duration::from_secs(1)).min(self.config.retry_max)).await;
        }
        match status {
            408 | 425 | 429 | 500..=599 => Outcome::Retry { status: Some(status), error, retry_after },
            _ => Outcome::Permanent { status, error },
        }
    }

    /// The wait before attempt `attempts + 1`: `Retry-After` when given, else exponential
    /// back-off with equal jitter, clamped.
    pub fn backoff(&self, attempts: u32, retry_after: Option<Duration>) -> Duration {
        if let Some(ra) = retry_after {
            return ra.min(self.config.retry_max);
        }
        let exp = self.config.retry_base.saturating_mul(1u32 << attempts.saturating_sub(1).min(20));
        let d = exp.min(self.config.retry_max);
        let half = d / 2;
        half + Duration::from_millis(rand::thread_rng().gen_range(0..=half.as_millis().max(1) as u64))
    }

    /// Sends `connection`'s due items until none is left or `budget` runs out; failed items
    /// wait for their back-off (within the budget). Returns how many are still pending.
    pub async fn drain(&self, outbox: &Outbox, connection: &str, budget: Duration) -> Result<usize, OutboxError> {
        let deadline = now_ms() + budget.as_millis() as i64;
        loop {
            let due = outbox.due(connection, now_ms(), 200)?;
            if due.is_empty() {
                let Some(next) = outbox.next_due(connection)? else { return Ok(0) };
                if next > deadline {
                    return Ok(outbox.due(connection, i64::MAX, usize::MAX >> 1)?.len());
                }
                let wait = (next - now_ms()).max(1) as u64;
                tokio::time::sleep(Duration::from_millis(wait)).await;
                continue;
            }
            for item in due {
                match self.attempt(&item).await {
                    Outcome::Sent(status) => outbox.mark_sent(item.id, status)?,
                    Outcome::Permanent { status, error } => {
                        tracing::warn!(object = %item.object, record = %item.record_id, status, "Webhook refused a record; it is in the dead-letter list");
                        outbox.mark_failed(item.id, Some(status), &error, None)?;
                    }
                    Outcome::Retry { status, error, retry_after } => {
                        let attempts = item.attempts + 1;
                        let next = (attempts < self.config.max_attempts).then(|| now_ms() + self.backoff(attempts, retry_after).as_millis() as i64);
                        tracing::debug!(object = %item.object, record = %item.record_id, attempts, %error, "Webhook delivery failed; will retry");
                        outbox.mark_failed(item.id, status, &format!("{error} (attempt {attempts} of {})", self.config.max_attempts), next)?;
                    }
                }
            }
        }
    }
}
