//! A Frappe v15 / ERPNext site on 127.0.0.1, faithful to API_FACTS §2 and §9 (§9 wins):
//! `/api/resource/{DocType}[/{name}]` (list with `fields`/`filters`/`order_by`/
//! `limit_start`/`limit_page_length`, default 20; GET with child tables; POST → 200; PUT
//! with `modified` → 417 `TimestampMismatchError`; DELETE → 202), `/api/method/ping`,
//! `frappe.auth.get_logged_user`, DocType metadata, System Settings `time_zone` (default
//! Asia/Kolkata, as a fresh site), naive site-local `modified` times, naming series with a
//! per-site counter, link validation, docstatus rules, errors with `_server_messages`,
//! token auth (no header → 403 Guest, wrong secret → 401), a global limiter answering 429
//! with `Retry-After`, fault switches, and webhooks sent after commit, signed as Frappe
//! signs them — to targets registered by tests and to the Webhook documents created through
//! `/api/resource/Webhook` (their JSON template rendered, headers and secret applied;
//! `webhook_secret` reads back masked). Run two at once for a cloud and a local site.

mod routes;
mod store;
mod webhooks;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde_json::{Map, Value as Json};

pub use store::FrappeError;
pub use webhooks::{py_dumps, signature as webhook_signature};

/// How to run a site. `Default` is a fresh v15 site on a free port.
#[derive(Clone, Debug)]
pub struct FrappeSimOptions {
    pub port: u16,
    pub api_key: String,
    pub api_secret: String,
    /// The user the keys belong to (`get_logged_user`).
    pub user: String,
    /// System Settings `time_zone` (`None` = unset: times are stamped in Asia/Kolkata).
    pub time_zone: Option<String>,
    /// The zone's offset from UTC in minutes, used to stamp times (330 = Asia/Kolkata).
    pub utc_offset_minutes: i32,
    /// First number of every naming series (`CUST-0001` vs `CUST-1001` on another site).
    pub series_start: u64,
    /// `limit_page_length` when none is given (Frappe: 20).
    pub default_page_length: usize,
    /// The global limiter: at most this many requests per window (`None` = off, as a site
    /// without `rate_limit` in site_config).
    pub rate_limit: Option<(u32, Duration)>,
    /// Sleeps between webhook attempts (Frappe: 1 s, 4 s).
    pub webhook_retry_delays: Vec<Duration>,
    /// Whether the API user may read and write Webhook documents (a System Manager may;
    /// `false` answers 403 `PermissionError`, as for an ordinary user).
    pub webhook_admin: bool,
    pub seed: u64,
}

impl Default for FrappeSimOptions {
    fn default() -> Self {
        FrappeSimOptions {
            port: 0,
            api_key: "frappe-sim-key".into(),
            api_secret: "frappe-sim-secret".into(),
            user: "sync@example.com".into(),
            time_zone: None,
            utc_offset_minutes: 330,
            series_start: 1,
            default_page_length: 20,
            rate_limit: None,
            webhook_retry_delays: vec![Duration::from_secs(1), Duration::from_secs(4)],
            webhook_admin: true,
            seed: 7,
        }
    }
}

/// Requests seen, by kind (`GET list`, `GET one`, `POST list`, `PUT one`, `DELETE one`,
/// `GET method`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FrappeCounters {
    pub requests: u64,
    pub by_kind: BTreeMap<String, u64>,
    pub throttled: u64,
    pub unauthorized: u64,
    pub faults: u64,
    pub webhook_attempts: u64,
    pub webhooks_sent: u64,
    pub webhooks_failed: u64,
}

impl FrappeCounters {
    pub fn kind(&self, k: &str) -> u64 {
        self.by_kind.get(k).copied().unwrap_or(0)
    }
}

#[derive(Clone, Debug)]
struct WebhookTarget {
    url: String,
    secret: String,
    /// Empty = every DocType.
    doctypes: Vec<String>,
}

/// `(status, count)` faults, `(retry_after, count)` forced throttles, latency.
type Faults = (Vec<(u16, u64)>, Vec<(Duration, u64)>, Duration);

struct Shared {
    opts: FrappeSimOptions,
    store: Mutex<store::Store>,
    counters: Mutex<FrappeCounters>,
    /// `(status, count)` faults, then `(retry_after, count)` forced throttles, latency.
    faults: Mutex<Faults>,
    window: Mutex<(Instant, u32)>,
    webhooks: Mutex<Vec<WebhookTarget>>,
    http: reqwest::Client,
    rt: tokio::runtime::Handle,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    fn next_fault(&self) -> Option<u16> {
        let mut f = lock(&self.faults);
        let s = f.0.first_mut().map(|(s, n)| {
            *n -= 1;
            *s
        });
        f.0.retain(|(_, n)| *n > 0);
        s
    }

