//! The `[connections.NAME]` settings of a Siagh connection, validated purely.
//!
//! ```toml
//! [connections.finance]
//! kind = "siagh"
//! url = "https://siagh.example.ir"   # the customer's own server
//! username = "api-user"              # the password is the keyring secret (sent MD5-hashed)
//! # Documented defaults (API_FACTS §6.2, one third-party source [3P]):
//! # login_path = "/GeneralApi/LoginUser"
//! # contacts_path = "/api/Sgh/GEN/Gn_Web_Users/GetAll"
//! # save_form_path = "/BpmsApi/SaveFormData"
//! # contact_form_id = "2BFDA"        # installation-specific [UNSURE]
//! # pre_invoice_form_id = "43D81"    # installation-specific [UNSURE]
//! # post_code = "1110"
//! # contact_id_field = "Code"        # the contact's key in GetAll answers [UNSURE]
//! # [connections.finance.contact_fields]       # record field = "table.field" control code
//! # Name = "gn_web_users.name"
//! # [connections.finance.pre_invoice_fields]
//! # [connections.finance.pre_invoice_line_fields]
//! ```
//! Form ids and control codes differ between Siagh installations: on a real one, open the
//! form in Siagh's form designer (or ask the Siagh partner) and copy the form id and each
//! control's `table.field` code into these settings.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::SettingsError;

const KEYS: &[&str] = &[
    "url",
    "username",
    "timeout_seconds",
    "max_attempts",
    "login_path",
    "contacts_path",
    "save_form_path",
    "contact_form_id",
    "pre_invoice_form_id",
    "post_code",
    "contact_id_field",
    "contact_id_control",
    "contact_fields",
    "pre_invoice_fields",
    "pre_invoice_line_fields",
];

/// A Siagh connection's settings.
#[derive(Clone, Debug, PartialEq)]
pub struct SiaghConfig {
    pub url: String,
    pub username: String,
    pub timeout: Duration,
    pub max_attempts: u32,
    pub login_path: String,
    pub contacts_path: String,
    pub save_form_path: String,
    pub contact_form_id: String,
    pub pre_invoice_form_id: String,
    pub post_code: String,
    /// The key of a contact in `GetAll` answers (the record id).
    pub contact_id_field: String,
    /// The control that names the contact being edited when a save is an update [UNSURE].
    pub contact_id_control: String,
    /// Record field → `table.field` control code of the contact form.
    pub contact_fields: BTreeMap<String, String>,
    /// Record field → control code of the pre-invoice form's header.
    pub pre_invoice_fields: BTreeMap<String, String>,
    /// Line field (in the record's `lines` JSON) → key in `dataRows`.
    pub pre_invoice_line_fields: BTreeMap<String, String>,
}

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
}

/// Contact form controls [UNSURE: the field codes are guesses after Gn_Web_Users' columns].
pub fn default_contact_fields() -> BTreeMap<String, String> {
    map(&[("Name", "gn_web_users.name"), ("TelNo", "gn_web_users.telno"), ("Email", "gn_web_users.email"), ("NationalCode", "gn_web_users.nationalcode"), ("Address", "gn_web_users.address"), ("PostalCode", "gn_web_users.postalcode")])
}

/// Pre-invoice header controls [UNSURE]; `salmali` is the fiscal-year field API_FACTS names.
pub fn default_pre_invoice_fields() -> BTreeMap<String, String> {
    map(&[("CustomerCode", "ord_preinvoice.customercode"), ("Date", "ord_preinvoice.date"), ("FiscalYear", "ord_preinvoice.salmali"), ("Description", "ord_preinvoice.description"), ("Number", "ord_preinvoice.refno")])
}

/// Pre-invoice line keys in `dataRows` [UNSURE].
pub fn default_pre_invoice_line_fields() -> BTreeMap<String, String> {
    map(&[("ProductCode", "ItemCode"), ("Quantity", "Qty"), ("UnitPrice", "Price"), ("Description", "Description")])
}

