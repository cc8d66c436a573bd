//! Twenty JSON ↔ Crosswalk records and schemas.
//!
//! - Composite fields become dotted columns (`name.firstName`, `emails.primaryEmail`,
//!   `domainName.primaryLinkUrl`, `address.addressCity`).
//! - Currency is shown in currency units: `annualRecurringRevenue.amount` is the exact
//!   decimal `amountMicros / 1 000 000` (never through `f64`), and converts back on write.
//! - System and read-mostly fields (`createdBy`, `updatedBy`, `position`, `searchVector`,
//!   `deletedAt`, rich-text `blocknote`) and embedded relations are left out; `id`,
//!   `createdAt`, `updatedAt` are listed read-only.
//! - Envelopes are read tolerantly across versions: the single key under `data`, plain
//!   arrays, and GraphQL-style `edges[].node`.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use crosswalk_core::value::{canonicalize, Fields};
use crosswalk_core::{FieldSchema, FieldType, ObjectSchema, Record, Value};
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;
use serde_json::{Map, Value as Json};

/// Top-level fields never offered as columns.
const SKIPPED: &[&str] = &["createdBy", "updatedBy", "position", "searchVector", "deletedAt", "__typename"];
/// Fields the server sets; shown but never written.
pub const READ_ONLY: &[&str] = &["id", "createdAt", "updatedAt", "deletedAt"];
/// The derived text column on objects with a `companyId`: the company's name.
pub const COMPANY_NAME: &str = "company";
pub const COMPANY_ID: &str = "companyId";

const MICROS: i64 = 1_000_000;

/// Exact currency units from `amountMicros` (a JSON number or numeric string).
pub fn micros_to_amount(v: &Json) -> Value {
    let d = match v {
        Json::Number(n) => n.as_i64().map(|i| Decimal::new(i, 6)).or_else(|| Decimal::from_str(&n.to_string()).ok().map(|d| d / Decimal::from(MICROS))),
        Json::String(s) => Decimal::from_str(s.trim()).ok().map(|d| d / Decimal::from(MICROS)),
        _ => None,
    };
    d.map(|d| Value::Decimal(d.normalize())).unwrap_or(Value::Null)
}

/// `amountMicros` from an amount in currency units (rounded to whole micros).
pub fn amount_to_micros(v: &Value) -> Result<Json, String> {
    match canonicalize(v, FieldType::Decimal).map_err(|e| e.to_string())? {
        Value::Null => Ok(Json::Null),
        Value::Decimal(d) => (d * Decimal::from(MICROS))
            .round()
            .to_i64()
            .map(Json::from)
            .ok_or_else(|| format!("amount {d} is too large")),
        other => Err(format!("{} is not an amount", other.display())),
    }
}

/// A Twenty record as a Crosswalk record.
pub fn record_from_json(obj: &Map<String, Json>) -> Record {
    let id = obj.get("id").and_then(Json::as_str).unwrap_or_default().to_string();
    let updated_at = obj.get("updatedAt").and_then(Json::as_str).and_then(parse_time);
    let mut fields = Fields::new();
    for (k, v) in obj {
        if SKIPPED.contains(&k.as_str()) {
            continue;
        }
        flatten(k, v, &mut fields);
    }
    Record { id, fields, updated_at }
}

fn flatten(name: &str, v: &Json, out: &mut Fields) {
    match v {
        Json::Object(m) => {
            // An embedded relation (depth ≥ 1) or a connection: not a column.
            if m.contains_key("id") || m.contains_key("edges") {
                return;
            }
            for (k, child) in m {
                match k.as_str() {
                    "amountMicros" => {
                        out.insert(format!("{name}.amount"), micros_to_amount(child));
                    }
                    "blocknote" | "__typename" | "context" => {}
                    _ => flatten(&format!("{name}.{k}"), child, out),
                }
            }
        }
        // Arrays of objects (secondaryLinks, additionalPhones, one-to-many relations) have
        // no faithful cell form; arrays of scalars (additionalEmails, multi-select) do.
        Json::Array(items) if items.iter().any(|i| i.is_object() || i.is_array()) => {}
        other => {
            out.insert(name.to_string(), Value::from_json(other));
        }
    }
}