    fn latency(&self) -> Duration {
        lock(&self.faults).2
    }

    /// Spends one request of the window's budget, or says how long until the next window.
    fn take_budget(&self) -> Result<(), Duration> {
        {
            let mut f = lock(&self.faults);
            if let Some((ra, n)) = f.1.first_mut() {
                *n -= 1;
                let ra = *ra;
                f.1.retain(|(_, n)| *n > 0);
                return Err(ra);
            }
        }
        let Some((limit, window)) = self.opts.rate_limit else { return Ok(()) };
        let mut w = lock(&self.window);
        if w.0.elapsed() >= window {
            *w = (Instant::now(), 0);
        }
        if w.1 >= limit {
            return Err(window.saturating_sub(w.0.elapsed()));
        }
        w.1 += 1;
        Ok(())
    }
}

/// The Frappe simulator.
pub struct FrappeSim;

impl FrappeSim {
    /// Starts a site; panics if the port cannot be bound (tests use port 0).
    pub async fn spawn(opts: FrappeSimOptions) -> FrappeSimHandle {
        Self::try_spawn(opts).await.expect("could not start the Frappe simulator")
    }

    pub async fn try_spawn(opts: FrappeSimOptions) -> std::io::Result<FrappeSimHandle> {
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], opts.port))).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            store: Mutex::new(store::Store::new(opts.utc_offset_minutes, opts.series_start, &opts.user)),
            counters: Mutex::new(FrappeCounters::default()),
            faults: Mutex::new((vec![], vec![], Duration::ZERO)),
            window: Mutex::new((Instant::now(), 0)),
            webhooks: Mutex::new(vec![]),
            http: reqwest::Client::builder().timeout(Duration::from_secs(5)).build().map_err(std::io::Error::other)?,
            rt: tokio::runtime::Handle::current(),
            opts: opts.clone(),
        });
        let app = routes::router(shared.clone());
        let server = crate::Server::serve(listener, app);
        Ok(FrappeSimHandle { base_url: format!("http://{addr}"), api_key: opts.api_key.clone(), api_secret: opts.api_secret.clone(), addr, shared, server })
    }
}

/// A running site. Dropping it stops the server.
pub struct FrappeSimHandle {
    /// `http://127.0.0.1:PORT`.
    pub base_url: String,
    pub api_key: String,
    pub api_secret: String,
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    server: crate::Server,
}

fn obj(v: Json) -> Map<String, Json> {
    v.as_object().cloned().unwrap_or_default()
}

impl FrappeSimHandle {
    pub async fn shutdown(self) {
        self.server.stop().await;
    }

    /// `key:secret`, as the connector's keyring secret.
    pub fn secret(&self) -> String {
        format!("{}:{}", self.api_key, self.api_secret)
    }

    /// Adds sample masters and documents: `customers` customers, `items` items, and
    /// `orders` draft sales orders with 1–3 item rows each. No webhooks.
    pub fn seed(&self, customers: usize, items: usize, orders: usize) -> Vec<String> {
        let mut s = lock(&self.shared.store);
        let site = self.shared.opts.series_start;
        let mut names = vec![];
        for i in 0..customers {
            let b = obj(serde_json::json!({"customer_name": format!("Customer {site}-{i}"), "customer_type": if i % 3 == 0 { "Individual" } else { "Company" }, "territory": "All Territories", "email_id": format!("c{i}@s{site}.example.com"), "credit_limit": (i % 7) * 1000}));
            names.push(s.insert("Customer", &b).map(|(d, _)| d["name"].as_str().unwrap_or_default().to_string()).expect("seed customer"));
        }
        let mut codes = vec![];
        for i in 0..items {
            let b = obj(serde_json::json!({"item_code": format!("ITEM-S{site}-{i:04}"), "item_name": format!("Item {i}"), "item_group": "Products", "stock_uom": "Nos", "standard_rate": 10 + i % 90}));
            codes.push(s.insert("Item", &b).map(|(d, _)| d["name"].as_str().unwrap_or_default().to_string()).expect("seed item"));
        }
        for i in 0..orders {
            if names.is_empty() || codes.is_empty() {
                break;
            }
            let rows: Vec<Json> = (0..(1 + i % 3)).map(|r| serde_json::json!({"item_code": codes[(i + r) % codes.len()], "qty": 1 + r, "rate": 10.5 + r as f64, "delivery_date": "2025-12-31"})).collect();
            let b = obj(serde_json::json!({"customer": names[i % names.len()], "transaction_date": "2025-06-01", "delivery_date": "2025-12-31", "items": rows}));
            s.insert("Sales Order", &b).expect("seed order");
        }
        names
    }

