//! Surgical edits of one worksheet XML part (`xl/worksheets/sheetN.xml`).
//!
//! Invariant: every byte outside the rows we edit is copied unchanged. Rows without edits
//! are skipped by a byte search for their end tag (cell text can't hold a raw `<`), so a
//! 100,000-row sheet costs one pass of `memchr`. Edited rows are re-emitted cell by cell:
//! cells we don't change keep their original bytes; changed cells keep their style; new
//! cells borrow the style of the same column in the row above; new text is written as an
//! inline string, so `sharedStrings.xml` never changes. A cell holding a formula is never
//! overwritten: it is reported back instead.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crosswalk_core::Value;
use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

use super::read::cell_ref;
use super::styles::StyleInfo;

/// A new value for one cell. `Value::Null` empties the cell (its style stays).
#[derive(Clone, Debug, PartialEq)]
pub struct CellEdit {
    pub value: Value,
    /// Write numbers as text (id columns).
    pub as_text: bool,
}

/// Everything to change in one sheet. Rows and columns are 0-based.
#[derive(Clone, Debug, Default)]
pub struct SheetEdits {
    pub cells: BTreeMap<u32, BTreeMap<u32, CellEdit>>,
    /// Rows to empty entirely (deleted records).
    pub clear_rows: BTreeSet<u32>,
    /// Our key column, to hide.
    pub hide_col: Option<u32>,
    /// Rows up to this one never lend their style to new cells (the header).
    pub header_row: u32,
}

impl SheetEdits {
    pub fn set(&mut self, row: u32, col: u32, value: Value, as_text: bool) {
        self.cells.entry(row).or_default().insert(col, CellEdit { value, as_text });
    }
    pub fn is_empty(&self) -> bool {
        self.cells.is_empty() && self.clear_rows.is_empty()
    }
}

/// The rewritten part, and the cells left alone because they hold formulas.
#[derive(Debug)]
pub struct EditOutcome {
    pub xml: Vec<u8>,
    pub formula_cells: Vec<(u32, u32)>,
    /// A formula was removed (a deleted row): the calculation chain must be rebuilt.
    pub removed_formula: bool,
}

struct OrigCell {
    col: u32,
    start: usize,
    end: usize,
    style: Option<String>,
    formula: bool,
    shared_master: bool,
}

fn attr(e: &BytesStart, name: &[u8]) -> Option<String> {
    e.attributes().flatten().find(|a| a.key.local_name().as_ref() == name).map(|a| String::from_utf8_lossy(&a.value).into_owned())
}

/// `"AB12"` → (col 27, row 11), 0-based.
pub fn parse_ref(r: &str) -> Option<(u32, u32)> {
    let b = r.as_bytes();
    let split = b.iter().position(|c| c.is_ascii_digit())?;
    let mut col: u32 = 0;
    for &c in &b[..split] {
        let c = c.to_ascii_uppercase();
        if !c.is_ascii_uppercase() {
            return None;
        }
        col = col * 26 + (c - b'A' + 1) as u32;
    }
    let row: u32 = r[split..].parse().ok()?;
    Some((col.checked_sub(1)?, row.checked_sub(1)?))
}

pub fn escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\t' | '\n' | '\r' => o.push(ch),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => o.push(c),
        }
    }
    o
}

/// Days since the workbook's epoch, as Excel stores dates.
pub fn date_serial(v: &Value, date1904: bool) -> Option<f64> {
    let dt = match v {
        Value::Date(d) => d.and_hms_opt(0, 0, 0)?,
        Value::DateTime(t) => t.naive_utc(),
        _ => return None,
    };
    let epoch = if date1904 { chrono::NaiveDate::from_ymd_opt(1904, 1, 1)? } else { chrono::NaiveDate::from_ymd_opt(1899, 12, 30)? };
    let secs = (dt - epoch.and_hms_opt(0, 0, 0)?).num_seconds() as f64;
    let serial = secs / 86_400.0;
    // Excel's 1900 system counts a 29 Feb 1900 that never was.
    Some(if !date1904 && serial < 61.0 { serial - 1.0 } else { serial })
}

fn fmt_number(f: f64) -> String {
    if f.fract() == 0.0 && f.abs() < 1e15 {
        format!("{}", f as i64)
    } else {
        format!("{f}")
    }
}

