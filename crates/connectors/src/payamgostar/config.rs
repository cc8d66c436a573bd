//! The `[connections.NAME]` settings of a Payamgostar connection, validated purely.
//!
//! ```toml
//! [connections.crm]
//! kind = "payamgostar"
//! url = "https://crm.example.ir"        # the customer's own instance (self-hosted)
//! username = "api-user"                 # the password is the keyring secret
//! page_size = 150                       # PageSize of find calls
//! renew_before_seconds = 120            # log in again this long before expiresAt
//! # Every path below is the documented default (API_FACTS §6.1, third-party [3P]):
//! # login_path = "/api/v2/auth/login"
//! # person_path = "/api/v2/crmobject/person"          # + /create /get /update /delete /find
//! # organization_path = "/api/v2/crmobject/organization"
//! # sales_invoice_path = "/api/v2/crmobject/invoice/sales"
//! # identities_path = "/api/v2/crmobject/identity/getIdentitiesSimple"
//! # person_type_key = "Person"            # find's TypeKey per object [UNSURE]
//! # modified_field = "ModifyDate"         # the record's modify time
//! # incremental = false                   # send a ModifyDate >= cursor query in find [UNSURE]
//! ```
//! On a real installation, check the paths in its Swagger page (many expose one at the host)
//! and the `TypeKey` values your CRM uses for persons, organizations and sales invoices.

use std::time::Duration;

use crate::SettingsError;

const KEYS: &[&str] = &[
    "url",
    "username",
    "device_id",
    "page_size",
    "renew_before_seconds",
    "timeout_seconds",
    "max_attempts",
    "login_path",
    "person_path",
    "organization_path",
    "sales_invoice_path",
    "identities_path",
    "person_type_key",
    "organization_type_key",
    "sales_invoice_type_key",
    "modified_field",
    "incremental",
];

/// A Payamgostar connection's settings.
#[derive(Clone, Debug, PartialEq)]
pub struct PayamgostarConfig {
    pub url: String,
    pub username: String,
    /// `deviceId` sent at login (default `crosswalk`).
    pub device_id: String,
    pub page_size: u32,
    pub renew_before: Duration,
    pub timeout: Duration,
    pub max_attempts: u32,
    pub login_path: String,
    /// Object → path prefix; operations (`/create`, `/get`, …) are appended.
    pub person_path: String,
    pub organization_path: String,
    pub sales_invoice_path: String,
    pub identities_path: String,
    pub person_type_key: String,
    pub organization_type_key: String,
    pub sales_invoice_type_key: String,
    pub modified_field: String,
    pub incremental: bool,
}

impl PayamgostarConfig {
    pub fn new(url: &str, username: &str) -> Self {
        PayamgostarConfig {
            url: url.trim().trim_end_matches('/').to_string(),
            username: username.to_string(),
            device_id: "crosswalk".into(),
            page_size: 150,
            renew_before: Duration::from_secs(120),
            timeout: Duration::from_secs(30),
            max_attempts: 5,
            login_path: "/api/v2/auth/login".into(),
            person_path: "/api/v2/crmobject/person".into(),
            organization_path: "/api/v2/crmobject/organization".into(),
            sales_invoice_path: "/api/v2/crmobject/invoice/sales".into(),
            identities_path: "/api/v2/crmobject/identity/getIdentitiesSimple".into(),
            person_type_key: "Person".into(),
            organization_type_key: "Organization".into(),
            sales_invoice_type_key: "SalesInvoice".into(),
            modified_field: "ModifyDate".into(),
            incremental: false,
        }
    }

    /// Reads and checks the settings table. Pure: no network.
    pub fn from_settings(settings: &toml::Table) -> Result<Self, SettingsError> {
        for key in settings.keys() {
            if !KEYS.contains(&key.as_str()) {
                return Err(err(key, format!("is not a Payamgostar setting; use one of: {}", KEYS.join(", "))));
            }
        }
        let url = crate::setting_str(settings, "url")?;
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(err("url", format!("{url:?} is not a web address; use your CRM's address, e.g. https://crm.example.ir")));
        }
        let mut c = PayamgostarConfig::new(url, crate::setting_str(settings, "username")?);
        let text = |key: &str, slot: &mut String| -> Result<(), SettingsError> {
            if settings.contains_key(key) {
                *slot = crate::setting_str(settings, key)?.trim().to_string();
            }
            Ok(())
        };
        text("device_id", &mut c.device_id)?;
        for (key, slot) in [
            ("login_path", &mut c.login_path),
            ("person_path", &mut c.person_path),
            ("organization_path", &mut c.organization_path),
            ("sales_invoice_path", &mut c.sales_invoice_path),
            ("identities_path", &mut c.identities_path),
        ] {
            text(key, slot)?;
            if !slot.starts_with('/') {
                return Err(err(key, format!("{slot:?} must start with /")));
            }
            *slot = slot.trim_end_matches('/').to_string();
        }
        text("person_type_key", &mut c.person_type_key)?;
        text("organization_type_key", &mut c.organization_type_key)?;
        text("sales_invoice_type_key", &mut c.sales_invoice_type_key)?;
        text("modified_field", &mut c.modified_field)?;
        c.page_size = int(settings, "page_size", 150, 1, 10_000)? as u32;
        c.renew_before = Duration::from_secs(int(settings, "renew_before_seconds", 120, 0, 86_400)?);
        c.timeout = Duration::from_secs(int(settings, "timeout_seconds", 30, 1, 600)?);
        c.max_attempts = int(settings, "max_attempts", 5, 1, 20)? as u32;
        c.incremental = match settings.get("incremental") {
            None => false,
            Some(toml::Value::Boolean(b)) => *b,
            Some(_) => return Err(err("incremental", "must be true or false".into())),
        };
        Ok(c)
    }
}

pub(crate) fn err(key: &str, message: String) -> SettingsError {
    SettingsError { key: key.into(), message }
}

pub(crate) fn int(settings: &toml::Table, key: &str, default: u64, min: u64, max: u64) -> Result<u64, SettingsError> {
    match settings.get(key) {
        None => Ok(default),
        Some(toml::Value::Integer(i)) if *i >= min as i64 && *i <= max as i64 => Ok(*i as u64),
        Some(_) => Err(err(key, format!("must be a whole number from {min} to {max} (default {default})"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_overrides_and_bad_keys() {
        let t: toml::Table = "url = \"https://crm.example.ir/\"\nusername = \"api\"".parse().unwrap();
        let c = PayamgostarConfig::from_settings(&t).unwrap();
        assert_eq!((c.url.as_str(), c.login_path.as_str(), c.page_size), ("https://crm.example.ir", "/api/v2/auth/login", 150), "documented defaults");
        let t: toml::Table = "url = \"https://x\"\nusername = \"api\"\nperson_path = \"/api/v3/person/\"".parse().unwrap();
        assert_eq!(PayamgostarConfig::from_settings(&t).unwrap().person_path, "/api/v3/person", "paths are configurable");
        let t: toml::Table = "url = \"https://x\"".parse().unwrap();
        assert_eq!(PayamgostarConfig::from_settings(&t).unwrap_err().key, "username", "the username is required");
        let t: toml::Table = "url = \"https://x\"\nusername = \"a\"\npath = \"/x\"".parse().unwrap();
        assert_eq!(PayamgostarConfig::from_settings(&t).unwrap_err().key, "path", "unknown keys are named");
    }
}
