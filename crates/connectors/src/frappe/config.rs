//! The `[connections.NAME]` settings of a Frappe/ERPNext connection, validated purely.
//!
//! ```toml
//! [connections.cloud]
//! kind = "frappe"
//! url = "https://erp.example.com"     # the site's base URL (the connector adds /api/...)
//! api_key = "a1b2c3d4e5f6a7b"          # optional: see "Secret" below
//! secret_env = "CLOUD_API_SECRET"       # engine setting: env fallback for the keyring
//! site_name = "erp.example.com"        # optional: sent as X-Frappe-Site-Name (behind a proxy)
//! time_zone = "Europe/Amsterdam"       # optional: override System Settings → time_zone
//! page_size = 100                      # rows per list request (Frappe's default is 20)
//! requests_per_minute = 300            # client-side rate limit
//! doctypes = ["Customer", "Item", "Sales Order"]  # what `describe` lists
//! child_fields = { "Sales Order.items" = ["item_code", "qty", "rate", "delivery_date"] }
//! cursor_overlap_seconds = 0           # re-read this much before the cursor
//! lock_on_update = true                # send `modified` with PUT (optimistic locking)
//! write_concurrency = 4                # documents written at once (default 1)
//! ```
//!
//! **Secret.** The keyring holds one string per connection, so it holds `key:secret`
//! (Frappe's own `token key:secret` form). When the stored secret has no `:`, it is the API
//! secret alone and the `api_key` setting supplies the key — that lets a server keep
//! `api_key` in the config and only the secret in an environment variable (`secret_env`).

use std::collections::BTreeMap;
use std::time::Duration;

use crate::SettingsError;

const KEYS: &[&str] = &[
    "url",
    "api_key",
    "site_name",
    "time_zone",
    "page_size",
    "requests_per_minute",
    "timeout_seconds",
    "max_attempts",
    "doctypes",
    "child_fields",
    "cursor_overlap_seconds",
    "lock_on_update",
    "write_concurrency",
];

/// DocTypes `describe` lists when `doctypes` is not set (the erpnext-erpnext preset's).
pub const DEFAULT_DOCTYPES: &[&str] = &["Customer", "Supplier", "Item", "Sales Order", "Purchase Order"];

/// A Frappe connection's settings.
#[derive(Clone, Debug, PartialEq)]
pub struct FrappeConfig {
    /// Base URL without the trailing slash.
    pub url: String,
    /// The API key when the secret holds only the API secret.
    pub api_key: Option<String>,
    /// Sent as `X-Frappe-Site-Name` (API_FACTS §9: selects the site behind a proxy).
    pub site_name: Option<String>,
    /// IANA zone overriding System Settings `time_zone` (for users who may not read it).
    pub time_zone: Option<String>,
    /// Rows per list request (default 100; the connector pages until a short page).
    pub page_size: u32,
    pub requests_per_minute: u32,
    pub timeout: Duration,
    pub max_attempts: u32,
    /// DocTypes `describe` lists (default [`DEFAULT_DOCTYPES`]).
    pub doctypes: Vec<String>,
    /// Child-table columns that take part in a sync, by `"DocType.table"` or `"table"`.
    /// Unlisted tables keep every column except Frappe's row bookkeeping.
    pub child_fields: BTreeMap<String, Vec<String>>,
    /// Seconds re-read before the cursor (0 = rely on the `(modified, name)` tie-break).
    /// [UNSURE] a long transaction can commit a row stamped before the cursor; an overlap
    /// of a few seconds costs only re-reads, which the planner ignores.
    pub cursor_overlap: Duration,
    /// Send the `modified` we read with every PUT so a concurrent edit answers 417
    /// `TimestampMismatchError` (a conflict) instead of being overwritten (API_FACTS §9).
    pub lock_on_update: bool,
    /// Documents written at once. Frappe writes one document per request, so against a
    /// real site the server's time per insert, not Crosswalk, sets the pace; a few requests
    /// in flight use the site's workers. Default 1 (strictly in order).
    pub write_concurrency: usize,
}

impl FrappeConfig {
    pub fn new(url: &str) -> Self {
        FrappeConfig {
            url: url.trim().trim_end_matches('/').to_string(),
            api_key: None,
            site_name: None,
            time_zone: None,
            page_size: 100,
            requests_per_minute: 300,
            timeout: Duration::from_secs(30),
            max_attempts: 5,
            doctypes: DEFAULT_DOCTYPES.iter().map(|s| s.to_string()).collect(),
            child_fields: BTreeMap::new(),
            cursor_overlap: Duration::ZERO,
            lock_on_update: true,
            write_concurrency: 1,
        }
    }

