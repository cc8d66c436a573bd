//! Presets: `crosswalk init PRESET` writes a working config for one of the five jobs.
//!
//! Each value comes from a flag, else from the environment variable the old script used
//! (so `--env-file` can point at the `.env` a user already has), else the caller asks for
//! it. Secrets are returned separately, for the OS keyring — never written to the config.

mod erpnext_erpnext;
mod siagh_payamgostar;
mod twenty_excel;
mod wefact_webhook;
mod zoho_zoho;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crosswalk_core::Secret;

use crate::error::AppError;

/// Presets this build can set up.
pub const PRESETS: &[&str] = &["twenty-excel", "wefact-webhook", "erpnext-erpnext", "siagh-payamgostar", "zoho-zoho"];

/// Where values come from, highest priority first: flags, the env file, the environment.
#[derive(Clone, Debug, Default)]
pub struct Values {
    pub flags: BTreeMap<String, String>,
    pub env_file: BTreeMap<String, String>,
}

impl Values {
    /// The value of an old-script variable (or a flag under the same name).
    pub fn get(&self, var: &str) -> Option<String> {
        self.flags
            .get(var)
            .or_else(|| self.env_file.get(var))
            .cloned()
            .or_else(|| std::env::var(var).ok())
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    }
}

/// A secret the preset needs: its connection, the variable it may come from, and the
/// value if one was found.
#[derive(Clone, Debug)]
pub struct SecretNeed {
    pub connection: String,
    pub env_var: String,
    pub prompt: String,
    pub value: Option<Secret>,
}

/// What `init` produced.
#[derive(Clone, Debug)]
pub struct InitPlan {
    pub config_text: String,
    pub secrets: Vec<SecretNeed>,
    /// Plain-language next steps for the user.
    pub next_steps: Vec<String>,
}

/// Builds the config for `preset`. `config_path` is where it will be written (paths in it
/// are relative to that folder).
pub fn init(preset: &str, config_path: &Path, values: &Values) -> Result<InitPlan, AppError> {
    match preset {
        "twenty-excel" => twenty_excel::init(config_path, values),
        "wefact-webhook" => wefact_webhook::init(config_path, values),
        "erpnext-erpnext" => erpnext_erpnext::init(config_path, values),
        "siagh-payamgostar" => siagh_payamgostar::init(config_path, values),
        "zoho-zoho" => zoho_zoho::init(config_path, values),
        other => Err(AppError::new(
            crate::ErrorCode::BadInput,
            format!("unknown preset {other:?}; presets: {}", PRESETS.join(", ")),
        )),
    }
}

/// Reads a `.env` file: `KEY=VALUE` lines, `#` comments, optional quotes, `export ` prefix.
pub fn read_env_file(path: &Path) -> Result<BTreeMap<String, String>, AppError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| AppError::new(crate::ErrorCode::BadInput, format!("cannot read the env file {}: {e}", path.display())))?;
    let mut out = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let Some((k, v)) = line.split_once('=') else {
            return Err(AppError::new(crate::ErrorCode::BadInput, format!("{}:{}: expected KEY=VALUE", path.display(), n + 1)));
        };
        let v = v.trim();
        let v = v.strip_prefix('"').and_then(|s| s.strip_suffix('"')).or_else(|| v.strip_prefix('\'').and_then(|s| s.strip_suffix('\''))).unwrap_or(v);
        out.insert(k.trim().to_string(), v.to_string());
    }
    Ok(out)
}

/// A TOML string literal.
pub(crate) fn q(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

/// A path as written into the config: relative to the config's folder when inside it.
pub(crate) fn rel_path(config_path: &Path, target: &str) -> String {
    let t = PathBuf::from(target);
    if let (Some(dir), true) = (config_path.parent(), t.is_absolute()) {
        if let Ok(r) = t.strip_prefix(dir) {
            return r.display().to_string();
        }
    }
    target.to_string()
}

#[cfg(test)]
mod tests;
