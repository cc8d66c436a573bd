//! The WeFact connector against the WeFact simulator, and the outbound webhook connector
//! (durable outbox) against the webhook receiver, over real HTTP.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use crosswalk_connectors::webhook::{dead_letters, outbox_status, retry_dead, RetryFilter};
use crosswalk_connectors::wefact::IncrementalMode;
use crosswalk_core::{Connector, ConnectorError, Fields, ListRequest, RecordPatch, Value};
use crosswalk_simulators::{verify_hex_signature, ReceiverFault};
use serde_json::{json, Value as Json};
use support::*;

fn fields(pairs: &[(&str, Value)]) -> Fields {
    pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
}

// ---------------------------------------------------------------- WeFact

#[tokio::test(flavor = "multi_thread")]
async fn wefact_lists_every_debtor_across_pages() {
    let sim = wefact_sim().await;
    sim.seed(250, 0);
    let mut cfg = wefact_config(&sim);
    cfg.page_size = 100;
    let c = wefact(&sim, cfg);
    let (records, cursor) = list_all(&c, "debtors", None).await;
    let ids: BTreeSet<&str> = records.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(records.len(), 250, "every debtor is listed once across offset/limit pages");
    assert_eq!(ids.len(), 250, "no debtor is listed twice");
    assert_eq!(sim.counters().action("debtor.list"), 3, "250 debtors at 100 per page take 3 list calls (stop at totalresults)");
    let newest = sim.records("debtor").iter().filter_map(|r| r["Modified"].as_str().map(str::to_string)).max();
    assert_eq!(cursor, newest, "the cursor is WeFact's own largest Modified text");
    assert!(records[0].updated_at.is_some(), "Modified becomes updated_at");
    assert!(records[0].fields.contains_key("CompanyName"), "vendor fields pass through under their own names");
}

#[tokio::test(flavor = "multi_thread")]
async fn wefact_incremental_sends_modified_from_and_returns_only_changes() {
    let sim = wefact_sim().await;
    sim.seed(120, 0);
    let c = wefact(&sim, wefact_config(&sim));
    let (_, cursor) = list_all(&c, "debtors", None).await;
    for id in [3u64, 50, 77] {
        sim.edit_as_user("debtor", id, json!({"City": "Leiden"})).unwrap();
    }
    let (changed, next) = list_all(&c, "debtors", cursor.clone()).await;
    let ids: BTreeSet<String> = changed.iter().map(|r| r.id.clone()).collect();
    for id in ["3", "50", "77"] {
        assert!(ids.contains(id), "edited debtor {id} is in the incremental listing");
    }
    assert!(changed.len() <= 4, "only the 3 edits plus at most the boundary record (from is inclusive) come back, got {}", changed.len());
    assert_eq!(sim.counters().modified_from.last(), cursor.as_ref(), "the stored cursor is sent verbatim as modified[from]");
    assert!(next > cursor, "the cursor moves to the newest edit");
    assert!(!c.is_full_scan(), "a filter WeFact accepts keeps the connector incremental");
}

#[tokio::test(flavor = "multi_thread")]
async fn wefact_falls_back_to_full_scan_with_local_change_detection_when_filter_refused() {
    let sim = wefact_sim().await;
    sim.seed(80, 0);
    sim.refuse_modified_filter(true);
    let c = wefact(&sim, wefact_config(&sim));
    let (all, cursor) = list_all(&c, "debtors", None).await;
    assert_eq!(all.len(), 80, "a first (full) read needs no filter");
    sim.edit_as_user("debtor", 10, json!({"EmailAddress": "new@example.nl"})).unwrap();
    sim.edit_as_user("debtor", 20, json!({"EmailAddress": "new2@example.nl"})).unwrap();
    let (changed, _) = list_all(&c, "debtors", cursor.clone()).await;
    let ids: BTreeSet<String> = changed.iter().map(|r| r.id.clone()).collect();
    assert!(ids.contains("10") && ids.contains("20"), "both edits are found by the full scan: {ids:?}");
    assert!(changed.len() <= 3, "local change detection keeps only records modified at or after the cursor, got {}", changed.len());
    assert!(c.is_full_scan(), "the connector remembers the refusal");
    let refusals = sim.counters().modified_from.len();
    let _ = list_all(&c, "debtors", cursor.clone()).await;
    assert_eq!(sim.counters().modified_from.len(), refusals, "after a refusal the filter is not sent again");

    let mut strict = wefact_config(&sim);
    strict.incremental = IncrementalMode::Filter;
    let c = wefact(&sim, strict);
    let e = c.list(ListRequest { object: "debtors".into(), since: cursor, page: None }).await.unwrap_err();
    assert!(matches!(&e, ConnectorError::Invalid(m) if m.contains("Invalid filter")), "mode \"filter\" surfaces WeFact's refusal instead of scanning: {e}");
}

