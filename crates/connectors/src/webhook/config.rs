//! The `[connections.NAME]` settings of an outbound webhook connection, validated purely.
//!
//! ```toml
//! [connections.zapier]
//! kind = "webhook"
//! url = "https://hooks.zapier.com/hooks/catch/123/abc/"  # every object, unless in `urls`
//! urls = { invoices = "https://hooks.zapier.com/hooks/catch/123/def/" }
//! requests_per_second = 30          # per URL (Zapier: 30/s per hook)
//! requests_per_5_minutes = 10000    # per URL (Zapier: 10,000 per 5 min per user)
//! signature_header = "X-Crosswalk-Signature"  # hex HMAC-SHA256 of the body, when the
//! signature_prefix = ""                       # connection has a secret ("sha256=" …)
//! idempotency_header = "Idempotency-Key"
//! headers = { "X-Source" = "crosswalk" }
//! template = '{"type": {{data_type}}, "customer": {{CompanyName}}, "all": {{record}}}'
//! json_fields = ["lines"]           # text fields holding JSON, embedded as JSON
//! id_fields = ["id", "Identifier"]  # the first present names the record on the receiver
//! data_types = { debtors = "debtor" }  # `data_type` per object (default: the object name)
//! max_attempts = 10                 # transient failures before a record is dead-lettered
//! retry_base_ms = 1000              # first back-off; doubles up to retry_max_seconds
//! retry_max_seconds = 600
//! drain_seconds = 120               # how long one sync keeps retrying before it reports
//!                                   # "still queued" (the outbox keeps them either way)
//! timeout_seconds = 30
//! ```
//! The secret (optional) is the HMAC signing key, from the keyring.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::SettingsError;

const KEYS: &[&str] = &[
    "url",
    "urls",
    "requests_per_second",
    "requests_per_5_minutes",
    "signature_header",
    "signature_prefix",
    "idempotency_header",
    "headers",
    "template",
    "json_fields",
    "id_fields",
    "data_types",
    "max_attempts",
    "retry_base_ms",
    "retry_max_seconds",
    "drain_seconds",
    "timeout_seconds",
];

/// An outbound webhook connection's settings.
#[derive(Clone, Debug, PartialEq)]
pub struct WebhookConfig {
    /// The URL for objects not in `urls`.
    pub url: Option<String>,
    /// Object → URL.
    pub urls: BTreeMap<String, String>,
    /// Per-URL limits (Zapier's by default, API_FACTS §5.1).
    pub requests_per_second: u32,
    pub requests_per_5_minutes: u32,
    pub signature_header: String,
    pub signature_prefix: String,
    pub idempotency_header: String,
    pub headers: Vec<(String, String)>,
    /// A body template with `{{name}}` placeholders; `None` = the default body
    /// `{"data_type", "sync_time", "record"}`.
    pub template: Option<String>,
    pub json_fields: Vec<String>,
    pub id_fields: Vec<String>,
    pub data_types: BTreeMap<String, String>,
    pub max_attempts: u32,
    pub retry_base: Duration,
    pub retry_max: Duration,
    pub drain: Duration,
    pub timeout: Duration,
}

impl WebhookConfig {
    /// One URL for every object, everything else default.
    pub fn new(url: &str) -> Self {
        WebhookConfig {
            url: Some(url.trim().to_string()),
            urls: BTreeMap::new(),
            requests_per_second: 30,
            requests_per_5_minutes: 10_000,
            signature_header: "X-Crosswalk-Signature".into(),
            signature_prefix: String::new(),
            idempotency_header: "Idempotency-Key".into(),
            headers: vec![],
            template: None,
            json_fields: vec!["lines".into()],
            id_fields: vec!["id".into(), "Identifier".into()],
            data_types: BTreeMap::new(),
            max_attempts: 10,
            retry_base: Duration::from_millis(1000),
            retry_max: Duration::from_secs(600),
            drain: Duration::from_secs(120),
            timeout: Duration::from_secs(30),
        }
    }

    /// The URL records of `object` go to.
    pub fn url_for(&self, object: &str) -> Option<&str> {
        self.urls.get(object).map(String::as_str).or(self.url.as_deref())
    }

    pub fn data_type(&self, object: &str) -> String {
        self.data_types.get(object).cloned().unwrap_or_else(|| object.to_string())
    }

