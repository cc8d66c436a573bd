//! Zoho OAuth 2.0 (API_FACTS §3.2): the access-token cache behind every call, and the
//! sign-in flows that produce a refresh token.
//!
//! - [`TokenManager`] keeps one access token until [`ZohoConfig::token_margin`] (5 min)
//!   before it expires, refreshes it with the refresh token, and never mints more than
//!   `refresh_limit` tokens per `refresh_window` (Zoho: 10 per 10 minutes per refresh
//!   token). A 401 asks for [`TokenManager::refresh_after_401`]: concurrent 401s of one
//!   token refresh once.
//! - Sign-in: authorization code with PKCE (S256) through a loopback redirect on
//!   127.0.0.1 ([`LoopbackListener`]); the redirect's `accounts-server` is honoured for the
//!   code exchange and later refreshes. Fallbacks: the device flow ([`device_start`],
//!   [`device_poll`]) and a Self-client grant code ([`exchange_code`] without PKCE).
//!
//! Secrets (client secret, refresh token, access token, code, verifier) are [`Secret`]s:
//! they go into the token request body and the `Authorization` header and nowhere else.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use base64::Engine;
use crosswalk_core::{ConnectorError, Secret};
use serde_json::Value as Json;
use sha2::Digest;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::Mutex;
use tokio::time::Instant;