#[tokio::test(flavor = "multi_thread")]
async fn wefact_invoices_come_with_lines_and_status_names() {
    let sim = wefact_sim().await;
    sim.seed(10, 30);
    let c = wefact(&sim, wefact_config(&sim));
    let (invoices, _) = list_all(&c, "invoices", None).await;
    assert_eq!(invoices.len(), 30, "every invoice is listed");
    let raw: BTreeMap<String, Json> = sim.records("invoice").into_iter().map(|r| (r["Identifier"].as_str().unwrap().to_string(), r)).collect();
    for inv in &invoices {
        let want = raw[&inv.id]["InvoiceLines"].as_array().unwrap();
        let Value::Text(lines) = inv.get("lines") else { panic!("invoice {} has no lines field", inv.id) };
        let got: Vec<Json> = serde_json::from_str(lines).unwrap();
        assert_eq!(got.len(), want.len(), "invoice {} carries all its lines (read with show)", inv.id);
        assert_eq!(got[0]["Description"], want[0]["Description"], "line fields keep WeFact's names");
        assert_eq!(inv.get("line_count"), &Value::Int(want.len() as i64), "line_count matches");
        let code = raw[&inv.id]["Status"].as_str().unwrap();
        let name = crosswalk_connectors::wefact::default_status_names()[code].clone();
        assert_eq!(inv.get("StatusName"), &Value::Text(name), "status code {code} is shown as its name");
    }
    assert_eq!(sim.counters().action("invoice.show"), 30, "list answers lack lines, so each invoice is read with show once");
}

#[tokio::test(flavor = "multi_thread")]
async fn wefact_error_envelope_messages_are_surfaced() {
    let sim = wefact_sim().await;
    sim.seed(2, 0);
    let c = wefact(&sim, wefact_config(&sim));
    let res = c.create("debtors", vec![fields(&[("City", Value::text("Delft"))]), fields(&[("CompanyName", Value::text("Nieuw BV"))])]).await.unwrap();
    assert!(matches!(&res[0], Err(ConnectorError::Invalid(m)) if m.contains("Please enter a company name or a surname")), "WeFact's own message reaches the user: {:?}", res[0]);
    let made = res[1].as_ref().expect("a valid debtor is created");
    assert_eq!(made.get("CompanyName"), &Value::text("Nieuw BV"), "the created debtor comes back");
    let e = c.delete("debtors", vec!["1".into()]).await.unwrap();
    assert!(matches!(&e[0], Err(ConnectorError::Unsupported(_))), "debtors cannot be deleted through WeFact's API");
    let upd = c.update("invoices", vec![RecordPatch { id: "999".into(), fields: fields(&[("Term", Value::Int(30))]) }]).await.unwrap();
    assert!(matches!(&upd[0], Err(ConnectorError::NotFound(_))), "editing a missing invoice says not found: {:?}", upd[0]);
    let wrong = crosswalk_connectors::wefact::WeFactConnector::new(wefact_config(&sim), crosswalk_core::Secret::new("wrong")).unwrap();
    let e = wrong.health().await.unwrap_err();
    assert!(matches!(&e, ConnectorError::Auth(m) if m.contains("API key") && !m.contains("wrong")), "a wrong key is an auth error that never echoes the key: {e}");
}

