//! Link translation between two Frappe/ERPNext sites.
//!
//! Document names differ between sites (naming series), so a Sales Order's `customer`
//! (and its rows' `item_code`) hold names of the site they were read from. For a link whose
//! both endpoints are `frappe` connections, the engine wraps both connectors so the runner
//! and planner see **one name space: the left site's**.
//!
//! - The **right** connector is wrapped in [`Translating`]: records it reads (`list`, `get`,
//!   `find`, and the records returned by writes) have their link values turned into left
//!   names; records written to it have left names turned into right names. The lookup goes
//!   through the pairs of the link that syncs the target DocType between the same two
//!   connections (`01_customer` for `link:Customer`). DocTypes no link syncs (Customer
//!   Group, UOM, …) are named alike on both sites and stay as they are.
//! - A **write** to the right whose link target has no pair yet fails for that record only
//!   with [`ConnectorError::Invalid`] ("customer points at Customer "CUST-0007", which is not
//!   synced to the other site yet; it waits until the 01_customer link has run"). The runner
//!   keeps the base and the cursor, so the record is retried on the next run.
//! - A **read** from the right whose link target has no pair yet keeps the record (it must
//!   not look deleted) but replaces the value with a marker, [`UNSYNCED`] followed by the
//!   right-site name. The planner sees an ordinary change; the wrapped **left** connector
//!   ([`Translating`] in guard mode) refuses to write any record carrying the marker, with the
//!   same per-record `Invalid` message, so it too waits and is retried on the next run. The
//!   marker can never reach a site.
//!
//! Masters sync first because links run in name order (`01_customer` … `10_sales_order`).

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use crosswalk_connectors::frappe::{link_fields, translate_links, LinkField, Untranslated};
use crosswalk_core::config::{Config, LinkDef, Side};
use crosswalk_core::connector::{Capabilities, Connector, ConnectorError, Identity, ListRequest, ObjectSchema, Page, Record, RecordPatch, WriteResult};
use crosswalk_core::store::Store;
use crosswalk_core::value::{Fields, Value};

/// Prefix of a link value read from the right site whose target has no pair yet.
pub const UNSYNCED: &str = "\u{29d6} not synced yet: ";

/// Whether a link's endpoints are both Frappe connections (translation applies).
pub fn applies(config: &Config, def: &LinkDef) -> bool {
    let kind = |c: &str| config.connections.get(c).map(|d| d.kind.as_str());
    kind(&def.left.connection) == Some("frappe") && kind(&def.right.connection) == Some("frappe")
}

/// The link that syncs `doctype` between the connections of `def`, and whether it has the
/// same orientation (its left is `def`'s left).
fn master_of(config: &Config, this: &str, def: &LinkDef, doctype: &str) -> Option<(String, bool)> {
    config.links.iter().filter(|(name, _)| name.as_str() != this).find_map(|(name, l)| {
        if l.left.object != doctype || l.right.object != doctype {
            return None;
        }
        if l.left.connection == def.left.connection && l.right.connection == def.right.connection {
            Some((name.clone(), true))
        } else if l.left.connection == def.right.connection && l.right.connection == def.left.connection {
            Some((name.clone(), false))
        } else {
            None
        }
    })
}

/// Name lookups for one link's link fields.
pub struct Translator {
    store: Arc<Store>,
    /// Link fields of the object whose target DocType some link syncs.
    links: Vec<LinkField>,
    /// DocType → (master link, same orientation).
    masters: BTreeMap<String, (String, bool)>,
}

impl Translator {
    /// `None` when the object has no link field another link syncs.
    pub fn new(config: &Config, link: &str, def: &LinkDef, schema: &ObjectSchema, store: Arc<Store>) -> Option<Translator> {
        let mut masters = BTreeMap::new();
        let links: Vec<LinkField> = link_fields(schema)
            .into_iter()
            .filter(|l| match master_of(config, link, def, &l.doctype) {
                Some(m) => {
                    masters.insert(l.doctype.clone(), m);
                    true
                }
                None => false,
            })
            .collect();
        (!links.is_empty()).then_some(Translator { store, links, masters })
    }

    /// The partner of `name` (a `doctype` name on `from`, in this link's sides) on the other side.
    fn partner(&self, doctype: &str, name: &str, from: Side) -> Result<Option<String>, ConnectorError> {
        let Some((master, same)) = self.masters.get(doctype) else { return Ok(Some(name.to_string())) };
        let side = if *same { from } else { from.other() };
        let pair = self.store.pair_by(master, side, name).map_err(|e| ConnectorError::Other(format!("reading the pairs of {master}: {e}")))?;
        Ok(pair.map(|p| if side == Side::Left { p.right_id } else { p.left_id }))
    }

