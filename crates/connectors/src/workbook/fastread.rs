//! A fast path for reading `.xlsx` worksheets: a byte scanner over the decompressed sheet
//! part (memchr), several times quicker than a general XML reader on 100,000-row sheets.
//!
//! It understands what worksheets hold inside `<sheetData>`: rows, cells with `r`/`s`/`t`
//! attributes, `<v>` values, inline strings, shared strings (rich text runs joined,
//! phonetic runs skipped), entities and `_xHHHH_` escapes, any namespace prefix. Anything
//! it doesn't understand is an `Err`, and the caller falls back to `calamine`; a test checks
//! both readers agree.

use std::io::{Cursor, Read};

use crosswalk_core::Value;
use memchr::memmem;
use zip::ZipArchive;

use super::read::{cell_value, serial_to_value};
use super::styles::{self, StyleInfo};
use super::write::sheet_parts;

fn part(zip: &mut ZipArchive<Cursor<&[u8]>>, name: &str) -> Option<Vec<u8>> {
    let mut f = zip.by_name(name).ok()?;
    let mut v = Vec::with_capacity(f.size() as usize);
    f.read_to_end(&mut v).ok()?;
    Some(v)
}

/// Resolves entities and Excel's `_xHHHH_` escapes.
pub fn unescape(raw: &[u8]) -> Result<String, String> {
    let s = std::str::from_utf8(raw).map_err(|e| e.to_string())?;
    let s = if s.contains('&') {
        let mut o = String::with_capacity(s.len());
        let mut rest = s;
        while let Some(i) = rest.find('&') {
            o.push_str(&rest[..i]);
            let j = rest[i..].find(';').ok_or("bad entity")? + i;
            let ent = &rest[i + 1..j];
            match ent {
                "amp" => o.push('&'),
                "lt" => o.push('<'),
                "gt" => o.push('>'),
                "quot" => o.push('"'),
                "apos" => o.push('\''),
                _ => {
                    let n = if let Some(h) = ent.strip_prefix("#x").or_else(|| ent.strip_prefix("#X")) {
                        u32::from_str_radix(h, 16).map_err(|e| e.to_string())?
                    } else if let Some(d) = ent.strip_prefix('#') {
                        d.parse().map_err(|_| "bad char ref")?
                    } else {
                        return Err(format!("unknown entity &{ent};"));
                    };
                    o.push(char::from_u32(n).ok_or("bad char ref")?);
                }
            }
            rest = &rest[j + 1..];
        }
        o.push_str(rest);
        o
    } else {
        s.to_string()
    };
    if !s.contains("_x") {
        return Ok(s);
    }
    let mut o = String::with_capacity(s.len());
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'_' && b.get(i + 1) == Some(&b'x') && b.get(i + 6) == Some(&b'_') {
            if let Some(ch) = std::str::from_utf8(&b[i + 2..i + 6]).ok().and_then(|h| u32::from_str_radix(h, 16).ok()).and_then(char::from_u32) {
                o.push(ch);
                i += 7;
                continue;
            }
        }
        let ch = s[i..].chars().next().unwrap_or('\u{FFFD}');
        o.push(ch);
        i += ch.len_utf8();
    }
    Ok(o)
}

/// The namespace prefix (`x:`) of the first element named `local`, if any.
fn prefix_of(xml: &[u8], local: &str) -> Option<String> {
    for i in memmem::find_iter(xml, local.as_bytes()) {
        if i == 0 {
            continue;
        }
        let after = xml.get(i + local.len()).copied().unwrap_or(b'>');
        if !(after == b' ' || after == b'>' || after == b'/' || after.is_ascii_whitespace()) {
            continue;
        }
        if xml[i - 1] == b'<' {
            return Some(String::new());
        }
        if xml[i - 1] == b':' {
            let start = xml[..i].iter().rposition(|&c| c == b'<')?;
            return Some(String::from_utf8_lossy(&xml[start + 1..i]).into_owned());
        }
    }
    None
}

/// Searchers for the tags we look for, built once per part (building one per search
/// would cost more than the search).
struct Pats {
    t_open: memmem::Finder<'static>,
    t_close: memmem::Finder<'static>,
    rph: memmem::Finder<'static>,
    rph_close: memmem::Finder<'static>,
    c_close: memmem::Finder<'static>,
    v_open: memmem::Finder<'static>,
    v_close: memmem::Finder<'static>,
}

