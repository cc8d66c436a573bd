//! Shared helpers: simulators, connectors pointed at them, full listings, window counts.

use std::path::Path;
use std::time::{Duration, Instant};

use crosswalk_connectors::webhook::{WebhookConfig, WebhookConnector};
use crosswalk_connectors::wefact::{WeFactConfig, WeFactConnector};
use crosswalk_core::{Connector, ListRequest, Record, Secret};
use crosswalk_simulators::{WeFactSim, WeFactSimHandle, WeFactSimOptions, WebhookReceiver, WebhookReceiverHandle, WebhookReceiverOptions};

pub async fn wefact_sim() -> WeFactSimHandle {
    WeFactSim::spawn(WeFactSimOptions::default()).await
}

/// Settings for a connector at `sim` with a throttle that never gets in the way.
pub fn wefact_config(sim: &WeFactSimHandle) -> WeFactConfig {
    let mut c = WeFactConfig::new(&sim.url);
    c.requests_per_minute = 1_000_000;
    c.timeout = Duration::from_secs(5);
    c
}

pub fn wefact(sim: &WeFactSimHandle, config: WeFactConfig) -> WeFactConnector {
    WeFactConnector::new(config, Secret::new(sim.api_key.clone())).expect("client builds")
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

pub async fn receiver() -> WebhookReceiverHandle {
    WebhookReceiver::spawn(WebhookReceiverOptions::default()).await
}

/// A webhook config for tests: fast back-off, short time-out, limits out of the way.
pub fn hook_config(url: &str) -> WebhookConfig {
    let mut c = WebhookConfig::new(url);
    c.retry_base = Duration::from_millis(5);
    c.retry_max = Duration::from_millis(200);
    c.drain = Duration::from_secs(20);
    c.timeout = Duration::from_secs(2);
    c.requests_per_second = 100_000;
    c.requests_per_5_minutes = 10_000_000;
    c
}

pub fn hook(name: &str, config: WebhookConfig, secret: Option<&str>, dir: &Path) -> WebhookConnector {
    WebhookConnector::new(name, config, secret.map(Secret::new), dir).expect("outbox opens")
}

/// The most instants that fall in any window of length `w`.
pub fn max_in_window(times: &[Instant], w: Duration) -> usize {
    let mut t: Vec<Instant> = times.to_vec();
    t.sort();
    let mut best = 0;
    let mut start = 0;
    for end in 0..t.len() {
        while t[end].duration_since(t[start]) >= w {
            start += 1;
        }
        best = best.max(end - start + 1);
    }
    best
}
