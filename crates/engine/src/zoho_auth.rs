//! Zoho sign-in and credentials for `zoho` connections.
//!
//! A zoho connection has two secrets: the OAuth client secret and the refresh token. They
//! live together in the OS keyring as one JSON text under the connection's name
//! ([`Credentials`]); each can be overridden by an environment variable named in the
//! connection's settings (`client_secret_env`, `refresh_token_env`, e.g.
//! `ORG_A_CLIENT_SECRET` / `ORG_A_REFRESH_TOKEN` from the old script's `.env`). Neither is
//! ever written to the config, the database or a log.
//!
//! Sign-in, for the CLI (`crosswalk login CONNECTION`) and the desktop's "Sign in with
//! Zoho" button:
//! - [`ZohoSignIn`]: authorization code + PKCE through the system browser and a loopback
//!   redirect on 127.0.0.1 (the connection's `redirect_uri`);
//! - [`DeviceSignIn`]: the device flow, for clients registered without a redirect URI;
//! - [`login_with_grant_code`]: a Self-client grant code pasted by the admin.
//!
//! Each ends by storing the refresh token (and the redirect's accounts server) in the
//! keyring.

use std::time::Duration;

use crosswalk_connectors::zoho::oauth::{self, Callback, DeviceCode, LoopbackListener, OAuthClient, Pkce, TokenGrant};
use crosswalk_connectors::zoho::{Credentials, ZohoConfig};
use crosswalk_core::config::ConnectionDef;
use crosswalk_core::Secret;

use crate::error::{AppError, ErrorCode};
use crate::{secrets, App};

fn env_override(def: &ConnectionDef, key: &str) -> Option<Secret> {
    let var = def.settings.get(key).and_then(|v| v.as_str())?;
    std::env::var(var).ok().map(|v| v.trim().to_string()).filter(|v| !v.is_empty()).map(Secret::new)
}

/// The credentials of a zoho connection: the keyring (or `CROSSWALK_SECRET_<NAME>`), each
/// part overridden by its environment variable when set.
pub fn credentials(name: &str, def: &ConnectionDef) -> Credentials {
    let mut c = secrets::get(name, None).map(|(s, _)| Credentials::parse(&s)).unwrap_or_default();
    if let Some(s) = env_override(def, "client_secret_env") {
        c.client_secret = Some(s);
    }
    if let Some(s) = env_override(def, "refresh_token_env") {
        c.refresh_token = Some(s);
    }
    c
}

/// The secret handed to the zoho connector (the credentials as one JSON text).
pub fn connection_secret(name: &str, def: &ConnectionDef) -> Result<Secret, AppError> {
    let c = credentials(name, def);
    if c.refresh_token.is_none() {
        let var = def.settings.get("refresh_token_env").and_then(|v| v.as_str()).map(|v| format!(", or set {v}")).unwrap_or_default();
        return Err(AppError::new(ErrorCode::Auth, format!("connection {name} is not signed in to Zoho: run `crosswalk login {name}`{var}")));
    }
    Ok(c.to_secret())
}

/// The connector's own settings of a zoho connection (the engine's keys removed).
pub fn zoho_config(app: &App, connection: &str) -> Result<(ConnectionDef, ZohoConfig), AppError> {
    let def = app.config().connections.get(connection).ok_or_else(|| AppError::new(ErrorCode::NotFound, format!("there is no connection {connection:?} in {}", app.config_path().display())))?;
    if def.kind != "zoho" {
        return Err(AppError::new(ErrorCode::BadInput, format!("connection {connection} is a {} connection, not zoho", def.kind)));
    }
    let mut settings = def.settings.clone();
    for k in crate::app::ENGINE_SETTINGS {
        settings.remove(*k);
    }
    let cfg = ZohoConfig::from_settings(&settings).map_err(|e| AppError::bad_config(format!("connections.{connection}.{}: {}", e.key, e.message)))?;
    Ok((def.clone(), cfg))
}

/// Keeps a zoho connection's access token in the OS keyring between runs (account
/// `CONNECTION.access_token`), so a transfer started every few minutes does not mint a new
/// token each time. Without a keyring it does nothing (each run then fetches one token).
#[derive(Debug)]
pub struct KeyringTokenCache {
    account: String,
}

