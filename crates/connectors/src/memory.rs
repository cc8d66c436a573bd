//! The in-memory connector: a reference implementation of [`Connector`] used by tests,
//! property tests and the randomized simulation.
//!
//! Cloning a [`MemoryConnector`] shares its data, so a test can keep a handle, edit records
//! "on the system" behind the engine's back, and inspect what the engine wrote. Fault
//! switches make chosen calls fail ([`Fault::Fail`]) or "crash" ([`Fault::CrashAfter`]:
//! the write lands on the system but the caller gets an error, as when the process dies
//! between the remote write and our bookkeeping).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use chrono::{DateTime, Duration, TimeZone, Utc};
use crosswalk_core::connector::*;
use crosswalk_core::value::{canonicalize, FieldType, Fields, Value};

/// Which call a fault applies to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Call {
    List,
    Get,
    Find,
    Create,
    Update,
    Delete,
}

/// What happens on the faulted call.
#[derive(Clone, Debug, PartialEq)]
pub enum Fault {
    /// The call fails before doing anything.
    Fail(ConnectorError),
    /// The call does its work, then reports an error (a crash before we hear back).
    CrashAfter,
    /// Only the record at this index of the batch fails.
    FailItem(usize, ConnectorError),
    /// The call does its work and then never returns: the process is killed while
    /// waiting (tests drop the run's future).
    Hang,
}

#[derive(Debug, Default)]
struct State {
    objects: BTreeMap<String, BTreeMap<String, Record>>,
    deleted: BTreeMap<String, BTreeMap<String, Record>>,
    next_id: u64,
    /// Logical clock: every write moves it forward one second.
    clock: i64,
    /// Skew added to the times this system reports (systems' clocks disagreeing).
    skew_secs: i64,
    faults: Vec<(Call, usize, Fault)>,
    calls: BTreeMap<String, usize>,
    writes: usize,
    schema: Vec<ObjectSchema>,
    max_batch: usize,
    incremental: bool,
}

/// An in-memory system. Clones share state.
#[derive(Clone, Debug)]
pub struct MemoryConnector {
    name: String,
    state: Arc<Mutex<State>>,
}

