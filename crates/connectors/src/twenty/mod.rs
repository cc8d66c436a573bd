//! The Twenty CRM connector (REST API, API_FACTS §1).
//!
//! - Auth: `Authorization: Bearer <API key>`; the key comes from the keyring
//!   ([`crate::BuildContext::secret`]) and appears nowhere else.
//! - `describe` reads the metadata API (`/rest/metadata/objects`), so custom objects and
//!   fields can be mapped; when that is unavailable it falls back to the standard
//!   `companies` / `people` schema.
//! - `list` is incremental: `filter=updatedAt[gte]:"<cursor>"`,
//!   `order_by=updatedAt[AscNullsFirst],id[AscNullsFirst]`, `starting_after` paging,
//!   `depth=0`; the cursor is the largest `updatedAt` seen. `gte` re-delivers the boundary
//!   rows; the planner is idempotent, so that costs nothing.
//! - Objects with a `companyId` get a derived `company` column (the company's name); on
//!   write a name is resolved back to `companyId`.
//! - Writes: batch create ≤ 60 per call (a refused batch is retried record by record so
//!   each record gets its own result), PATCH per record, soft delete per record.
//! - A client-side token bucket keeps to `requests_per_minute`; 429/5xx are retried with
//!   back-off (see [`crate::http`]).

mod client;
mod config;
mod mapping;
pub mod webhook;

#[cfg(test)]
mod tests;

use std::collections::BTreeSet;
use std::sync::Arc;

use async_trait::async_trait;
use crosswalk_core::connector::*;
use crosswalk_core::value::{canonicalize, Fields};
use crosswalk_core::{FieldType, Secret, Value};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};

pub use client::{TwentyClient, ORDER_BY};
pub use config::{TwentyConfig, MAX_BATCH};
pub use mapping::{amount_to_micros, micros_to_amount, standard_schema};
pub use webhook::{verify_twenty_webhook, NonceCache, TwentyEvent, TwentyWebhookHeaders, WebhookError};

use crate::{BuildContext, SettingsError};

/// Builds the connector for connection `name` from its settings and keyring secret.
pub fn build(name: &str, settings: &toml::Table, ctx: &BuildContext) -> Result<Arc<dyn Connector>, SettingsError> {
    let config = TwentyConfig::from_settings(settings)?;
    let key = ctx.secret.clone().filter(|s| !s.is_empty()).ok_or_else(|| SettingsError {
        key: "api_key".into(),
        message: format!("connection {name} has no API key; run `crosswalk login {name}` or set TWENTY_API_KEY"),
    })?;
    let c = TwentyConnector::new(name, config, key).map_err(|e| SettingsError { key: "url".into(), message: e.to_string() })?;
    Ok(Arc::new(c))
}

/// A Twenty workspace as a [`Connector`].
#[derive(Debug)]
pub struct TwentyConnector {
    client: TwentyClient,
}

/// The page token: Twenty's end cursor plus the high-water mark so far.
#[derive(Serialize, Deserialize, Default)]
struct PageToken {
    after: String,
    #[serde(default)]
    max: Option<String>,
}

impl TwentyConnector {
    pub fn new(name: &str, config: TwentyConfig, api_key: Secret) -> Result<Self, ConnectorError> {
        Ok(TwentyConnector { client: TwentyClient::new(name, config, api_key)? })
    }

    pub fn client(&self) -> &TwentyClient {
        &self.client
    }

    /// Records from Twenty JSON, with the `company` name filled where there is a `companyId`.
    async fn to_records(&self, raw: Vec<Map<String, Json>>) -> Result<Vec<Record>, ConnectorError> {
        let mut records: Vec<Record> = raw.iter().map(mapping::record_from_json).collect();
        let has_company = raw.iter().any(|r| r.contains_key(mapping::COMPANY_ID));
        if has_company {
            let ids: Vec<String> = records.iter().filter_map(|r| r.get(mapping::COMPANY_ID).as_text()).collect();
            let names = self.client.company_names(&ids).await?;
            for r in &mut records {
                let name = r.get(mapping::COMPANY_ID).as_text().and_then(|id| names.get(&id).cloned());
                r.fields.insert(mapping::COMPANY_NAME.into(), name.map(Value::Text).unwrap_or(Value::Null));
            }
        }
        Ok(records)
    }

    /// Resolves the `company` name column to `companyId` and builds the JSON body.
    async fn body_for(&self, fields: &Fields) -> Result<Json, ConnectorError> {
        let mut fields = fields.clone();
        if let Some(v) = fields.remove(mapping::COMPANY_NAME) {
            let name = canonicalize(&v, FieldType::Text).map_err(|e| ConnectorError::Invalid(e.to_string()))?;
            let id = match name {
                Value::Text(n) => match self.client.company_id_by_name(&n).await? {
                    Some(id) => Value::Text(id),
                    None => return Err(ConnectorError::Invalid(format!("no company named {n:?} in Twenty; create it first or fix the name"))),
                },
                _ => Value::Null,
            };
            fields.insert(mapping::COMPANY_ID.into(), id);
        }
        mapping::fields_to_json(&fields).map(Json::Object).map_err(ConnectorError::Invalid)
    }

