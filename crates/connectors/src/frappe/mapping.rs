//! Frappe JSON ↔ records: DocType metadata → schema (with link markers), documents →
//! records (child tables as canonical JSON text), fields → request bodies, site-local
//! naive times → UTC, and the `(modified, name)` cursor.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, NaiveDateTime, Timelike, Utc};
use crosswalk_core::connector::{FieldSchema, ObjectSchema, Record};
use crosswalk_core::value::Fields;
use crosswalk_core::{FieldType, Value};
use serde_json::{Map, Value as Json};

use super::config::FrappeConfig;

/// Marker in [`FieldSchema::options`] of a Link field: `link:<DocType>`.
pub const LINK_MARKER: &str = "link:";
/// Marker of a Table field: `table:<child DocType>`.
pub const TABLE_MARKER: &str = "table:";
/// Marker of a link column inside a Table field: `child-link:<column>:<DocType>`.
pub const CHILD_LINK_MARKER: &str = "child-link:";

/// Columns Frappe keeps on every document (API_FACTS §2.4).
pub const STANDARD_FIELDS: &[&str] = &["name", "owner", "creation", "modified", "modified_by", "docstatus", "idx"];
/// Bookkeeping columns of child rows: never compared, never sent (a PUT without row
/// `name`s replaces the table).
pub const CHILD_META: &[&str] = &["name", "owner", "creation", "modified", "modified_by", "docstatus", "idx", "parent", "parentfield", "parenttype", "doctype"];

/// One field of a DocType as its metadata describes it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FieldMeta {
    pub fieldname: String,
    pub fieldtype: String,
    pub label: String,
    pub options: String,
    pub reqd: bool,
    pub read_only: bool,
    pub allow_on_submit: bool,
}

/// A DocType's metadata: fields, naming, submittable.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DocMeta {
    pub name: String,
    pub fields: Vec<FieldMeta>,
    pub autoname: String,
    pub is_submittable: bool,
    pub istable: bool,
}

/// Field types that hold no data (layout only).
const LAYOUT: &[&str] = &["Section Break", "Column Break", "Tab Break", "HTML", "Button", "Heading", "Fold", "Image"];

