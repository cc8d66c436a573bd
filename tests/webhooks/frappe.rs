//! Frappe webhooks at the engine's listener: forged, unsigned, replayed, oversized and
//! malformed deliveries are refused (401/413/400) while the listener keeps serving, and a
//! seeded fuzz run over the raw input (bodies, signature headers, paths) finds no panic,
//! no 5xx, and nothing stored unless the signature was right.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crosswalk_engine::App;
use crosswalk_simulators::frappe::webhook_signature;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const SECRET: &str = "frappe-hook-secret-9";
/// A link that does not run on webhooks: a verified delivery is stored and starts no run,
/// so the fuzz loop measures the handler alone.
const CONFIG: &str = r#"
[connections.cloud]
kind = "frappe"
url = "http://127.0.0.1:9"
webhook_port = 0
webhook_secret_env = "FRAPPE_FUZZ_HOOK_SECRET"
[connections.local]
kind = "frappe"
url = "http://127.0.0.1:10"
[links.customers]
left = { connection = "cloud", object = "Customer" }
right = { connection = "local", object = "Customer" }
fields = [{ left = "customer_name", right = "customer_name" }]
triggers = { on_webhook = false }
"#;

/// Opens the app under a home of its own that outlives the test (the Twenty test in this
/// binary sets `CROSSWALK_HOME` too; a home deleted under a running app would break it).
fn open_app(dir: &Path) -> Arc<App> {
    let home: PathBuf = std::env::temp_dir().join(format!("crosswalk-frappe-hooks-{}", std::process::id()));
    std::env::set_var("FRAPPE_FUZZ_HOOK_SECRET", SECRET);
    let config = dir.join("crosswalk.toml");
    std::fs::write(&config, CONFIG).unwrap();
    loop {
        std::env::set_var("CROSSWALK_HOME", &home);
        std::env::set_var("CROSSWALK_NO_KEYRING", "1");
        let app = App::open(Some(&config)).unwrap();
        if app.paths().data_dir.starts_with(&home) {
            return Arc::new(app);
        }
    }
}

fn body(name: &str, modified: &str) -> String {
    format!(r#"{{"event": "on_update", "doctype": "Customer", "name": "{name}", "modified": "{modified}", "doc": {{"name": "{name}", "customer_name": "Caf\u00e9 {name}"}}}}"#)
}

async fn post(c: &reqwest::Client, url: &str, sig: Option<&str>, body: impl Into<reqwest::Body>) -> u16 {
    let mut req = c.post(url).body(body);
    if let Some(s) = sig {
        req = req.header("X-Frappe-Webhook-Signature", s);
    }
    req.send().await.expect("the listener answers").status().as_u16()
}

async fn healthy(c: &reqwest::Client, base: &str) {
    let r = c.get(format!("{base}/health")).send().await.expect("the listener still serves");
    assert_eq!(r.status(), 200, "GET /health answers while bad webhooks come in");
}

#[tokio::test(flavor = "multi_thread")]
async fn forged_unsigned_replayed_oversized_and_malformed_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let app = open_app(dir.path());
    let w = crosswalk_engine::watch::start(app.clone(), false).await.unwrap();
    let base = format!("http://{}", w.webhook_addrs[0]);
    let url = format!("{base}/webhooks/cloud");
    let c = reqwest::Client::new();
    let good = body("CUST-0001", "2026-01-01 10:00:00.000001");
    let sig = webhook_signature(SECRET, good.as_bytes());

    assert_eq!(post(&c, &url, Some(&webhook_signature("not-the-secret", good.as_bytes())), good.clone()).await, 401, "forged: signed with another secret");
    healthy(&c, &base).await;
    assert_eq!(post(&c, &url, None, good.clone()).await, 401, "unsigned");
    assert_eq!(post(&c, &url, Some(""), good.clone()).await, 401, "an empty signature");
    assert_eq!(post(&c, &url, Some("bm90IGEgbWFj"), good.clone()).await, 401, "valid base64 that is not the MAC");
    assert_eq!(post(&c, &url, Some(&sig), good.replace("CUST-0001\"}", "CUST-0002\"}")).await, 401, "a body changed after signing");
    healthy(&c, &base).await;
    let big = format!("{{\"pad\": \"{}\"}}", "x".repeat(crosswalk_connectors::frappe::webhook::MAX_BODY));
    assert_eq!(post(&c, &url, Some(&webhook_signature(SECRET, big.as_bytes())), big).await, 413, "oversized, even when signed");
    healthy(&c, &base).await;
    for junk in ["not json", "[1, 2]", "{\"doctype\": \"Customer\"}", "{\"name\": 5, \"doctype\": []}", ""] {
        assert_eq!(post(&c, &url, Some(&webhook_signature(SECRET, junk.as_bytes())), junk).await, 400, "signed but malformed: {junk:?}");
    }
    healthy(&c, &base).await;
    assert_eq!(app.store().inbox("cloud").unwrap().len(), 0, "nothing refused was stored");

    assert_eq!(post(&c, &url, Some(&sig), good.clone()).await, 202, "a correctly signed delivery is taken");
    assert_eq!(post(&c, &format!("{base}/webhook/cloud"), Some(&sig), good.clone()).await, 401, "the same delivery again is a replay (on either path)");
    assert_eq!(post(&c, &format!("{base}/webhooks/nobody"), Some(&sig), good.clone()).await, 404, "an unknown connection");
    let stored = app.store().inbox("cloud").unwrap();
    assert_eq!(stored.len(), 1, "stored once");
    assert_eq!(stored[0].event["records"][0], "CUST-0001");
    assert!(!stored[0].event.to_string().contains(SECRET));
    healthy(&c, &base).await;
    w.stop();
}

