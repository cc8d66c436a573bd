//! The Siagh finance/ERP connector (API_FACTS §6.2 — a single third-party source, so every
//! path, form id and field code is a setting with the documented value as default):
//! objects `contacts` and `pre_invoices`.
//!
//! - Auth: `LoginUser` with `UserName` and the password as upper-case MD5 hex → `SessionId`,
//!   sent raw as `Authorization` (no scheme). When a call says the session ended (HTTP 401
//!   or a Persian "session expired" message) the connector logs in again and retries once.
//! - `contacts`: read with `GetAll` (body `{}` or a one-field filter, then matched exactly
//!   here); no paging or modified-since filter is known, so every listing is one full page
//!   and the planner finds the changes. Written with `SaveFormData` on `contact_form_id`,
//!   fields mapped to `table.field` control codes (`contact_fields`); an update names the
//!   contact through `contact_id_control` [UNSURE]. Siagh documents no delete.
//! - `pre_invoices`: write-only (no read endpoint is known): listings are empty, like a
//!   webhook target's, and the connector reports `deletes_visible = false`. A pre-invoice
//!   without a `CustomerCode` is refused (it waits until its customer is linked). Header fields go to
//!   `pre_invoice_fields` controls, the `lines` field (JSON text, a list of objects) to
//!   `dataRows` with keys renamed by `pre_invoice_line_fields`. A `Date` given as an ISO
//!   date is sent as a Jalali `1404/09/04`, and `FiscalYear` (`salmali`) defaults to its
//!   Jalali year.
//! - Errors: Siagh's `Errors[]` are shown in Persian as given, after an English summary of
//!   the `ErrorType` ([`client::error_type_summary`]).

pub mod client;
mod config;

use std::sync::Arc;

use async_trait::async_trait;
use crosswalk_core::connector::*;
use crosswalk_core::value::Fields;
use crosswalk_core::{FieldType, Secret, Value};
use serde_json::{json, Map, Value as Json};

pub use client::{error_type_summary, failures, SiaghClient, SiaghLogin};
pub use config::{default_contact_fields, default_pre_invoice_fields, default_pre_invoice_line_fields, SiaghConfig};

use crate::jalali::JalaliDate;
use crate::{BuildContext, SettingsError};

pub const OBJECTS: &[&str] = &["contacts", "pre_invoices"];

/// Builds the connector for connection `name` from its settings and keyring secret.
pub fn build(name: &str, settings: &toml::Table, ctx: &BuildContext) -> Result<Arc<dyn Connector>, SettingsError> {
    let config = SiaghConfig::from_settings(settings)?;
    let password = ctx.secret.clone().filter(|s| !s.is_empty()).ok_or_else(|| SettingsError {
        key: "password".into(),
        message: format!("connection {name} has no Siagh password; run `crosswalk login {name}` (the username is the `username` setting)"),
    })?;
    let c = SiaghConnector::new(config, password).map_err(|e| SettingsError { key: "url".into(), message: e.to_string() })?;
    Ok(Arc::new(c))
}

/// A Siagh user on one server as a [`Connector`].
#[derive(Debug)]
pub struct SiaghConnector {
    client: SiaghClient,
}

fn text_of(v: &Json) -> String {
    v.as_str().map(str::to_string).unwrap_or_else(|| if v.is_null() { String::new() } else { v.to_string() })
}

/// A value as Siagh's form text: ISO dates become Jalali, `|` (the separator) a space.
fn form_text(v: &Value) -> String {
    let s = match v {
        Value::Date(d) => JalaliDate::from_gregorian(*d).map(|j| j.format_slash()).unwrap_or_else(|| v.display()),
        other => other.display(),
    };
    // [UNSURE] no escape for `|` or `=` inside values is documented.
    s.replace('|', " ")
}

/// `table.field=value|…` from the mapped fields present in `fields`.
pub fn ctrl_values(fields: &Fields, codes: &std::collections::BTreeMap<String, String>) -> String {
    codes.iter().filter_map(|(f, code)| fields.get(f).filter(|v| !v.is_null()).map(|v| format!("{code}={}", form_text(v)))).collect::<Vec<_>>().join("|")
}

/// An ISO (`2025-11-25`) or Jalali (`1404/09/04`, Persian digits too) date → Jalali.
pub fn to_jalali(v: &Value) -> Option<JalaliDate> {
    match v {
        Value::Date(d) => JalaliDate::from_gregorian(*d),
        Value::DateTime(t) => JalaliDate::from_gregorian(t.date_naive()),
        other => {
            let s = crate::jalali::to_ascii_digits(other.display().trim());
            match chrono::NaiveDate::parse_from_str(s.get(..10).unwrap_or(&s), "%Y-%m-%d") {
                Ok(d) if d.year_ce().1 > 1700 => JalaliDate::from_gregorian(d),
                _ => JalaliDate::parse(&s),
            }
        }
    }
}

use chrono::Datelike;

impl SiaghConnector {
    pub fn new(config: SiaghConfig, password: Secret) -> Result<Self, ConnectorError> {
        Ok(SiaghConnector { client: SiaghClient::new(config, password)? })
    }

