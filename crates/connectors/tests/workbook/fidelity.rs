//! Write-back loses nothing: untouched zip parts stay byte-identical, and an independent
//! reader (openpyxl) sees every other cell, style, formula and sheet unchanged.

use std::collections::BTreeSet;
use std::path::Path;

use crosswalk_core::{ConnectorError, Fields, RecordPatch, Value};
use rust_xlsxwriter::{Color, DataValidation, Format, Formula, Note, Workbook};

use super::support::*;

/// A workbook with formulas, styles, two extra sheets, notes, defined names, validation,
/// merged cells and frozen panes.
pub fn rich_workbook(path: &Path) {
    let mut wb = Workbook::new();
    let bold = Format::new().set_bold().set_background_color(Color::RGB(0xFFE699));
    let money = Format::new().set_num_format("#,##0.00 [$€-x-euro2]");
    let fill = Format::new().set_background_color(Color::RGB(0xC6EFCE)).set_italic();
    let ws = wb.add_worksheet().set_name("Companies").unwrap();
    for (c, h) in ["id", "name", "city", "revenue", "tax"].iter().enumerate() {
        ws.write_string_with_format(0, c as u16, *h, &bold).unwrap();
    }
    let rows = [("C001", "Acme", "Delft", 1000.0), ("C002", "Globex", "Leiden", 2500.5), ("C003", "Initech", "Gouda", 300.0), ("C004", "Umbrella", "Delft", 42.0), ("C005", "Hooli", "Breda", 7.25)];
    for (i, (id, name, city, rev)) in rows.iter().enumerate() {
        let r = i as u32 + 1;
        ws.write_string(r, 0, *id).unwrap();
        ws.write_string_with_format(r, 1, *name, &fill).unwrap();
        ws.write_string(r, 2, *city).unwrap();
        ws.write_number_with_format(r, 3, *rev, &money).unwrap();
        ws.write_formula_with_format(r, 4, Formula::new(format!("=D{}*Rates!$B$2", r + 1)).set_result(format!("{}", rev * 0.21)), &money).unwrap();
    }
    ws.set_freeze_panes(1, 0).unwrap();
    ws.set_column_width(1, 24).unwrap();
    ws.insert_note(0, 3, &Note::new("Revenue in euros, excl. VAT").set_author("Ann")).unwrap();
    let dv = DataValidation::new().allow_list_strings(&["Delft", "Leiden", "Gouda", "Breda", "Utrecht"]).unwrap();
    ws.add_data_validation(1, 2, 200, 2, &dv).unwrap();
    let rates = wb.add_worksheet().set_name("Rates").unwrap();
    rates.write_string_with_format(0, 0, "kind", &bold).unwrap();
    rates.write_string_with_format(0, 1, "rate", &bold).unwrap();
    rates.write_string(1, 0, "VAT").unwrap();
    rates.write_number(1, 1, 0.21).unwrap();
    rates.write_string(2, 0, "Total revenue").unwrap();
    rates.write_formula(2, 1, Formula::new("=SUM(Companies!D2:D6)").set_result("3849.75")).unwrap();
    let notes = wb.add_worksheet().set_name("Notes").unwrap();
    notes.merge_range(0, 0, 1, 3, "Quarterly notes (merged)", &bold).unwrap();
    notes.write_string(3, 0, "Keep this sheet as it is").unwrap();
    notes.insert_note(3, 0, &Note::new("A note on another sheet").set_author("Bob")).unwrap();
    notes.set_freeze_panes(2, 1).unwrap();
    wb.define_name("VatRate", "=Rates!$B$2").unwrap();
    wb.define_name("Companies!Cities", "=Companies!$C$2:$C$6").unwrap();
    wb.save(path).unwrap();
}

const CHECK: &str = r#"
import json, sys, openpyxl
from copy import copy
before_path, after_path, skip_json, key_col = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
skip = {tuple(x) for x in json.loads(skip_json)}
a = openpyxl.load_workbook(before_path)
b = openpyxl.load_workbook(after_path)
errs = []
if a.sheetnames != b.sheetnames: errs.append(f"sheets {a.sheetnames} -> {b.sheetnames}")
if sorted(a.defined_names.keys()) != sorted(b.defined_names.keys()): errs.append("workbook defined names differ")
for name in a.sheetnames:
    wa, wb = a[name], b[name]
    if wa.freeze_panes != wb.freeze_panes: errs.append(f"{name}: freeze panes {wa.freeze_panes} -> {wb.freeze_panes}")
    if sorted(map(str, wa.merged_cells.ranges)) != sorted(map(str, wb.merged_cells.ranges)): errs.append(f"{name}: merged cells differ")
    if [str(d.sqref) for d in wa.data_validations.dataValidation] != [str(d.sqref) for d in wb.data_validations.dataValidation]: errs.append(f"{name}: validation differs")
    if sorted(wa.defined_names.keys()) != sorted(wb.defined_names.keys()): errs.append(f"{name}: sheet defined names differ")
    for col, dim in wa.column_dimensions.items():
        if dim.width != wb.column_dimensions[col].width: errs.append(f"{name}: width of {col} differs")
    for row in wa.iter_rows():
        for c in row:
            if name == "Companies" and ((c.row, c.column) in skip or c.column_letter == key_col): continue
            d = wb[c.coordinate]
            for attr in ("value", "number_format", "data_type"):
                if getattr(c, attr) != getattr(d, attr): errs.append(f"{name}!{c.coordinate}: {attr} {getattr(c, attr)!r} -> {getattr(d, attr)!r}")
            if any(copy(getattr(c, k)) != copy(getattr(d, k)) for k in ("font", "fill", "border", "alignment", "protection")): errs.append(f"{name}!{c.coordinate}: style differs")
            if (c.comment and c.comment.text) != (d.comment and d.comment.text): errs.append(f"{name}!{c.coordinate}: comment differs")