/// One generated request: `(path, signature header bytes, body, whether the signature is
/// the right one for this body)`.
type Case = (String, Option<Vec<u8>>, Vec<u8>, bool);

fn gen_case(rng: &mut ChaCha8Rng, seen: &mut Vec<Vec<u8>>) -> Case {
    let path = match rng.gen_range(0..20) {
        0 => "/webhooks/nobody".to_string(),
        1 => "/webhooks/%FF%FE".to_string(),
        2 => format!("/webhooks/{}", "c".repeat(rng.gen_range(1..300))),
        3 => "/webhook/cloud".to_string(),
        _ => "/webhooks/cloud".to_string(),
    };
    let k: u32 = rng.gen_range(0..100_000);
    let valid = || body(&format!("CUST-{k:05}"), "2026-01-01 10:00:00.000001").into_bytes();
    let mut body: Vec<u8> = match rng.gen_range(0..12) {
        0 => (0..rng.gen_range(0..200)).map(|_| rng.gen()).collect(),
        1 => Vec::new(),
        2 if !seen.is_empty() => seen[rng.gen_range(0..seen.len())].clone(), // a replay
        3 => b"{\"doctype\": \"Customer\", \"name\": ".repeat(rng.gen_range(1..50)),
        4 => format!("{}{}", "[".repeat(rng.gen_range(1..5000)), "]".repeat(rng.gen_range(0..5000))).into_bytes(),
        5 if rng.gen_range(0..40) == 0 => vec![b' '; crosswalk_connectors::frappe::webhook::MAX_BODY + rng.gen_range(1..1000)],
        _ => valid(),
    };
    // Mutate some: flip, cut, or splice bytes.
    if !body.is_empty() && rng.gen_bool(0.3) {
        for _ in 0..rng.gen_range(1..4) {
            let i = rng.gen_range(0..body.len());
            match rng.gen_range(0..3) {
                0 => body[i] ^= 1 << rng.gen_range(0..8),
                1 => body.truncate(i),
                _ => body.insert(i, rng.gen()),
            }
            if body.is_empty() {
                break;
            }
        }
    }
    let right = webhook_signature(SECRET, &body);
    let (sig, signed): (Option<Vec<u8>>, bool) = match rng.gen_range(0..10) {
        0 => (None, false),
        1 => (Some(Vec::new()), false),
        2 => (Some(webhook_signature("wrong", &body).into_bytes()), false),
        3 => (Some((0..rng.gen_range(1..60)).map(|_| rng.gen_range(0x21..0x7f)).collect()), false),
        4 => (Some((0..rng.gen_range(1..60)).map(|_| rng.gen_range(0x80..=0xff)).collect()), false),
        5 => {
            let mut s = right.clone().into_bytes();
            let i = rng.gen_range(0..s.len() - 1);
            s[i] = if s[i] == b'A' { b'B' } else { b'A' };
            (Some(s), false)
        }
        _ => (Some(right.into_bytes()), true),
    };
    if signed {
        seen.push(body.clone());
    }
    (path, sig, body, signed)
}

#[tokio::test(flavor = "multi_thread")]
async fn fuzzed_raw_input_never_panics_never_5xx_and_stores_only_verified() {
    let dir = tempfile::tempdir().unwrap();
    let app = open_app(dir.path());
    let w = crosswalk_engine::watch::start(app.clone(), false).await.unwrap();
    let base = format!("http://{}", w.webhook_addrs[0]);
    let c = reqwest::Client::new();
    let seed: u64 = std::env::var("CROSSWALK_FUZZ_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(0x5eed_f4a9);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut seen = vec![];
    let (start, mut n, mut accepted) = (Instant::now(), 0usize, 0usize);
    let mut stored = app.store().inbox("cloud").unwrap().len();
    // A few thousand cases, but never more than a few seconds of a CI machine's time.
    while n < 3000 && start.elapsed() < Duration::from_secs(5) {
        let (path, sig, body, signed) = gen_case(&mut rng, &mut seen);
        let mut req = c.post(format!("{base}{path}")).body(body.clone());
        if let Some(s) = &sig {
            match reqwest::header::HeaderValue::from_bytes(s) {
                Ok(v) => req = req.header("X-Frappe-Webhook-Signature", v),
                Err(_) => continue, // not sendable as a header at all
            }
        }
        if rng.gen_bool(0.2) {
            req = req.header("content-type", ["text/plain", "application/json", "application/x-www-form-urlencoded", "\u{7f}"][rng.gen_range(0..4)].replace('\u{7f}', "x/y"));
        }
        let status = req.send().await.unwrap_or_else(|e| panic!("case {n} (seed {seed}): the listener dropped the request ({e}): the handler must not panic")).status();
        assert!(status.is_success() || status.is_client_error(), "case {n} (seed {seed}): {status} for path {path} body {:?}", String::from_utf8_lossy(&body[..body.len().min(200)]));
        let now_stored = app.store().inbox("cloud").unwrap().len();
        if status.is_success() {
            accepted += 1;
            assert!(signed && path.ends_with("/cloud"), "case {n} (seed {seed}): accepted without the right signature: {sig:?}");
            assert_eq!(now_stored, stored + 1, "case {n}: an accepted delivery is in the inbox before the answer");
        } else {
            assert_eq!(now_stored, stored, "case {n} (seed {seed}): a refused delivery ({status}) was stored");
        }
        stored = now_stored;
        n += 1;
    }
    healthy(&c, &base).await;
    eprintln!("frappe webhook fuzz: {n} cases in {:?}, {accepted} accepted (seed {seed})", start.elapsed());
    assert!(n >= 300, "the fuzz run made only {n} cases");
    assert!(accepted > 0, "some generated deliveries were valid, so the accepting path ran too");
    w.stop();
}
