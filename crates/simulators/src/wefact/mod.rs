//! A WeFact account (API v2) on 127.0.0.1, faithful to API_FACTS §4: one URL (`/v2/`),
//! every call a POST (form-encoded with PHP-style nesting, or JSON) carrying `api_key`,
//! `controller` and `action`; `list` / `show` / `add` / `edit` for `debtor` and `invoice`
//! (`delete` for invoices only); `offset`/`limit` paging (default 1000) with
//! `totalresults`; `modified[from]` / `modified[to]`, `searchat`/`searchfor`; the
//! `"status": "error"` envelope with `errors[]` on HTTP 200.
//!
//! Test hooks on [`WeFactSimHandle`]: seed data, edit as a user (bumps `Modified`), read
//! back, count requests by `controller.action`, refuse the caller's IP, refuse the
//! `modified` filter, a rate limit answering 429 (+ `Retry-After`; WeFact documents none
//! [UNSURE]), and faults (5xx, slow answers).

mod form;
mod routes;
mod seed;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use chrono::{Datelike, FixedOffset, NaiveDate, NaiveDateTime, Utc, Weekday};
use serde_json::{Map, Value as Json};

pub use form::parse_body;

/// How to run the simulator.
#[derive(Clone, Debug)]
pub struct WeFactSimOptions {
    /// 0 = any free port.
    pub port: u16,
    /// The only API key accepted.
    pub api_key: String,
    /// Most records one list answer holds (`limit` is clamped to it).
    pub max_limit: usize,
    /// `requests` per `per`, else 429. `None` = no limit (WeFact documents none).
    pub rate_limit: Option<(u32, Duration)>,
    /// Send `Retry-After` (seconds) with 429.
    pub retry_after_on_429: bool,
    pub seed: u64,
}

impl Default for WeFactSimOptions {
    fn default() -> Self {
        WeFactSimOptions { port: 0, api_key: "wefact-sim-key".into(), max_limit: 1000, rate_limit: None, retry_after_on_429: true, seed: 7 }
    }
}

/// Requests seen. Every request is counted, refused ones included.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct WeFactCounters {
    pub requests: u64,
    /// By `controller.action` (`debtor.list`, `invoice.show`, …).
    pub by_action: BTreeMap<String, u64>,
    /// The `modified[from]` values of list calls, in order.
    pub modified_from: Vec<String>,
    pub throttled: u64,
    pub unauthorized: u64,
    pub ip_refused: u64,
    pub faults: u64,
}

impl WeFactCounters {
    pub fn action(&self, k: &str) -> u64 {
        self.by_action.get(k).copied().unwrap_or(0)
    }
}

#[derive(Debug, Default)]
pub(crate) struct Store {
    pub debtors: BTreeMap<u64, Map<String, Json>>,
    pub invoices: BTreeMap<u64, Map<String, Json>>,
    pub next_debtor: u64,
    pub next_invoice: u64,
}

impl Store {
    pub fn table(&mut self, controller: &str) -> Option<&mut BTreeMap<u64, Map<String, Json>>> {
        match controller {
            "debtor" => Some(&mut self.debtors),
            "invoice" => Some(&mut self.invoices),
            _ => None,
        }
    }
}

#[derive(Debug, Default)]
pub(crate) struct Switches {
    pub refuse_ip: bool,
    pub refuse_modified_filter: bool,
    pub fail: Vec<(u64, u16)>,
    pub latency: Duration,
    pub rate: Option<(u32, Duration)>,
    pub tokens: f64,
    pub last: Option<Instant>,
}

pub(crate) struct Shared {
    pub opts: WeFactSimOptions,
    pub store: Mutex<Store>,
    pub counters: Mutex<WeFactCounters>,
    pub switches: Mutex<Switches>,
    pub times: Mutex<Vec<Instant>>,
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// WeFact's local time offset (CET/CEST with the EU rule).
pub(crate) fn local_offset(utc: &NaiveDateTime) -> FixedOffset {
    fn last_sunday(year: i32, month: u32) -> NaiveDate {
        let mut d = NaiveDate::from_ymd_opt(year, month + 1, 1).expect("valid month") - chrono::Duration::days(1);
        while d.weekday() != Weekday::Sun {
            d -= chrono::Duration::days(1);
        }
        d
    }
    let y = utc.date().year();
    let start = last_sunday(y, 3).and_hms_opt(1, 0, 0).expect("valid time");
    let end = last_sunday(y, 10).and_hms_opt(1, 0, 0).expect("valid time");
    FixedOffset::east_opt(if *utc >= start && *utc < end { 7200 } else { 3600 }).expect("valid offset")
}

/// WeFact's naive local time text for a UTC instant.
pub(crate) fn local_text(t: chrono::DateTime<Utc>) -> String {
    let off = local_offset(&t.naive_utc());
    t.with_timezone(&off).format("%Y-%m-%d %H:%M:%S").to_string()
}

/// The envelope's `date`: ISO-8601 with WeFact's offset.
pub(crate) fn envelope_date() -> String {
    let t = Utc::now();
    let off = local_offset(&t.naive_utc());
    t.with_timezone(&off).to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
}

/// The WeFact simulator.
pub struct WeFactSim;

impl WeFactSim {
    /// Starts a simulator; panics if the port cannot be bound (tests use port 0).
    pub async fn spawn(opts: WeFactSimOptions) -> WeFactSimHandle {
        Self::try_spawn(opts).await.expect("could not start the WeFact simulator")
    }

