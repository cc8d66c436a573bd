//! Setting up from a front end: connections (add, test, sign in/out, remove) and links
//! from a preset, written into the config file. The desktop's Connections and Syncs
//! screens call these; the CLI's `init`/`login` do the same by hand.
//!
//! Invariants: the config is edited with `toml_edit` so a user's comments and layout
//! survive; a change is validated as a whole config before it is written, and written to a
//! temp file then renamed; secrets go only to the keyring.
//!
//! [`sign_in_forms`] describes the form of every system (which settings, which secret);
//! [`links`] shows and edits a link's field mapping, policies and schedule.

pub mod links;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crosswalk_connectors::BuildContext;
use crosswalk_core::config::{Config, ConnectionDef};
use crosswalk_core::connector::Identity;
use crosswalk_core::Secret;
use serde::{Deserialize, Serialize};

use crate::error::{AppError, ErrorCode};
use crate::presets::{self, Values};
use crate::{secrets, App};

/// A connection as the Connections screen lists it (never its secret).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ConnectionInfo {
    pub name: String,
    pub kind: String,
    /// The URL or workbook path, for display (a webhook's URL redacted: it is secret-like).
    pub location: Option<String>,
    /// The connection's text settings, to fill the sign-in form again (never a secret; a
    /// webhook's URL is left out).
    pub settings: BTreeMap<String, String>,
    /// Whether a secret is stored (keyring or environment) for a kind that needs one.
    pub signed_in: bool,
    pub needs_secret: bool,
    /// The secret may be left out (a webhook's signing key).
    pub secret_optional: bool,
    /// Why the keyring could not be asked (it did not answer in time), when it could not.
    pub secret_error: Option<String>,
}

/// The connections in the config at `config_path` (none when it does not exist yet).
pub fn list_connections(config_path: &Path) -> Result<Vec<ConnectionInfo>, AppError> {
    if !config_path.exists() {
        return Ok(vec![]);
    }
    let cfg = Config::load(config_path)?;
    Ok(cfg
        .connections
        .iter()
        .map(|(name, def)| {
            let env = def.settings.get("secret_env").and_then(|v| v.as_str());
            let webhook = def.kind == "webhook";
            let location = ["url", "path"].iter().find_map(|k| def.settings.get(*k).and_then(|v| v.as_str()).map(str::to_string));
            let location = if webhook { location.map(|u| crosswalk_connectors::webhook::redact_url(&u)) } else { location };
            let settings = def
                .settings
                .iter()
                .filter(|(k, _)| !(webhook && k.as_str() == "url") && !crate::app::ENGINE_SETTINGS.contains(&k.as_str()))
                .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string())))
                .collect();
            let has_secret = crosswalk_connectors::needs_secret(&def.kind) || optional_secret(&def.kind);
            let found = if has_secret { secrets::lookup(name, env) } else { Ok(None) };
            ConnectionInfo {
                name: name.clone(),
                kind: def.kind.clone(),
                location,
                settings,
                signed_in: matches!(found, Ok(Some(_))),
                needs_secret: crosswalk_connectors::needs_secret(&def.kind),
                secret_optional: optional_secret(&def.kind),
                secret_error: found.err(),
            }
        })
        .collect())
}

/// One input of a sign-in form.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FormField {
    /// The setting it fills (`url`, `username`), or `secret` for the keyring secret.
    pub key: String,
    pub label: String,
    pub placeholder: String,
    /// Goes to the keyring, never the config (shown as a password input).
    pub secret: bool,
    pub required: bool,
    pub hint: Option<String>,
}

/// How a person signs in to one kind of system.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SignInForm {
    pub kind: String,
    pub label: String,
    pub fields: Vec<FormField>,
    /// Signs in through the system browser (OAuth) instead of a typed secret.
    pub oauth: bool,
}

fn input(key: &str, label: &str, placeholder: &str, hint: Option<&str>) -> FormField {
    FormField { key: key.into(), label: label.into(), placeholder: placeholder.into(), secret: false, required: true, hint: hint.map(Into::into) }
}

fn secret(key: &str, label: &str, required: bool, hint: &str) -> FormField {
    FormField { key: key.into(), label: label.into(), placeholder: String::new(), secret: true, required, hint: Some(hint.into()) }
}