#[tokio::test(flavor = "multi_thread")]
async fn wefact_ip_refusal_says_how_to_fix_it() {
    let sim = wefact_sim().await;
    sim.refuse_ip(true);
    let c = wefact(&sim, wefact_config(&sim));
    let e = c.health().await.unwrap_err();
    let ConnectorError::Auth(m) = &e else { panic!("an IP refusal is an auth error, got {e:?}") };
    assert!(m.contains("IP address") && m.contains("Settings → API"), "the message names the cause and the fix: {m}");
    assert!(m.contains("127.0.0.1"), "WeFact's own words (with the address) are kept: {m}");
    assert!(!e.is_retryable(), "retrying cannot help until the IP is whitelisted");
}

#[tokio::test(flavor = "multi_thread")]
async fn wefact_throttle_is_never_exceeded_and_reads_retry_5xx() {
    let sim = wefact_sim().await;
    sim.seed(60, 0);
    sim.set_rate_limit(Some((20, Duration::from_secs(1))));
    let mut cfg = wefact_config(&sim);
    cfg.requests_per_minute = 20;
    cfg.rate_period = Duration::from_secs(1);
    cfg.page_size = 1;
    let c = wefact(&sim, cfg);
    sim.reset_counters();
    let start = Instant::now();
    let (records, _) = list_all(&c, "debtors", None).await;
    assert_eq!(records.len(), 60, "all debtors are read one per page");
    let took = start.elapsed();
    let times = sim.request_times();
    assert_eq!(sim.counters().throttled, 0, "the client throttle keeps under the server's 20/s, so it never answers 429");
    assert!(max_in_window(&times, Duration::from_millis(950)) <= 20, "no (almost) one-second window holds more than 20 requests");
    assert!(took >= Duration::from_millis(2400), "60 requests at 20/s take at least ~2.5 s, took {took:?}");

    sim.set_rate_limit(None);
    sim.fail_next(2, 503);
    let (again, _) = list_all(&wefact(&sim, wefact_config(&sim)), "debtors", None).await;
    assert_eq!(again.len(), 60, "two 503s on a read are retried with back-off and the listing completes");
}

// ---------------------------------------------------------------- webhook

fn debtor(id: &str, name: &str) -> Fields {
    fields(&[("Identifier", Value::text(id)), ("CompanyName", Value::text(name)), ("City", Value::text("Delft"))])
}

#[tokio::test(flavor = "multi_thread")]
async fn webhook_body_headers_signature_and_keys() {
    let r = receiver().await;
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = hook_config(&r.url("debtors"));
    cfg.headers = vec![("X-Source".into(), "crosswalk".into())];
    let c = hook("zap", cfg, Some("s3cret"), dir.path());
    let res = c.create("debtors", vec![debtor("1", "A"), debtor("2", "B")]).await.unwrap();
    assert!(res.iter().all(Result::is_ok), "both records are delivered: {res:?}");
    assert_eq!(res[0].as_ref().unwrap().id, "1", "the record is named by its Identifier on the receiver side");
    let got = r.received();
    assert_eq!(got.len(), 2, "one POST per record");
    let body = got[0].json();
    assert_eq!((body["data_type"].as_str(), body["record"]["CompanyName"].as_str()), (Some("debtors"), Some("A")), "the default body is {{data_type, sync_time, record}}");
    assert!(body["sync_time"].as_str().map(|t| t.ends_with('Z')).unwrap_or(false), "sync_time is UTC ISO-8601");
    let sig = got[0].header("X-Crosswalk-Signature").expect("a signature header is sent when there is a secret");
    assert!(verify_hex_signature(b"s3cret", &got[0].body, sig, ""), "the signature is hex HMAC-SHA256 of the exact body bytes");
    assert_eq!(got[0].header("X-Source"), Some("crosswalk"), "custom headers are sent");
    let keys: BTreeSet<&str> = got.iter().filter_map(|g| g.header("Idempotency-Key")).collect();
    assert_eq!(keys.len(), 2, "each record version has its own idempotency key");

    let again = c.create("debtors", vec![debtor("1", "A")]).await.unwrap();
    assert!(again[0].is_ok() && r.received().len() == 2, "an already-sent version is not sent again");
    let upd = c.update("debtors", vec![RecordPatch { id: "1".into(), fields: fields(&[("City", Value::text("Gouda"))]) }]).await.unwrap();
    assert!(upd[0].is_ok(), "the update is delivered");
    let last = r.received().pop().unwrap();
    assert_eq!((last.json()["record"]["CompanyName"].as_str(), last.json()["record"]["City"].as_str()), (Some("A"), Some("Gouda")), "an update sends the whole record, not just the changed field");
    assert!(!keys.contains(last.header("Idempotency-Key").unwrap()), "a new version gets a new key");
    assert_eq!(c.list(ListRequest { object: "debtors".into(), since: None, page: None }).await.unwrap().records.len(), 0, "a webhook lists nothing");
    assert!(!c.capabilities().deletes_visible, "capabilities say deletions cannot be seen");
}

