//! Zoho OAuth 2.0 (API_FACTS §3.2): the access-token cache behind every call, and the
//! sign-in flows that produce a refresh token.
//!
//! - [`TokenManager`] keeps one access token until [`ZohoConfig::token_margin`] (5 min)
//!   before it expires, refreshes it with the refresh token, and never mints more than
//!   `refresh_limit` tokens per `refresh_window` (Zoho: 10 per 10 minutes per refresh
//!   token). A 401 asks for [`TokenManager::refresh_after_401`]: concurrent 401s of one
//!   token refresh once.
//! - Sign-in flows live in [`super::signin`] (re-exported here): authorization code with
//!   PKCE through a loopback redirect on 127.0.0.1, the device flow, a Self-client grant
//!   code; the redirect's `accounts-server` is honoured for the exchange and later
//!   refreshes.
//!
//! Secrets (client secret, refresh token, access token, code, verifier) are [`Secret`]s:
//! they go into the token request body and the `Authorization` header and nowhere else.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crosswalk_core::{ConnectorError, Secret};
use serde_json::Value as Json;
use sha2::Digest;
use tokio::sync::Mutex;
use tokio::time::Instant;

use super::config::{TokenParams, ZohoConfig};
pub use super::signin::{authorization_url, device_poll, device_start, exchange_code, pkce_challenge, random_token, Callback, DeviceCode, LoopbackListener, Pkce};

/// What the keyring holds for a zoho connection (one JSON text; never a file).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Credentials {
    pub client_secret: Option<Secret>,
    pub refresh_token: Option<Secret>,
    /// The accounts server the sign-in redirect named (`accounts-server`), when it
    /// differs from the configured one.
    pub accounts_server: Option<String>,
}

impl Credentials {
    /// Reads the keyring text: `{"client_secret": …, "refresh_token": …}`. A plain text
    /// is taken as a refresh token.
    pub fn parse(secret: &Secret) -> Credentials {
        let text = secret.expose().trim();
        match serde_json::from_str::<Json>(text) {
            Ok(Json::Object(m)) => {
                let s = |k: &str| m.get(k).and_then(Json::as_str).map(str::trim).filter(|s| !s.is_empty()).map(str::to_string);
                Credentials { client_secret: s("client_secret").map(Secret::new), refresh_token: s("refresh_token").map(Secret::new), accounts_server: s("accounts_server") }
            }
            _ if text.is_empty() => Credentials::default(),
            _ => Credentials { refresh_token: Some(Secret::new(text)), ..Credentials::default() },
        }
    }

    /// The keyring text.
    pub fn to_secret(&self) -> Secret {
        let mut m = serde_json::Map::new();
        if let Some(s) = &self.client_secret {
            m.insert("client_secret".into(), Json::String(s.expose().to_string()));
        }
        if let Some(s) = &self.refresh_token {
            m.insert("refresh_token".into(), Json::String(s.expose().to_string()));
        }
        if let Some(s) = &self.accounts_server {
            m.insert("accounts_server".into(), Json::String(s.clone()));
        }
        Secret::new(Json::Object(m).to_string())
    }
}

/// Tokens from a token request.
#[derive(Clone, Debug)]
pub struct TokenGrant {
    pub access_token: Secret,
    /// Only on a code exchange with `access_type=offline`.
    pub refresh_token: Option<Secret>,
    pub api_domain: Option<String>,
    pub expires_in: Duration,
}

/// One client at one accounts server: where token requests go.
#[derive(Clone, Debug)]
pub struct OAuthClient {
    pub http: reqwest::Client,
    pub accounts_url: String,
    pub client_id: String,
    pub client_secret: Option<Secret>,
    pub params: TokenParams,
}

impl OAuthClient {
    pub fn new(config: &ZohoConfig, client_secret: Option<Secret>) -> Result<OAuthClient, ConnectorError> {
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .user_agent(crate::http::USER_AGENT)
            .build()
            .map_err(|e| ConnectorError::Other(format!("could not set up the HTTP client: {e}")))?;
        Ok(OAuthClient { http, accounts_url: config.accounts_url.clone(), client_id: config.client_id.clone(), client_secret, params: config.token_params })
    }

    /// The same client at another accounts server (a redirect's `accounts-server`).
    pub fn at(&self, accounts_url: &str) -> OAuthClient {
        OAuthClient { accounts_url: accounts_url.trim_end_matches('/').to_string(), ..self.clone() }
    }