print("\n".join(errs))
sys.exit(1 if errs else 0)
"#;

#[tokio::test]
async fn write_back_changes_only_what_changed() {
    let env = Env::new();
    let path = env.path("Book.xlsx");
    rich_workbook(&path);
    let before = env.path("before.xlsx");
    std::fs::copy(&path, &before).unwrap();
    let before_parts = parts(&path);
    let c = env.connector("Book.xlsx", "[sheets.Companies]\nid_columns = [\"id\"]\n");

    let recs = list(&c, "Companies").await;
    assert_eq!(recs.len(), 5, "five data rows under the header");
    let by_id = |id: &str| recs.iter().find(|r| r.get("id") == &Value::text(id)).unwrap().id.clone();
    let patch = |id: String, f: &str, v: Value| RecordPatch { id, fields: Fields::from([(f.to_string(), v)]) };
    let res = c
        .update(
            "Companies",
            vec![
                patch(by_id("C001"), "name", Value::text("Acme Corp")),
                patch(by_id("C002"), "city", Value::text("Utrecht")),
                patch(by_id("C003"), "revenue", Value::Int(333)),
                patch(by_id("C004"), "tax", Value::Int(1)),
            ],
        )
        .await
        .unwrap();
    assert!(res[..3].iter().all(Result::is_ok), "plain cells can be updated: {res:?}");
    match &res[3] {
        Err(ConnectorError::Invalid(m)) => assert!(m.contains("Companies!E5") && m.contains("formula"), "a change aimed at a formula names the cell: {m}"),
        other => panic!("a change aimed at a formula cell must be refused, got {other:?}"),
    }
    let new_rows = vec![
        Fields::from([("id".to_string(), Value::text("0000000000000000042")), ("name".into(), Value::text("Stark")), ("city".into(), Value::text("Delft"))]),
        Fields::from([("id".to_string(), Value::text("C007")), ("name".into(), Value::text("Wayne")), ("revenue".into(), Value::Int(9))]),
    ];
    let created = c.create("Companies", new_rows).await.unwrap();
    assert!(created.iter().all(Result::is_ok), "creates are queued");
    c.flush().await.expect("flush writes the workbook");

    let after_parts = parts(&path);
    let changed: BTreeSet<&String> = after_parts.keys().filter(|k| before_parts.get(*k) != after_parts.get(*k)).collect();
    assert_eq!(
        changed.into_iter().cloned().collect::<Vec<_>>(),
        vec!["xl/worksheets/sheet1.xml".to_string()],
        "only the Companies sheet part may change; every other part (styles, shared strings, other sheets, comments, workbook) must be byte-identical, compressed bytes included"
    );
    assert_eq!(before_parts.keys().collect::<Vec<_>>(), after_parts.keys().collect::<Vec<_>>(), "no zip entry may appear or vanish");

    let again = list(&c, "Companies").await;
    assert_eq!(again.len(), 7, "5 rows + 2 appended");
    for r in &recs {
        assert!(again.iter().any(|a| a.id == r.id), "row keys handed out before the flush are persisted by it");
    }
    let get = |id: &str| again.iter().find(|r| r.get("id") == &Value::text(id)).unwrap();
    assert_eq!(get("C001").get("name"), &Value::text("Acme Corp"), "update landed");
    assert_eq!(get("C002").get("city"), &Value::text("Utrecht"), "update landed");
    assert_eq!(get("C003").get("revenue"), &Value::Int(333), "numeric update landed as a number");
    assert_eq!(get("0000000000000000042").get("name"), &Value::text("Stark"), "19-digit id with leading zeros survives as text");
    assert_eq!(get("C004").get("tax"), &Value::Float(crosswalk_core::value::Float(42.0 * 0.21)), "formula cell kept its cached value: it was not overwritten");

    // Flushing again with nothing queued must not touch the file.
    let mtime = std::fs::metadata(&path).unwrap().modified().unwrap();
    let bytes = std::fs::read(&path).unwrap();
    c.flush().await.unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), bytes, "a quiet flush makes zero writes");
    assert_eq!(std::fs::metadata(&path).unwrap().modified().unwrap(), mtime, "a quiet flush doesn't even touch the file");

    if openpyxl_or_skip("the fidelity test") {
        // Changed cells (row, column) 1-based: B2, C3, D4.
        let skip = "[[2,2],[3,3],[4,4]]";
        let out = std::process::Command::new("python3").args(["-c", CHECK, before.to_str().unwrap(), path.to_str().unwrap(), skip, "F"]).output().unwrap();
        assert!(
            out.status.success(),
            "openpyxl must see every other cell, style, formula and sheet unchanged:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