/// One `<c>` element for a value.
pub fn cell_xml(p: &str, col: u32, row: u32, edit: &CellEdit, style: Option<&str>, styles: &StyleInfo, date1904: bool) -> String {
    let r = cell_ref(col, row);
    let s_attr = |s: Option<&str>| s.map(|s| format!(" s=\"{s}\"")).unwrap_or_default();
    let text = |t: &str, s: Option<&str>| {
        format!("<{p}c r=\"{r}\"{} t=\"inlineStr\"><{p}is><{p}t xml:space=\"preserve\">{}</{p}t></{p}is></{p}c>", s_attr(s), escape(t))
    };
    match &edit.value {
        Value::Null => match style {
            Some(s) => format!("<{p}c r=\"{r}\" s=\"{s}\"/>"),
            None => String::new(),
        },
        Value::Text(t) => text(t, style),
        v @ (Value::Int(_) | Value::Float(_) | Value::Decimal(_)) if edit.as_text => text(&v.display(), style),
        Value::Int(i) => format!("<{p}c r=\"{r}\"{}><{p}v>{i}</{p}v></{p}c>", s_attr(style)),
        Value::Float(f) => format!("<{p}c r=\"{r}\"{}><{p}v>{}</{p}v></{p}c>", s_attr(style), fmt_number(f.0)),
        Value::Decimal(d) => format!("<{p}c r=\"{r}\"{}><{p}v>{}</{p}v></{p}c>", s_attr(style), d.normalize()),
        Value::Bool(b) => format!("<{p}c r=\"{r}\"{} t=\"b\"><{p}v>{}</{p}v></{p}c>", s_attr(style), u8::from(*b)),
        v @ (Value::Date(_) | Value::DateTime(_)) => {
            let date_style = match style {
                Some(s) if styles.is_date(s) => Some(s.to_string()),
                _ => styles.first_date_xf.map(|x| x.to_string()),
            };
            match (date_style, date_serial(v, date1904)) {
                (Some(s), Some(serial)) => format!("<{p}c r=\"{r}\" s=\"{s}\"><{p}v>{}</{p}v></{p}c>", fmt_number(serial)),
                _ => text(&v.display(), style),
            }
        }
        Value::List(_) => text(&edit.value.display(), style),
    }
}

struct Editor<'a> {
    xml: &'a [u8],
    edits: &'a SheetEdits,
    styles: &'a StyleInfo,
    date1904: bool,
    p: String,
    out: Vec<u8>,
    formula_cells: Vec<(u32, u32)>,
    removed_formula: bool,
    /// Byte range of the last existing row after the header (style donor).
    donor: Option<(usize, usize)>,
    donor_styles: Option<HashMap<u32, String>>,
}

