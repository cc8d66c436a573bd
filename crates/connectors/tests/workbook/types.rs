//! Value types: 1900 and 1904 dates, ids as text, leading zeros, booleans, formulas.

use std::io::{Read, Write};

use chrono::NaiveDate;
use crosswalk_core::{Fields, RecordPatch, Value};
use rust_xlsxwriter::{ExcelDateTime, Format, Formula, Workbook};

use super::support::*;

fn typed_workbook(path: &std::path::Path) {
    let mut wb = Workbook::new();
    let date = Format::new().set_num_format("yyyy-mm-dd");
    let ws = wb.add_worksheet().set_name("T").unwrap();
    for (c, h) in ["id", "postcode", "when", "active", "total", "stamp"].iter().enumerate() {
        ws.write_string(0, c as u16, *h).unwrap();
    }
    ws.write_string(1, 0, "1234567890123456789").unwrap();
    ws.write_string(1, 1, "01234").unwrap();
    ws.write_datetime_with_format(1, 2, ExcelDateTime::from_ymd(2024, 3, 1).unwrap(), &date).unwrap();
    ws.write_boolean(1, 3, true).unwrap();
    ws.write_number(1, 4, 2.0).unwrap();
    ws.write_formula(1, 5, Formula::new("=E2*21").set_result("42")).unwrap();
    ws.write_string(2, 0, "2").unwrap();
    ws.write_boolean(2, 3, false).unwrap();
    wb.save(path).unwrap();
}

#[tokio::test]
async fn types_read_as_users_mean_them() {
    let env = Env::new();
    typed_workbook(&env.path("Book.xlsx"));
    let c = env.connector("Book.xlsx", "[sheets.T]\nid_columns = [\"id\"]\ndate_columns = [\"when\"]\n");
    let recs = list(&c, "T").await;
    let r = &recs[0];
    assert_eq!(r.get("id"), &Value::text("1234567890123456789"), "a 19-digit id stays exact text");
    assert_eq!(r.get("postcode"), &Value::text("01234"), "a postcode keeps its leading zero");
    assert_eq!(r.get("when"), &Value::Date(NaiveDate::from_ymd_opt(2024, 3, 1).unwrap()), "a date cell is a date");
    assert_eq!(r.get("active"), &Value::Bool(true), "a boolean cell is a bool");
    assert_eq!(recs[1].get("active"), &Value::Bool(false), "false is a value, not empty");
    assert_eq!(r.get("stamp"), &Value::Int(42), "a formula cell gives its cached value");
    assert!(r.updated_at.is_some(), "updated_at is the file's modification time");

    // Round trip through write-back.
    let p = |f: &str, v: Value| RecordPatch { id: r.id.clone(), fields: Fields::from([(f.to_string(), v)]) };
    let res = c
        .update("T", vec![p("id", Value::Int(9876543210987654)), p("postcode", Value::text("00123")), p("when", Value::Date(NaiveDate::from_ymd_opt(1999, 12, 31).unwrap())), p("active", Value::Bool(false))])
        .await
        .unwrap();
    assert!(res.iter().all(Result::is_ok), "plain updates: {res:?}");
    c.flush().await.unwrap();
    let r = list(&c, "T").await.into_iter().find(|x| x.id == r.id).unwrap();
    assert_eq!(r.get("id"), &Value::text("9876543210987654"), "ids are written as text");
    assert_eq!(r.get("postcode"), &Value::text("00123"), "leading zeros survive a write-back");
    assert_eq!(r.get("when"), &Value::Date(NaiveDate::from_ymd_opt(1999, 12, 31).unwrap()), "a date written back is a real date (date style kept)");
    assert_eq!(r.get("active"), &Value::Bool(false), "booleans round-trip");
}

/// Rewrites `xl/workbook.xml` of a workbook so it uses the 1904 date system.
fn make_1904(path: &std::path::Path) {
    let bytes = std::fs::read(path).unwrap();
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for i in 0..zip.len() {
        let mut f = zip.by_index(i).unwrap();
        let name = f.name().to_string();
        let mut data = vec![];
        f.read_to_end(&mut data).unwrap();
        if name == "xl/workbook.xml" {
            let s = String::from_utf8(data).unwrap().replace("<workbookPr ", "<workbookPr date1904=\"1\" ");
            assert!(s.contains("date1904"), "the test must really switch the date system");
            data = s.into_bytes();
        }
        w.start_file(name, zip::write::SimpleFileOptions::default()).unwrap();
        w.write_all(&data).unwrap();
    }
    std::fs::write(path, w.finish().unwrap().into_inner()).unwrap();
}

#[tokio::test]
async fn dates_in_the_1904_system() {
    let env = Env::new();
    let path = env.path("Book.xlsx");
    let mut wb = Workbook::new();
    let date = Format::new().set_num_format("yyyy-mm-dd");
    let ws = wb.add_worksheet().set_name("T").unwrap();
    ws.write_string(0, 0, "when").unwrap();
    ws.write_string(0, 1, "serial").unwrap();
    // 2024-03-01 is serial 45352 in 1900 and 43890 in 1904.
    ws.write_number_with_format(1, 0, 43890.0, &date).unwrap();
    ws.write_number(1, 1, 43890.0).unwrap();
    wb.save(&path).unwrap();
    make_1904(&path);
    let c = env.connector("Book.xlsx", "[sheets.T]\ndate_columns = [\"serial\"]\n");
    let r = list(&c, "T").await.remove(0);
    let want = Value::Date(NaiveDate::from_ymd_opt(2024, 3, 1).unwrap());
    assert_eq!(r.get("when"), &want, "a date cell in a 1904 workbook is read in the 1904 system");
    assert_eq!(r.get("serial"), &want, "a plain serial in a declared date column is read in the 1904 system");
    let p = RecordPatch { id: r.id.clone(), fields: Fields::from([("when".to_string(), Value::Date(NaiveDate::from_ymd_opt(2000, 1, 2).unwrap()))]) };
    c.update("T", vec![p]).await.unwrap();
    c.flush().await.unwrap();
    let r = list(&c, "T").await.remove(0);
    assert_eq!(r.get("when"), &Value::Date(NaiveDate::from_ymd_opt(2000, 1, 2).unwrap()), "a date written into a 1904 workbook uses the 1904 serial");
}
