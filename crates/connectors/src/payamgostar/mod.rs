//! The Payamgostar CRM connector (API v2, API_FACTS §6.1 — third-party sources only, so
//! every path and key is a setting with the documented value as default): objects
//! `persons`, `organizations` and `sales_invoices`.
//!
//! - Auth: `POST login_path` with username + password (the keyring secret) → `accessToken`
//!   and `expiresAt`; the token is renewed `renew_before_seconds` before `expiresAt` and,
//!   if the server refuses it earlier (401), once more on the spot. No refresh endpoint
//!   is confirmed [UNSURE], so renewal is a new login.
//! - Reads: `{prefix}/find` with `TypeKey`, `Queries`, `PageNumber` (from 0) and
//!   `PageSize`; paging stops on an empty page or one shorter than both the asked size
//!   and the largest page seen (API_FACTS §0: servers clamp page sizes). `get` takes `{"id"}`. With `incremental = true` a query
//!   `modified_field >= cursor` is sent [UNSURE: the field key]; by default listings are
//!   full scans and the planner finds the changes.
//! - Writes: `{prefix}/create` (answers `{"id"}` or `{"crmId"}`, then read back),
//!   `/update` (the body carries `id` and `crmId`), `/delete` with `{"id"}`; one per call.
//! - Sales invoices get their customer's `CustomerNumber` (looked up by `IdentityId`), so
//!   finance can take them keyed by customer number.
//! - Records: id = `CrmId`; fields as Payamgostar sends them (PascalCase, nested objects
//!   dotted, arrays of objects as JSON text, e.g. `PhoneContacts`); `updated_at` from
//!   `ModifyDate` (ISO with the Tehran offset). On write, JSON text of an array/object is
//!   sent as JSON.

pub mod client;
mod config;

use std::sync::Arc;

use async_trait::async_trait;
use crosswalk_core::connector::*;
use crosswalk_core::value::Fields;
use crosswalk_core::{FieldType, Secret, Value};
use serde_json::{json, Map, Value as Json};

pub use client::{parse_time, PayamgostarClient};
pub use config::PayamgostarConfig;

use crate::{BuildContext, SettingsError};

/// The objects this connector offers.
pub const OBJECTS: &[&str] = &["persons", "organizations", "sales_invoices"];

/// Builds the connector for connection `name` from its settings and keyring secret.
pub fn build(name: &str, settings: &toml::Table, ctx: &BuildContext) -> Result<Arc<dyn Connector>, SettingsError> {
    let config = PayamgostarConfig::from_settings(settings)?;
    let password = ctx.secret.clone().filter(|s| !s.is_empty()).ok_or_else(|| SettingsError {
        key: "password".into(),
        message: format!("connection {name} has no Payamgostar password; run `crosswalk login {name}` (the username is the `username` setting)"),
    })?;
    let c = PayamgostarConnector::new(config, password).map_err(|e| SettingsError { key: "url".into(), message: e.to_string() })?;
    Ok(Arc::new(c))
}

/// A Payamgostar user on one instance as a [`Connector`].
#[derive(Debug)]
pub struct PayamgostarConnector {
    client: PayamgostarClient,
    /// Identity id → customer number, once known (never caches "none yet").
    customer_numbers: std::sync::Mutex<std::collections::HashMap<String, String>>,
}

impl PayamgostarConnector {
    pub fn new(config: PayamgostarConfig, password: Secret) -> Result<Self, ConnectorError> {
        Ok(PayamgostarConnector { client: PayamgostarClient::new(config, password)?, customer_numbers: Default::default() })
    }

    pub fn client(&self) -> &PayamgostarClient {
        &self.client
    }

    /// `(path prefix, TypeKey)` of an object.
    fn object(&self, object: &str) -> Result<(&str, &str), ConnectorError> {
        let c = &self.client.config;
        match object {
            "persons" => Ok((&c.person_path, &c.person_type_key)),
            "organizations" => Ok((&c.organization_path, &c.organization_type_key)),
            "sales_invoices" => Ok((&c.sales_invoice_path, &c.sales_invoice_type_key)),
            _ => Err(ConnectorError::NotFound(format!("Payamgostar has no object {object:?} here; use one of: {}", OBJECTS.join(", ")))),
        }
    }

    /// One page of `find` (page numbers from 0).
    async fn find_page(&self, object: &str, queries: Vec<Json>, page: u64) -> Result<Vec<Map<String, Json>>, ConnectorError> {
        let (prefix, type_key) = self.object(object)?;
        let body = json!({"TypeKey": type_key, "Queries": queries, "Orders": [], "SelectFields": [], "PageNumber": page, "PageSize": self.client.config.page_size});
        Ok(rows(self.client.post(&format!("{prefix}/find"), body).await?))
    }

