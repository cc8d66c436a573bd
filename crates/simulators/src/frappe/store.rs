//! The simulated site's data: DocTypes (ERPNext's Customer, Supplier, Item, Sales Order,
//! Purchase Order and their item tables), documents, naming series, the rules Frappe
//! applies on insert/save (mandatory fields, link validation, optimistic locking, docstatus)
//! and the events each change produces (for webhooks).

use std::collections::BTreeMap;

use serde_json::{json, Map, Value as Json};

/// An error as Frappe answers it (status + exception class + message).
#[derive(Clone, Debug, PartialEq)]
pub struct FrappeError {
    pub status: u16,
    pub exc_type: &'static str,
    pub message: String,
}

impl FrappeError {
    pub fn new(status: u16, exc_type: &'static str, message: impl Into<String>) -> Self {
        FrappeError { status, exc_type, message: message.into() }
    }
    pub fn validation(exc_type: &'static str, message: impl Into<String>) -> Self {
        Self::new(417, exc_type, message)
    }
    pub fn not_found(doctype: &str, name: &str) -> Self {
        Self::new(404, "DoesNotExistError", format!("{doctype} {name} not found"))
    }
    /// The v1 body: `exc_type`, `exception`, `exc` (a traceback), and `_server_messages`
    /// (a JSON string of a list of JSON strings).
    pub fn body(&self) -> Json {
        let inner = json!({"message": html_message(&self.message), "title": "Message", "indicator": "red", "raise_exception": 1}).to_string();
        let exception = format!("frappe.exceptions.{}: {}", self.exc_type, self.message);
        json!({
            "exc_type": self.exc_type,
            "exception": exception,
            "exc": serde_json::to_string(&vec![format!("Traceback (most recent call last):\n  File \"apps/frappe/frappe/app.py\", line 114, in application\n{exception}")]).unwrap_or_default(),
            "_server_messages": serde_json::to_string(&vec![inner]).unwrap_or_default(),
        })
    }
}

/// Frappe wraps names in `<strong>` in its messages; the connector must strip it.
fn html_message(m: &str) -> String {
    m.replace("[[", "<strong>").replace("]]", "</strong>")
}

/// One field of a DocType.
#[derive(Clone, Debug)]
pub struct FieldDef {
    pub fieldname: &'static str,
    pub fieldtype: &'static str,
    pub options: &'static str,
    pub reqd: bool,
    pub allow_on_submit: bool,
    pub read_only: bool,
}

const fn f(fieldname: &'static str, fieldtype: &'static str, options: &'static str) -> FieldDef {
    FieldDef { fieldname, fieldtype, options, reqd: false, allow_on_submit: false, read_only: false }
}
const fn reqd(mut d: FieldDef) -> FieldDef {
    d.reqd = true;
    d
}
const fn on_submit(mut d: FieldDef) -> FieldDef {
    d.allow_on_submit = true;
    d
}
const fn ro(mut d: FieldDef) -> FieldDef {
    d.read_only = true;
    d
}

/// A DocType.
#[derive(Clone, Debug)]
pub struct DocTypeDef {
    pub name: &'static str,
    pub fields: Vec<FieldDef>,
    /// `naming_series:` (prefix below) or `field:<fieldname>`.
    pub autoname: &'static str,
    pub series: &'static str,
    pub is_submittable: bool,
    pub istable: bool,
}

