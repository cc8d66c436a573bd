//! Crosswalk connectors: one folder per system behind the one [`Connector`] trait, plus
//! `http/` (retry with back-off honouring `Retry-After`, client-side rate limiting).
//!
//! [`build`] turns a `[connections.NAME]` table into a running connector. It validates the
//! connector's own settings (purely) and names the key that is wrong.

pub mod frappe;
pub mod http;
pub mod jalali;
pub mod memory;
pub mod payamgostar;
pub mod siagh;
pub mod twenty;
pub mod webhook;
pub mod wefact;
pub mod workbook;
pub mod zoho;

use std::path::PathBuf;
use std::sync::Arc;

use crosswalk_core::config::ConnectionDef;
use crosswalk_core::{Connector, Secret};

/// Every connection kind this build knows.
pub const KINDS: &[&str] = &["memory", "workbook", "twenty", "wefact", "webhook", "frappe", "payamgostar", "siagh", "zoho"];

/// Whether a kind needs a secret from the keyring to connect.
pub fn needs_secret(kind: &str) -> bool {
    matches!(kind, "twenty" | "wefact" | "frappe" | "payamgostar" | "siagh" | "zoho")
}

/// What building a connector may need besides its settings.
#[derive(Clone, Debug, Default)]
pub struct BuildContext {
    /// Relative paths in settings are resolved against this (the config file's folder).
    pub base_dir: PathBuf,
    /// The app's data folder (workbook version history lives under it).
    pub data_dir: PathBuf,
    /// The connection's secret from the keyring, when it has one.
    pub secret: Option<Secret>,
}

/// A connection's settings are wrong: `key` is the setting, `message` says what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {message}")]
pub struct SettingsError {
    pub key: String,
    pub message: String,
}

/// Builds the connector for connection `name`.
pub fn build(name: &str, def: &ConnectionDef, ctx: &BuildContext) -> Result<Arc<dyn Connector>, SettingsError> {
    match def.kind.as_str() {
        "memory" => Ok(Arc::new(memory::MemoryConnector::new(name))),
        "workbook" => workbook::build(name, &def.settings, ctx),
        "twenty" => twenty::build(name, &def.settings, ctx),
        "wefact" => wefact::build(name, &def.settings, ctx),
        "webhook" => webhook::build(name, &def.settings, ctx),
        "frappe" => frappe::build(name, &def.settings, ctx),
        "payamgostar" => payamgostar::build(name, &def.settings, ctx),
        "siagh" => siagh::build(name, &def.settings, ctx),
        "zoho" => zoho::build(name, &def.settings, ctx),
        other => Err(SettingsError { key: "kind".into(), message: format!("unknown connector kind {other:?}; use one of: {}", KINDS.join(", ")) }),
    }
}

/// Reads a required string setting.
pub fn setting_str<'a>(settings: &'a toml::Table, key: &str) -> Result<&'a str, SettingsError> {
    match settings.get(key) {
        Some(toml::Value::String(s)) if !s.trim().is_empty() => Ok(s),
        Some(_) => Err(SettingsError { key: key.into(), message: "must be a non-empty text value in quotes".into() }),
        None => Err(SettingsError { key: key.into(), message: "is missing".into() }),
    }
}
