//! Shared helpers for Crosswalk's end-to-end tests (`tests/*/main.rs`).

use std::sync::Arc;

use crosswalk_connectors::memory::MemoryConnector;
use crosswalk_core::config::{Direction, Endpoint, FieldMap, LinkDef, MatchKey, Triggers};
use crosswalk_core::planner::LinkSpec;
use crosswalk_core::runner::{self, LinkRun, NoProgress, RunOptions, RunReport};
use crosswalk_core::store::Store;
use crosswalk_core::value::{FieldType, Fields, Value};

/// A two-way link over `name`, `email`, `city` matched by `name`.
pub fn contacts_link(conflict: crosswalk_core::config::ConflictPolicy) -> LinkSpec {
    let fm = |f: &str| FieldMap { left: f.into(), right: f.to_uppercase(), field_type: None, transform: None, direction: None, values: Default::default() };
    let def = LinkDef {
        left: Endpoint { connection: "a".into(), object: "contacts".into() },
        right: Endpoint { connection: "b".into(), object: "contacts".into() },
        direction: Direction::TwoWay,
        match_key: Some(MatchKey { left: "name".into(), right: "NAME".into() }),
        id_field: None,
        fields: vec![fm("name"), fm("email"), fm("city")],
        conflict,
        tie_break: crosswalk_core::Side::Left,
        deletes: Default::default(),
        mass_delete: Default::default(),
        filters: vec![],
        after_write: vec![],
        triggers: Triggers::default(),
    };
    LinkSpec::new("contacts", def, |_| Some(FieldType::Text))
}

pub fn fields(pairs: &[(&str, &str)]) -> Fields {
    pairs.iter().map(|(k, v)| (k.to_string(), Value::text(*v))).collect()
}

pub async fn run_once(spec: &LinkSpec, a: &MemoryConnector, b: &MemoryConnector, store: &Store, opts: &RunOptions) -> Result<RunReport, runner::RunError> {
    let link = LinkRun { spec, left: Arc::new(a.clone()), right: Arc::new(b.clone()), store, left_name: "a".into(), right_name: "b".into() };
    runner::run(&link, opts, &NoProgress).await
}

/// The seeded randomized simulation of the sync engine (issue 5): world generation,
/// operations, faults and crashes, invariants, shrinking. Shared by `tests/sim` (CI) and
/// the `crosswalk-soak` binary (long runs in release mode).
#[path = "../sim/harness/mod.rs"]
pub mod sim;