    fn wait_message(&self, missing: &[Untranslated]) -> String {
        missing
            .iter()
            .map(|u| {
                let master = self.masters.get(&u.doctype).map(|m| m.0.as_str()).unwrap_or("its");
                format!("{u}; it waits until the {master} link has run")
            })
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// Right-site fields → left names; a value without a partner becomes [`UNSYNCED`]`name`.
    pub fn to_left(&self, fields: &Fields) -> Result<Fields, ConnectorError> {
        let mut err = None;
        let out = translate_links(&self.links, fields, &mut |dt, name| {
            if name.starts_with(UNSYNCED) {
                return Some(name.to_string());
            }
            match self.partner(dt, name, Side::Right) {
                Ok(Some(n)) => Some(n),
                Ok(None) => Some(format!("{UNSYNCED}{name}")),
                Err(e) => {
                    err = Some(e);
                    Some(name.to_string())
                }
            }
        });
        if let Some(e) = err {
            return Err(e);
        }
        out.map_err(|m| ConnectorError::Other(self.wait_message(&m)))
    }

    /// Left-site fields → right names; fails (per record) when a target has no partner yet.
    pub fn to_right(&self, fields: &Fields) -> Result<Fields, ConnectorError> {
        let mut err = None;
        let out = translate_links(&self.links, fields, &mut |dt, name| {
            if name.starts_with(UNSYNCED) {
                return None;
            }
            match self.partner(dt, name, Side::Left) {
                Ok(n) => n,
                Err(e) => {
                    err = Some(e);
                    None
                }
            }
        });
        if let Some(e) = err {
            return Err(e);
        }
        out.map_err(|m| ConnectorError::Invalid(self.wait_message(&unmark(m))))
    }

    /// Checks a record bound for the left site carries no [`UNSYNCED`] marker.
    pub fn guard(&self, fields: &Fields) -> Result<(), ConnectorError> {
        match translate_links(&self.links, fields, &mut |_, name| (!name.starts_with(UNSYNCED)).then(|| name.to_string())) {
            Ok(_) => Ok(()),
            Err(m) => Err(ConnectorError::Invalid(self.wait_message(&unmark(m)))),
        }
    }

    fn record_to_left(&self, mut r: Record) -> Result<Record, ConnectorError> {
        r.fields = self.to_left(&r.fields)?;
        Ok(r)
    }
}

fn unmark(m: Vec<Untranslated>) -> Vec<Untranslated> {
    m.into_iter().map(|u| Untranslated { name: u.name.strip_prefix(UNSYNCED).map(str::to_string).unwrap_or(u.name), ..u }).collect()
}

/// How a [`Translating`] connector treats records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// The left site: names are already left names; writes carrying [`UNSYNCED`] are refused.
    Guard,
    /// The right site: reads are translated to left names, writes to right names.
    Translate,
}

/// A connector with link translation (see the module docs).
pub struct Translating {
    inner: Arc<dyn Connector>,
    object: String,
    tr: Arc<Translator>,
    role: Role,
}

/// `(left, right)` wrapped for link translation when the link is between two Frappe sites
/// and its object has link fields whose targets another link syncs; unchanged otherwise.
#[allow(clippy::too_many_arguments)]
pub fn wrap(
    config: &Config,
    link: &str,
    def: &LinkDef,
    left: Arc<dyn Connector>,
    right: Arc<dyn Connector>,
    left_schema: Option<&ObjectSchema>,
    right_schema: Option<&ObjectSchema>,
    store: Arc<Store>,
) -> (Arc<dyn Connector>, Arc<dyn Connector>) {
    if !applies(config, def) {
        return (left, right);
    }
    let Some(schema) = right_schema.or(left_schema) else { return (left, right) };
    let Some(tr) = Translator::new(config, link, def, schema, store) else { return (left, right) };
    let tr = Arc::new(tr);
    (
        Arc::new(Translating { inner: left, object: def.left.object.clone(), tr: tr.clone(), role: Role::Guard }),
        Arc::new(Translating { inner: right, object: def.right.object.clone(), tr, role: Role::Translate }),
    )
}

impl Translating {
    fn applies(&self, object: &str) -> bool {
        object == self.object
    }