    /// Gives sales invoices their customer's `CustomerNumber` (looked up by `IdentityId`
    /// among persons, then organizations), so a finance system keyed by customer number can
    /// take them. Left out while the customer has none.
    async fn add_customer_numbers(&self, object: &str, records: &mut [Record]) -> Result<(), ConnectorError> {
        if object != "sales_invoices" {
            return Ok(());
        }
        for r in records.iter_mut() {
            if !r.get("CustomerNumber").display().trim().is_empty() {
                continue;
            }
            let identity = r.fields.iter().find(|(k, _)| k.eq_ignore_ascii_case("IdentityId")).map(|(_, v)| v.display()).filter(|s| !s.trim().is_empty());
            let Some(identity) = identity else { continue };
            let cached = self.customer_numbers.lock().unwrap_or_else(|e| e.into_inner()).get(&identity).cloned();
            let number = match cached {
                Some(n) => Some(n),
                None => {
                    let mut found = None;
                    for o in ["persons", "organizations"] {
                        if let Some(c) = self.get_one(o, &identity).await? {
                            found = Some(c.get("CustomerNumber").display()).filter(|s| !s.trim().is_empty());
                            break;
                        }
                    }
                    if let Some(n) = &found {
                        self.customer_numbers.lock().unwrap_or_else(|e| e.into_inner()).insert(identity.clone(), n.clone());
                    }
                    found
                }
            };
            if let Some(n) = number {
                r.fields.insert("CustomerNumber".into(), Value::text(n));
            }
        }
        Ok(())
    }

    async fn get_one(&self, object: &str, id: &str) -> Result<Option<Record>, ConnectorError> {
        let (prefix, _) = self.object(object)?;
        match self.client.post(&format!("{prefix}/get"), json!({"id": id, "showPreviews": false, "showExtendedPreviews": false})).await {
            Ok(Json::Object(m)) => Ok(Some(to_record(&m, &self.client.config.modified_field))),
            Ok(Json::Null) | Err(ConnectorError::NotFound(_)) => Ok(None),
            Ok(other) => Err(ConnectorError::Other(format!("Payamgostar {prefix}/get answered with {}; expected an object", kind_of(&other)))),
            Err(e) => Err(e),
        }
    }

    async fn write_one(&self, object: &str, op: &str, body: Json, id: Option<&str>) -> Result<Record, ConnectorError> {
        let (prefix, _) = self.object(object)?;
        let answer = self.client.post(&format!("{prefix}/{op}"), body).await?;
        let id = match id {
            Some(id) => id.to_string(),
            None => ["id", "crmId", "Id", "CrmId"]
                .iter()
                .find_map(|k| answer.get(*k).and_then(|v| v.as_str().map(str::to_string).or_else(|| v.as_i64().map(|i| i.to_string()))))
                .ok_or_else(|| ConnectorError::Other(format!("Payamgostar {prefix}/create answered without an id or crmId")))?,
        };
        let r = self.get_one(object, &id).await?.ok_or_else(|| ConnectorError::NotFound(format!("Payamgostar {object} {id} vanished right after it was written")))?;
        let mut rs = [r];
        self.add_customer_numbers(object, &mut rs).await?;
        let [r] = rs;
        Ok(r)
    }
}

/// The rows of a `find` answer: an array, or an object holding one under a usual key.
fn rows(answer: Json) -> Vec<Map<String, Json>> {
    let arr = match answer {
        Json::Array(a) => a,
        Json::Object(mut m) => ["result", "Result", "items", "Items", "data", "Data", "crmObjects", "CrmObjects"].iter().find_map(|k| m.remove(*k)).and_then(|v| v.as_array().cloned()).unwrap_or_default(),
        _ => vec![],
    };
    arr.into_iter().filter_map(|v| v.as_object().cloned()).collect()
}

fn kind_of(v: &Json) -> &'static str {
    match v {
        Json::Array(_) => "a list",
        Json::Object(_) => "an object",
        Json::Null => "nothing",
        _ => "a plain value",
    }
}

