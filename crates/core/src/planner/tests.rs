//! Planner tests: a case table over (base, left, right) × policy, and property tests.

use std::collections::BTreeMap;

use chrono::{TimeZone, Utc};
use proptest::prelude::*;

use super::*;
use crate::config::{ConflictPolicy, DeletePolicy, Direction, Endpoint, FieldMap, IdField, LinkDef, MassDeleteBrake, MatchKey, Triggers};
use crate::value::Value;

const FIELDS: [&str; 3] = ["f0", "f1", "f2"];

fn link(policy: ConflictPolicy, direction: Direction, deletes: DeletePolicy) -> LinkSpec {
    let def = LinkDef {
        left: Endpoint { connection: "a".into(), object: "o".into() },
        right: Endpoint { connection: "b".into(), object: "o".into() },
        direction,
        match_key: None,
        id_field: None,
        fields: FIELDS
            .iter()
            .map(|f| FieldMap { left: f.to_string(), right: f.to_uppercase(), field_type: None, transform: None, direction: None, values: Default::default() })
            .collect(),
        conflict: policy,
        tie_break: Side::Left,
        deletes,
        mass_delete: MassDeleteBrake { max_count: 1000, max_share: 1.0 },
        filters: vec![],
        after_write: vec![],
        triggers: Triggers::default(),
    };
    LinkSpec::new("t", def, |_| None)
}

fn t(secs: i64) -> Option<chrono::DateTime<Utc>> {
    Utc.timestamp_opt(1_700_000_000 + secs, 0).single()
}

fn val(s: &str) -> Value {
    if s.is_empty() {
        Value::Null
    } else {
        Value::text(s)
    }
}

fn rec(id: &str, side: Side, vals: [&str; 3], time: i64) -> Record {
    let mut r = Record::new(id);
    for (i, f) in FIELDS.iter().enumerate() {
        let name = if side == Side::Left { f.to_string() } else { f.to_uppercase() };
        r.fields.insert(name, val(vals[i]));
    }
    r.updated_at = t(time);
    r
}

fn base(vals: [&str; 3]) -> Fields {
    FIELDS.iter().zip(vals).map(|(f, v)| (f.to_string(), val(v))).collect()
}

/// One field, every (base, left, right) shape, every policy: (policy, b, l, r, newer side) →
/// (value left ends with, value right ends with, conflict parked, loser recorded).
#[test]
fn case_table_every_combination_and_policy() {
    use ConflictPolicy::*;
    #[rustfmt::skip]
    let cases: Vec<(ConflictPolicy, &str, &str, &str, Side, &str, &str, bool, bool)> = vec![
        // nothing changed
        (NewestWins, "a", "a", "a", Side::Left, "a", "a", false, false),
        // one side changed: copied across, under every policy
        (NewestWins, "a", "b", "a", Side::Right, "b", "b", false, false),
        (RightWins,  "a", "b", "a", Side::Right, "b", "b", false, false),
        (Ask,        "a", "b", "a", Side::Right, "b", "b", false, false),
        (LeftWins,   "a", "a", "c", Side::Left, "c", "c", false, false),
        (Ask,        "a", "a", "c", Side::Left, "c", "c", false, false),
        // cleared on one side: the clear is a change too
        (NewestWins, "a", "",  "a", Side::Right, "", "", false, false),
        (NewestWins, "",  "",  "x", Side::Left, "x", "x", false, false),
        // both changed to the same value: fine, nothing to write
        (Ask,        "a", "b", "b", Side::Left, "b", "b", false, false),
        (NewestWins, "a", "b", "b", Side::Left, "b", "b", false, false),
        // both changed differently: the policy decides
        (NewestWins, "a", "b", "c", Side::Left, "b", "b", false, true),
        (NewestWins, "a", "b", "c", Side::Right, "c", "c", false, true),
        (LeftWins,   "a", "b", "c", Side::Right, "b", "b", false, true),
        (RightWins,  "a", "b", "c", Side::Left, "c", "c", false, true),
        (Ask,        "a", "b", "c", Side::Left, "b", "c", true, false),
        (NewestWins, "a", "",  "c", Side::Left, "", "", false, true),
        (Ask,        "a", "",  "c", Side::Left, "", "c", true, false),
    ];
    for (policy, b, l, r, newer, want_l, want_r, parked, loser) in cases {
        let spec = link(policy, Direction::TwoWay, DeletePolicy::Ignore);
        let (lt, rt) = if newer == Side::Left { (20, 10) } else { (10, 20) };
        let left = Snapshot { records: vec![rec("L", Side::Left, [l, "", ""], lt)], complete: true };
        let right = Snapshot { records: vec![rec("R", Side::Right, [r, "", ""], rt)], complete: true };
        let pairs = vec![PairState { left_id: "L".into(), right_id: "R".into(), base: base([b, "", ""]), gone: None }];
        let p = plan(&PlanInput { spec: &spec, left: &left, right: &right, pairs: &pairs, resolutions: &[] });
        let label = format!("{policy:?} base={b:?} left={l:?} right={r:?} newer={newer:?}");
        let got = |side: Side, current: &str| match p.pairs.first().and_then(|pp| pp.write(side)) {
            Some(Write::Update { fields, .. }) => fields.values().next().unwrap().display(),
            _ => current.to_string(),
        };
        assert_eq!(got(Side::Left, l), want_l, "left after {label}");
        assert_eq!(got(Side::Right, r), want_r, "right after {label}");
        assert_eq!(!p.conflicts.is_empty(), parked, "conflict parked? {label}");
        assert_eq!(!p.overwrites.is_empty(), loser, "loser recorded? {label}");
        if loser {
            let o = &p.overwrites[0];
            let lost = if o.winner == Side::Left { r } else { l };
            assert_eq!(o.lost, val(lost), "the recorded loser is the overwritten value: {label}");
        }
        if parked {
            assert!(p.is_quiet(), "ask must leave both sides as they are: {label}");
        }
    }
}

