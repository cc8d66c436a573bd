//! Reading a workbook with `calamine`: file-kind checks, one sheet into rows of raw
//! [`Value`]s, header and key validation.
//!
//! Invariants: text cells stay text (leading zeros, 19-digit ids); numbers that are whole
//! become `Int`; date cells (1900 and 1904 systems) become `Date` (or `DateTime` when they
//! carry a time); formula cells give their cached value. Every error names the file,
//! sheet, cell and what to do, and is a [`ConnectorError::Invalid`].

use std::collections::{BTreeMap, HashMap};
use std::io::{Cursor, Read};

use calamine::{Data, Range, Reader};
use chrono::{NaiveDate, TimeZone, Timelike, Utc};
use crosswalk_core::value::stable_hash;
use crosswalk_core::{canonicalize, ConnectorError, FieldType, Fields, Value};

use super::config::{SheetConfig, KEY_HEADER};

/// One data row of a sheet.
#[derive(Clone, Debug, PartialEq)]
pub struct RowData {
    /// 0-based sheet row.
    pub row: u32,
    /// Our stable key from the hidden column, when the row has one.
    pub key: Option<String>,
    /// Header name → raw value (`Null` for empty cells).
    pub fields: Fields,
}

impl RowData {
    /// What a keyless row's remembered key is tied to: its content.
    pub fn content_hash(&self) -> String {
        stable_hash(&self.fields)
    }
}

/// One sheet as read.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SheetData {
    pub name: String,
    /// (0-based column, header name) of the user's columns, in column order.
    pub headers: Vec<(u32, String)>,
    /// 0-based column of the hidden key column.
    pub key_col: Option<u32>,
    pub rows: Vec<RowData>,
    /// 0-based index of the last row holding anything (None: empty sheet).
    pub last_row: Option<u32>,
    /// Whether the header row holds anything.
    pub has_header: bool,
    /// 0-based index of the last column holding anything, our key column aside.
    pub last_used_col: Option<u32>,
}

impl SheetData {
    pub fn column_of(&self, header: &str) -> Option<u32> {
        self.headers.iter().find(|(_, h)| h == header).map(|(c, _)| *c)
    }
    /// The column after the last user column.
    pub fn next_user_col(&self) -> u32 {
        self.headers.iter().map(|(c, _)| c + 1).max().unwrap_or(0)
    }
}

/// `0 → A`, `27 → AB`.
pub fn col_letters(mut col: u32) -> String {
    let mut s = Vec::new();
    loop {
        s.push(b'A' + (col % 26) as u8);
        if col < 26 {
            break;
        }
        col = col / 26 - 1;
    }
    s.reverse();
    String::from_utf8(s).unwrap_or_default()
}

/// `(col 2, row 4)` (0-based) → `C5`.
pub fn cell_ref(col: u32, row: u32) -> String {
    format!("{}{}", col_letters(col), row + 1)
}

fn invalid(msg: String) -> ConnectorError {
    ConnectorError::Invalid(msg)
}

/// Checks the bytes are a workbook of a kind we read, with a message a user can act on.
pub fn check_kind(file: &str, bytes: &[u8], read_only_format: bool) -> Result<(), ConnectorError> {
    if bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(b"PK\x05\x06") {
        return zip::ZipArchive::new(Cursor::new(bytes)).map(|_| ()).map_err(|e| {
            invalid(format!("{file} is damaged: it is not a readable zip ({e}). Restore it from a backup or `crosswalk restore`, then sync again"))
        });
    }
    if bytes.starts_with(&[0xD0, 0xCF, 0x11, 0xE0]) {
        if read_only_format {
            return Ok(());
        }
        return Err(invalid(format!(
            "{file} is password-protected (encrypted); Crosswalk can't read it. Remove the password in Excel (File > Info > Protect Workbook) and save again"
        )));
    }
    if bytes.is_empty() {
        return Err(invalid(format!("{file} is empty (0 bytes); restore it or delete it so Crosswalk creates a new one")));
    }
    let head = &bytes[..bytes.len().min(512)];
    if std::str::from_utf8(head).is_ok() || head.iter().all(|b| b.is_ascii()) {
        return Err(invalid(format!(
            "{file} is not a workbook: it holds plain text (a CSV file renamed to .xlsx?). Open it in Excel or LibreOffice and save it as an Excel workbook (.xlsx)"
        )));
    }
    Err(invalid(format!("{file} is not a workbook Crosswalk can read (unknown file format); save it as .xlsx")))
}