impl KeyringTokenCache {
    pub fn new(connection: &str) -> KeyringTokenCache {
        KeyringTokenCache { account: format!("{connection}.access_token") }
    }
}

impl crosswalk_connectors::zoho::oauth::TokenCache for KeyringTokenCache {
    fn load(&self) -> Option<crosswalk_connectors::zoho::oauth::CachedToken> {
        if std::env::var_os("CROSSWALK_NO_KEYRING").is_some() {
            return None;
        }
        secrets::get(&self.account, None).and_then(|(s, _)| crosswalk_connectors::zoho::oauth::CachedToken::parse(&s))
    }
    fn store(&self, token: &crosswalk_connectors::zoho::oauth::CachedToken) {
        if std::env::var_os("CROSSWALK_NO_KEYRING").is_some() {
            return;
        }
        if let Err(e) = secrets::set(&self.account, &token.to_secret()) {
            tracing::debug!(error = %e, "Could not keep the Zoho access token in the keyring; the next run fetches a new one");
        }
    }
}

/// Removes a kept access token (signing out); missing is fine.
pub fn forget_access_token(connection: &str) {
    let _ = secrets::delete(&format!("{connection}.access_token"));
}

/// What a finished sign-in says (no secrets).
#[derive(Clone, Debug, serde::Serialize)]
pub struct ZohoSignedIn {
    pub connection: String,
    /// The accounts server the refresh token belongs to.
    pub accounts_server: String,
    /// The API host Zoho named for this org.
    pub api_domain: Option<String>,
    /// The data centre the redirect named (`us`, `eu`, …), when it did.
    pub location: Option<String>,
}

fn oauth_client(def: &ConnectionDef, connection: &str, cfg: &ZohoConfig, client_secret: Option<Secret>) -> Result<(OAuthClient, Credentials), AppError> {
    let mut creds = credentials(connection, def);
    if client_secret.is_some() {
        creds.client_secret = client_secret;
    }
    let oc = OAuthClient::new(cfg, creds.client_secret.clone())?;
    Ok((oc, creds))
}

/// Stores the new refresh token (keeping the client secret) in the keyring.
fn save(connection: &str, mut creds: Credentials, grant: &TokenGrant, accounts: &str, cfg: &ZohoConfig, location: Option<String>) -> Result<ZohoSignedIn, AppError> {
    creds.refresh_token = grant.refresh_token.clone();
    creds.accounts_server = (accounts != cfg.accounts_url).then(|| accounts.to_string());
    secrets::set(connection, &creds.to_secret()).map_err(|m| AppError::new(ErrorCode::Auth, format!("signed in, but {m}")))?;
    tracing::info!(connection, accounts, "Signed in to Zoho; refresh token stored in the OS keyring");
    Ok(ZohoSignedIn { connection: connection.to_string(), accounts_server: accounts.to_string(), api_domain: grant.api_domain.clone(), location })
}

/// A browser sign-in under way: the loopback listener is bound and the URL is ready.
/// Dropping it cancels (closes the listener).
pub struct ZohoSignIn {
    connection: String,
    cfg: ZohoConfig,
    oauth: OAuthClient,
    creds: Credentials,
    listener: LoopbackListener,
    pkce: Pkce,
    state: String,
    url: String,
}

impl ZohoSignIn {
    /// Binds the loopback listener and prepares the authorization URL (PKCE S256).
    pub async fn start(app: &App, connection: &str) -> Result<ZohoSignIn, AppError> {
        Self::start_with_secret(app, connection, None).await
    }

    /// As [`ZohoSignIn::start`], with a client secret typed by the user (kept with the
    /// refresh token in the keyring when the sign-in succeeds).
    pub async fn start_with_secret(app: &App, connection: &str, client_secret: Option<Secret>) -> Result<ZohoSignIn, AppError> {
        let (def, cfg) = zoho_config(app, connection)?;
        let (oauth, creds) = oauth_client(&def, connection, &cfg, client_secret)?;
        let listener = LoopbackListener::bind(&cfg.redirect_uri).await?;
        let pkce = Pkce::new();
        let state = oauth::random_token(16);
        let url = oauth::authorization_url(&cfg.accounts_url, &cfg.client_id, &cfg.scopes, listener.redirect_uri(), &state, &pkce.challenge);
        Ok(ZohoSignIn { connection: connection.to_string(), cfg, oauth, creds, listener, pkce, state, url })
    }

