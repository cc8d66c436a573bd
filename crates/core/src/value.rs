//! The value model: canonical field types, canonicalisation and stable hashing.
//!
//! Invariant: two representations of the same business value (`" 42 "`, `42`, `42.0`,
//! `"42.00"` in an integer field; `2024-03-01` as text or as a date cell) canonicalise to
//! the *same* [`Value`], so comparing or hashing canonical values never reports a change
//! that isn't one. Money is exact: decimals never pass through `f64` arithmetic; a float
//! read from a file or JSON is converted through its shortest round-trip text form.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

use chrono::{DateTime, NaiveDate, NaiveDateTime, SecondsFormat, TimeZone, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The canonical type of a field. A closed set: every connector maps its vendor types here.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum FieldType {
    /// Free text, trimmed.
    #[default]
    Text,
    /// An identifier: always text, never a number (19-digit Zoho ids, leading zeros).
    Id,
    Integer,
    /// Exact decimal (money, quantities).
    Decimal,
    Float,
    Bool,
    Date,
    /// A point in time, normalised to UTC with whole seconds.
    DateTime,
    /// An ordered list of text values.
    List,
    /// One of a fixed set of options (text).
    Enum,
}

impl fmt::Display for FieldType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = serde_json::to_value(self).ok();
        write!(f, "{}", s.as_ref().and_then(|v| v.as_str()).unwrap_or("?"))
    }
}

/// A float that compares by value (after canonicalisation `-0.0` is `0.0`, NaN is rejected).
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Float(pub f64);

impl PartialEq for Float {
    fn eq(&self, other: &Self) -> bool {
        self.0.to_bits() == other.0.to_bits() || self.0 == other.0
    }
}
impl Eq for Float {}
impl Hash for Float {
    fn hash<H: Hasher>(&self, state: &mut H) {
        let v = if self.0 == 0.0 { 0.0f64 } else { self.0 };
        v.to_bits().hash(state);
    }
}
impl PartialOrd for Float {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Float {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.total_cmp(&other.0)
    }
}

/// A field value. Use [`canonicalize`] before comparing values from different systems.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Default)]
#[serde(tag = "t", content = "v", rename_all = "snake_case")]
pub enum Value {
    #[default]
    Null,
    Text(String),
    Int(i64),
    Decimal(Decimal),
    Float(Float),
    Bool(bool),
    Date(NaiveDate),
    DateTime(DateTime<Utc>),
    List(Vec<Value>),
}

/// Field name → value. A `BTreeMap` so iteration, serialisation and hashing are ordered.
pub type Fields = BTreeMap<String, Value>;

/// Why a value could not be read as its field's type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{value:?} is not a valid {expected}: {reason}")]
pub struct ValueError {
    pub value: String,
    pub expected: FieldType,
    pub reason: String,
}

impl Value {
    pub fn text(s: impl Into<String>) -> Self {
        Value::Text(s.into())
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The value as a user would type it: used for workbook cells, logs and conflict views.
    pub fn display(&self) -> String {
        match self {
            Value::Null => String::new(),
            Value::Text(s) => s.clone(),
            Value::Int(i) => i.to_string(),
            Value::Decimal(d) => d.normalize().to_string(),
            Value::Float(f) => format_float(f.0),
            Value::Bool(b) => b.to_string(),
            Value::Date(d) => d.format("%Y-%m-%d").to_string(),
            Value::DateTime(t) => t.to_rfc3339_opts(SecondsFormat::Secs, true),
            Value::List(items) => items.iter().map(Value::display).collect::<Vec<_>>().join(", "),
        }
    }

    /// Converts a JSON value (as vendors send it) into a raw, not yet canonical value.
    pub fn from_json(v: &serde_json::Value) -> Value {
        match v {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(*b),
            serde_json::Value::Number(n) => {
                if let Some(i) = n.as_i64() {
                    Value::Int(i)
                } else if let Ok(d) = Decimal::from_str(&n.to_string()) {
                    Value::Decimal(d)
                } else {
                    Value::Float(Float(n.as_f64().unwrap_or(0.0)))
                }
            }
            serde_json::Value::String(s) => Value::Text(s.clone()),
            serde_json::Value::Array(items) => Value::List(items.iter().map(Value::from_json).collect()),
            serde_json::Value::Object(_) => Value::Text(v.to_string()),
        }
    }

    /// Converts a canonical value to JSON for a vendor API (decimals as JSON numbers).
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Value::Null => serde_json::Value::Null,
            Value::Text(s) => serde_json::Value::String(s.clone()),
            Value::Int(i) => serde_json::json!(i),
            Value::Decimal(d) => serde_json::Value::Number(
                serde_json::Number::from_str(&d.normalize().to_string())
                    .unwrap_or_else(|_| serde_json::Number::from(0)),
            ),
            Value::Float(f) => serde_json::json!(f.0),
            Value::Bool(b) => serde_json::Value::Bool(*b),
            Value::Date(_) | Value::DateTime(_) => serde_json::Value::String(self.display()),
            Value::List(items) => serde_json::Value::Array(items.iter().map(Value::to_json).collect()),
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.display())
    }
}

