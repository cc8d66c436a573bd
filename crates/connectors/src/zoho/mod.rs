//! The Zoho connector (API_FACTS §3): Zoho CRM records over OAuth 2.0, record
//! attachments, and Zoho WorkDrive folders and uploads.
//!
//! - Auth ([`oauth`]): the connection's keyring secret is a JSON text holding the client
//!   secret and the refresh token ([`Credentials`]); the access token lives in memory
//!   only, cached until 5 minutes before it expires, refreshed within Zoho's limit of 10
//!   per 10 minutes; a 401 refreshes once and retries. The data centre comes from
//!   `region` (or `accounts_url`), the API host from the token answer's `api_domain`.
//! - Records ([`records`], transport in [`client`]): Get Records with `fields` (mandatory from v3; at most 50 per
//!   call — more are fetched in further calls by `ids` and merged), `per_page` 200, `page`
//!   for the first 2,000 records and `page_token` after; increments with
//!   `If-Modified-Since` + `sort_by=Modified_Time`; 204 is an empty page; search by
//!   criteria followed by a local exact-match filter; inserts/updates/deletes of at most
//!   100 per call with one result per record. At most `max_concurrency` (5) calls in
//!   flight; 429 → back-off. Every CRM call is counted ([`CallStats::crm_credits`]).
//! - WorkDrive ([`workdrive`]): find a folder by name inside a team folder (never create
//!   one) and upload with our duplicate-name policy `name_YYYYMMDD_HHMMSS.ext`.
//!
//! As a [`Connector`] (for ordinary links) objects are CRM modules; `list` reads the fields
//! configured under `fields.<Module>`, else every field the settings API lists.

pub mod client;
pub mod config;
pub mod mapping;
pub mod oauth;
pub mod records;
pub mod signin;
pub mod workdrive;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use crosswalk_core::connector::*;
use crosswalk_core::value::Fields;
use crosswalk_core::{Secret, Value};

pub use client::{Attachment, CallStats, PageCursor, ZohoClient};
pub use config::{data_centre, DataCentre, TransferSettings, ZohoConfig, DATA_CENTRES, DEFAULT_REDIRECT_URI};
pub use oauth::Credentials;
pub use workdrive::{find_by_name, timestamped_name, WdItem};

use crate::{BuildContext, SettingsError};

/// Builds the connector for connection `name` from its settings and keyring secret.
pub fn build(name: &str, settings: &toml::Table, ctx: &BuildContext) -> Result<Arc<dyn Connector>, SettingsError> {
    Ok(Arc::new(ZohoConnector::from_settings(name, settings, ctx.secret.as_ref())?))
}

/// A Zoho CRM org as a [`Connector`]; [`ZohoConnector::client`] reaches attachments and
/// WorkDrive.
#[derive(Debug)]
pub struct ZohoConnector {
    client: Arc<ZohoClient>,
    fields: Mutex<BTreeMap<String, Vec<FieldSchema>>>,
}

impl ZohoConnector {
    /// From `[connections.NAME]` settings and the keyring secret ([`Credentials`] JSON).
    pub fn from_settings(name: &str, settings: &toml::Table, secret: Option<&Secret>) -> Result<ZohoConnector, SettingsError> {
        let config = ZohoConfig::from_settings(settings)?;
        let creds = secret.map(Credentials::parse).unwrap_or_default();
        let refresh = creds.refresh_token.clone().ok_or_else(|| SettingsError {
            key: "refresh_token".into(),
            message: format!("connection {name} is not signed in to Zoho: run `crosswalk login {name}` (or set the variable named by refresh_token_env)"),
        })?;
        let client = ZohoClient::new(config, creds.client_secret.clone(), refresh, creds.accounts_server.as_deref()).map_err(|e| SettingsError { key: "client_id".into(), message: e.to_string() })?;
        Ok(ZohoConnector { client: Arc::new(client), fields: Mutex::new(BTreeMap::new()) })
    }

