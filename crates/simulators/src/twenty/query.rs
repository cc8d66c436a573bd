//! The list query language: `filter` (the grammar subset of API_FACTS §1.4), `order_by`
//! and opaque cursors tied to the ordering.

use std::cmp::Ordering;

use base64::Engine;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value as Json};

/// A parsed filter.
#[derive(Clone, Debug, PartialEq)]
pub enum Filter {
    And(Vec<Filter>),
    Or(Vec<Filter>),
    Not(Box<Filter>),
    Leaf { path: String, op: String, value: String },
}

const OPS: &[&str] = &["eq", "neq", "in", "containsAny", "is", "gt", "gte", "lt", "lte", "startsWith", "like", "ilike"];

/// Parses a filter string. No parentheses at the top → the leaves are AND-ed.
pub fn parse_filter(s: &str) -> Result<Filter, String> {
    let mut p = Parser { s: s.as_bytes(), i: 0, src: s };
    let items = p.list(false)?;
    if p.i != p.s.len() {
        return Err(format!("unexpected text at position {} of filter {s:?}", p.i));
    }
    Ok(if items.len() == 1 { items.into_iter().next().expect("one") } else { Filter::And(items) })
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
    src: &'a str,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }
    fn skip_ws(&mut self) {
        while self.peek().is_some_and(|c| c == b' ') {
            self.i += 1;
        }
    }
    fn list(&mut self, inside: bool) -> Result<Vec<Filter>, String> {
        let mut out = vec![self.expr()?];
        loop {
            self.skip_ws();
            match self.peek() {
                Some(b',') => {
                    self.i += 1;
                    out.push(self.expr()?);
                }
                Some(b')') if inside => return Ok(out),
                None if !inside => return Ok(out),
                _ => return Err(format!("expected ',' or ')' at position {} of filter {:?}", self.i, self.src)),
            }
        }
    }
    fn expr(&mut self) -> Result<Filter, String> {
        self.skip_ws();
        for conj in ["and(", "or(", "not("] {
            if self.s[self.i..].starts_with(conj.as_bytes()) {
                self.i += conj.len();
                let items = self.list(true)?;
                self.i += 1; // ')'
                return Ok(match conj {
                    "and(" => Filter::And(items),
                    "or(" => Filter::Or(items),
                    _ => Filter::Not(Box::new(if items.len() == 1 { items.into_iter().next().expect("one") } else { Filter::And(items) })),
                });
            }
        }
        let start = self.i;
        while self.peek().is_some_and(|c| c != b'[') {
            self.i += 1;
        }
        let path = self.src[start..self.i].trim().to_string();
        if self.peek() != Some(b'[') || path.is_empty() {
            return Err(format!("{:?} is not field[comparator]:value", &self.src[start..]));
        }
        self.i += 1;
        let op_start = self.i;
        while self.peek().is_some_and(|c| c != b']') {
            self.i += 1;
        }
        let op = self.src[op_start..self.i].to_string();
        if !OPS.contains(&op.as_str()) {
            return Err(format!("'{op}' is not a valid comparator; use one of {}", OPS.join(", ")));
        }
        self.i += 1;
        if self.peek() != Some(b':') {
            return Err(format!("expected ':' after {path}[{op}]"));
        }
        self.i += 1;
        let vstart = self.i;
        match self.peek() {
            Some(b'[') => {
                while self.peek().is_some_and(|c| c != b']') {
                    self.i += 1;
                }
                self.i += 1;
            }
            Some(q @ (b'"' | b'\'')) => {
                self.i += 1;
                while self.peek().is_some_and(|c| c != q) {
                    self.i += 1;
                }
                self.i += 1;
            }
            _ => {
                while self.peek().is_some_and(|c| c != b',' && c != b')') {
                    self.i += 1;
                }
            }
        }
        let value = self.src.get(vstart..self.i.min(self.s.len())).unwrap_or("").to_string();
        Ok(Filter::Leaf { path, op, value })
    }
}

fn unquote(s: &str) -> &str {
    let s = s.trim();
    for q in ['"', '\''] {
        if s.len() >= 2 && s.starts_with(q) && s.ends_with(q) {
            return &s[1..s.len() - 1];
        }
    }
    s
}