impl Editor<'_> {
    fn donor_style(&mut self, col: u32) -> Option<String> {
        if self.donor_styles.is_none() {
            let mut m = HashMap::new();
            if let Some((s, e)) = self.donor {
                if let Ok((cells, _)) = scan_row_cells(&self.xml[s..e], s) {
                    for c in cells {
                        if let Some(st) = c.style {
                            m.insert(c.col, st);
                        }
                    }
                }
            }
            self.donor_styles = Some(m);
        }
        self.donor_styles.as_ref().and_then(|m| m.get(&col).cloned())
    }

    fn new_row(&mut self, row: u32) {
        let Some(cells) = self.edits.cells.get(&row) else { return };
        let mut body = String::new();
        for (col, edit) in cells {
            let style = self.donor_style(*col);
            body.push_str(&cell_xml(&self.p, *col, row, edit, style.as_deref(), self.styles, self.date1904));
        }
        let p = &self.p;
        self.out.extend_from_slice(format!("<{p}row r=\"{}\">{body}</{p}row>", row + 1).as_bytes());
    }

    /// Re-emits an existing row with its edits applied.
    fn edited_row(&mut self, row: u32, start_tag: &BytesStart, inner: &[u8], inner_off: usize) -> Result<(), String> {
        let (cells, others) = scan_row_cells(inner, inner_off)?;
        let name = String::from_utf8_lossy(start_tag.name().as_ref()).into_owned();
        let mut tag = format!("<{name}");
        for a in start_tag.attributes().flatten() {
            if a.key.local_name().as_ref() == b"spans" {
                continue;
            }
            tag.push_str(&format!(" {}=\"{}\"", String::from_utf8_lossy(a.key.as_ref()), String::from_utf8_lossy(&a.value)));
        }
        tag.push('>');
        let mut body: Vec<u8> = tag.into_bytes();
        let clear = self.edits.clear_rows.contains(&row);
        let empty = BTreeMap::new();
        let edits = if clear { &empty } else { self.edits.cells.get(&row).unwrap_or(&empty) };
        let mut by_col: BTreeMap<u32, Option<&OrigCell>> = BTreeMap::new();
        for c in &cells {
            by_col.insert(c.col, Some(c));
        }
        for col in edits.keys() {
            by_col.entry(*col).or_insert(None);
        }
        for (col, orig) in by_col {
            match (orig, edits.get(&col)) {
                (Some(o), _) if clear => {
                    if o.shared_master {
                        body.extend_from_slice(&self.xml[o.start..o.end]);
                    } else if o.formula {
                        self.removed_formula = true;
                    }
                }
                (Some(o), Some(_)) if o.formula => {
                    self.formula_cells.push((row, col));
                    body.extend_from_slice(&self.xml[o.start..o.end]);
                }
                (Some(o), Some(e)) => {
                    let s = cell_xml(&self.p, col, row, e, o.style.as_deref(), self.styles, self.date1904);
                    body.extend_from_slice(s.as_bytes());
                }
                (Some(o), None) => body.extend_from_slice(&self.xml[o.start..o.end]),
                (None, Some(e)) => {
                    let style = if row <= self.edits.header_row {
                        // A new header cell looks like the header cell to its left.
                        cells.iter().rfind(|c| c.col < col).and_then(|c| c.style.clone())
                    } else {
                        self.donor_style(col)
                    };
                    body.extend_from_slice(cell_xml(&self.p, col, row, e, style.as_deref(), self.styles, self.date1904).as_bytes());
                }
                (None, None) => {}
            }
        }
        for (s, e) in others {
            body.extend_from_slice(&self.xml[s..e]);
        }
        body.extend_from_slice(format!("</{name}>").as_bytes());
        self.out.extend_from_slice(&body);
        Ok(())
    }
}

/// Cells of a row's inner XML (`inner` starts at byte `off` of the part).
/// Byte ranges of a row's children that are not cells (kept after the cells).
type Others = Vec<(usize, usize)>;

fn scan_row_cells(inner: &[u8], off: usize) -> Result<(Vec<OrigCell>, Others), String> {
    let mut r = lenient(inner);
    let mut cells: Vec<OrigCell> = Vec::new();
    let mut others = Vec::new();
    let mut next_col = 0u32;
    let mut depth = 0usize;
    let mut cur: Option<OrigCell> = None;
    loop {
        let s = off + r.buffer_position() as usize;
        let ev = r.read_event().map_err(|e| format!("XML error at byte {s}: {e}"))?;
        let e_ = off + r.buffer_position() as usize;
        match ev {
            Event::Eof => break,
            Event::Start(ref e) | Event::Empty(ref e) if depth == 0 && e.local_name().as_ref() == b"c" => {
                let col = attr(e, b"r").and_then(|x| parse_ref(&x)).map(|(c, _)| c).unwrap_or(next_col);
                next_col = col + 1;
                let cell = OrigCell { col, start: s, end: e_, style: attr(e, b"s"), formula: false, shared_master: false };
                if matches!(ev, Event::Start(_)) {
                    depth = 1;
                    cur = Some(cell);
                } else {
                    cells.push(cell);
                }
            }
            Event::Start(ref e) | Event::Empty(ref e) if depth > 0 => {
                if e.local_name().as_ref() == b"f" {
                    if let Some(c) = cur.as_mut() {
                        c.formula = true;
                        c.shared_master = attr(e, b"t").as_deref() == Some("shared") && attr(e, b"ref").is_some();
                    }
                }
                if matches!(ev, Event::Start(_)) {
                    depth += 1;
                }
            }
            Event::End(_) if depth > 0 => {
                depth -= 1;
                if depth == 0 {
                    if let Some(mut c) = cur.take() {
                        c.end = e_;
                        cells.push(c);
                    }
                }
            }
            Event::Text(_) if depth == 0 => {}
            _ if depth == 0 => others.push((s, e_)),
            _ => {}
        }
    }
    Ok((cells, others))
}

/// A reader that may start mid-document (after a skipped row).
fn lenient(xml: &[u8]) -> Reader<&[u8]> {
    let mut r = Reader::from_reader(xml);
    r.config_mut().check_end_names = false;
    r.config_mut().allow_unmatched_ends = true;
    r
}

