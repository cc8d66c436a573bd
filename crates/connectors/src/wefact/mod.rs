//! The WeFact connector (API v2, API_FACTS §4): objects `debtors` and `invoices`.
//!
//! - Transport: every call is a form POST to one URL (default
//!   `https://api.mijnwefact.nl/v2/`) with `api_key`, `controller` and `action`. The key
//!   comes from the keyring ([`crate::BuildContext::secret`]) and appears nowhere else.
//!   Answers say `"status": "success"` or `"error"` with `errors[]`, usually with HTTP 200:
//!   error envelopes are surfaced with WeFact's own messages; an IP-whitelist refusal gets
//!   a message saying how to fix it ([`client::IP_HINT`]).
//! - `list` pages with `offset`/`limit` until `offset >= totalresults`, sorted by WeFact.
//!   Incremental reads send `modified[from]` (format configurable: API_FACTS is unsure
//!   whether WeFact takes a date or a date-time). If WeFact refuses the filter, the
//!   connector (mode `auto`) falls back to full scans with local change detection: it
//!   keeps records whose modified time is at or after the cursor, or every record when
//!   they carry none (the planner's base comparison then finds the changed ones).
//! - The cursor is WeFact's own naive local time text (`YYYY-MM-DD HH:MM:SS`), the largest
//!   modified time seen, passed back verbatim: no time-zone arithmetic on the cursor.
//!   `from` is inclusive (`>=`), so boundary records come again; the planner is idempotent.
//! - Invoices are read with `show` (when `invoice_lines`, the default) so their lines come
//!   along, flattened into a `lines` field (JSON text) and `line_count`; the numeric
//!   `Status` also appears as `StatusName`.
//! - Writes: `add` / `edit` one record per call; invoices can be deleted, debtors cannot
//!   (no `delete` action for debtors, API_FACTS §4).
//! - A client-side token bucket keeps to `requests_per_minute` (WeFact documents no limit);
//!   429/5xx/time-outs on reads are retried with back-off honouring `Retry-After`.

pub mod client;
mod config;
pub mod mapping;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use crosswalk_core::connector::*;
use crosswalk_core::value::Fields;
use crosswalk_core::{Secret, Value};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};

pub use client::{WeFactClient, IP_HINT};
pub use config::{default_status_names, IncrementalMode, ModifiedFormat, WeFactConfig, WeFactTimezone, DEFAULT_URL};

use crate::{BuildContext, SettingsError};

/// Builds the connector for connection `name` from its settings and keyring secret.
pub fn build(name: &str, settings: &toml::Table, ctx: &BuildContext) -> Result<Arc<dyn Connector>, SettingsError> {
    let config = WeFactConfig::from_settings(settings)?;
    let key = ctx.secret.clone().filter(|s| !s.is_empty()).ok_or_else(|| SettingsError {
        key: "api_key".into(),
        message: format!("connection {name} has no WeFact API key; run `crosswalk login {name}` or set WEFACT_API_KEY"),
    })?;
    let c = WeFactConnector::new(config, key).map_err(|e| SettingsError { key: "url".into(), message: e.to_string() })?;
    Ok(Arc::new(c))
}

/// A WeFact account as a [`Connector`].
#[derive(Debug)]
pub struct WeFactConnector {
    client: WeFactClient,
    /// WeFact refused `modified[from]` once: full scans from now on (mode `auto`).
    filter_refused: AtomicBool,
}

/// The page token: where the next page starts and what the listing learned so far.
#[derive(Serialize, Deserialize, Default, Debug)]
struct PageToken {
    offset: u64,
    /// Largest modified time seen so far (WeFact's local text).
    #[serde(default)]
    max: Option<String>,
    /// The first page's envelope `date` as local text (the cursor when records carry no
    /// modified time).
    #[serde(default)]
    started: Option<String>,
    /// This listing reads everything and filters locally.
    #[serde(default)]
    full_scan: bool,
}

fn later(a: Option<String>, b: Option<&str>) -> Option<String> {
    match (a, b) {
        (Some(a), Some(b)) if b.trim() > a.as_str() => Some(b.trim().to_string()),
        (Some(a), _) => Some(a),
        (None, b) => b.map(|s| s.trim().to_string()),
    }
}

impl WeFactConnector {
    pub fn new(config: WeFactConfig, api_key: Secret) -> Result<Self, ConnectorError> {
        Ok(WeFactConnector { client: WeFactClient::new(config, api_key)?, filter_refused: AtomicBool::new(false) })
    }

    pub fn client(&self) -> &WeFactClient {
        &self.client
    }

    /// Whether WeFact refused the `modified[from]` filter and listings are full scans now.
    pub fn is_full_scan(&self) -> bool {
        self.client.config.incremental == IncrementalMode::FullScan || self.filter_refused.load(Ordering::Relaxed)
    }