/// The sign-in form of every system a person can connect from the desktop app.
pub fn sign_in_forms() -> Vec<SignInForm> {
    let form = |kind: &str, label: &str, fields: Vec<FormField>| SignInForm { kind: kind.into(), label: label.into(), fields, oauth: false };
    let keyring = "Stored in the OS keyring only.";
    vec![
        form("twenty", "Twenty CRM", vec![
            input("url", "Workspace URL", "https://acme.twenty.com", Some("Cloud workspaces use https://api.twenty.com.")),
            secret("secret", "API key", true, "Settings → APIs & Webhooks → Create API key. Stored in the OS keyring only."),
        ]),
        form("frappe", "Frappe / ERPNext", vec![
            input("url", "Site URL", "https://erp.example.com", Some("The site's address, without /api.")),
            FormField { secret: true, ..input("api_key", "API key", "", Some("User → Settings → API Access → Generate Keys.")) },
            secret("secret", "API secret", true, "Shown once when the keys are generated. Key and secret are stored together in the OS keyring only."),
        ]),
        form("wefact", "WeFact", vec![
            FormField { required: false, ..input("url", "API URL", crosswalk_connectors::wefact::DEFAULT_URL, Some("Leave empty for WeFact's own endpoint.")) },
            secret("secret", "API key", true, "WeFact → Settings → API. Stored in the OS keyring only."),
        ]),
        form("payamgostar", "Payamgostar CRM", vec![
            input("url", "CRM URL", "https://crm.example.ir", None),
            input("username", "Username", "api-user", None),
            secret("secret", "Password", true, keyring),
        ]),
        form("siagh", "Siagh finance", vec![
            input("url", "Siagh URL", "https://siagh.example.ir", None),
            input("username", "Username", "api-user", None),
            secret("secret", "Password", true, "Sent to Siagh MD5-hashed, as its login asks. Stored in the OS keyring only."),
        ]),
        SignInForm {
            oauth: true,
            ..form("zoho", "Zoho CRM", vec![
                input("client_id", "Client ID", "1000.…", Some("api-console.zoho.com → your client. Register the redirect URI below for it.")),
                FormField { required: false, ..input("region", "Data centre", "us", Some("us, eu, in, au, jp, cn, ca, sa or uk: where your Zoho account lives.")) },
                FormField { required: false, ..input("accounts_url", "Accounts server", "", Some("Only when it is not the data centre's own (https://accounts.zoho.eu …).")) },
                FormField { required: false, ..input("redirect_uri", "Redirect URI", crosswalk_connectors::zoho::config::DEFAULT_REDIRECT_URI, Some("A loopback address on this computer, as registered for the client.")) },
                secret("secret", "Client secret", false, "Needed once for a server-based client; kept with the refresh token in the OS keyring only."),
            ])
        },
        form("webhook", "Webhook (Zapier, Make, …)", vec![
            input("url", "Webhook URL", "https://hooks.zapier.com/hooks/catch/…", Some("Shown shortened: the address itself is secret-like.")),
            secret("secret", "Signing secret (optional)", false, "When set, each POST carries an HMAC-SHA256 signature. Stored in the OS keyring only."),
        ]),
    ]
}

/// Kinds whose secret is optional (a webhook's signing key): looked up in the keyring
/// when present, fine when absent.
pub fn optional_secret(kind: &str) -> bool {
    kind == "webhook"
}

/// Splits a form into what goes to the config and what goes to the keyring. Secret-like
/// form fields (Frappe's `api_key`) never reach the config: Frappe keeps `key:secret` as
/// one keyring secret, the form the erpnext-erpnext preset and `crosswalk login` use.
fn credentials(kind: &str, settings: &BTreeMap<String, String>, secret: Option<Secret>) -> Result<(BTreeMap<String, String>, Option<Secret>), AppError> {
    let mut settings = settings.clone();
    if kind != "frappe" {
        return Ok((settings, secret));
    }
    let key = settings.remove("api_key").map(|k| k.trim().to_string()).filter(|k| !k.is_empty());
    match (key, secret) {
        (Some(k), Some(s)) if !s.expose().contains(':') => Ok((settings, Some(Secret::new(format!("{k}:{}", s.expose().trim()))))),
        (Some(_), None) => Err(AppError::new(ErrorCode::BadInput, "give the API secret too: Frappe signs in with the API key and its secret together")),
        (_, s) => Ok((settings, s)),
    }
}

