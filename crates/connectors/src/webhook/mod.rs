//! The outbound webhook connector (Zapier catch hooks, Make, n8n; API_FACTS §5): a
//! write-only target that POSTs one JSON body per record.
//!
//! - `create` / `update` queue each record version in a durable SQLite outbox
//!   ([`outbox`], `outbox.db` in the app's data folder) in one transaction, then deliver
//!   what is due. A version counts as sent only after a 2xx. 429 / 5xx / 408 / time-outs /
//!   connection errors are retried with exponential back-off (honouring `Retry-After`);
//!   other 4xx, and `max_attempts` transient failures, dead-letter the version
//!   ([`dead_letters`], [`retry_dead`]).
//! - Every POST carries `Idempotency-Key`: a hash of object + record id + field values,
//!   so a version re-sent after a crash or a time-out has the same key and the receiver
//!   can drop the repeat. Queuing a version already queued or sent does nothing.
//! - An update carries only changed fields; the outbox keeps the last full version of
//!   each record, so the receiver always gets the whole record.
//! - The body is `{"data_type", "sync_time", "record"}` (the old script's shape) or a
//!   template ([`body::build_body`]); with a secret, a hex HMAC-SHA256 of the exact body
//!   bytes goes in `signature_header`.
//! - A per-URL limit shared by every connection in the process (Zapier's 30 per second and
//!   10,000 per 5 minutes by default).
//! - `list` returns nothing (the receiver cannot be read). Capabilities say
//!   `incremental: true` (the listing honours any cursor: there is nothing to miss) and
//!   `deletes_visible: false`, and `list` hands back a fixed cursor, so after the first
//!   run a paired record missing from the (empty) listing is never taken for a deletion.
//!   `delete` is not supported.
//! - Write results: sent → `Ok`; dead-lettered → `Err(Invalid)`; still queued when the
//!   drain budget (`drain_seconds`) ran out → `Err(Unavailable)` — the outbox keeps it and
//!   sends it on the next sync or [`WebhookConnector::deliver_pending`], and queuing the
//!   same version again on the next run does not duplicate it.

pub mod body;
mod config;
pub mod deliver;
pub mod outbox;

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use crosswalk_core::connector::*;
use crosswalk_core::value::Fields;
use crosswalk_core::{Secret, Value};
use sha2::{Digest, Sha256};

pub use config::WebhookConfig;
pub use deliver::{Deliverer, Outcome};
pub use outbox::{dead_letters, forget_sent, outbox_path, outbox_status, retry_dead, DeadLetter, ItemState, Outbox, OutboxError, OutboxStatus, RetryFilter};

use crate::{BuildContext, SettingsError};

/// The cursor `list` hands back (there is nothing to read; see the module docs).
pub const WRITE_ONLY_CURSOR: &str = "write-only";

/// Builds the connector for connection `name`. The secret, when there is one, signs bodies.
pub fn build(name: &str, settings: &toml::Table, ctx: &BuildContext) -> Result<Arc<dyn Connector>, SettingsError> {
    let config = WebhookConfig::from_settings(settings)?;
    let c = WebhookConnector::new(name, config, ctx.secret.clone(), &ctx.data_dir).map_err(|e| SettingsError { key: "url".into(), message: e.to_string() })?;
    Ok(Arc::new(c))
}

/// A URL shown without its secret part: Zapier's URL *is* the secret, so logs, errors and
/// `status` show the host, the first path segment and a short fingerprint.
pub fn redact_url(url: &str) -> String {
    let fp = hex::encode(&Sha256::digest(url.as_bytes())[..3]);
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let mut parts = rest.split('/');
    let host = parts.next().unwrap_or_default();
    let first = parts.find(|p| !p.is_empty());
    let path = first.map(|p| format!("/{p}/…")).unwrap_or_default();
    let scheme = if scheme.is_empty() { String::new() } else { format!("{scheme}://") };
    format!("{scheme}{host}{path} (#{fp})")
}

