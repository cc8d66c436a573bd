//! Link fields between sites.
//!
//! Document names differ between two sites (each runs its own naming series), so a Link
//! value (`customer = "CUST-0007"`) means nothing on the other site until it is translated
//! through the pair table of the link that syncs the target DocType. `describe` marks link
//! fields in [`FieldSchema::options`](crosswalk_core::connector::FieldSchema):
//!
//! - `link:Customer` on a Link field;
//! - `table:Sales Order Item` plus one `child-link:item_code:Item` per Link column on a
//!   Table field (child rows are canonical JSON text, see `mapping::child_table_text`).
//!
//! [`link_fields`] reads the markers back, and [`translate_links`] rewrites a record's
//! link values with a lookup `(DocType, name on this site) → name on the other site`. A
//! value without a partner is reported as [`Untranslated`], so the engine can hold the
//! record back ("waits for Customer CUST-0007 to sync") instead of writing a link that
//! points at the wrong document or fails Frappe's link validation.

use std::collections::BTreeMap;

use crosswalk_core::connector::ObjectSchema;
use crosswalk_core::value::Fields;
use crosswalk_core::Value;
use serde_json::Value as Json;

use super::mapping::{CHILD_LINK_MARKER, LINK_MARKER};

/// A link field: a Link column of the object (`column == None`) or a Link column inside
/// the child table `field`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkField {
    pub field: String,
    pub column: Option<String>,
    /// The DocType it points at.
    pub doctype: String,
}

/// A link value that has no partner on the other site (yet).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Untranslated {
    pub field: String,
    pub column: Option<String>,
    pub doctype: String,
    pub name: String,
}

impl std::fmt::Display for Untranslated {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let at = self.column.as_ref().map(|c| format!("{}.{c}", self.field)).unwrap_or_else(|| self.field.clone());
        write!(f, "{at} points at {} {:?}, which is not synced to the other site yet", self.doctype, self.name)
    }
}

/// The link fields `describe` marked on `schema`.
pub fn link_fields(schema: &ObjectSchema) -> Vec<LinkField> {
    let mut out = vec![];
    for f in &schema.fields {
        for o in &f.options {
            if let Some(dt) = o.strip_prefix(LINK_MARKER) {
                out.push(LinkField { field: f.name.clone(), column: None, doctype: dt.to_string() });
            } else if let Some(rest) = o.strip_prefix(CHILD_LINK_MARKER) {
                if let Some((col, dt)) = rest.split_once(':') {
                    out.push(LinkField { field: f.name.clone(), column: Some(col.to_string()), doctype: dt.to_string() });
                }
            }
        }
    }
    out
}

/// `fields` with every link value translated by `lookup(doctype, name)`. Empty values stay
/// empty; fields not in `links` are untouched. Fails with every value that had no partner.
pub fn translate_links(links: &[LinkField], fields: &Fields, lookup: &mut dyn FnMut(&str, &str) -> Option<String>) -> Result<Fields, Vec<Untranslated>> {
    let mut out = fields.clone();
    let mut missing = vec![];
    for l in links.iter().filter(|l| l.column.is_none()) {
        if let Some(Value::Text(name)) = fields.get(&l.field) {
            if name.trim().is_empty() {
                continue;
            }
            match lookup(&l.doctype, name) {
                Some(other) => {
                    out.insert(l.field.clone(), Value::Text(other));
                }
                None => missing.push(Untranslated { field: l.field.clone(), column: None, doctype: l.doctype.clone(), name: name.clone() }),
            }
        }
    }
    let mut by_table: BTreeMap<&str, Vec<&LinkField>> = BTreeMap::new();
    for l in links.iter().filter(|l| l.column.is_some()) {
        by_table.entry(l.field.as_str()).or_default().push(l);
    }
    for (table, cols) in by_table {
        let Some(Value::Text(text)) = fields.get(table) else { continue };
        if text.trim().is_empty() {
            continue;
        }
        let Ok(Json::Array(mut rows)) = serde_json::from_str::<Json>(text) else { continue };
        for row in rows.iter_mut().filter_map(Json::as_object_mut) {
            for l in &cols {
                let col = l.column.as_deref().unwrap_or_default();
                let Some(name) = row.get(col).and_then(Json::as_str).map(str::to_string).filter(|s| !s.trim().is_empty()) else { continue };
                match lookup(&l.doctype, &name) {
                    Some(other) => {
                        row.insert(col.to_string(), Json::String(other));
                    }
                    None => missing.push(Untranslated { field: table.to_string(), column: Some(col.to_string()), doctype: l.doctype.clone(), name }),
                }
            }
        }
        let rows: Vec<BTreeMap<String, Json>> = rows.into_iter().filter_map(|r| serde_json::from_value(r).ok()).collect();
        out.insert(table.to_string(), Value::Text(serde_json::to_string(&rows).unwrap_or_default()));
    }
    if missing.is_empty() {
        Ok(out)
    } else {
        Err(missing)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crosswalk_core::connector::FieldSchema;
    use crosswalk_core::FieldType;

    fn so_schema() -> ObjectSchema {
        let mut customer = FieldSchema::new("customer", FieldType::Id);
        customer.options = vec!["link:Customer".into()];
        let mut items = FieldSchema::new("items", FieldType::Text);
        items.options = vec!["table:Sales Order Item".into(), "child-link:item_code:Item".into()];
        ObjectSchema { name: "Sales Order".into(), label: "Sales Order".into(), fields: vec![customer, items, FieldSchema::new("po_no", FieldType::Text)] }
    }

    #[test]
    fn links_and_child_links_are_translated() {
        let links = link_fields(&so_schema());
        assert_eq!(links.len(), 2, "customer and items.item_code are links: {links:?}");
        let mut f = Fields::new();
        f.insert("customer".into(), Value::text("CUST-0001"));
        f.insert("items".into(), Value::text(r#"[{"item_code":"ITEM-A","qty":2}]"#));
        f.insert("po_no".into(), Value::text("CUST-0001"));
        let map = BTreeMap::from([(("Customer", "CUST-0001"), "CUST-0042"), (("Item", "ITEM-A"), "ITEM-A")]);
        let out = translate_links(&links, &f, &mut |dt, n| map.get(&(dt, n)).map(|s| s.to_string())).unwrap();
        assert_eq!(out["customer"], Value::text("CUST-0042"), "the customer link points at the other site's customer");
        assert_eq!(out["po_no"], Value::text("CUST-0001"), "a text field that happens to hold a name is not a link");
        assert!(out["items"].display().contains("ITEM-A"), "child link columns are translated too");
        let e = translate_links(&links, &f, &mut |_, _| None).unwrap_err();
        assert_eq!(e.len(), 2, "every unsynced target is named so the record can wait and say why");
        assert!(e[0].to_string().contains("Customer \"CUST-0001\""), "{}", e[0]);
    }
}