fn local(name: &[u8]) -> &[u8] {
    match name.iter().position(|&b| b == b':') {
        Some(i) => &name[i + 1..],
        None => name,
    }
}

/// Applies `edits` to a worksheet part.
pub fn edit_sheet(xml: &[u8], edits: &SheetEdits, styles: &StyleInfo, date1904: bool) -> Result<EditOutcome, String> {
    let mut ed = Editor {
        xml,
        edits,
        styles,
        date1904,
        p: String::new(),
        out: Vec::with_capacity(xml.len() + 4096),
        formula_cells: vec![],
        removed_formula: false,
        donor: None,
        donor_styles: None,
    };
    let touched: BTreeSet<u32> = edits.cells.keys().copied().chain(edits.clear_rows.iter().copied()).collect();
    let mut pending = edits.cells.keys().copied().collect::<BTreeSet<u32>>().into_iter().peekable();
    let max_row = edits.cells.keys().next_back().copied();
    let max_col = edits.cells.values().filter_map(|m| m.keys().next_back().copied()).max();
    let mut base = 0usize;
    let mut reader = lenient(xml);
    let mut in_data = false;
    let mut cols_done = edits.hide_col.is_none();
    let mut next_row = 0u32;
    // The used range's last row before this write (from <dimension>): a filter that
    // reached it is extended over appended rows, so new rows are filterable too.
    let mut old_last_row: Option<u32> = None;
    loop {
        let s = base + reader.buffer_position() as usize;
        let ev = reader.read_event().map_err(|e| format!("XML error at byte {s}: {e}"))?;
        let e_ = base + reader.buffer_position() as usize;
        let copy = |ed: &mut Editor| ed.out.extend_from_slice(&xml[s..e_]);
        match ev {
            Event::Eof => break,
            Event::Empty(ref e) | Event::Start(ref e) if !in_data && local(e.name().as_ref()) == b"autoFilter" => {
                let raw = String::from_utf8_lossy(&xml[s..e_]).into_owned();
                let extended = attr(e, b"ref").and_then(|old| {
                    let mut parts = old.split(':');
                    let a = parts.next().and_then(parse_ref)?;
                    let b = parts.next().and_then(parse_ref).unwrap_or(a);
                    let grow_to = max_row.filter(|m| *m > b.1)?;
                    (Some(b.1) == old_last_row).then(|| raw.replacen(&format!("ref=\"{old}\""), &format!("ref=\"{}:{}\"", cell_ref(a.0, a.1), cell_ref(b.0, grow_to)), 1))
                });
                ed.out.extend_from_slice(extended.unwrap_or(raw).as_bytes());
            }
            Event::Empty(e) if !in_data && local(e.name().as_ref()) == b"dimension" => {
                let name = String::from_utf8_lossy(e.name().as_ref()).into_owned();
                let old = attr(&e, b"ref").unwrap_or_else(|| "A1".into());
                let mut parts = old.split(':');
                let a = parts.next().and_then(parse_ref).unwrap_or((0, 0));
                let b = parts.next().and_then(parse_ref).unwrap_or(a);
                let end_c = b.0.max(max_col.unwrap_or(0)).max(edits.hide_col.unwrap_or(0));
                let end_r = b.1.max(max_row.unwrap_or(0));
                old_last_row = Some(b.1);
                let new = format!("{}:{}", cell_ref(a.0.min(end_c), a.1.min(end_r)), cell_ref(end_c, end_r));
                ed.out.extend_from_slice(format!("<{name} ref=\"{new}\"/>").as_bytes());
            }
            Event::Start(e) if !in_data && !cols_done && local(e.name().as_ref()) == b"cols" => {
                cols_done = true;
                let close = format!("</{}>", String::from_utf8_lossy(e.name().as_ref()));
                let end = memchr::memmem::find(&xml[e_..], close.as_bytes()).map(|i| e_ + i).ok_or("unclosed <cols>")?;
                let inner = &xml[e_..end];
                let prefix = String::from_utf8_lossy(&e.name().as_ref()[..e.name().as_ref().len() - 4]).into_owned();
                ed.out.extend_from_slice(&xml[s..e_]);
                ed.out.extend_from_slice(&insert_hidden_col(inner, &prefix, edits.hide_col.unwrap_or(0)));
                ed.out.extend_from_slice(close.as_bytes());
                base = end + close.len();
                reader = lenient(&xml[base..]);
            }
            Event::Start(ref e) | Event::Empty(ref e) if !in_data && local(e.name().as_ref()) == b"sheetData" => {
                let n = e.name().as_ref().len();
                ed.p = String::from_utf8_lossy(&e.name().as_ref()[..n - 9]).into_owned();
                if !cols_done {
                    cols_done = true;
                    let p = &ed.p;
                    let c = edits.hide_col.unwrap_or(0) + 1;
                    ed.out.extend_from_slice(format!("<{p}cols><{p}col min=\"{c}\" max=\"{c}\" width=\"12\" hidden=\"1\" customWidth=\"1\"/></{p}cols>").as_bytes());
                }
                if matches!(ev, Event::Empty(_)) {
                    let p = ed.p.clone();
                    ed.out.extend_from_slice(format!("<{p}sheetData>").as_bytes());
                    for r in pending.by_ref() {
                        ed.new_row(r);
                    }
                    ed.out.extend_from_slice(format!("</{p}sheetData>").as_bytes());
                } else {
                    in_data = true;
                    copy(&mut ed);
                }
            }
            Event::End(e) if in_data && local(e.name().as_ref()) == b"sheetData" => {
                for r in pending.by_ref() {
                    ed.new_row(r);
                }
                in_data = false;
                copy(&mut ed);
            }
            Event::Start(ref e) | Event::Empty(ref e) if in_data && local(e.name().as_ref()) == b"row" => {
                let row = attr(e, b"r").and_then(|x| x.parse::<u32>().ok()).map(|x| x.saturating_sub(1)).unwrap_or(next_row);
                next_row = row + 1;
                while let Some(&r) = pending.peek() {
                    if r >= row {
                        break;
                    }
                    pending.next();
                    ed.new_row(r);
                }
                if pending.peek() == Some(&row) {
                    pending.next();
                }
                let is_start = matches!(ev, Event::Start(_));
                let (inner_s, inner_e, after) = if is_start {
                    let close = format!("</{}>", String::from_utf8_lossy(e.name().as_ref()));
                    let end = memchr::memmem::find(&xml[e_..], close.as_bytes()).map(|i| e_ + i).ok_or("unclosed <row>")?;
                    (e_, end, end + close.len())
                } else {
                    (e_, e_, e_)
                };
                if touched.contains(&row) {
                    let tag = e.to_owned();
                    ed.edited_row(row, &tag, &xml[inner_s..inner_e], inner_s)?;
                } else {
                    ed.out.extend_from_slice(&xml[s..after]);
                }
                if row > edits.header_row {
                    ed.donor = Some((inner_s, inner_e));
                    ed.donor_styles = None;
                }
                if is_start {
                    base = after;
                    reader = lenient(&xml[base..]);
                }
            }
            _ => copy(&mut ed),
        }
    }
    Ok(EditOutcome { xml: ed.out, formula_cells: ed.formula_cells, removed_formula: ed.removed_formula })
}

