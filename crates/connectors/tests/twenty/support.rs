//! Shared helpers: a simulator, a connector pointed at it, and full listings.

use std::time::Duration;

use crosswalk_connectors::twenty::{TwentyConfig, TwentyConnector};
use crosswalk_core::{Connector, ListRequest, Record, Secret};
use crosswalk_simulators::{TwentySim, TwentySimHandle, TwentySimOptions};

/// A simulator whose rate limits never get in the way.
pub async fn sim() -> TwentySimHandle {
    TwentySim::spawn(TwentySimOptions::default().unlimited()).await
}

/// Settings for a connector at `sim`, with a rate limit that never gets in the way.
pub fn config(sim: &TwentySimHandle) -> TwentyConfig {
    let mut c = TwentyConfig::new(&sim.base_url);
    c.requests_per_minute = 1_000_000;
    c.timeout = Duration::from_secs(5);
    c
}

pub fn connector(sim: &TwentySimHandle) -> TwentyConnector {
    TwentyConnector::new("crm", config(sim), Secret::new(sim.api_key.clone())).expect("client builds")
}

/// Follows `next_page` to the end; returns the records and the last page's cursor.
pub async fn list_all(c: &dyn Connector, object: &str, since: Option<String>) -> (Vec<Record>, Option<String>) {
    let mut out = vec![];
    let mut page = None;
    loop {
        let p = c.list(ListRequest { object: object.into(), since: since.clone(), page: page.clone() }).await.expect("listing succeeds");
        out.extend(p.records);
        match p.next_page {
            Some(next) => page = Some(next),
            None => return (out, p.cursor),
        }
    }
}
