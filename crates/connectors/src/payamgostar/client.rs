//! Payamgostar's transport: login for a bearer token, renewed before `expiresAt`; every
//! call a JSON POST through the shared [`HttpClient`] (retries, `Retry-After`).

use chrono::{DateTime, FixedOffset, Utc};
use crosswalk_core::{ConnectorError, Secret};
use serde_json::{json, Value as Json};
use tokio::sync::Mutex;

use super::config::PayamgostarConfig;
use crate::http::{HttpClient, HttpRequest, RetryPolicy};

/// A signed-in session: an HTTP client carrying the bearer token, and when it ends.
#[derive(Debug, Clone)]
struct Session {
    http: HttpClient,
    expires_at: DateTime<Utc>,
}

/// Talks to one Payamgostar instance as one user.
#[derive(Debug)]
pub struct PayamgostarClient {
    pub config: PayamgostarConfig,
    password: Secret,
    anon: HttpClient,
    session: Mutex<Option<Session>>,
    logins: std::sync::atomic::AtomicU64,
}

impl PayamgostarClient {
    pub fn new(config: PayamgostarConfig, password: Secret) -> Result<Self, ConnectorError> {
        let anon = Self::builder(&config).build()?;
        Ok(PayamgostarClient { config, password, anon, session: Mutex::new(None), logins: Default::default() })
    }

    fn builder(config: &PayamgostarConfig) -> crate::http::HttpClientBuilder {
        HttpClient::builder(&config.url).timeout(config.timeout).retry(RetryPolicy { max_attempts: config.max_attempts, ..RetryPolicy::default() })
    }

    /// How many times this client has logged in (renewals included).
    pub fn logins(&self) -> u64 {
        self.logins.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// `POST login_path`; the token and its `expiresAt` (ISO with the Tehran offset).
    async fn login(&self) -> Result<Session, ConnectorError> {
        let body = json!({
            "username": self.config.username,
            "password": self.password.expose(),
            "deviceId": self.config.device_id,
            "platformType": 1,
            "os": std::env::consts::OS,
            "osVersion": "",
            "token": "",
        });
        let answer = self.anon.send(&HttpRequest::new(reqwest::Method::POST, self.config.login_path.clone()).json(body)).await.map_err(|e| match e {
            ConnectorError::Auth(_) | ConnectorError::Invalid(_) | ConnectorError::NotFound(_) => ConnectorError::Auth(format!(
                "Payamgostar at {} refused the login of {:?} ({e}); check the username and the password (`crosswalk login`) and the login_path setting",
                self.config.url, self.config.username
            )),
            e => e,
        })?;
        let token = answer.get("accessToken").or_else(|| answer.get("AccessToken")).and_then(Json::as_str).filter(|s| !s.is_empty());
        let token = token.ok_or_else(|| ConnectorError::Auth(format!("Payamgostar login at {} answered without an accessToken", self.config.url)))?;
        let expires_at = answer
            .get("expiresAt")
            .or_else(|| answer.get("ExpiresAt"))
            .and_then(Json::as_str)
            .and_then(parse_time)
            // No expiry given: assume a short one so we renew rather than fail [UNSURE].
            .unwrap_or_else(|| Utc::now() + chrono::Duration::minutes(10));
        self.logins.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        tracing::debug!(expires_at = %expires_at, "Logged in to Payamgostar");
        let http = Self::builder(&self.config).bearer(Secret::new(token)).build()?;
        Ok(Session { http, expires_at })
    }

    /// The current session, logging in again when it ends within `renew_before`.
    async fn session(&self, force: bool) -> Result<HttpClient, ConnectorError> {
        let mut guard = self.session.lock().await;
        let renew_at = |s: &Session| s.expires_at - chrono::Duration::from_std(self.config.renew_before).unwrap_or_default();
        match guard.as_ref() {
            Some(s) if !force && Utc::now() < renew_at(s) => Ok(s.http.clone()),
            _ => {
                let s = self.login().await?;
                let http = s.http.clone();
                *guard = Some(s);
                Ok(http)
            }
        }
    }

    /// POSTs `body` to `path`; a 401 (token revoked early) logs in again once.
    pub async fn post(&self, path: &str, body: Json) -> Result<Json, ConnectorError> {
        let req = HttpRequest::new(reqwest::Method::POST, path.to_string()).json(body);
        let http = self.session(false).await?;
        match http.send(&req).await {
            Err(ConnectorError::Auth(_)) => {
                tracing::debug!("Payamgostar refused the token; logging in again");
                self.session(true).await?.send(&req).await
            }
            r => r,
        }
    }
}

/// Payamgostar's times: ISO-8601 with offset and up to 7 fraction digits
/// (`2025-12-16T11:43:53.1385332+03:30`); a naive time is read as Tehran (+03:30).
pub fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    let naive = chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f").ok()?;
    let tehran = FixedOffset::east_opt(3 * 3600 + 1800)?;
    naive.and_local_timezone(tehran).single().map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    #[test]
    fn times_with_seven_fraction_digits_and_tehran_offset() {
        let t = super::parse_time("2025-12-16T11:43:53.1385332+03:30").unwrap();
        assert_eq!(t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true), "2025-12-16T08:13:53Z", "+03:30 is Tehran");
        assert_eq!(super::parse_time("2025-12-16T11:43:53"), Some(t.with_nanosecond_zero()), "naive means Tehran");
    }

    trait Zero {
        fn with_nanosecond_zero(self) -> Self;
    }
    impl Zero for chrono::DateTime<chrono::Utc> {
        fn with_nanosecond_zero(self) -> Self {
            chrono::Timelike::with_nanosecond(&self, 0).unwrap()
        }
    }
}
