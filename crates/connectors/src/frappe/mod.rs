//! The Frappe / ERPNext connector (REST v1, API_FACTS §2 and §9 — §9 wins for v15).
//!
//! - Auth: `Authorization: token <api_key>:<api_secret>`. The keyring secret is `key:secret`
//!   (or the secret alone plus the `api_key` setting), see [`config`].
//! - Objects are DocTypes (`Customer`, `Sales Order`); `describe` reads each DocType's
//!   metadata (`/api/resource/DocType/{name}`, falling back to
//!   `frappe.desk.form.load.getdoctype`) and marks Link fields, Table fields and Link columns
//!   inside child tables (see [`links`]).
//! - Records: `id` = the document `name`; `updated_at` = `modified`, a naive time in the
//!   site's time zone (System Settings `time_zone`, never assumed UTC) converted to UTC;
//!   child tables are canonical JSON text (bookkeeping columns dropped) so two sites' rows
//!   compare equal.
//! - `list` is incremental: `filters=[["modified",">=",M]]`, `order_by=modified asc, name
//!   asc`, `limit_start`/`limit_page_length`, paging until a page comes back short. The
//!   cursor is `"<modified>|<name>"`; rows at or before it are skipped (the tie-break on
//!   `name`). Within one listing, pages restart from the last `modified` seen with an offset
//!   of the rows already seen at that time, so edits during paging skip nothing. Doctypes
//!   with child tables are fetched document by document (lists return parent columns only).
//! - Writes, one document per request, `write_concurrency` at a time (default 1; the
//!   erpnext-erpnext preset uses 4), results in input order: POST (200 on v15), PUT with the `modified` last read
//!   (417 `TimestampMismatchError` → [`ConnectorError::Conflict`]), DELETE (202). Submitted
//!   documents (docstatus 1) take only their `allow_on_submit` fields; cancelled ones
//!   (docstatus 2) are never changed or re-created.
//! - Errors: `_server_messages` decoded twice, HTML stripped (see [`errors`]); 429 and
//!   `RateLimitExceededError` retried honouring `Retry-After`.

mod client;
pub mod config;
pub mod errors;
pub mod links;
pub mod mapping;
pub mod setup;
pub mod webhook;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use crosswalk_core::connector::*;
use crosswalk_core::value::Fields;
use crosswalk_core::{Secret, Value};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value as Json};

pub use client::{encode_segment, FrappeClient, FRESH_SITE_TIME_ZONE, ORDER_BY};
pub use config::{split_secret, FrappeConfig, DEFAULT_DOCTYPES};
pub use links::{link_fields, translate_links, LinkField, Untranslated};
pub use mapping::{Cursor, DocMeta};
pub use webhook::{verify_frappe_webhook, FrappeEvent, WebhookError};

use crate::{BuildContext, SettingsError};

/// Builds the connector for connection `name` from its settings and keyring secret.
pub fn build(name: &str, settings: &toml::Table, ctx: &BuildContext) -> Result<Arc<dyn Connector>, SettingsError> {
    let config = FrappeConfig::from_settings(settings)?;
    let secret = ctx.secret.clone().filter(|s| !s.is_empty()).ok_or_else(|| SettingsError {
        key: "api_key".into(),
        message: format!("connection {name} has no API secret; run `crosswalk login {name}` with `api_key:api_secret` (User → Settings → API Access → Generate Keys)"),
    })?;
    // A secret without the key is reported on first use (Auth), not at build time, so a
    // config validates before `crosswalk login` stored the real `key:secret`.
    let (key, sec) = split_secret(secret.expose(), config.api_key.as_deref()).unwrap_or_default();
    let c = FrappeConnector::new(name, config, &key, &Secret::new(sec)).map_err(|e| SettingsError { key: "url".into(), message: e.to_string() })?;
    Ok(Arc::new(c))
}