pub fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s).ok().map(|t| t.with_timezone(&Utc))
}

/// Fields to a Twenty JSON body: read-only fields dropped, `*.amount` to `*.amountMicros`,
/// dotted names nested. `company` must already be resolved to `companyId` by the caller.
pub fn fields_to_json(fields: &Fields) -> Result<Map<String, Json>, String> {
    let mut flat = Fields::new();
    let mut micros: Vec<(String, Json)> = vec![];
    for (k, v) in fields {
        if READ_ONLY.contains(&k.as_str()) || k == COMPANY_NAME {
            continue;
        }
        if let Some(prefix) = k.strip_suffix(".amount") {
            micros.push((prefix.to_string(), amount_to_micros(v).map_err(|e| format!("{k}: {e}"))?));
            continue;
        }
        flat.insert(k.clone(), v.clone());
    }
    let mut json = crosswalk_core::value::unflatten_json(&flat);
    for (prefix, m) in micros {
        let mut node = &mut json;
        for part in prefix.split('.') {
            let entry = node.entry(part.to_string()).or_insert_with(|| Json::Object(Map::new()));
            if !entry.is_object() {
                *entry = Json::Object(Map::new());
            }
            node = entry.as_object_mut().expect("just made an object");
        }
        node.insert("amountMicros".into(), m);
    }
    Ok(json)
}

/// A field name and value as a Twenty filter leaf's field and value text
/// (`annualRecurringRevenue.amount` filters on `amountMicros`).
pub fn filter_term(field: &str, v: &Value) -> Result<(String, String), String> {
    if let Some(prefix) = field.strip_suffix(".amount") {
        return Ok((format!("{prefix}.amountMicros"), amount_to_micros(v)?.to_string()));
    }
    let text = match v {
        Value::Int(_) | Value::Decimal(_) | Value::Float(_) | Value::Bool(_) => v.display(),
        other => format!("\"{}\"", other.display().trim()),
    };
    Ok((field.to_string(), text))
}

/// The payload under `data` (the single key, whatever the version calls it).
pub fn payload(body: &Json) -> Option<&Json> {
    match body {
        Json::Array(_) => Some(body),
        Json::Object(m) => match m.get("data") {
            Some(Json::Object(d)) if d.len() == 1 => d.values().next(),
            Some(Json::Object(d)) => d.values().find(|v| v.is_array() || v.get("edges").is_some()).or_else(|| d.values().find(|v| v.is_object())),
            Some(other) => Some(other),
            None => None,
        },
        _ => None,
    }
}

/// Every record in a response: arrays, `edges[].node`, or one object.
pub fn records_in(body: &Json) -> Vec<Map<String, Json>> {
    fn unwrap(item: &Json) -> Option<Map<String, Json>> {
        let item = item.get("node").unwrap_or(item);
        item.as_object().cloned()
    }
    match payload(body) {
        Some(Json::Array(items)) => items.iter().filter_map(unwrap).collect(),
        Some(p @ Json::Object(m)) => match m.get("edges") {
            Some(Json::Array(edges)) => edges.iter().filter_map(unwrap).collect(),
            _ => unwrap(p).into_iter().collect(),
        },
        _ => vec![],
    }
}

/// `pageInfo` wherever this version put it.
pub fn page_info(body: &Json) -> (bool, Option<String>) {
    let info = body.get("pageInfo").or_else(|| payload(body).and_then(|p| p.get("pageInfo")));
    let more = info.and_then(|i| i.get("hasNextPage")).and_then(Json::as_bool).unwrap_or(false);
    let end = info.and_then(|i| i.get("endCursor")).and_then(Json::as_str).map(str::to_string);
    (more, end)
}

