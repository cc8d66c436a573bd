//! Connector flows: a new workbook, keys, deletes, new columns, locks, versions.

use crosswalk_connectors::workbook::{list_versions, restore};
use crosswalk_core::{ConnectorError, Fields, FieldType, RecordPatch, Value};

use super::support::*;

const SETTINGS: &str = r#"
[sheets.Companies]
columns = ["id", "name", "status", "since"]
id_columns = ["id"]
date_columns = ["since"]
options = { status = ["Active", "Lost"] }
"#;

fn f(pairs: &[(&str, Value)]) -> Fields {
    pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
}

#[tokio::test]
async fn new_workbook_then_write_back() {
    let env = Env::new();
    let path = env.path("Book.xlsx");
    let c = env.connector("Book.xlsx", SETTINGS);
    assert!(list(&c, "Companies").await.is_empty(), "a workbook that doesn't exist yet has no records");
    let schema = c.describe().await.unwrap();
    let comp = schema.iter().find(|o| o.name == "Companies").expect("describe shows configured sheets before the file exists");
    assert_eq!(comp.field("id").unwrap().field_type, FieldType::Id);
    assert_eq!(comp.field("status").unwrap().options, vec!["Active", "Lost"]);
    c.flush().await.unwrap();
    assert!(!path.exists(), "a flush with nothing to write creates no file");

    let since = Value::Date(chrono::NaiveDate::from_ymd_opt(2020, 5, 17).unwrap());
    let made = c
        .create("Companies", vec![f(&[("id", Value::text("0012")), ("name", Value::text("Acme")), ("status", Value::text("Active")), ("since", since.clone())]), f(&[("id", Value::Int(7)), ("name", Value::text("Globex"))])])
        .await
        .unwrap();
    let ids: Vec<String> = made.iter().map(|r| r.as_ref().unwrap().id.clone()).collect();
    c.flush().await.unwrap();
    assert!(path.exists(), "the first flush creates the workbook");
    let recs = list(&c, "Companies").await;
    assert_eq!(recs.iter().map(|r| r.id.clone()).collect::<Vec<_>>(), ids, "records carry the keys create returned");
    assert_eq!(recs[0].get("id"), &Value::text("0012"), "id column written as text");
    assert_eq!(recs[1].get("id"), &Value::text("7"), "a numeric id is written as text");
    assert_eq!(recs[0].get("since"), &since, "dates are real dates in a new workbook");
    assert!(list_versions(env.data.path(), &path).unwrap().is_empty(), "a new file has no older version");

    // Update with an unknown field: a new column before our key column.
    let res = c.update("Companies", vec![RecordPatch { id: ids[1].clone(), fields: f(&[("email", Value::text("g@x.com")), ("status", Value::text("Lost"))]) }]).await.unwrap();
    assert!(res[0].is_ok());
    c.flush().await.unwrap();
    let recs = list(&c, "Companies").await;
    assert_eq!(recs[1].get("email"), &Value::text("g@x.com"), "an unknown field becomes a new column");
    assert_eq!(recs[1].get("status"), &Value::text("Lost"));
    assert_eq!(recs[1].id, ids[1], "moving the key column keeps the keys");
    assert_eq!(list_versions(env.data.path(), &path).unwrap().len(), 1, "the replaced file went into the history");

    // Delete moves the row to a Deleted sheet.
    c.delete("Companies", vec![ids[0].clone()]).await.unwrap().remove(0).unwrap();
    c.flush().await.unwrap();
    let recs = list(&c, "Companies").await;
    assert_eq!(recs.len(), 1, "the deleted row is gone");
    let gone = list(&c, "Deleted").await;
    assert_eq!(gone.len(), 1, "the deleted row was moved to the Deleted sheet");
    assert_eq!(gone[0].get("name"), &Value::text("Acme"));
    assert_eq!(gone[0].get("deleted_from"), &Value::text("Companies"));

    // Restore the version before the delete.
    let before_restore = std::fs::read(&path).unwrap();
    restore(env.data.path(), &path, Some(1)).unwrap();
    assert_ne!(std::fs::read(&path).unwrap(), before_restore, "restore brings back an older file");
    assert_eq!(list(&c, "Companies").await.len(), 2, "version 1 is the file before the delete");
}