/// The value at a dotted path (`name.firstName`).
pub fn get_path<'a>(record: &'a Map<String, Json>, path: &str) -> &'a Json {
    static NULL: Json = Json::Null;
    let mut parts = path.split('.');
    let mut cur = parts.next().and_then(|p| record.get(p)).unwrap_or(&NULL);
    for p in parts {
        cur = cur.get(p).unwrap_or(&NULL);
    }
    cur
}

fn time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s).ok().map(|t| t.with_timezone(&Utc))
}

/// Compares a stored value with filter text the way a typed database column would.
fn cmp_text(v: &Json, text: &str) -> Option<Ordering> {
    match v {
        Json::Null => None,
        Json::Number(n) => n.as_f64()?.partial_cmp(&text.parse::<f64>().ok()?),
        Json::Bool(b) => Some(b.cmp(&text.parse::<bool>().ok()?)),
        Json::String(s) => match (time(s), time(text)) {
            (Some(a), Some(b)) => Some(a.cmp(&b)),
            _ => Some(s.as_str().cmp(text)),
        },
        _ => None,
    }
}

fn like(v: &str, pattern: &str) -> bool {
    let parts: Vec<&str> = pattern.split('%').collect();
    let mut pos = 0;
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            if !v.starts_with(part) {
                return false;
            }
            pos = part.len();
        } else if i == parts.len() - 1 {
            return v[pos..].ends_with(part);
        } else if let Some(at) = v[pos..].find(part) {
            pos += at + part.len();
        } else {
            return false;
        }
    }
    pos == v.len()
}

impl Filter {
    /// Every field path the filter names.
    pub fn paths(&self) -> Vec<&str> {
        match self {
            Filter::And(v) | Filter::Or(v) => v.iter().flat_map(Filter::paths).collect(),
            Filter::Not(f) => f.paths(),
            Filter::Leaf { path, .. } => vec![path.as_str()],
        }
    }

    pub fn matches(&self, r: &Map<String, Json>) -> bool {
        match self {
            Filter::And(v) => v.iter().all(|f| f.matches(r)),
            Filter::Or(v) => v.iter().any(|f| f.matches(r)),
            Filter::Not(f) => !f.matches(r),
            Filter::Leaf { path, op, value } => {
                let v = get_path(r, path);
                let text = unquote(value);
                match op.as_str() {
                    "eq" => cmp_text(v, text) == Some(Ordering::Equal),
                    "neq" => cmp_text(v, text) != Some(Ordering::Equal),
                    "gt" => cmp_text(v, text) == Some(Ordering::Greater),
                    "gte" => matches!(cmp_text(v, text), Some(Ordering::Greater | Ordering::Equal)),
                    "lt" => cmp_text(v, text) == Some(Ordering::Less),
                    "lte" => matches!(cmp_text(v, text), Some(Ordering::Less | Ordering::Equal)),
                    "is" => match text {
                        "NULL" => v.is_null(),
                        _ => !v.is_null(),
                    },
                    "in" => list_items(text).any(|item| cmp_text(v, item) == Some(Ordering::Equal)),
                    "containsAny" => v.as_array().is_some_and(|a| list_items(text).any(|item| a.iter().any(|x| cmp_text(x, item) == Some(Ordering::Equal)))),
                    "startsWith" => v.as_str().is_some_and(|s| s.starts_with(text)),
                    "like" => v.as_str().is_some_and(|s| like(s, text)),
                    "ilike" => v.as_str().is_some_and(|s| like(&s.to_lowercase(), &text.to_lowercase())),
                    _ => false,
                }
            }
        }
    }
}

fn list_items(text: &str) -> impl Iterator<Item = &str> {
    text.trim().trim_start_matches('[').trim_end_matches(']').split(',').map(unquote).filter(|s| !s.is_empty())
}

/// One `order_by` term.
#[derive(Clone, Debug, PartialEq)]
pub struct OrderTerm {
    pub path: String,
    pub asc: bool,
    pub nulls_first: bool,
}

/// Parses `field[Direction],field2`; `id` ascending is appended as the tie-breaker.
pub fn parse_order_by(s: Option<&str>) -> Result<Vec<OrderTerm>, String> {
    let mut out = vec![];
    for term in s.unwrap_or("").split(',').map(str::trim).filter(|t| !t.is_empty()) {
        let (path, dir) = match term.split_once('[') {
            Some((p, d)) => (p, d.trim_end_matches(']')),
            None => (term, "AscNullsFirst"),
        };
        let (asc, nulls_first) = match dir {
            "AscNullsFirst" => (true, true),
            "AscNullsLast" => (true, false),
            "DescNullsFirst" => (false, true),
            "DescNullsLast" => (false, false),
            other => return Err(format!("'{other}' is not a valid order direction; use AscNullsFirst, AscNullsLast, DescNullsFirst or DescNullsLast")),
        };
        out.push(OrderTerm { path: path.to_string(), asc, nulls_first });
    }
    if !out.iter().any(|t| t.path == "id") {
        out.push(OrderTerm { path: "id".into(), asc: true, nulls_first: true });
    }
    Ok(out)
}

