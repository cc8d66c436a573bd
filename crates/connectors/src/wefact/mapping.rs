//! WeFact JSON ↔ records: objects and controllers, invoice lines, status names, WeFact's
//! naive local times, and records → form fields for `add`/`edit`.

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, NaiveDateTime, TimeZone, Utc, Weekday};
use crosswalk_core::connector::{FieldSchema, ObjectSchema, Record};
use crosswalk_core::value::Fields;
use crosswalk_core::{FieldType, Value};
use serde_json::{Map, Value as Json};

use super::config::{WeFactConfig, WeFactTimezone};

/// The field holding an invoice's lines as a JSON array (one object per line, WeFact's
/// own keys: `Number`, `ProductCode`, `Description`, `PriceExcl`, `TaxPercentage`, …).
pub const LINES: &str = "lines";
/// The number of lines of an invoice.
pub const LINE_COUNT: &str = "line_count";
/// The invoice status as a name (`paid`), next to WeFact's numeric `Status`.
pub const STATUS_NAME: &str = "StatusName";
/// WeFact's name for the lines array.
pub const INVOICE_LINES: &str = "InvoiceLines";

/// Object name → (controller, plural list key).
pub fn controller(object: &str) -> Option<(&'static str, &'static str)> {
    match object {
        "debtors" | "debtor" => Some(("debtor", "debtors")),
        "invoices" | "invoice" => Some(("invoice", "invoices")),
        _ => None,
    }
}

/// The objects this connector offers.
pub const OBJECTS: &[&str] = &["debtors", "invoices"];

/// The EU summer-time rule: CEST (+02:00) from the last Sunday of March 01:00 UTC to the
/// last Sunday of October 01:00 UTC, else CET (+01:00).
pub fn amsterdam_offset_at_local(t: &NaiveDateTime) -> FixedOffset {
    fn last_sunday(year: i32, month: u32) -> NaiveDate {
        let mut d = NaiveDate::from_ymd_opt(year, month + 1, 1).expect("valid month") - chrono::Duration::days(1);
        while d.weekday() != Weekday::Sun {
            d -= chrono::Duration::days(1);
        }
        d
    }
    let y = t.date().year();
    // Local switch times: 02:00 CET in March, 03:00 CEST in October.
    let start = last_sunday(y, 3).and_hms_opt(2, 0, 0).expect("valid time");
    let end = last_sunday(y, 10).and_hms_opt(3, 0, 0).expect("valid time");
    let hours = if *t >= start && *t < end { 2 } else { 1 };
    FixedOffset::east_opt(hours * 3600).expect("valid offset")
}

/// Reads one of WeFact's times (`2024-01-21 12:00:00`, `2024-01-21`, or ISO-8601 with an
/// offset) as UTC.
pub fn parse_time(s: &str, tz: WeFactTimezone) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if s.is_empty() || s.starts_with("0000") {
        return None;
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    let naive = NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S")
        .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S"))
        .ok()
        .or_else(|| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok().and_then(|d| d.and_hms_opt(0, 0, 0)))?;
    let off = match tz {
        WeFactTimezone::Amsterdam => amsterdam_offset_at_local(&naive),
        WeFactTimezone::Fixed(o) => o,
    };
    off.from_local_datetime(&naive).single().map(|t| t.with_timezone(&Utc))
}

/// The local naive form WeFact uses (`YYYY-MM-DD HH:MM:SS`) of an envelope `date`
/// (ISO-8601 with WeFact's offset): the server's own clock, so no conversion is needed.
pub fn envelope_date_to_local(s: &str) -> Option<String> {
    DateTime::parse_from_rfc3339(s.trim()).ok().map(|t| t.naive_local().format("%Y-%m-%d %H:%M:%S").to_string())
}

/// Compares two WeFact times as text: both are `YYYY-MM-DD[ HH:MM:SS]` in the same zone,
/// so text order is time order (a bare date sorts before any time on that day).
pub fn at_or_after(modified: &str, since: &str) -> bool {
    modified.trim() >= since.trim()
}

fn scalar(v: &Json) -> Value {
    match v {
        Json::Array(_) => Value::Text(v.to_string()),
        other => Value::from_json(other),
    }
}