    fn read(&self, object: &str, records: Vec<Record>) -> Result<Vec<Record>, ConnectorError> {
        if self.role == Role::Guard || !self.applies(object) {
            return Ok(records);
        }
        records.into_iter().map(|r| self.tr.record_to_left(r)).collect()
    }

    /// Translates (or checks) outgoing fields: `Ok` ones go to the system, `Err` ones are
    /// that record's result.
    fn outgoing(&self, fields: &Fields) -> Result<Fields, ConnectorError> {
        match self.role {
            Role::Guard => self.tr.guard(fields).map(|_| fields.clone()),
            Role::Translate => self.tr.to_right(fields),
        }
    }

    fn written(&self, object: &str, results: Vec<WriteResult>) -> Vec<WriteResult> {
        if self.role == Role::Guard || !self.applies(object) {
            return results;
        }
        results.into_iter().map(|r| r.and_then(|rec| self.tr.record_to_left(rec))).collect()
    }
}

/// Runs the records that passed `outgoing` through `write`, and puts every result back in
/// input order.
fn merge<T>(prepared: Vec<Result<T, ConnectorError>>, written: Vec<WriteResult>) -> Vec<WriteResult> {
    let mut written = written.into_iter();
    prepared
        .into_iter()
        .map(|p| match p {
            Ok(_) => written.next().unwrap_or_else(|| Err(ConnectorError::Other("the server returned no result for this record".into()))),
            Err(e) => Err(e),
        })
        .collect()
}

