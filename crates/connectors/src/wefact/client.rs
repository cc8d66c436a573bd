//! WeFact's transport: one endpoint, every call a form POST with `api_key`, `controller`
//! and `action`; answers are JSON envelopes whose `status` says success or error (HTTP is
//! usually 200 either way). Throttled client-side, retried with back-off.
//!
//! Reads (`list`, `show`) are safe to retry; writes (`add`, `edit`, `delete`) are retried
//! only when WeFact cannot have acted (429, 503, connection never made).

use std::time::Duration;

use crosswalk_core::{ConnectorError, Secret};
use serde_json::{Map, Value as Json};

use super::config::WeFactConfig;
use crate::http::{map_status, parse_retry_after, RateLimit, RateLimiter, RetryPolicy, USER_AGENT};

/// A WeFact API client (one per connection).
#[derive(Debug)]
pub struct WeFactClient {
    pub config: WeFactConfig,
    http: reqwest::Client,
    api_key: Secret,
    limiter: RateLimiter,
    retry: RetryPolicy,
}

/// One list page as WeFact answers it.
#[derive(Debug, Default)]
pub struct ListPage {
    pub items: Vec<Map<String, Json>>,
    pub total: u64,
    pub offset: u64,
    /// The envelope's `date`: WeFact's clock when it answered.
    pub date: Option<String>,
}

struct Failure {
    error: ConnectorError,
    not_processed: bool,
    retry_after: Option<Duration>,
}

impl WeFactClient {
    pub fn new(config: WeFactConfig, api_key: Secret) -> Result<Self, ConnectorError> {
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout.min(Duration::from_secs(10)))
            .user_agent(USER_AGENT)
            .build()
            .map_err(|e| ConnectorError::Other(format!("could not set up the HTTP client: {e}")))?;
        // Strict: a burst of `b` plus a steady `n - b` per period never puts more than `n`
        // requests in any window of one period.
        let n = config.requests_per_minute;
        let burst = (n / 10).clamp(1, 10);
        let limit = RateLimit { requests: n.saturating_sub(burst).max(1), per: config.rate_period, burst };
        let retry = RetryPolicy { max_attempts: config.max_attempts, ..RetryPolicy::default() };
        Ok(WeFactClient { http, api_key, limiter: RateLimiter::new(limit), retry, config })
    }

    pub fn rate_limiter(&self) -> &RateLimiter {
        &self.limiter
    }

    /// Calls `controller`/`action` with form `params`; returns the success envelope.
    pub async fn call(&self, controller: &str, action: &str, params: &[(String, String)]) -> Result<Map<String, Json>, ConnectorError> {
        let what = format!("WeFact {controller}.{action} at {}", self.config.url);
        let idempotent = matches!(action, "list" | "show");
        let mut attempt = 1;
        loop {
            self.limiter.acquire().await;
            let f = match self.try_once(controller, action, params, &what).await {
                Ok(v) => return Ok(v),
                Err(f) => f,
            };
            let retryable = f.error.is_retryable() && (idempotent || f.not_processed);
            if !retryable || attempt >= self.retry.max_attempts {
                return Err(f.error);
            }
            let delay = self.retry.delay(attempt, f.retry_after);
            tracing::debug!(attempt, delay_ms = delay.as_millis() as u64, error = %f.error, "Retrying {what}");
            if matches!(f.error, ConnectorError::RateLimited { .. }) {
                self.limiter.pause(delay).await;
            }
            tokio::time::sleep(delay).await;
            attempt += 1;
        }
    }

    async fn try_once(&self, controller: &str, action: &str, params: &[(String, String)], what: &str) -> Result<Map<String, Json>, Failure> {
        let mut form: Vec<(&str, &str)> = vec![("api_key", self.api_key.expose()), ("controller", controller), ("action", action)];
        form.extend(params.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let resp = self.http.post(&self.config.url).header("Accept", "application/json").form(&form).send().await.map_err(|e| self.network_failure(&e, what))?;
        let status = resp.status().as_u16();
        let retry_after = resp.headers().get(reqwest::header::RETRY_AFTER).and_then(|v| v.to_str().ok()).and_then(|v| parse_retry_after(v, chrono::Utc::now()));
        let text = resp.text().await.map_err(|e| self.network_failure(&e, what))?;
        let json: Option<Map<String, Json>> = serde_json::from_str(&text).ok();
        // WeFact's own error envelope wins over the HTTP code, except for the codes that
        // mean "try again" (429, 5xx).
        if let Some(j) = &json {
            if j.get("status").and_then(Json::as_str) == Some("error") && !(status == 429 || status >= 500) {
                return Err(Failure { error: classify(&error_messages(j), what), not_processed: true, retry_after: None });
            }
        }
        if !(200..300).contains(&status) {
            let error = map_status(status, retry_after.map(|d| d.as_secs()), &text, what);
            let error = match error {
                ConnectorError::Auth(m) if status == 403 => ConnectorError::Auth(format!("{m}. If the API key is right, WeFact may be refusing this computer's IP address: {IP_HINT}")),
                e => e,
            };
            return Err(Failure { error, not_processed: status == 429 || status == 503, retry_after });
        }
        match json {
            Some(j) if j.get("status").and_then(Json::as_str) == Some("success") || j.get("status").is_none() => Ok(j),
            Some(j) => Err(Failure {
                error: ConnectorError::Other(format!("{what} answered with status {:?}; expected \"success\"", j.get("status"))),
                not_processed: false,
                retry_after: None,
            }),
            None => Err(Failure {
                error: ConnectorError::Other(format!("{what} answered with something that is not JSON; is the url setting right (it should end in /v2/)?")),
                not_processed: false,
                retry_after: None,
            }),
        }
    }

    fn network_failure(&self, e: &reqwest::Error, what: &str) -> Failure {
        let (msg, not_processed) = if e.is_connect() {
            (format!("could not connect to {} — check the url setting and that the network is up", self.config.url), true)
        } else if e.is_timeout() {
            (format!("no answer within {} s from {what} — WeFact is slow or unreachable", self.config.timeout.as_secs()), false)
        } else {
            (format!("the connection failed during {what}"), false)
        };
        Failure { error: ConnectorError::Unavailable(msg), not_processed, retry_after: None }
    }

    /// One page of `controller`'s list.
    pub async fn list_page(&self, controller: &str, plural: &str, offset: u64, filters: &[(String, String)]) -> Result<ListPage, ConnectorError> {
        let mut params = vec![("offset".to_string(), offset.to_string()), ("limit".to_string(), self.config.page_size.to_string())];
        params.extend_from_slice(filters);
        let env = self.call(controller, "list", &params).await?;
        let items: Vec<Map<String, Json>> = match env.get(plural) {
            Some(Json::Array(a)) => a.iter().filter_map(|v| v.as_object().cloned()).collect(),
            // PHP sometimes encodes a keyed array as an object.
            Some(Json::Object(m)) => m.values().filter_map(|v| v.as_object().cloned()).collect(),
            _ => vec![],
        };
        Ok(ListPage { total: num(env.get("totalresults")).unwrap_or(items.len() as u64 + offset), offset: num(env.get("offset")).unwrap_or(offset), date: env.get("date").and_then(Json::as_str).map(str::to_string), items })
    }

    /// One object by `Identifier` (`show`), under the singular key.
    pub async fn show(&self, controller: &str, id: &str) -> Result<Map<String, Json>, ConnectorError> {
        let env = self.call(controller, "show", &[("Identifier".to_string(), id.to_string())]).await?;
        env.get(controller).and_then(Json::as_object).cloned().ok_or_else(|| ConnectorError::Other(format!("WeFact {controller}.show answered without a {controller:?} object")))
    }
}

