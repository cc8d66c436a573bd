//! Planner benchmark: 100,000 pairs × 20 fields, 1% changed on each side.
//! Prints time and peak memory. Target: under 0.5 s and under 300 MB on one core.
//!
//! Run: `cargo bench -p crosswalk-core --bench planner`

use std::time::Instant;

use chrono::{TimeZone, Utc};
use crosswalk_core::config::{ConflictPolicy, Direction, Endpoint, FieldMap, LinkDef, Side, Triggers};
use crosswalk_core::connector::Record;
use crosswalk_core::planner::{plan, LinkSpec, PairState, PlanInput, Snapshot};
use crosswalk_core::value::{Fields, Value};

const PAIRS: usize = 100_000;
const FIELDS: usize = 20;

fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

fn main() {
    let names: Vec<String> = (0..FIELDS).map(|i| format!("field{i}")).collect();
    let def = LinkDef {
        left: Endpoint { connection: "crm".into(), object: "companies".into() },
        right: Endpoint { connection: "book".into(), object: "Companies".into() },
        direction: Direction::TwoWay,
        match_key: None,
        id_field: None,
        fields: names.iter().map(|n| FieldMap { left: n.clone(), right: n.to_uppercase(), field_type: None, transform: None, direction: None, values: Default::default() }).collect(),
        conflict: ConflictPolicy::NewestWins,
        tie_break: Side::Left,
        deletes: Default::default(),
        mass_delete: Default::default(),
        filters: vec![],
        after_write: vec![],
        triggers: Triggers::default(),
    };
    let spec = LinkSpec::new("bench", def, |_| None);
    let t0 = Utc.timestamp_opt(1_700_000_000, 0).unwrap();
    let before_build = peak_rss_mb();
    let mut left = Vec::with_capacity(PAIRS);
    let mut right = Vec::with_capacity(PAIRS);
    let mut pairs = Vec::with_capacity(PAIRS);
    for i in 0..PAIRS {
        let base: Fields = names.iter().enumerate().map(|(f, n)| (n.clone(), Value::text(format!("value {i} {f}")))).collect();
        let mut l = Record { id: format!("L{i}"), fields: base.clone(), updated_at: Some(t0) };
        let mut r = Record {
            id: format!("R{i}"),
            fields: base.iter().map(|(k, v)| (k.to_uppercase(), v.clone())).collect(),
            updated_at: Some(t0),
        };
        if i % 100 == 0 {
            l.fields.insert("field3".into(), Value::text(format!("left edit {i}")));
        }
        if i % 100 == 50 {
            r.fields.insert("FIELD7".into(), Value::text(format!("right edit {i}")));
        }
        left.push(l);
        right.push(r);
        pairs.push(PairState { left_id: format!("L{i}"), right_id: format!("R{i}"), base, gone: None });
    }
    let (ls, rs) = (Snapshot { records: left, complete: true }, Snapshot { records: right, complete: true });
    let after_build = peak_rss_mb();
    let mut best = f64::MAX;
    let mut changed = 0;
    for _ in 0..3 {
        let start = Instant::now();
        let p = plan(&PlanInput { spec: &spec, left: &ls, right: &rs, pairs: &pairs, resolutions: &[] });
        best = best.min(start.elapsed().as_secs_f64());
        changed = p.pairs.len();
        assert_eq!(p.counts().update, [1000, 1000], "1% changed on each side");
    }
    let peak = peak_rss_mb();
    println!("planner: {PAIRS} pairs x {FIELDS} fields, 1% changed per side -> {changed} pair plans");
    println!("planner: best of 3: {:.3} s (target < 0.5 s)", best);
    if let (Some(b), Some(a), Some(p)) = (before_build, after_build, peak) {
        println!("planner: peak RSS {:.0} MB in all (inputs {:.0} MB, planning adds {:.0} MB; target < 300 MB)", p, a - b, p - a);
    }
}