#[async_trait]
impl Connector for Translating {
    fn kind(&self) -> &'static str {
        self.inner.kind()
    }
    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }
    async fn health(&self) -> Result<Identity, ConnectorError> {
        self.inner.health().await
    }
    async fn describe(&self) -> Result<Vec<ObjectSchema>, ConnectorError> {
        self.inner.describe().await
    }
    async fn list(&self, req: ListRequest) -> Result<Page, ConnectorError> {
        let object = req.object.clone();
        let mut page = self.inner.list(req).await?;
        page.records = self.read(&object, std::mem::take(&mut page.records))?;
        Ok(page)
    }
    async fn get(&self, object: &str, ids: &[String]) -> Result<Vec<Record>, ConnectorError> {
        let recs = self.inner.get(object, ids).await?;
        self.read(object, recs)
    }
    async fn find(&self, object: &str, field: &str, values: &[Value]) -> Result<Vec<Record>, ConnectorError> {
        let link = self.tr.links.iter().find(|l| l.column.is_none() && l.field == field);
        let values: Vec<Value> = match (self.role, link) {
            (Role::Translate, Some(l)) if self.applies(object) => {
                let mut out = vec![];
                for v in values {
                    if let Value::Text(name) = v {
                        if let Some(n) = self.tr.partner(&l.doctype, name, Side::Left)? {
                            out.push(Value::Text(n));
                        }
                    } else {
                        out.push(v.clone());
                    }
                }
                out
            }
            _ => values.to_vec(),
        };
        let recs = self.inner.find(object, field, &values).await?;
        self.read(object, recs)
    }
    async fn create(&self, object: &str, records: Vec<Fields>) -> Result<Vec<WriteResult>, ConnectorError> {
        if !self.applies(object) {
            return self.inner.create(object, records).await;
        }
        let prepared: Vec<Result<Fields, ConnectorError>> = records.iter().map(|f| self.outgoing(f)).collect();
        let ok: Vec<Fields> = prepared.iter().filter_map(|p| p.as_ref().ok().cloned()).collect();
        let written = if ok.is_empty() { vec![] } else { self.inner.create(object, ok).await? };
        Ok(merge(prepared, self.written(object, written)))
    }
    async fn update(&self, object: &str, patches: Vec<RecordPatch>) -> Result<Vec<WriteResult>, ConnectorError> {
        if !self.applies(object) {
            return self.inner.update(object, patches).await;
        }
        let prepared: Vec<Result<RecordPatch, ConnectorError>> =
            patches.iter().map(|p| self.outgoing(&p.fields).map(|fields| RecordPatch { id: p.id.clone(), fields })).collect();
        let ok: Vec<RecordPatch> = prepared.iter().filter_map(|p| p.as_ref().ok().cloned()).collect();
        let written = if ok.is_empty() { vec![] } else { self.inner.update(object, ok).await? };
        Ok(merge(prepared, self.written(object, written)))
    }
    async fn delete(&self, object: &str, ids: Vec<String>) -> Result<Vec<WriteResult>, ConnectorError> {
        let results = self.inner.delete(object, ids).await?;
        Ok(self.written(object, results))
    }
    async fn ready_to_write(&self) -> Result<(), ConnectorError> {
        self.inner.ready_to_write().await
    }
    async fn flush(&self) -> Result<(), ConnectorError> {
        self.inner.flush().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crosswalk_core::connector::FieldSchema;
    use crosswalk_core::FieldType;

    const CONFIG: &str = r#"
[connections.cloud]
kind = "frappe"
url = "http://127.0.0.1:9"
[connections.local]
kind = "frappe"
url = "http://127.0.0.1:10"
[links.01_customer]
left = { connection = "cloud", object = "Customer" }
right = { connection = "local", object = "Customer" }
fields = [{ left = "customer_name", right = "customer_name" }]
[links.03_item]
left = { connection = "local", object = "Item" }
right = { connection = "cloud", object = "Item" }
fields = [{ left = "item_code", right = "item_code" }]
[links.10_sales_order]
left = { connection = "cloud", object = "Sales Order" }
right = { connection = "local", object = "Sales Order" }
fields = [{ left = "customer", right = "customer" }, { left = "items", right = "items" }]
"#;

    fn schema() -> ObjectSchema {
        let mut customer = FieldSchema::new("customer", FieldType::Id);
        customer.options = vec!["link:Customer".into()];
        let mut group = FieldSchema::new("customer_group", FieldType::Id);
        group.options = vec!["link:Customer Group".into()];
        let mut items = FieldSchema::new("items", FieldType::Text);
        items.options = vec!["table:Sales Order Item".into(), "child-link:item_code:Item".into()];
        ObjectSchema { name: "Sales Order".into(), label: "Sales Order".into(), fields: vec![customer, group, items] }
    }

    fn fields(customer: &str, item: &str) -> Fields {
        let mut f = Fields::new();
        f.insert("customer".into(), Value::text(customer));
        f.insert("customer_group".into(), Value::text("Retail"));
        f.insert("items".into(), Value::text(format!(r#"[{{"item_code":"{item}","qty":1}}]"#)));
        f
    }

    #[test]
    fn names_are_translated_both_ways_and_unsynced_ones_wait() {
        let config = Config::parse(std::path::Path::new("crosswalk.toml"), CONFIG).unwrap();
        let store = Arc::new(Store::open_in_memory().unwrap());
        store.put_pair("01_customer", "CUST-0001", "CUST-5001", &Fields::new(), None).unwrap();
        // The item link runs the other way round (local on the left).
        store.put_pair("03_item", "I-LOCAL", "I-CLOUD", &Fields::new(), None).unwrap();
        let def = &config.links["10_sales_order"];
        assert!(applies(&config, def));
        let tr = Translator::new(&config, "10_sales_order", def, &schema(), store).expect("customer and item links are synced by other links");

        let right = tr.to_right(&fields("CUST-0001", "I-CLOUD")).unwrap();
        assert_eq!(right["customer"], Value::text("CUST-5001"));
        assert!(right["items"].display().contains("I-LOCAL"), "{:?}", right["items"]);
        assert_eq!(right["customer_group"], Value::text("Retail"), "DocTypes no link syncs keep their names");
        assert_eq!(tr.to_left(&right).unwrap(), tr.to_left(&fields("CUST-5001", "I-LOCAL")).unwrap());
        assert_eq!(tr.to_left(&right).unwrap()["customer"], Value::text("CUST-0001"));

        let e = tr.to_right(&fields("CUST-0007", "I-CLOUD")).unwrap_err();
        assert_eq!(e, ConnectorError::Invalid("customer points at Customer \"CUST-0007\", which is not synced to the other site yet; it waits until the 01_customer link has run".into()));

        let read = tr.to_left(&fields("CUST-5009", "I-LOCAL")).unwrap();
        assert_eq!(read["customer"], Value::text(format!("{UNSYNCED}CUST-5009")), "an unsynced read is kept, marked");
        let e = tr.guard(&read).unwrap_err().to_string();
        assert!(e.contains("Customer \"CUST-5009\"") && e.contains("01_customer") && !e.contains(UNSYNCED), "{e}");
        assert!(tr.to_right(&read).is_err(), "a marker is never translated into a name");
        assert!(tr.guard(&fields("CUST-0001", "I-CLOUD")).is_ok());
    }
}