    /// Reads and checks the settings table. Pure: no network.
    pub fn from_settings(settings: &toml::Table) -> Result<Self, SettingsError> {
        for key in settings.keys() {
            if !KEYS.contains(&key.as_str()) {
                return Err(err(key, format!("is not a webhook setting; use one of: {}", KEYS.join(", "))));
            }
        }
        let mut c = WebhookConfig::new("");
        c.url = match settings.get("url") {
            None => None,
            Some(_) => Some(check_url("url", crate::setting_str(settings, "url")?)?),
        };
        c.urls = string_table(settings, "urls")?.into_iter().map(|(k, v)| check_url("urls", &v).map(|u| (k, u))).collect::<Result<_, _>>()?;
        if c.url.is_none() && c.urls.is_empty() {
            return Err(err("url", "is missing: give the webhook URL (or per-object `urls`)".into()));
        }
        c.requests_per_second = int(settings, "requests_per_second", 30, 1, 100_000)? as u32;
        c.requests_per_5_minutes = int(settings, "requests_per_5_minutes", 10_000, 1, 10_000_000)? as u32;
        if let Some(v) = opt_str(settings, "signature_header")? {
            c.signature_header = header_name("signature_header", v)?;
        }
        if let Some(toml::Value::String(s)) = settings.get("signature_prefix") {
            c.signature_prefix = s.clone();
        }
        if let Some(v) = opt_str(settings, "idempotency_header")? {
            c.idempotency_header = header_name("idempotency_header", v)?;
        }
        c.headers = string_table(settings, "headers")?.into_iter().map(|(k, v)| header_name("headers", &k).map(|k| (k, v))).collect::<Result<_, _>>()?;
        if let Some(t) = opt_str(settings, "template")? {
            super::body::check_template(t).map_err(|m| err("template", m))?;
            c.template = Some(t.to_string());
        }
        if let Some(v) = string_list(settings, "json_fields")? {
            c.json_fields = v;
        }
        if let Some(v) = string_list(settings, "id_fields")? {
            c.id_fields = v;
        }
        c.data_types = string_table(settings, "data_types")?;
        c.max_attempts = int(settings, "max_attempts", 10, 1, 1000)? as u32;
        c.retry_base = Duration::from_millis(int(settings, "retry_base_ms", 1000, 1, 3_600_000)?);
        c.retry_max = Duration::from_secs(int(settings, "retry_max_seconds", 600, 1, 86_400)?);
        c.drain = Duration::from_secs(int(settings, "drain_seconds", 120, 0, 86_400)?);
        c.timeout = Duration::from_secs(int(settings, "timeout_seconds", 30, 1, 600)?);
        Ok(c)
    }
}

fn err(key: &str, message: String) -> SettingsError {
    SettingsError { key: key.into(), message }
}

fn check_url(key: &str, u: &str) -> Result<String, SettingsError> {
    let u = u.trim();
    if (u.starts_with("http://") || u.starts_with("https://")) && u.len() > "https://".len() {
        Ok(u.to_string())
    } else {
        Err(err(key, format!("{:?} is not a web address; copy the webhook URL from Zapier, Make or n8n", super::redact_url(u))))
    }
}

fn header_name(key: &str, v: &str) -> Result<String, SettingsError> {
    let v = v.trim();
    if !v.is_empty() && v.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b)) {
        Ok(v.to_string())
    } else {
        Err(err(key, format!("{v:?} is not a valid HTTP header name (letters, digits, - and _)")))
    }
}

fn opt_str<'a>(settings: &'a toml::Table, key: &str) -> Result<Option<&'a str>, SettingsError> {
    match settings.get(key) {
        None => Ok(None),
        Some(_) => crate::setting_str(settings, key).map(Some),
    }
}

fn string_table(settings: &toml::Table, key: &str) -> Result<BTreeMap<String, String>, SettingsError> {
    match settings.get(key) {
        None => Ok(BTreeMap::new()),
        Some(toml::Value::Table(t)) => t
            .iter()
            .map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())).ok_or_else(|| err(key, format!("the value for {k:?} must be text in quotes"))))
            .collect(),
        Some(_) => Err(err(key, "must be a table of name = \"text\"".into())),
    }
}

fn string_list(settings: &toml::Table, key: &str) -> Result<Option<Vec<String>>, SettingsError> {
    match settings.get(key) {
        None => Ok(None),
        Some(toml::Value::Array(a)) => a.iter().map(|v| v.as_str().map(str::to_string).ok_or_else(|| err(key, "must be a list of field names in quotes".into()))).collect::<Result<Vec<_>, _>>().map(Some),
        Some(_) => Err(err(key, "must be a list of field names in quotes".into())),
    }
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
    fn defaults_urls_and_bad_values() {
        let c = WebhookConfig::from_settings(&table("url = \"https://hooks.zapier.com/hooks/catch/1/a/\"\n[urls]\ninvoices = \"https://h/x\"")).unwrap();
        assert_eq!((c.requests_per_second, c.requests_per_5_minutes), (30, 10_000), "Zapier's limits are the default");
        assert_eq!(c.url_for("invoices"), Some("https://h/x"), "a per-object URL wins");
        assert_eq!(c.url_for("debtors"), Some("https://hooks.zapier.com/hooks/catch/1/a/"), "other objects use url");
        assert_eq!(WebhookConfig::from_settings(&table("")).unwrap_err().key, "url", "a URL is required");
        assert_eq!(WebhookConfig::from_settings(&table("url = \"https://h/x\"\ntemplate = \"{ {{record}\"")).unwrap_err().key, "template", "a template that can't make JSON is refused");
        assert_eq!(WebhookConfig::from_settings(&table("url = \"https://h/x\"\n[headers]\n\"Bad Header\" = \"x\"")).unwrap_err().key, "headers", "bad header names are refused");
    }
}