/// Checks settings and a secret that are not saved yet: builds the connector and runs its
/// health check ("Test connection" before "Save").
pub async fn test_connection(config_path: &Path, name: &str, kind: &str, settings: &BTreeMap<String, String>, secret: Option<Secret>) -> Result<Identity, AppError> {
    let (settings, secret) = credentials(kind, settings, secret)?;
    let def = connection_def(kind, &settings)?;
    let base_dir = config_path.parent().map(Path::to_path_buf).unwrap_or_default();
    let secret = match secret {
        Some(s) => Some(s),
        None => secrets::lookup(name, None).map_err(|m| AppError::new(ErrorCode::Unavailable, m))?.map(|(s, _)| s),
    };
    if secret.is_none() && crosswalk_connectors::needs_secret(kind) {
        let what = sign_in_forms().into_iter().find(|f| f.kind == kind).and_then(|f| f.fields.into_iter().rev().find(|f| f.secret)).map_or("secret".to_string(), |f| f.label);
        return Err(AppError::new(ErrorCode::Auth, format!("enter the {what} to test the connection")));
    }
    let ctx = BuildContext { base_dir, data_dir: std::env::temp_dir(), secret };
    let conn = crosswalk_connectors::build(name, &def, &ctx)
        .map_err(|e| AppError::new(ErrorCode::BadInput, format!("{kind} connection {name}: {}: {}", e.key, e.message)))?;
    Ok(conn.health().await?)
}

fn connection_def(kind: &str, settings: &BTreeMap<String, String>) -> Result<ConnectionDef, AppError> {
    if !crosswalk_connectors::KINDS.contains(&kind) {
        return Err(AppError::new(ErrorCode::BadInput, format!("{kind:?} is not a kind of connection this build knows; kinds: {}", crosswalk_connectors::KINDS.join(", "))));
    }
    let mut table = toml::Table::new();
    for (k, v) in settings.iter().filter(|(_, v)| !v.trim().is_empty()) {
        table.insert(k.clone(), toml::Value::String(v.trim().to_string()));
    }
    Ok(ConnectionDef { kind: kind.to_string(), settings: table })
}

/// Adds or updates `[connections.NAME]` (kind + the given non-empty settings; other keys
/// already there are kept), then stores `secret` in the keyring when one is given.
pub fn save_connection(config_path: &Path, name: &str, kind: &str, settings: &BTreeMap<String, String>, secret: Option<&Secret>) -> Result<(), AppError> {
    valid_name(name)?;
    let (settings, secret) = credentials(kind, settings, secret.cloned())?;
    let settings = &settings;
    let secret = secret.as_ref();
    connection_def(kind, settings)?;
    let mut doc = read_doc(config_path)?;
    let conns = table_mut(&mut doc, "connections");
    if !conns.contains_key(name) {
        conns.insert(name, toml_edit::Item::Table(toml_edit::Table::new()));
    }
    let t = conns[name].as_table_mut().ok_or_else(|| AppError::bad_config(format!("connections.{name} in {} is not a table", config_path.display())))?;
    t["kind"] = toml_edit::value(kind);
    // An empty input keeps what is there (signing in again need not retype a hidden URL).
    for (k, v) in settings.iter().filter(|(_, v)| !v.trim().is_empty()) {
        t[k.as_str()] = toml_edit::value(v.trim());
    }
    write_doc(config_path, &doc)?;
    if let Some(s) = secret {
        crate::login(name, s)?;
    }
    Ok(())
}

/// Removes a connection no link uses, and its secret.
pub fn remove_connection(config_path: &Path, name: &str) -> Result<(), AppError> {
    let cfg = Config::load(config_path)?;
    let users: Vec<&String> = cfg.links.iter().filter(|(_, l)| l.left.connection == name || l.right.connection == name).map(|(k, _)| k).collect();
    if !users.is_empty() {
        return Err(AppError::new(ErrorCode::BadInput, format!("connection {name} is used by {}; remove those syncs first", users.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", "))));
    }
    let mut doc = read_doc(config_path)?;
    table_mut(&mut doc, "connections").remove(name);
    write_doc(config_path, &doc)?;
    crate::logout(name)
}

/// What [`create_from_preset`] did.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PresetCreated {
    pub links: Vec<String>,
    /// Connections whose secret the preset stored in the keyring.
    pub secrets_saved: Vec<String>,
    /// Connections still needing a sign-in.
    pub secrets_missing: Vec<String>,
}

