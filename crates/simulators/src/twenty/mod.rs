//! A Twenty CRM workspace on 127.0.0.1, faithful to API_FACTS §1: `/rest/{objects}`,
//! `/rest/{objects}/{id}`, `/rest/batch/{objects}` (1–60 records), `/rest/metadata/objects`;
//! Twenty's envelopes (`data.companies` + `pageInfo` + `totalCount`, `createCompanies`, …),
//! cursor paging tied to `order_by`, `limit` clamped to 200, the filter grammar subset
//! (`field[op]:value`, `and/or/not(...)`, `in`, `gte`, `eq`, `is NULL/NOT_NULL`, dotted
//! composite fields), soft and hard delete, Bearer auth, both rate-limit buckets answering
//! 429, and webhooks signed as Twenty signs them.
//!
//! Test hooks on [`TwentySimHandle`] seed data, edit records "as a user" (which also sends
//! webhooks), read everything back, count requests by kind, and switch faults on (5xx,
//! slow answers, dropped connections).

mod query;
mod routes;
mod schema;
mod seed;
mod store;
mod webhooks;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde_json::Value as Json;

pub use query::{parse_filter, Filter};
use store::{Actor, Store};

/// How to run the simulator. `Default` is Twenty's own configuration on a free port.
#[derive(Clone, Debug)]
pub struct TwentySimOptions {
    /// 0 = any free port.
    pub port: u16,
    /// The only API key accepted (`Authorization: Bearer <key>`).
    pub api_key: String,
    /// Short bucket: `API_RATE_LIMITING_SHORT_LIMIT` per `..._SHORT_TTL` (100 per second).
    pub short_limit: u32,
    pub short_ttl: Duration,
    /// Long bucket: `API_RATE_LIMITING_LONG_LIMIT` per `..._LONG_TTL` (100 per minute).
    pub long_limit: u32,
    pub long_ttl: Duration,
    /// `QUERY_MAX_RECORDS`: the most records one list answer holds (200).
    pub max_records: usize,
    /// `QUERY_DEFAULT_LIMIT_RECORDS`: records per page when no `limit` is given (60).
    pub default_limit: usize,
    /// Most records per batch create (60).
    pub batch_limit: usize,
    /// Send `Retry-After` with 429 (real Twenty does not).
    pub retry_after_on_429: bool,
    /// Send webhooks in the newer batched shape (`items[]`) instead of one `record`.
    pub batched_webhooks: bool,
    /// Seed for the fake data.
    pub seed: u64,
}

impl Default for TwentySimOptions {
    fn default() -> Self {
        TwentySimOptions {
            port: 0,
            api_key: "twenty-sim-key".into(),
            short_limit: 100,
            short_ttl: Duration::from_secs(1),
            long_limit: 100,
            long_ttl: Duration::from_secs(60),
            max_records: 200,
            default_limit: 60,
            batch_limit: 60,
            retry_after_on_429: false,
            batched_webhooks: false,
            seed: 42,
        }
    }
}

impl TwentySimOptions {
    /// Rate limits high enough never to matter (functional tests).
    pub fn unlimited(mut self) -> Self {
        self.short_limit = 1_000_000;
        self.long_limit = 1_000_000;
        self
    }

    /// One limit for both buckets: `requests` per `per` (scaled tests: 100 per second).
    pub fn rate_limit(mut self, requests: u32, per: Duration) -> Self {
        self.long_limit = requests;
        self.long_ttl = per;
        self.short_limit = requests;
        self.short_ttl = per;
        self
    }
}

/// What a fault switch does to a request.
#[derive(Clone, Debug, PartialEq)]
pub enum SimFault {
    /// Answer with this status (500, 502, 503…) and do nothing.
    Status(u16),
    /// Close the connection mid-answer, having done nothing.
    Drop,
    /// Wait this long, then answer normally.
    Slow(Duration),
}

#[derive(Debug)]
struct FaultPlan {
    skip: u64,
    count: u64,
    fault: SimFault,
}

/// Requests seen, by kind. Every request that arrives is counted, refused ones included.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SimCounters {
    pub requests: u64,
    /// GET requests.
    pub reads: u64,
    /// POST/PATCH/PUT/DELETE requests.
    pub writes: u64,
    /// By `"METHOD kind"`: `GET list`, `GET one`, `GET metadata`, `POST one`, `POST batch`,
    /// `PATCH one`, `DELETE one`, `other`.
    pub by_kind: BTreeMap<String, u64>,
    /// Records per accepted batch create, in order.
    pub batch_sizes: Vec<usize>,
    /// Answered 429.
    pub throttled: u64,
    /// Answered 401.
    pub unauthorized: u64,
    /// Faults fired (5xx, drops, slow answers).
    pub faults: u64,
    pub webhooks_sent: u64,
    pub webhooks_failed: u64,
}