    /// The record a write returned, with the `company` name from the input (or the cache):
    /// no further request, so a lookup failure can never hide a write that happened.
    fn written(&self, raw: &Map<String, Json>, input: &Fields) -> Record {
        let mut r = mapping::record_from_json(raw);
        if r.fields.contains_key(mapping::COMPANY_ID) {
            let name = match input.get(mapping::COMPANY_NAME) {
                Some(v) => v.clone(),
                None => r.get(mapping::COMPANY_ID).as_text().and_then(|id| self.client.cached_company_name(&id)).map(Value::Text).unwrap_or(Value::Null),
            };
            r.fields.insert(mapping::COMPANY_NAME.into(), name);
        }
        r
    }
}

trait AsText {
    fn as_text(&self) -> Option<String>;
}
impl AsText for Value {
    fn as_text(&self) -> Option<String> {
        match self {
            Value::Text(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
            _ => None,
        }
    }
}

/// Auth failures stop the whole call (every other record would fail the same way).
fn fatal(e: &ConnectorError) -> bool {
    matches!(e, ConnectorError::Auth(_))
}

fn later(a: Option<String>, b: Option<String>) -> Option<String> {
    match (a, b) {
        (Some(a), Some(b)) => match (mapping::parse_time(&a), mapping::parse_time(&b)) {
            (Some(ta), Some(tb)) if tb > ta => Some(b),
            _ => Some(a),
        },
        (a, b) => a.or(b),
    }
}

#[async_trait]
impl Connector for TwentyConnector {
    fn kind(&self) -> &'static str {
        "twenty"
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities { max_batch: self.client.config.batch_size, incremental: true, deletes_visible: true, webhooks: true, buffered_writes: false }
    }

    #[tracing::instrument(skip_all, err)]
    async fn health(&self) -> Result<Identity, ConnectorError> {
        let companies = self.client.count("companies").await?;
        let people = self.client.count("people").await.ok().flatten();
        let url = self.client.config.url.clone();
        let n = |c: Option<u64>| c.map(|c| c.to_string()).unwrap_or_else(|| "?".into());
        Ok(Identity {
            display: format!("Twenty workspace at {url} ({} companies, {} people)", n(companies), n(people)),
            details: vec![("url".into(), url), ("companies".into(), n(companies)), ("people".into(), n(people))],
        })
    }

    #[tracing::instrument(skip_all, err)]
    async fn describe(&self) -> Result<Vec<ObjectSchema>, ConnectorError> {
        match self.client.metadata_objects().await {
            Ok(objects) => {
                let schemas: Vec<ObjectSchema> = objects.iter().filter_map(mapping::schema_from_metadata).collect();
                if schemas.is_empty() {
                    tracing::warn!("Twenty metadata API listed no objects; using the standard schema");
                    return Ok(standard_schema());
                }
                Ok(schemas)
            }
            Err(e) if fatal(&e) || matches!(e, ConnectorError::Unavailable(_)) => Err(e),
            Err(e) => {
                tracing::warn!(error = %e, "Twenty metadata API unavailable; using the standard schema");
                Ok(standard_schema())
            }
        }
    }

    #[tracing::instrument(skip_all, err, fields(object = %req.object))]
    async fn list(&self, req: ListRequest) -> Result<Page, ConnectorError> {
        let token: PageToken = match &req.page {
            Some(p) => serde_json::from_str(p).map_err(|_| ConnectorError::Invalid(format!("page token {p:?} is not one this connector made")))?,
            None => PageToken::default(),
        };
        let filter = req.since.as_ref().map(|s| format!("updatedAt[gte]:\"{s}\""));
        let after = (!token.after.is_empty()).then_some(token.after.as_str());
        let page = self.client.find_page(&req.object, filter.as_deref(), after, self.client.config.page_size).await?;
        let page_max = page.records.iter().filter_map(|r| r.get("updatedAt").and_then(Json::as_str).map(str::to_string)).fold(None, |m, t| later(m, Some(t)));
        let max = later(later(token.max, page_max), req.since.clone());
        let next_page = match (page.has_next, page.end_cursor) {
            (true, Some(c)) if c != token.after => Some(serde_json::to_string(&PageToken { after: c, max: max.clone() }).unwrap_or_default()),
            _ => None,
        };
        let records = self.to_records(page.records).await?;
        Ok(Page { records, next_page, cursor: max })
    }

