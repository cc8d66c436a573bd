//! The runner with the in-memory connector: convergence, quiet runs, and crashes and
//! failures between every two steps never producing a duplicate or losing an edit.

use std::collections::BTreeMap;
use std::time::Duration;

use crosswalk_connectors::memory::{Call, Fault, MemoryConnector};
use crosswalk_core::config::ConflictPolicy;
use crosswalk_core::runner::{RunOptions, RunStatus};
use crosswalk_core::store::Store;
use crosswalk_core::value::Value;
use crosswalk_core::ConnectorError;
use crosswalk_e2e::{contacts_link, fields, run_once};

fn names(c: &MemoryConnector, field: &str) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for r in c.records("contacts").values() {
        *m.entry(r.get(field).display()).or_insert(0) += 1;
    }
    m
}

fn seed() -> (MemoryConnector, MemoryConnector) {
    seed_with(true)
}

fn seed_with(both: bool) -> (MemoryConnector, MemoryConnector) {
    let a = MemoryConnector::new("a");
    let b = MemoryConnector::new("b");
    a.set_max_batch(3);
    b.set_max_batch(2);
    for i in 0..7 {
        a.insert("contacts", fields(&[("name", &format!("A{i}")), ("email", &format!("a{i}@x.com"))]));
    }
    for i in 0..5 {
        b.insert("contacts", fields(&[("NAME", &format!("B{i}")), ("CITY", "Delft")]));
    }
    if !both {
        return (a, b);
    }
    // The same person on both sides: matched by name, not duplicated.
    a.insert("contacts", fields(&[("name", "Both"), ("email", "both@x.com")]));
    b.insert("contacts", fields(&[("NAME", "Both"), ("CITY", "Paris")]));
    (a, b)
}

fn assert_converged(a: &MemoryConnector, b: &MemoryConnector, why: &str) {
    let an = names(a, "name");
    let bn = names(b, "NAME");
    assert!(an.values().all(|n| *n == 1), "{why}: duplicate on left: {an:?}");
    assert!(bn.values().all(|n| *n == 1), "{why}: duplicate on right: {bn:?}");
    assert_eq!(an.keys().collect::<Vec<_>>(), bn.keys().collect::<Vec<_>>(), "{why}: both sides hold the same records");
    for ra in a.records("contacts").values() {
        let name = ra.get("name").display();
        let rb = b.records("contacts").into_values().find(|r| r.get("NAME").display() == name).unwrap();
        for f in ["email", "city"] {
            assert_eq!(ra.get(f).display(), rb.get(&f.to_uppercase()).display(), "{why}: {name}.{f} differs");
        }
    }
}

#[tokio::test]
async fn first_sync_links_creates_and_then_is_quiet() {
    let (a, b) = seed();
    let store = Store::open_in_memory().unwrap();
    let spec = contacts_link(ConflictPolicy::NewestWins);
    let r = run_once(&spec, &a, &b, &store, &RunOptions::default()).await.unwrap();
    assert_eq!(r.status, RunStatus::Ok, "{r:?}");
    assert_eq!(r.summary.created, [5, 7], "B0..B4 to the left, A0..A6 to the right");
    assert_eq!(r.summary.updated, [1, 1], "Both gets the city on the left and the email on the right");
    assert_converged(&a, &b, "after first sync");
    let (wa, wb) = (a.writes(), b.writes());
    let r2 = run_once(&spec, &a, &b, &store, &RunOptions::default()).await.unwrap();
    assert_eq!(r2.summary.writes(), 0, "a quiet system makes zero writes: {:?}", r2.summary);
    assert_eq!((a.writes(), b.writes()), (wa, wb));
    // Incremental: the second run lists only our own writes (echoes, which compare equal
    // to the base); a third lists nothing.
    assert!(r2.summary.read[0] < 14 && r2.summary.read[1] < 14, "{:?}", r2.summary.read);
    let r3 = run_once(&spec, &a, &b, &store, &RunOptions::default()).await.unwrap();
    assert_eq!(r3.summary.read, [0, 0], "nothing changed, nothing listed");
    a.edit("contacts", &a.records("contacts").keys().next().unwrap().clone(), "city", Value::text("Rome"));
    let r4 = run_once(&spec, &a, &b, &store, &RunOptions::default()).await.unwrap();
    assert_eq!(r4.summary.updated, [0, 1]);
    assert_converged(&a, &b, "after an edit");
}

