//! Unit tests of the connector's pure rules (the HTTP behaviour is tested against the
//! simulator in `tests/frappe`).

use super::*;

fn so_meta() -> DocMeta {
    DocMeta::from_json(&json!({
        "name": "Sales Order", "is_submittable": 1, "autoname": "naming_series:",
        "fields": [
            {"fieldname": "customer", "fieldtype": "Link", "options": "Customer", "reqd": 1},
            {"fieldname": "po_no", "fieldtype": "Data", "allow_on_submit": 1},
            {"fieldname": "items", "fieldtype": "Table", "options": "Sales Order Item"},
            {"fieldname": "sb", "fieldtype": "Section Break"}
        ]
    }))
    .unwrap()
}

#[test]
fn metadata_is_read_tolerantly() {
    let m = so_meta();
    assert!(m.is_submittable, "0/1 flags are read as booleans");
    assert_eq!(m.fields.len(), 3, "layout fields hold no data and are left out");
    assert_eq!(m.tables().collect::<Vec<_>>(), vec![("items", "Sales Order Item")]);
}

#[test]
fn submitted_documents_take_only_allow_on_submit_fields() {
    let m = so_meta();
    let mut f = Fields::new();
    f.insert("po_no".into(), Value::text("PO-9"));
    assert!(locked_after_submit(&m, &f).is_empty(), "po_no is allow_on_submit");
    f.insert("customer".into(), Value::text("X"));
    assert_eq!(locked_after_submit(&m, &f), vec!["customer".to_string()], "customer is locked after submission");
}

#[test]
fn schema_marks_links_and_child_links() {
    let child = DocMeta::from_json(&json!({"name": "Sales Order Item", "istable": 1, "fields": [{"fieldname": "item_code", "fieldtype": "Link", "options": "Item"}]})).unwrap();
    let s = mapping::schema(&so_meta(), &BTreeMap::from([("Sales Order Item".to_string(), child)]));
    let links = link_fields(&s);
    assert!(links.contains(&LinkField { field: "customer".into(), column: None, doctype: "Customer".into() }), "{links:?}");
    assert!(links.contains(&LinkField { field: "items".into(), column: Some("item_code".into()), doctype: "Item".into() }), "{links:?}");
    assert!(s.field("modified").is_some_and(|f| f.read_only), "standard columns are described, read-only");
}