fn format_float(f: f64) -> String {
    if f.fract() == 0.0 && f.abs() < 1e15 {
        format!("{}", f as i64)
    } else {
        format!("{f}")
    }
}

/// Exact decimal from a float, through its shortest round-trip text (`0.1` stays `0.1`).
fn decimal_from_f64(f: f64) -> Option<Decimal> {
    Decimal::from_str(&format!("{f}"))
        .ok()
        .or_else(|| Decimal::from_scientific(&format!("{f:e}")).ok())
}

fn err(raw: &Value, expected: FieldType, reason: &str) -> ValueError {
    ValueError { value: raw.display(), expected, reason: reason.to_string() }
}

/// Parses a number typed by a person: spaces and thousands separators allowed, `1.234,56`
/// and `1,234.56` both understood, a lone comma read as the decimal separator.
fn parse_decimal_text(s: &str) -> Option<Decimal> {
    let cleaned: String = s.chars().filter(|c| !c.is_whitespace() && *c != '\u{a0}' && *c != '_').collect();
    if cleaned.is_empty() {
        return None;
    }
    let normalised = match (cleaned.rfind('.'), cleaned.rfind(',')) {
        (Some(dot), Some(comma)) if comma > dot => cleaned.replace('.', "").replace(',', "."),
        (Some(_), Some(_)) => cleaned.replace(',', ""),
        (None, Some(_)) => {
            // "1,234,567" is thousands; "12,5" is a decimal comma.
            let parts: Vec<&str> = cleaned.split(',').collect();
            if parts.len() > 2 || (parts.len() == 2 && parts[1].len() == 3 && !parts[0].is_empty() && parts[0] != "0" && parts[0] != "-0") {
                cleaned.replace(',', "")
            } else {
                cleaned.replace(',', ".")
            }
        }
        _ => cleaned,
    };
    Decimal::from_str(&normalised).ok().or_else(|| Decimal::from_scientific(&normalised).ok())
}

fn parse_bool_text(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" | "y" | "1" | "on" | "x" | "✓" | "ja" => Some(true),
        "false" | "no" | "n" | "0" | "off" | "nee" => Some(false),
        _ => None,
    }
}

fn parse_date_text(s: &str) -> Option<NaiveDate> {
    for f in ["%Y-%m-%d", "%Y/%m/%d", "%d.%m.%Y", "%Y%m%d"] {
        if let Ok(d) = NaiveDate::parse_from_str(s, f) {
            return Some(d);
        }
    }
    parse_datetime_text(s).map(|t| t.date_naive())
}

fn parse_datetime_text(s: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    if let Ok(t) = DateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f%:z") {
        return Some(t.with_timezone(&Utc));
    }
    for f in ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, f) {
            return Some(Utc.from_utc_datetime(&t));
        }
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| Utc.from_utc_datetime(&t))
}

fn truncate_seconds(t: DateTime<Utc>) -> DateTime<Utc> {
    Utc.timestamp_opt(t.timestamp(), 0).single().unwrap_or(t)
}