impl DocTypeDef {
    pub fn field(&self, name: &str) -> Option<&FieldDef> {
        self.fields.iter().find(|f| f.fieldname == name)
    }
    /// Frappe's DocType document as `GET /api/resource/DocType/{name}` returns it.
    pub fn meta_json(&self) -> Json {
        let fields: Vec<Json> = self
            .fields
            .iter()
            .enumerate()
            .map(|(i, d)| {
                json!({"fieldname": d.fieldname, "fieldtype": d.fieldtype, "options": d.options, "label": label(d.fieldname),
                       "reqd": i64::from(d.reqd), "allow_on_submit": i64::from(d.allow_on_submit), "read_only": i64::from(d.read_only), "idx": i + 1})
            })
            .collect();
        let autoname = if self.autoname == "naming_series:" { "naming_series:".to_string() } else { self.autoname.to_string() };
        json!({"name": self.name, "doctype": "DocType", "module": "Selling", "autoname": autoname, "is_submittable": i64::from(self.is_submittable),
               "istable": i64::from(self.istable), "sort_field": "modified", "sort_order": "DESC", "fields": fields})
    }
}

fn label(fieldname: &str) -> String {
    fieldname.split('_').map(|w| {
        let mut c = w.chars();
        c.next().map(|f| f.to_uppercase().collect::<String>() + c.as_str()).unwrap_or_default()
    }).collect::<Vec<_>>().join(" ")
}

/// ERPNext's DocTypes, reduced to the fields a sync touches.
pub fn doctypes() -> Vec<DocTypeDef> {
    vec![
        DocTypeDef {
            name: "Customer",
            fields: vec![reqd(f("customer_name", "Data", "")), f("customer_type", "Select", "Company\nIndividual"), f("customer_group", "Link", "Customer Group"), f("territory", "Data", ""), f("email_id", "Data", ""), f("mobile_no", "Data", ""), f("credit_limit", "Currency", ""), f("disabled", "Check", "")],
            autoname: "naming_series:",
            series: "CUST-",
            is_submittable: false,
            istable: false,
        },
        DocTypeDef {
            name: "Supplier",
            fields: vec![reqd(f("supplier_name", "Data", "")), f("supplier_group", "Data", ""), f("country", "Data", ""), f("email_id", "Data", "")],
            autoname: "naming_series:",
            series: "SUP-",
            is_submittable: false,
            istable: false,
        },
        DocTypeDef {
            name: "Item",
            fields: vec![reqd(f("item_code", "Data", "")), f("item_name", "Data", ""), f("item_group", "Data", ""), f("stock_uom", "Data", ""), f("standard_rate", "Currency", ""), f("description", "Text", ""), f("disabled", "Check", "")],
            autoname: "field:item_code",
            series: "",
            is_submittable: false,
            istable: false,
        },
        DocTypeDef {
            name: "Sales Order",
            fields: vec![reqd(f("customer", "Link", "Customer")), f("transaction_date", "Date", ""), f("delivery_date", "Date", ""), on_submit(f("po_no", "Data", "")), reqd(f("items", "Table", "Sales Order Item")), ro(f("grand_total", "Currency", ""))],
            autoname: "naming_series:",
            series: "SAL-ORD-",
            is_submittable: true,
            istable: false,
        },
        DocTypeDef {
            name: "Sales Order Item",
            fields: vec![reqd(f("item_code", "Link", "Item")), f("qty", "Float", ""), f("rate", "Currency", ""), ro(f("amount", "Currency", "")), f("delivery_date", "Date", "")],
            autoname: "hash",
            series: "",
            is_submittable: false,
            istable: true,
        },
        DocTypeDef {
            name: "Purchase Order",
            fields: vec![reqd(f("supplier", "Link", "Supplier")), f("transaction_date", "Date", ""), f("schedule_date", "Date", ""), reqd(f("items", "Table", "Purchase Order Item")), ro(f("grand_total", "Currency", ""))],
            autoname: "naming_series:",
            series: "PUR-ORD-",
            is_submittable: true,
            istable: false,
        },
        DocTypeDef {
            name: "Purchase Order Item",
            fields: vec![reqd(f("item_code", "Link", "Item")), f("qty", "Float", ""), f("rate", "Currency", ""), ro(f("amount", "Currency", "")), f("schedule_date", "Date", "")],
            autoname: "hash",
            series: "",
            is_submittable: false,
            istable: true,
        },
        // Frappe's own Webhook DocType (API_FACTS §2.7), so webhooks can be set up through
        // the API (`crosswalk webhook-setup`). `condition` is stored but not evaluated.
        DocTypeDef {
            name: "Webhook",
            fields: vec![
                reqd(f("webhook_doctype", "Link", "DocType")),
                reqd(f("webhook_docevent", "Select", WEBHOOK_EVENTS_OPTIONS)),
                f("enabled", "Check", ""),
                f("condition", "Small Text", ""),
                reqd(f("request_url", "Data", "")),
                f("request_method", "Select", "POST\nPUT\nDELETE"),
                f("request_structure", "Select", "\nForm URL-Encoded\nJSON"),
                f("timeout", "Int", ""),
                f("webhook_json", "Code", ""),
                f("webhook_data", "Table", "Webhook Data"),
                f("webhook_headers", "Table", "Webhook Header"),
                f("enable_security", "Check", ""),
                f("webhook_secret", "Password", ""),
            ],
            autoname: "naming_series:",
            series: "HOOK-",
            is_submittable: false,
            istable: false,
        },
        DocTypeDef { name: "Webhook Header", fields: vec![f("key", "Small Text", ""), f("value", "Small Text", "")], autoname: "hash", series: "", is_submittable: false, istable: true },
        DocTypeDef { name: "Webhook Data", fields: vec![reqd(f("fieldname", "Select", "")), reqd(f("key", "Data", ""))], autoname: "hash", series: "", is_submittable: false, istable: true },
    ]
}