impl MemoryConnector {
    pub fn new(name: &str) -> Self {
        let state = State { max_batch: 10, incremental: true, clock: 1_700_000_000, ..State::default() };
        MemoryConnector { name: name.to_string(), state: Arc::new(Mutex::new(state)) }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn set_max_batch(&self, n: usize) {
        self.lock().max_batch = n.max(1);
    }

    pub fn set_incremental(&self, on: bool) {
        self.lock().incremental = on;
    }

    pub fn set_clock_skew(&self, secs: i64) {
        self.lock().skew_secs = secs;
    }

    /// Declares an object's fields (for `describe`). Objects also appear on first write.
    pub fn define(&self, object: &str, fields: &[(&str, FieldType)]) {
        let mut s = self.lock();
        s.objects.entry(object.to_string()).or_default();
        s.schema.retain(|o| o.name != object);
        s.schema.push(ObjectSchema {
            name: object.to_string(),
            label: object.to_string(),
            fields: fields.iter().map(|(n, t)| FieldSchema::new(n, *t)).collect(),
        });
    }

    /// Arms a fault for the `nth` (0-based, counted from now) call of kind `call`.
    pub fn fault(&self, call: Call, nth: usize, fault: Fault) {
        let mut s = self.lock();
        let seen = *s.calls.get(&format!("{call:?}")).unwrap_or(&0);
        s.faults.push((call, seen + nth, fault));
    }

    pub fn clear_faults(&self) {
        self.lock().faults.clear();
    }

    /// Number of calls of this kind so far.
    pub fn calls(&self, call: Call) -> usize {
        *self.lock().calls.get(&format!("{call:?}")).unwrap_or(&0)
    }

    /// Records written (created, updated or deleted) so far.
    pub fn writes(&self) -> usize {
        self.lock().writes
    }

    fn tick(s: &mut State) -> DateTime<Utc> {
        s.clock += 1;
        Utc.timestamp_opt(s.clock + s.skew_secs, 0).single().unwrap_or_else(Utc::now)
    }

    /// Edits a record as a user of the system would (bumps its updated-at).
    pub fn edit(&self, object: &str, id: &str, field: &str, value: Value) {
        let mut s = self.lock();
        let t = Self::tick(&mut s);
        if let Some(r) = s.objects.get_mut(object).and_then(|o| o.get_mut(id)) {
            r.fields.insert(field.to_string(), value);
            r.updated_at = Some(t);
        }
    }

    /// Inserts a record as a user would; returns its id.
    pub fn insert(&self, object: &str, fields: Fields) -> String {
        let mut s = self.lock();
        Self::insert_locked(&mut s, &self.name, object, fields).id
    }

    fn insert_locked(s: &mut State, name: &str, object: &str, fields: Fields) -> Record {
        s.next_id += 1;
        let id = format!("{name}-{}", s.next_id);
        let t = Self::tick(s);
        let r = Record { id: id.clone(), fields, updated_at: Some(t) };
        s.objects.entry(object.to_string()).or_default().insert(id, r.clone());
        r
    }

    /// Deletes a record as a user would.
    pub fn remove(&self, object: &str, id: &str) {
        let mut s = self.lock();
        if let Some(r) = s.objects.get_mut(object).and_then(|o| o.remove(id)) {
            s.deleted.entry(object.to_string()).or_default().insert(id.to_string(), r);
        }
    }

    /// All live records of an object, by id.
    pub fn records(&self, object: &str) -> BTreeMap<String, Record> {
        self.lock().objects.get(object).cloned().unwrap_or_default()
    }

    pub fn record(&self, object: &str, id: &str) -> Option<Record> {
        self.lock().objects.get(object).and_then(|o| o.get(id)).cloned()
    }

    /// Advances the logical clock (time passing between runs).
    pub fn advance(&self, secs: i64) {
        self.lock().clock += secs;
    }

    fn enter(&self, call: Call) -> Result<Option<Fault>, ConnectorError> {
        let mut s = self.lock();
        let key = format!("{call:?}");
        let n = *s.calls.get(&key).unwrap_or(&0);
        s.calls.insert(key, n + 1);
        let pos = s.faults.iter().position(|(c, at, _)| *c == call && *at == n);
        match pos.map(|i| s.faults.remove(i).2) {
            Some(Fault::Fail(e)) => Err(e),
            other => Ok(other),
        }
    }
}

async fn crash(fault: &Option<Fault>) -> Result<(), ConnectorError> {
    if matches!(fault, Some(Fault::Hang)) {
        futures::future::pending::<()>().await;
    }
    if matches!(fault, Some(Fault::CrashAfter)) {
        return Err(ConnectorError::Unavailable("connection dropped after the request was sent (simulated crash)".into()));
    }
    Ok(())
}

fn item_fault(fault: &Option<Fault>, i: usize) -> Option<ConnectorError> {
    match fault {
        Some(Fault::FailItem(n, e)) if *n == i => Some(e.clone()),
        _ => None,
    }
}

const PAGE: usize = 7;

#[async_trait]
impl Connector for MemoryConnector {
    fn kind(&self) -> &'static str {
        "memory"
    }

    fn capabilities(&self) -> Capabilities {
        let s = self.lock();
        Capabilities { max_batch: s.max_batch, incremental: s.incremental, deletes_visible: true, webhooks: false, buffered_writes: false }
    }

    async fn health(&self) -> Result<Identity, ConnectorError> {
        Ok(Identity { display: format!("in-memory system {}", self.name), details: vec![] })
    }

    async fn describe(&self) -> Result<Vec<ObjectSchema>, ConnectorError> {
        Ok(self.lock().schema.clone())
    }

    async fn list(&self, req: ListRequest) -> Result<Page, ConnectorError> {
        self.enter(Call::List)?;
        let s = self.lock();
        let since: Option<DateTime<Utc>> =
            if s.incremental { req.since.as_deref().and_then(|c| DateTime::parse_from_rfc3339(c).ok()).map(|t| t.with_timezone(&Utc)) } else { None };
        let mut all: Vec<&Record> = s
            .objects
            .get(&req.object)
            .map(|o| o.values().filter(|r| since.is_none_or(|t| r.updated_at.is_some_and(|u| u >= t))).collect())
            .unwrap_or_default();
        all.sort_by(|a, b| (a.updated_at, &a.id).cmp(&(b.updated_at, &b.id)));
        let start: usize = req.page.as_deref().and_then(|p| p.parse().ok()).unwrap_or(0);
        let records: Vec<Record> = all.iter().skip(start).take(PAGE).map(|r| (*r).clone()).collect();
        let next_page = (start + PAGE < all.len()).then(|| (start + PAGE).to_string());
        // The high-water mark: the system's current time, so a later edit is always >= it.
        let now = Utc.timestamp_opt(s.clock + s.skew_secs, 0).single().unwrap_or_else(Utc::now);
        // Every later write ticks the clock past `now`, so `now + 1s` misses nothing.
        let cursor = Some((now + Duration::seconds(1)).to_rfc3339());
        Ok(Page { records, next_page, cursor })
    }