    /// Reads and checks the settings table. Pure: no network.
    pub fn from_settings(settings: &toml::Table) -> Result<Self, SettingsError> {
        for key in settings.keys() {
            if !KEYS.contains(&key.as_str()) {
                return Err(err(key, format!("is not a Frappe setting; use one of: {}", KEYS.join(", "))));
            }
        }
        let mut c = FrappeConfig::new(crate::setting_str(settings, "url")?);
        c.validate_url()?;
        c.api_key = opt_str(settings, "api_key")?;
        c.site_name = opt_str(settings, "site_name")?;
        c.time_zone = opt_str(settings, "time_zone")?;
        if let Some(tz) = &c.time_zone {
            if jiff::tz::TimeZone::get(tz).is_err() {
                return Err(err("time_zone", format!("{tz:?} is not a time zone this computer knows; use an IANA name such as Asia/Kolkata")));
            }
        }
        c.page_size = int(settings, "page_size", 100, 1, 1000)? as u32;
        c.requests_per_minute = int(settings, "requests_per_minute", 300, 1, 100_000)? as u32;
        c.timeout = Duration::from_secs(int(settings, "timeout_seconds", 30, 1, 600)?);
        c.max_attempts = int(settings, "max_attempts", 5, 1, 20)? as u32;
        c.cursor_overlap = Duration::from_secs(int(settings, "cursor_overlap_seconds", 0, 0, 86_400)?);
        c.write_concurrency = int(settings, "write_concurrency", 1, 1, 32)? as usize;
        match settings.get("lock_on_update") {
            None => {}
            Some(toml::Value::Boolean(b)) => c.lock_on_update = *b,
            Some(_) => return Err(err("lock_on_update", "must be true or false".into())),
        }
        if let Some(v) = settings.get("doctypes") {
            c.doctypes = str_list(v).ok_or_else(|| err("doctypes", "must be a list of DocType names such as [\"Customer\", \"Sales Order\"]".into()))?;
        }
        if let Some(v) = settings.get("child_fields") {
            let t = v.as_table().ok_or_else(|| err("child_fields", "must be a table such as { \"Sales Order.items\" = [\"item_code\", \"qty\"] }".into()))?;
            for (k, v) in t {
                let cols = str_list(v).ok_or_else(|| err(&format!("child_fields.{k}"), "must be a list of column names".into()))?;
                c.child_fields.insert(k.clone(), cols);
            }
        }
        Ok(c)
    }

    /// The columns kept for child table `table` of `doctype`, if configured.
    pub fn child_columns(&self, doctype: &str, table: &str) -> Option<&Vec<String>> {
        self.child_fields.get(&format!("{doctype}.{table}")).or_else(|| self.child_fields.get(table))
    }

    fn validate_url(&self) -> Result<(), SettingsError> {
        let ok = (self.url.starts_with("http://") || self.url.starts_with("https://")) && self.url.len() > "https://".len();
        if !ok {
            return Err(err("url", format!("{:?} is not a web address; use the site's base URL such as https://erp.example.com", self.url)));
        }
        if self.url.ends_with("/api") || self.url.contains("/api/") {
            return Err(err("url", format!("{:?}: give the base URL without /api (the connector adds it)", self.url)));
        }
        Ok(())
    }
}

/// Splits a stored secret into `(api_key, api_secret)`: `key:secret`, or the secret alone
/// with the key from settings.
pub fn split_secret(secret: &str, api_key: Option<&str>) -> Option<(String, String)> {
    let secret = secret.trim();
    if let Some((k, s)) = secret.split_once(':') {
        if !k.is_empty() && !s.is_empty() {
            return Some((k.to_string(), s.to_string()));
        }
    }
    match api_key {
        Some(k) if !secret.is_empty() && !secret.contains(':') => Some((k.trim().to_string(), secret.to_string())),
        _ => None,
    }
}

fn err(key: &str, message: String) -> SettingsError {
    SettingsError { key: key.into(), message }
}

fn opt_str(settings: &toml::Table, key: &str) -> Result<Option<String>, SettingsError> {
    match settings.get(key) {
        None => Ok(None),
        Some(_) => crate::setting_str(settings, key).map(|s| Some(s.trim().to_string())),
    }
}

fn str_list(v: &toml::Value) -> Option<Vec<String>> {
    v.as_array()?.iter().map(|i| i.as_str().map(|s| s.trim().to_string()).filter(|s| !s.is_empty())).collect()
}

fn int(settings: &toml::Table, key: &str, default: u64, min: u64, max: u64) -> Result<u64, SettingsError> {
    match settings.get(key) {
        None => Ok(default),
        Some(toml::Value::Integer(i)) if *i >= min as i64 && *i <= max as i64 => Ok(*i as u64),
        Some(_) => Err(err(key, format!("must be a whole number from {min} to {max} (default {default})"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(s: &str) -> toml::Table {
        s.parse().unwrap()
    }

    #[test]
    fn defaults_limits_and_named_errors() {
        let c = FrappeConfig::from_settings(&table(r#"url = "https://erp.example.com/""#)).unwrap();
        assert_eq!(c.url, "https://erp.example.com", "the trailing slash is dropped so paths join cleanly");
        assert_eq!((c.page_size, c.lock_on_update), (100, true), "documented defaults");
        assert_eq!(c.doctypes.len(), DEFAULT_DOCTYPES.len(), "describe lists the preset's DocTypes by default");
        assert_eq!(FrappeConfig::from_settings(&table("url = \"https://x.y/api\"")).unwrap_err().key, "url", "the /api suffix is the connector's");
        assert_eq!(FrappeConfig::from_settings(&table("url = \"https://x.y\"\ntime_zone = \"Mars/Olympus\"")).unwrap_err().key, "time_zone", "unknown zones are refused");
        assert_eq!(FrappeConfig::from_settings(&table("url = \"https://x.y\"\nspeed = 1")).unwrap_err().key, "speed", "typos don't pass silently");
        let c = FrappeConfig::from_settings(&table("url = \"https://x.y\"\nchild_fields = { \"Sales Order.items\" = [\"item_code\", \"qty\"] }")).unwrap();
        assert_eq!(c.child_columns("Sales Order", "items").map(Vec::len), Some(2), "child columns are found by DocType.table");
        assert_eq!(c.child_columns("Purchase Order", "items"), None, "and only for that DocType");
    }

    #[test]
    fn secrets_split_both_ways() {
        assert_eq!(split_secret("k:s", None), Some(("k".into(), "s".into())), "key:secret as stored in the keyring");
        assert_eq!(split_secret("s", Some("k")), Some(("k".into(), "s".into())), "secret alone plus the api_key setting");
        assert_eq!(split_secret("s", None), None, "a secret alone without api_key cannot sign in");
    }
}