    pub async fn try_spawn(opts: WeFactSimOptions) -> std::io::Result<WeFactSimHandle> {
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], opts.port))).await?;
        let addr = listener.local_addr()?;
        let switches = Switches { rate: opts.rate_limit, tokens: opts.rate_limit.map(|r| f64::from(r.0)).unwrap_or(0.0), ..Switches::default() };
        let shared = Arc::new(Shared {
            store: Mutex::new(Store { next_debtor: 1, next_invoice: 1, ..Store::default() }),
            counters: Mutex::new(WeFactCounters::default()),
            switches: Mutex::new(switches),
            times: Mutex::new(vec![]),
            opts: opts.clone(),
        });
        let app = routes::router(shared.clone());
        let server = crate::Server::serve(listener, app);
        let base_url = format!("http://{addr}");
        Ok(WeFactSimHandle { url: format!("{base_url}/v2/"), base_url, api_key: opts.api_key, addr, shared, server })
    }
}

/// A running WeFact simulator. Dropping it stops the server.
pub struct WeFactSimHandle {
    /// `http://127.0.0.1:PORT`.
    pub base_url: String,
    /// The API endpoint to configure (`http://127.0.0.1:PORT/v2/`).
    pub url: String,
    pub api_key: String,
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    server: crate::Server,
}

impl WeFactSimHandle {
    pub async fn shutdown(self) {
        self.server.stop().await;
    }

    /// Adds debtors and invoices (1–4 lines each, spread over the debtors) with
    /// `Modified` times in the past, one minute apart, the newest a day ago.
    pub fn seed(&self, debtors: usize, invoices: usize) {
        let mut store = lock(&self.shared.store);
        seed::seed(&mut store, debtors, invoices, self.shared.opts.seed);
    }

    /// Edits an object as a user in WeFact would: merges `patch`, sets `Modified` to now.
    pub fn edit_as_user(&self, controller: &str, id: u64, patch: Json) -> Result<(), String> {
        let mut store = lock(&self.shared.store);
        let rec = store.table(controller).and_then(|t| t.get_mut(&id)).ok_or_else(|| format!("no {controller} {id}"))?;
        if let Json::Object(p) = patch {
            for (k, v) in p {
                rec.insert(k, v);
            }
        }
        rec.insert("Modified".into(), Json::String(local_text(Utc::now())));
        Ok(())
    }

    /// Every object of `controller` (`debtor`, `invoice`), in id order, as stored.
    pub fn records(&self, controller: &str) -> Vec<Json> {
        let mut store = lock(&self.shared.store);
        store.table(controller).map(|t| t.values().map(|r| Json::Object(r.clone())).collect()).unwrap_or_default()
    }

    pub fn count(&self, controller: &str) -> usize {
        let mut store = lock(&self.shared.store);
        store.table(controller).map(|t| t.len()).unwrap_or(0)
    }

    pub fn counters(&self) -> WeFactCounters {
        lock(&self.shared.counters).clone()
    }

    pub fn reset_counters(&self) {
        *lock(&self.shared.counters) = WeFactCounters::default();
        lock(&self.shared.times).clear();
    }

    /// When each request arrived (for checking a client's throttle).
    pub fn request_times(&self) -> Vec<Instant> {
        lock(&self.shared.times).clone()
    }

    /// Answers every call with WeFact's error envelope saying the caller's IP address is
    /// not allowed (API keys can be limited to whitelisted IPs). The wording is ours:
    /// WeFact's exact text is not in API_FACTS [UNSURE].
    pub fn refuse_ip(&self, on: bool) {
        lock(&self.shared.switches).refuse_ip = on;
    }

    /// Answers list calls that carry `modified[...]` with an error envelope.
    pub fn refuse_modified_filter(&self, on: bool) {
        lock(&self.shared.switches).refuse_modified_filter = on;
    }

    /// The next `count` requests answer HTTP `status` and do nothing.
    pub fn fail_next(&self, count: u64, status: u16) {
        lock(&self.shared.switches).fail.push((count, status));
    }

    pub fn set_latency(&self, d: Duration) {
        lock(&self.shared.switches).latency = d;
    }

    /// `requests` per `per`, else 429 (`None` = unlimited).
    pub fn set_rate_limit(&self, limit: Option<(u32, Duration)>) {
        let mut s = lock(&self.shared.switches);
        s.rate = limit;
        s.tokens = limit.map(|r| f64::from(r.0)).unwrap_or(0.0);
        s.last = None;
    }
}