    /// POSTs a token request to `path` and returns the JSON answer. Zoho answers some
    /// refusals with HTTP 200 and `{"error": …}` [RECALL]: both shapes are errors here.
    pub(super) async fn token_request(&self, path: &str, mut form: Vec<(&str, String)>) -> Result<serde_json::Map<String, Json>, ConnectorError> {
        form.push(("client_id", self.client_id.clone()));
        if let Some(s) = &self.client_secret {
            form.push(("client_secret", s.expose().to_string()));
        }
        let url = format!("{}{path}", self.accounts_url);
        let rb = self.http.post(&url).header("Accept", "application/json");
        let rb = match self.params {
            TokenParams::Body => rb.form(&form),
            TokenParams::Query => rb.query(&form),
        };
        let what = format!("the Zoho token request to {url}");
        let resp = rb.send().await.map_err(|e| {
            if e.is_connect() {
                ConnectorError::Unavailable(format!("could not connect to {} — check the accounts_url / region setting and the network", self.accounts_url))
            } else {
                ConnectorError::Unavailable(format!("{what} failed ({})", if e.is_timeout() { "time-out" } else { "connection error" }))
            }
        })?;
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_default();
        let json: serde_json::Map<String, Json> = serde_json::from_str(&text).unwrap_or_default();
        if let Some(e) = json.get("error").and_then(Json::as_str) {
            return Err(classify_token_error(e, json.get("error_description").and_then(Json::as_str), &what));
        }
        if status == 429 {
            return Err(ConnectorError::RateLimited { retry_after_secs: None });
        }
        if !(200..300).contains(&status) {
            return Err(crate::http::map_status(status, None, &text, &what));
        }
        Ok(json)
    }

    pub(super) fn grant(json: &serde_json::Map<String, Json>) -> Result<TokenGrant, ConnectorError> {
        let access = json.get("access_token").and_then(Json::as_str).filter(|s| !s.is_empty()).ok_or_else(|| ConnectorError::Other("the Zoho token answer has no access_token".into()))?;
        Ok(TokenGrant {
            access_token: Secret::new(access),
            refresh_token: json.get("refresh_token").and_then(Json::as_str).filter(|s| !s.is_empty()).map(Secret::new),
            api_domain: json.get("api_domain").and_then(Json::as_str).map(|s| s.trim_end_matches('/').to_string()),
            expires_in: Duration::from_secs(json.get("expires_in").and_then(Json::as_u64).unwrap_or(3600)),
        })
    }

    /// `grant_type=refresh_token`.
    pub async fn refresh(&self, refresh_token: &Secret) -> Result<TokenGrant, ConnectorError> {
        let j = self.token_request("/oauth/v2/token", vec![("grant_type", "refresh_token".into()), ("refresh_token", refresh_token.expose().to_string())]).await?;
        Self::grant(&j)
    }
}

/// Zoho's `error` codes → what the caller does next.
fn classify_token_error(code: &str, description: Option<&str>, what: &str) -> ConnectorError {
    let d = description.unwrap_or("");
    if d.to_ascii_lowercase().contains("too many requests") {
        return ConnectorError::RateLimited { retry_after_secs: Some(60) };
    }
    match code {
        "authorization_pending" | "slow_down" => ConnectorError::Unavailable(code.to_string()),
        "invalid_code" => ConnectorError::Auth(format!("Zoho refused the refresh token or grant code ({what}: invalid_code); sign in again with `crosswalk login CONNECTION`")),
        "invalid_client" | "invalid_client_secret" => ConnectorError::Auth(format!("Zoho refused the client id or client secret ({what}: {code}); check them in the API console (https://api-console.zoho.com) — and that the region / accounts server is the one the client was registered in")),
        "invalid_redirect_uri" => ConnectorError::Auth(format!("Zoho refused the redirect URI ({what}); register exactly the connection's redirect_uri for the client in the API console")),
        other => ConnectorError::Auth(format!("Zoho refused {what}: {other}{}", if d.is_empty() { String::new() } else { format!(" ({d})") })),
    }
}

/// An access token kept between runs, so a job started every few minutes does not mint a
/// token each time (Zoho allows 10 per 10 minutes per refresh token). The engine keeps it
/// in the OS keyring; it is tied to the refresh token it came from.
#[derive(Clone, Debug)]
pub struct CachedToken {
    pub access_token: Secret,
    pub expires_at: chrono::DateTime<chrono::Utc>,
    pub api_domain: Option<String>,
    /// A short SHA-256 of the refresh token that minted it.
    pub refresh_hash: String,
}

impl CachedToken {
    pub fn to_secret(&self) -> Secret {
        Secret::new(serde_json::json!({"access_token": self.access_token.expose(), "expires_at": self.expires_at.to_rfc3339(), "api_domain": self.api_domain, "refresh_hash": self.refresh_hash}).to_string())
    }
    pub fn parse(s: &Secret) -> Option<CachedToken> {
        let j: Json = serde_json::from_str(s.expose()).ok()?;
        Some(CachedToken {
            access_token: Secret::new(j.get("access_token")?.as_str()?),
            expires_at: chrono::DateTime::parse_from_rfc3339(j.get("expires_at")?.as_str()?).ok()?.with_timezone(&chrono::Utc),
            api_domain: j.get("api_domain").and_then(Json::as_str).map(str::to_string),
            refresh_hash: j.get("refresh_hash")?.as_str()?.to_string(),
        })
    }
}

/// Where [`TokenManager`] keeps its access token between runs.
pub trait TokenCache: Send + Sync + std::fmt::Debug {
    fn load(&self) -> Option<CachedToken>;
    fn store(&self, token: &CachedToken);
}

fn refresh_hash(refresh_token: &Secret) -> String {
    hex::encode(&sha2::Sha256::digest(refresh_token.expose().as_bytes())[..8])
}