/// Vendor JSON → record (see the module docs for the rules).
pub fn to_record(m: &Map<String, Json>, modified_field: &str) -> Record {
    let id = ["CrmId", "crmId", "Id", "id"].iter().find_map(|k| m.get(*k)).map(|v| v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string())).unwrap_or_default();
    let mut fields = Fields::new();
    fn walk(prefix: &str, v: &Json, out: &mut Fields) {
        match v {
            Json::Object(m) => {
                for (k, c) in m {
                    walk(&if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") }, c, out);
                }
            }
            Json::Array(a) if a.iter().any(|x| x.is_object() || x.is_array()) => {
                out.insert(prefix.to_string(), Value::Text(v.to_string()));
            }
            other => {
                out.insert(prefix.to_string(), Value::from_json(other));
            }
        }
    }
    for (k, v) in m {
        walk(k, v, &mut fields);
    }
    let updated_at = m.get(modified_field).and_then(Json::as_str).and_then(parse_time);
    Record { id, fields, updated_at }
}

/// Fields → the JSON body of a create/update (JSON text of arrays/objects sent as JSON).
pub fn to_body(fields: &Fields) -> Map<String, Json> {
    let mut body = crosswalk_core::value::unflatten_json(fields);
    fn fix(v: &mut Json) {
        match v {
            Json::String(s) if (s.starts_with('[') && s.ends_with(']')) || (s.starts_with('{') && s.ends_with('}')) => {
                if let Ok(parsed) = serde_json::from_str::<Json>(s) {
                    *v = parsed;
                }
            }
            Json::Object(m) => m.values_mut().for_each(fix),
            _ => {}
        }
    }
    body.values_mut().for_each(fix);
    body
}

/// Whether another page may follow one of `n` rows: not after an empty page, nor after
/// one shorter than both what we asked for and the largest page the server has sent.
fn more_pages(n: u64, largest: u64, asked: u32) -> bool {
    n > 0 && (n >= asked as u64 || n >= largest)
}

fn fatal(e: &ConnectorError) -> bool {
    matches!(e, ConnectorError::Auth(_))
}

