//! A webhook receiver (a stand-in for a Zapier catch hook, Make or n8n) on 127.0.0.1: it
//! records every POST (path, headers, raw body), answers 200 `{"status":"success"}` like
//! Zapier, and on demand fails (any status, a random share of requests, 429 with
//! `Retry-After`), slows down, hangs past a client's time-out, or "processes then fails"
//! (keeps the request but answers 500: the lost-acknowledgement case). It counts
//! deliveries by idempotency key, so tests can check "each record version once".

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use hmac::{Hmac, Mac};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sha2::Sha256;

/// How to run the receiver.
#[derive(Clone, Debug)]
pub struct WebhookReceiverOptions {
    pub port: u16,
    /// The header holding the idempotency key.
    pub idempotency_header: String,
    pub seed: u64,
}

impl Default for WebhookReceiverOptions {
    fn default() -> Self {
        WebhookReceiverOptions { port: 0, idempotency_header: "Idempotency-Key".into(), seed: 11 }
    }
}

/// One request the receiver got.
#[derive(Clone, Debug)]
pub struct Received {
    pub path: String,
    /// Header names in lower case.
    pub headers: BTreeMap<String, String>,
    pub body: Vec<u8>,
    pub at: Instant,
    /// What the receiver answered.
    pub status: u16,
    /// The receiver kept (processed) it: a 2xx, or "processed then failed".
    pub accepted: bool,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(&name.to_ascii_lowercase()).map(String::as_str)
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

/// A planned misbehaviour for the next requests.
#[derive(Clone, Debug, PartialEq)]
pub enum ReceiverFault {
    /// Answer this status, keep nothing.
    Status(u16),
    /// 429 with `Retry-After: secs`.
    TooMany { retry_after_secs: u64 },
    /// Wait this long before answering 200 (a client with a shorter time-out gives up,
    /// and the request is still kept, as a slow real receiver would).
    Hang(Duration),
    /// Keep the request but answer 500 (the acknowledgement is lost).
    ProcessThenFail,
}

#[derive(Default)]
struct Inner {
    received: Vec<Received>,
    plan: Vec<(u64, ReceiverFault)>,
    fail_rate: f64,
    latency: Duration,
}

struct Shared {
    opts: WebhookReceiverOptions,
    inner: Mutex<Inner>,
    rng: Mutex<StdRng>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The webhook receiver.
pub struct WebhookReceiver;

impl WebhookReceiver {
    pub async fn spawn(opts: WebhookReceiverOptions) -> WebhookReceiverHandle {
        Self::try_spawn(opts).await.expect("could not start the webhook receiver")
    }

    pub async fn try_spawn(opts: WebhookReceiverOptions) -> std::io::Result<WebhookReceiverHandle> {
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], opts.port))).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared { rng: Mutex::new(StdRng::seed_from_u64(opts.seed)), inner: Mutex::new(Inner::default()), opts });
        let app = Router::new().fallback(handle).with_state(shared.clone());
        let server = crate::Server::serve(listener, app);
        Ok(WebhookReceiverHandle { base_url: format!("http://{addr}"), addr, shared, server })
    }
}

async fn handle(State(s): State<Arc<Shared>>, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let at = Instant::now();
    let (fault, latency) = {
        let mut inner = lock(&s.inner);
        let mut fault = None;
        if let Some(first) = inner.plan.first_mut() {
            first.0 -= 1;
            fault = Some(first.1.clone());
            if first.0 == 0 {
                inner.plan.remove(0);
            }
        }
        if fault.is_none() && inner.fail_rate > 0.0 && lock(&s.rng).gen_bool(inner.fail_rate.clamp(0.0, 1.0)) {
            fault = Some(ReceiverFault::Status(500));
        }
        (fault, inner.latency)
    };
    let (status, accepted, retry_after, hang) = match &fault {
        None => (200, true, None, Duration::ZERO),
        Some(ReceiverFault::Status(c)) => (*c, false, None, Duration::ZERO),
        Some(ReceiverFault::TooMany { retry_after_secs }) => (429, false, Some(*retry_after_secs), Duration::ZERO),
        Some(ReceiverFault::Hang(d)) => (200, true, None, *d),
        Some(ReceiverFault::ProcessThenFail) => (500, true, None, Duration::ZERO),
    };
    // Recorded on arrival: a client that gives up waiting does not undo what a slow
    // receiver already got.
    let hs: BTreeMap<String, String> = headers.iter().map(|(k, v)| (k.as_str().to_ascii_lowercase(), v.to_str().unwrap_or_default().to_string())).collect();
    lock(&s.inner).received.push(Received { path: uri.path().to_string(), headers: hs, body: body.to_vec(), at, status, accepted });
    let wait = latency + hang;
    if !wait.is_zero() {
        tokio::time::sleep(wait).await;
    }
    let body = if (200..300).contains(&status) {
        serde_json::json!({"status": "success", "attempt": uuid::Uuid::new_v4().to_string(), "id": uuid::Uuid::new_v4().to_string(), "request_id": uuid::Uuid::new_v4().to_string()})
    } else {
        serde_json::json!({"status": "error", "message": format!("simulated failure (HTTP {status})")})
    };
    let mut r = (StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR), axum::Json(body)).into_response();
    if let Some(secs) = retry_after {
        r.headers_mut().insert("retry-after", secs.to_string().parse().expect("digits are a valid header"));
    }
    r
}