/// A WeFact object as a record: id = `Identifier`; scalar fields as sent; nested objects
/// dotted (`Custom.X`); arrays as JSON text; invoice lines in [`LINES`] (JSON text, keys
/// sorted so equal lines compare equal) plus [`LINE_COUNT`]; invoices get [`STATUS_NAME`].
pub fn record_from_json(object: &str, raw: &Map<String, Json>, config: &WeFactConfig) -> Record {
    let id = match raw.get("Identifier") {
        Some(Json::String(s)) => s.trim().to_string(),
        Some(Json::Number(n)) => n.to_string(),
        _ => String::new(),
    };
    let mut fields = Fields::new();
    for (k, v) in raw {
        if k == INVOICE_LINES {
            let lines: Vec<Json> = match v {
                Json::Array(a) => a.clone(),
                Json::Object(m) => m.values().cloned().collect(),
                _ => vec![],
            };
            fields.insert(LINE_COUNT.into(), Value::Int(lines.len() as i64));
            // serde_json's Map is ordered by key (no preserve_order), so this is canonical.
            fields.insert(LINES.into(), Value::Text(Json::Array(lines).to_string()));
            continue;
        }
        match v {
            Json::Object(m) => {
                for (k2, v2) in m {
                    fields.insert(format!("{k}.{k2}"), scalar(v2));
                }
            }
            other => {
                fields.insert(k.clone(), scalar(other));
            }
        }
    }
    if controller(object).map(|c| c.0) == Some("invoice") {
        let code = match raw.get("Status") {
            Some(Json::String(s)) => Some(s.trim().to_string()),
            Some(Json::Number(n)) => Some(n.to_string()),
            _ => None,
        };
        let name = code.map(|c| config.invoice_status_names.get(&c).cloned().unwrap_or_else(|| format!("status_{c}")));
        fields.insert(STATUS_NAME.into(), name.map(Value::Text).unwrap_or(Value::Null));
    }
    let updated_at = raw.get(&config.modified_field).and_then(Json::as_str).and_then(|s| parse_time(s, config.timezone));
    Record { id, fields, updated_at }
}

/// The modified time of a raw object, as WeFact wrote it.
pub fn modified_text<'a>(raw: &'a Map<String, Json>, config: &WeFactConfig) -> Option<&'a str> {
    raw.get(&config.modified_field).and_then(Json::as_str).filter(|s| !s.trim().is_empty() && !s.starts_with("0000"))
}

fn form_value(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::Bool(b) => if *b { "1" } else { "0" }.to_string(),
        other => other.display(),
    }
}

/// Record fields → form parameters for `add`/`edit`. Read-only fields (`Identifier`,
/// `Created`, `Modified`, `StatusName`, `line_count`) are left out; [`LINES`] (JSON text of
/// line objects) becomes PHP-style `InvoiceLines[i][Key]`.
pub fn fields_to_form(fields: &Fields, config: &WeFactConfig) -> Result<Vec<(String, String)>, String> {
    let mut out = vec![];
    for (k, v) in fields {
        if k == "Identifier" || k == "Created" || *k == config.modified_field || k == STATUS_NAME || k == LINE_COUNT {
            continue;
        }
        if k == LINES {
            let text = match v {
                Value::Null => continue,
                Value::Text(t) => t.clone(),
                other => return Err(format!("{LINES} must be JSON text of invoice lines, not {other:?}")),
            };
            let lines: Vec<Json> = serde_json::from_str(&text).map_err(|e| format!("{LINES} is not a JSON list of invoice lines: {e}"))?;
            for (i, line) in lines.iter().enumerate() {
                let obj = line.as_object().ok_or_else(|| format!("invoice line {i} is not an object"))?;
                for (lk, lv) in obj {
                    if lk == "Identifier" {
                        continue;
                    }
                    let s = match lv {
                        Json::String(s) => s.clone(),
                        Json::Null => String::new(),
                        other => other.to_string(),
                    };
                    out.push((format!("{INVOICE_LINES}[{i}][{lk}]"), s));
                }
            }
            continue;
        }
        match k.split_once('.') {
            Some((a, b)) => out.push((format!("{a}[{b}]"), form_value(v))),
            None => out.push((k.clone(), form_value(v))),
        }
    }
    Ok(out)
}