    async fn get(&self, object: &str, ids: &[String]) -> Result<Vec<Record>, ConnectorError> {
        let mut raw = vec![];
        for chunk in ids.chunks(100) {
            let ok: Vec<&str> = chunk.iter().map(String::as_str).filter(|id| id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')).collect();
            if ok.is_empty() {
                continue;
            }
            raw.extend(self.client.find_all(object, &format!("id[in]:[{}]", ok.join(","))).await?);
        }
        self.to_records(raw).await
    }

    async fn find(&self, object: &str, field: &str, values: &[Value]) -> Result<Vec<Record>, ConnectorError> {
        if field == "id" {
            let ids: Vec<String> = values.iter().filter_map(Value::as_text).collect();
            return self.get(object, &ids).await;
        }
        let (field, values): (String, Vec<Value>) = if field == mapping::COMPANY_NAME {
            let mut ids = vec![];
            for v in values.iter().filter_map(Value::as_text) {
                if let Some(id) = self.client.company_id_by_name(&v).await? {
                    ids.push(Value::Text(id));
                }
            }
            (mapping::COMPANY_ID.to_string(), ids)
        } else {
            (field.to_string(), values.iter().filter(|v| !v.is_null()).cloned().collect())
        };
        let mut seen = BTreeSet::new();
        let mut raw = vec![];
        let mut simple = vec![];
        for v in &values {
            let (path, text) = mapping::filter_term(&field, v).map_err(ConnectorError::Invalid)?;
            if text.contains(',') || text.contains(']') || text.contains('(') || text.contains(')') {
                raw.extend(self.client.find_all(object, &format!("{path}[eq]:{text}")).await?);
            } else {
                simple.push((path, text));
            }
        }
        for chunk in simple.chunks(50) {
            let path = &chunk[0].0;
            let list: Vec<&str> = chunk.iter().map(|(_, t)| t.as_str()).collect();
            raw.extend(self.client.find_all(object, &format!("{path}[in]:[{}]", list.join(","))).await?);
        }
        raw.retain(|r| seen.insert(r.get("id").and_then(Json::as_str).unwrap_or_default().to_string()));
        self.to_records(raw).await
    }

    #[tracing::instrument(skip_all, err, fields(object, n = records.len()))]
    async fn create(&self, object: &str, records: Vec<Fields>) -> Result<Vec<WriteResult>, ConnectorError> {
        let mut out: Vec<Option<WriteResult>> = vec![None; records.len()];
        let mut ready: Vec<(usize, Json)> = vec![];
        for (i, fields) in records.iter().enumerate() {
            match self.body_for(fields).await {
                Ok(b) => ready.push((i, b)),
                Err(e) if fatal(&e) => return Err(e),
                Err(e) => out[i] = Some(Err(e)),
            }
        }
        for chunk in ready.chunks(self.client.config.batch_size.max(1)) {
            let bodies: Vec<Json> = chunk.iter().map(|(_, b)| b.clone()).collect();
            match self.client.create_batch(object, bodies).await {
                Ok(created) if created.len() == chunk.len() => {
                    for ((i, _), raw) in chunk.iter().zip(created) {
                        out[*i] = Some(Ok(self.written(&raw, &records[*i])));
                    }
                }
                Ok(created) => {
                    let e = ConnectorError::Other(format!("Twenty created {} of {} records in one batch and did not say which; check {object} for duplicates", created.len(), chunk.len()));
                    for (i, _) in chunk {
                        out[*i] = Some(Err(e.clone()));
                    }
                }
                Err(e) if fatal(&e) => return Err(e),
                // One bad record refuses the whole batch: send them one by one so each
                // record gets its own answer.
                Err(ConnectorError::Invalid(_)) if chunk.len() > 1 => {
                    for (i, body) in chunk {
                        out[*i] = Some(match self.client.create_one(object, body.clone()).await {
                            Ok(raw) => Ok(self.written(&raw, &records[*i])),
                            Err(e) if fatal(&e) => return Err(e),
                            Err(e) => Err(e),
                        });
                    }
                }
                Err(e) => {
                    for (i, _) in chunk {
                        out[*i] = Some(Err(e.clone()));
                    }
                }
            }
        }
        Ok(out.into_iter().map(|r| r.unwrap_or_else(|| Err(ConnectorError::Other("record was not sent".into())))).collect())
    }

    #[tracing::instrument(skip_all, err, fields(object, n = patches.len()))]
    async fn update(&self, object: &str, patches: Vec<RecordPatch>) -> Result<Vec<WriteResult>, ConnectorError> {
        let mut out = Vec::with_capacity(patches.len());
        for p in patches {
            let r = match self.body_for(&p.fields).await {
                Ok(body) => match self.client.update_one(object, &p.id, body).await {
                    Ok(raw) => Ok(self.written(&raw, &p.fields)),
                    Err(e) => Err(e),
                },
                Err(e) => Err(e),
            };
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
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            match self.client.soft_delete(object, &id).await {
                Ok(raw) => out.push(Ok(mapping::record_from_json(&raw))),
                Err(e) if fatal(&e) => return Err(e),
                Err(e) => out.push(Err(e)),
            }
        }
        Ok(out)
    }
}