/// What we last read of a document: its `modified` (for the optimistic lock) and docstatus.
#[derive(Clone, Debug)]
struct Seen {
    modified: String,
    docstatus: i64,
}

/// A Frappe site as a [`Connector`].
#[derive(Debug)]
pub struct FrappeConnector {
    client: FrappeClient,
    seen: Mutex<HashMap<(String, String), Seen>>,
}

/// The page token within one listing.
#[derive(Serialize, Deserialize, Default, Debug)]
struct PageToken {
    /// `modified` of the last row delivered.
    m: String,
    /// Rows already delivered whose `modified` equals `m` (the offset to restart at).
    at_m: u64,
    /// The high-water cursor so far.
    max: Option<String>,
}

fn fatal(e: &ConnectorError) -> bool {
    matches!(e, ConnectorError::Auth(_))
}

fn later(a: Option<Cursor>, b: Option<Cursor>) -> Option<Cursor> {
    match (a, b) {
        (Some(a), Some(b)) => {
            let key = |c: &Cursor| (mapping::parse_naive(&c.modified), c.name.clone());
            Some(if key(&b) > key(&a) { b } else { a })
        }
        (a, b) => a.or(b),
    }
}

/// Fields of `fields` a submitted document refuses (not `allow_on_submit`).
fn locked_after_submit(meta: &DocMeta, fields: &Fields) -> Vec<String> {
    fields
        .keys()
        .filter(|k| !mapping::STANDARD_FIELDS.contains(&k.as_str()) && k.as_str() != "doctype")
        .filter(|k| !meta.field(k).is_some_and(|f| f.allow_on_submit))
        .cloned()
        .collect()
}

fn docstatus_of(fields: &Fields) -> Option<i64> {
    match fields.get("docstatus") {
        Some(Value::Int(i)) => Some(*i),
        Some(Value::Decimal(d)) => d.to_string().parse::<f64>().ok().map(|f| f as i64),
        Some(Value::Text(t)) => t.trim().parse().ok(),
        _ => None,
    }
}

impl FrappeConnector {
    pub fn new(name: &str, config: FrappeConfig, api_key: &str, api_secret: &Secret) -> Result<Self, ConnectorError> {
        Ok(FrappeConnector { client: FrappeClient::new(name, config, api_key, api_secret)?, seen: Mutex::new(HashMap::new()) })
    }

    pub fn client(&self) -> &FrappeClient {
        &self.client
    }

    fn remember(&self, doctype: &str, doc: &Map<String, Json>) {
        let (Some(name), Some(modified)) = (doc.get("name").and_then(Json::as_str), doc.get("modified").and_then(Json::as_str)) else { return };
        let docstatus = doc.get("docstatus").and_then(Json::as_i64).unwrap_or(0);
        self.seen.lock().unwrap_or_else(|e| e.into_inner()).insert((doctype.to_string(), name.to_string()), Seen { modified: modified.to_string(), docstatus });
    }

    fn seen(&self, doctype: &str, name: &str) -> Option<Seen> {
        self.seen.lock().unwrap_or_else(|e| e.into_inner()).get(&(doctype.to_string(), name.to_string())).cloned()
    }

    async fn to_record(&self, doctype: &str, doc: &Map<String, Json>) -> Result<Record, ConnectorError> {
        let meta = self.client.meta(doctype).await?;
        let (_, tz) = self.client.time_zone().await?;
        self.remember(doctype, doc);
        Ok(mapping::record_from_doc(doc, Some(&meta), &self.client.config, &tz))
    }