#[test]
fn newest_wins_ties_go_to_the_configured_side() {
    for tie in [Side::Left, Side::Right] {
        let mut spec = link(ConflictPolicy::NewestWins, Direction::TwoWay, DeletePolicy::Ignore);
        spec.def.tie_break = tie;
        let left = Snapshot { records: vec![rec("L", Side::Left, ["b", "", ""], 5)], complete: true };
        let right = Snapshot { records: vec![rec("R", Side::Right, ["c", "", ""], 5)], complete: true };
        let pairs = vec![PairState { left_id: "L".into(), right_id: "R".into(), base: base(["a", "", ""]), gone: None }];
        let p = plan(&PlanInput { spec: &spec, left: &left, right: &right, pairs: &pairs, resolutions: &[] });
        assert_eq!(p.overwrites[0].winner, tie, "equal times: the tie-break side wins");
    }
}

#[test]
fn deletion_policies() {
    let pairs = vec![PairState { left_id: "L".into(), right_id: "R".into(), base: base(["a", "", ""]), gone: None }];
    let right = Snapshot { records: vec![rec("R", Side::Right, ["a", "", ""], 0)], complete: true };
    let left = Snapshot { records: vec![], complete: true };
    for (policy, expect_delete, expect_conflict, expect_gone) in
        [(DeletePolicy::Propagate, true, false, false), (DeletePolicy::Ignore, false, false, true), (DeletePolicy::Ask, false, true, false)]
    {
        let spec = link(ConflictPolicy::NewestWins, Direction::TwoWay, policy);
        let p = plan(&PlanInput { spec: &spec, left: &left, right: &right, pairs: &pairs, resolutions: &[] });
        assert_eq!(p.pairs.iter().any(|pp| pp.right_write == Some(Write::Delete)), expect_delete, "{policy:?}");
        assert_eq!(!p.conflicts.is_empty(), expect_conflict, "{policy:?}");
        assert_eq!(p.pairs.iter().any(|pp| pp.gone == Some(Side::Left)), expect_gone, "{policy:?}");
        assert!(p.pairs.iter().all(|pp| pp.left_write.is_none()), "never re-create on the deleting side unasked: {policy:?}");
    }
    // An incremental (incomplete) listing that misses a record says nothing about deletion.
    let spec = link(ConflictPolicy::NewestWins, Direction::TwoWay, DeletePolicy::Propagate);
    let partial = Snapshot { records: vec![], complete: false };
    let p = plan(&PlanInput { spec: &spec, left: &partial, right: &right, pairs: &pairs, resolutions: &[] });
    assert!(p.pairs.is_empty(), "missing from an incremental listing = unchanged");
}