    pub fn new(client: ZohoClient) -> ZohoConnector {
        ZohoConnector { client: Arc::new(client), fields: Mutex::new(BTreeMap::new()) }
    }

    /// Keeps the access token in `cache` between runs (before the first call).
    pub fn with_token_cache(self, cache: Arc<dyn oauth::TokenCache>) -> ZohoConnector {
        let client = Arc::try_unwrap(self.client).map(|c| Arc::new(c.with_token_cache(cache))).unwrap_or_else(|shared| shared);
        ZohoConnector { client, fields: self.fields }
    }

    pub fn client(&self) -> &Arc<ZohoClient> {
        &self.client
    }

    async fn module_schema(&self, module: &str) -> Result<Vec<FieldSchema>, ConnectorError> {
        if let Some(f) = self.fields.lock().unwrap_or_else(|e| e.into_inner()).get(module) {
            return Ok(f.clone());
        }
        let fields: Vec<FieldSchema> = self.client.module_fields(module).await?.iter().filter_map(mapping::field_schema).collect();
        self.fields.lock().unwrap_or_else(|e| e.into_inner()).insert(module.to_string(), fields.clone());
        Ok(fields)
    }

    /// The fields `list` and `get` read for `module`.
    async fn read_fields(&self, module: &str) -> Result<Vec<String>, ConnectorError> {
        let mut f = match self.client.config.fields.get(module) {
            Some(f) if !f.is_empty() => f.clone(),
            _ => self.module_schema(module).await?.into_iter().map(|f| f.name).collect(),
        };
        for must in ["id", "Modified_Time"] {
            if !f.iter().any(|x| x == must) {
                f.push(must.to_string());
            }
        }
        Ok(f)
    }
}

/// The page token of a listing: where the next page starts and the high-water mark.
#[derive(serde::Serialize, serde::Deserialize, Default)]
struct ListToken {
    cursor: PageCursor,
    #[serde(default)]
    max: Option<String>,
}

fn results(rs: Vec<Result<serde_json::Map<String, serde_json::Value>, ConnectorError>>, ids: &[String]) -> Vec<WriteResult> {
    rs.into_iter()
        .enumerate()
        .map(|(i, r)| {
            r.map(|details| {
                let id = client::id_of(&details).or_else(|| ids.get(i).cloned()).unwrap_or_default();
                let mut rec = mapping::record_from_json(&details);
                rec.id = id.clone();
                rec.fields.insert("id".into(), Value::text(id));
                rec
            })
        })
        .collect()
}