    fn object(object: &str) -> Result<(&'static str, &'static str), ConnectorError> {
        mapping::controller(object).ok_or_else(|| ConnectorError::NotFound(format!("WeFact has no object {object:?} here; use one of: {}", mapping::OBJECTS.join(", "))))
    }

    fn since_filter(&self, since: &str) -> Vec<(String, String)> {
        let v = match self.client.config.modified_format {
            ModifiedFormat::DateTime => since.trim().to_string(),
            ModifiedFormat::Date => since.trim().chars().take(10).collect(),
        };
        vec![("modified[from]".to_string(), v)]
    }

    /// Raw objects → records; invoices re-read with `show` for their lines.
    async fn to_records(&self, object: &str, controller: &str, raw: Vec<Map<String, Json>>) -> Result<Vec<Record>, ConnectorError> {
        let mut out = Vec::with_capacity(raw.len());
        for item in raw {
            let full = if controller == "invoice" && self.client.config.invoice_lines && !item.contains_key(mapping::INVOICE_LINES) {
                let id = mapping::record_from_json(object, &item, &self.client.config).id;
                match self.client.show(controller, &id).await {
                    Ok(f) => f,
                    // Deleted between list and show: it is gone, leave it out.
                    Err(ConnectorError::NotFound(_)) => continue,
                    Err(e) => return Err(e),
                }
            } else {
                item
            };
            out.push(mapping::record_from_json(object, &full, &self.client.config));
        }
        Ok(out)
    }

    fn written(&self, object: &str, controller: &str, env: &Map<String, Json>) -> Result<Record, ConnectorError> {
        let raw = env.get(controller).and_then(Json::as_object).ok_or_else(|| ConnectorError::Other(format!("WeFact {controller} write answered without the {controller:?} object")))?;
        Ok(mapping::record_from_json(object, raw, &self.client.config))
    }
}

/// Auth failures stop the whole call (every other record would fail the same way).
fn fatal(e: &ConnectorError) -> bool {
    matches!(e, ConnectorError::Auth(_))
}