#[tokio::test]
async fn dry_run_writes_nothing_and_pull_push_restrict_sides() {
    let (a, b) = seed();
    let store = Store::open_in_memory().unwrap();
    let spec = contacts_link(ConflictPolicy::NewestWins);
    let r = run_once(&spec, &a, &b, &store, &RunOptions { dry_run: true, ..Default::default() }).await.unwrap();
    assert_eq!(r.status, RunStatus::DryRun);
    assert_eq!(r.summary.planned_create, [5, 7]);
    assert_eq!((a.writes(), b.writes()), (0, 0), "a dry run must not write");
    let r = run_once(&spec, &a, &b, &store, &RunOptions { mode: crosswalk_core::runner::RunMode::Pull, ..Default::default() }).await.unwrap();
    assert_eq!(r.summary.created[0] + r.summary.updated[0], 0, "pull writes only the right side");
    assert_eq!(r.summary.created[1], 7);
    let r = run_once(&spec, &a, &b, &store, &RunOptions { mode: crosswalk_core::runner::RunMode::Push, full: true, ..Default::default() }).await.unwrap();
    assert_eq!(r.summary.created[1] + r.summary.updated[1], 0, "push writes only the left side");
    assert_eq!(r.summary.created[0], 5);
    let r = run_once(&spec, &a, &b, &store, &RunOptions { full: true, ..Default::default() }).await.unwrap();
    assert_eq!(r.summary.writes(), 0, "pull then push left nothing to do: {:?}", r.summary);
    assert_converged(&a, &b, "after pull + push");
}

#[tokio::test]
async fn ask_conflicts_wait_and_resolution_applies() {
    let (a, b) = seed();
    let store = Store::open_in_memory().unwrap();
    let spec = contacts_link(ConflictPolicy::Ask);
    run_once(&spec, &a, &b, &store, &RunOptions::default()).await.unwrap();
    let aid = a.records("contacts").values().find(|r| r.get("name").display() == "A1").unwrap().id.clone();
    let bid = b.records("contacts").values().find(|r| r.get("NAME").display() == "A1").unwrap().id.clone();
    a.edit("contacts", &aid, "email", Value::text("left@x.com"));
    b.edit("contacts", &bid, "EMAIL", Value::text("right@x.com"));
    let r = run_once(&spec, &a, &b, &store, &RunOptions::default()).await.unwrap();
    assert_eq!(r.summary.conflicts_open, 1);
    assert_eq!(a.record("contacts", &aid).unwrap().get("email"), &Value::text("left@x.com"), "ask leaves both sides");
    assert_eq!(b.record("contacts", &bid).unwrap().get("EMAIL"), &Value::text("right@x.com"));
    let open = store.conflicts(Some("contacts"), None).unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].conflict.left, Value::text("left@x.com"));
    // Still open (and listed once) after another run with no edits.
    run_once(&spec, &a, &b, &store, &RunOptions::default()).await.unwrap();
    assert_eq!(store.conflicts(Some("contacts"), None).unwrap().len(), 1);
    store.resolve_conflict(open[0].id, &Value::text("right@x.com")).unwrap();
    let r = run_once(&spec, &a, &b, &store, &RunOptions::default()).await.unwrap();
    assert_eq!(r.summary.conflicts_resolved, 1);
    assert_eq!(a.record("contacts", &aid).unwrap().get("email"), &Value::text("right@x.com"));
    assert_converged(&a, &b, "after resolving");
}