#[tokio::test]
async fn keyless_rows_get_stable_keys_persisted_only_by_flush() {
    let env = Env::new();
    let path = env.path("Book.xlsx");
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet().set_name("People").unwrap();
    ws.write_string(0, 0, "name").unwrap();
    for (i, n) in ["Ann", "Bob", "Ann"].iter().enumerate() {
        ws.write_string(i as u32 + 1, 0, *n).unwrap();
    }
    ws.write_string(5, 0, "Cy").unwrap(); // after a blank row
    wb.save(&path).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let c = env.connector("Book.xlsx", "");
    let a = list(&c, "People").await;
    let b = list(&c, "People").await;
    assert_eq!(a.len(), 4, "blank rows are skipped");
    assert_eq!(a.iter().map(|r| &r.id).collect::<Vec<_>>(), b.iter().map(|r| &r.id).collect::<Vec<_>>(), "keys are stable across reads of the same file");
    assert_ne!(a[0].id, a[2].id, "two rows with the same content get different keys");
    assert_eq!(std::fs::read(&path).unwrap(), bytes, "reading never writes");
    c.ready_to_write().await.unwrap();
    c.flush().await.unwrap();
    assert_ne!(std::fs::read(&path).unwrap(), bytes, "flush persists keys of keyless rows");
    let c2 = env.connector("Book.xlsx", "");
    let d = list(&c2, "People").await;
    assert_eq!(a.iter().map(|r| &r.id).collect::<Vec<_>>(), d.iter().map(|r| &r.id).collect::<Vec<_>>(), "a fresh process sees the persisted keys");
    let after = std::fs::read(&path).unwrap();
    c2.flush().await.unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), after, "once keys are stored, a quiet flush writes nothing");
}

#[tokio::test]
async fn lock_files_hold_writes_back() {
    for lock in ["~$Book.xlsx", ".~lock.Book.xlsx#"] {
        let env = Env::new();
        let path = env.path("Book.xlsx");
        let c = env.connector("Book.xlsx", SETTINGS);
        c.create("Companies", vec![f(&[("name", Value::text("Acme"))])]).await.unwrap();
        c.flush().await.unwrap();
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(env.path(lock), "owner").unwrap();
        match c.ready_to_write().await {
            Err(ConnectorError::Locked(m)) => assert!(m.contains("waiting for Book.xlsx to be closed"), "says what we wait for: {m}"),
            other => panic!("{lock} must lock the workbook, got {other:?}"),
        }
        assert!(!list(&c, "Companies").await.is_empty(), "reading an open workbook is fine");
        c.create("Companies", vec![f(&[("name", Value::text("Globex"))])]).await.unwrap();
        assert!(matches!(c.flush().await, Err(ConnectorError::Locked(_))), "flush checks the lock again");
        assert_eq!(std::fs::read(&path).unwrap(), bytes, "nothing is written while {lock} exists");
        std::fs::remove_file(env.path(lock)).unwrap();
        c.ready_to_write().await.unwrap();
        c.flush().await.unwrap();
        assert_eq!(list(&c, "Companies").await.len(), 2, "queued changes land once the lock is gone");
    }
}

#[tokio::test]
async fn example_connection_settings_load() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/workbook/connection.toml")).unwrap();
    let def: crosswalk_core::config::ConnectionDef = toml::from_str(&text).expect("the example parses as a connection");
    let env = Env::new();
    let ctx = crosswalk_connectors::BuildContext { base_dir: env.dir.path().into(), data_dir: env.data.path().into(), secret: None };
    let c = crosswalk_connectors::build("book", &def, &ctx).expect("the shipped example settings are valid");
    assert_eq!(c.kind(), "workbook");
    let caps = c.capabilities();
    assert!(caps.buffered_writes && caps.deletes_visible && !caps.incremental, "a workbook is read whole and written at flush");
    let schema = c.describe().await.unwrap();
    assert_eq!(schema[0].field("revenue").unwrap().field_type, FieldType::Decimal, "declared types show in describe");
}

/// Regression: rows appended by a write-back (and a sheet added to an existing workbook)
/// were left outside the autofilter, so the user's filter didn't see them.
#[tokio::test]
async fn appended_rows_stay_inside_the_filter() {
    let env = Env::new();
    let path = env.path("Book.xlsx");
    let c = env.connector("Book.xlsx", &format!("{SETTINGS}\n[sheets.People]\ncolumns = [\"id\", \"name\"]\n"));
    c.create("Companies", vec![f(&[("name", Value::text("A"))]), f(&[("name", Value::text("B"))])]).await.unwrap();
    c.flush().await.unwrap();
    let filter_ref = |sheet_part: &str| -> String {
        let xml = String::from_utf8(parts(&path)[sheet_part].0.clone()).unwrap();
        let at = xml.find("<autoFilter").expect("the sheet has a filter");
        let rest = &xml[at..];
        let r = rest.find("ref=\"").unwrap() + 5;
        rest[r..r + rest[r..].find('"').unwrap()].to_string()
    };
    assert_eq!(filter_ref("xl/worksheets/sheet1.xml"), "A1:D3", "a new sheet's filter covers header and rows");
    c.create("Companies", vec![f(&[("name", Value::text("C"))]), f(&[("name", Value::text("D"))])]).await.unwrap();
    c.create("People", vec![f(&[("name", Value::text("P1"))]), f(&[("name", Value::text("P2"))]), f(&[("name", Value::text("P3"))])]).await.unwrap();
    c.flush().await.unwrap();
    assert_eq!(filter_ref("xl/worksheets/sheet1.xml"), "A1:D5", "appended rows are inside the filter");
    let people = parts(&path).keys().filter(|k| k.starts_with("xl/worksheets/sheet") && *k != "xl/worksheets/sheet1.xml").cloned().next().unwrap();
    assert_eq!(filter_ref(&people), "A1:B4", "a sheet added to an existing workbook filters all its rows");
}