/// Adds `<col>` hiding column `col` (0-based) unless a `<col>` already covers it.
fn insert_hidden_col(inner: &[u8], p: &str, col: u32) -> Vec<u8> {
    let c = col + 1;
    let mut r = Reader::from_reader(inner);
    let mut spans = Vec::new();
    loop {
        let s = r.buffer_position() as usize;
        match r.read_event() {
            Ok(Event::Empty(e)) | Ok(Event::Start(e)) if local(e.name().as_ref()) == b"col" => {
                let min = attr(&e, b"min").and_then(|x| x.parse::<u32>().ok()).unwrap_or(0);
                let max = attr(&e, b"max").and_then(|x| x.parse::<u32>().ok()).unwrap_or(min);
                spans.push((min, max, s));
            }
            Ok(Event::Eof) | Err(_) => break,
            _ => {}
        }
    }
    if spans.iter().any(|(a, b, _)| *a <= c && c <= *b) {
        return inner.to_vec();
    }
    let at = spans.iter().find(|(a, _, _)| *a > c).map(|(_, _, s)| *s).unwrap_or(inner.len());
    let mut out = inner[..at].to_vec();
    out.extend_from_slice(format!("<{p}col min=\"{c}\" max=\"{c}\" width=\"12\" hidden=\"1\" customWidth=\"1\"/>").as_bytes());
    out.extend_from_slice(&inner[at..]);
    out
}