/// The standard fields of `debtors` and `invoices` (API_FACTS §4; others pass through).
pub fn standard_schema(config: &WeFactConfig) -> Vec<ObjectSchema> {
    let f = |n: &str, t: FieldType| FieldSchema::new(n, t);
    let ro = |n: &str, t: FieldType| FieldSchema { read_only: true, ..FieldSchema::new(n, t) };
    let debtors = vec![
        ro("Identifier", FieldType::Id),
        f("DebtorCode", FieldType::Text),
        f("CompanyName", FieldType::Text),
        f("Initials", FieldType::Text),
        f("SurName", FieldType::Text),
        f("Sex", FieldType::Text),
        f("EmailAddress", FieldType::Text),
        f("Address", FieldType::Text),
        f("ZipCode", FieldType::Text),
        f("City", FieldType::Text),
        f("Country", FieldType::Text),
        f("TaxNumber", FieldType::Text),
        f("CompanyNumber", FieldType::Text),
        f("PhoneNumber", FieldType::Text),
        ro("Created", FieldType::DateTime),
        ro(&config.modified_field, FieldType::DateTime),
    ];
    let mut status = ro(STATUS_NAME, FieldType::Enum);
    status.options = config.invoice_status_names.values().cloned().collect();
    let invoices = vec![
        ro("Identifier", FieldType::Id),
        f("InvoiceCode", FieldType::Text),
        f("Debtor", FieldType::Id),
        f("DebtorCode", FieldType::Text),
        f("Date", FieldType::Date),
        f("Term", FieldType::Integer),
        f("PayBefore", FieldType::Date),
        f("AmountExcl", FieldType::Decimal),
        f("AmountTax", FieldType::Decimal),
        f("AmountIncl", FieldType::Decimal),
        f("AmountOutstanding", FieldType::Decimal),
        f("Status", FieldType::Integer),
        status,
        f(LINES, FieldType::Text),
        ro(LINE_COUNT, FieldType::Integer),
        ro("Created", FieldType::DateTime),
        ro(&config.modified_field, FieldType::DateTime),
    ];
    vec![
        ObjectSchema { name: "debtors".into(), label: "Debtors".into(), fields: debtors },
        ObjectSchema { name: "invoices".into(), label: "Invoices".into(), fields: invoices },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn amsterdam_times_follow_summer_time() {
        let tz = WeFactTimezone::Amsterdam;
        assert_eq!(parse_time("2024-01-21 12:00:00", tz).unwrap().to_rfc3339(), "2024-01-21T11:00:00+00:00", "winter is CET (+01:00)");
        assert_eq!(parse_time("2024-07-01 12:00:00", tz).unwrap().to_rfc3339(), "2024-07-01T10:00:00+00:00", "summer is CEST (+02:00)");
        assert_eq!(parse_time("0000-00-00 00:00:00", tz), None, "PHP's zero date is no date");
        assert!(at_or_after("2024-01-21 00:00:01", "2024-01-21"), "a bare date sorts before times on that day");
    }

    #[test]
    fn invoices_get_lines_and_status_names() {
        let c = WeFactConfig::new("https://x/v2/");
        let raw = json!({"Identifier": "7", "Status": "3", "Modified": "2024-01-21 12:00:00",
            "InvoiceLines": [{"Number": "2", "Description": "Hosting", "PriceExcl": "10.00"}]});
        let r = record_from_json("invoices", raw.as_object().unwrap(), &c);
        assert_eq!(r.id, "7", "the id is the Identifier");
        assert_eq!(r.get(STATUS_NAME), &Value::text("paid"), "status codes are shown as names");
        assert_eq!(r.get(LINE_COUNT), &Value::Int(1), "lines are counted");
        assert_eq!(r.get(LINES), &Value::text(r#"[{"Description":"Hosting","Number":"2","PriceExcl":"10.00"}]"#), "lines are canonical JSON text");
        let form = fields_to_form(&r.fields, &c).unwrap();
        assert!(form.contains(&("InvoiceLines[0][Description]".into(), "Hosting".into())), "lines go back PHP-style: {form:?}");
        assert!(!form.iter().any(|(k, _)| k == "Identifier" || k == STATUS_NAME), "read-only fields are not sent");
    }
}