    /// The URL to open in the system browser.
    pub fn authorization_url(&self) -> &str {
        &self.url
    }

    /// The redirect URI this sign-in listens on (it must be registered for the client).
    pub fn redirect_uri(&self) -> &str {
        self.listener.redirect_uri()
    }

    /// Waits for the browser's redirect, exchanges the code (with the PKCE verifier) at
    /// the accounts server the redirect named, and stores the refresh token.
    pub async fn finish(self, timeout: Duration) -> Result<ZohoSignedIn, AppError> {
        let redirect = self.listener.redirect_uri().to_string();
        let cb: Callback = self.listener.wait(&self.state, timeout).await?;
        let accounts = cb.accounts_server.clone().filter(|a| a.starts_with("http")).unwrap_or_else(|| self.cfg.accounts_url.clone());
        let grant = oauth::exchange_code(&self.oauth.at(&accounts), &cb.code, Some(&redirect), Some(&self.pkce.verifier)).await?;
        save(&self.connection, self.creds, &grant, &accounts, &self.cfg, cb.location)
    }
}

/// A device-flow sign-in under way: show [`DeviceSignIn::user_code`] and
/// [`DeviceSignIn::verification_url`], then call [`DeviceSignIn::finish`].
pub struct DeviceSignIn {
    connection: String,
    cfg: ZohoConfig,
    oauth: OAuthClient,
    creds: Credentials,
    device: DeviceCode,
}

impl DeviceSignIn {
    pub async fn start(app: &App, connection: &str, client_secret: Option<Secret>) -> Result<DeviceSignIn, AppError> {
        let (def, cfg) = zoho_config(app, connection)?;
        let (oauth, creds) = oauth_client(&def, connection, &cfg, client_secret)?;
        let device = oauth::device_start(&oauth, &cfg.scopes).await?;
        Ok(DeviceSignIn { connection: connection.to_string(), cfg, oauth, creds, device })
    }
    pub fn user_code(&self) -> &str {
        &self.device.user_code
    }
    pub fn verification_url(&self) -> &str {
        &self.device.verification_url
    }
    /// Polls until the user approved, then stores the refresh token.
    pub async fn finish(self) -> Result<ZohoSignedIn, AppError> {
        let grant = oauth::device_poll(&self.oauth, &self.device).await?;
        let accounts = self.cfg.accounts_url.clone();
        save(&self.connection, self.creds, &grant, &accounts, &self.cfg, None)
    }
}

/// Exchanges a Self-client grant code (API console → Self Client → Generate Code) and
/// stores the refresh token.
pub async fn login_with_grant_code(app: &App, connection: &str, code: &Secret, client_secret: Option<Secret>) -> Result<ZohoSignedIn, AppError> {
    let (def, cfg) = zoho_config(app, connection)?;
    let (oauth, creds) = oauth_client(&def, connection, &cfg, client_secret)?;
    let grant = oauth::exchange_code(&oauth, code, None, None).await?;
    let accounts = cfg.accounts_url.clone();
    save(connection, creds, &grant, &accounts, &cfg, None)
}

/// Whether the connection already has a client secret (keyring or its variable).
pub fn has_client_secret(app: &App, connection: &str) -> bool {
    app.config().connections.get(connection).map(|d| credentials(connection, d).client_secret.is_some()).unwrap_or(false)
}

/// Opens `url` in the system browser; false when no opener worked (show the URL instead).
pub fn open_browser(url: &str) -> bool {
    let mut cmd = if cfg!(target_os = "windows") {
        let mut c = std::process::Command::new("rundll32");
        c.args(["url.dll,FileProtocolHandler", url]);
        c
    } else if cfg!(target_os = "macos") {
        let mut c = std::process::Command::new("open");
        c.arg(url);
        c
    } else {
        let mut c = std::process::Command::new("xdg-open");
        c.arg(url);
        c
    };
    cmd.stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null()).spawn().is_ok()
}
