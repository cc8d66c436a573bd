//! Moving values between a side's representation and the link's ("link space").
//!
//! Link space is the left side's canonical form of each mapped field: a right value is
//! canonicalised to the field's type, value renames are reversed, and the field's
//! normalising transform applied. Comparing in link space is what keeps `"1,0"` and `1`
//! or `Active` and `ACTIVE` from looking like changes.

use crate::config::{FieldMap, LinkDef, Side, Transform};
use crate::connector::Record;
use crate::value::{canonicalize, FieldType, Fields, Value, ValueError};

/// A link with every mapped field's canonical type decided.
#[derive(Clone, Debug, PartialEq)]
pub struct LinkSpec {
    pub name: String,
    pub def: LinkDef,
    /// One type per `def.fields` entry.
    pub types: Vec<FieldType>,
    /// Mapped names of each side sorted, with their field index (for merge-joins).
    sorted: [Vec<(String, usize)>; 2],
}

impl LinkSpec {
    /// Types come from the mapping's `type`, else `schema_type(left field)`, else text.
    pub fn new(name: &str, def: LinkDef, schema_type: impl Fn(&str) -> Option<FieldType>) -> Self {
        let types = def.fields.iter().map(|f| f.field_type.or_else(|| schema_type(&f.left)).unwrap_or_default()).collect();
        let sorted_names = |side: Side| {
            let mut v: Vec<(String, usize)> = def
                .fields
                .iter()
                .enumerate()
                .map(|(i, f)| (if side == Side::Left { f.left.clone() } else { f.right.clone() }, i))
                .collect();
            v.sort();
            v
        };
        let sorted = [sorted_names(Side::Left), sorted_names(Side::Right)];
        LinkSpec { name: name.to_string(), def, types, sorted }
    }

    /// Fills `out[i]` with the value of mapped field `i` found in `fields` (named as on
    /// `side`), by one merge-join over the sorted map: no lookups, no allocation.
    pub fn mapped<'a>(&self, side: Side, fields: &'a Fields, out: &mut [Option<&'a Value>]) {
        let names = &self.sorted[if side == Side::Left { 0 } else { 1 }];
        if side == Side::Left && fields.len() == names.len() && fields.keys().zip(names).all(|(k, (n, _))| k.len() == n.len()) {
            // A base: exactly the mapped left names, in the same sorted order.
            if fields.keys().zip(names).all(|(k, (n, _))| k == n) {
                for (v, (_, i)) in fields.values().zip(names) {
                    out[*i] = Some(v);
                }
                return;
            }
        }
        let mut it = fields.iter().peekable();
        for (name, i) in names {
            out[*i] = None;
            while let Some((k, v)) = it.peek() {
                match k.as_str().cmp(name.as_str()) {
                    std::cmp::Ordering::Less => {
                        it.next();
                    }
                    std::cmp::Ordering::Equal => {
                        out[*i] = Some(v);
                        break;
                    }
                    std::cmp::Ordering::Greater => break,
                }
            }
        }
    }

    /// The base key of mapped field `i` (its left name; unique by validation).
    pub fn key(&self, i: usize) -> &str {
        &self.def.fields[i].left
    }

    pub fn field_name(&self, side: Side, i: usize) -> &str {
        let f = &self.def.fields[i];
        match side {
            Side::Left => &f.left,
            Side::Right => &f.right,
        }
    }
}

fn apply_transform(v: Value, t: Option<Transform>) -> Value {
    match (t, v) {
        (Some(Transform::Lower), Value::Text(s)) => Value::Text(s.to_lowercase()),
        (Some(Transform::Upper), Value::Text(s)) => Value::Text(s.to_uppercase()),
        (_, v) => v,
    }
}

/// One mapped field of a record in link space.
pub fn to_link(spec: &LinkSpec, side: Side, i: usize, record: &Record) -> Result<Value, ValueError> {
    let f: &FieldMap = &spec.def.fields[i];
    let raw = record.get(spec.field_name(side, i));
    let mut v = canonicalize(raw, spec.types[i])?;
    if side == Side::Right && !f.values.is_empty() {
        if let Value::Text(s) = &v {
            if let Some((left, _)) = f.values.iter().find(|(_, r)| *r == s) {
                v = Value::Text(left.clone());
            }
        }
    }
    Ok(apply_transform(v, f.transform))
}

/// All mapped fields of a record in link space, keyed by base key.
pub fn record_to_link(spec: &LinkSpec, side: Side, record: &Record) -> Result<Fields, (String, ValueError)> {
    let mut out = Fields::new();
    for i in 0..spec.def.fields.len() {
        let v = to_link(spec, side, i, record).map_err(|e| (spec.field_name(side, i).to_string(), e))?;
        out.insert(spec.key(i).to_string(), v);
    }
    Ok(out)
}

/// A link-space value as it is written to `side`.
pub fn from_link(spec: &LinkSpec, side: Side, i: usize, v: &Value) -> Value {
    let f = &spec.def.fields[i];
    if side == Side::Right {
        if let Value::Text(s) = v {
            if let Some(r) = f.values.get(s) {
                return Value::Text(r.clone());
            }
        }
    }
    v.clone()
}