#[async_trait]
impl Connector for ZohoConnector {
    fn kind(&self) -> &'static str {
        "zoho"
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities { max_batch: self.client.config.max_batch, incremental: true, deletes_visible: true, webhooks: false, buffered_writes: false }
    }

    #[tracing::instrument(skip_all, err)]
    async fn health(&self) -> Result<Identity, ConnectorError> {
        let region = self.client.config.region.clone();
        let details = vec![("region".to_string(), region.clone()), ("accounts".to_string(), self.client.config.accounts_url.clone())];
        let u = match self.client.current_user().await {
            Ok(u) => u,
            // A token without ZohoCRM.users.READ (an older client's scopes): the first
            // module answering is proof enough.
            Err(ConnectorError::Auth(_)) if !self.client.config.modules.is_empty() => {
                let m = &self.client.config.modules[0];
                self.client.records_page(m, &["id".to_string()], &PageCursor { page: 1, token: None }, None).await?;
                return Ok(Identity { display: format!("Zoho CRM ({region}): {m} readable"), details });
            }
            Err(e) => return Err(e),
        };
        let s = |k: &str| u.get(k).map(client::text_of).unwrap_or_default();
        let who = if s("email").is_empty() { s("full_name") } else { format!("{} <{}>", s("full_name"), s("email")) };
        Ok(Identity { display: format!("{who} on Zoho CRM ({region})"), details })
    }

    async fn describe(&self) -> Result<Vec<ObjectSchema>, ConnectorError> {
        let mut out = vec![];
        for m in &self.client.config.modules {
            out.push(ObjectSchema { name: m.clone(), label: m.replace('_', " "), fields: self.module_schema(m).await? });
        }
        Ok(out)
    }

    #[tracing::instrument(skip_all, err, fields(object = %req.object))]
    async fn list(&self, req: ListRequest) -> Result<Page, ConnectorError> {
        let token: ListToken = match &req.page {
            Some(p) => serde_json::from_str(p).map_err(|_| ConnectorError::Invalid(format!("page token {p:?} is not one this connector made")))?,
            None => ListToken { cursor: PageCursor { page: 1, token: None }, max: None },
        };
        let fields = self.read_fields(&req.object).await?;
        let since = req.since.as_deref().map(str::trim).filter(|s| !s.is_empty());
        let (page, next) = self.client.records_page(&req.object, &fields, &token.cursor, since).await?;
        let mut max = token.max;
        let records: Vec<Record> = page.data.iter().map(mapping::record_from_json).collect();
        for r in &page.data {
            if let Some(m) = r.get("Modified_Time").and_then(|v| v.as_str()) {
                let newer = match (&max, DateTime::parse(m)) {
                    (Some(cur), Some(t)) => DateTime::parse(cur).map(|c| t > c).unwrap_or(true),
                    (None, _) => true,
                    _ => false,
                };
                if newer {
                    max = Some(m.to_string());
                }
            }
        }
        let next_page = page.more.then(|| serde_json::to_string(&ListToken { cursor: next, max: max.clone() }).unwrap_or_default());
        let cursor = max.or_else(|| since.map(str::to_string));
        Ok(Page { records, next_page, cursor })
    }

    async fn get(&self, object: &str, ids: &[String]) -> Result<Vec<Record>, ConnectorError> {
        let fields = self.read_fields(object).await?;
        Ok(self.client.get_records(object, ids, &fields).await?.iter().map(mapping::record_from_json).collect())
    }

    async fn find(&self, object: &str, field: &str, values: &[Value]) -> Result<Vec<Record>, ConnectorError> {
        if field == "id" {
            let ids: Vec<String> = values.iter().map(Value::display).filter(|s| !s.trim().is_empty()).collect();
            return self.get(object, &ids).await;
        }
        let fields = self.read_fields(object).await?;
        let mut out: Vec<Record> = vec![];
        for v in values {
            let v = v.display();
            if v.trim().is_empty() {
                continue;
            }
            for r in self.client.search_exact(object, field, &v, &fields, false).await? {
                let rec = mapping::record_from_json(&r);
                if !out.iter().any(|o| o.id == rec.id) {
                    out.push(rec);
                }
            }
        }
        Ok(out)
    }

    async fn create(&self, object: &str, records: Vec<Fields>) -> Result<Vec<WriteResult>, ConnectorError> {
        let body = records.iter().map(mapping::fields_to_json).collect();
        Ok(results(self.client.insert(object, body).await?, &[]))
    }

    async fn update(&self, object: &str, patches: Vec<RecordPatch>) -> Result<Vec<WriteResult>, ConnectorError> {
        let ids: Vec<String> = patches.iter().map(|p| p.id.clone()).collect();
        let body = patches
            .iter()
            .map(|p| {
                let mut m = mapping::fields_to_json(&p.fields);
                m.insert("id".into(), serde_json::Value::String(p.id.clone()));
                m
            })
            .collect();
        Ok(results(self.client.update(object, body).await?, &ids))
    }

    async fn delete(&self, object: &str, ids: Vec<String>) -> Result<Vec<WriteResult>, ConnectorError> {
        Ok(results(self.client.delete(object, &ids).await?, &ids))
    }
}

/// Zoho's `Modified_Time` (ISO-8601 with offset) as a comparable instant.
struct DateTime;
impl DateTime {
    fn parse(s: &str) -> Option<chrono::DateTime<chrono::Utc>> {
        chrono::DateTime::parse_from_rfc3339(s.trim()).ok().map(|t| t.with_timezone(&chrono::Utc))
    }
}

#[cfg(test)]
mod tests;
