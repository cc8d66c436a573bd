//! Lossless write-back into an existing `.xlsx`: only the worksheet parts that change are
//! rewritten (see [`super::sheetxml`]); every other zip entry is copied raw, byte for byte.
//! Adding a sheet (a new object, the `Deleted` sheet) also touches `workbook.xml`, its rels
//! and `[Content_Types].xml`, each by inserting one element.
//!
//! The new file is written as `NAME.tmp` beside the original, fsynced, and renamed over it,
//! so a crash at any point leaves either the old or the new workbook.

use std::collections::BTreeMap;
use std::io::{Cursor, Read, Write};
use std::path::Path;

use crosswalk_core::ConnectorError;
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipArchive, ZipWriter};

use super::sheetxml::{edit_sheet, SheetEdits};
use super::styles;

const WS_TYPE: &str = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet";
const WS_CT: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml";
const R_NS: &str = "http://schemas.openxmlformats.org/officeDocument/2006/relationships";
const EMPTY_SHEET: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n<worksheet xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\" xmlns:r=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships\"><dimension ref=\"A1\"/><sheetViews><sheetView workbookViewId=\"0\"/></sheetViews><sheetFormatPr defaultRowHeight=\"15\"/><sheetData/><pageMargins left=\"0.7\" right=\"0.7\" top=\"0.75\" bottom=\"0.75\" header=\"0.3\" footer=\"0.3\"/></worksheet>";

/// What to change: edits per existing sheet, and sheets to add (in order).
#[derive(Debug, Default)]
pub struct WritePlan {
    pub sheets: BTreeMap<String, SheetEdits>,
    pub new_sheets: Vec<(String, SheetEdits)>,
}

/// The new file, and per sheet the cells left alone because they hold formulas.
#[derive(Debug)]
pub struct WriteOutcome {
    pub bytes: Vec<u8>,
    pub formula_cells: BTreeMap<String, Vec<(u32, u32)>>,
    /// Zip entries whose bytes changed or were added.
    pub changed_parts: Vec<String>,
}

fn invalid(file: &str, what: String) -> ConnectorError {
    ConnectorError::Invalid(format!("{file}: {what}; open it in Excel, save it again, and retry"))
}

fn read_part(zip: &mut ZipArchive<Cursor<&[u8]>>, name: &str) -> Option<Vec<u8>> {
    let mut f = zip.by_name(name).ok()?;
    let mut v = Vec::with_capacity(f.size() as usize);
    f.read_to_end(&mut v).ok()?;
    Some(v)
}

fn attr_of(tag: &str, name: &str) -> Option<String> {
    let pat = format!(" {name}=\"");
    let i = tag.find(&pat)? + pat.len();
    let j = tag[i..].find('"')? + i;
    Some(tag[i..j].to_string())
}

/// All elements `<NAME ...>` (start or empty tags) of an XML text, as tag strings.
fn tags<'a>(xml: &'a str, local: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    let mut pos = 0;
    std::iter::from_fn(move || loop {
        let i = xml[pos..].find('<')? + pos;
        let j = xml[i..].find('>')? + i;
        pos = j + 1;
        let tag = &xml[i..=j];
        let name_end = tag[1..].find(|c: char| c.is_whitespace() || c == '/' || c == '>').map(|k| k + 1).unwrap_or(tag.len());
        let name = &tag[1..name_end];
        let l = name.rsplit(':').next().unwrap_or(name);
        if l == local {
            return Some(tag);
        }
    })
}

/// Unescapes the few entities a sheet name may hold.
fn unescape(s: &str) -> String {
    s.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&apos;", "'").replace("&amp;", "&")
}