    async fn get(&self, object: &str, ids: &[String]) -> Result<Vec<Record>, ConnectorError> {
        self.enter(Call::Get)?;
        let s = self.lock();
        Ok(ids.iter().filter_map(|id| s.objects.get(object).and_then(|o| o.get(id)).cloned()).collect())
    }

    async fn find(&self, object: &str, field: &str, values: &[Value]) -> Result<Vec<Record>, ConnectorError> {
        self.enter(Call::Find)?;
        let s = self.lock();
        let wanted: Vec<Value> = values.iter().filter_map(|v| canonicalize(v, FieldType::Text).ok()).collect();
        Ok(s.objects
            .get(object)
            .map(|o| {
                o.values()
                    .filter(|r| canonicalize(r.get(field), FieldType::Text).is_ok_and(|v| !v.is_null() && wanted.contains(&v)))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default())
    }

    async fn create(&self, object: &str, records: Vec<Fields>) -> Result<Vec<WriteResult>, ConnectorError> {
        let fault = self.enter(Call::Create)?;
        let mut out = Vec::new();
        {
            let mut s = self.lock();
            if records.len() > s.max_batch {
                return Err(ConnectorError::Invalid(format!("batch of {} exceeds the limit of {}", records.len(), s.max_batch)));
            }
            for (i, fields) in records.into_iter().enumerate() {
                if let Some(e) = item_fault(&fault, i) {
                    out.push(Err(e));
                    continue;
                }
                s.writes += 1;
                out.push(Ok(Self::insert_locked(&mut s, &self.name, object, fields)));
            }
        }
        crash(&fault).await?;
        Ok(out)
    }

    async fn update(&self, object: &str, patches: Vec<RecordPatch>) -> Result<Vec<WriteResult>, ConnectorError> {
        let fault = self.enter(Call::Update)?;
        let mut out = Vec::new();
        {
            let mut s = self.lock();
            if patches.len() > s.max_batch {
                return Err(ConnectorError::Invalid(format!("batch of {} exceeds the limit of {}", patches.len(), s.max_batch)));
            }
            for (i, p) in patches.into_iter().enumerate() {
                if let Some(e) = item_fault(&fault, i) {
                    out.push(Err(e));
                    continue;
                }
                let t = Self::tick(&mut s);
                match s.objects.get_mut(object).and_then(|o| o.get_mut(&p.id)) {
                    Some(r) => {
                        r.fields.extend(p.fields);
                        r.updated_at = Some(t);
                        let r = r.clone();
                        s.writes += 1;
                        out.push(Ok(r));
                    }
                    None => out.push(Err(ConnectorError::NotFound(format!("{object} {}", p.id)))),
                }
            }
        }
        crash(&fault).await?;
        Ok(out)
    }

    async fn delete(&self, object: &str, ids: Vec<String>) -> Result<Vec<WriteResult>, ConnectorError> {
        let fault = self.enter(Call::Delete)?;
        let mut out = Vec::new();
        {
            let mut s = self.lock();
            for (i, id) in ids.into_iter().enumerate() {
                if let Some(e) = item_fault(&fault, i) {
                    out.push(Err(e));
                    continue;
                }
                match s.objects.get_mut(object).and_then(|o| o.remove(&id)) {
                    Some(r) => {
                        s.writes += 1;
                        s.deleted.entry(object.to_string()).or_default().insert(id, r.clone());
                        out.push(Ok(r));
                    }
                    None => out.push(Err(ConnectorError::NotFound(format!("{object} {id}")))),
                }
            }
        }
        crash(&fault).await?;
        Ok(out)
    }
}