    /// Creates a document as a user in the desk would (sends webhooks).
    pub fn insert_as_user(&self, doctype: &str, body: Json) -> Result<Json, FrappeError> {
        let (doc, ev) = lock(&self.shared.store).insert(doctype, &obj(body))?;
        webhooks::after_commit(&self.shared, ev);
        Ok(Json::Object(doc))
    }

    /// Saves a change as a user would (bumps `modified`, sends webhooks).
    pub fn edit_as_user(&self, doctype: &str, name: &str, patch: Json) -> Result<Json, FrappeError> {
        let (doc, ev) = lock(&self.shared.store).update(doctype, name, &obj(patch))?;
        webhooks::after_commit(&self.shared, ev);
        Ok(Json::Object(doc))
    }

    pub fn delete_as_user(&self, doctype: &str, name: &str) -> Result<(), FrappeError> {
        let ev = lock(&self.shared.store).delete(doctype, name)?;
        webhooks::after_commit(&self.shared, ev);
        Ok(())
    }

    /// One document with child tables.
    pub fn doc(&self, doctype: &str, name: &str) -> Option<Json> {
        lock(&self.shared.store).get(doctype, name).cloned().map(Json::Object)
    }

    /// Every document of `doctype`, by name.
    pub fn docs(&self, doctype: &str) -> Vec<Json> {
        lock(&self.shared.store).all(doctype).into_iter().cloned().map(Json::Object).collect()
    }

    pub fn count(&self, doctype: &str) -> usize {
        lock(&self.shared.store).count(doctype)
    }

    /// While `Some`, every write is stamped with this `modified` (tie-break tests).
    pub fn freeze_clock(&self, at: Option<&str>) {
        lock(&self.shared.store).frozen = at.map(str::to_string);
    }

    pub fn counters(&self) -> FrappeCounters {
        lock(&self.shared.counters).clone()
    }

    pub fn reset_counters(&self) {
        *lock(&self.shared.counters) = FrappeCounters::default();
    }

    /// The next `count` requests answer `status` without doing anything.
    pub fn fail_next(&self, count: u64, status: u16) {
        lock(&self.shared.faults).0.push((status, count));
    }

    /// The next `count` requests answer 429 with `Retry-After` (whole seconds, ≥ 1).
    pub fn throttle_next(&self, count: u64, retry_after: Duration) {
        lock(&self.shared.faults).1.push((retry_after, count));
    }

    pub fn set_latency(&self, d: Duration) {
        lock(&self.shared.faults).2 = d;
    }

    /// Registers Webhook documents for `after_insert`, `on_update`, `on_trash` (and the
    /// submit events) of `doctypes` (empty = all), signed with `secret` (empty = off).
    pub fn register_webhook(&self, url: &str, secret: &str, doctypes: &[&str]) {
        lock(&self.shared.webhooks).push(WebhookTarget { url: url.to_string(), secret: secret.to_string(), doctypes: doctypes.iter().map(|s| s.to_string()).collect() });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn fresh_site_basics() {
        let sim = FrappeSim::spawn(FrappeSimOptions::default()).await;
        sim.seed(3, 2, 2);
        let c = reqwest::Client::new();
        let r = c.get(format!("{}/api/resource/Customer", sim.base_url)).send().await.unwrap();
        assert_eq!(r.status(), 403, "no Authorization header is Guest: 403, not 401 (§9)");
        let r = c.get(format!("{}/api/resource/Customer", sim.base_url)).header("Authorization", "token frappe-sim-key:wrong").send().await.unwrap();
        assert_eq!(r.status(), 401, "a wrong secret is 401");
        let auth = format!("token {}", sim.secret());
        let r: Json = c.get(format!("{}/api/resource/Sales%20Order/SAL-ORD-0001", sim.base_url)).header("Authorization", &auth).send().await.unwrap().json().await.unwrap();
        assert!(r["data"]["items"].as_array().is_some_and(|a| !a.is_empty()), "GET one has child tables: {r}");
        let r = c.post(format!("{}/api/resource/Customer", sim.base_url)).header("Authorization", &auth).json(&serde_json::json!({"customer_name": "New"})).send().await.unwrap();
        assert_eq!(r.status(), 200, "POST answers 200 on v15");
        let r = c.delete(format!("{}/api/resource/Customer/CUST-0004", sim.base_url)).header("Authorization", &auth).send().await.unwrap();
        assert_eq!(r.status(), 202, "DELETE answers 202");
        let r: Json = c.put(format!("{}/api/resource/Customer/CUST-0003", sim.base_url)).header("Authorization", &auth).json(&serde_json::json!({"territory": "X", "modified": "2000-01-01 00:00:00.000000"})).send().await.unwrap().json().await.unwrap();
        assert_eq!(r["exc_type"], "TimestampMismatchError", "a stale modified is refused: {r}");
        assert!(r["_server_messages"].is_string(), "_server_messages is a JSON string");
    }
}
