//! One side's system as the simulation sees it: the connector the engine uses, plus the
//! "user" hooks (insert, edit, delete behind the engine's back), fault switches and the
//! ground-truth write count.

use std::sync::Arc;

use crosswalk_connectors::memory::{Call, Fault, MemoryConnector};
use crosswalk_core::connector::{Connector, ConnectorError, ListRequest, Record};
use crosswalk_core::value::{FieldType, Fields, Value};

use super::ops::{ErrKind, FaultSpec};

pub const OBJECT: &str = "items";

pub fn error(kind: ErrKind) -> ConnectorError {
    match kind {
        ErrKind::RateLimited => ConnectorError::RateLimited { retry_after_secs: Some(1) },
        ErrKind::Unavailable => ConnectorError::Unavailable("503 Service Unavailable (simulated)".into()),
        ErrKind::Invalid => ConnectorError::Invalid("the server rejected this record (simulated)".into()),
    }
}

/// Where a system's write count stood.
pub enum Mark {
    Count(u64),
    /// id → updatedAt of every live record.
    Versions(std::collections::BTreeMap<String, String>),
}

/// A system on one side of the link.
pub enum System {
    Memory(MemoryConnector),
    Twenty(super::twenty::TwentySide),
}

impl System {
    pub fn memory(name: &str, names: &[&str], max_batch: usize, incremental: bool, skew: i64) -> System {
        let m = MemoryConnector::new(name);
        m.set_max_batch(max_batch);
        m.set_incremental(incremental);
        m.set_clock_skew(skew);
        let fields: Vec<(&str, FieldType)> = names.iter().map(|n| (*n, FieldType::Text)).collect();
        m.define(OBJECT, &fields);
        System::Memory(m)
    }

    /// The connector the engine talks to (before the kill wrapper).
    pub fn connector(&self) -> Arc<dyn Connector> {
        match self {
            System::Memory(m) => Arc::new(m.clone()),
            System::Twenty(t) => t.connector(),
        }
    }

    pub fn object(&self) -> &'static str {
        match self {
            System::Memory(_) => OBJECT,
            System::Twenty(_) => super::twenty::OBJECT,
        }
    }

    /// Every live record, as the connector lists it (side's field names).
    pub async fn records(&self) -> Vec<Record> {
        match self {
            System::Memory(m) => m.records(OBJECT).into_values().collect(),
            System::Twenty(t) => {
                let c = t.connector();
                let mut out = vec![];
                let mut page = None;
                loop {
                    let p = c.list(ListRequest { object: super::twenty::OBJECT.into(), since: None, page: page.take() }).await.expect("listing the simulator for a check");
                    out.extend(p.records);
                    match p.next_page {
                        Some(n) => page = Some(n),
                        None => break,
                    }
                }
                out
            }
        }
    }

    pub fn insert(&self, fields: Fields) {
        match self {
            System::Memory(m) => {
                m.insert(OBJECT, fields);
            }
            System::Twenty(t) => t.insert(fields),
        }
    }

    pub fn edit(&self, id: &str, field: &str, value: Value) {
        match self {
            System::Memory(m) => m.edit(OBJECT, id, field, value),
            System::Twenty(t) => t.edit(id, field, value),
        }
    }

    pub fn remove(&self, id: &str) {
        match self {
            System::Memory(m) => m.remove(OBJECT, id),
            System::Twenty(t) => t.remove(id),
        }
    }

    /// A mark to count the engine's writes from (ground truth, not what it reported).
    pub fn mark(&self) -> Mark {
        match self {
            System::Memory(m) => Mark::Count(m.writes() as u64),
            System::Twenty(t) => Mark::Versions(t.mark()),
        }
    }

    /// Records written since `mark`.
    pub fn writes_since(&self, mark: &Mark) -> u64 {
        match (self, mark) {
            (System::Memory(m), Mark::Count(n)) => m.writes() as u64 - n,
            (System::Twenty(t), Mark::Versions(v)) => super::twenty::writes_between(v, &t.mark()),
            _ => unreachable!("a mark of another system"),
        }
    }

    pub fn advance(&self, secs: i64) {
        match self {
            System::Memory(m) => m.advance(secs),
            System::Twenty(_) => {}
        }
    }

    pub fn skew(&self, secs: i64) {
        match self {
            System::Memory(m) => m.set_clock_skew(secs),
            System::Twenty(_) => {}
        }
    }

    /// Arms a fault that is not a kill (kills go through the wrapper).
    pub fn arm(&self, fault: &FaultSpec) {
        match self {
            System::Memory(m) => match fault {
                FaultSpec::Fail { call, nth, error: e, .. } => m.fault(*call, *nth, Fault::Fail(error(*e))),
                FaultSpec::CrashAfter { call, nth, .. } => m.fault(*call, *nth, Fault::CrashAfter),
                FaultSpec::FailItem { call, nth, item, error: e, .. } => m.fault(*call, *nth, Fault::FailItem(*item, error(*e))),
                FaultSpec::Kill { .. } => {}
            },
            System::Twenty(t) => t.arm(fault),
        }
    }

    pub fn clear_faults(&self) {
        match self {
            System::Memory(m) => m.clear_faults(),
            System::Twenty(t) => t.clear_faults(),
        }
    }
}

/// Whether a fault on this call kind can make a write land unreported on this system.
pub fn is_write(call: Call) -> bool {
    matches!(call, Call::Create | Call::Update | Call::Delete)
}
