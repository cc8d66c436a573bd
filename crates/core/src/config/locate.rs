//! Finding the line of a key in TOML text, so errors can point at it.

use std::fmt;

use toml_edit::{ImDocument, Item};

/// A dotted key path such as `links.companies.fields[2].right`.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct KeyPath(pub Vec<KeyPart>);

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyPart {
    Key(String),
    Index(usize),
}

impl KeyPath {
    pub fn new() -> Self {
        KeyPath(vec![])
    }
    pub fn key(mut self, k: &str) -> Self {
        self.0.push(KeyPart::Key(k.to_string()));
        self
    }
    pub fn index(mut self, i: usize) -> Self {
        self.0.push(KeyPart::Index(i));
        self
    }
    pub fn link(name: &str) -> Self {
        KeyPath::new().key("links").key(name)
    }
    pub fn connection(name: &str) -> Self {
        KeyPath::new().key("connections").key(name)
    }
}

impl fmt::Display for KeyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, part) in self.0.iter().enumerate() {
            match part {
                KeyPart::Key(k) if i == 0 => write!(f, "{k}")?,
                KeyPart::Key(k) => write!(f, ".{k}")?,
                KeyPart::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

/// 1-based line number of a byte offset.
pub fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].bytes().filter(|b| *b == b'\n').count() + 1
}

/// The line where `path` is defined, or of its closest existing parent.
pub fn line_of_key(text: &str, path: &KeyPath) -> Option<usize> {
    let doc = ImDocument::parse(text.to_string()).ok()?;
    let mut best = None;
    walk_item(text, doc.as_item(), &path.0, &mut best);
    best
}

fn note(text: &str, span: Option<std::ops::Range<usize>>, best: &mut Option<usize>) {
    if let Some(span) = span {
        *best = Some(line_of(text, span.start));
    }
}

fn walk_table_like(text: &str, table: &dyn toml_edit::TableLike, rest: &[KeyPart], best: &mut Option<usize>) {
    let Some(KeyPart::Key(k)) = rest.first() else { return };
    if let Some((key, item)) = table.get_key_value(k) {
        note(text, key.span(), best);
        walk_item(text, item, &rest[1..], best);
    }
}

fn walk_item(text: &str, item: &Item, rest: &[KeyPart], best: &mut Option<usize>) {
    let Some(part) = rest.first() else { return };
    match (part, item) {
        (KeyPart::Index(i), Item::ArrayOfTables(a)) => {
            if let Some(t) = a.get(*i) {
                note(text, t.span(), best);
                walk_table_like(text, t, &rest[1..], best);
            }
        }
        (KeyPart::Index(i), Item::Value(toml_edit::Value::Array(a))) => {
            if let Some(v) = a.get(*i) {
                note(text, v.span(), best);
                if let toml_edit::Value::InlineTable(t) = v {
                    walk_table_like(text, t, &rest[1..], best);
                }
            }
        }
        (KeyPart::Key(_), _) => {
            if let Some(t) = item.as_table_like() {
                walk_table_like(text, t, rest, best);
            }
        }
        _ => {}
    }
}

/// A best guess at the dotted key at `offset`: the enclosing `[table]` header plus the key
/// on that line.
pub fn key_near(text: &str, offset: usize) -> String {
    let offset = offset.min(text.len());
    let line_start = text[..offset].rfind('\n').map(|i| i + 1).unwrap_or(0);
    let line_end = text[offset..].find('\n').map(|i| offset + i).unwrap_or(text.len());
    let line = &text[line_start..line_end];
    let header = text[..line_start]
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.starts_with('['))
        .map(|l| l.trim_matches(|c| c == '[' || c == ']').trim().to_string());
    let key = line.split('=').next().map(str::trim).filter(|k| !k.starts_with('[') && !k.is_empty());
    match (header, key) {
        (Some(h), Some(k)) => format!("{h}.{k}"),
        (Some(h), None) => h,
        (None, Some(k)) => k.to_string(),
        (None, None) => String::new(),
    }
}
