//! Reading a workbook with `calamine`: file-kind checks, one sheet into rows of raw
//! [`Value`]s, header and key validation.
//!
//! Invariants: text cells stay text (leading zeros, 19-digit ids); numbers that are whole
//! become `Int`; date cells (1900 and 1904 systems) become `Date` (or `DateTime` when they
//! carry a time); formula cells give their cached value. Every error names the file,
//! sheet, cell and what to do, and is a [`ConnectorError::Invalid`].

use std::collections::{BTreeMap, HashMap};
use std::io::{Cursor, Read};

use calamine::{Data, Reader};
use chrono::{NaiveDate, TimeZone, Timelike, Utc};
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
    /// What a keyless row's remembered key is tied to: its content (a fast in-process
    /// hash; these keys live in memory only until a flush writes them).
    pub fn content_key(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        self.fields.hash(&mut h);
        h.finish()
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
    let open_err = |e: String| invalid(format!("{file} could not be read as a workbook ({e}); open it in Excel and save it again as .xlsx"));
    let missing = |names: &[String]| {
        invalid(format!("{file} has no sheet {sheet:?} (it has: {}); rename the sheet back or change the link's object", names.join(", ")))
    };
    let sheet_err = |e: String| invalid(format!("{file}, sheet {sheet:?} could not be read ({e}); open it in Excel and save it again"));
    let date1904 = is_1904(bytes);
    let mut b = SheetBuilder::new(file, sheet, header_row - 1, cfg, date1904);
    if bytes.starts_with(b"PK") {
        match super::fastread::for_each_cell(bytes, sheet, date1904, |r, c, v| b.cell(r, c, v)) {
            Ok(Ok(true)) => return b.finish(),
            Ok(Ok(false)) => {}
            Ok(Err(e)) => return Err(e),
            Err(why) => {
                tracing::debug!(%why, "Fast reader declined; reading with calamine");
                b = SheetBuilder::new(file, sheet, header_row - 1, cfg, date1904);
            }
        }
    }
    let mut wb = calamine::open_workbook_auto_from_rs(Cursor::new(bytes)).map_err(|e| open_err(e.to_string()))?;
    let names = wb.sheet_names();
    if !names.iter().any(|n| n == sheet) {
        return Err(missing(&names));
    }
    let range = wb.worksheet_range(sheet).map_err(|e| sheet_err(e.to_string()))?;
    for (r, c, d) in range.used_cells() {
        let (r0, c0) = range.start().unwrap_or((0, 0));
        b.cell(r0 + r as u32, c0 + c as u32, cell_value(d))?;
    }
    b.finish()
}

/// Builds a [`SheetData`] from cells arriving in row-major order, checking as it goes.
struct SheetBuilder<'a> {
    file: &'a str,
    cfg: &'a SheetConfig,
    header_row: u32,
    date1904: bool,
    out: SheetData,
    header_cells: Vec<(u32, String)>,
    header_done: bool,
    /// Column → index into `out.headers`.
    field_of: Vec<Option<usize>>,
    types: Vec<Option<FieldType>>,
    row: Option<u32>,
    vals: Vec<Value>,
    key: Option<String>,
    keys: HashMap<String, u32>,
    ids: BTreeMap<usize, HashMap<String, u32>>,
}

impl<'a> SheetBuilder<'a> {
    fn new(file: &'a str, sheet: &str, header_row: u32, cfg: &'a SheetConfig, date1904: bool) -> Self {
        SheetBuilder {
            file,
            cfg,
            header_row,
            date1904,
            out: SheetData { name: sheet.to_string(), ..Default::default() },
            header_cells: vec![],
            header_done: false,
            field_of: Vec::new(),
            types: vec![],
            row: None,
            vals: vec![],
            key: None,
            keys: HashMap::new(),
            ids: BTreeMap::new(),
        }
    }