    pub fn client(&self) -> &SiaghClient {
        &self.client
    }

    fn check(object: &str) -> Result<(), ConnectorError> {
        if OBJECTS.contains(&object) {
            Ok(())
        } else {
            Err(ConnectorError::NotFound(format!("Siagh has no object {object:?} here; use one of: {}", OBJECTS.join(", "))))
        }
    }

    /// `GetAll` with `filter` (`{}` for all) → contact records.
    async fn contacts(&self, filter: Json) -> Result<Vec<Record>, ConnectorError> {
        let a = self.client.post(&self.client.config.contacts_path, filter).await?;
        let f = failures(&a);
        if !f.is_empty() {
            return Err(ConnectorError::Invalid(format!("Siagh refused to list contacts: {}", f.join("; "))));
        }
        let rows = match a {
            Json::Array(r) => r,
            Json::Object(mut m) => ["Data", "data", "Result", "result", "Items", "items"].iter().find_map(|k| m.remove(*k)).and_then(|v| v.as_array().cloned()).unwrap_or_default(),
            _ => vec![],
        };
        Ok(rows.iter().filter_map(Json::as_object).map(|m| self.contact(m)).collect())
    }

    fn contact(&self, m: &Map<String, Json>) -> Record {
        let id = m.get(&self.client.config.contact_id_field).map(text_of).unwrap_or_default();
        Record { id, fields: crosswalk_core::value::flatten_json(m), updated_at: None }
    }

    async fn contact_by_id(&self, id: &str) -> Result<Option<Record>, ConnectorError> {
        let key = self.client.config.contact_id_field.clone();
        Ok(self.contacts(json!({ key: id })).await?.into_iter().find(|r| r.id == id))
    }

    async fn save_contact(&self, fields: &Fields, id: Option<&str>) -> Result<Record, ConnectorError> {
        let c = &self.client.config;
        let mut ctrl = ctrl_values(fields, &c.contact_fields);
        if ctrl.is_empty() {
            return Err(ConnectorError::Invalid(format!("none of the fields ({}) has a Siagh control code; set contact_fields (known: {})", fields.keys().cloned().collect::<Vec<_>>().join(", "), c.contact_fields.keys().cloned().collect::<Vec<_>>().join(", "))));
        }
        if let Some(id) = id {
            ctrl = format!("{}={id}|{ctrl}", c.contact_id_control);
        }
        let saved = self.client.save_form(&c.contact_form_id, &ctrl, &json!([])).await?;
        let code = id.map(str::to_string).unwrap_or(saved.code);
        match self.contact_by_id(&code).await? {
            Some(r) => Ok(r),
            // Saved but not (yet) visible in GetAll: report what was written.
            None => Ok(Record { id: code, fields: fields.clone(), updated_at: None }),
        }
    }

    async fn save_pre_invoice(&self, fields: &Fields) -> Result<Record, ConnectorError> {
        let c = &self.client.config;
        if fields.get("CustomerCode").map(|v| v.display().trim().is_empty()).unwrap_or(true) {
            return Err(ConnectorError::Invalid(
                "the pre-invoice has no CustomerCode: its CRM customer is not linked to a finance customer yet (no customer number); it waits and is sent once the customer is synced to finance".into(),
            ));
        }
        let mut f = fields.clone();
        if let Some(date) = fields.get("Date").filter(|v| !v.is_null()) {
            let j = to_jalali(date).ok_or_else(|| ConnectorError::Invalid(format!("pre-invoice Date {:?} is neither an ISO date (2025-11-25) nor a Jalali one (1404/09/04)", date.display())))?;
            f.insert("Date".into(), Value::text(j.format_slash()));
            if !f.contains_key("FiscalYear") {
                f.insert("FiscalYear".into(), Value::Int(j.year as i64));
            }
        }
        let lines: Vec<Json> = match fields.get("lines") {
            None | Some(Value::Null) => vec![],
            Some(Value::Text(t)) => serde_json::from_str(t).map_err(|e| ConnectorError::Invalid(format!("pre-invoice lines must be a JSON list of objects ({e})")))?,
            Some(Value::List(items)) => items.iter().map(|i| serde_json::from_str(&i.display()).unwrap_or(Json::Null)).collect(),
            Some(other) => return Err(ConnectorError::Invalid(format!("pre-invoice lines must be a JSON list of objects, not {:?}", other.display()))),
        };
        let rows: Vec<Json> = lines
            .iter()
            .filter_map(Json::as_object)
            .map(|line| Json::Object(line.iter().map(|(k, v)| (c.pre_invoice_line_fields.get(k).cloned().unwrap_or_else(|| k.clone()), v.clone())).collect()))
            .collect();
        let ctrl = ctrl_values(&f, &c.pre_invoice_fields);
        let saved = self.client.save_form(&c.pre_invoice_form_id, &ctrl, &Json::Array(rows)).await?;
        f.insert("ReturnParams".into(), Value::text(saved.params));
        Ok(Record { id: saved.code, fields: f, updated_at: None })
    }
}

