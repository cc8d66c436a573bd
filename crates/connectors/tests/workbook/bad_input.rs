//! Bad input gives an error naming the sheet, row and column and what to do, and nothing
//! is written.

use crosswalk_core::{ConnectorError, Fields, ListRequest, Value};

use super::support::*;

fn small(path: &std::path::Path, header: &[&str], rows: &[&[&str]]) {
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet().set_name("Companies").unwrap();
    for (c, h) in header.iter().enumerate() {
        ws.write_string(0, c as u16, *h).unwrap();
    }
    for (r, row) in rows.iter().enumerate() {
        for (c, v) in row.iter().enumerate() {
            ws.write_string(r as u32 + 1, c as u16, *v).unwrap();
        }
    }
    wb.add_worksheet().set_name("Other").unwrap();
    wb.save(path).unwrap();
}

/// Lists, then tries to write; both must fail with a message holding every `needle`, and
/// the file must be unchanged.
async fn assert_rejected(env: &Env, extra: &str, object: &str, needles: &[&str]) {
    rejected(env, extra, object, needles, true).await
}

async fn rejected(env: &Env, extra: &str, object: &str, needles: &[&str], try_write: bool) {
    let path = env.path("Book.xlsx");
    let before = std::fs::read(&path).unwrap();
    let c = env.connector("Book.xlsx", extra);
    let err = c.list(ListRequest { object: object.into(), ..Default::default() }).await.expect_err("bad input must not list");
    let msg = match &err {
        ConnectorError::Invalid(m) => m.clone(),
        other => panic!("bad input is Invalid, got {other:?}"),
    };
    for n in needles {
        assert!(msg.contains(n), "the message must name {n:?} so the user can find the problem: {msg}");
    }
    if try_write {
        c.create(object, vec![Fields::from([("name".to_string(), Value::text("x"))])]).await.ok();
        assert!(c.flush().await.is_err(), "flush must refuse to write into a bad workbook");
    } else {
        c.flush().await.expect("a flush with nothing queued is fine");
    }
    assert_eq!(std::fs::read(&path).unwrap(), before, "nothing may be written: {msg}");
    assert!(!env.path("Book.xlsx.tmp").exists(), "no temp file is left behind");
}

#[tokio::test]
async fn corrupt_zip() {
    let env = Env::new();
    let mut bytes = b"PK\x03\x04".to_vec();
    bytes.extend(std::iter::repeat_n(7u8, 300));
    std::fs::write(env.path("Book.xlsx"), bytes).unwrap();
    assert_rejected(&env, "", "Companies", &["Book.xlsx", "damaged", "restore"]).await;
}

#[tokio::test]
async fn password_protected() {
    let env = Env::new();
    let mut bytes = vec![0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];
    bytes.extend(std::iter::repeat_n(0u8, 1000));
    std::fs::write(env.path("Book.xlsx"), bytes).unwrap();
    assert_rejected(&env, "", "Companies", &["Book.xlsx", "password", "Remove the password"]).await;
}

#[tokio::test]
async fn csv_renamed_xlsx() {
    let env = Env::new();
    std::fs::write(env.path("Book.xlsx"), "id,name\n1,Acme\n").unwrap();
    assert_rejected(&env, "", "Companies", &["Book.xlsx", "CSV", "save it as"]).await;
}

#[tokio::test]
async fn missing_sheet_lists_the_sheets_there_are() {
    let env = Env::new();
    small(&env.path("Book.xlsx"), &["id", "name"], &[&["1", "Acme"]]);
    rejected(&env, "", "Customers", &["\"Customers\"", "Companies, Other"], false).await;
}

#[tokio::test]
async fn renamed_header() {
    let env = Env::new();
    small(&env.path("Book.xlsx"), &["id", "name", "town"], &[&["1", "Acme", "Delft"]]);
    assert_rejected(&env, "[sheets.Companies]\ncolumns = [\"id\", \"name\", \"city\"]\n", "Companies", &["\"Companies\"", "row 1", "\"city\"", "found: id, name, town"]).await;
}

#[tokio::test]
async fn duplicate_row_keys() {
    let env = Env::new();
    small(&env.path("Book.xlsx"), &["id", "name", "crosswalk_key"], &[&["1", "Acme", "k1"], &["2", "Globex", "k1"]]);
    assert_rejected(&env, "", "Companies", &["\"Companies\"", "rows 2 and 3", "crosswalk_key", "C3"]).await;
}

#[tokio::test]
async fn duplicate_ids() {
    let env = Env::new();
    small(&env.path("Book.xlsx"), &["id", "name"], &[&["7", "Acme"], &["8", "Globex"], &["7", "Initech"]]);
    assert_rejected(&env, "[sheets.Companies]\nid_columns = [\"id\"]\n", "Companies", &["\"Companies\"", "column \"id\"", "rows 2 and 4"]).await;
}

#[tokio::test]
async fn text_in_number_column() {
    let env = Env::new();
    small(&env.path("Book.xlsx"), &["id", "revenue"], &[&["1", "100"], &["2", "lots"]]);
    assert_rejected(&env, "[sheets.Companies.types]\nrevenue = \"decimal\"\n", "Companies", &["\"Companies\"", "B3", "row 3", "\"revenue\"", "decimal"]).await;
}

#[tokio::test]
async fn read_only_formats_refuse_writes() {
    let env = Env::new();
    let c = env.connector("Book.ods", "");
    let err = c.create("Sheet1", vec![Fields::new()]).await.expect_err(".ods is read-only");
    assert!(err.to_string().contains("read-only") && err.to_string().contains(".xlsx"), "the error says why and what to do: {err}");
}
