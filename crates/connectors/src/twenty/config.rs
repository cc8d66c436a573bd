//! The `[connections.NAME]` settings of a Twenty connection, validated purely.
//!
//! ```toml
//! [connections.crm]
//! kind = "twenty"
//! url = "https://crm.example.com"   # the workspace's base URL (https://api.twenty.com for cloud)
//! requests_per_minute = 100          # client-side rate limit (Twenty's documented limit)
//! page_size = 200                    # records per list request (the server clamps it)
//! batch_size = 60                    # records per batch create (Twenty's maximum)
//! ```

use std::time::Duration;

use crate::SettingsError;

/// Twenty's documented batch maximum.
pub const MAX_BATCH: usize = 60;

const KEYS: &[&str] = &["url", "requests_per_minute", "rate_period_seconds", "page_size", "batch_size", "timeout_seconds", "max_attempts"];

/// A Twenty connection's settings.
#[derive(Clone, Debug, PartialEq)]
pub struct TwentyConfig {
    /// Base URL without the trailing slash (`https://api.twenty.com`).
    pub url: String,
    /// Requests allowed per [`TwentyConfig::rate_period`] (default 100).
    pub requests_per_minute: u32,
    /// The rate limit's period: one minute, except against a scaled simulator
    /// (`rate_period_seconds`).
    pub rate_period: Duration,
    /// Records asked for per list request (default 200; the server clamps to its maximum and
    /// the connector follows `hasNextPage` whatever it gets).
    pub page_size: u32,
    /// Records per batch create (default and maximum 60).
    pub batch_size: usize,
    /// Time-out per request (default 30 s).
    pub timeout: Duration,
    /// Tries per request, the first included (default 5).
    pub max_attempts: u32,
}

impl TwentyConfig {
    pub fn new(url: &str) -> Self {
        TwentyConfig {
            url: url.trim().trim_end_matches('/').to_string(),
            requests_per_minute: 100,
            rate_period: Duration::from_secs(60),
            page_size: 200,
            batch_size: MAX_BATCH,
            timeout: Duration::from_secs(30),
            max_attempts: 5,
        }
    }

    /// Reads and checks the settings table. Pure: no network.
    pub fn from_settings(settings: &toml::Table) -> Result<Self, SettingsError> {
        for key in settings.keys() {
            if !KEYS.contains(&key.as_str()) {
                return Err(SettingsError { key: key.clone(), message: format!("is not a Twenty setting; use one of: {}", KEYS.join(", ")) });
            }
        }
        let url = crate::setting_str(settings, "url")?;
        let mut c = TwentyConfig::new(url);
        c.validate_url()?;
        c.requests_per_minute = int(settings, "requests_per_minute", 100, 1, 100_000)? as u32;
        c.rate_period = Duration::from_secs(int(settings, "rate_period_seconds", 60, 1, 3600)?);
        c.page_size = int(settings, "page_size", 200, 1, 1000)? as u32;
        c.batch_size = int(settings, "batch_size", MAX_BATCH as u64, 1, MAX_BATCH as u64)? as usize;
        c.timeout = Duration::from_secs(int(settings, "timeout_seconds", 30, 1, 600)?);
        c.max_attempts = int(settings, "max_attempts", 5, 1, 20)? as u32;
        Ok(c)
    }

    fn validate_url(&self) -> Result<(), SettingsError> {
        let ok = (self.url.starts_with("http://") || self.url.starts_with("https://")) && self.url.len() > "https://".len();
        if !ok {
            return Err(SettingsError {
                key: "url".into(),
                message: format!("{:?} is not a web address; use the workspace's base URL such as https://api.twenty.com", self.url),
            });
        }
        if self.url.ends_with("/rest") || self.url.contains("/rest/") {
            return Err(SettingsError { key: "url".into(), message: format!("{:?}: give the base URL without /rest (the connector adds it)", self.url) });
        }
        Ok(())
    }
}

fn int(settings: &toml::Table, key: &str, default: u64, min: u64, max: u64) -> Result<u64, SettingsError> {
    match settings.get(key) {
        None => Ok(default),
        Some(toml::Value::Integer(i)) if *i >= min as i64 && *i <= max as i64 => Ok(*i as u64),
        Some(_) => Err(SettingsError { key: key.into(), message: format!("must be a whole number from {min} to {max} (default {default})") }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(s: &str) -> toml::Table {
        s.parse().unwrap()
    }

    #[test]
    fn defaults_and_limits() {
        let c = TwentyConfig::from_settings(&table(r#"url = "https://crm.example.com/""#)).unwrap();
        assert_eq!(c.url, "https://crm.example.com", "the trailing slash is dropped so paths join cleanly");
        assert_eq!((c.requests_per_minute, c.page_size, c.batch_size), (100, 200, 60), "documented defaults");
        let e = TwentyConfig::from_settings(&table("url = \"https://x.y\"\nbatch_size = 61")).unwrap_err();
        assert_eq!(e.key, "batch_size", "a batch above Twenty's 60 is refused, naming the key");
        let e = TwentyConfig::from_settings(&table("url = \"https://x.y\"\nspeed = 1")).unwrap_err();
        assert_eq!(e.key, "speed", "unknown keys are named (typos don't pass silently)");
        let e = TwentyConfig::from_settings(&table("url = \"crm.example.com\"")).unwrap_err();
        assert_eq!(e.key, "url", "a URL without scheme is refused");
        let e = TwentyConfig::from_settings(&table("")).unwrap_err();
        assert_eq!(e.key, "url", "url is required");
    }
}