    /// Full documents (child tables included) for list rows, a few requests at a time.
    async fn full_docs(&self, doctype: &str, rows: Vec<Map<String, Json>>) -> Result<Vec<Record>, ConnectorError> {
        let meta = self.client.meta(doctype).await?;
        let docs: Vec<Map<String, Json>> = if meta.tables().next().is_none() {
            rows
        } else {
            let names: Vec<String> = rows.iter().filter_map(|r| r.get("name").and_then(Json::as_str).map(str::to_string)).collect();
            let fetched: Vec<Result<Option<Map<String, Json>>, ConnectorError>> =
                futures::stream::iter(names.into_iter().map(|n| async move { self.client.get(doctype, &n).await })).buffered(4).collect().await;
            let mut docs = vec![];
            for f in fetched {
                if let Some(d) = f? {
                    docs.push(d);
                }
            }
            docs
        };
        let mut out = Vec::with_capacity(docs.len());
        for d in &docs {
            out.push(self.to_record(doctype, d).await?);
        }
        Ok(out)
    }

    /// The columns a listing asks for: all parent columns, or only the keys when the
    /// documents are fetched one by one anyway.
    async fn list_fields(&self, doctype: &str) -> Result<&'static [&'static str], ConnectorError> {
        let meta = self.client.meta(doctype).await?;
        Ok(if meta.tables().next().is_none() { &["*"] } else { &["name", "modified", "docstatus"] })
    }

    /// Documents written at once (`write_concurrency`); results keep the input order.
    fn concurrency(&self) -> usize {
        self.client.config.write_concurrency.max(1)
    }

    /// Per-record results in input order; an `Auth` error fails the whole batch at once
    /// (no later document could be written either).
    async fn collect_writes(&self, results: &mut (impl futures::Stream<Item = WriteResult> + Unpin)) -> Result<Vec<WriteResult>, ConnectorError> {
        let mut out = vec![];
        while let Some(r) = results.next().await {
            if let Err(e) = &r {
                if fatal(e) {
                    return Err(e.clone());
                }
            }
            out.push(r);
        }
        Ok(out)
    }

    async fn delete_one(&self, doctype: &str, id: String) -> WriteResult {
        match self.client.delete(doctype, &id).await {
            // Already gone is what a delete wants.
            Ok(()) | Err(ConnectorError::NotFound(_)) => Ok(Record::new(id)),
            Err(e) => Err(e),
        }
    }

    async fn create_one(&self, doctype: &str, fields: &Fields) -> WriteResult {
        if docstatus_of(fields) == Some(2) {
            return Err(ConnectorError::Invalid(format!("{doctype}: cancelled documents (docstatus 2) are never re-created on the other site")));
        }
        let meta = self.client.meta(doctype).await?;
        let body = mapping::body_from_fields(fields, Some(&meta)).map_err(ConnectorError::Invalid)?;
        let doc = self.client.insert(doctype, body).await?;
        self.to_record(doctype, &doc).await
    }

    async fn update_one(&self, doctype: &str, patch: &RecordPatch) -> WriteResult {
        let meta = self.client.meta(doctype).await?;
        let seen = match self.seen(doctype, &patch.id) {
            Some(s) => s,
            None => match self.client.get(doctype, &patch.id).await? {
                Some(doc) => {
                    self.remember(doctype, &doc);
                    self.seen(doctype, &patch.id).unwrap_or(Seen { modified: String::new(), docstatus: 0 })
                }
                None => return Err(ConnectorError::NotFound(format!("{doctype} {} is not on the site {}", patch.id, self.client.config.url))),
            },
        };
        let mut fields = patch.fields.clone();
        match seen.docstatus {
            2 => return Err(ConnectorError::Invalid(format!("{doctype} {} is cancelled (docstatus 2); Frappe does not change cancelled documents — amend it on the site", patch.id))),
            1 => {
                // Submitting again is no change; only allow-on-submit fields may change.
                if docstatus_of(&fields) == Some(1) {
                    fields.remove("docstatus");
                }
                let locked: Vec<String> = locked_after_submit(&meta, &fields).into_iter().filter(|k| k != "docstatus").collect();
                if !locked.is_empty() {
                    let allowed: Vec<&str> = meta.fields.iter().filter(|f| f.allow_on_submit).map(|f| f.fieldname.as_str()).collect();
                    return Err(ConnectorError::Invalid(format!(
                        "{doctype} {} is submitted (docstatus 1): {} cannot change after submission (only {}); cancel and amend it on the site",
                        patch.id,
                        locked.join(", "),
                        if allowed.is_empty() { "none".to_string() } else { allowed.join(", ") }
                    )));
                }
            }
            _ => {}
        }
        let mut body = mapping::body_from_fields(&fields, Some(&meta)).map_err(ConnectorError::Invalid)?;
        if self.client.config.lock_on_update && !seen.modified.is_empty() {
            body.insert("modified".into(), Json::String(seen.modified.clone()));
        }
        let doc = self.client.update(doctype, &patch.id, body).await?;
        self.to_record(doctype, &doc).await
    }
}