#[test]
fn mass_delete_brake_holds_deletions_back() {
    let mut spec = link(ConflictPolicy::NewestWins, Direction::TwoWay, DeletePolicy::Propagate);
    spec.def.mass_delete = MassDeleteBrake { max_count: 3, max_share: 0.5 };
    let pairs: Vec<PairState> = (0..10).map(|i| PairState { left_id: format!("L{i}"), right_id: format!("R{i}"), base: base(["a", "", ""]), gone: None }).collect();
    let right = Snapshot { records: (0..10).map(|i| rec(&format!("R{i}"), Side::Right, ["a", "", ""], 0)).collect(), complete: true };
    let left = Snapshot { records: vec![], complete: true };
    let p = plan(&PlanInput { spec: &spec, left: &left, right: &right, pairs: &pairs, resolutions: &[] });
    assert!(p.counts().delete == [0, 0], "the brake must stop all 10 deletions");
    assert_eq!(p.held_deletes, vec![HeldDeletes { side: Side::Right, count: 10, total: 10 }]);
}

#[test]
fn natural_key_links_instead_of_duplicating() {
    let mut spec = link(ConflictPolicy::NewestWins, Direction::TwoWay, DeletePolicy::Ignore);
    spec.def.match_key = Some(MatchKey { left: "f0".into(), right: "F0".into() });
    let left = Snapshot { records: vec![rec("L1", Side::Left, ["Acme", "x", ""], 0), rec("L2", Side::Left, ["Beta", "", ""], 0)], complete: true };
    let right = Snapshot { records: vec![rec("R1", Side::Right, [" Acme ", "", "z"], 0)], complete: true };
    let p = plan(&PlanInput { spec: &spec, left: &left, right: &right, pairs: &[], resolutions: &[] });
    let matched = p.pairs.iter().find(|pp| pp.left_id.as_deref() == Some("L1")).unwrap();
    assert_eq!(matched.right_id.as_deref(), Some("R1"), "equal keys (after trimming) are one record");
    assert_eq!(p.counts().create, [0, 1], "only Beta is new");
    assert!(matches!(&matched.right_write, Some(Write::Update { fields, .. }) if fields.get("F1") == Some(&Value::text("x"))), "blanks are filled from the other side");
    assert!(matches!(&matched.left_write, Some(Write::Update { fields, .. }) if fields.get("f2") == Some(&Value::text("z"))));
}

#[test]
fn id_field_pairs_rows_and_write_back_is_requested() {
    let mut spec = link(ConflictPolicy::NewestWins, Direction::TwoWay, DeletePolicy::Ignore);
    spec.def.id_field = Some(IdField { side: Side::Right, field: "id".into() });
    let left = Snapshot { records: vec![rec("c1", Side::Left, ["Acme", "", ""], 0)], complete: true };
    let right = Snapshot {
        records: vec![rec("row1", Side::Right, ["Acme", "", ""], 0).with("id", Value::text("c1")), rec("row2", Side::Right, ["New", "", ""], 0)],
        complete: true,
    };
    let p = plan(&PlanInput { spec: &spec, left: &left, right: &right, pairs: &[], resolutions: &[] });
    assert!(p.pairs.iter().any(|pp| pp.left_id.as_deref() == Some("c1") && pp.right_id.as_deref() == Some("row1")), "the id column pairs the row");
    let create = p.pairs.iter().find(|pp| pp.right_id.as_deref() == Some("row2")).unwrap();
    assert!(matches!(create.left_write, Some(Write::Create { .. })));
    assert_eq!(create.write_back_id, Some((Side::Right, "id".to_string())), "the new id must go back into the row");
    // Duplicate ids in the id column are bad input: the run must stop.
    let dup = Snapshot {
        records: vec![rec("row1", Side::Right, ["A", "", ""], 0).with("id", Value::text("c1")), rec("row3", Side::Right, ["B", "", ""], 0).with("id", Value::text("c1"))],
        complete: true,
    };
    let p = plan(&PlanInput { spec: &spec, left: &left, right: &dup, pairs: &[], resolutions: &[] });
    assert!(p.has_invalid_input(), "duplicate ids must stop the run");
    assert!(p.pairs.iter().all(|pp| pp.right_id.as_deref() != Some("row1") && pp.right_id.as_deref() != Some("row3")));
}

