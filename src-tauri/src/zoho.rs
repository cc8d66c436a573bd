//! "Sign in with Zoho": the engine's browser sign-in (`crosswalk_engine::zoho_auth`,
//! authorization code + PKCE, loopback redirect) split over three commands so the window
//! can show the URL and a Cancel button while it waits. The only state kept here is the
//! sign-in under way per connection.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crosswalk_core::Secret;
use crosswalk_engine::setup;
use crosswalk_engine::zoho_auth::ZohoSignIn;
use serde::{Deserialize, Serialize};
use specta::Type;
use tauri::{AppHandle, State};
use tokio::sync::Notify;

use crate::commands::{reload, Rt};
use crate::dto::{Code, ConnectionForm, UiError, UiResult};

/// How long the app waits for the browser to come back.
const WAIT: Duration = Duration::from_secs(300);

/// Sign-ins under way, by connection name.
#[derive(Default)]
pub struct ZohoSignIns(Mutex<HashMap<String, Pending>>);

struct Pending {
    sign_in: Option<ZohoSignIn>,
    cancel: Arc<Notify>,
}

/// What the window shows while the browser is open.
#[derive(Clone, Debug, Serialize, Deserialize, Type)]
pub struct ZohoStartView {
    /// Zoho's sign-in page (to copy when no browser opened).
    pub url: String,
    pub redirect_uri: String,
    /// Whether the system browser was opened.
    pub opened: bool,
}

fn no_sign_in(name: &str) -> UiError {
    UiError { code: Code::NotFound, message: format!("no Zoho sign-in is under way for {name}; press Sign in with Zoho") }
}

/// Saves the form's settings (never a secret), binds the loopback listener, and opens
/// Zoho's sign-in page in the system browser.
#[tauri::command]
#[specta::specta]
pub async fn zoho_sign_in_start<R: tauri::Runtime>(app: AppHandle<R>, rt: Rt<'_>, sign_ins: State<'_, ZohoSignIns>, form: ConnectionForm) -> UiResult<ZohoStartView> {
    if form.settings.values().any(|v| !v.trim().is_empty()) {
        setup::save_connection(rt.config_path(), &form.name, "zoho", &form.settings, None)?;
        reload(&app, &rt).await?;
    }
    let engine = rt.app().map_err(|e| UiError {
        code: Code::NotFound,
        message: format!("{}; Zoho sign-in opens once a sync exists (Syncs, or `crosswalk init zoho-zoho`)", e.message),
    })?;
    let secret = form.secret.filter(|s| !s.trim().is_empty()).map(|s| Secret::new(s.trim()));
    let pending = ZohoSignIn::start_with_secret(&engine, &form.name, secret).await?;
    let view = ZohoStartView { url: pending.authorization_url().to_string(), redirect_uri: pending.redirect_uri().to_string(), opened: false };
    let opened = crate::platform::open_url(&app, &view.url).is_ok();
    // A newer sign-in replaces (and so cancels) an older one for the same connection.
    let old = sign_ins.0.lock().unwrap_or_else(|e| e.into_inner()).insert(form.name.clone(), Pending { sign_in: Some(pending), cancel: Arc::new(Notify::new()) });
    if let Some(old) = old {
        old.cancel.notify_one();
    }
    Ok(ZohoStartView { opened, ..view })
}

/// Waits (up to 5 minutes) for Zoho to send the browser back, stores the refresh token in
/// the OS keyring, and says who the connection is signed in as.
#[tauri::command]
#[specta::specta]
pub async fn zoho_sign_in_finish<R: tauri::Runtime>(app: AppHandle<R>, rt: Rt<'_>, sign_ins: State<'_, ZohoSignIns>, name: String) -> UiResult<String> {
    let (pending, cancel) = {
        let mut all = sign_ins.0.lock().unwrap_or_else(|e| e.into_inner());
        let p = all.get_mut(&name).ok_or_else(|| no_sign_in(&name))?;
        (p.sign_in.take().ok_or_else(|| no_sign_in(&name))?, p.cancel.clone())
    };
    let result = tokio::select! {
        r = pending.finish(WAIT) => r.map_err(UiError::from),
        _ = cancel.notified() => Err(UiError { code: Code::Unavailable, message: format!("the Zoho sign-in of {name} was cancelled") }),
    };
    {
        let mut all = sign_ins.0.lock().unwrap_or_else(|e| e.into_inner());
        if all.get(&name).is_some_and(|p| Arc::ptr_eq(&p.cancel, &cancel)) {
            all.remove(&name);
        }
    }
    let done = result?;
    reload(&app, &rt).await?;
    let place = done.location.map(|l| format!(" ({l})")).unwrap_or_default();
    // Who: the connector's own health, now that it has a refresh token.
    let who = match rt.app() {
        Ok(a) => a.health(&name).await.map(|i| i.display).ok(),
        Err(_) => None,
    };
    Ok(who.unwrap_or_else(|| format!("Zoho{place} via {}", done.accounts_server)))
}

/// Stops waiting for the browser (closes the loopback listener).
#[tauri::command]
#[specta::specta]
pub async fn zoho_sign_in_cancel(sign_ins: State<'_, ZohoSignIns>, name: String) -> UiResult<()> {
    if let Some(p) = sign_ins.0.lock().unwrap_or_else(|e| e.into_inner()).remove(&name) {
        p.cancel.notify_one();
    }
    Ok(())
}