/// An outbound webhook as a [`Connector`].
#[derive(Debug)]
pub struct WebhookConnector {
    name: String,
    deliverer: Deliverer,
    outbox: Outbox,
    /// One drain at a time per connection.
    draining: tokio::sync::Mutex<()>,
}

impl WebhookConnector {
    /// Opens the outbox in `data_dir` (created if needed).
    pub fn new(name: &str, config: WebhookConfig, secret: Option<Secret>, data_dir: &Path) -> Result<Self, ConnectorError> {
        let outbox = Outbox::open(data_dir).map_err(|e| ConnectorError::Other(e.to_string()))?;
        Ok(WebhookConnector { name: name.to_string(), deliverer: Deliverer::new(config, secret)?, outbox, draining: tokio::sync::Mutex::new(()) })
    }

    pub fn config(&self) -> &WebhookConfig {
        self.deliverer.config()
    }

    pub fn outbox(&self) -> &Outbox {
        &self.outbox
    }

    /// Sends every queued version that is due, retrying within `drain_seconds`. Returns
    /// how many are still queued.
    pub async fn deliver_pending(&self) -> Result<usize, ConnectorError> {
        let _one = self.draining.lock().await;
        self.deliverer.drain(&self.outbox, &self.name, self.config().drain).await.map_err(|e| ConnectorError::Other(e.to_string()))
    }

    fn url(&self, object: &str) -> Result<String, ConnectorError> {
        self.config().url_for(object).map(str::to_string).ok_or_else(|| ConnectorError::Invalid(format!("connection {} has no webhook URL for {object:?}; add it under `urls` or set `url`", self.name)))
    }

    /// Queues full records (object, id, fields), delivers, and reports per record.
    async fn send(&self, object: &str, records: Vec<(String, Fields)>) -> Result<Vec<WriteResult>, ConnectorError> {
        let url = self.url(object)?;
        let sync_time = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let mut out: Vec<Option<WriteResult>> = vec![None; records.len()];
        let mut items = vec![];
        let mut slots = vec![];
        for (i, (id, fields)) in records.iter().enumerate() {
            match body::build_body(self.config(), object, id, fields, &sync_time) {
                Ok(b) => {
                    items.push(outbox::NewItem {
                        connection: self.name.clone(),
                        url: url.clone(),
                        object: object.to_string(),
                        record_id: id.clone(),
                        idem_key: body::idempotency_key(object, id, fields),
                        body: b,
                        fields: fields.clone(),
                    });
                    slots.push(i);
                }
                Err(m) => out[i] = Some(Err(ConnectorError::Invalid(m))),
            }
        }
        let queued = self.outbox.enqueue(&items).map_err(|e| ConnectorError::Other(e.to_string()))?;
        let still = self.deliver_pending().await?;
        if still > 0 {
            tracing::warn!(connection = %self.name, pending = still, "Some webhook deliveries are still queued; they are retried on the next sync");
        }
        let ids: Vec<i64> = queued.iter().map(|(id, _)| *id).collect();
        let states = self.outbox.states(&ids).map_err(|e| ConnectorError::Other(e.to_string()))?;
        for ((slot, (state, err, attempts)), (id, fields)) in slots.iter().zip(states).zip(slots.iter().map(|i| &records[*i])) {
            let error = err.unwrap_or_default();
            out[*slot] = Some(match state {
                ItemState::Sent | ItemState::Superseded => Ok(Record { id: id.clone(), fields: fields.clone(), updated_at: None }),
                ItemState::Dead => Err(ConnectorError::Invalid(format!("webhook refused record {id} of {object} ({error}); it is in the dead-letter list — fix the cause, then retry it"))),
                ItemState::Pending => Err(ConnectorError::Unavailable(format!("record {id} of {object} is queued in the webhook outbox after {attempts} attempts ({error}); it will be retried on the next sync"))),
            });
        }
        Ok(out.into_iter().map(|r| r.unwrap_or_else(|| Err(ConnectorError::Other("record was not queued".into())))).collect())
    }
}