/// Sheet name → worksheet part path (`xl/worksheets/sheet1.xml`).
pub fn sheet_parts(file: &str, zip: &mut ZipArchive<Cursor<&[u8]>>) -> Result<Vec<(String, String)>, ConnectorError> {
    let wb = read_part(zip, "xl/workbook.xml").ok_or_else(|| invalid(file, "xl/workbook.xml is missing".into()))?;
    let rels = read_part(zip, "xl/_rels/workbook.xml.rels").ok_or_else(|| invalid(file, "xl/_rels/workbook.xml.rels is missing".into()))?;
    let wb = String::from_utf8_lossy(&wb).into_owned();
    let rels = String::from_utf8_lossy(&rels).into_owned();
    let mut targets = BTreeMap::new();
    for t in tags(&rels, "Relationship") {
        if let (Some(id), Some(target)) = (attr_of(t, "Id"), attr_of(t, "Target")) {
            let path = if let Some(abs) = target.strip_prefix('/') { abs.to_string() } else { format!("xl/{target}") };
            targets.insert(id, path);
        }
    }
    let mut out = vec![];
    for t in tags(&wb, "sheet") {
        let name = attr_of(t, "name").map(|n| unescape(&n)).unwrap_or_default();
        let rid = t.split_whitespace().find_map(|a| a.split_once(":id=\"").map(|(_, v)| v.trim_end_matches(['"', '/', '>']).to_string()));
        if let Some(part) = rid.and_then(|r| targets.get(&r).cloned()) {
            out.push((name, part));
        }
    }
    Ok(out)
}

fn insert_before(xml: &str, close_local: &str, insert: &str) -> Option<String> {
    // Find the last closing tag `</x:close_local>` or `</close_local>`.
    let mut best = None;
    let mut pos = 0;
    while let Some(i) = xml[pos..].find("</").map(|i| i + pos) {
        let j = xml[i..].find('>')? + i;
        let name = &xml[i + 2..j];
        if name.rsplit(':').next() == Some(close_local) {
            best = Some((i, name.rsplit_once(':').map(|(p, _)| format!("{p}:")).unwrap_or_default()));
        }
        pos = j + 1;
    }
    let (i, prefix) = best?;
    let insert = insert.replace("{p}", &prefix);
    Some(format!("{}{}{}", &xml[..i], insert, &xml[i..]))
}