#[async_trait]
impl Connector for WeFactConnector {
    fn kind(&self) -> &'static str {
        "wefact"
    }

    fn capabilities(&self) -> Capabilities {
        // One record per call; `max_batch` only sizes the runner's chunks.
        Capabilities { max_batch: 50, incremental: true, deletes_visible: true, webhooks: false, buffered_writes: false }
    }

    #[tracing::instrument(skip_all, err)]
    async fn health(&self) -> Result<Identity, ConnectorError> {
        let env = self.client.call("debtor", "list", &[("offset".into(), "0".into()), ("limit".into(), "1".into())]).await?;
        let n = env.get("totalresults").map(|v| v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string())).unwrap_or_else(|| "?".into());
        let url = self.client.config.url.clone();
        Ok(Identity { display: format!("WeFact at {url} ({n} debtors)"), details: vec![("url".into(), url), ("debtors".into(), n)] })
    }

    async fn describe(&self) -> Result<Vec<ObjectSchema>, ConnectorError> {
        Ok(mapping::standard_schema(&self.client.config))
    }

    #[tracing::instrument(skip_all, err, fields(object = %req.object))]
    async fn list(&self, req: ListRequest) -> Result<Page, ConnectorError> {
        let (controller, plural) = Self::object(&req.object)?;
        let mut token: PageToken = match &req.page {
            Some(p) => serde_json::from_str(p).map_err(|_| ConnectorError::Invalid(format!("page token {p:?} is not one this connector made")))?,
            None => PageToken { full_scan: self.is_full_scan(), ..PageToken::default() },
        };
        let since = req.since.as_deref().map(str::trim).filter(|s| !s.is_empty());
        let page = loop {
            let filters = match since {
                Some(s) if !token.full_scan => self.since_filter(s),
                _ => vec![],
            };
            match self.client.list_page(controller, plural, token.offset, &filters).await {
                Ok(p) => break p,
                Err(ConnectorError::Invalid(msg)) if !filters.is_empty() && self.client.config.incremental == IncrementalMode::Auto => {
                    tracing::warn!(object = %req.object, error = %msg, "WeFact refused the modified[from] filter; reading everything and detecting changes locally from now on");
                    self.filter_refused.store(true, Ordering::Relaxed);
                    token = PageToken { full_scan: true, ..PageToken::default() };
                }
                Err(e) => return Err(e),
            }
        };
        if token.started.is_none() {
            token.started = page.date.as_deref().and_then(mapping::envelope_date_to_local);
        }
        let n = page.items.len() as u64;
        let mut max = token.max.take();
        let mut keep = Vec::with_capacity(page.items.len());
        for item in page.items {
            let modified = mapping::modified_text(&item, &self.client.config).map(str::to_string);
            max = later(max, modified.as_deref());
            // Local change detection for full scans: a record older than the cursor has
            // not changed since the last run.
            if let (true, Some(s), Some(m)) = (token.full_scan, since, modified.as_deref()) {
                if !mapping::at_or_after(m, s) {
                    continue;
                }
            }
            keep.push(item);
        }
        let records = self.to_records(&req.object, controller, keep).await?;
        let next_offset = page.offset + n;
        let next_page = (n > 0 && next_offset < page.total).then(|| serde_json::to_string(&PageToken { offset: next_offset, max: max.clone(), started: token.started.clone(), full_scan: token.full_scan }).unwrap_or_default());
        let cursor = later(max.or_else(|| token.started.clone()), since);
        Ok(Page { records, next_page, cursor })
    }

    async fn get(&self, object: &str, ids: &[String]) -> Result<Vec<Record>, ConnectorError> {
        let (controller, _) = Self::object(object)?;
        let mut out = vec![];
        for id in ids {
            match self.client.show(controller, id).await {
                Ok(raw) => out.push(mapping::record_from_json(object, &raw, &self.client.config)),
                Err(ConnectorError::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    async fn find(&self, object: &str, field: &str, values: &[Value]) -> Result<Vec<Record>, ConnectorError> {
        if field == "id" || field == "Identifier" {
            let ids: Vec<String> = values.iter().map(Value::display).filter(|s| !s.trim().is_empty()).collect();
            return self.get(object, &ids).await;
        }
        let (controller, plural) = Self::object(object)?;
        let wanted: Vec<String> = values.iter().map(|v| v.display().trim().to_string()).filter(|s| !s.is_empty()).collect();
        let mut out: Vec<Record> = vec![];
        for w in &wanted {
            // `searchat`/`searchfor` [3P] may match loosely: keep exact matches only.
            let filters = vec![("searchat".to_string(), field.to_string()), ("searchfor".to_string(), w.clone())];
            let mut offset = 0;
            loop {
                let page = self.client.list_page(controller, plural, offset, &filters).await?;
                let n = page.items.len() as u64;
                let hits: Vec<Map<String, Json>> = page.items.into_iter().filter(|i| i.get(field).map(|v| v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string())).map(|s| s.trim() == w).unwrap_or(false)).collect();
                for r in self.to_records(object, controller, hits).await? {
                    if !out.iter().any(|o| o.id == r.id) {
                        out.push(r);
                    }
                }
                offset = page.offset + n;
                if n == 0 || offset >= page.total {
                    break;
                }
            }
        }
        Ok(out)
    }

    #[tracing::instrument(skip_all, err, fields(object, n = records.len()))]
    async fn create(&self, object: &str, records: Vec<Fields>) -> Result<Vec<WriteResult>, ConnectorError> {
        let (controller, _) = Self::object(object)?;
        let mut out = Vec::with_capacity(records.len());
        for fields in records {
            let r = match mapping::fields_to_form(&fields, &self.client.config) {
                Ok(form) => match self.client.call(controller, "add", &form).await {
                    Ok(env) => self.written(object, controller, &env),
                    Err(e) => Err(e),
                },
                Err(m) => Err(ConnectorError::Invalid(m)),
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

    #[tracing::instrument(skip_all, err, fields(object, n = patches.len()))]
    async fn update(&self, object: &str, patches: Vec<RecordPatch>) -> Result<Vec<WriteResult>, ConnectorError> {
        let (controller, _) = Self::object(object)?;
        let mut out = Vec::with_capacity(patches.len());
        for p in patches {
            let r = match mapping::fields_to_form(&p.fields, &self.client.config) {
                Ok(mut form) => {
                    form.insert(0, ("Identifier".to_string(), p.id.clone()));
                    match self.client.call(controller, "edit", &form).await {
                        Ok(env) => self.written(object, controller, &env),
                        Err(e) => Err(e),
                    }
                }
                Err(m) => Err(ConnectorError::Invalid(m)),
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
        let (controller, _) = Self::object(object)?;
        if controller == "debtor" {
            return Ok(ids.iter().map(|id| Err(ConnectorError::Unsupported(format!("WeFact's API cannot delete debtors (debtor {id}); archive it in WeFact instead")))).collect());
        }
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            match self.client.call(controller, "delete", &[("Identifier".to_string(), id.clone())]).await {
                Ok(_) => out.push(Ok(Record::new(id))),
                Err(e) if fatal(&e) => return Err(e),
                Err(e) => out.push(Err(e)),
            }
        }
        Ok(out)
    }
}