#[async_trait]
impl Connector for WebhookConnector {
    fn kind(&self) -> &'static str {
        "webhook"
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities { max_batch: 100, incremental: true, deletes_visible: false, webhooks: false, buffered_writes: false }
    }

    async fn health(&self) -> Result<Identity, ConnectorError> {
        let status = self.outbox.status().map_err(|e| ConnectorError::Other(e.to_string()))?;
        let mine: Vec<&OutboxStatus> = status.iter().filter(|s| s.connection == self.name).collect();
        let (sent, pending, dead) = mine.iter().fold((0, 0, 0), |a, s| (a.0 + s.sent, a.1 + s.pending, a.2 + s.dead));
        let mut urls: Vec<String> = self.config().urls.values().chain(self.config().url.iter()).map(|u| redact_url(u)).collect();
        urls.dedup();
        Ok(Identity {
            display: format!("webhook to {} ({sent} sent, {pending} queued, {dead} failed)", urls.join(", ")),
            details: vec![("sent".into(), sent.to_string()), ("pending".into(), pending.to_string()), ("dead".into(), dead.to_string())],
        })
    }

    async fn describe(&self) -> Result<Vec<ObjectSchema>, ConnectorError> {
        // Any object, any field: the receiver takes what it is sent.
        Ok(self.config().urls.keys().map(|o| ObjectSchema { name: o.clone(), label: o.clone(), fields: vec![] }).collect())
    }

    async fn list(&self, _req: ListRequest) -> Result<Page, ConnectorError> {
        Ok(Page { records: vec![], next_page: None, cursor: Some(WRITE_ONLY_CURSOR.into()) })
    }

    async fn get(&self, _object: &str, _ids: &[String]) -> Result<Vec<Record>, ConnectorError> {
        Ok(vec![])
    }

    async fn find(&self, _object: &str, _field: &str, _values: &[Value]) -> Result<Vec<Record>, ConnectorError> {
        Ok(vec![])
    }

    #[tracing::instrument(skip_all, err, fields(object, n = records.len()))]
    async fn create(&self, object: &str, records: Vec<Fields>) -> Result<Vec<WriteResult>, ConnectorError> {
        let records = records.into_iter().map(|f| (body::record_id(&f, self.config()), f)).collect();
        self.send(object, records).await
    }

    #[tracing::instrument(skip_all, err, fields(object, n = patches.len()))]
    async fn update(&self, object: &str, patches: Vec<RecordPatch>) -> Result<Vec<WriteResult>, ConnectorError> {
        let mut records = Vec::with_capacity(patches.len());
        for p in patches {
            let mut full = self.outbox.last_fields(&self.name, object, &p.id).map_err(|e| ConnectorError::Other(e.to_string()))?.unwrap_or_default();
            full.extend(p.fields);
            records.push((p.id, full));
        }
        self.send(object, records).await
    }

    async fn delete(&self, object: &str, ids: Vec<String>) -> Result<Vec<WriteResult>, ConnectorError> {
        Ok(ids.iter().map(|id| Err(ConnectorError::Unsupported(format!("a webhook cannot delete record {id} of {object}: it only receives records")))).collect())
    }

    /// Sends whatever is still queued (earlier runs, re-queued dead letters).
    async fn flush(&self) -> Result<(), ConnectorError> {
        match self.deliver_pending().await? {
            0 => Ok(()),
            n => Err(ConnectorError::Unavailable(format!("{n} record versions are still queued in the webhook outbox; they are retried on the next sync"))),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn urls_are_shown_without_their_secret_part() {
        let shown = super::redact_url("https://hooks.zapier.com/hooks/catch/123456/abcdef/");
        assert!(shown.starts_with("https://hooks.zapier.com/hooks/…"), "host and first segment stay readable: {shown}");
        assert!(!shown.contains("123456") && !shown.contains("abcdef"), "the account and hook ids (the secret) are hidden: {shown}");
        assert_ne!(shown, super::redact_url("https://hooks.zapier.com/hooks/catch/123456/other/"), "two hooks stay distinguishable by fingerprint");
    }
}