/// Canonicalises `raw` as a value of type `ty`.
///
/// Empty text, whitespace and empty lists are `Null` for every type, so "blank" is one value.
pub fn canonicalize(raw: &Value, ty: FieldType) -> Result<Value, ValueError> {
    if let Value::Text(s) = raw {
        if s.trim().is_empty() {
            return Ok(Value::Null);
        }
    }
    if matches!(raw, Value::Null) {
        return Ok(Value::Null);
    }
    if let Value::List(items) = raw {
        if items.iter().all(|v| matches!(v, Value::Null)) && ty != FieldType::List {
            return Ok(Value::Null);
        }
    }
    if let Value::Float(f) = raw {
        if !f.0.is_finite() {
            return Err(err(raw, ty, "not a finite number"));
        }
    }
    match ty {
        FieldType::Text | FieldType::Enum => Ok(Value::Text(match raw {
            Value::Text(s) => s.trim().to_string(),
            other => other.display(),
        })),
        FieldType::Id => Ok(Value::Text(match raw {
            Value::Text(s) => s.trim().to_string(),
            Value::Float(f) if f.0.fract() == 0.0 && f.0.abs() < 9.0e15 => format!("{}", f.0 as i64),
            Value::Decimal(d) if d.fract().is_zero() => d.trunc().normalize().to_string(),
            other => other.display(),
        })),
        FieldType::Integer => match raw {
            Value::Int(i) => Ok(Value::Int(*i)),
            Value::Float(f) if f.0.fract() == 0.0 && f.0.abs() < 9.2e18 => Ok(Value::Int(f.0 as i64)),
            Value::Decimal(d) if d.fract().is_zero() => {
                i64::try_from(d.trunc()).map(Value::Int).map_err(|_| err(raw, ty, "out of range"))
            }
            Value::Text(s) => match parse_decimal_text(s) {
                Some(d) if d.fract().is_zero() => {
                    i64::try_from(d.trunc()).map(Value::Int).map_err(|_| err(raw, ty, "out of range"))
                }
                Some(_) => Err(err(raw, ty, "has a fractional part")),
                None => Err(err(raw, ty, "not a number")),
            },
            Value::Bool(b) => Ok(Value::Int(i64::from(*b))),
            _ => Err(err(raw, ty, "not a whole number")),
        },
        FieldType::Decimal => match raw {
            Value::Int(i) => Ok(Value::Decimal(Decimal::from(*i))),
            Value::Decimal(d) => Ok(Value::Decimal(d.normalize())),
            Value::Float(f) => decimal_from_f64(f.0)
                .map(|d| Value::Decimal(d.normalize()))
                .ok_or_else(|| err(raw, ty, "out of range")),
            Value::Text(s) => parse_decimal_text(s)
                .map(|d| Value::Decimal(d.normalize()))
                .ok_or_else(|| err(raw, ty, "not a number")),
            _ => Err(err(raw, ty, "not a number")),
        },
        FieldType::Float => {
            let f = match raw {
                Value::Int(i) => *i as f64,
                Value::Float(f) => f.0,
                Value::Decimal(d) => d.to_string().parse().unwrap_or(0.0),
                Value::Text(s) => parse_decimal_text(s)
                    .and_then(|d| d.to_string().parse().ok())
                    .ok_or_else(|| err(raw, ty, "not a number"))?,
                _ => return Err(err(raw, ty, "not a number")),
            };
            Ok(Value::Float(Float(if f == 0.0 { 0.0 } else { f })))
        }
        FieldType::Bool => match raw {
            Value::Bool(b) => Ok(Value::Bool(*b)),
            Value::Int(i) if *i == 0 || *i == 1 => Ok(Value::Bool(*i == 1)),
            Value::Float(f) if f.0 == 0.0 || f.0 == 1.0 => Ok(Value::Bool(f.0 == 1.0)),
            Value::Text(s) => parse_bool_text(s).map(Value::Bool).ok_or_else(|| err(raw, ty, "use true/false or yes/no")),
            _ => Err(err(raw, ty, "use true/false or yes/no")),
        },
        FieldType::Date => match raw {
            Value::Date(d) => Ok(Value::Date(*d)),
            Value::DateTime(t) => Ok(Value::Date(t.date_naive())),
            Value::Text(s) => parse_date_text(s.trim()).map(Value::Date).ok_or_else(|| err(raw, ty, "use YYYY-MM-DD")),
            _ => Err(err(raw, ty, "use YYYY-MM-DD")),
        },
        FieldType::DateTime => match raw {
            Value::DateTime(t) => Ok(Value::DateTime(truncate_seconds(*t))),
            Value::Date(d) => Ok(Value::DateTime(Utc.from_utc_datetime(&d.and_hms_opt(0, 0, 0).unwrap_or_default()))),
            Value::Text(s) => parse_datetime_text(s.trim())
                .map(|t| Value::DateTime(truncate_seconds(t)))
                .ok_or_else(|| err(raw, ty, "use an ISO date and time such as 2024-03-01T09:30:00Z")),
            _ => Err(err(raw, ty, "use an ISO date and time")),
        },
        FieldType::List => {
            let items: Vec<Value> = match raw {
                Value::List(items) => items.clone(),
                Value::Text(s) => {
                    let t = s.trim();
                    match serde_json::from_str::<serde_json::Value>(t) {
                        Ok(j @ serde_json::Value::Array(_)) => match Value::from_json(&j) {
                            Value::List(items) => items,
                            _ => vec![],
                        },
                        _ => t.split([',', ';', '\n']).map(|p| Value::Text(p.to_string())).collect(),
                    }
                }
                other => vec![other.clone()],
            };
            let items: Vec<Value> = items
                .iter()
                .filter_map(|v| canonicalize(v, FieldType::Text).ok())
                .filter(|v| !v.is_null())
                .collect();
            Ok(if items.is_empty() { Value::Null } else { Value::List(items) })
        }
    }
}