/// A running receiver. Dropping it stops the server.
pub struct WebhookReceiverHandle {
    /// `http://127.0.0.1:PORT`.
    pub base_url: String,
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    server: crate::Server,
}

impl WebhookReceiverHandle {
    pub async fn shutdown(self) {
        self.server.stop().await;
    }

    /// A hook URL on this receiver (`http://127.0.0.1:PORT/hooks/catch/NAME/`).
    pub fn url(&self, name: &str) -> String {
        format!("{}/hooks/catch/{name}/", self.base_url)
    }

    /// Everything received, in arrival order.
    pub fn received(&self) -> Vec<Received> {
        lock(&self.shared.inner).received.clone()
    }

    /// Received on one path.
    pub fn received_on(&self, path_part: &str) -> Vec<Received> {
        self.received().into_iter().filter(|r| r.path.contains(path_part)).collect()
    }

    /// Requests the receiver kept, counted per idempotency key (a key with no header
    /// counts under `""`).
    pub fn accepted_by_key(&self) -> BTreeMap<String, u64> {
        let h = self.shared.opts.idempotency_header.to_ascii_lowercase();
        let mut m = BTreeMap::new();
        for r in lock(&self.shared.inner).received.iter().filter(|r| r.accepted) {
            *m.entry(r.headers.get(&h).cloned().unwrap_or_default()).or_insert(0) += 1;
        }
        m
    }

    /// Distinct record versions kept (after deduplicating by idempotency key).
    pub fn unique_accepted(&self) -> usize {
        self.accepted_by_key().len()
    }

    /// Kept requests whose key was kept before (what deduplication drops).
    pub fn duplicates(&self) -> u64 {
        self.accepted_by_key().values().map(|n| n - 1).sum()
    }

    /// The next `count` requests get `fault`.
    pub fn fault_next(&self, count: u64, fault: ReceiverFault) {
        lock(&self.shared.inner).plan.push((count, fault));
    }

    /// The next `count` requests answer `status` and are not kept.
    pub fn fail_next(&self, count: u64, status: u16) {
        self.fault_next(count, ReceiverFault::Status(status));
    }

    /// This share of requests (0.0–1.0) answers 500 (seeded, repeatable).
    pub fn set_fail_rate(&self, share: f64) {
        lock(&self.shared.inner).fail_rate = share;
    }

    /// Every answer waits this long first.
    pub fn set_latency(&self, d: Duration) {
        lock(&self.shared.inner).latency = d;
    }

    pub fn clear_faults(&self) {
        let mut i = lock(&self.shared.inner);
        i.plan.clear();
        i.fail_rate = 0.0;
        i.latency = Duration::ZERO;
    }

    pub fn clear_received(&self) {
        lock(&self.shared.inner).received.clear();
    }
}

/// Checks a hex HMAC-SHA256 signature (with an optional prefix such as `sha256=`) over the
/// raw body, in constant time.
pub fn verify_hex_signature(secret: &[u8], body: &[u8], header_value: &str, prefix: &str) -> bool {
    let Some(hexsig) = header_value.trim().strip_prefix(prefix) else { return false };
    let Ok(sig) = hex::decode(hexsig) else { return false };
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(body);
    mac.verify_slice(&sig).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn records_fails_on_demand_and_counts_keys() {
        let r = WebhookReceiver::spawn(WebhookReceiverOptions::default()).await;
        let c = reqwest::Client::new();
        r.fail_next(1, 503);
        let a = c.post(r.url("x")).header("Idempotency-Key", "k1").body("{}").send().await.unwrap().status().as_u16();
        let b = c.post(r.url("x")).header("Idempotency-Key", "k1").body("{}").send().await.unwrap().status().as_u16();
        r.fault_next(1, ReceiverFault::ProcessThenFail);
        let d = c.post(r.url("x")).header("Idempotency-Key", "k1").body("{}").send().await.unwrap().status().as_u16();
        assert_eq!((a, b, d), (503, 200, 500), "planned faults fire in order, then success");
        assert_eq!(r.received().len(), 3, "every request is recorded");
        assert_eq!((r.unique_accepted(), r.duplicates()), (1, 1), "a kept request with a seen key is a duplicate");
        assert!(verify_hex_signature(b"key", b"The quick brown fox jumps over the lazy dog", "sha256=f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8", "sha256="), "known HMAC-SHA256 vector verifies");
    }
}