pub fn total_count(body: &Json) -> Option<u64> {
    body.get("totalCount").or_else(|| payload(body).and_then(|p| p.get("totalCount"))).and_then(Json::as_u64)
}

/// Sub-fields shown for each composite type.
fn composite_columns(ty: &str) -> Option<&'static [(&'static str, FieldType)]> {
    use FieldType::*;
    Some(match ty {
        "FULL_NAME" => &[("firstName", Text), ("lastName", Text)],
        "EMAILS" => &[("primaryEmail", Text), ("additionalEmails", List)],
        "PHONES" => &[("primaryPhoneNumber", Text), ("primaryPhoneCountryCode", Text), ("primaryPhoneCallingCode", Text)],
        "LINKS" => &[("primaryLinkUrl", Text), ("primaryLinkLabel", Text)],
        "ADDRESS" => &[
            ("addressStreet1", Text),
            ("addressStreet2", Text),
            ("addressCity", Text),
            ("addressState", Text),
            ("addressCountry", Text),
            ("addressPostcode", Text),
            ("addressLat", Decimal),
            ("addressLng", Decimal),
        ],
        "CURRENCY" => &[("amount", Decimal), ("currencyCode", Text)],
        "RICH_TEXT_V2" => &[("markdown", Text)],
        _ => return None,
    })
}

fn scalar_type(ty: &str) -> Option<FieldType> {
    Some(match ty {
        "TEXT" | "RICH_TEXT" | "PHONE" | "EMAIL" => FieldType::Text,
        "UUID" => FieldType::Id,
        "NUMBER" | "NUMERIC" => FieldType::Decimal,
        "BOOLEAN" => FieldType::Bool,
        "DATE_TIME" => FieldType::DateTime,
        "DATE" => FieldType::Date,
        "SELECT" | "RATING" => FieldType::Enum,
        "MULTI_SELECT" | "ARRAY" => FieldType::List,
        _ => return None,
    })
}

fn str_of<'a>(v: &'a Json, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Json::as_str)
}

fn items_of(v: Option<&Json>) -> Vec<&Json> {
    match v {
        Some(Json::Array(a)) => a.iter().map(|i| i.get("node").unwrap_or(i)).collect(),
        Some(Json::Object(m)) => m.get("edges").and_then(Json::as_array).map(|e| e.iter().map(|i| i.get("node").unwrap_or(i)).collect()).unwrap_or_default(),
        _ => vec![],
    }
}