/// Builds the new workbook bytes.
pub fn write_back(file: &str, orig: &[u8], plan: &WritePlan, date1904: bool) -> Result<WriteOutcome, ConnectorError> {
    let mut zip = ZipArchive::new(Cursor::new(orig)).map_err(|e| invalid(file, format!("not a readable zip ({e})")))?;
    let parts = sheet_parts(file, &mut zip)?;
    let style_info = read_part(&mut zip, "xl/styles.xml").map(|x| styles::parse(&x)).unwrap_or_default();
    let mut replaced: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let mut added: Vec<(String, Vec<u8>)> = vec![];
    let mut formula_cells = BTreeMap::new();
    let mut drop_calc_chain = false;
    for (sheet, edits) in &plan.sheets {
        let part = parts.iter().find(|(n, _)| n == sheet).map(|(_, p)| p.clone()).ok_or_else(|| {
            ConnectorError::Invalid(format!("{file} has no sheet {sheet:?} any more; rename it back, or sync again to re-read the workbook"))
        })?;
        let xml = read_part(&mut zip, &part).ok_or_else(|| invalid(file, format!("sheet {sheet:?} ({part}) is missing")))?;
        let out = edit_sheet(&xml, edits, &style_info, date1904).map_err(|e| invalid(file, format!("sheet {sheet:?} ({part}) is damaged: {e}")))?;
        if !out.formula_cells.is_empty() {
            formula_cells.insert(sheet.clone(), out.formula_cells);
        }
        drop_calc_chain |= out.removed_formula;
        replaced.insert(part, out.xml);
    }
    if !plan.new_sheets.is_empty() {
        let mut wb = String::from_utf8_lossy(&read_part(&mut zip, "xl/workbook.xml").unwrap_or_default()).into_owned();
        let mut rels = String::from_utf8_lossy(&read_part(&mut zip, "xl/_rels/workbook.xml.rels").unwrap_or_default()).into_owned();
        let mut ct = String::from_utf8_lossy(&read_part(&mut zip, "[Content_Types].xml").ok_or_else(|| invalid(file, "[Content_Types].xml is missing".into()))?).into_owned();
        let r_prefix = wb
            .find(&format!("=\"{R_NS}\""))
            .and_then(|i| wb[..i].rfind("xmlns:").map(|j| wb[j + 6..i].to_string()))
            .unwrap_or_else(|| "r".into());
        if !wb.contains(&format!("xmlns:{r_prefix}=")) {
            return Err(invalid(file, "workbook.xml declares no relationships namespace".into()));
        }
        let mut max_id = tags(&wb, "sheet").filter_map(|t| attr_of(t, "sheetId")).filter_map(|s| s.parse::<u32>().ok()).max().unwrap_or(0);
        let names: Vec<String> = zip.file_names().map(str::to_string).collect();
        let mut n = 1;
        for (sheet, edits) in &plan.new_sheets {
            while names.contains(&format!("xl/worksheets/sheet{n}.xml")) || added.iter().any(|(a, _)| a == &format!("xl/worksheets/sheet{n}.xml")) {
                n += 1;
            }
            let part = format!("xl/worksheets/sheet{n}.xml");
            let out = edit_sheet(EMPTY_SHEET.as_bytes(), edits, &style_info, date1904).map_err(|e| invalid(file, e))?;
            added.push((part.clone(), out.xml));
            max_id += 1;
            let rid = format!("rIdCrosswalk{n}");
            let esc = super::sheetxml::escape(sheet);
            wb = insert_before(&wb, "sheets", &format!("<{{p}}sheet name=\"{esc}\" sheetId=\"{max_id}\" {r_prefix}:id=\"{rid}\"/>"))
                .ok_or_else(|| invalid(file, "workbook.xml has no <sheets>".into()))?;
            rels = insert_before(&rels, "Relationships", &format!("<{{p}}Relationship Id=\"{rid}\" Type=\"{WS_TYPE}\" Target=\"worksheets/sheet{n}.xml\"/>"))
                .ok_or_else(|| invalid(file, "workbook.xml.rels has no <Relationships>".into()))?;
            ct = insert_before(&ct, "Types", &format!("<{{p}}Override PartName=\"/{part}\" ContentType=\"{WS_CT}\"/>"))
                .ok_or_else(|| invalid(file, "[Content_Types].xml has no <Types>".into()))?;
        }
        replaced.insert("xl/workbook.xml".into(), wb.into_bytes());
        replaced.insert("xl/_rels/workbook.xml.rels".into(), rels.into_bytes());
        replaced.insert("[Content_Types].xml".into(), ct.into_bytes());
    }
    let mut skip = std::collections::BTreeSet::new();
    if drop_calc_chain && zip.file_names().any(|n| n == "xl/calcChain.xml") {
        // Excel rebuilds the calculation chain; a stale one makes it "repair" the file.
        skip.insert("xl/calcChain.xml".to_string());
        let ct = replaced.get("[Content_Types].xml").cloned().or_else(|| read_part(&mut zip, "[Content_Types].xml")).unwrap_or_default();
        let ct = String::from_utf8_lossy(&ct).into_owned();
        let cleaned: String = remove_tag_with(&ct, "/xl/calcChain.xml");
        replaced.insert("[Content_Types].xml".into(), cleaned.into_bytes());
        let rels = replaced.get("xl/_rels/workbook.xml.rels").cloned().or_else(|| read_part(&mut zip, "xl/_rels/workbook.xml.rels")).unwrap_or_default();
        let rels = String::from_utf8_lossy(&rels).into_owned();
        replaced.insert("xl/_rels/workbook.xml.rels".into(), remove_tag_with(&rels, "calcChain.xml").into_bytes());
    }
    let mut w = ZipWriter::new(Cursor::new(Vec::with_capacity(orig.len() + 4096)));
    let mut changed_parts = vec![];
    for i in 0..zip.len() {
        let f = zip.by_index_raw(i).map_err(|e| invalid(file, format!("zip entry {i} is damaged ({e})")))?;
        let name = f.name().to_string();
        if skip.contains(&name) {
            changed_parts.push(name);
            continue;
        }
        if let Some(data) = replaced.get(&name) {
            drop(f);
            let level = if data.len() > 4 << 20 { 1 } else { 6 };
            let opts = SimpleFileOptions::default().compression_method(CompressionMethod::Deflated).compression_level(Some(level)).large_file(data.len() > u32::MAX as usize / 2);
            w.start_file(name.as_str(), opts).map_err(|e| ConnectorError::Other(format!("writing {file}: {e}")))?;
            w.write_all(data).map_err(|e| ConnectorError::Other(format!("writing {file}: {e}")))?;
            changed_parts.push(name);
        } else {
            w.raw_copy_file(f).map_err(|e| invalid(file, format!("zip entry {name} could not be copied ({e})")))?;
        }
    }
    for (name, data) in &added {
        let opts = SimpleFileOptions::default().compression_method(CompressionMethod::Deflated);
        w.start_file(name.as_str(), opts).map_err(|e| ConnectorError::Other(format!("writing {file}: {e}")))?;
        w.write_all(data).map_err(|e| ConnectorError::Other(format!("writing {file}: {e}")))?;
        changed_parts.push(name.clone());
    }
    let bytes = w.finish().map_err(|e| ConnectorError::Other(format!("writing {file}: {e}")))?.into_inner();
    Ok(WriteOutcome { bytes, formula_cells, changed_parts })
}