/// The document events a Webhook can fire on (Frappe's `webhook_docevent` options).
pub const WEBHOOK_EVENTS: &[&str] = &["after_insert", "on_update", "on_submit", "on_cancel", "on_trash", "on_update_after_submit", "on_change"];
const WEBHOOK_EVENTS_OPTIONS: &str = "after_insert\non_update\non_submit\non_cancel\non_trash\non_update_after_submit\non_change";

/// What Frappe's `Webhook.validate` checks.
fn validate_webhook(store: &Store, doc: &Map<String, Json>) -> Result<(), FrappeError> {
    let text = |k: &str| doc.get(k).and_then(Json::as_str).unwrap_or_default().trim().to_string();
    let doctype = text("webhook_doctype");
    let target = store.def(&doctype).map_err(|_| FrappeError::validation("LinkValidationError", format!("Could not find DocType: [[{doctype}]]")))?;
    let event = text("webhook_docevent");
    if !WEBHOOK_EVENTS.contains(&event.as_str()) {
        return Err(FrappeError::validation("ValidationError", format!("Webhook Docevent cannot be \"{event}\". It should be one of {}", WEBHOOK_EVENTS.join(", "))));
    }
    if matches!(event.as_str(), "on_submit" | "on_cancel" | "on_update_after_submit") && !target.is_submittable {
        return Err(FrappeError::validation("ValidationError", format!("DocType must be Submittable for the selected Doc Event ({doctype})")));
    }
    let url = text("request_url");
    if !(url.starts_with("http://") || url.starts_with("https://")) || url.len() < "http://x".len() {
        return Err(FrappeError::validation("ValidationError", format!("Check Request URL: [[{url}]] is not a valid URL")));
    }
    if text("request_structure") == "JSON" && !text("webhook_json").is_empty() && text("webhook_json").matches("{{").count() != text("webhook_json").matches("}}").count() {
        return Err(FrappeError::validation("ValidationError", "Invalid Jinja template in Request Body (JSON)"));
    }
    if doc.get("enable_security").and_then(Json::as_i64) == Some(1) && text("webhook_secret").is_empty() {
        return Err(FrappeError::validation("MandatoryError", "[Webhook]: webhook_secret (Enable Security needs a Webhook Secret)"));
    }
    Ok(())
}