/// One object of the metadata API as a schema; `None` for system or inactive objects.
pub fn schema_from_metadata(obj: &Json) -> Option<ObjectSchema> {
    let name = str_of(obj, "namePlural")?;
    if obj.get("isActive").and_then(Json::as_bool) == Some(false) || obj.get("isSystem").and_then(Json::as_bool) == Some(true) {
        return None;
    }
    let label = str_of(obj, "labelPlural").unwrap_or(name);
    let mut fields: Vec<FieldSchema> = vec![];
    fn push_into(fields: &mut Vec<FieldSchema>, f: FieldSchema) {
        if !fields.iter().any(|g| g.name == f.name) {
            fields.push(f);
        }
    }

    for f in items_of(obj.get("fields")) {
        let (Some(fname), Some(ty)) = (str_of(f, "name"), str_of(f, "type")) else { continue };
        let flabel = str_of(f, "label").unwrap_or(fname);
        if f.get("isActive").and_then(Json::as_bool) == Some(false) || SKIPPED.contains(&fname) {
            continue;
        }
        let system = f.get("isSystem").and_then(Json::as_bool) == Some(true);
        if READ_ONLY.contains(&fname) {
            let t = if fname == "id" { FieldType::Id } else { FieldType::DateTime };
            push_into(&mut fields, FieldSchema { label: flabel.to_string(), read_only: true, ..FieldSchema::new(fname, t) });
            continue;
        }
        if ty == "RELATION" || ty == "MORPH_RELATION" {
            let join = f.pointer("/settings/joinColumnName").and_then(Json::as_str).map(str::to_string);
            let many_to_one = ["/relationDefinition/direction", "/relation/type", "/settings/relationType"]
                .iter()
                .filter_map(|p| f.pointer(p).and_then(Json::as_str))
                .any(|d| d == "MANY_TO_ONE");
            if let Some(col) = join.or_else(|| many_to_one.then(|| format!("{fname}Id"))) {
                push_into(&mut fields, FieldSchema { label: format!("{flabel} (id)"), ..FieldSchema::new(&col, FieldType::Id) });
            }
            continue;
        }
        if system && !(ty == "UUID" && fname.ends_with("Id")) {
            continue;
        }
        let required = f.get("isNullable").and_then(Json::as_bool) == Some(false) && f.get("defaultValue").is_none_or(Json::is_null);
        if let Some(cols) = composite_columns(ty) {
            for (sub, t) in cols {
                let col = if *sub == "amount" { format!("{fname}.amount") } else { format!("{fname}.{sub}") };
                push_into(&mut fields, FieldSchema { label: format!("{flabel} {sub}"), ..FieldSchema::new(&col, *t) });
            }
        } else if let Some(t) = scalar_type(ty) {
            let options = items_of(f.get("options")).iter().filter_map(|o| str_of(o, "value").map(str::to_string)).collect();
            push_into(&mut fields, FieldSchema { label: flabel.to_string(), options, required, ..FieldSchema::new(fname, t) });
        }
    }
    if fields.iter().any(|f| f.name == COMPANY_ID) {
        push_into(&mut fields, FieldSchema { label: "Company".into(), ..FieldSchema::new(COMPANY_NAME, FieldType::Text) });
    }
    Some(ObjectSchema { name: name.to_string(), label: label.to_string(), fields })
}