#[test]
fn a_lost_id_write_back_is_repaired_and_then_quiet() {
    let mut spec = link(ConflictPolicy::NewestWins, Direction::TwoWay, DeletePolicy::Ignore);
    spec.def.id_field = Some(IdField { side: Side::Right, field: "id".into() });
    let pairs = vec![PairState { left_id: "c1".into(), right_id: "row1".into(), base: base(["a", "", ""]), gone: None }];
    let left = Snapshot { records: vec![rec("c1", Side::Left, ["a", "", ""], 0)], complete: true };
    let blank = Snapshot { records: vec![rec("row1", Side::Right, ["a", "", ""], 0)], complete: true };
    let p = plan(&PlanInput { spec: &spec, left: &left, right: &blank, pairs: &pairs, resolutions: &[] });
    assert!(
        matches!(&p.pairs[0].right_write, Some(Write::Update { fields, .. }) if fields.get("id") == Some(&Value::text("c1"))),
        "the row's empty id cell gets its partner's id again: {:?}", p.pairs
    );
    let fixed = Snapshot { records: vec![rec("row1", Side::Right, ["a", "", ""], 0).with("id", Value::text("c1"))], complete: true };
    let p = plan(&PlanInput { spec: &spec, left: &left, right: &fixed, pairs: &pairs, resolutions: &[] });
    assert!(p.pairs.is_empty(), "once right, nothing to do");
}

#[test]
fn ask_resolution_is_applied_to_both_sides() {
    let spec = link(ConflictPolicy::Ask, Direction::TwoWay, DeletePolicy::Ignore);
    let left = Snapshot { records: vec![rec("L", Side::Left, ["b", "", ""], 0)], complete: true };
    let right = Snapshot { records: vec![rec("R", Side::Right, ["c", "", ""], 0)], complete: true };
    let pairs = vec![PairState { left_id: "L".into(), right_id: "R".into(), base: base(["a", "", ""]), gone: None }];
    let res = vec![Resolution { left_id: "L".into(), right_id: "R".into(), field: "f0".into(), value: Value::text("d") }];
    let p = plan(&PlanInput { spec: &spec, left: &left, right: &right, pairs: &pairs, resolutions: &res });
    assert!(p.conflicts.is_empty(), "a resolved conflict is no longer open");
    assert_eq!(p.counts().update, [1, 1], "the chosen value goes to both sides");
    assert_eq!(p.pairs[0].merged.get("f0"), Some(&Value::text("d")));
}

#[test]
fn one_way_never_writes_to_the_source() {
    let spec = link(ConflictPolicy::NewestWins, Direction::LeftToRight, DeletePolicy::Propagate);
    let left = Snapshot { records: vec![rec("L", Side::Left, ["a", "", ""], 0)], complete: true };
    let right = Snapshot { records: vec![rec("R", Side::Right, ["z", "", ""], 9), rec("R2", Side::Right, ["new", "", ""], 9)], complete: true };
    let pairs = vec![PairState { left_id: "L".into(), right_id: "R".into(), base: base(["a", "", ""]), gone: None }];
    let p = plan(&PlanInput { spec: &spec, left: &left, right: &right, pairs: &pairs, resolutions: &[] });
    assert!(p.pairs.iter().all(|pp| pp.left_write.is_none()), "left-to-right must not write left");
    assert_eq!(p.warnings.len(), 1, "the right-side edit the link does not copy is noted: {:?}", p.warnings);
    let w = &p.warnings[0];
    assert!(!w.invalid_input && w.record_id.as_deref() == Some("R") && w.field.as_deref() == Some("F0") && w.message.contains("skipped"), "the note names record, field and that it was skipped: {w:?}");
    let mut quiet = spec.clone();
    quiet.def.fields[0].direction = Some(Direction::LeftToRight);
    let p = plan(&PlanInput { spec: &quiet, left: &left, right: &right, pairs: &pairs, resolutions: &[] });
    assert!(p.warnings.is_empty(), "a field's own direction is a column rule, not noted");
}

// ---- property tests -------------------------------------------------------------------