#[async_trait]
impl Connector for SiaghConnector {
    fn kind(&self) -> &'static str {
        "siagh"
    }

    fn capabilities(&self) -> Capabilities {
        // Pre-invoices cannot be read back, so a listing never shows deletions.
        Capabilities { max_batch: 50, incremental: false, deletes_visible: false, webhooks: false, buffered_writes: false }
    }

    #[tracing::instrument(skip_all, err)]
    async fn health(&self) -> Result<Identity, ConnectorError> {
        let info = self.client.login_info().await?;
        // One read proves the session works, not only the login.
        self.client.post(&self.client.config.contacts_path, json!({ self.client.config.contact_id_field.clone(): "" })).await?;
        let url = self.client.config.url.clone();
        let mut details = vec![("url".into(), url.clone()), ("user".into(), info.user_name.clone())];
        if let Some(y) = info.fiscal_year {
            details.push(("fiscal_year".into(), y.to_string()));
        }
        if let Some(d) = &info.system_date {
            details.push(("system_date".into(), d.clone()));
        }
        Ok(Identity { display: format!("{} on Siagh at {url}", info.user_name), details })
    }

    async fn describe(&self) -> Result<Vec<ObjectSchema>, ConnectorError> {
        let c = &self.client.config;
        let mut contact: Vec<FieldSchema> = vec![FieldSchema::new(&c.contact_id_field, FieldType::Id)];
        contact.extend(c.contact_fields.keys().map(|k| FieldSchema::new(k, FieldType::Text)));
        let mut pre: Vec<FieldSchema> = c.pre_invoice_fields.keys().map(|k| FieldSchema::new(k, FieldType::Text)).collect();
        pre.push(FieldSchema::new("lines", FieldType::Text));
        Ok(vec![ObjectSchema { name: "contacts".into(), label: "Contacts".into(), fields: contact }, ObjectSchema { name: "pre_invoices".into(), label: "Pre-invoices".into(), fields: pre }])
    }

    #[tracing::instrument(skip_all, err, fields(object = %req.object))]
    async fn list(&self, req: ListRequest) -> Result<Page, ConnectorError> {
        Self::check(&req.object)?;
        if req.object == "pre_invoices" {
            // Write-only, like a webhook target: nothing to read back, never "emptied".
            return Ok(Page { records: vec![], next_page: None, cursor: Some("write-only".into()) });
        }
        Ok(Page { records: self.contacts(json!({})).await?, next_page: None, cursor: None })
    }

    async fn get(&self, object: &str, ids: &[String]) -> Result<Vec<Record>, ConnectorError> {
        Self::check(object)?;
        if object == "pre_invoices" {
            return Ok(vec![]);
        }
        let mut out = vec![];
        for id in ids {
            if let Some(r) = self.contact_by_id(id).await? {
                out.push(r);
            }
        }
        Ok(out)
    }

    async fn find(&self, object: &str, field: &str, values: &[Value]) -> Result<Vec<Record>, ConnectorError> {
        Self::check(object)?;
        if object == "pre_invoices" {
            return Ok(vec![]);
        }
        let mut out: Vec<Record> = vec![];
        for v in values {
            let want = crate::jalali::to_ascii_digits(v.display().trim());
            if want.is_empty() {
                continue;
            }
            for r in self.contacts(json!({ field: want })).await? {
                if crate::jalali::to_ascii_digits(r.get(field).display().trim()) == want && !out.iter().any(|o| o.id == r.id) {
                    out.push(r);
                }
            }
        }
        Ok(out)
    }

    #[tracing::instrument(skip_all, err, fields(object, n = records.len()))]
    async fn create(&self, object: &str, records: Vec<Fields>) -> Result<Vec<WriteResult>, ConnectorError> {
        Self::check(object)?;
        let mut out = vec![];
        for f in records {
            let r = if object == "contacts" { self.save_contact(&f, None).await } else { self.save_pre_invoice(&f).await };
            if let Err(ConnectorError::Auth(m)) = &r {
                return Err(ConnectorError::Auth(m.clone()));
            }
            out.push(r);
        }
        Ok(out)
    }

    #[tracing::instrument(skip_all, err, fields(object, n = patches.len()))]
    async fn update(&self, object: &str, patches: Vec<RecordPatch>) -> Result<Vec<WriteResult>, ConnectorError> {
        Self::check(object)?;
        let mut out = vec![];
        for p in patches {
            let r = if object == "contacts" { self.save_contact(&p.fields, Some(&p.id)).await } else { Err(ConnectorError::Unsupported(format!("Siagh pre-invoice {} cannot be changed through the API; edit it in Siagh", p.id))) };
            if let Err(ConnectorError::Auth(m)) = &r {
                return Err(ConnectorError::Auth(m.clone()));
            }
            out.push(r);
        }
        Ok(out)
    }

    async fn delete(&self, object: &str, ids: Vec<String>) -> Result<Vec<WriteResult>, ConnectorError> {
        Self::check(object)?;
        Ok(ids.into_iter().map(|id| Err(ConnectorError::Unsupported(format!("Siagh's API has no delete ({object} {id}); delete or deactivate it in Siagh")))).collect())
    }
}