#[tokio::test(flavor = "multi_thread")]
async fn webhook_500_then_200_is_delivered_once() {
    let r = receiver().await;
    let dir = tempfile::tempdir().unwrap();
    let c = hook("zap", hook_config(&r.url("d")), None, dir.path());
    r.fail_next(2, 500);
    let res = c.create("debtors", vec![debtor("7", "X")]).await.unwrap();
    assert!(res[0].is_ok(), "delivered after retries: {:?}", res[0]);
    assert_eq!(r.received().len(), 3, "two 500s, then the 200");
    assert_eq!((r.unique_accepted(), r.duplicates()), (1, 0), "the receiver kept the record exactly once");
    let st = outbox_status(dir.path()).unwrap();
    assert_eq!((st[0].sent, st[0].pending, st[0].dead), (1, 0, 0), "the outbox counts it sent only after the 2xx");
}

#[tokio::test(flavor = "multi_thread")]
async fn webhook_time_out_is_retried_and_deduplicated_by_key() {
    let r = receiver().await;
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = hook_config(&r.url("d"));
    cfg.timeout = Duration::from_millis(300);
    let c = hook("zap", cfg, None, dir.path());
    r.fault_next(1, ReceiverFault::Hang(Duration::from_millis(800)));
    let res = c.create("debtors", vec![debtor("8", "Slow")]).await.unwrap();
    assert!(res[0].is_ok(), "delivered after the time-out: {:?}", res[0]);
    let got = r.received();
    assert_eq!(got.len(), 2, "the timed-out request and its retry both reached the receiver");
    assert_eq!(got[0].header("Idempotency-Key"), got[1].header("Idempotency-Key"), "the retry carries the same idempotency key");
    assert_eq!(r.unique_accepted(), 1, "after deduplicating by key the receiver has the record once");
}

#[tokio::test(flavor = "multi_thread")]
async fn webhook_permanent_4xx_goes_to_dead_letters_and_retry_dead_delivers_it() {
    let r = receiver().await;
    let dir = tempfile::tempdir().unwrap();
    let c = hook("zap", hook_config(&r.url("d")), None, dir.path());
    r.fail_next(1, 422);
    let res = c.create("debtors", vec![debtor("9", "Bad"), debtor("10", "Good")]).await.unwrap();
    assert!(matches!(&res[0], Err(ConnectorError::Invalid(m)) if m.contains("dead-letter") && m.contains("422")), "a 4xx is permanent and says where it went: {:?}", res[0]);
    assert!(res[1].is_ok(), "one refused record does not hold back the others");
    assert_eq!(r.received().len(), 2, "a permanent failure is not retried");
    let dead = dead_letters(dir.path(), Some("zap")).unwrap();
    assert_eq!((dead.len(), dead[0].record_id.as_str(), dead[0].last_status), (1, "9", Some(422)), "the dead-letter list names the record and the status");
    assert!(!dead[0].url.contains("/hooks/catch/d"), "the hook URL (a secret) is not shown whole: {}", dead[0].url);
    assert_eq!(retry_dead(dir.path(), &RetryFilter { connection: Some("zap".into()), ..RetryFilter::default() }).unwrap(), 1, "retry_dead re-queues it");
    c.flush().await.expect("the re-queued record is delivered");
    let st = outbox_status(dir.path()).unwrap();
    assert_eq!((st[0].sent, st[0].pending, st[0].dead), (2, 0, 0), "after the retry both are sent, none dead");
    assert_eq!(r.unique_accepted(), 2, "the receiver has both records");
}