impl SiaghConfig {
    pub fn new(url: &str, username: &str) -> Self {
        SiaghConfig {
            url: url.trim().trim_end_matches('/').to_string(),
            username: username.to_string(),
            timeout: Duration::from_secs(30),
            max_attempts: 5,
            login_path: "/GeneralApi/LoginUser".into(),
            contacts_path: "/api/Sgh/GEN/Gn_Web_Users/GetAll".into(),
            save_form_path: "/BpmsApi/SaveFormData".into(),
            contact_form_id: "2BFDA".into(),
            pre_invoice_form_id: "43D81".into(),
            post_code: "1110".into(),
            contact_id_field: "Code".into(),
            contact_id_control: "gn_web_users.code".into(),
            contact_fields: default_contact_fields(),
            pre_invoice_fields: default_pre_invoice_fields(),
            pre_invoice_line_fields: default_pre_invoice_line_fields(),
        }
    }

    /// Reads and checks the settings table. Pure: no network.
    pub fn from_settings(settings: &toml::Table) -> Result<Self, SettingsError> {
        for key in settings.keys() {
            if !KEYS.contains(&key.as_str()) {
                return Err(err(key, format!("is not a Siagh setting; use one of: {}", KEYS.join(", "))));
            }
        }
        let url = crate::setting_str(settings, "url")?;
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(err("url", format!("{url:?} is not a web address; use your Siagh server's address, e.g. https://siagh.example.ir")));
        }
        let mut c = SiaghConfig::new(url, crate::setting_str(settings, "username")?);
        for (key, slot) in [
            ("login_path", &mut c.login_path),
            ("contacts_path", &mut c.contacts_path),
            ("save_form_path", &mut c.save_form_path),
            ("contact_form_id", &mut c.contact_form_id),
            ("pre_invoice_form_id", &mut c.pre_invoice_form_id),
            ("post_code", &mut c.post_code),
            ("contact_id_field", &mut c.contact_id_field),
            ("contact_id_control", &mut c.contact_id_control),
        ] {
            if settings.contains_key(key) {
                *slot = crate::setting_str(settings, key)?.trim().to_string();
            }
            if key.ends_with("_path") && !slot.starts_with('/') {
                return Err(err(key, format!("{slot:?} must start with /")));
            }
        }
        for (key, slot) in [("contact_fields", &mut c.contact_fields), ("pre_invoice_fields", &mut c.pre_invoice_fields), ("pre_invoice_line_fields", &mut c.pre_invoice_line_fields)] {
            match settings.get(key) {
                None => {}
                // A table given replaces the defaults: installations differ too much to merge.
                Some(toml::Value::Table(t)) => {
                    slot.clear();
                    for (field, code) in t {
                        let code = code.as_str().filter(|s| !s.trim().is_empty()).ok_or_else(|| err(key, format!("the code for {field:?} must be non-empty text like \"table.field\"")))?;
                        slot.insert(field.clone(), code.trim().to_string());
                    }
                }
                Some(_) => return Err(err(key, "must be a table of field = \"table.field\"".into())),
            }
        }
        c.timeout = Duration::from_secs(int(settings, "timeout_seconds", 30, 1, 600)?);
        c.max_attempts = int(settings, "max_attempts", 5, 1, 20)? as u32;
        Ok(c)
    }
}

fn err(key: &str, message: String) -> SettingsError {
    SettingsError { key: key.into(), message }
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

    #[test]
    fn defaults_overrides_and_bad_keys() {
        let t: toml::Table = "url = \"https://s.example.ir\"\nusername = \"u\"".parse().unwrap();
        let c = SiaghConfig::from_settings(&t).unwrap();
        assert_eq!((c.contact_form_id.as_str(), c.pre_invoice_form_id.as_str(), c.login_path.as_str()), ("2BFDA", "43D81", "/GeneralApi/LoginUser"), "documented defaults");
        let t: toml::Table = "url = \"https://s\"\nusername = \"u\"\ncontact_form_id = \"9AAAA\"\n[contact_fields]\nName = \"t.n\"".parse().unwrap();
        let c = SiaghConfig::from_settings(&t).unwrap();
        assert_eq!((c.contact_form_id.as_str(), c.contact_fields.len()), ("9AAAA", 1), "form ids and field codes are configurable");
        let t: toml::Table = "url = \"https://s\"\nusername = \"u\"\nform = 1".parse().unwrap();
        assert_eq!(SiaghConfig::from_settings(&t).unwrap_err().key, "form", "unknown keys are named");
    }
}