/// Whether the workbook counts dates from 1904 (old Mac Excel).
pub fn is_1904(bytes: &[u8]) -> bool {
    let Ok(mut zip) = zip::ZipArchive::new(Cursor::new(bytes)) else { return false };
    let Ok(mut part) = zip.by_name("xl/workbook.xml") else { return false };
    let mut xml = String::new();
    if part.read_to_string(&mut xml).is_err() {
        return false;
    }
    xml.contains("date1904=\"1\"") || xml.contains("date1904=\"true\"") || xml.contains("date1904='1'")
}

/// An Excel serial number as a date (or date-time) in the workbook's date system.
pub fn serial_to_value(serial: f64, date1904: bool) -> Option<Value> {
    let dt = calamine::ExcelDateTime::new(serial, calamine::ExcelDateTimeType::DateTime, date1904).as_datetime()?;
    Some(naive_to_value(dt))
}

fn naive_to_value(dt: chrono::NaiveDateTime) -> Value {
    // Round to whole seconds: serials carry float noise.
    let secs = (dt.and_utc().timestamp_millis() as f64 / 1000.0).round() as i64;
    let dt = Utc.timestamp_opt(secs, 0).single().map(|t| t.naive_utc()).unwrap_or(dt);
    if dt.num_seconds_from_midnight() == 0 {
        Value::Date(dt.date())
    } else {
        Value::DateTime(Utc.from_utc_datetime(&dt))
    }
}

/// A cell as a raw value.
pub fn cell_value(d: &Data) -> Value {
    match d {
        Data::Int(i) => Value::Int(*i),
        Data::Float(f) => {
            if f.fract() == 0.0 && f.abs() < 1e15 {
                Value::Int(*f as i64)
            } else {
                Value::Float(crosswalk_core::value::Float(*f))
            }
        }
        Data::String(s) if s.is_empty() => Value::Null,
        Data::String(s) => Value::Text(s.clone()),
        Data::Bool(b) => Value::Bool(*b),
        Data::DateTime(dt) if dt.is_datetime() => dt.as_datetime().map(naive_to_value).unwrap_or(Value::Null),
        Data::DateTime(dt) => Value::Float(crosswalk_core::value::Float(dt.as_f64())),
        Data::DateTimeIso(s) => {
            if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
                Value::Date(d)
            } else if let Ok(t) = chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f") {
                naive_to_value(t)
            } else {
                Value::Text(s.clone())
            }
        }
        Data::DurationIso(s) => Value::Text(s.clone()),
        Data::Error(e) => Value::Text(e.to_string()),
        Data::Empty => Value::Null,
    }
}

/// Reads `sheet` from the workbook bytes.
pub fn read_sheet(
    file: &str,
    bytes: &[u8],
    sheet: &str,
    header_row: u32,
    cfg: &SheetConfig,
) -> Result<SheetData, ConnectorError> {
    let mut wb = calamine::open_workbook_auto_from_rs(Cursor::new(bytes))
        .map_err(|e| invalid(format!("{file} could not be read as a workbook ({e}); open it in Excel and save it again as .xlsx")))?;
    let names = wb.sheet_names();
    if !names.iter().any(|n| n == sheet) {
        return Err(invalid(format!(
            "{file} has no sheet {sheet:?} (it has: {}); rename the sheet back or change the link's object",
            names.join(", ")
        )));
    }
    let range = wb
        .worksheet_range(sheet)
        .map_err(|e| invalid(format!("{file}, sheet {sheet:?} could not be read ({e}); open it in Excel and save it again")))?;
    let date1904 = is_1904(bytes);
    sheet_from_range(file, sheet, &range, header_row - 1, cfg, date1904)
}