#[async_trait]
impl Connector for FrappeConnector {
    fn kind(&self) -> &'static str {
        "frappe"
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities { max_batch: 20, incremental: true, deletes_visible: true, webhooks: true, buffered_writes: false }
    }

    #[tracing::instrument(skip_all, err)]
    async fn health(&self) -> Result<Identity, ConnectorError> {
        let user = self.client.logged_user().await?;
        let (tz, _) = self.client.time_zone().await?;
        let url = self.client.config.url.clone();
        Ok(Identity { display: format!("{user} on {url} (site time zone {tz})"), details: vec![("url".into(), url), ("user".into(), user), ("time_zone".into(), tz)] })
    }

    #[tracing::instrument(skip_all, err)]
    async fn describe(&self) -> Result<Vec<ObjectSchema>, ConnectorError> {
        let mut out = vec![];
        for dt in &self.client.config.doctypes {
            let meta = match self.client.meta(dt).await {
                Ok(m) => m,
                Err(ConnectorError::NotFound(e)) => {
                    tracing::warn!(doctype = %dt, error = %e, "DocType not on this site; left out");
                    continue;
                }
                Err(e) => return Err(e),
            };
            let mut children = BTreeMap::new();
            for (_, child) in meta.tables() {
                if let Ok(c) = self.client.meta(child).await {
                    children.insert(child.to_string(), c);
                }
            }
            out.push(mapping::schema(&meta, &children));
        }
        Ok(out)
    }

    #[tracing::instrument(skip_all, err, fields(object = %req.object))]
    async fn list(&self, req: ListRequest) -> Result<Page, ConnectorError> {
        let doctype = req.object.as_str();
        let token: Option<PageToken> = match &req.page {
            Some(p) => Some(serde_json::from_str(p).map_err(|_| ConnectorError::Invalid(format!("page token {p:?} is not one this connector made")))?),
            None => None,
        };
        let since = match &req.since {
            Some(s) => Some(Cursor::parse(s).ok_or_else(|| ConnectorError::Invalid(format!("cursor {s:?} is not a Frappe time (YYYY-MM-DD HH:MM:SS.ffffff|name)")))?),
            None => None,
        };
        let overlap = self.client.config.cursor_overlap;
        let (filters, start) = match (&token, &since) {
            (Some(t), _) if !t.m.is_empty() => (json!([["modified", ">=", t.m]]), t.at_m),
            (_, Some(c)) => {
                let from = match mapping::parse_naive(&c.modified) {
                    Some(t) if !overlap.is_zero() => (t - chrono::Duration::from_std(overlap).unwrap_or_default()).format("%Y-%m-%d %H:%M:%S%.6f").to_string(),
                    _ => c.modified.clone(),
                };
                (json!([["modified", ">=", from]]), 0)
            }
            _ => (json!([]), 0),
        };
        let size = self.client.config.page_size;
        let fields = self.list_fields(doctype).await?;
        let rows = self.client.list(doctype, fields, &filters, ORDER_BY, start, size).await?;
        let full_page = rows.len() as u64 >= u64::from(size);
        let modified = |r: &Map<String, Json>| r.get("modified").and_then(Json::as_str).unwrap_or_default().to_string();
        let name = |r: &Map<String, Json>| r.get("name").and_then(Json::as_str).unwrap_or_default().to_string();
        // The next page restarts at the last `modified` seen, skipping the rows seen there.
        let next = rows.last().map(|last| {
            let m = modified(last);
            let here = rows.iter().filter(|r| modified(r) == m).count() as u64;
            let carried = token.as_ref().filter(|t| t.m == m).map(|t| t.at_m).unwrap_or(0);
            (m, carried + here)
        });
        let page_max = rows.last().map(|r| Cursor { modified: modified(r), name: name(r) });
        let max = later(later(token.as_ref().and_then(|t| t.max.as_deref()).and_then(Cursor::parse), page_max), since.clone());
        let keep: Vec<Map<String, Json>> = rows.into_iter().filter(|r| !(overlap.is_zero() && since.as_ref().is_some_and(|c| c.covers(&modified(r), &name(r))))).collect();
        let records = self.full_docs(doctype, keep).await?;
        let next_page = match next {
            Some((m, at_m)) if full_page => Some(serde_json::to_string(&PageToken { m, at_m, max: max.as_ref().map(Cursor::encode) }).unwrap_or_default()),
            _ => None,
        };
        Ok(Page { records, next_page, cursor: max.map(|c| c.encode()) })
    }

    async fn get(&self, object: &str, ids: &[String]) -> Result<Vec<Record>, ConnectorError> {
        let mut out = vec![];
        for id in ids {
            if let Some(doc) = self.client.get(object, id).await? {
                out.push(self.to_record(object, &doc).await?);
            }
        }
        Ok(out)
    }

    async fn find(&self, object: &str, field: &str, values: &[Value]) -> Result<Vec<Record>, ConnectorError> {
        let values: Vec<Json> = values.iter().filter(|v| !v.is_null()).map(Value::to_json).collect();
        if field == "name" || field == "id" {
            let ids: Vec<String> = values.iter().map(|v| v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string())).collect();
            return self.get(object, &ids).await;
        }
        let fields = self.list_fields(object).await?;
        let mut out = vec![];
        for chunk in values.chunks(50) {
            let filters = json!([[field, "in", chunk]]);
            let mut start = 0u64;
            loop {
                let rows = self.client.list(object, fields, &filters, ORDER_BY, start, self.client.config.page_size).await?;
                let n = rows.len() as u64;
                out.extend(self.full_docs(object, rows).await?);
                if n < u64::from(self.client.config.page_size) {
                    break;
                }
                start += n;
            }
        }
        Ok(out)
    }

    #[tracing::instrument(skip_all, err, fields(object, n = records.len()))]
    async fn create(&self, object: &str, records: Vec<Fields>) -> Result<Vec<WriteResult>, ConnectorError> {
        let writes: Vec<_> = records.iter().map(|fields| self.create_one(object, fields)).collect();
        let mut results = futures::stream::iter(writes).buffered(self.concurrency());
        self.collect_writes(&mut results).await
    }

    #[tracing::instrument(skip_all, err, fields(object, n = patches.len()))]
    async fn update(&self, object: &str, patches: Vec<RecordPatch>) -> Result<Vec<WriteResult>, ConnectorError> {
        let writes: Vec<_> = patches.iter().map(|p| self.update_one(object, p)).collect();
        let mut results = futures::stream::iter(writes).buffered(self.concurrency());
        self.collect_writes(&mut results).await
    }

    #[tracing::instrument(skip_all, err, fields(object, n = ids.len()))]
    async fn delete(&self, object: &str, ids: Vec<String>) -> Result<Vec<WriteResult>, ConnectorError> {
        let writes: Vec<_> = ids.into_iter().map(|id| self.delete_one(object, id)).collect();
        let mut results = futures::stream::iter(writes).buffered(self.concurrency());
        self.collect_writes(&mut results).await
    }
}
