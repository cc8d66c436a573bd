//! Shared helpers: a Frappe simulator, a connector pointed at it, and full listings.

use std::time::Duration;

use crosswalk_connectors::frappe::{FrappeConfig, FrappeConnector};
use crosswalk_core::{Connector, ListRequest, Record, Secret};
use crosswalk_simulators::{FrappeSim, FrappeSimHandle, FrappeSimOptions};

pub async fn sim() -> FrappeSimHandle {
    FrappeSim::spawn(FrappeSimOptions::default()).await
}

/// Settings for a connector at `sim`: Frappe's own page length (20), no client limit.
pub fn config(sim: &FrappeSimHandle) -> FrappeConfig {
    let mut c = FrappeConfig::new(&sim.base_url);
    c.page_size = 20;
    c.requests_per_minute = 1_000_000;
    c.timeout = Duration::from_secs(5);
    c.child_fields.insert("items".into(), vec!["item_code".into(), "qty".into(), "rate".into(), "delivery_date".into()]);
    c
}

pub fn connector_with(sim: &FrappeSimHandle, config: FrappeConfig) -> FrappeConnector {
    FrappeConnector::new("erp", config, &sim.api_key, &Secret::new(sim.api_secret.clone())).expect("client builds")
}

pub fn connector(sim: &FrappeSimHandle) -> FrappeConnector {
    connector_with(sim, config(sim))
}

/// Follows `next_page` to the end; returns the records, the number of pages and the cursor.
pub async fn list_all(c: &dyn Connector, object: &str, since: Option<String>) -> (Vec<Record>, usize, Option<String>) {
    let mut out = vec![];
    let mut page = None;
    let mut pages = 0;
    loop {
        let p = c.list(ListRequest { object: object.into(), since: since.clone(), page: page.clone() }).await.expect("listing works");
        pages += 1;
        out.extend(p.records);
        match p.next_page {
            Some(n) => page = Some(n),
            None => return (out, pages, p.cursor),
        }
        assert!(pages < 1000, "paging must end");
    }
}