/// Adds a preset's connections and links to the config (creating it when missing).
/// Connections already in the config are kept as they are (so a signed-in `crm` stays);
/// links of the same name are replaced only when `replace` is set.
pub fn create_from_preset(config_path: &Path, preset: &str, values: &Values, replace: bool) -> Result<PresetCreated, AppError> {
    let plan = presets::init(preset, config_path, values)?;
    let new: toml_edit::DocumentMut = plan.config_text.parse().map_err(|e| AppError::new(ErrorCode::Internal, format!("preset {preset} wrote a config that does not parse: {e}")))?;
    let mut doc = read_doc(config_path)?;
    let mut links = vec![];
    for section in ["connections", "links"] {
        let Some(src) = new.get(section).and_then(|i| i.as_table()) else { continue };
        let dst = table_mut(&mut doc, section);
        for (k, v) in src.iter() {
            let exists = dst.contains_key(k);
            if section == "links" {
                if exists && !replace {
                    return Err(AppError::new(ErrorCode::BadInput, format!("a sync named {k} already exists in {}; remove it or choose replace", config_path.display())));
                }
                links.push(k.to_string());
            } else if exists {
                continue;
            }
            dst.insert(k, v.clone());
        }
    }
    write_doc(config_path, &doc)?;
    let (mut secrets_saved, mut secrets_missing) = (vec![], vec![]);
    for need in plan.secrets {
        match need.value {
            Some(s) => {
                crate::login(&need.connection, &s)?;
                secrets_saved.push(need.connection);
            }
            None if secrets::get(&need.connection, None).is_none() => secrets_missing.push(need.connection),
            None => {}
        }
    }
    Ok(PresetCreated { links, secrets_saved, secrets_missing })
}

/// Removes a link from the config (its history stays in the state database).
pub fn remove_link(config_path: &Path, link: &str) -> Result<(), AppError> {
    let mut doc = read_doc(config_path)?;
    if table_mut(&mut doc, "links").remove(link).is_none() {
        return Err(AppError::new(ErrorCode::NotFound, format!("there is no sync named {link} in {}", config_path.display())));
    }
    write_doc(config_path, &doc)
}

/// The whole config's checks; before any link exists (connections set up first), each
/// connection's settings are still checked.
fn validate(cfg: &Config) -> Result<(), AppError> {
    if !cfg.links.is_empty() {
        return App::validate(cfg);
    }
    let mut errors = vec![];
    for (name, def) in &cfg.connections {
        let mut def = def.clone();
        for k in crate::app::ENGINE_SETTINGS {
            def.settings.remove(*k);
        }
        let ctx = BuildContext { base_dir: cfg.base_dir(), data_dir: std::env::temp_dir(), secret: Some(Secret::new("validation-only")) };
        if !crosswalk_connectors::KINDS.contains(&def.kind.as_str()) {
            errors.push(format!("connections.{name}: kind {:?} is not known; kinds: {}", def.kind, crosswalk_connectors::KINDS.join(", ")));
        } else if let Err(e) = crosswalk_connectors::build(name, &def, &ctx) {
            errors.push(format!("connections.{name}.{}: {}", e.key, e.message));
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(AppError::bad_config(errors.join("\n")))
    }
}

fn valid_name(name: &str) -> Result<(), AppError> {
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
        return Err(AppError::new(ErrorCode::BadInput, format!("connection name {name:?}: use letters, digits, - and _ only")));
    }
    Ok(())
}

fn read_doc(path: &Path) -> Result<toml_edit::DocumentMut, AppError> {
    if !path.exists() {
        return Ok(toml_edit::DocumentMut::new());
    }
    let text = std::fs::read_to_string(path).map_err(|e| AppError::new(ErrorCode::Internal, format!("cannot read {}: {e}", path.display())))?;
    text.parse().map_err(|e| AppError::bad_config(format!("{} is not valid TOML: {e}", path.display())))
}

fn table_mut<'a>(doc: &'a mut toml_edit::DocumentMut, key: &str) -> &'a mut toml_edit::Table {
    if !doc.contains_table(key) {
        let mut t = toml_edit::Table::new();
        t.set_implicit(true);
        doc.insert(key, toml_edit::Item::Table(t));
    }
    doc[key].as_table_mut().expect("just made a table")
}