fn sheet_from_range(
    file: &str,
    sheet: &str,
    range: &Range<Data>,
    header_row: u32,
    cfg: &SheetConfig,
    date1904: bool,
) -> Result<SheetData, ConnectorError> {
    let mut out = SheetData { name: sheet.to_string(), ..Default::default() };
    let Some((r0, c0)) = range.start() else { return Ok(out) };
    let (r1, c1) = range.end().unwrap_or((r0, c0));
    let at = |r: u32, c: u32| -> &Data {
        if r < r0 || c < c0 || r > r1 || c > c1 {
            &Data::Empty
        } else {
            range.get(((r - r0) as usize, (c - c0) as usize)).unwrap_or(&Data::Empty)
        }
    };
    // Header.
    let mut seen: HashMap<String, u32> = HashMap::new();
    for c in c0..=c1 {
        let name = cell_value(at(header_row, c)).display().trim().to_string();
        if name.is_empty() {
            continue;
        }
        out.has_header = true;
        if let Some(prev) = seen.insert(name.clone(), c) {
            return Err(invalid(format!(
                "{file}, sheet {sheet:?}: header {name:?} appears twice (cells {} and {}); rename one of them",
                cell_ref(prev, header_row),
                cell_ref(c, header_row)
            )));
        }
        if name == KEY_HEADER {
            out.key_col = Some(c);
        } else {
            out.headers.push((c, name));
        }
    }
    if out.has_header {
        let found: Vec<&str> = out.headers.iter().map(|(_, h)| h.as_str()).collect();
        for col in cfg.columns.iter().chain(&cfg.id_columns) {
            if !found.contains(&col.as_str()) {
                return Err(invalid(format!(
                    "{file}, sheet {sheet:?}, row {}: the header has no column {col:?} (found: {}); rename the header back, or change sheets.{sheet}.columns in the settings",
                    header_row + 1,
                    found.join(", ")
                )));
            }
        }
    }
    let types: Vec<Option<FieldType>> = out.headers.iter().map(|(_, h)| cfg.declared_type(h)).collect();
    let mut keys: HashMap<String, u32> = HashMap::new();
    let mut ids: BTreeMap<usize, HashMap<String, u32>> = BTreeMap::new();
    for r in r0..=r1 {
        let mut any = false;
        for c in c0..=c1 {
            let d = at(r, c);
            if !matches!(d, Data::Empty) && !matches!(d, Data::String(s) if s.is_empty()) {
                any = true;
                if Some(c) != out.key_col {
                    out.last_used_col = Some(out.last_used_col.map_or(c, |m| m.max(c)));
                }
            }
        }
        if any {
            out.last_row = Some(r);
        }
        if r <= header_row || !any {
            continue;
        }
        let mut fields = Fields::new();
        for (i, (c, h)) in out.headers.iter().enumerate() {
            let mut v = cell_value(at(r, *c));
            match (types[i], &v) {
                (Some(FieldType::Id), Value::Int(_) | Value::Float(_)) => v = Value::Text(v.display()),
                (Some(FieldType::Date | FieldType::DateTime), Value::Int(_) | Value::Float(_)) => {
                    let serial = if let Value::Int(n) = v { n as f64 } else if let Value::Float(f) = v { f.0 } else { 0.0 };
                    v = serial_to_value(serial, date1904).unwrap_or(v);
                }
                _ => {}
            }
            if let Some(ty) = types[i] {
                if !v.is_null() && !matches!(ty, FieldType::Text | FieldType::Id | FieldType::Enum | FieldType::List) {
                    if let Err(e) = canonicalize(&v, ty) {
                        return Err(invalid(format!(
                            "{file}, sheet {sheet:?}, cell {} (row {}, column {h:?}): {e}; fix the cell, or change sheets.{sheet}.types",
                            cell_ref(*c, r),
                            r + 1
                        )));
                    }
                }
            }
            if ty_is_id(types[i]) && !v.is_null() {
                let m = ids.entry(i).or_default();
                if let Some(prev) = m.insert(v.display(), r) {
                    return Err(invalid(format!(
                        "{file}, sheet {sheet:?}, column {h:?}: id {:?} is in rows {} and {}; an id may appear once, so delete or fix one of the rows",
                        v.display(),
                        prev + 1,
                        r + 1
                    )));
                }
            }
            fields.insert(h.clone(), v);
        }
        let key = out.key_col.map(|c| cell_value(at(r, c)).display().trim().to_string()).filter(|k| !k.is_empty());
        if let Some(k) = &key {
            if let Some(prev) = keys.insert(k.clone(), r) {
                return Err(invalid(format!(
                    "{file}, sheet {sheet:?}, column {KEY_HEADER:?}: rows {} and {} have the same row key {k:?} (a row was copied with its hidden key); clear the key cell {} of the copied row",
                    prev + 1,
                    r + 1,
                    cell_ref(out.key_col.unwrap_or(0), r)
                )));
            }
        }
        // A row whose visible cells are all empty is blank, even with a key left behind.
        if fields.values().all(Value::is_null) {
            continue;
        }
        out.rows.push(RowData { row: r, key, fields });
    }
    Ok(out)
}

fn ty_is_id(t: Option<FieldType>) -> bool {
    matches!(t, Some(FieldType::Id))
}