/// A document change, for webhooks: `(event, doctype, doc)`.
pub type Event = (&'static str, String, Map<String, Json>);

/// The site's documents and clocks.
#[derive(Debug)]
pub struct Store {
    pub doctypes: Vec<DocTypeDef>,
    docs: BTreeMap<String, BTreeMap<String, Map<String, Json>>>,
    counters: BTreeMap<String, u64>,
    /// The site-local clock (µs since the epoch, shifted by the site's offset).
    clock_us: i64,
    pub utc_offset_minutes: i32,
    pub series_start: u64,
    /// All writes get the same `modified` while frozen (tie-break tests).
    pub frozen: Option<String>,
    pub user: String,
    row_seq: u64,
}

const STANDARD: &[&str] = &["name", "owner", "creation", "modified", "modified_by", "docstatus", "idx", "doctype"];

impl Store {
    pub fn new(utc_offset_minutes: i32, series_start: u64, user: &str) -> Self {
        Store { doctypes: doctypes(), docs: BTreeMap::new(), counters: BTreeMap::new(), clock_us: 0, utc_offset_minutes, series_start, frozen: None, user: user.to_string(), row_seq: 0 }
    }

    pub fn def(&self, doctype: &str) -> Result<&DocTypeDef, FrappeError> {
        self.doctypes.iter().find(|d| d.name == doctype).ok_or_else(|| FrappeError::new(404, "DoesNotExistError", format!("DocType {doctype} not found")))
    }

    /// `frappe.utils.now()`: a naive site-local time with microseconds, strictly increasing.
    pub fn now(&mut self) -> String {
        if let Some(f) = &self.frozen {
            return f.clone();
        }
        let wall = chrono::Utc::now().timestamp_micros() + i64::from(self.utc_offset_minutes) * 60_000_000;
        self.clock_us = (self.clock_us + 1).max(wall);
        chrono::DateTime::from_timestamp_micros(self.clock_us).unwrap_or_default().naive_utc().format("%Y-%m-%d %H:%M:%S%.6f").to_string()
    }

    pub fn get(&self, doctype: &str, name: &str) -> Option<&Map<String, Json>> {
        self.docs.get(doctype)?.get(name)
    }

    pub fn all(&self, doctype: &str) -> Vec<&Map<String, Json>> {
        self.docs.get(doctype).map(|m| m.values().collect()).unwrap_or_default()
    }

    pub fn count(&self, doctype: &str) -> usize {
        self.docs.get(doctype).map_or(0, BTreeMap::len)
    }

    fn next_name(&mut self, def: &DocTypeDef, body: &Map<String, Json>) -> Result<String, FrappeError> {
        if let Some(field) = def.autoname.strip_prefix("field:") {
            let v = body.get(field).and_then(Json::as_str).map(str::trim).unwrap_or_default();
            if v.is_empty() {
                return Err(FrappeError::validation("MandatoryError", format!("[{}]: {field}", def.name)));
            }
            return Ok(v.to_string());
        }
        let n = self.counters.entry(def.name.to_string()).or_insert(self.series_start.saturating_sub(1));
        *n += 1;
        Ok(format!("{}{:04}", def.series, n))
    }

    fn check_links(&self, def: &DocTypeDef, doc: &Map<String, Json>, row: Option<usize>) -> Result<(), FrappeError> {
        for fd in def.fields.iter().filter(|f| f.fieldtype == "Link") {
            let Some(v) = doc.get(fd.fieldname).and_then(Json::as_str).filter(|s| !s.is_empty()) else { continue };
            // Only DocTypes this site simulates are checked (Customer Group etc. are free).
            if self.doctypes.iter().any(|d| d.name == fd.options) && self.get(fd.options, v).is_none() {
                let at = row.map(|r| format!("Row #{r}: ")).unwrap_or_default();
                return Err(FrappeError::validation("LinkValidationError", format!("{at}Could not find {}: [[{v}]]", label(fd.fieldname))));
            }
        }
        Ok(())
    }

    fn check_mandatory(def: &DocTypeDef, doc: &Map<String, Json>) -> Result<(), FrappeError> {
        let missing: Vec<&str> = def
            .fields
            .iter()
            .filter(|f| f.reqd)
            .filter(|f| match doc.get(f.fieldname) {
                None | Some(Json::Null) => true,
                Some(Json::String(s)) => s.trim().is_empty(),
                Some(Json::Array(a)) => a.is_empty(),
                _ => false,
            })
            .map(|f| f.fieldname)
            .collect();
        if missing.is_empty() {
            Ok(())
        } else {
            Err(FrappeError::validation("MandatoryError", format!("[{}]: {}", def.name, missing.join(", "))))
        }
    }

    fn new_row_name(&mut self) -> String {
        self.row_seq += 1;
        format!("{:010x}", (self.row_seq.wrapping_mul(0x9E37_79B9_7F4A_7C15)) >> 24)
    }

    /// Builds child rows: existing rows (by `name`) are updated, rows without a known `name`
    /// are new, omitted rows are gone (what `doc.update({"items": [...]})` does).
    fn set_table(&mut self, parent: &DocTypeDef, field: &FieldDef, doc: &mut Map<String, Json>, rows: &[Json], now: &str) -> Result<f64, FrappeError> {
        let child = self.def(field.options)?.clone();
        let old: Vec<Map<String, Json>> = doc.get(field.fieldname).and_then(Json::as_array).map(|a| a.iter().filter_map(|r| r.as_object().cloned()).collect()).unwrap_or_default();
        let mut out = vec![];
        let mut total = 0.0;
        for (i, r) in rows.iter().enumerate() {
            let r = r.as_object().ok_or_else(|| FrappeError::validation("ValidationError", format!("Row #{} of {} is not an object", i + 1, field.fieldname)))?;
            let existing = r.get("name").and_then(Json::as_str).and_then(|n| old.iter().find(|o| o.get("name").and_then(Json::as_str) == Some(n))).cloned();
            let mut row = match existing {
                Some(e) => e,
                None => {
                    let mut m = Map::new();
                    m.insert("name".into(), Json::String(self.new_row_name()));
                    m.insert("creation".into(), Json::String(now.to_string()));
                    m.insert("owner".into(), Json::String(self.user.clone()));
                    m
                }
            };
            for (k, v) in r {
                if !STANDARD.contains(&k.as_str()) && !matches!(k.as_str(), "parent" | "parentfield" | "parenttype") {
                    if child.field(k).is_none() {
                        continue; // Frappe ignores unknown keys on child rows
                    }
                    row.insert(k.clone(), v.clone());
                }
            }
            if child.field("qty").is_some() {
                let qty = row.get("qty").and_then(Json::as_f64).unwrap_or(0.0);
                let rate = row.get("rate").and_then(Json::as_f64).unwrap_or(0.0);
                row.insert("qty".into(), json!(qty));
                row.insert("rate".into(), json!(rate));
                row.insert("amount".into(), json!(qty * rate));
                total += qty * rate;
            }
            Self::check_mandatory(&child, &row)?;
            self.check_links(&child, &row, Some(i + 1))?;
            row.insert("idx".into(), json!(i + 1));
            row.insert("parent".into(), doc.get("name").cloned().unwrap_or(Json::Null));
            row.insert("parentfield".into(), json!(field.fieldname));
            row.insert("parenttype".into(), json!(parent.name));
            row.insert("doctype".into(), json!(child.name));
            row.insert("modified".into(), json!(now));
            row.insert("modified_by".into(), json!(self.user));
            row.insert("docstatus".into(), doc.get("docstatus").cloned().unwrap_or(json!(0)));
            out.push(Json::Object(row));
        }
        doc.insert(field.fieldname.into(), Json::Array(out));
        Ok(total)
    }

    fn apply(&mut self, def: &DocTypeDef, doc: &mut Map<String, Json>, body: &Map<String, Json>, now: &str) -> Result<(), FrappeError> {
        let mut total = None;
        for (k, v) in body {
            if STANDARD.contains(&k.as_str()) {
                continue;
            }
            let Some(fd) = def.field(k).cloned() else { continue }; // unknown keys are ignored, as doc.update does
            if fd.fieldtype == "Table" {
                let rows = v.as_array().cloned().unwrap_or_default();
                total = Some(self.set_table(def, &fd, doc, &rows, now)?);
            } else if !fd.read_only {
                let v = match (fd.fieldtype, v) {
                    ("Currency" | "Float", Json::Number(n)) => json!(n.as_f64().unwrap_or(0.0)),
                    ("Check", Json::Bool(b)) => json!(i64::from(*b)),
                    _ => v.clone(),
                };
                doc.insert(k.clone(), v);
            }
        }
        if let (Some(t), Some(_)) = (total, def.field("grand_total")) {
            doc.insert("grand_total".into(), json!(t));
        }
        Ok(())
    }

    /// `frappe.new_doc(doctype, **body).insert()`.
    pub fn insert(&mut self, doctype: &str, body: &Map<String, Json>) -> Result<(Map<String, Json>, Vec<Event>), FrappeError> {
        let def = self.def(doctype)?.clone();
        if def.istable {
            return Err(FrappeError::validation("ValidationError", format!("{doctype} is a child table; insert it through its parent")));
        }
        let docstatus = body.get("docstatus").and_then(Json::as_i64).unwrap_or(0);
        if docstatus == 2 {
            return Err(FrappeError::validation("ValidationError", "Cannot insert a cancelled document (docstatus 2)"));
        }
        if docstatus == 1 && !def.is_submittable {
            return Err(FrappeError::validation("ValidationError", format!("{doctype} is not submittable")));
        }
        let name = match body.get("name").and_then(Json::as_str).filter(|s| !s.is_empty()) {
            Some(n) => n.to_string(),
            None => self.next_name(&def, body)?,
        };
        if self.get(doctype, &name).is_some() {
            return Err(FrappeError::new(409, "DuplicateEntryError", format!("{doctype} [[{name}]] already exists")));
        }
        let now = self.now();
        let mut doc = Map::new();
        doc.insert("name".into(), json!(name));
        doc.insert("owner".into(), json!(self.user));
        doc.insert("creation".into(), json!(now));
        doc.insert("modified".into(), json!(now));
        doc.insert("modified_by".into(), json!(self.user));
        doc.insert("docstatus".into(), json!(docstatus));
        doc.insert("idx".into(), json!(0));
        for fd in def.fields.iter().filter(|f| f.fieldtype != "Table") {
            doc.insert(fd.fieldname.into(), if matches!(fd.fieldtype, "Currency" | "Float" | "Check" | "Int") { json!(0) } else { Json::Null });
        }
        if doctype == "Webhook" {
            // Frappe's field defaults for a new Webhook.
            doc.insert("enabled".into(), json!(1));
            doc.insert("request_method".into(), json!("POST"));
            doc.insert("request_structure".into(), json!(""));
            doc.insert("timeout".into(), json!(5));
        }
        self.apply(&def, &mut doc, body, &now)?;
        Self::check_mandatory(&def, &doc)?;
        self.check_links(&def, &doc, None)?;
        if doctype == "Webhook" {
            validate_webhook(self, &doc)?;
        }
        doc.insert("doctype".into(), json!(doctype));
        self.docs.entry(doctype.to_string()).or_default().insert(name, doc.clone());
        Ok((doc.clone(), vec![("after_insert", doctype.to_string(), doc.clone()), ("on_update", doctype.to_string(), doc)]))
    }

    /// `doc.update(body); doc.save()` with Frappe's checks.
    pub fn update(&mut self, doctype: &str, name: &str, body: &Map<String, Json>) -> Result<(Map<String, Json>, Vec<Event>), FrappeError> {
        let def = self.def(doctype)?.clone();
        let current = self.get(doctype, name).cloned().ok_or_else(|| FrappeError::not_found(doctype, name))?;
        if let Some(m) = body.get("modified").and_then(Json::as_str) {
            if Some(m) != current.get("modified").and_then(Json::as_str) {
                return Err(FrappeError::validation("TimestampMismatchError", "Document has been modified after you have opened it. Please refresh to get the latest document."));
            }
        }
        let status = current.get("docstatus").and_then(Json::as_i64).unwrap_or(0);
        let new_status = body.get("docstatus").and_then(Json::as_i64).unwrap_or(status);
        if status == 2 {
            return Err(FrappeError::validation("ValidationError", format!("Cannot edit cancelled document {doctype} [[{name}]]")));
        }
        if status == 1 {
            for (k, v) in body {
                let Some(fd) = def.field(k) else { continue };
                if !fd.allow_on_submit && current.get(k) != Some(v) && new_status == 1 {
                    return Err(FrappeError::validation("UpdateAfterSubmitError", format!("Not allowed to change [[{}]] after submission", label(k))));
                }
            }
            if new_status == 0 {
                return Err(FrappeError::validation("ValidationError", "Cannot change docstatus from 1 to 0"));
            }
        }
        if new_status == 1 && !def.is_submittable {
            return Err(FrappeError::validation("ValidationError", format!("{doctype} is not submittable")));
        }
        let now = self.now();
        let mut doc = current;
        self.apply(&def, &mut doc, body, &now)?;
        doc.insert("docstatus".into(), json!(new_status));
        Self::check_mandatory(&def, &doc)?;
        self.check_links(&def, &doc, None)?;
        if doctype == "Webhook" {
            validate_webhook(self, &doc)?;
        }
        doc.insert("modified".into(), json!(now));
        doc.insert("modified_by".into(), json!(self.user));
        self.docs.entry(doctype.to_string()).or_default().insert(name.to_string(), doc.clone());
        let event = match (status, new_status) {
            (0, 1) => "on_submit",
            (1, 2) => "on_cancel",
            (1, 1) => "on_update_after_submit",
            _ => "on_update",
        };
        Ok((doc.clone(), vec![(event, doctype.to_string(), doc)]))
    }

    /// `frappe.delete_doc` (hard delete); a submitted document must be cancelled first.
    pub fn delete(&mut self, doctype: &str, name: &str) -> Result<Vec<Event>, FrappeError> {
        self.def(doctype)?;
        let doc = self.get(doctype, name).cloned().ok_or_else(|| FrappeError::not_found(doctype, name))?;
        if doc.get("docstatus").and_then(Json::as_i64) == Some(1) {
            return Err(FrappeError::validation("ValidationError", "Submitted Record cannot be deleted. You must Cancel it first."));
        }
        for other in self.doctypes.iter().filter(|d| !d.istable) {
            let links: Vec<&str> = other.fields.iter().filter(|f| f.fieldtype == "Link" && f.options == doctype).map(|f| f.fieldname).collect();
            if links.is_empty() {
                continue;
            }
            if let Some(by) = self.all(other.name).into_iter().find(|d| links.iter().any(|l| d.get(*l).and_then(Json::as_str) == Some(name))) {
                let by = by.get("name").and_then(Json::as_str).unwrap_or_default();
                return Err(FrappeError::validation("LinkExistsError", format!("Cannot delete or cancel because {doctype} [[{name}]] is linked with {} [[{by}]]", other.name)));
            }
        }
        self.docs.entry(doctype.to_string()).or_default().remove(name);
        Ok(vec![("on_trash", doctype.to_string(), doc)])
    }
}