impl SimCounters {
    pub fn kind(&self, k: &str) -> u64 {
        self.by_kind.get(k).copied().unwrap_or(0)
    }
}

#[derive(Clone, Debug)]
struct WebhookTarget {
    id: String,
    url: String,
    secret: String,
}

#[derive(Debug)]
struct Bucket {
    capacity: f64,
    tokens: f64,
    per_ms: f64,
    last: std::time::Instant,
}

impl Bucket {
    fn new(limit: u32, ttl: Duration) -> Self {
        let capacity = f64::from(limit.max(1));
        Bucket { capacity, tokens: capacity, per_ms: capacity / (ttl.as_millis().max(1) as f64), last: std::time::Instant::now() }
    }
    fn refill(&mut self) {
        let now = std::time::Instant::now();
        self.tokens = (self.tokens + now.duration_since(self.last).as_secs_f64() * 1000.0 * self.per_ms).min(self.capacity);
        self.last = now;
    }
}

struct Shared {
    opts: TwentySimOptions,
    store: Mutex<Store>,
    buckets: Mutex<(Bucket, Bucket)>,
    counters: Mutex<SimCounters>,
    faults: Mutex<(Vec<FaultPlan>, Duration)>,
    webhooks: Mutex<Vec<WebhookTarget>>,
    http: reqwest::Client,
    workspace_id: String,
    rt: tokio::runtime::Handle,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    /// Takes a token from both buckets, or says how long until there is one.
    fn take_token(&self) -> Result<(), Duration> {
        let mut b = lock(&self.buckets);
        b.0.refill();
        b.1.refill();
        if b.0.tokens >= 1.0 && b.1.tokens >= 1.0 {
            b.0.tokens -= 1.0;
            b.1.tokens -= 1.0;
            return Ok(());
        }
        let wait = |x: &Bucket| if x.tokens >= 1.0 { 0.0 } else { (1.0 - x.tokens) / x.per_ms };
        Err(Duration::from_millis(wait(&b.0).max(wait(&b.1)).ceil() as u64))
    }

    fn next_fault(&self) -> Option<SimFault> {
        let mut f = lock(&self.faults);
        let mut fired = None;
        for plan in f.0.iter_mut() {
            if plan.skip > 0 {
                plan.skip -= 1;
            } else if plan.count > 0 && fired.is_none() {
                plan.count -= 1;
                fired = Some(plan.fault.clone());
            }
        }
        f.0.retain(|p| p.count > 0);
        fired
    }

    fn latency(&self) -> Duration {
        lock(&self.faults).1
    }
}

/// The Twenty simulator.
pub struct TwentySim;

impl TwentySim {
    /// Starts a simulator; panics if the port cannot be bound (tests use port 0).
    pub async fn spawn(opts: TwentySimOptions) -> TwentySimHandle {
        Self::try_spawn(opts).await.expect("could not start the Twenty simulator")
    }

    /// Starts a simulator on 127.0.0.1.
    pub async fn try_spawn(opts: TwentySimOptions) -> std::io::Result<TwentySimHandle> {
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], opts.port))).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            buckets: Mutex::new((Bucket::new(opts.short_limit, opts.short_ttl), Bucket::new(opts.long_limit, opts.long_ttl))),
            store: Mutex::new(Store::default()),
            counters: Mutex::new(SimCounters::default()),
            faults: Mutex::new((vec![], Duration::ZERO)),
            webhooks: Mutex::new(vec![]),
            http: reqwest::Client::builder().timeout(Duration::from_millis(5000)).build().map_err(std::io::Error::other)?,
            workspace_id: uuid::Uuid::new_v4().to_string(),
            rt: tokio::runtime::Handle::current(),
            opts: opts.clone(),
        });
        let app = routes::router(shared.clone());
        let server = crate::Server::serve(listener, app);
        Ok(TwentySimHandle { base_url: format!("http://{addr}"), api_key: opts.api_key.clone(), addr, shared, server })
    }
}

/// Ids made by [`TwentySimHandle::seed`].
#[derive(Clone, Debug, Default)]
pub struct SeedIds {
    pub companies: Vec<String>,
    pub people: Vec<String>,
}

/// A running simulator. Dropping it stops the server.
pub struct TwentySimHandle {
    /// `http://127.0.0.1:PORT` (no trailing slash).
    pub base_url: String,
    pub api_key: String,
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    server: crate::Server,
}

impl TwentySimHandle {
    /// Stops the server and waits for it to finish.
    pub async fn shutdown(self) {
        self.server.stop().await;
    }