/// The standard `companies` and `people` schema, used when the metadata API is not
/// available to this key or this version.
pub fn standard_schema() -> Vec<ObjectSchema> {
    use FieldType::*;
    let make = |name: &str, label: &str, cols: &[(&str, FieldType)]| ObjectSchema {
        name: name.into(),
        label: label.into(),
        fields: cols
            .iter()
            .map(|(n, t)| FieldSchema { read_only: READ_ONLY.contains(n), ..FieldSchema::new(n, *t) })
            .collect(),
    };
    let companies = make(
        "companies",
        "Companies",
        &[
            ("id", Id),
            ("name", Text),
            ("domainName.primaryLinkUrl", Text),
            ("domainName.primaryLinkLabel", Text),
            ("employees", Decimal),
            ("linkedinLink.primaryLinkUrl", Text),
            ("xLink.primaryLinkUrl", Text),
            ("annualRecurringRevenue.amount", Decimal),
            ("annualRecurringRevenue.currencyCode", Text),
            ("address.addressStreet1", Text),
            ("address.addressStreet2", Text),
            ("address.addressCity", Text),
            ("address.addressState", Text),
            ("address.addressCountry", Text),
            ("address.addressPostcode", Text),
            ("idealCustomerProfile", Bool),
            ("accountOwnerId", Id),
            ("createdAt", DateTime),
            ("updatedAt", DateTime),
        ],
    );
    let people = make(
        "people",
        "People",
        &[
            ("id", Id),
            ("name.firstName", Text),
            ("name.lastName", Text),
            ("emails.primaryEmail", Text),
            ("emails.additionalEmails", List),
            ("phones.primaryPhoneNumber", Text),
            ("phones.primaryPhoneCountryCode", Text),
            ("phones.primaryPhoneCallingCode", Text),
            ("linkedinLink.primaryLinkUrl", Text),
            ("xLink.primaryLinkUrl", Text),
            ("jobTitle", Text),
            ("city", Text),
            ("avatarUrl", Text),
            ("companyId", Id),
            ("company", Text),
            ("createdAt", DateTime),
            ("updatedAt", DateTime),
        ],
    );
    vec![companies, people]
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn composites_flatten_and_currency_is_exact() {
        let j = json!({
            "id": "c1", "updatedAt": "2026-01-02T03:04:05.678Z", "name": "Acme",
            "annualRecurringRevenue": {"amountMicros": 1234567890, "currencyCode": "EUR"},
            "domainName": {"primaryLinkUrl": "https://acme.com", "primaryLinkLabel": "", "secondaryLinks": [{"url": "x", "label": "y"}]},
            "createdBy": {"source": "API", "name": "key"}, "position": 3,
            "people": [{"id": "p1"}], "accountOwner": {"id": "m1", "name": "x"}
        });
        let r = record_from_json(j.as_object().unwrap());
        assert_eq!(r.get("annualRecurringRevenue.amount"), &Value::Decimal(Decimal::from_str("1234.56789").unwrap()), "micros / 1e6 exactly");
        assert_eq!(r.get("domainName.primaryLinkUrl"), &Value::text("https://acme.com"));
        for absent in ["createdBy.source", "position", "people", "accountOwner.name", "domainName.secondaryLinks", "annualRecurringRevenue.amountMicros"] {
            assert!(!r.fields.contains_key(absent), "{absent} is system/relation data and must not be a column");
        }
        assert_eq!(r.updated_at.unwrap().timestamp_subsec_millis(), 678, "updatedAt keeps milliseconds");
        let back = fields_to_json(&r.fields).unwrap();
        assert_eq!(back["annualRecurringRevenue"]["amountMicros"], json!(1234567890), "amount converts back to the same micros");
        assert!(!back.contains_key("id") && !back.contains_key("updatedAt"), "read-only fields are not written");
    }

    #[test]
    fn envelopes_of_every_version_are_read() {
        let current = json!({"data": {"companies": [{"id": "a"}]}, "pageInfo": {"hasNextPage": true, "endCursor": "E"}, "totalCount": 5});
        let edges = json!({"data": {"companies": {"edges": [{"node": {"id": "a"}, "cursor": "x"}], "pageInfo": {"hasNextPage": false}}}});
        let create = json!({"data": {"createCompanies": [{"id": "a"}]}});
        let one = json!({"data": {"company": {"id": "a"}}});
        let plain = json!([{"id": "a"}]);
        for body in [&current, &edges, &create, &one, &plain] {
            let recs = records_in(body);
            assert_eq!(recs.len(), 1, "one record in {body}");
            assert_eq!(recs[0]["id"], "a");
        }
        assert_eq!(page_info(&current), (true, Some("E".into())));
        assert_eq!(total_count(&current), Some(5));
    }

    #[test]
    fn metadata_maps_composites_relations_and_skips_system_fields() {
        let obj = json!({"namePlural": "people", "labelPlural": "People", "isSystem": false, "isActive": true, "fields": [
            {"name": "id", "type": "UUID", "isSystem": true},
            {"name": "name", "type": "FULL_NAME", "label": "Name"},
            {"name": "company", "type": "RELATION", "settings": {"relationType": "MANY_TO_ONE", "joinColumnName": "companyId"}},
            {"name": "searchVector", "type": "TS_VECTOR", "isSystem": true},
            {"name": "createdBy", "type": "ACTOR"},
            {"name": "stage", "type": "SELECT", "options": [{"value": "NEW"}, {"value": "WON"}]},
        ]});
        let s = schema_from_metadata(&obj).unwrap();
        let names: Vec<&str> = s.fields.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["id", "name.firstName", "name.lastName", "companyId", "stage", "company"], "columns in metadata order plus the derived company name");
        assert_eq!(s.field("stage").unwrap().options, ["NEW", "WON"], "select options become drop-down values");
        assert!(s.field("id").unwrap().read_only, "id is read-only");
    }
}
