//! Request bodies as WeFact's PHP server reads them: `application/x-www-form-urlencoded`
//! with PHP-style nesting (`modified[from]=…`, `InvoiceLines[0][Number]=1`), or JSON.

use serde_json::{Map, Value as Json};

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Percent-decodes one form component (`+` is a space).
pub fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => match (hex(b[i + 1]), hex(b[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h * 16 + l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `a[b][c]` → `["a", "b", "c"]`.
fn path(key: &str) -> Vec<String> {
    let (head, rest) = match key.find('[') {
        Some(i) => (&key[..i], &key[i..]),
        None => return vec![key.to_string()],
    };
    let mut out = vec![head.to_string()];
    for part in rest.split('[').skip(1) {
        out.push(part.trim_end_matches(']').to_string());
    }
    out
}

fn insert(node: &mut Map<String, Json>, path: &[String], value: String) {
    if path.len() == 1 {
        node.insert(path[0].clone(), Json::String(value));
        return;
    }
    let child = node.entry(path[0].clone()).or_insert_with(|| Json::Object(Map::new()));
    if !child.is_object() {
        *child = Json::Object(Map::new());
    }
    if let Json::Object(m) = child {
        insert(m, &path[1..], value);
    }
}

/// Objects whose keys are all numbers become arrays (PHP lists).
fn listify(v: Json) -> Json {
    match v {
        Json::Object(m) => {
            let numeric = !m.is_empty() && m.keys().all(|k| k.parse::<usize>().is_ok());
            if numeric {
                let mut items: Vec<(usize, Json)> = m.into_iter().map(|(k, v)| (k.parse().unwrap_or(0), listify(v))).collect();
                items.sort_by_key(|(k, _)| *k);
                Json::Array(items.into_iter().map(|(_, v)| v).collect())
            } else {
                Json::Object(m.into_iter().map(|(k, v)| (k, listify(v))).collect())
            }
        }
        other => other,
    }
}

/// Parses a request body (form or JSON) into one JSON object of parameters.
pub fn parse_body(body: &[u8], content_type: &str) -> Map<String, Json> {
    if content_type.contains("json") || body.first() == Some(&b'{') {
        return serde_json::from_slice::<Json>(body).ok().and_then(|v| v.as_object().cloned()).unwrap_or_default();
    }
    let text = String::from_utf8_lossy(body);
    let mut root = Map::new();
    for pair in text.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        insert(&mut root, &path(&decode(k)), decode(v));
    }
    match listify(Json::Object(root)) {
        Json::Object(m) => m,
        _ => Map::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn php_style_nesting() {
        let m = parse_body(b"api_key=k&modified%5Bfrom%5D=2024-01-01+10%3A00%3A00&InvoiceLines%5B1%5D%5BNumber%5D=2&InvoiceLines%5B0%5D%5BNumber%5D=1", "application/x-www-form-urlencoded");
        assert_eq!(m["modified"]["from"], "2024-01-01 10:00:00", "nested keys and + as space");
        assert_eq!(m["InvoiceLines"][0]["Number"], "1", "numeric keys become an ordered list");
        assert_eq!(m["InvoiceLines"][1]["Number"], "2", "numeric keys become an ordered list");
    }
}