/// A stable hash of a set of canonical fields: the same fields give the same hex string on
/// every machine and every version (serialisation is ordered and tagged).
pub fn stable_hash(fields: &Fields) -> String {
    let bytes = serde_json::to_vec(fields).unwrap_or_default();
    hex::encode(&Sha256::digest(&bytes)[..16])
}

/// A stable hash of one value.
pub fn value_hash(v: &Value) -> String {
    let bytes = serde_json::to_vec(v).unwrap_or_default();
    hex::encode(&Sha256::digest(&bytes)[..16])
}

/// Flattens a JSON object into dotted field names: `{"address":{"city":"X"}}` → `address.city`.
/// Arrays stay whole (as lists).
pub fn flatten_json(obj: &serde_json::Map<String, serde_json::Value>) -> Fields {
    fn walk(prefix: &str, v: &serde_json::Value, out: &mut Fields) {
        match v {
            serde_json::Value::Object(m) => {
                for (k, child) in m {
                    let name = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                    walk(&name, child, out);
                }
            }
            other => {
                out.insert(prefix.to_string(), Value::from_json(other));
            }
        }
    }
    let mut out = Fields::new();
    for (k, v) in obj {
        walk(k, v, &mut out);
    }
    out
}

/// The inverse of [`flatten_json`]: dotted names become nested JSON objects.
pub fn unflatten_json(fields: &Fields) -> serde_json::Map<String, serde_json::Value> {
    let mut root = serde_json::Map::new();
    for (name, value) in fields {
        let mut node = &mut root;
        let parts: Vec<&str> = name.split('.').collect();
        for (i, part) in parts.iter().enumerate() {
            if i + 1 == parts.len() {
                node.insert((*part).to_string(), value.to_json());
            } else {
                let entry = node
                    .entry((*part).to_string())
                    .or_insert_with(|| serde_json::Value::Object(serde_json::Map::new()));
                if !entry.is_object() {
                    *entry = serde_json::Value::Object(serde_json::Map::new());
                }
                node = entry.as_object_mut().expect("just made an object");
            }
        }
    }
    root
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(v: Value, t: FieldType) -> Value {
        canonicalize(&v, t).unwrap()
    }

    #[test]
    fn equal_representations_compare_equal() {
        // Each row: representations that must canonicalise to one value, or sync loops start.
        let cases: Vec<(FieldType, Vec<Value>)> = vec![
            (FieldType::Integer, vec![Value::Int(42), Value::text(" 42 "), Value::Float(Float(42.0)), Value::text("42.00")]),
            (FieldType::Decimal, vec![Value::text("1234.50"), Value::text("1,234.5"), Value::text("1.234,50"), Value::Float(Float(1234.5))]),
            (FieldType::Decimal, vec![Value::Float(Float(0.1)), Value::text("0.10"), Value::Decimal(Decimal::new(1, 1))]),
            (FieldType::Id, vec![Value::text("1234567890123456789"), Value::text(" 1234567890123456789")]),
            (FieldType::Id, vec![Value::Float(Float(12345.0)), Value::text("12345"), Value::Int(12345)]),
            (FieldType::Bool, vec![Value::Bool(true), Value::text("yes"), Value::text("TRUE"), Value::Int(1)]),
            (FieldType::Date, vec![Value::text("2024-03-01"), Value::Date(NaiveDate::from_ymd_opt(2024, 3, 1).unwrap()), Value::text("2024-03-01T10:00:00Z")]),
            (FieldType::DateTime, vec![Value::text("2024-03-01T10:00:00Z"), Value::text("2024-03-01T10:00:00.123Z"), Value::text("2024-03-01T11:00:00+01:00"), Value::text("2024-03-01 10:00:00")]),
            (FieldType::Text, vec![Value::text("  Acme "), Value::text("Acme")]),
            (FieldType::List, vec![Value::text("a, b"), Value::List(vec![Value::text("a"), Value::text("b")]), Value::text("[\"a\",\"b\"]")]),
        ];
        for (ty, reps) in cases {
            let first = c(reps[0].clone(), ty);
            for r in &reps[1..] {
                assert_eq!(c(r.clone(), ty), first, "{r:?} as {ty} must equal {:?}", reps[0]);
                assert_eq!(value_hash(&c(r.clone(), ty)), value_hash(&first), "hash must follow equality");
            }
        }
    }

    #[test]
    fn blanks_are_null_for_every_type() {
        for ty in [FieldType::Text, FieldType::Integer, FieldType::Decimal, FieldType::Date, FieldType::List, FieldType::Bool] {
            assert_eq!(c(Value::text("   "), ty), Value::Null, "blank {ty} must be null");
        }
    }

    #[test]
    fn ids_keep_leading_zeros_and_all_digits() {
        assert_eq!(c(Value::text("00123"), FieldType::Id), Value::text("00123"));
        assert_eq!(c(Value::text("00123"), FieldType::Text), Value::text("00123"));
        assert_eq!(c(Value::text("4150868000000224005"), FieldType::Id), Value::text("4150868000000224005"));
    }

    #[test]
    fn bad_values_are_errors_naming_the_type() {
        let e = canonicalize(&Value::text("abc"), FieldType::Integer).unwrap_err();
        assert_eq!(e.expected, FieldType::Integer);
        assert!(canonicalize(&Value::text("12.5"), FieldType::Integer).is_err(), "fraction is not an integer");
        assert!(canonicalize(&Value::text("maybe"), FieldType::Bool).is_err());
        assert!(canonicalize(&Value::text("31/31/2024"), FieldType::Date).is_err());
    }

    #[test]
    fn money_is_exact() {
        let a = c(Value::text("0.1"), FieldType::Decimal);
        let b = c(Value::text("0.2"), FieldType::Decimal);
        if let (Value::Decimal(a), Value::Decimal(b)) = (a, b) {
            assert_eq!((a + b).to_string(), "0.3", "decimal arithmetic must not go through f64");
        } else {
            panic!("decimal expected");
        }
    }

    #[test]
    fn flatten_and_unflatten_round_trip() {
        let j = serde_json::json!({"name": {"firstName": "Jane", "lastName": "Doe"}, "city": "Paris", "n": 3});
        let flat = flatten_json(j.as_object().unwrap());
        assert_eq!(flat.get("name.firstName"), Some(&Value::text("Jane")));
        assert_eq!(serde_json::Value::Object(unflatten_json(&flat)), j);
    }

    #[test]
    fn stable_hash_is_order_independent_and_fixed() {
        let mut a = Fields::new();
        a.insert("b".into(), Value::Int(1));
        a.insert("a".into(), Value::text("x"));
        let mut b = Fields::new();
        b.insert("a".into(), Value::text("x"));
        b.insert("b".into(), Value::Int(1));
        assert_eq!(stable_hash(&a), stable_hash(&b));
        assert_eq!(stable_hash(&a).len(), 32);
    }
}