    fn cell(&mut self, r: u32, c: u32, v: Value) -> Result<(), ConnectorError> {
        if v.is_null() {
            return Ok(());
        }
        if self.row != Some(r) {
            self.end_row()?;
            if r > self.header_row && !self.header_done {
                self.end_header()?;
            }
            self.row = Some(r);
            self.vals = vec![Value::Null; self.out.headers.len()];
            self.key = None;
        }
        self.out.last_row = Some(r);
        if r == self.header_row {
            let name = v.display().trim().to_string();
            if !name.is_empty() {
                self.header_cells.push((c, name));
            }
        }
        if r > self.header_row && Some(c) == self.out.key_col {
            let k = v.display().trim().to_string();
            self.key = (!k.is_empty()).then_some(k);
            return Ok(());
        }
        if r != self.header_row || self.header_cells.last().map(|h| h.1.as_str()) != Some(KEY_HEADER) {
            self.out.last_used_col = Some(self.out.last_used_col.map_or(c, |m| m.max(c)));
        }
        if r > self.header_row {
            if let Some(&Some(i)) = self.field_of.get(c as usize) {
                self.vals[i] = v;
            }
        }
        Ok(())
    }

    fn end_header(&mut self) -> Result<(), ConnectorError> {
        self.header_done = true;
        let (file, sheet, hr) = (self.file, self.out.name.clone(), self.header_row);
        let mut seen: HashMap<String, u32> = HashMap::new();
        for (c, name) in std::mem::take(&mut self.header_cells) {
            self.out.has_header = true;
            if let Some(prev) = seen.insert(name.clone(), c) {
                return Err(invalid(format!(
                    "{file}, sheet {sheet:?}: header {name:?} appears twice (cells {} and {}); rename one of them",
                    cell_ref(prev, hr),
                    cell_ref(c, hr)
                )));
            }
            if name == KEY_HEADER {
                self.out.key_col = Some(c);
            } else {
                if self.field_of.len() <= c as usize {
                    self.field_of.resize(c as usize + 1, None);
                }
                self.field_of[c as usize] = Some(self.out.headers.len());
                self.out.headers.push((c, name));
            }
        }
        if self.out.has_header {
            let found: Vec<&str> = self.out.headers.iter().map(|(_, h)| h.as_str()).collect();
            for col in self.cfg.columns.iter().chain(&self.cfg.id_columns) {
                if !found.contains(&col.as_str()) {
                    return Err(invalid(format!(
                        "{file}, sheet {sheet:?}, row {}: the header has no column {col:?} (found: {}); rename the header back, or change sheets.{sheet}.columns in the settings",
                        hr + 1,
                        found.join(", ")
                    )));
                }
            }
        }
        self.types = self.out.headers.iter().map(|(_, h)| self.cfg.declared_type(h)).collect();
        Ok(())
    }

    fn end_row(&mut self) -> Result<(), ConnectorError> {
        let Some(r) = self.row.take() else { return Ok(()) };
        if r <= self.header_row || self.vals.iter().all(Value::is_null) {
            // A row whose visible cells are all empty is blank, even with a key left behind.
            return Ok(());
        }
        let (file, sheet) = (self.file, self.out.name.as_str());
        let mut fields = Fields::new();
        for (i, v) in std::mem::take(&mut self.vals).into_iter().enumerate() {
            let (c, h) = &self.out.headers[i];
            let mut v = v;
            match (self.types[i], &v) {
                (Some(FieldType::Id), Value::Int(_) | Value::Float(_)) => v = Value::Text(v.display()),
                (Some(FieldType::Date | FieldType::DateTime), Value::Int(_) | Value::Float(_)) => {
                    let serial = if let Value::Int(n) = v { n as f64 } else if let Value::Float(f) = v { f.0 } else { 0.0 };
                    v = serial_to_value(serial, self.date1904).unwrap_or(v);
                }
                _ => {}
            }
            if let Some(ty) = self.types[i] {
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
            if ty_is_id(self.types[i]) && !v.is_null() {
                let m = self.ids.entry(i).or_default();
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
        let key = self.key.take();
        if let Some(k) = &key {
            if let Some(prev) = self.keys.insert(k.clone(), r) {
                return Err(invalid(format!(
                    "{file}, sheet {sheet:?}, column {KEY_HEADER:?}: rows {} and {} have the same row key {k:?} (a row was copied with its hidden key); clear the key cell {} of the copied row",
                    prev + 1,
                    r + 1,
                    cell_ref(self.out.key_col.unwrap_or(0), r)
                )));
            }
        }
        self.out.rows.push(RowData { row: r, key, fields });
        Ok(())
    }

    fn finish(mut self) -> Result<SheetData, ConnectorError> {
        self.end_row()?;
        if !self.header_done {
            self.end_header()?;
        }
        Ok(self.out)
    }
}

fn ty_is_id(t: Option<FieldType>) -> bool {
    matches!(t, Some(FieldType::Id))
}
