//! Zoho sign-in flows that produce a refresh token (API_FACTS §3.2): authorization code
//! with PKCE (S256) through a loopback redirect on 127.0.0.1 ([`LoopbackListener`]), the
//! device flow ([`device_start`], [`device_poll`]), and a Self-client grant code
//! ([`exchange_code`] without PKCE). The code, the verifier and the tokens are [`Secret`]s.

use std::time::Duration;

use base64::Engine;
use crosswalk_core::{ConnectorError, Secret};
use serde_json::Value as Json;
use sha2::Digest;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;

use super::oauth::{OAuthClient, TokenGrant};

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
    fn authorization_url_carries_pkce_and_offline() {
        let u = authorization_url("https://accounts.zoho.eu", "1000.X", &["ZohoCRM.modules.ALL".into()], "http://127.0.0.1:8749/callback", "st", "ch");
        for part in ["response_type=code", "access_type=offline", "code_challenge=ch", "code_challenge_method=S256", "state=st", "redirect_uri=http%3A%2F%2F127.0.0.1%3A8749%2Fcallback"] {
            assert!(u.contains(part), "{part} is in {u}");
        }
    }
}