/// What to do about an IP refusal, in words for the user.
pub const IP_HINT: &str = "WeFact API keys can be limited to whitelisted IP addresses. Add this computer's public IP address in WeFact under Settings → API (a laptop on changing networks may need a fixed IP or a server that has one), then try again";

fn num(v: Option<&Json>) -> Option<u64> {
    match v? {
        Json::Number(n) => n.as_u64(),
        Json::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// The `errors` of an error envelope (strings, or objects/arrays stringified).
pub fn error_messages(env: &Map<String, Json>) -> Vec<String> {
    match env.get("errors") {
        Some(Json::Array(a)) => a.iter().map(|m| m.as_str().map(str::to_string).unwrap_or_else(|| m.to_string())).collect(),
        Some(Json::String(s)) => vec![s.clone()],
        Some(Json::Object(m)) => m.values().map(|m| m.as_str().map(str::to_string).unwrap_or_else(|| m.to_string())).collect(),
        _ => vec![],
    }
}

/// Turns WeFact's error messages into the error callers branch on. The exact wording of
/// WeFact's IP and API-key refusals is not in API_FACTS [UNSURE]: we match English and
/// Dutch key words and always pass WeFact's own words through.
pub fn classify(messages: &[String], what: &str) -> ConnectorError {
    let said = if messages.is_empty() { "no message".to_string() } else { messages.join("; ") };
    let lower = said.to_lowercase();
    let has_word_ip = lower.split(|c: char| !c.is_alphanumeric()).any(|w| w == "ip" || w == "ipadres" || w == "ipv4" || w == "ipv6");
    if has_word_ip || lower.contains("ip-adres") || lower.contains("ip address") || lower.contains("whitelist") {
        return ConnectorError::Auth(format!("WeFact refused this computer's IP address ({what}: {said}). {IP_HINT}"));
    }
    if ["api key", "api_key", "apikey", "api-key", "api sleutel", "authenticat", "unauthori"].iter().any(|k| lower.contains(k)) {
        return ConnectorError::Auth(format!("WeFact refused the API key ({what}: {said}); check the key in WeFact under Settings → API and sign in to the connection again"));
    }
    if lower.contains("too many") || lower.contains("rate limit") || lower.contains("te veel") {
        return ConnectorError::RateLimited { retry_after_secs: None };
    }
    if ["not found", "niet gevonden", "does not exist", "bestaat niet", "unknown identifier", "invalid identifier"].iter().any(|k| lower.contains(k)) {
        return ConnectorError::NotFound(format!("{what}: {said}"));
    }
    ConnectorError::Invalid(format!("WeFact refused {what}: {said}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_messages_are_classified_and_passed_through() {
        let ip = classify(&["Uw IP-adres 1.2.3.4 heeft geen toegang".into()], "x");
        assert!(matches!(&ip, ConnectorError::Auth(m) if m.contains("IP address") && m.contains("1.2.3.4")), "a Dutch IP refusal says so, with WeFact's words: {ip}");
        let key = classify(&["Invalid API key".into()], "x");
        assert!(matches!(&key, ConnectorError::Auth(m) if m.contains("API key")), "a key refusal is an auth error: {key}");
        let other = classify(&["CompanyName is required".into(), "EmailAddress is invalid".into()], "WeFact debtor.add");
        assert_eq!(other, ConnectorError::Invalid("WeFact refused WeFact debtor.add: CompanyName is required; EmailAddress is invalid".into()), "every message is surfaced");
        assert!(!matches!(classify(&["Description is too long".into()], "x"), ConnectorError::Auth(_)), "'description' must not look like 'ip'");
    }
}
