use super::*;
use crate::config::Side;
use crate::planner::{Conflict, ConflictKind};
use crate::value::{Fields, Value};

fn base(v: &str) -> Fields {
    let mut f = Fields::new();
    f.insert("name".into(), Value::text(v));
    f
}

#[test]
fn pairs_round_trip_and_replace_by_either_id() {
    let s = Store::open_in_memory().unwrap();
    s.put_pair("l", "L1", "R1", &base("a"), None).unwrap();
    s.put_pair("l", "L1", "R2", &base("b"), Some(Side::Right)).unwrap();
    let pairs = s.pairs("l").unwrap();
    assert_eq!(pairs.len(), 1, "a left id belongs to one pair only");
    assert_eq!(pairs[0].right_id, "R2");
    assert_eq!(pairs[0].gone, Some(Side::Right));
    assert_eq!(pairs[0].base, base("b"));
    assert!(s.pairs("other").unwrap().is_empty(), "links don't see each other's pairs");
}

#[test]
fn migrations_survive_reopen_and_refuse_newer_schema() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    {
        let s = Store::open(&path).unwrap();
        s.put_pair("l", "a", "b", &base("x"), None).unwrap();
    }
    let s = Store::open(&path).unwrap();
    assert_eq!(s.pairs("l").unwrap().len(), 1, "data survives reopening");
    s.conn().pragma_update(None, "user_version", 99).unwrap();
    drop(s);
    assert!(matches!(Store::open(&path), Err(StoreError::TooNew { found: 99, .. })));
}

#[test]
fn conflicts_open_resolve_close() {
    let s = Store::open_in_memory().unwrap();
    let c = Conflict { left_id: "L".into(), right_id: "R".into(), field: "name".into(), kind: ConflictKind::Field, base: Value::text("a"), left: Value::text("b"), right: Value::text("c") };
    s.transaction(|tx| Store::sync_open_conflicts_tx(tx, "l", &[c.clone()])).unwrap();
    s.transaction(|tx| Store::sync_open_conflicts_tx(tx, "l", &[c.clone()])).unwrap();
    let open = s.conflicts(Some("l"), Some(ConflictStatus::Open)).unwrap();
    assert_eq!(open.len(), 1, "the same conflict seen twice is listed once");
    s.resolve_conflict(open[0].id, &Value::text("b")).unwrap();
    let pending = s.pending_resolutions("l").unwrap();
    assert_eq!(pending[0].1.value, Value::text("b"));
    assert!(s.resolve_conflict(open[0].id, &Value::text("c")).is_err(), "a settled conflict can't be settled again");
    s.transaction(|tx| Store::close_conflicts_tx(tx, &[open[0].id])).unwrap();
    assert!(s.pending_resolutions("l").unwrap().is_empty());
}

#[test]
fn journal_and_inbox() {
    let s = Store::open_in_memory().unwrap();
    let ids = s.add_intents("l", Side::Left, &[("R1".into(), base("a"))]).unwrap();
    assert_eq!(s.pending_intents("l").unwrap().len(), 1);
    s.close_intent(ids[0], "done").unwrap();
    assert!(s.pending_intents("l").unwrap().is_empty());
    assert!(s.add_inbox("crm", Some("n1"), &serde_json::json!({"a": 1})).unwrap());
    assert!(!s.add_inbox("crm", Some("n1"), &serde_json::json!({"a": 1})).unwrap(), "a replayed nonce is stored once");
    assert_eq!(s.inbox("crm").unwrap().len(), 1);
}

#[test]
fn old_inbox_deliveries_are_pruned() {
    let s = Store::open_in_memory().unwrap();
    s.conn()
        .execute(
            "INSERT INTO inbox (connection, nonce, received_at, event) VALUES ('crm', 'old', '2020-01-01T00:00:00.000Z', '{}')",
            [],
        )
        .unwrap();
    assert_eq!(s.inbox("crm").unwrap().len(), 1);
    assert!(s.add_inbox("crm", Some("new"), &serde_json::json!({"a": 1})).unwrap());
    let left = s.inbox("crm").unwrap();
    assert_eq!(left.len(), 1, "the delivery older than {INBOX_KEEP_DAYS} days is gone: {left:?}");
    assert_ne!(left[0].received_at, "2020-01-01T00:00:00.000Z");
}

#[test]
fn interrupted_runs_are_marked() {
    let s = Store::open_in_memory().unwrap();
    let r1 = s.start_run("l", "sync", "manual").unwrap();
    let _r2 = s.start_run("l", "sync", "manual").unwrap();
    assert_eq!(s.run(r1).unwrap().unwrap().status, "interrupted", "a run left running by a crash is marked interrupted");
}
