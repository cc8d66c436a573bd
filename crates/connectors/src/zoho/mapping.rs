//! Zoho record JSON ↔ Crosswalk records, and field metadata → schemas.
//!
//! Lookups (`Owner`, `Account_Name`) are objects `{name, id}` and flatten to
//! `Owner.name` / `Owner.id`; ids are text (19 digits: never numbers). `Modified_Time` is
//! ISO-8601 with the user's offset and becomes the record's `updated_at`.

use chrono::{DateTime, Utc};
use crosswalk_core::value::{flatten_json, unflatten_json, Fields};
use crosswalk_core::{FieldSchema, FieldType, Record, Value};
use serde_json::{Map, Value as Json};

use super::client::{id_of, text_of};

/// A Zoho record as a Crosswalk record.
pub fn record_from_json(obj: &Map<String, Json>) -> Record {
    let id = id_of(obj).unwrap_or_default();
    let updated_at = obj.get("Modified_Time").and_then(Json::as_str).and_then(|s| DateTime::parse_from_rfc3339(s).ok()).map(|t| t.with_timezone(&Utc));
    let mut fields: Fields = flatten_json(obj);
    fields.insert("id".into(), Value::text(id.clone()));
    Record { id, fields, updated_at }
}

/// Fields to write → Zoho JSON (dotted names nest again: `Owner.id` → `{"Owner":{"id":…}}`).
pub fn fields_to_json(fields: &Fields) -> Map<String, Json> {
    let mut f = fields.clone();
    f.remove("id");
    unflatten_json(&f)
}

/// Zoho's `data_type` → our canonical type.
pub fn field_type(data_type: &str) -> FieldType {
    match data_type {
        "integer" | "bigint" | "autonumber" => FieldType::Integer,
        "currency" | "decimal" => FieldType::Decimal,
        "double" | "percent" => FieldType::Float,
        "boolean" => FieldType::Bool,
        "date" => FieldType::Date,
        "datetime" => FieldType::DateTime,
        "picklist" => FieldType::Enum,
        "multiselectpicklist" => FieldType::List,
        "lookup" | "ownerlookup" => FieldType::Id,
        _ => FieldType::Text,
    }
}

/// A field of `/settings/fields` as a schema field.
pub fn field_schema(f: &Map<String, Json>) -> Option<FieldSchema> {
    let name = f.get("api_name").map(text_of).filter(|s| !s.is_empty())?;
    let mut s = FieldSchema::new(&name, field_type(f.get("data_type").and_then(Json::as_str).unwrap_or("text")));
    if let Some(l) = f.get("field_label").and_then(Json::as_str) {
        s.label = l.to_string();
    }
    s.read_only = f.get("read_only").and_then(Json::as_bool).unwrap_or(false) || matches!(name.as_str(), "Modified_Time" | "Created_Time" | "id");
    s.required = f.get("system_mandatory").and_then(Json::as_bool).unwrap_or(false);
    s.options = f
        .get("pick_list_values")
        .and_then(Json::as_array)
        .map(|a| a.iter().filter_map(|p| p.get("actual_value").or_else(|| p.get("display_value")).and_then(Json::as_str).map(str::to_string)).collect())
        .unwrap_or_default();
    Some(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ids_stay_text_and_lookups_flatten() {
        let j = json!({"id": "5725767000000419001", "Deal_Name": "Acme", "Owner": {"name": "Jane", "id": "5725767000000411001"}, "Modified_Time": "2019-07-25T15:26:49+05:30"});
        let r = record_from_json(j.as_object().unwrap());
        assert_eq!(r.id, "5725767000000419001", "a 19-digit id is never a number");
        assert_eq!(r.get("Owner.name"), &Value::text("Jane"), "lookups flatten to dotted names");
        assert_eq!(r.updated_at.map(|t| t.to_rfc3339()), Some("2019-07-25T09:56:49+00:00".into()), "Modified_Time's offset is honoured");
        let back = fields_to_json(&r.fields);
        assert_eq!(back["Owner"]["id"], json!("5725767000000411001"), "and nest again on write");
        assert!(!back.contains_key("id"), "the id is not a field to write");
    }
}
