//! Unit tests: the fast reader agrees with calamine; cell XML; references; settings.

use std::collections::BTreeMap;
use std::io::Cursor;

use calamine::Reader;
use crosswalk_core::Value;
use rust_xlsxwriter::{Format, Formula, Workbook};

use super::fastread::{for_each_cell, unescape};
use super::read::{cell_ref, cell_value, col_letters};
use super::sheetxml::{edit_sheet, parse_ref, SheetEdits};
use super::write::{write_back, WritePlan};

fn calamine_cells(bytes: &[u8], sheet: &str) -> BTreeMap<(u32, u32), Value> {
    let mut wb = calamine::open_workbook_auto_from_rs(Cursor::new(bytes)).unwrap();
    let range = wb.worksheet_range(sheet).unwrap();
    let (r0, c0) = range.start().unwrap_or((0, 0));
    range
        .used_cells()
        .map(|(r, c, d)| ((r0 + r as u32, c0 + c as u32), cell_value(d)))
        .filter(|(_, v)| !v.is_null())
        .collect()
}

fn fast_cells(bytes: &[u8], sheet: &str) -> BTreeMap<(u32, u32), Value> {
    let mut out = BTreeMap::new();
    let found = for_each_cell(bytes, sheet, false, |r, c, v| {
        out.insert((r, c), v);
        Ok(())
    })
    .expect("the fast reader understands this sheet")
    .unwrap();
    assert!(found, "sheet exists");
    out
}

fn varied_workbook() -> Vec<u8> {
    let mut wb = Workbook::new();
    let date = Format::new().set_num_format("dd/mm/yyyy");
    let ws = wb.add_worksheet().set_name("Mixed & <odd>").unwrap();
    ws.write_string(0, 0, "text & <tags> \"quoted\"").unwrap();
    ws.write_string(0, 1, "00123").unwrap();
    ws.write_number(0, 2, 1.5).unwrap();
    ws.write_number(0, 3, 12345678901.0).unwrap();
    ws.write_boolean(0, 4, true).unwrap();
    ws.write_number_with_format(1, 0, 45352.0, &date).unwrap();
    ws.write_number_with_format(1, 1, 45352.5, &date).unwrap();
    ws.write_formula(1, 2, Formula::new("=\"a\"&\"b\"").set_result("ab")).unwrap();
    ws.write_formula(1, 3, Formula::new("=1+1").set_result("2")).unwrap();
    ws.write_string(2, 5, "ünïcödé ✓").unwrap();
    ws.write_string(40, 27, "far away").unwrap();
    ws.write_string(3, 0, "line\nbreak").unwrap();
    wb.save_to_buffer().unwrap()
}

#[test]
fn fast_reader_agrees_with_calamine() {
    let bytes = varied_workbook();
    let sheet = "Mixed & <odd>";
    assert_eq!(fast_cells(&bytes, sheet), calamine_cells(&bytes, sheet), "both readers must see the same cells");
    // And after a write-back with inline strings.
    let mut ed = SheetEdits::default();
    ed.set(0, 1, Value::text("<new> & text"), false);
    ed.set(50, 0, Value::Int(7), false);
    ed.set(50, 1, Value::Bool(false), false);
    let plan = WritePlan { sheets: BTreeMap::from([(sheet.to_string(), ed)]), new_sheets: vec![] };
    let out = write_back("t.xlsx", &bytes, &plan, false).unwrap();
    let fast = fast_cells(&out.bytes, sheet);
    assert_eq!(fast, calamine_cells(&out.bytes, sheet), "both readers agree on inline strings we wrote");
    assert_eq!(fast.get(&(0, 1)), Some(&Value::text("<new> & text")), "escaped text round-trips");
}

#[test]
fn unescape_handles_entities_and_excel_escapes() {
    assert_eq!(unescape(b"a &amp; b &lt;c&gt; &#65;&#x42;").unwrap(), "a & b <c> AB");
    assert_eq!(unescape(b"tab_x0009_here").unwrap(), "tab\there", "Excel writes control characters as _xHHHH_");
}

#[test]
fn cell_references() {
    assert_eq!(col_letters(0), "A");
    assert_eq!(col_letters(25), "Z");
    assert_eq!(col_letters(26), "AA");
    assert_eq!(col_letters(701), "ZZ");
    assert_eq!(col_letters(702), "AAA");
    assert_eq!(cell_ref(2, 4), "C5");
    assert_eq!(parse_ref("AB12"), Some((27, 11)), "parse_ref inverts cell_ref");
    assert_eq!(parse_ref("12"), None);
}

#[test]
fn untouched_rows_are_copied_byte_for_byte() {
    let xml = br#"<worksheet xmlns="m"><dimension ref="A1:B2"/><sheetData><row r="1" spans="1:2"><c r="A1" t="s"><v>0</v></c></row><row r="2"><c r="A2" s="3"><f>1+1</f><v>2</v></c><c r="B2"><v>5</v></c></row></sheetData></worksheet>"#;
    let mut ed = SheetEdits::default();
    ed.set(1, 0, Value::Int(9), false);
    ed.set(1, 1, Value::Int(6), false);
    ed.set(3, 0, Value::text("new"), false);
    let out = edit_sheet(xml, &ed, &Default::default(), false).unwrap();
    let s = String::from_utf8(out.xml).unwrap();
    assert!(s.contains(r#"<row r="1" spans="1:2"><c r="A1" t="s"><v>0</v></c></row>"#), "a row without edits is copied as it was: {s}");
    assert!(s.contains(r#"<c r="A2" s="3"><f>1+1</f><v>2</v></c>"#), "a formula cell is never overwritten: {s}");
    assert_eq!(out.formula_cells, vec![(1, 0)], "the refused formula cell is reported");
    assert!(s.contains(r#"<c r="B2"><v>6</v></c>"#), "a plain cell is changed: {s}");
    assert!(s.contains(r#"<row r="4"><c r="A4" s="3" t="inlineStr"><is><t xml:space="preserve">new</t></is></c></row></sheetData>"#), "a new row is appended in order, styled like the row above: {s}");
    assert!(s.contains(r#"<dimension ref="A1:B4"/>"#), "the dimension grows: {s}");
}

#[test]
fn settings_name_the_bad_key() {
    let ctx = crate::BuildContext::default();
    let bad = |t: &str| super::config::parse("b", &toml::from_str(t).unwrap(), &ctx).unwrap_err();
    assert_eq!(bad("header_row = 1").key, "path");
    assert_eq!(bad("path = \"a.csv\"").key, "path");
    assert_eq!(bad("path = \"a.xlsx\"\nheader_row = 0").key, "header_row");
    assert_eq!(bad("path = \"a.xlsx\"\non_delete = \"shred\"").key, "on_delete");
    assert_eq!(bad("path = \"a.xlsx\"\n[sheets.S]\ncolums = []").key, "sheets.S.colums");
    assert_eq!(bad("path = \"a.xlsx\"\n[sheets.S.types]\nx = \"money\"").key, "sheets.S.types.x");
    let ok = super::config::parse("b", &toml::from_str("path = \"a.xlsx\"\n[sheets.S]\ncolumns = [\"id\"]\nid_columns = [\"id\"]").unwrap(), &ctx).unwrap();
    assert_eq!(ok.header_row, 1, "header_row defaults to 1");
}