/// The cached access token of one connection.
#[derive(Debug)]
pub struct TokenManager {
    client: OAuthClient,
    refresh_token: Secret,
    margin: Duration,
    limit: u32,
    window: Duration,
    state: Mutex<TokenState>,
    refreshes: AtomicU64,
    cache: Option<std::sync::Arc<dyn TokenCache>>,
}

#[derive(Debug, Default)]
struct TokenState {
    cache_read: bool,
    token: Option<(Secret, Instant)>,
    api_domain: Option<String>,
    /// Bumped on every refresh: a 401 seen on generation g refreshes only if g is current.
    generation: u64,
    minted: VecDeque<Instant>,
}

impl TokenManager {
    pub fn new(client: OAuthClient, refresh_token: Secret, config: &ZohoConfig) -> TokenManager {
        TokenManager {
            client,
            refresh_token,
            margin: config.token_margin,
            limit: config.refresh_limit,
            window: config.refresh_window,
            state: Mutex::new(TokenState::default()),
            refreshes: AtomicU64::new(0),
            cache: None,
        }
    }

    /// Keeps the access token in `cache` between runs.
    pub fn with_cache(mut self, cache: std::sync::Arc<dyn TokenCache>) -> TokenManager {
        self.cache = Some(cache);
        self
    }

    /// Access tokens minted by this manager (each one a token request).
    pub fn refreshes(&self) -> u64 {
        self.refreshes.load(Ordering::Relaxed)
    }

    /// The current access token and its generation; refreshed when missing or within the
    /// margin of its expiry.
    pub async fn token(&self) -> Result<(Secret, u64), ConnectorError> {
        let mut st = self.state.lock().await;
        if st.token.is_none() && !st.cache_read {
            st.cache_read = true;
            if let Some(c) = self.cache.as_ref().and_then(|c| c.load()).filter(|c| c.refresh_hash == refresh_hash(&self.refresh_token)) {
                if let Ok(left) = (c.expires_at - chrono::Utc::now()).to_std() {
                    st.token = Some((c.access_token, Instant::now() + left));
                    st.api_domain = c.api_domain;
                }
            }
        }
        if let Some((t, exp)) = &st.token {
            if Instant::now() + self.margin < *exp {
                return Ok((t.clone(), st.generation));
            }
        }
        self.refresh_locked(&mut st).await
    }

    /// The API domain the token answer named (after a token was fetched).
    pub async fn api_domain(&self) -> Result<Option<String>, ConnectorError> {
        self.token().await?;
        Ok(self.state.lock().await.api_domain.clone())
    }

    /// A call with the token of `generation` got 401: refresh, unless another call did so
    /// already, and return the token to retry with.
    pub async fn refresh_after_401(&self, generation: u64) -> Result<(Secret, u64), ConnectorError> {
        let mut st = self.state.lock().await;
        if st.generation != generation {
            if let Some((t, _)) = &st.token {
                return Ok((t.clone(), st.generation));
            }
        }
        self.refresh_locked(&mut st).await
    }

    async fn refresh_locked(&self, st: &mut TokenState) -> Result<(Secret, u64), ConnectorError> {
        let now = Instant::now();
        while st.minted.front().is_some_and(|t| now.duration_since(*t) >= self.window) {
            st.minted.pop_front();
        }
        if st.minted.len() as u32 >= self.limit {
            let wait = st.minted.front().map(|t| self.window.saturating_sub(now.duration_since(*t))).unwrap_or(self.window);
            return Err(ConnectorError::Auth(format!(
                "Zoho allows {} access tokens per refresh token every {} minutes and this run used them all; try again in {} s",
                self.limit,
                self.window.as_secs() / 60,
                wait.as_secs() + 1
            )));
        }
        tracing::debug!(accounts = %self.client.accounts_url, "Refreshing the Zoho access token");
        let grant = self.client.refresh(&self.refresh_token).await?;
        st.minted.push_back(now);
        self.refreshes.fetch_add(1, Ordering::Relaxed);
        st.generation += 1;
        st.token = Some((grant.access_token.clone(), now + grant.expires_in));
        if grant.api_domain.is_some() {
            st.api_domain = grant.api_domain;
        }
        if let Some(c) = &self.cache {
            let expires_at = chrono::Utc::now() + chrono::Duration::from_std(grant.expires_in).unwrap_or_default();
            c.store(&CachedToken { access_token: grant.access_token.clone(), expires_at, api_domain: st.api_domain.clone(), refresh_hash: refresh_hash(&self.refresh_token) });
        }
        Ok((grant.access_token, st.generation))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_round_trip_and_never_print() {
        let c = Credentials { client_secret: Some(Secret::new("cs")), refresh_token: Some(Secret::new("rt")), accounts_server: None };
        assert_eq!(Credentials::parse(&c.to_secret()), c, "the keyring text reads back");
        assert!(!format!("{c:?}").contains("rt"), "Debug never shows the secrets");
        assert_eq!(Credentials::parse(&Secret::new("1000.plain")).refresh_token, Some(Secret::new("1000.plain")), "a plain text is a refresh token");
    }

}