/// Cells (row, col; 0-based) of `sheet` that hold a formula. Cheap: one byte search for
/// `<f` tags, then the enclosing cell's `r` attribute.
pub fn formula_cells(file: &str, bytes: &[u8], sheet: &str) -> Result<std::collections::HashSet<(u32, u32)>, ConnectorError> {
    let mut out = std::collections::HashSet::new();
    let Ok(mut zip) = ZipArchive::new(Cursor::new(bytes)) else { return Ok(out) };
    let parts = sheet_parts(file, &mut zip)?;
    let Some(part) = parts.iter().find(|(n, _)| n == sheet).map(|(_, p)| p.clone()) else { return Ok(out) };
    let xml = read_part(&mut zip, &part).unwrap_or_default();
    // Only cells count: `<xm:f>` also appears in extension lists (validation, formatting).
    let start = memchr::memmem::find(&xml, b"sheetData").unwrap_or(0);
    let end = memchr::memmem::rfind(&xml, b"sheetData").unwrap_or(xml.len());
    let xml = &xml[..end];
    for pat in [&b"<f>"[..], b"<f ", b"<f/", b":f>", b":f "] {
        for i in memchr::memmem::find_iter(xml, pat).filter(|i| *i > start) {
            // The enclosing cell starts at the last `<c ` or `:c ` before the formula.
            let head = &xml[..i];
            let c = [memchr::memmem::rfind(head, b"<c "), memchr::memmem::rfind(head, b":c ")].into_iter().flatten().max();
            if let Some(c) = c {
                let tag_end = memchr::memchr(b'>', &xml[c..i]).map(|j| c + j).unwrap_or(i);
                let tag = String::from_utf8_lossy(&xml[c..tag_end]);
                if let Some(r) = attr_of(&tag, "r") {
                    if let Some((col, row)) = super::sheetxml::parse_ref(&r) {
                        out.insert((row, col));
                    }
                }
            }
        }
    }
    Ok(out)
}

/// Removes every `<…/>` element whose text contains `needle`.
fn remove_tag_with(xml: &str, needle: &str) -> String {
    let mut out = String::with_capacity(xml.len());
    let mut rest = xml;
    while let Some(i) = rest.find('<') {
        let Some(j) = rest[i..].find('>').map(|j| j + i) else { break };
        out.push_str(&rest[..i]);
        let tag = &rest[i..=j];
        if !(tag.ends_with("/>") && tag.contains(needle)) {
            out.push_str(tag);
        }
        rest = &rest[j + 1..];
    }
    out.push_str(rest);
    out
}

/// Writes `bytes` to `NAME.tmp` beside `path`, fsyncs, and renames it over `path`.
pub fn replace_file(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut tmp_name = path.file_name().unwrap_or_default().to_os_string();
    tmp_name.push(".tmp");
    let tmp = path.with_file_name(tmp_name);
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    #[cfg(unix)]
    if let Some(dir) = path.parent() {
        let dir = if dir.as_os_str().is_empty() { Path::new(".") } else { dir };
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}