/// Validates the whole new config, then writes it atomically next to the old one.
fn write_doc(path: &Path, doc: &toml_edit::DocumentMut) -> Result<(), AppError> {
    let text = doc.to_string();
    validate(&Config::parse(path, &text)?)?;
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("."));
    std::fs::create_dir_all(&dir).map_err(|e| AppError::new(ErrorCode::Internal, format!("cannot create {}: {e}", dir.display())))?;
    let tmp = dir.join(format!(".{}.tmp", path.file_name().and_then(|n| n.to_str()).unwrap_or("crosswalk.toml")));
    std::fs::write(&tmp, text).map_err(|e| AppError::new(ErrorCode::Internal, format!("cannot write {}: {e}", tmp.display())))?;
    std::fs::rename(&tmp, path).map_err(|e| AppError::new(ErrorCode::Internal, format!("cannot replace {}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn preset_keeps_an_existing_connection_and_writes_no_secret() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("crosswalk.toml");
        save_connection(&cfg, "crm", "twenty", &settings(&[("url", "http://127.0.0.1:9")]), None).unwrap();
        let mut values = Values::default();
        values.flags.insert("TWENTY_API_URL".into(), "http://127.0.0.1:9".into());
        values.flags.insert("EXCEL_FILE_PATH".into(), dir.path().join("crm.xlsx").display().to_string());
        let made = create_from_preset(&cfg, "twenty-excel", &values, false).unwrap();
        assert_eq!(made.links, vec!["companies", "people"], "the preset adds both of its links");
        let text = std::fs::read_to_string(&cfg).unwrap();
        assert!(text.contains("[links.companies]") && text.contains("[connections.workbook]"), "the preset's tables are merged in: {text}");
        assert!(create_from_preset(&cfg, "twenty-excel", &values, false).is_err(), "a second create must not silently replace the links");
        assert!(create_from_preset(&cfg, "twenty-excel", &values, true).is_ok(), "replace is explicit");
        remove_link(&cfg, "people").unwrap();
        assert!(!std::fs::read_to_string(&cfg).unwrap().contains("[links.people]"), "remove_link removes the table");
        assert!(remove_connection(&cfg, "crm").is_err(), "a connection in use must not be removed");
    }

    #[test]
    fn frappe_key_and_secret_become_one_keyring_secret_and_never_a_setting() {
        let form = settings(&[("url", "https://erp.example.com"), ("api_key", " k1 ")]);
        let (kept, secret) = credentials("frappe", &form, Some(Secret::new("s1"))).unwrap();
        assert_eq!(secret.map(|s| s.expose().to_string()), Some("k1:s1".into()), "key:secret, as crosswalk login and the preset store it");
        assert!(!kept.contains_key("api_key"), "the API key is not written to the config: {kept:?}");
        let (_, secret) = credentials("frappe", &form, Some(Secret::new("k2:s2"))).unwrap();
        assert_eq!(secret.map(|s| s.expose().to_string()), Some("k2:s2".into()), "a pasted key:secret is kept as it is");
        assert_eq!(credentials("frappe", &form, None).unwrap_err().code, ErrorCode::BadInput, "a key without its secret is refused");
        let (kept, secret) = credentials("twenty", &settings(&[("url", "u")]), Some(Secret::new("t"))).unwrap();
        assert_eq!((kept.len(), secret.map(|s| s.expose().to_string())), (1, Some("t".into())), "other kinds pass through");
    }

    #[test]
    fn webhook_urls_are_listed_redacted() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("crosswalk.toml");
        save_connection(&cfg, "zap", "webhook", &settings(&[("url", "https://hooks.zapier.com/hooks/catch/123456/abcdef/")]), None).unwrap();
        let listed = list_connections(&cfg).unwrap();
        let shown = format!("{:?}", listed[0]);
        assert!(!shown.contains("123456") && !shown.contains("abcdef"), "a hook URL (itself a secret) is not shown whole: {shown}");
    }

    #[test]
    fn a_bad_connection_is_not_written() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("crosswalk.toml");
        let e = save_connection(&cfg, "x y", "twenty", &settings(&[]), None).unwrap_err();
        assert_eq!(e.code, ErrorCode::BadInput, "names with spaces are refused: {e}");
        assert!(save_connection(&cfg, "crm", "nosuchkind", &settings(&[]), None).is_err(), "unknown kinds are refused");
        assert!(!cfg.exists(), "nothing is written when the change is refused");
    }
}