fn cmp_json(a: &Json, b: &Json) -> Ordering {
    match (a, b) {
        (Json::Number(x), Json::Number(y)) => x.as_f64().unwrap_or(0.0).total_cmp(&y.as_f64().unwrap_or(0.0)),
        (Json::String(x), Json::String(y)) => match (time(x), time(y)) {
            (Some(p), Some(q)) => p.cmp(&q),
            _ => x.cmp(y),
        },
        (Json::Bool(x), Json::Bool(y)) => x.cmp(y),
        _ => a.to_string().cmp(&b.to_string()),
    }
}

/// The sort key of a record under `order`.
pub fn sort_key(r: &Map<String, Json>, order: &[OrderTerm]) -> Vec<Json> {
    order.iter().map(|t| get_path(r, &t.path).clone()).collect()
}

/// Compares two sort keys under `order`.
pub fn cmp_keys(a: &[Json], b: &[Json], order: &[OrderTerm]) -> Ordering {
    for ((x, y), t) in a.iter().zip(b).zip(order) {
        let o = match (x.is_null(), y.is_null()) {
            (true, true) => Ordering::Equal,
            (true, false) => if t.nulls_first { Ordering::Less } else { Ordering::Greater },
            (false, true) => if t.nulls_first { Ordering::Greater } else { Ordering::Less },
            _ => {
                let o = cmp_json(x, y);
                if t.asc { o } else { o.reverse() }
            }
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    Ordering::Equal
}

/// An opaque cursor: the sort key, base64-encoded.
pub fn encode_cursor(key: &[Json]) -> String {
    base64::engine::general_purpose::STANDARD.encode(serde_json::to_vec(key).unwrap_or_default())
}

pub fn decode_cursor(c: &str) -> Option<Vec<Json>> {
    let bytes = base64::engine::general_purpose::STANDARD.decode(c.trim()).ok()?;
    serde_json::from_slice(&bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn grammar_subset() {
        let r = json!({"id": "b", "name": {"firstName": "Jo"}, "updatedAt": "2026-01-01T00:00:01.000Z", "n": 5, "deletedAt": null});
        let r = r.as_object().unwrap();
        let yes = [
            r#"updatedAt[gte]:"2026-01-01T00:00:00.000Z""#,
            "id[in]:[a,b,c]",
            r#"id[in]:["a","b"]"#,
            "name.firstName[eq]:Jo",
            "and(n[gt]:4,n[lte]:5)",
            "or(n[eq]:1,deletedAt[is]:NULL)",
            "not(id[eq]:a)",
            "n[eq]:5,id[eq]:b",
            "name.firstName[ilike]:\"%j%\"",
        ];
        for f in yes {
            assert!(parse_filter(f).unwrap().matches(r), "{f} must match");
        }
        let no = ["updatedAt[gt]:\"2026-01-01T00:00:01Z\"", "id[in]:[a,c]", "deletedAt[is]:NOT_NULL", "n[eq]:5,id[eq]:a"];
        for f in no {
            assert!(!parse_filter(f).unwrap().matches(r), "{f} must not match");
        }
        assert!(parse_filter("id[regex]:x").is_err(), "unsupported comparators are refused");
    }

    #[test]
    fn order_and_cursor() {
        let order = parse_order_by(Some("updatedAt[AscNullsFirst],id[AscNullsFirst]")).unwrap();
        assert_eq!(order.len(), 2, "id is not appended twice");
        let a = vec![json!("2026-01-01T00:00:00.000Z"), json!("a")];
        let b = vec![json!("2026-01-01T00:00:00.000Z"), json!("b")];
        assert_eq!(cmp_keys(&a, &b, &order), Ordering::Less, "id breaks ties");
        assert_eq!(decode_cursor(&encode_cursor(&a)), Some(a), "cursors round-trip");
        assert!(parse_order_by(Some("name[Up]")).is_err(), "a bad direction is a 400");
    }
}