impl DocMeta {
    /// Reads `GET /api/resource/DocType/{name}` → `data` (or one `docs[]` entry of
    /// `frappe.desk.form.load.getdoctype`). Tolerant: `0/1` or booleans, missing keys.
    pub fn from_json(doc: &Json) -> Option<DocMeta> {
        let name = doc.get("name")?.as_str()?.to_string();
        let flag = |v: Option<&Json>| v.is_some_and(|v| v.as_bool().unwrap_or_else(|| v.as_i64().unwrap_or(0) != 0));
        let s = |v: Option<&Json>| v.and_then(Json::as_str).unwrap_or_default().to_string();
        let fields = doc
            .get("fields")
            .and_then(Json::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|f| {
                        let fieldname = f.get("fieldname")?.as_str()?.to_string();
                        let fieldtype = s(f.get("fieldtype"));
                        if LAYOUT.contains(&fieldtype.as_str()) {
                            return None;
                        }
                        Some(FieldMeta {
                            label: f.get("label").and_then(Json::as_str).unwrap_or(&fieldname).to_string(),
                            fieldname,
                            fieldtype,
                            options: s(f.get("options")),
                            reqd: flag(f.get("reqd")),
                            read_only: flag(f.get("read_only")),
                            allow_on_submit: flag(f.get("allow_on_submit")),
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        Some(DocMeta { name, fields, autoname: s(doc.get("autoname")), is_submittable: flag(doc.get("is_submittable")), istable: flag(doc.get("istable")) })
    }

    pub fn field(&self, name: &str) -> Option<&FieldMeta> {
        self.fields.iter().find(|f| f.fieldname == name)
    }

    /// Table fields: `(fieldname, child DocType)`.
    pub fn tables(&self) -> impl Iterator<Item = (&str, &str)> {
        self.fields.iter().filter(|f| is_table(&f.fieldtype)).map(|f| (f.fieldname.as_str(), f.options.as_str()))
    }

    pub fn is_table_field(&self, name: &str) -> bool {
        self.field(name).is_some_and(|f| is_table(&f.fieldtype))
    }
}

fn is_table(fieldtype: &str) -> bool {
    matches!(fieldtype, "Table" | "Table MultiSelect")
}

/// Frappe field type → canonical type.
pub fn field_type(fieldtype: &str) -> FieldType {
    match fieldtype {
        "Int" => FieldType::Integer,
        "Check" => FieldType::Bool,
        "Currency" | "Float" | "Percent" => FieldType::Decimal,
        "Date" => FieldType::Date,
        // A naive site-local time: compared as text, never shifted (see `site_time_to_utc`).
        "Datetime" => FieldType::Text,
        "Link" | "Dynamic Link" => FieldType::Id,
        "Select" => FieldType::Enum,
        _ => FieldType::Text,
    }
}

/// The object schema of a DocType, with link markers (see the module constants).
pub fn schema(meta: &DocMeta, children: &BTreeMap<String, DocMeta>) -> ObjectSchema {
    let mut fields = vec![];
    for (name, ty) in [("name", FieldType::Id), ("owner", FieldType::Text), ("creation", FieldType::Text), ("modified", FieldType::Text), ("modified_by", FieldType::Text), ("docstatus", FieldType::Integer), ("idx", FieldType::Integer)] {
        let mut f = FieldSchema::new(name, ty);
        f.read_only = true;
        fields.push(f);
    }
    for m in &meta.fields {
        let mut f = FieldSchema::new(&m.fieldname, field_type(&m.fieldtype));
        f.label = m.label.clone();
        f.required = m.reqd;
        f.read_only = m.read_only;
        match m.fieldtype.as_str() {
            "Select" => f.options = m.options.lines().map(str::trim).filter(|o| !o.is_empty()).map(str::to_string).collect(),
            "Link" if !m.options.is_empty() => f.options = vec![format!("{LINK_MARKER}{}", m.options)],
            t if is_table(t) => {
                f.options.push(format!("{TABLE_MARKER}{}", m.options));
                if let Some(child) = children.get(&m.options) {
                    for c in child.fields.iter().filter(|c| c.fieldtype == "Link" && !c.options.is_empty()) {
                        f.options.push(format!("{CHILD_LINK_MARKER}{}:{}", c.fieldname, c.options));
                    }
                }
            }
            _ => {}
        }
        fields.push(f);
    }
    ObjectSchema { name: meta.name.clone(), label: meta.name.clone(), fields }
}

/// A site-local naive time (`2025-03-01 14:22:05.123456`) as UTC, in the site's zone.
/// [UNSURE] in the hour a DST change repeats, the earlier instant is taken.
pub fn site_time_to_utc(s: &str, tz: &jiff::tz::TimeZone) -> Option<DateTime<Utc>> {
    let naive = parse_naive(s)?;
    let civil = jiff::civil::DateTime::new(
        i16::try_from(naive.year()).ok()?,
        naive.month() as i8,
        naive.day() as i8,
        naive.hour() as i8,
        naive.minute() as i8,
        naive.second() as i8,
        naive.nanosecond().min(999_999_999) as i32,
    )
    .ok()?;
    let ts = civil.to_zoned(tz.clone()).ok()?.timestamp();
    DateTime::from_timestamp(ts.as_second(), ts.subsec_nanosecond() as u32)
}

pub fn parse_naive(s: &str) -> Option<NaiveDateTime> {
    let s = s.trim();
    ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S%.f"].iter().find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
}

/// The incremental cursor: the last `(modified, name)` seen, `modified` as the site sent it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Cursor {
    pub modified: String,
    pub name: String,
}

impl Cursor {
    /// `"<modified>|<name>"`; a bare time (older cursors, hand-set) has an empty name.
    pub fn parse(s: &str) -> Option<Cursor> {
        let (m, n) = s.split_once('|').unwrap_or((s, ""));
        parse_naive(m)?;
        Some(Cursor { modified: m.trim().to_string(), name: n.to_string() })
    }
    pub fn encode(&self) -> String {
        format!("{}|{}", self.modified, self.name)
    }
    /// Whether a row at `(modified, name)` was already delivered up to this cursor.
    pub fn covers(&self, modified: &str, name: &str) -> bool {
        match (parse_naive(modified), parse_naive(&self.modified)) {
            (Some(a), Some(b)) => a < b || (a == b && name <= self.name.as_str()),
            _ => false,
        }
    }
}

/// A JSON number with integral floats made integers (`2.0` → `2`), so two sites' child
/// rows compare equal whatever float formatting each used.
fn normalise_json(v: &Json) -> Json {
    match v {
        Json::Number(n) if n.as_i64().is_none() && n.as_u64().is_none() => match n.as_f64() {
            Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Json::from(f as i64),
            _ => v.clone(),
        },
        Json::String(s) => Json::String(s.trim().to_string()),
        _ => v.clone(),
    }
}

/// A child table as canonical JSON text: rows in order, bookkeeping columns dropped, only
/// `columns` when given, empty values dropped, keys sorted.
pub fn child_table_text(rows: &[Json], columns: Option<&Vec<String>>) -> String {
    let rows: Vec<Json> = rows
        .iter()
        .filter_map(Json::as_object)
        .map(|row| {
            let kept: BTreeMap<String, Json> = row
                .iter()
                .filter(|(k, _)| !CHILD_META.contains(&k.as_str()))
                .filter(|(k, _)| columns.is_none_or(|c| c.iter().any(|c| c == *k)))
                .filter(|(_, v)| !(v.is_null() || v.as_str().is_some_and(|s| s.trim().is_empty())))
                .map(|(k, v)| (k.clone(), normalise_json(v)))
                .collect();
            serde_json::to_value(kept).unwrap_or(Json::Null)
        })
        .collect();
    if rows.is_empty() {
        return String::new();
    }
    serde_json::to_string(&rows).unwrap_or_default()
}

/// A document as a record: `id` = `name`, `updated_at` = `modified` in UTC, every column
/// as a field, child tables as canonical JSON text.
pub fn record_from_doc(doc: &Map<String, Json>, meta: Option<&DocMeta>, config: &FrappeConfig, tz: &jiff::tz::TimeZone) -> Record {
    let id = doc.get("name").map(|n| n.as_str().map(str::to_string).unwrap_or_else(|| n.to_string())).unwrap_or_default();
    let mut fields = Fields::new();
    for (k, v) in doc {
        if k == "doctype" {
            continue;
        }
        let value = match v {
            Json::Array(rows) => {
                let doctype = meta.map(|m| m.name.as_str()).unwrap_or_default();
                let text = child_table_text(rows, config.child_columns(doctype, k));
                if text.is_empty() { Value::Null } else { Value::Text(text) }
            }
            other => Value::from_json(other),
        };
        fields.insert(k.clone(), value);
    }
    let updated_at = doc.get("modified").and_then(Json::as_str).and_then(|m| site_time_to_utc(m, tz));
    Record { id, fields, updated_at }
}

/// The JSON body for a create or update. Table fields (text) are parsed back to rows; a
/// row list without `name`s makes Frappe replace the table (API_FACTS §2.4).
pub fn body_from_fields(fields: &Fields, meta: Option<&DocMeta>) -> Result<Map<String, Json>, String> {
    let mut out = Map::new();
    for (k, v) in fields {
        if matches!(k.as_str(), "name" | "owner" | "creation" | "modified" | "modified_by" | "idx" | "doctype") {
            continue;
        }
        let is_table = meta.is_some_and(|m| m.is_table_field(k));
        let j = match (is_table, v) {
            (true, Value::Text(t)) if !t.trim().is_empty() => {
                let rows: Json = serde_json::from_str(t).map_err(|e| format!("{k}: the child table is not JSON rows ({e})"))?;
                if !rows.is_array() {
                    return Err(format!("{k}: the child table must be a JSON list of rows"));
                }
                rows
            }
            (true, Value::Null) | (true, Value::Text(_)) => Json::Array(vec![]),
            (_, Value::Bool(b)) if meta.and_then(|m| m.field(k)).is_some_and(|f| f.fieldtype == "Check") => Json::from(i64::from(*b)),
            (_, other) => other.to_json(),
        };
        out.insert(k.clone(), j);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn site_time_is_read_in_the_site_zone() {
        let tz = jiff::tz::TimeZone::get("Asia/Kolkata").unwrap();
        let t = site_time_to_utc("2025-03-01 14:22:05.123456", &tz).unwrap();
        assert_eq!(t.to_rfc3339(), "2025-03-01T08:52:05.123456+00:00", "Kolkata is UTC+05:30, never UTC");
        let ams = jiff::tz::TimeZone::get("Europe/Amsterdam").unwrap();
        assert_eq!(site_time_to_utc("2025-07-01 12:00:00", &ams).unwrap().to_rfc3339(), "2025-07-01T10:00:00+00:00", "summer time applies");
    }

    #[test]
    fn cursor_tie_break_on_name() {
        let c = Cursor::parse("2025-01-01 10:00:00.000001|CUST-0002").unwrap();
        assert!(c.covers("2025-01-01 10:00:00.000001", "CUST-0001"), "same time, earlier name: already delivered");
        assert!(c.covers("2025-01-01 10:00:00.000001", "CUST-0002"), "the cursor row itself: delivered");
        assert!(!c.covers("2025-01-01 10:00:00.000001", "CUST-0003"), "same time, later name: still to deliver");
        assert!(!c.covers("2025-01-01 10:00:00.000002", "A"), "later time: to deliver");
        assert_eq!(Cursor::parse(&c.encode()), Some(c), "the cursor round-trips");
    }

    #[test]
    fn child_rows_canonical_across_sites() {
        let a = serde_json::json!([{"name": "abc", "idx": 1, "parent": "SO-1", "item_code": "X", "qty": 2.0, "rate": 10.5, "uom": ""}]);
        let b = serde_json::json!([{"name": "zzz", "idx": 1, "parent": "SAL-9", "item_code": "X", "qty": 2, "rate": 10.5}]);
        assert_eq!(child_table_text(a.as_array().unwrap(), None), child_table_text(b.as_array().unwrap(), None), "row names, parents and 2.0 vs 2 are not differences");
    }
}