/// The crash test: for every create/update call on either side and every way it can go
/// wrong — fails cleanly, lands but reports an error, lands and the process dies — the
/// next runs (same state file) end with no duplicate and every edit on both sides.
#[tokio::test]
async fn crashes_and_failures_between_every_two_steps() {
    let mut cases = 0;
    for natural_key in [true, false] {
    for side in 0..2 {
        for call in [Call::Create, Call::Update] {
            for nth in 0..5 {
                for fault in [Fault::Fail(ConnectorError::Unavailable("503".into())), Fault::CrashAfter, Fault::Hang, Fault::FailItem(0, ConnectorError::Invalid("bad".into()))] {
                    cases += 1;
                    let dir = tempfile::tempdir().unwrap();
                    let db = dir.path().join("state.db");
                    let (a, b) = seed_with(natural_key);
                    let mut spec = contacts_link(ConflictPolicy::NewestWins);
                    if !natural_key {
                        // Without a natural key, only the journal prevents duplicates.
                        spec.def.match_key = None;
                    }
                    // A first sync, then edits on both sides so updates are needed too.
                    {
                        let store = Store::open(&db).unwrap();
                        run_once(&spec, &a, &b, &store, &RunOptions::default()).await.unwrap();
                    }
                    let aid = a.records("contacts").keys().nth(2).unwrap().clone();
                    a.edit("contacts", &aid, "city", Value::text("Oslo"));
                    let bid = b.records("contacts").keys().nth(4).unwrap().clone();
                    b.edit("contacts", &bid, "EMAIL", Value::text("new@x.com"));
                    for i in 0..3 {
                        a.insert("contacts", fields(&[("name", &format!("NewA{i}"))]));
                        b.insert("contacts", fields(&[("NAME", &format!("NewB{i}"))]));
                    }
                    let target = if side == 0 { &a } else { &b };
                    target.fault(call, nth, fault.clone());
                    {
                        let store = Store::open(&db).unwrap();
                        let opts = RunOptions::default();
                        let fut = run_once(&spec, &a, &b, &store, &opts);
                        let _ = tokio::time::timeout(Duration::from_millis(200), fut).await;
                    } // the "process" ends here, whatever state it was in
                    target.clear_faults();
                    let store = Store::open(&db).unwrap();
                    let why = format!("fault {fault:?} on call {nth} of {call:?} on side {side}, natural key {natural_key}");
                    let r = run_once(&spec, &a, &b, &store, &RunOptions::default()).await.unwrap();
                    assert!(r.status.succeeded(), "{why}: restart run must succeed: {:?}", r.summary);
                    assert_converged(&a, &b, &why);
                    let oslo = a.record("contacts", &aid).unwrap().get("city").display();
                    assert_eq!(oslo, "Oslo", "{why}: the left edit survived");
                    assert!(names(&a, "email").contains_key("new@x.com"), "{why}: the right edit reached the left");
                    for i in 0..3 {
                        assert!(names(&b, "NAME").contains_key(&format!("NewA{i}")), "{why}: NewA{i} created once on the right");
                        assert!(names(&a, "name").contains_key(&format!("NewB{i}")), "{why}: NewB{i} created once on the left");
                    }
                    let (wa, wb) = (a.writes(), b.writes());
                    let r = run_once(&spec, &a, &b, &store, &RunOptions { full: true, ..Default::default() }).await.unwrap();
                    assert_eq!(r.summary.writes(), 0, "{why}: quiet after recovery: {:?}", r.summary);
                    assert_eq!((a.writes(), b.writes()), (wa, wb), "{why}");
                }
            }
        }
    }
    }
    assert_eq!(cases, 160);
}

/// `crosswalk sync --record ID --direction …`: one record, one way. An unpaired record is
/// matched by its natural key (or created), nothing else is written, no cursor moves (the
/// next sync still sees every other change), and an id that is not there is a read error.
#[tokio::test]
async fn one_record_one_way_touches_nothing_else() {
    use std::sync::Arc;

    use crosswalk_core::runner::{run_selected, LinkRun, NoProgress, RecordSelection, RunError, RunMode};
    use crosswalk_core::Side;

    let (a, b) = seed_with(true);
    let spec = contacts_link(ConflictPolicy::NewestWins);
    let store = Store::open_in_memory().unwrap();
    let link = LinkRun { spec: &spec, left: Arc::new(a.clone()), right: Arc::new(b.clone()), store: &store, left_name: "a".into(), right_name: "b".into() };
    let id_of = |c: &MemoryConnector, field: &str, name: &str| c.records("contacts").into_iter().find(|(_, r)| r.get(field).display() == name).unwrap().0;
    let pull = RunOptions { mode: RunMode::Pull, ..RunOptions::default() };
    let one = |id: String| RecordSelection { side: Side::Left, id };

    let r = run_selected(&link, &pull, Some(&one(id_of(&a, "name", "Both"))), &NoProgress).await.unwrap();
    assert_eq!(r.summary.writes(), 1, "{:?}", r.summary);
    assert_eq!(b.records("contacts").len(), 6, "matched by name, not created again, and no other record copied");
    assert_eq!(b.record("contacts", &id_of(&b, "NAME", "Both")).unwrap().get("EMAIL").display(), "both@x.com", "its email was copied");
    assert_eq!(a.writes(), 0, "one way: nothing written to the source");
    assert_eq!(store.pair_count("contacts").unwrap(), 1, "and the pair is stored");

    run_selected(&link, &pull, Some(&one(id_of(&a, "name", "A3"))), &NoProgress).await.unwrap();
    assert_eq!(names(&b, "NAME").get("A3"), Some(&1), "an unmatched record is created");
    assert_eq!(b.records("contacts").len(), 7);

    let missing = run_selected(&link, &pull, Some(&one("no-such-id".into())), &NoProgress).await.unwrap_err();
    assert!(matches!(&missing, RunError::Read { source: ConnectorError::NotFound(m), .. } if m.contains("\"no-such-id\" is not on a")), "{missing}");

    let r = run_once(&spec, &a, &b, &store, &RunOptions::default()).await.unwrap();
    assert_eq!(r.summary.created, [5, 6], "the full sync after them still copies everything else: {:?}", r.summary);
    assert_converged(&a, &b, "after one-record runs and a full sync");
}