use super::config::{TokenParams, ZohoConfig};

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
    async fn token_request(&self, path: &str, mut form: Vec<(&str, String)>) -> Result<serde_json::Map<String, Json>, ConnectorError> {
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

    fn grant(json: &serde_json::Map<String, Json>) -> Result<TokenGrant, ConnectorError> {
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

/// A PKCE pair (RFC 7636): the verifier stays here, the S256 challenge goes to the browser.
#[derive(Clone, Debug)]
pub struct Pkce {
    pub verifier: Secret,
    pub challenge: String,
}

/// URL-safe base64 without padding.
fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A random text for `state` and the PKCE verifier.
pub fn random_token(bytes: usize) -> String {
    let v: Vec<u8> = (0..bytes).map(|_| rand::random::<u8>()).collect();
    b64(&v)
}

/// The S256 challenge of a verifier.
pub fn pkce_challenge(verifier: &str) -> String {
    b64(&sha2::Sha256::digest(verifier.as_bytes()))
}

impl Pkce {
    pub fn new() -> Pkce {
        let verifier = random_token(32);
        Pkce { challenge: pkce_challenge(&verifier), verifier: Secret::new(verifier) }
    }
}

impl Default for Pkce {
    fn default() -> Self {
        Self::new()
    }
}

/// The browser URL of the authorization-code flow with PKCE. `access_type=offline` and
/// `prompt=consent` so Zoho issues a refresh token every time.
pub fn authorization_url(accounts_url: &str, client_id: &str, scopes: &[String], redirect_uri: &str, state: &str, challenge: &str) -> String {
    let mut u = reqwest::Url::parse(&format!("{}/oauth/v2/auth", accounts_url.trim_end_matches('/'))).expect("the accounts URL was validated");
    u.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", client_id)
        .append_pair("scope", &scopes.join(","))
        .append_pair("redirect_uri", redirect_uri)
        .append_pair("access_type", "offline")
        .append_pair("prompt", "consent")
        .append_pair("state", state)
        .append_pair("code_challenge", challenge)
        .append_pair("code_challenge_method", "S256");
    u.to_string()
}

/// Exchanges an authorization code: with `redirect_uri` and the PKCE verifier after a
/// browser sign-in, without them for a Self-client grant code.
pub async fn exchange_code(client: &OAuthClient, code: &Secret, redirect_uri: Option<&str>, verifier: Option<&Secret>) -> Result<TokenGrant, ConnectorError> {
    let mut form = vec![("grant_type", "authorization_code".to_string()), ("code", code.expose().to_string())];
    if let Some(r) = redirect_uri {
        form.push(("redirect_uri", r.to_string()));
    }
    if let Some(v) = verifier {
        form.push(("code_verifier", v.expose().to_string()));
    }
    let j = client.token_request("/oauth/v2/token", form).await?;
    let g = OAuthClient::grant(&j)?;
    if g.refresh_token.is_none() {
        return Err(ConnectorError::Auth("Zoho issued no refresh token (the request needs access_type=offline; for a Self client, generate the grant code again with the scopes asked)".into()));
    }
    Ok(g)
}

/// What the user sees in the device flow.
#[derive(Clone, Debug)]
pub struct DeviceCode {
    pub user_code: String,
    pub verification_url: String,
    pub device_code: Secret,
    /// Seconds between polls ([RECALL]: Zoho sends `interval`; 5 s when missing).
    pub interval: Duration,
    pub expires_in: Duration,
}

/// Starts the device flow (`POST {accounts}/oauth/v3/device/code`).
pub async fn device_start(client: &OAuthClient, scopes: &[String]) -> Result<DeviceCode, ConnectorError> {
    // The client secret is not part of the initiation request [DOC].
    let c = OAuthClient { client_secret: None, ..client.clone() };
    let j = c.token_request("/oauth/v3/device/code", vec![("grant_type", "device_request".into()), ("scope", scopes.join(",")), ("access_type", "offline".into()), ("prompt", "consent".into())]).await?;
    let s = |k: &str| j.get(k).and_then(Json::as_str).map(str::to_string);
    Ok(DeviceCode {
        user_code: s("user_code").ok_or_else(|| ConnectorError::Other("the device-code answer has no user_code".into()))?,
        verification_url: s("verification_url").or_else(|| s("verification_uri_complete")).or_else(|| s("verification_uri")).unwrap_or_default(),
        device_code: Secret::new(s("device_code").ok_or_else(|| ConnectorError::Other("the device-code answer has no device_code".into()))?),
        interval: Duration::from_secs(j.get("interval").and_then(Json::as_u64).unwrap_or(5).max(1)),
        expires_in: Duration::from_secs(j.get("expires_in").and_then(Json::as_u64).unwrap_or(300)),
    })
}

/// Polls `POST {accounts}/oauth/v3/device/token` (`grant_type=device_token`,
/// `code=<device_code>` — the poll's parameter names are [RECALL]) until the user approved.
pub async fn device_poll(client: &OAuthClient, device: &DeviceCode) -> Result<TokenGrant, ConnectorError> {
    let deadline = Instant::now() + device.expires_in;
    let mut interval = device.interval;
    loop {
        match client.token_request("/oauth/v3/device/token", vec![("grant_type", "device_token".into()), ("code", device.device_code.expose().to_string())]).await {
            Ok(j) => return OAuthClient::grant(&j),
            Err(ConnectorError::Unavailable(code)) if code == "authorization_pending" || code == "slow_down" => {
                if code == "slow_down" {
                    interval += Duration::from_secs(5);
                }
            }
            Err(e) => return Err(e),
        }
        if Instant::now() + interval > deadline {
            return Err(ConnectorError::Auth("the device code expired before it was approved; start the sign-in again".into()));
        }
        tokio::time::sleep(interval).await;
    }
}

/// What the browser brought back to the loopback listener.
#[derive(Clone, Debug)]
pub struct Callback {
    pub code: Secret,
    /// `location` (`us`, `eu`, …).
    pub location: Option<String>,
    /// `accounts-server`: where the code must be exchanged.
    pub accounts_server: Option<String>,
}

/// A one-shot HTTP listener on 127.0.0.1 for the OAuth redirect.
#[derive(Debug)]
pub struct LoopbackListener {
    listener: tokio::net::TcpListener,
    path: String,
    redirect_uri: String,
}

impl LoopbackListener {
    /// Binds the host and port of `redirect_uri` (`http://127.0.0.1:PORT/PATH` or
    /// `http://localhost:PORT/PATH`; port 0 picks a free port and the URI says which).
    pub async fn bind(redirect_uri: &str) -> Result<LoopbackListener, ConnectorError> {
        let u = reqwest::Url::parse(redirect_uri).map_err(|e| ConnectorError::Invalid(format!("redirect_uri {redirect_uri:?} is not a URL ({e})")))?;
        let host = u.host_str().unwrap_or("");
        if u.scheme() != "http" || !(host == "127.0.0.1" || host == "localhost") {
            return Err(ConnectorError::Invalid(format!(
                "redirect_uri {redirect_uri:?} must be a loopback address such as http://127.0.0.1:8749/callback for the browser sign-in; use --device or --grant-code for other clients"
            )));
        }
        let port = u.port().unwrap_or(80);
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .map_err(|e| ConnectorError::Unavailable(format!("cannot listen on 127.0.0.1:{port} for the sign-in redirect ({e}); close what uses the port or set another redirect_uri (and register it in the API console)")))?;
        let actual = listener.local_addr().map_err(|e| ConnectorError::Other(e.to_string()))?.port();
        let mut fixed = u.clone();
        let _ = fixed.set_port(Some(actual));
        let path = if u.path().is_empty() { "/".to_string() } else { u.path().to_string() };
        let redirect_uri = if port == 0 { fixed.to_string() } else { redirect_uri.to_string() };
        Ok(LoopbackListener { listener, path, redirect_uri })
    }

    /// The redirect URI to send (with the real port when 0 was asked for).
    pub fn redirect_uri(&self) -> &str {
        &self.redirect_uri
    }

    /// Waits for the redirect carrying `state`, answers the browser, returns the code.
    pub async fn wait(self, state: &str, timeout: Duration) -> Result<Callback, ConnectorError> {
        let fut = async {
            loop {
                let (mut sock, _) = self.listener.accept().await.map_err(|e| ConnectorError::Unavailable(format!("the sign-in listener failed ({e})")))?;
                let mut buf = Vec::with_capacity(2048);
                let mut chunk = [0u8; 1024];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < 16_384 {
                    match sock.read(&mut chunk).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                let text = String::from_utf8_lossy(&buf);
                let target = text.lines().next().and_then(|l| l.split_whitespace().nth(1)).unwrap_or("/").to_string();
                let Ok(u) = reqwest::Url::parse(&format!("http://127.0.0.1{target}")) else { continue };
                if u.path() != self.path {
                    let _ = sock.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").await;
                    continue;
                }
                let q: std::collections::HashMap<String, String> = u.query_pairs().into_owned().collect();
                let (status, body, result) = if let Some(e) = q.get("error") {
                    ("400 Bad Request", format!("Zoho sign-in failed: {e}. You can close this window."), Err(ConnectorError::Auth(format!("Zoho did not grant access ({e})"))))
                } else if q.get("state").map(String::as_str) != Some(state) {
                    ("400 Bad Request", "This sign-in answer does not belong to the sign-in Crosswalk started.".to_string(), Err(ConnectorError::Auth("the sign-in answer carried the wrong state; start the sign-in again".into())))
                } else if let Some(code) = q.get("code") {
                    let cb = Callback { code: Secret::new(code.clone()), location: q.get("location").cloned(), accounts_server: q.get("accounts-server").cloned() };
                    ("200 OK", "Signed in to Zoho. You can close this window and return to Crosswalk.".to_string(), Ok(cb))
                } else {
                    ("400 Bad Request", "No code in this answer.".to_string(), Err(ConnectorError::Auth("the sign-in answer had no code".into())))
                };
                let html = format!("<!doctype html><meta charset=utf-8><title>Crosswalk</title><p>{body}</p>");
                let resp = format!("HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{html}", html.len());
                let _ = sock.write_all(resp.as_bytes()).await;
                let _ = sock.shutdown().await;
                return result;
            }
        };
        tokio::time::timeout(timeout, fut).await.map_err(|_| ConnectorError::Unavailable(format!("no answer from the browser within {} s; start the sign-in again", timeout.as_secs())))?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_s256_is_base64url_of_sha256() {
        // Expected value computed independently (Python: urlsafe_b64encode(sha256(v)).rstrip("=")).
        assert_eq!(pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r7wlAjNXjPPfCw"), "WB2BV9g89uMt2yD8-Hdwo_jRPZUJoaO4CP51lGnrEHY", "S256 = unpadded base64url of SHA-256");
        let p = Pkce::new();
        assert!(p.verifier.expose().len() >= 43, "a verifier is at least 43 characters");
    }

    #[test]
    fn credentials_round_trip_and_never_print() {
        let c = Credentials { client_secret: Some(Secret::new("cs")), refresh_token: Some(Secret::new("rt")), accounts_server: None };
        assert_eq!(Credentials::parse(&c.to_secret()), c, "the keyring text reads back");
        assert!(!format!("{c:?}").contains("rt"), "Debug never shows the secrets");
        assert_eq!(Credentials::parse(&Secret::new("1000.plain")).refresh_token, Some(Secret::new("1000.plain")), "a plain text is a refresh token");
    }

    #[test]
    fn authorization_url_carries_pkce_and_offline() {
        let u = authorization_url("https://accounts.zoho.eu", "1000.X", &["ZohoCRM.modules.ALL".into()], "http://127.0.0.1:8749/callback", "st", "ch");
        for part in ["response_type=code", "access_type=offline", "code_challenge=ch", "code_challenge_method=S256", "state=st", "redirect_uri=http%3A%2F%2F127.0.0.1%3A8749%2Fcallback"] {
            assert!(u.contains(part), "{part} is in {u}");
        }
    }
}