#[async_trait]
impl Connector for PayamgostarConnector {
    fn kind(&self) -> &'static str {
        "payamgostar"
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities { max_batch: 50, incremental: self.client.config.incremental, deletes_visible: true, webhooks: false, buffered_writes: false }
    }

    #[tracing::instrument(skip_all, err)]
    async fn health(&self) -> Result<Identity, ConnectorError> {
        let c = &self.client.config;
        let body = json!({"pageNumber": 0, "pageSize": 1, "searchTerm": "", "identityType": 1});
        self.client.post(&c.identities_path, body).await?;
        Ok(Identity { display: format!("{} on Payamgostar at {}", c.username, c.url), details: vec![("url".into(), c.url.clone()), ("username".into(), c.username.clone())] })
    }

    async fn describe(&self) -> Result<Vec<ObjectSchema>, ConnectorError> {
        let f = |n: &str, t: FieldType| FieldSchema::new(n, t);
        let person = vec![f("CrmId", FieldType::Id), f("FirstName", FieldType::Text), f("LastName", FieldType::Text), f("NickName", FieldType::Text), f("NationalCode", FieldType::Text), f("CustomerNumber", FieldType::Text), f("Email", FieldType::Text), f("PhoneContacts", FieldType::Text), f("ModifyDate", FieldType::Text)];
        let org = vec![f("CrmId", FieldType::Id), f("Name", FieldType::Text), f("NickName", FieldType::Text), f("NationalCode", FieldType::Text), f("EconomicCode", FieldType::Text), f("CustomerNumber", FieldType::Text), f("Email", FieldType::Text), f("ModifyDate", FieldType::Text)];
        let inv = vec![f("CrmId", FieldType::Id), f("Number", FieldType::Text), f("IdentityId", FieldType::Text), f("CustomerNumber", FieldType::Text), f("InvoiceDate", FieldType::Text), f("Details", FieldType::Text), f("TotalAmount", FieldType::Decimal), f("ModifyDate", FieldType::Text)];
        Ok([("persons", "Persons", person), ("organizations", "Organizations", org), ("sales_invoices", "Sales invoices", inv)].into_iter().map(|(n, l, fields)| ObjectSchema { name: n.into(), label: l.into(), fields }).collect())
    }

    #[tracing::instrument(skip_all, err, fields(object = %req.object))]
    async fn list(&self, req: ListRequest) -> Result<Page, ConnectorError> {
        // Token `page:largest`: the page number and the largest page seen so far. The
        // server may clamp PageSize below what we asked (API_FACTS §0), so a page as large
        // as the largest seen is not taken as the last one.
        let (page, largest): (u64, u64) = match &req.page {
            Some(p) => p
                .split_once(':')
                .and_then(|(a, b)| Some((a.parse().ok()?, b.parse().ok()?)))
                .ok_or_else(|| ConnectorError::Invalid(format!("page token {p:?} is not one this connector made")))?,
            None => (0, 0),
        };
        let since = req.since.as_deref().map(str::trim).filter(|s| !s.is_empty());
        let queries = match since {
            Some(s) if self.client.config.incremental => vec![json!({"LogicalOperator": 0, "Field": self.client.config.modified_field, "Operator": ">=", "Value": s, "Leafs": []})],
            _ => vec![],
        };
        let raw = self.find_page(&req.object, queries, page).await?;
        let n = raw.len() as u64;
        let largest = largest.max(n);
        let more = more_pages(n, largest, self.client.config.page_size);
        let mut records: Vec<Record> = raw.iter().map(|m| to_record(m, &self.client.config.modified_field)).collect();
        self.add_customer_numbers(&req.object, &mut records).await?;
        let max = records.iter().filter_map(|r| r.updated_at).max().map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
        let cursor = match (max, since) {
            (Some(m), Some(s)) => Some(if parse_time(s).map(|st| st.to_rfc3339_opts(chrono::SecondsFormat::Millis, true) > m).unwrap_or(false) { s.to_string() } else { m }),
            (m, s) => m.or(s.map(str::to_string)),
        };
        Ok(Page { records, next_page: more.then(|| format!("{}:{largest}", page + 1)), cursor })
    }

    async fn get(&self, object: &str, ids: &[String]) -> Result<Vec<Record>, ConnectorError> {
        let mut out = vec![];
        for id in ids {
            if let Some(r) = self.get_one(object, id).await? {
                out.push(r);
            }
        }
        self.add_customer_numbers(object, &mut out).await?;
        Ok(out)
    }

    async fn find(&self, object: &str, field: &str, values: &[Value]) -> Result<Vec<Record>, ConnectorError> {
        if matches!(field, "id" | "CrmId") {
            let ids: Vec<String> = values.iter().map(Value::display).filter(|s| !s.trim().is_empty()).collect();
            return self.get(object, &ids).await;
        }
        let mut out: Vec<Record> = vec![];
        for v in values {
            let want = v.display().trim().to_string();
            if want.is_empty() {
                continue;
            }
            let q = vec![json!({"LogicalOperator": 0, "Field": field, "Operator": "=", "Value": want, "Leafs": []})];
            let (mut page, mut largest) = (0, 0);
            loop {
                let raw = self.find_page(object, q.clone(), page).await?;
                let n = raw.len() as u64;
                largest = largest.max(n);
                for r in raw.iter().map(|m| to_record(m, &self.client.config.modified_field)) {
                    // The server's `=` may be loose (case, Persian digits): keep exact matches.
                    let got = crate::jalali::to_ascii_digits(r.get(field).display().trim());
                    if got == crate::jalali::to_ascii_digits(&want) && !out.iter().any(|o| o.id == r.id) {
                        out.push(r);
                    }
                }
                if !more_pages(n, largest, self.client.config.page_size) {
                    break;
                }
                page += 1;
            }
        }
        Ok(out)
    }

    #[tracing::instrument(skip_all, err, fields(object, n = records.len()))]
    async fn create(&self, object: &str, records: Vec<Fields>) -> Result<Vec<WriteResult>, ConnectorError> {
        self.object(object)?;
        let mut out = vec![];
        for fields in records {
            let r = self.write_one(object, "create", Json::Object(to_body(&fields)), None).await;
            if let Err(e) = &r {
                if fatal(e) {
                    return Err(e.clone());
                }
            }
            out.push(r);
        }
        Ok(out)
    }

    #[tracing::instrument(skip_all, err, fields(object, n = patches.len()))]
    async fn update(&self, object: &str, patches: Vec<RecordPatch>) -> Result<Vec<WriteResult>, ConnectorError> {
        self.object(object)?;
        let mut out = vec![];
        for p in patches {
            let mut body = to_body(&p.fields);
            body.insert("id".into(), json!(p.id));
            body.insert("crmId".into(), json!(p.id));
            let r = self.write_one(object, "update", Json::Object(body), Some(&p.id)).await;
            if let Err(e) = &r {
                if fatal(e) {
                    return Err(e.clone());
                }
            }
            out.push(r);
        }
        Ok(out)
    }

    #[tracing::instrument(skip_all, err, fields(object, n = ids.len()))]
    async fn delete(&self, object: &str, ids: Vec<String>) -> Result<Vec<WriteResult>, ConnectorError> {
        let (prefix, _) = self.object(object)?;
        let path = format!("{prefix}/delete");
        let mut out = vec![];
        for id in ids {
            let r = self.client.post(&path, json!({"id": id})).await.map(|_| Record::new(id));
            if let Err(e) = &r {
                if fatal(e) {
                    return Err(e.clone());
                }
            }
            out.push(r);
        }
        Ok(out)
    }
}