#[tokio::test(flavor = "multi_thread")]
async fn webhook_outbox_survives_a_kill_mid_delivery() {
    let r = receiver().await;
    let dir = tempfile::tempdir().unwrap();
    r.set_latency(Duration::from_millis(40));
    let records: Vec<Fields> = (0..20).map(|i| debtor(&i.to_string(), &format!("Co {i}"))).collect();
    let path = dir.path().to_path_buf();
    let url = r.url("d");
    let task = tokio::spawn({
        let records = records.clone();
        let url = url.clone();
        async move {
            let c = hook("zap", hook_config(&url), None, &path);
            c.create("debtors", records).await
        }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    task.abort();
    let _ = task.await;
    let before = r.received().len();
    assert!(before > 0 && before < 20, "the kill came mid-delivery ({before} of 20 delivered)");
    let st = outbox_status(dir.path()).unwrap();
    assert_eq!(st[0].sent + st[0].pending, 20, "every record is in the outbox, sent or pending");
    r.set_latency(Duration::ZERO);
    let c = hook("zap", hook_config(&url), None, dir.path());
    c.flush().await.expect("a restarted connector sends what was left");
    assert_eq!(r.unique_accepted(), 20, "every record reached the receiver");
    assert!(r.duplicates() <= 1, "confirmed records are not re-sent; at most the one in flight at the kill repeats (same key), got {}", r.duplicates());
    let again = c.create("debtors", records).await.unwrap();
    assert!(again.iter().all(Result::is_ok), "the next run's creates find them already sent");
    assert_eq!(r.unique_accepted(), 20, "and nothing new is sent");
}

#[tokio::test(flavor = "multi_thread")]
async fn webhook_per_url_rate_limit_is_respected() {
    let r = receiver().await;
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = hook_config(&r.url("d"));
    cfg.requests_per_second = 10;
    let c = hook("zap", cfg, None, dir.path());
    let start = Instant::now();
    let res = c.create("debtors", (0..35).map(|i| debtor(&i.to_string(), "R")).collect()).await.unwrap();
    assert!(res.iter().all(Result::is_ok), "all delivered");
    let times: Vec<Instant> = r.received().iter().map(|g| g.at).collect();
    assert!(max_in_window(&times, Duration::from_millis(950)) <= 10, "no one-second window holds more than 10 requests to the URL");
    assert!(start.elapsed() >= Duration::from_millis(2500), "35 requests at 10/s take about 3 s, took {:?}", start.elapsed());
}

/// Issue 9 "Must show", at connector level: WeFact → webhook with a flaky receiver.
#[tokio::test(flavor = "multi_thread")]
async fn wefact_to_webhook_with_20_percent_failures_delivers_each_version_once() {
    let sim = wefact_sim().await;
    sim.seed(300, 0);
    let r = receiver().await;
    let dir = tempfile::tempdir().unwrap();
    let w = wefact(&sim, wefact_config(&sim));
    let c = hook("zap", hook_config(&r.url("debtors")), None, dir.path());
    r.set_fail_rate(0.2);
    let (debtors, cursor) = list_all(&w, "debtors", None).await;
    let res = c.create("debtors", debtors.iter().map(|d| d.fields.clone()).collect()).await.unwrap();
    assert!(res.iter().all(Result::is_ok), "every debtor is delivered despite 20% failures");
    assert_eq!((r.unique_accepted(), r.duplicates()), (300, 0), "the receiver kept each debtor exactly once");
    let sent_first = r.received().len();

    let res = c.create("debtors", debtors.iter().map(|d| d.fields.clone()).collect()).await.unwrap();
    assert!(res.iter().all(Result::is_ok) && r.received().len() == sent_first, "an unchanged second run sends nothing");

    for id in [5u64, 6, 7] {
        sim.edit_as_user("debtor", id, json!({"City": "Leiden"})).unwrap();
    }
    let (changed, _) = list_all(&w, "debtors", cursor).await;
    let patches = changed.iter().map(|d| RecordPatch { id: d.id.clone(), fields: d.fields.clone() }).collect();
    let res = c.update("debtors", patches).await.unwrap();
    assert!(res.iter().all(Result::is_ok), "the changes are delivered");
    assert_eq!(r.unique_accepted(), 303, "only the 3 edited debtors produce new versions (the re-listed boundary record is unchanged)");
    assert_eq!(r.duplicates(), 0, "no version was kept twice");
}