impl Pats {
    fn new(p: &str) -> Pats {
        let f = |s: String| memmem::Finder::new(s.as_bytes()).into_owned();
        Pats {
            t_open: f(format!("<{p}t")),
            t_close: f(format!("</{p}t>")),
            rph: f(format!("<{p}rPh")),
            rph_close: f(format!("</{p}rPh>")),
            c_close: f(format!("</{p}c>")),
            v_open: f(format!("<{p}v>")),
            v_close: f(format!("</{p}v>")),
        }
    }
}

/// Texts of `<t>` elements in `inner`, skipping phonetic runs (`<rPh>`).
fn texts(inner: &[u8], pats: &Pats) -> Result<String, String> {
    let (open_len, close_len) = (pats.t_open.needle().len(), pats.t_close.needle().len());
    let mut out = String::new();
    let mut pos = 0;
    while let Some(i) = pats.t_open.find(&inner[pos..]).map(|i| i + pos) {
        let after = inner.get(i + open_len).copied().unwrap_or(b'>');
        if after != b'>' && after != b' ' && after != b'/' {
            pos = i + open_len;
            continue;
        }
        if let Some(r) = pats.rph.find(&inner[pos..i]) {
            let r = r + pos;
            pos = pats.rph_close.find(&inner[r..]).map(|e| e + r + pats.rph_close.needle().len()).ok_or("unclosed rPh")?;
            continue;
        }
        let gt = memchr::memchr(b'>', &inner[i..]).ok_or("unclosed <t")? + i;
        if inner[gt - 1] == b'/' {
            pos = gt + 1;
            continue;
        }
        let end = pats.t_close.find(&inner[gt..]).ok_or("unclosed <t>")? + gt;
        let raw = &inner[gt + 1..end];
        if out.is_empty() && !raw.contains(&b'&') && !raw.contains(&b'_') {
            out = String::from_utf8(raw.to_vec()).map_err(|e| e.to_string())?;
        } else {
            out.push_str(&unescape(raw)?);
        }
        pos = end + close_len;
    }
    Ok(out)
}

fn shared_strings(xml: &[u8]) -> Result<Vec<String>, String> {
    let Some(p) = prefix_of(xml, "sst") else { return Ok(vec![]) };
    let open = format!("<{p}si>");
    let close = format!("</{p}si>");
    let pats = Pats::new(&p);
    let (open_f, close_f) = (memmem::Finder::new(open.as_bytes()), memmem::Finder::new(close.as_bytes()));
    let mut out = vec![];
    let mut pos = 0;
    while let Some(i) = open_f.find(&xml[pos..]).map(|i| i + pos) {
        let end = close_f.find(&xml[i..]).ok_or("unclosed <si>")? + i;
        out.push(texts(&xml[i + open.len()..end], &pats)?);
        pos = end + close.len();
    }
    // `<si/>` (an empty string) would shift every index: let calamine handle such files.
    if memmem::find(xml, format!("<{p}si/>").as_bytes()).is_some() {
        return Err("empty <si/> entries".into());
    }
    Ok(out)
}

/// The value of attribute `pat` (given as ` name="`) in a start tag (short: a plain scan).
fn attr<'a>(tag: &'a [u8], pat: &[u8]) -> Option<&'a [u8]> {
    let i = tag.windows(pat.len()).position(|w| w == pat)? + pat.len();
    let j = memchr::memchr(b'"', &tag[i..])? + i;
    Some(&tag[i..j])
}

fn ref_col(r: &[u8]) -> Option<u32> {
    let mut col = 0u32;
    let mut n = 0;
    for &c in r {
        if c.is_ascii_uppercase() {
            col = col * 26 + (c - b'A' + 1) as u32;
            n += 1;
        } else {
            break;
        }
    }
    (n > 0).then(|| col - 1)
}

