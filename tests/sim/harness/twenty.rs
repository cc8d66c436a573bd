//! The Twenty side: the simulator over real HTTP on 127.0.0.1 and the real Twenty
//! connector, with `companies` as the object.
//!
//! Fault mapping: the simulator counts requests, not connector calls, so a fault lands on
//! the n-th *request* from now: `Fail` → that many answers with 429/503/400, `CrashAfter`
//! → dropped connections, `FailItem` → one 500. The connector's own retry layer (two tries)
//! absorbs some of them, as it would in production. Kills use the wrapper as everywhere.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use crosswalk_connectors::twenty::{TwentyConfig, TwentyConnector};
use crosswalk_core::connector::Connector;
use crosswalk_core::value::{Fields, Value};
use crosswalk_core::Secret;
use crosswalk_simulators::twenty::{SimFault, TwentySim, TwentySimHandle, TwentySimOptions};
use serde_json::{json, Map, Value as Json};

use super::ops::{ErrKind, FaultSpec, Scenario, FIELDS, QTY};

pub const OBJECT: &str = "companies";
/// tag, name, email, city, qty as Twenty company fields.
pub const NAMES: [&str; FIELDS] = ["name", "address.addressStreet1", "address.addressState", "address.addressCity", "employees"];

pub struct TwentySide {
    pub sim: TwentySimHandle,
    conn: Arc<TwentyConnector>,
}

/// A flat field set as a Twenty JSON body (dotted names nested; numbers as numbers).
fn body(fields: &Fields) -> Json {
    let mut out = Map::new();
    for (k, v) in fields {
        let j = if k == NAMES[QTY] {
            match crosswalk_core::value::canonicalize(v, crosswalk_core::value::FieldType::Integer) {
                Ok(Value::Int(n)) => json!(n),
                _ => Json::Null,
            }
        } else {
            v.to_json()
        };
        match k.split_once('.') {
            Some((outer, inner)) => {
                out.entry(outer.to_string()).or_insert_with(|| Json::Object(Map::new())).as_object_mut().expect("an object").insert(inner.into(), j);
            }
            None => {
                out.insert(k.clone(), j);
            }
        }
    }
    Json::Object(out)
}

impl TwentySide {
    pub async fn spawn(sc: &Scenario) -> TwentySide {
        let opts = TwentySimOptions { seed: sc.seed, batch_limit: 60, ..TwentySimOptions::default() }.unlimited();
        let sim = TwentySim::spawn(opts.clone()).await;
        let mut config = TwentyConfig::new(&sim.base_url);
        config.batch_size = sc.max_batch[0];
        config.max_attempts = 2;
        config.timeout = Duration::from_secs(10);
        config.requests_per_minute = 100_000;
        let conn = TwentyConnector::new("left", config, Secret::new(opts.api_key.clone())).expect("the Twenty connector");
        TwentySide { sim, conn: Arc::new(conn) }
    }

    pub fn connector(&self) -> Arc<dyn Connector> {
        self.conn.clone()
    }

    pub fn insert(&self, fields: Fields) {
        self.sim.insert_as_user(OBJECT, body(&fields)).expect("inserting a company as a user");
    }

    pub fn edit(&self, id: &str, field: &str, value: Value) {
        let mut f = Fields::new();
        f.insert(field.to_string(), value);
        self.sim.edit_as_user(OBJECT, id, body(&f)).expect("editing a company as a user");
    }

    pub fn remove(&self, id: &str) {
        self.sim.delete_as_user(OBJECT, id).expect("deleting a company as a user");
    }

    /// id → updatedAt of every live company: two marks differ by exactly the records
    /// written in between (users don't act during a run).
    pub fn mark(&self) -> BTreeMap<String, String> {
        self.sim
            .records(OBJECT)
            .into_iter()
            .map(|r| (r["id"].as_str().unwrap_or_default().to_string(), r["updatedAt"].as_str().unwrap_or_default().to_string()))
            .collect()
    }

    pub fn arm(&self, fault: &FaultSpec) {
        let status = |e: &ErrKind| match e {
            ErrKind::RateLimited => 429,
            ErrKind::Unavailable => 503,
            ErrKind::Invalid => 400,
        };
        match fault {
            FaultSpec::Fail { nth, error, .. } => self.sim.fault_after(*nth as u64, 2, SimFault::Status(status(error))),
            FaultSpec::CrashAfter { nth, .. } => self.sim.fault_after(*nth as u64, 2, SimFault::Drop),
            FaultSpec::FailItem { nth, .. } => self.sim.fault_after(*nth as u64, 1, SimFault::Status(500)),
            FaultSpec::Kill { .. } => {}
        }
    }

    pub fn clear_faults(&self) {
        self.sim.clear_faults();
    }
}

/// Records written between two marks.
pub fn writes_between(a: &BTreeMap<String, String>, b: &BTreeMap<String, String>) -> u64 {
    let created_or_updated = b.iter().filter(|(id, t)| a.get(*id) != Some(*t)).count();
    let deleted = a.keys().filter(|id| !b.contains_key(*id)).count();
    (created_or_updated + deleted) as u64
}