    /// Adds `companies` companies and `people` people with realistic fake data (people at
    /// random seeded companies). No webhooks are sent for seeded data.
    pub fn seed(&self, companies: usize, people: usize) -> SeedIds {
        let mut store = lock(&self.shared.store);
        let offset_c = store.count("companies");
        let offset_p = store.count("people");
        let mut rng = seed::rng(self.shared.opts.seed.wrapping_add(offset_c as u64));
        let mut ids = SeedIds::default();
        for body in seed::companies(&mut rng, companies, offset_c) {
            let (r, _) = store.create("companies", &body, Actor::User).expect("seed company is valid");
            ids.companies.push(r["id"].as_str().unwrap_or_default().to_string());
        }
        let all_companies: Vec<String> = if ids.companies.is_empty() {
            store.query("companies", None).iter().filter_map(|r| r["id"].as_str().map(str::to_string)).collect()
        } else {
            ids.companies.clone()
        };
        for body in seed::people(&mut rng, people, offset_p, &all_companies) {
            let (r, _) = store.create("people", &body, Actor::User).expect("seed person is valid");
            ids.people.push(r["id"].as_str().unwrap_or_default().to_string());
        }
        ids
    }

    /// Creates a record as a user in Twenty's UI would (sends `*.created` webhooks).
    pub fn insert_as_user(&self, object: &str, body: Json) -> Result<String, String> {
        let (r, ev) = lock(&self.shared.store).create(object, &body, Actor::User).map_err(|e| e.message)?;
        webhooks::deliver(&self.shared, ev);
        Ok(r["id"].as_str().unwrap_or_default().to_string())
    }

    /// Edits a record as a user would: `patch` is a partial body (`{"name": "X"}`,
    /// `{"address": {"addressCity": "Y"}}`); bumps `updatedAt`, sends `*.updated`.
    pub fn edit_as_user(&self, object: &str, id: &str, patch: Json) -> Result<(), String> {
        let (_, ev) = lock(&self.shared.store).update(object, id, &patch).map_err(|e| e.message)?;
        webhooks::deliver(&self.shared, ev);
        Ok(())
    }

    /// Soft-deletes a record as a user would (sends `*.deleted`).
    pub fn delete_as_user(&self, object: &str, id: &str) -> Result<(), String> {
        let (_, ev) = lock(&self.shared.store).delete(object, id, true).map_err(|e| e.message)?;
        webhooks::deliver(&self.shared, ev);
        Ok(())
    }

    /// Every live record of `object`, in id order, as stored (full JSON).
    pub fn records(&self, object: &str) -> Vec<Json> {
        lock(&self.shared.store).query(object, None).into_iter().map(|r| Json::Object(r.clone())).collect()
    }

    /// One record, soft-deleted ones included (check `deletedAt`).
    pub fn record(&self, object: &str, id: &str) -> Option<Json> {
        lock(&self.shared.store).get_any(object, id).map(|r| Json::Object(r.clone()))
    }

    pub fn count(&self, object: &str) -> usize {
        lock(&self.shared.store).count(object)
    }

    pub fn counters(&self) -> SimCounters {
        lock(&self.shared.counters).clone()
    }

    pub fn reset_counters(&self) {
        *lock(&self.shared.counters) = SimCounters::default();
    }

    /// The next `count` requests answer `status` (e.g. 500) without doing anything.
    pub fn fail_next(&self, count: u64, status: u16) {
        self.fault_after(0, count, SimFault::Status(status));
    }

    /// After `skip` more requests, the next `count` get `fault`.
    pub fn fault_after(&self, skip: u64, count: u64, fault: SimFault) {
        lock(&self.shared.faults).0.push(FaultPlan { skip, count, fault });
    }

    /// The next `count` requests have their connection dropped mid-answer.
    pub fn drop_next(&self, count: u64) {
        self.fault_after(0, count, SimFault::Drop);
    }

    /// Every answer waits this long first.
    pub fn set_latency(&self, d: Duration) {
        lock(&self.shared.faults).1 = d;
    }

    pub fn clear_faults(&self) {
        *lock(&self.shared.faults) = (vec![], Duration::ZERO);
    }

    /// Replaces both rate-limit buckets (full).
    pub fn set_rate_limits(&self, short: (u32, Duration), long: (u32, Duration)) {
        *lock(&self.shared.buckets) = (Bucket::new(short.0, short.1), Bucket::new(long.0, long.1));
    }

    /// Registers a webhook: every record change is POSTed to `url`, signed with `secret`
    /// (empty = unsigned). Returns the webhook id.
    pub fn register_webhook(&self, url: &str, secret: &str) -> String {
        let id = uuid::Uuid::new_v4().to_string();
        lock(&self.shared.webhooks).push(WebhookTarget { id: id.clone(), url: url.to_string(), secret: secret.to_string() });
        id
    }

    pub fn workspace_id(&self) -> &str {
        &self.shared.workspace_id
    }
}