/// Calls `f(row, col, value)` for every non-empty cell of `sheet`, in order. `Ok(false)`
/// when the workbook has no such sheet.
pub fn for_each_cell(bytes: &[u8], sheet: &str, date1904: bool, mut f: impl FnMut(u32, u32, Value) -> Result<(), crosswalk_core::ConnectorError>) -> Result<Result<bool, crosswalk_core::ConnectorError>, String> {
    let mut zip = ZipArchive::new(Cursor::new(bytes)).map_err(|e| e.to_string())?;
    let parts = sheet_parts("", &mut zip).map_err(|e| e.to_string())?;
    let Some(path) = parts.iter().find(|(n, _)| n == sheet).map(|(_, p)| p.clone()) else { return Ok(Ok(false)) };
    let strings = match part(&mut zip, "xl/sharedStrings.xml") {
        Some(x) => shared_strings(&x)?,
        None => vec![],
    };
    let styles: StyleInfo = part(&mut zip, "xl/styles.xml").map(|x| styles::parse(&x)).unwrap_or_default();
    let xml = part(&mut zip, &path).ok_or("sheet part missing")?;
    let p = prefix_of(&xml, "sheetData").ok_or("no sheetData")?;
    let Some(start) = memmem::find(&xml, format!("<{p}sheetData").as_bytes()) else { return Ok(Ok(true)) };
    let end = memmem::rfind(&xml, format!("</{p}sheetData>").as_bytes()).unwrap_or(xml.len());
    let data = &xml[start..end];
    let (row_tag, c_tag) = (format!("{p}row"), format!("{p}c"));
    let pats = Pats::new(&p);
    let c_close_len = pats.c_close.needle().len();
    let v_open_len = pats.v_open.needle().len();
    let mut pos = 1;
    let mut row: u32 = 0;
    let mut first_row = true;
    let mut next_col = 0u32;
    while let Some(lt) = memchr::memchr(b'<', &data[pos..]).map(|i| i + pos) {
        let gt = memchr::memchr(b'>', &data[lt..]).ok_or("unclosed tag")? + lt;
        let tag = &data[lt..=gt];
        let name_end = tag[1..].iter().position(|&b| b == b' ' || b == b'>' || b == b'/' || b.is_ascii_whitespace()).map(|i| i + 1).unwrap_or(tag.len());
        let name = &tag[1..name_end];
        pos = gt + 1;
        if name == row_tag.as_bytes() {
            row = match attr(tag, b" r=\"") {
                Some(r) => std::str::from_utf8(r).ok().and_then(|r| r.parse::<u32>().ok()).ok_or("bad row number")? - 1,
                None if first_row => 0,
                None => row + 1,
            };
            first_row = false;
            next_col = 0;
            continue;
        }
        if name != c_tag.as_bytes() {
            continue;
        }
        let col = match attr(tag, b" r=\"") {
            Some(r) => ref_col(r).ok_or("bad cell reference")?,
            None => next_col,
        };
        next_col = col + 1;
        if tag.ends_with(b"/>") {
            continue;
        }
        let close = pats.c_close.find(&data[pos..]).ok_or("unclosed <c>")? + pos;
        let inner = &data[pos..close];
        pos = close + c_close_len;
        let t = attr(tag, b" t=\"").unwrap_or(b"n");
        let v = || -> Result<Option<&[u8]>, String> {
            Ok(match pats.v_open.find(inner) {
                Some(i) => {
                    let j = pats.v_close.find(&inner[i..]).ok_or("unclosed <v>")? + i;
                    Some(&inner[i + v_open_len..j])
                }
                None => None,
            })
        };
        let value = match t {
            b"inlineStr" => Value::Text(texts(inner, &pats)?),
            b"s" => match v()? {
                Some(ix) => {
                    let ix: usize = std::str::from_utf8(ix).ok().and_then(|s| s.trim().parse().ok()).ok_or("bad shared string index")?;
                    Value::Text(strings.get(ix).ok_or("shared string index out of range")?.clone())
                }
                None => Value::Null,
            },
            b"str" | b"e" => v()?.map(unescape).transpose()?.map(Value::Text).unwrap_or(Value::Null),
            b"b" => v()?.map(|x| Value::Bool(x == b"1" || x == b"true")).unwrap_or(Value::Null),
            b"d" => v()?.map(|x| cell_value(&calamine::Data::DateTimeIso(String::from_utf8_lossy(x).into_owned()))).unwrap_or(Value::Null),
            b"n" => match v()? {
                Some(x) => {
                    let f: f64 = std::str::from_utf8(x).ok().and_then(|s| s.trim().parse().ok()).ok_or("bad number")?;
                    let dated = attr(tag, b" s=\"").map(|s| styles.is_date(std::str::from_utf8(s).unwrap_or("")));
                    match dated {
                        Some(true) => serial_to_value(f, date1904).unwrap_or(Value::Null),
                        _ => cell_value(&calamine::Data::Float(f)),
                    }
                }
                None => Value::Null,
            },
            other => return Err(format!("unknown cell type {}", String::from_utf8_lossy(other))),
        };
        let value = match value {
            Value::Text(s) if s.is_empty() => Value::Null,
            v => v,
        };
        if !value.is_null() {
            if let Err(e) = f(row, col, value) {
                return Ok(Err(e));
            }
        }
    }
    Ok(Ok(true))
}