#[derive(Clone, Debug)]
enum Edit {
    Keep,
    Set(usize, &'static str),
    Delete,
}

const DOMAIN: [&str; 4] = ["", "a", "b", "c"];

fn arb_vals() -> impl Strategy<Value = [&'static str; 3]> {
    [prop::sample::select(&DOMAIN[..]), prop::sample::select(&DOMAIN[..]), prop::sample::select(&DOMAIN[..])]
}

fn arb_edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        4 => Just(Edit::Keep),
        4 => (0usize..3, prop::sample::select(&DOMAIN[..])).prop_map(|(i, v)| Edit::Set(i, v)),
        1 => Just(Edit::Delete),
    ]
}

#[derive(Clone, Debug)]
struct World {
    pairs: Vec<([&'static str; 3], Edit, Edit, i64, i64)>,
    new_left: Vec<[&'static str; 3]>,
    new_right: Vec<[&'static str; 3]>,
}

fn arb_world() -> impl Strategy<Value = World> {
    (
        prop::collection::vec((arb_vals(), arb_edit(), arb_edit(), 0i64..3, 0i64..3), 0..8),
        prop::collection::vec(arb_vals(), 0..3),
        prop::collection::vec(arb_vals(), 0..3),
    )
        .prop_map(|(pairs, new_left, new_right)| World { pairs, new_left, new_right })
}

fn arb_policy() -> impl Strategy<Value = ConflictPolicy> {
    prop::sample::select(vec![ConflictPolicy::NewestWins, ConflictPolicy::LeftWins, ConflictPolicy::RightWins, ConflictPolicy::Ask])
}

fn arb_deletes() -> impl Strategy<Value = DeletePolicy> {
    prop::sample::select(vec![DeletePolicy::Ignore, DeletePolicy::Propagate, DeletePolicy::Ask])
}

struct Model {
    left: BTreeMap<String, Record>,
    right: BTreeMap<String, Record>,
    pairs: Vec<PairState>,
}

fn build(w: &World) -> Model {
    let mut m = Model { left: BTreeMap::new(), right: BTreeMap::new(), pairs: vec![] };
    for (i, (b, le, re, lt, rt)) in w.pairs.iter().enumerate() {
        let (lid, rid) = (format!("L{i}"), format!("R{i}"));
        m.pairs.push(PairState { left_id: lid.clone(), right_id: rid.clone(), base: base(*b), gone: None });
        for (side, edit, id, time, map) in [(Side::Left, le, lid, lt, &mut m.left), (Side::Right, re, rid, rt, &mut m.right)] {
            let mut vals = *b;
            match edit {
                Edit::Delete => continue,
                Edit::Set(f, v) => vals[*f] = v,
                Edit::Keep => {}
            }
            map.insert(id.clone(), rec(&id, side, vals, *time));
        }
    }
    for (i, v) in w.new_left.iter().enumerate() {
        m.left.insert(format!("NL{i}"), rec(&format!("NL{i}"), Side::Left, *v, 1));
    }
    for (i, v) in w.new_right.iter().enumerate() {
        m.right.insert(format!("NR{i}"), rec(&format!("NR{i}"), Side::Right, *v, 1));
    }
    m
}

fn snapshot(map: &BTreeMap<String, Record>, reverse: bool) -> Snapshot {
    let mut records: Vec<Record> = map.values().cloned().collect();
    if reverse {
        records.reverse();
    }
    Snapshot { records, complete: true }
}

/// Applies a plan to the model as if every write succeeded (what the runner does).
fn apply(spec: &LinkSpec, m: &mut Model, p: &Plan) {
    let mut next = 0;
    for pp in &p.pairs {
        let mut ids = [pp.left_id.clone(), pp.right_id.clone()];
        for (k, side) in [Side::Left, Side::Right].into_iter().enumerate() {
            let map = if side == Side::Left { &mut m.left } else { &mut m.right };
            match pp.write(side) {
                Some(Write::Create { fields }) => {
                    next += 1;
                    let id = format!("new{next}");
                    map.insert(id.clone(), Record { id: id.clone(), fields: fields.clone(), updated_at: t(100) });
                    ids[k] = Some(id);
                }
                Some(Write::Update { fields, .. }) => {
                    let r = map.get_mut(pp.id(side).unwrap()).expect("update targets an existing record");
                    r.fields.extend(fields.clone());
                }
                Some(Write::Delete) => {
                    map.remove(pp.id(side).unwrap());
                }
                None => {}
            }
        }
        let (l, r) = (ids[0].clone().unwrap(), ids[1].clone().unwrap());
        m.pairs.retain(|ps| ps.left_id != l && ps.right_id != r);
        if !pp.forget {
            m.pairs.push(PairState { left_id: l, right_id: r, base: pp.merged.clone(), gone: pp.gone });
        }
    }
    let _ = spec;
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 600, .. ProptestConfig::default() })]

    /// (a) convergence, (b) quiet is quiet, (c) no lost edit, (d) order independence.
    #[test]
    fn plan_properties(w in arb_world(), policy in arb_policy(), deletes in arb_deletes()) {
        let spec = link(policy, Direction::TwoWay, deletes);
        let mut m = build(&w);
        let input_pairs = m.pairs.clone();
        let (ls, rs) = (snapshot(&m.left, false), snapshot(&m.right, false));
        let p = plan(&PlanInput { spec: &spec, left: &ls, right: &rs, pairs: &input_pairs, resolutions: &[] });

        // (d) the same inputs in another order give the same plan.
        let mut rev_pairs = input_pairs.clone();
        rev_pairs.reverse();
        let (lr, rr) = (snapshot(&m.left, true), snapshot(&m.right, true));
        let p2 = plan(&PlanInput { spec: &spec, left: &lr, right: &rr, pairs: &rev_pairs, resolutions: &[] });
        prop_assert_eq!(&p, &p2, "plan depends on input order");

        let before_left = m.left.clone();
        let before_right = m.right.clone();
        apply(&spec, &mut m, &p);

        // (a) every pair agrees on every mapped field, except parked conflicts.
        for ps in &m.pairs {
            if ps.gone.is_some() { continue; }
            let (Some(l), Some(r)) = (m.left.get(&ps.left_id), m.right.get(&ps.right_id)) else { continue };
            let lv = record_to_link(&spec, Side::Left, l).unwrap();
            let rv = record_to_link(&spec, Side::Right, r).unwrap();
            for f in FIELDS {
                let parked = p.conflicts.iter().any(|c| c.left_id == ps.left_id && (c.field == f || c.field.is_empty()));
                if !parked {
                    prop_assert_eq!(lv.get(f), rv.get(f), "pair {}/{} disagrees on {}", ps.left_id, ps.right_id, f);
                }
            }
        }

        // (b) planning again right after applying writes nothing.
        let again = plan(&PlanInput { spec: &spec, left: &snapshot(&m.left, false), right: &snapshot(&m.right, false), pairs: &m.pairs, resolutions: &[] });
        prop_assert!(again.is_quiet(), "second plan not quiet: {:?}", again.pairs);
        prop_assert_eq!(again.conflicts.len(), p.conflicts.len(), "open conflicts stay open, no new ones");

        // (c) every edit survives, or lost to the policy (logged), or is parked.
        for (i, (b, le, re, _, _)) in w.pairs.iter().enumerate() {
            for (side, edit) in [(Side::Left, le), (Side::Right, re)] {
                let Edit::Set(f, v) = edit else { continue };
                if b[*f] == *v { continue; }
                let (lid, rid) = (format!("L{i}"), format!("R{i}"));
                let field = FIELDS[*f];
                let lost = p.overwrites.iter().any(|o| o.left_id.as_deref() == Some(&lid) && o.field == field && o.winner != side && o.lost == val(v));
                let parked = p.conflicts.iter().any(|c| c.left_id == lid && (c.field == field || c.field.is_empty()));
                let other_deleted = match side { Side::Left => !before_right.contains_key(&rid), Side::Right => !before_left.contains_key(&lid) };
                let now = match side { Side::Left => m.left.get(&lid), Side::Right => m.right.get(&rid) };
                let kept = now.map(|r| record_to_link(&spec, side, r).unwrap().get(field) == Some(&val(v))).unwrap_or(false);
                prop_assert!(kept || lost || parked || other_deleted, "edit {side:?} {lid} {field}={v:?} vanished without a trace");
            }
        }
    }
}
