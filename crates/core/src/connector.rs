//! The `Connector` trait every system implements, and the types it speaks.
//!
//! A connector turns one signed-in account on one system into objects of [`Record`]s.
//! It does I/O; nothing in `core` calls a network itself. Writes report a result *per
//! record*, so one bad record never hides the fate of the others.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::value::{FieldType, Fields, Value};

/// One record: an id on its system, typed fields (dotted names for composites) and, where
/// the system keeps one, the time it was last updated.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
pub struct Record {
    pub id: String,
    pub fields: Fields,
    pub updated_at: Option<DateTime<Utc>>,
}

impl Record {
    pub fn new(id: impl Into<String>) -> Self {
        Record { id: id.into(), ..Default::default() }
    }

    pub fn with(mut self, field: &str, value: Value) -> Self {
        self.fields.insert(field.to_string(), value);
        self
    }

    pub fn get(&self, field: &str) -> &Value {
        static NULL: Value = Value::Null;
        self.fields.get(field).unwrap_or(&NULL)
    }
}

/// Who the connection is signed in as, as `health` reports it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Identity {
    /// Plain words for the UI: "jane@acme.com on acme.twenty.com".
    pub display: String,
    pub details: Vec<(String, String)>,
}

/// A field of an object, as the system describes it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldSchema {
    pub name: String,
    pub label: String,
    pub field_type: FieldType,
    /// Fixed options for `Enum` fields (drop-downs in a new workbook).
    #[serde(default)]
    pub options: Vec<String>,
    #[serde(default)]
    pub read_only: bool,
    #[serde(default)]
    pub required: bool,
}

impl FieldSchema {
    pub fn new(name: &str, field_type: FieldType) -> Self {
        FieldSchema {
            name: name.to_string(),
            label: name.to_string(),
            field_type,
            options: vec![],
            read_only: false,
            required: false,
        }
    }
}

/// An object (table) of a connection and its fields.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectSchema {
    pub name: String,
    pub label: String,
    pub fields: Vec<FieldSchema>,
}

impl ObjectSchema {
    pub fn field(&self, name: &str) -> Option<&FieldSchema> {
        self.fields.iter().find(|f| f.name == name)
    }
}

/// What a connector can do; the runner and planner adapt to it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capabilities {
    /// Most records one create/update/delete call takes.
    pub max_batch: usize,
    /// `list` honours `since` (an updated-since cursor).
    pub incremental: bool,
    /// A full listing shows deletions (a missing record was deleted).
    pub deletes_visible: bool,
    pub webhooks: bool,
    /// Writes are buffered and land on [`Connector::flush`] (a workbook).
    pub buffered_writes: bool,
}

impl Default for Capabilities {
    fn default() -> Self {
        Capabilities { max_batch: 100, incremental: false, deletes_visible: true, webhooks: false, buffered_writes: false }
    }
}

/// One page of a listing.
#[derive(Clone, Debug, Default)]
pub struct Page {
    pub records: Vec<Record>,
    /// Pass back as `page` to get the next page; `None` when this was the last.
    pub next_page: Option<String>,
    /// The cursor to store once the whole listing has been applied (high-water mark).
    pub cursor: Option<String>,
}

/// A request for one page of an object's records.
#[derive(Clone, Debug, Default)]
pub struct ListRequest {
    pub object: String,
    /// Only records changed at or after this stored cursor (when `incremental`).
    pub since: Option<String>,
    /// The page token from the previous [`Page`].
    pub page: Option<String>,
}

/// A change to one record: only the fields listed are written.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RecordPatch {
    pub id: String,
    pub fields: Fields,
}

/// The outcome of a write for one record.
pub type WriteResult = Result<Record, ConnectorError>;

/// Errors a connector reports. Callers branch on the variant; messages name the input and
/// say what to do next, and never contain a secret.
#[derive(Debug, Clone, PartialEq, thiserror::Error, Serialize, Deserialize)]
pub enum ConnectorError {
    #[error("{0}")]
    Auth(String),
    #[error("rate limited by the server (retry after {retry_after_secs:?} s)")]
    RateLimited { retry_after_secs: Option<u64> },
    #[error("not found: {0}")]
    NotFound(String),
    #[error("{0}")]
    Invalid(String),
    /// The record changed on the server since we read it (optimistic locking).
    #[error("conflict: {0}")]
    Conflict(String),
    /// Network failure, time-out, 5xx: worth retrying.
    #[error("{0}")]
    Unavailable(String),
    /// The target is locked by another program (a workbook open in Excel): retry later.
    #[error("{0}")]
    Locked(String),
    #[error("not supported: {0}")]
    Unsupported(String),
    #[error("{0}")]
    Other(String),
}

impl ConnectorError {
    /// Whether the same request may succeed if tried again later.
    pub fn is_retryable(&self) -> bool {
        matches!(self, ConnectorError::RateLimited { .. } | ConnectorError::Unavailable(_) | ConnectorError::Locked(_))
    }

    /// A short stable code for logs, JSON output and the UI.
    pub fn code(&self) -> &'static str {
        match self {
            ConnectorError::Auth(_) => "auth",
            ConnectorError::RateLimited { .. } => "rate_limited",
            ConnectorError::NotFound(_) => "not_found",
            ConnectorError::Invalid(_) => "invalid",
            ConnectorError::Conflict(_) => "conflict",
            ConnectorError::Unavailable(_) => "unavailable",
            ConnectorError::Locked(_) => "locked",
            ConnectorError::Unsupported(_) => "unsupported",
            ConnectorError::Other(_) => "other",
        }
    }
}

/// One signed-in account on one system.
///
/// Contract:
/// - `list` pages are ordered and complete: following `next_page` until `None` yields every
///   record (changed since `since`, when given and `incremental`).
/// - `create`/`update`/`delete` return one result per input, in input order, and never
///   more than [`Capabilities::max_batch`] inputs are passed.
/// - With `buffered_writes`, results are provisional until `flush` returns `Ok`.
#[async_trait]
pub trait Connector: Send + Sync {
    /// The connection kind (`twenty`, `workbook`, …).
    fn kind(&self) -> &'static str;
    fn capabilities(&self) -> Capabilities;
    /// Checks the connection works and says who it is signed in as.
    async fn health(&self) -> Result<Identity, ConnectorError>;
    /// Objects and their fields.
    async fn describe(&self) -> Result<Vec<ObjectSchema>, ConnectorError>;
    async fn list(&self, req: ListRequest) -> Result<Page, ConnectorError>;
    /// Records by id; ids that don't exist are left out.
    async fn get(&self, object: &str, ids: &[String]) -> Result<Vec<Record>, ConnectorError>;
    /// Records whose `field` equals one of `values` (canonical comparison by the connector).
    async fn find(&self, object: &str, field: &str, values: &[Value]) -> Result<Vec<Record>, ConnectorError>;
    /// Creates records; `Record.id` of the input is ignored. Returns the created records.
    async fn create(&self, object: &str, records: Vec<Fields>) -> Result<Vec<WriteResult>, ConnectorError>;
    async fn update(&self, object: &str, patches: Vec<RecordPatch>) -> Result<Vec<WriteResult>, ConnectorError>;
    async fn delete(&self, object: &str, ids: Vec<String>) -> Result<Vec<WriteResult>, ConnectorError>;
    /// Checks writes can land now, before a run applies anything. A workbook open in
    /// Excel or LibreOffice answers [`ConnectorError::Locked`] ("waiting for NAME to be
    /// closed"), and the run then applies nothing and tries again later.
    async fn ready_to_write(&self) -> Result<(), ConnectorError> {
        Ok(())
    }
    /// Makes buffered writes durable (a workbook write-back). No-op for APIs. Called once at
    /// the end of every run that reached the apply step, even when nothing was written (a
    /// workbook may still need to store row keys for new rows).
    async fn flush(&self) -> Result<(), ConnectorError> {
        Ok(())
    }
}
