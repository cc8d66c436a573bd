//! The Twenty connector against the Twenty simulator over real HTTP (conformance suite).

mod support;

use std::collections::BTreeSet;
use std::str::FromStr;
use std::time::{Duration, Instant};

use crosswalk_connectors::twenty::webhook::{verify_twenty_webhook, NonceCache, TwentyWebhookHeaders, WebhookError, DEFAULT_WINDOW};
use crosswalk_connectors::twenty::TwentyConnector;
use crosswalk_core::{Connector, ConnectorError, Fields, RecordPatch, Secret, Value};
use crosswalk_simulators::{SimFault, TwentySim, TwentySimOptions};
use rust_decimal::Decimal;
use serde_json::json;
use support::*;

fn fields(pairs: &[(&str, Value)]) -> Fields {
    pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn full_listing_of_1000_companies_across_pages() {
    let sim = sim().await;
    sim.seed(1000, 0);
    let c = connector(&sim);
    let (records, cursor) = list_all(&c, "companies", None).await;
    let ids: BTreeSet<&str> = records.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(records.len(), 1000, "every company is listed exactly once");
    assert_eq!(ids.len(), 1000, "no company is listed twice across pages");
    assert_eq!(sim.counters().kind("GET list"), 5, "1000 records at the server's 200-per-page maximum take 5 requests");
    let max = records.iter().filter_map(|r| r.updated_at).max().unwrap();
    assert_eq!(cursor.as_deref().and_then(|c| chrono::DateTime::parse_from_rfc3339(c).ok()).map(|t| t.to_utc()), Some(max), "the cursor is the largest updatedAt seen");
    assert!(records[0].fields.contains_key("address.addressCity") && !records[0].fields.contains_key("createdBy.source"), "composites are flattened, actor fields skipped");
}

#[tokio::test(flavor = "multi_thread")]
async fn incremental_listing_returns_only_changes_with_at_most_3_reads() {
    let sim = sim().await;
    let seeded = sim.seed(5000, 5000);
    let first = connector(&sim);
    let (_, company_cursor) = list_all(&first, "companies", None).await;
    let (_, people_cursor) = list_all(&first, "people", None).await;

    let changed_companies = [&seeded.companies[10], &seeded.companies[2000], &seeded.companies[4999]];
    let changed_people = [&seeded.people[7], &seeded.people[3000]];
    for (i, id) in changed_companies.iter().enumerate() {
        sim.edit_as_user("companies", id, json!({"name": format!("Renamed {i}")})).unwrap();
    }
    for id in changed_people {
        sim.edit_as_user("people", id, json!({"jobTitle": "Chief Tester"})).unwrap();
    }
    sim.reset_counters();
    // A new run builds a new connector (nothing cached).
    let c = connector(&sim);
    let (companies, _) = list_all(&c, "companies", company_cursor).await;
    let (people, _) = list_all(&c, "people", people_cursor).await;
    let got: BTreeSet<&str> = companies.iter().chain(&people).map(|r| r.id.as_str()).collect();
    for id in changed_companies.iter().chain(changed_people.iter()) {
        assert!(got.contains(id.as_str()), "changed record {id} must be in the incremental listing");
    }
    assert!(companies.len() <= 4 && people.len() <= 3, "only changes (plus gte's boundary row) come back: {} companies, {} people", companies.len(), people.len());
    assert!(people.iter().all(|p| !p.get("company").is_null()), "people still carry their company name");
    let reads = sim.counters().reads;
    assert!(reads <= 3, "5 changes in 10,000 records must take at most 3 read requests, took {reads}");
}

#[tokio::test(flavor = "multi_thread")]
async fn batch_create_of_150_people_takes_3_calls_and_keeps_order() {
    let sim = sim().await;
    let seeded = sim.seed(3, 0);
    let company = sim.record("companies", &seeded.companies[0]).unwrap()["name"].as_str().unwrap().to_string();
    let c = connector(&sim);
    let input: Vec<Fields> = (0..150)
        .map(|i| fields(&[("name.firstName", Value::text(format!("P{i}"))), ("emails.primaryEmail", Value::text(format!("p{i}@x.org"))), ("company", Value::text(&company))]))
        .collect();
    let results = c.create("people", input).await.unwrap();
    assert_eq!(sim.counters().batch_sizes, vec![60, 60, 30], "150 records go in batches of at most 60");
    assert_eq!(results.len(), 150, "one result per record");
    for (i, r) in results.iter().enumerate() {
        let r = r.as_ref().expect("every record is created");
        let stored = sim.record("people", &r.id).expect("the returned id exists on the server");
        assert_eq!(stored["emails"]["primaryEmail"], format!("p{i}@x.org"), "result {i} belongs to input {i}");
        assert_eq!(stored["companyId"], seeded.companies[0], "the company name was resolved to its id");
        assert_eq!(r.get("company"), &Value::text(&company), "the result carries the company name");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn update_and_soft_delete_round_trip() {
    let sim = sim().await;
    let ids = sim.seed(2, 0).companies;
    let c = connector(&sim);
    let up = c.update("companies", vec![RecordPatch { id: ids[0].clone(), fields: fields(&[("name", Value::text("Acme BV")), ("address.addressCity", Value::text("Utrecht"))]) }]).await.unwrap();
    assert_eq!(up[0].as_ref().unwrap().get("name"), &Value::text("Acme BV"), "the update answer is the new state");
    let got = c.get("companies", &ids).await.unwrap();
    let acme = got.iter().find(|r| r.id == ids[0]).unwrap();
    assert_eq!((acme.get("name"), acme.get("address.addressCity")), (&Value::text("Acme BV"), &Value::text("Utrecht")), "get sees the update");
    assert_eq!(sim.record("companies", &ids[0]).unwrap()["address"]["addressCountry"], sim.record("companies", &ids[0]).unwrap()["address"]["addressCountry"], "untouched sub-fields stay");

    let missing = c.update("companies", vec![RecordPatch { id: uuid::Uuid::new_v4().to_string(), fields: fields(&[("name", Value::text("x"))]) }]).await.unwrap();
    assert!(matches!(missing[0], Err(ConnectorError::NotFound(_))), "updating a missing record is NotFound for that record: {:?}", missing[0]);

    let del = c.delete("companies", vec![ids[0].clone()]).await.unwrap();
    assert!(del[0].is_ok(), "delete succeeds");
    assert!(!sim.record("companies", &ids[0]).unwrap()["deletedAt"].is_null(), "delete is a soft delete (deletedAt set, record kept)");
    assert!(c.get("companies", &ids[..1]).await.unwrap().is_empty(), "a soft-deleted record is no longer returned");
    let (all, _) = list_all(&c, "companies", None).await;
    assert_eq!(all.len(), 1, "listings hide soft-deleted records");
}

#[tokio::test(flavor = "multi_thread")]
async fn composite_and_currency_round_trip_exactly() {
    let sim = sim().await;
    let c = connector(&sim);
    let amount = Decimal::from_str("1234567.891234").unwrap();
    let input = fields(&[
        ("name", Value::text("Exact BV")),
        ("domainName.primaryLinkUrl", Value::text("https://exact.example")),
        ("address.addressCity", Value::text("Delft")),
        ("annualRecurringRevenue.amount", Value::Decimal(amount)),
        ("annualRecurringRevenue.currencyCode", Value::text("EUR")),
        ("employees", Value::Int(42)),
    ]);
    let created = c.create("companies", vec![input.clone()]).await.unwrap().remove(0).unwrap();
    let stored = sim.record("companies", &created.id).unwrap();
    assert_eq!(stored["annualRecurringRevenue"]["amountMicros"], json!(1_234_567_891_234i64), "the amount is sent as exact micros");
    assert_eq!(stored["domainName"]["primaryLinkUrl"], "https://exact.example", "dotted columns nest into composites");
    let back = c.get("companies", std::slice::from_ref(&created.id)).await.unwrap().remove(0);
    for (k, v) in &input {
        let got = crosswalk_core::canonicalize(back.get(k), crosswalk_core::FieldType::Text).unwrap();
        let want = crosswalk_core::canonicalize(v, crosswalk_core::FieldType::Text).unwrap();
        assert_eq!(got, want, "{k} must round-trip unchanged");
    }
    assert_eq!(back.get("annualRecurringRevenue.amount"), &Value::Decimal(amount), "the amount reads back as the same exact decimal");
}

#[tokio::test(flavor = "multi_thread")]
async fn company_name_relation_both_ways() {
    let sim = sim().await;
    let seeded = sim.seed(5, 20);
    let c = connector(&sim);
    let (people, _) = list_all(&c, "people", None).await;
    for p in &people {
        let company_id = p.get("companyId").display();
        let want = sim.record("companies", &company_id).unwrap()["name"].as_str().unwrap().to_string();
        assert_eq!(p.get("company"), &Value::text(want), "person {} shows its company's name", p.id);
    }
    let name = sim.record("companies", &seeded.companies[3]).unwrap()["name"].as_str().unwrap().to_string();
    let res = c.update("people", vec![
        RecordPatch { id: seeded.people[0].clone(), fields: fields(&[("company", Value::text(&name))]) },
        RecordPatch { id: seeded.people[1].clone(), fields: fields(&[("company", Value::text("Nope Inc"))]) },
    ]).await.unwrap();
    assert!(res[0].is_ok(), "a known company name is accepted");
    assert_eq!(sim.record("people", &seeded.people[0]).unwrap()["companyId"], seeded.companies[3], "the name was written back as companyId");
    match &res[1] {
        Err(ConnectorError::Invalid(m)) => assert!(m.contains("no company named \"Nope Inc\""), "the message names the missing company: {m}"),
        other => panic!("an unknown company must be Invalid for that record only, got {other:?}"),
    }
    let found = c.find("people", "company", &[Value::text(&name)]).await.unwrap();
    assert!(found.iter().any(|p| p.id == seeded.people[0]), "find by company name resolves through companyId");
}

#[tokio::test(flavor = "multi_thread")]
async fn find_by_composite_field() {
    let sim = sim().await;
    let ids = sim.seed(1, 3).people;
    let email = sim.record("people", &ids[1]).unwrap()["emails"]["primaryEmail"].as_str().unwrap().to_string();
    let c = connector(&sim);
    let found = c.find("people", "emails.primaryEmail", &[Value::text(&email), Value::text("nobody@x")]).await.unwrap();
    assert_eq!(found.iter().map(|r| r.id.clone()).collect::<Vec<_>>(), vec![ids[1].clone()], "find matches the one person with that email");
}

#[tokio::test(flavor = "multi_thread")]
async fn describe_uses_metadata_and_falls_back() {
    let sim = sim().await;
    let c = connector(&sim);
    let objects = c.describe().await.unwrap();
    let people = objects.iter().find(|o| o.name == "people").expect("people is described");
    for f in ["name.firstName", "emails.primaryEmail", "companyId", "company", "updatedAt"] {
        assert!(people.field(f).is_some(), "people has column {f}");
    }
    assert!(people.field("searchVector").is_none() && people.field("createdBy.name").is_none(), "system fields are not columns");
    let companies = objects.iter().find(|o| o.name == "companies").unwrap();
    assert_eq!(companies.field("annualRecurringRevenue.amount").map(|f| f.field_type), Some(crosswalk_core::FieldType::Decimal), "currency is a decimal amount");

    sim.fault_after(0, 1, SimFault::Status(404));
    let fallback = c.describe().await.unwrap();
    assert!(fallback.iter().any(|o| o.name == "companies") && fallback.iter().any(|o| o.name == "people"), "without the metadata API the standard schema is used");
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_key_gives_the_plain_message() {
    let sim = sim().await;
    let c = TwentyConnector::new("crm", config(&sim), Secret::new("wrong-key")).unwrap();
    let e = c.health().await.unwrap_err();
    assert_eq!(
        e,
        ConnectorError::Auth("the API key for connection crm was rejected — create a new one in Twenty under Settings → APIs & Webhooks".into()),
        "a 401 says which connection and what to do"
    );
    assert_eq!(sim.counters().unauthorized, 1, "a rejected key is not retried");
}

#[tokio::test(flavor = "multi_thread")]
async fn unreachable_url_says_so_with_the_url() {
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let url = format!("http://{free}");
    let mut cfg = crosswalk_connectors::twenty::TwentyConfig::new(&url);
    cfg.max_attempts = 2;
    let c = TwentyConnector::new("crm", cfg, Secret::new("k")).unwrap();
    match c.health().await.unwrap_err() {
        ConnectorError::Unavailable(m) => {
            assert!(m.contains(&url), "the message names the URL: {m}");
            assert!(m.contains("could not connect"), "the message says it could not connect: {m}");
            assert!(!m.contains("Bearer") && !m.contains(" k "), "no secret in the message");
        }
        other => panic!("an unreachable URL is Unavailable, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_500_and_a_dropped_connection_mid_paging_are_retried() {
    let sim = sim().await;
    sim.seed(1000, 0);
    let c = connector(&sim);
    sim.fault_after(2, 1, SimFault::Status(500));
    sim.fault_after(4, 1, SimFault::Drop);
    let (records, _) = list_all(&c, "companies", None).await;
    assert_eq!(records.len(), 1000, "the listing completes despite the faults");
    assert_eq!(sim.counters().faults, 2, "both faults fired (so the retries were needed)");
}

#[tokio::test(flavor = "multi_thread")]
async fn client_rate_limit_keeps_the_server_from_answering_429() {
    let sim = TwentySim::spawn(TwentySimOptions::default().rate_limit(50, Duration::from_secs(1))).await;
    sim.seed(300, 0);
    let mut cfg = config(&sim);
    cfg.requests_per_minute = 50;
    cfg.rate_period = Duration::from_secs(1);
    cfg.page_size = 5;
    let c = TwentyConnector::new("crm", cfg, Secret::new(sim.api_key.clone())).unwrap();
    let start = Instant::now();
    let (records, _) = list_all(&c, "companies", None).await;
    let took = start.elapsed();
    assert_eq!(records.len(), 300);
    assert_eq!(sim.counters().throttled, 0, "the client-side limiter must keep every request under the server's limit");
    assert!(took >= Duration::from_millis(900), "60 requests at 50/s (burst 5) must be spread over about 1.1 s (≥ 0.9 s), took {took:?} — the limiter is not working");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_429_is_backed_off_and_retried() {
    let opts = TwentySimOptions { retry_after_on_429: true, ..TwentySimOptions::default().rate_limit(10, Duration::from_secs(1)) };
    let sim = TwentySim::spawn(opts).await;
    sim.seed(200, 0);
    let mut cfg = config(&sim);
    cfg.page_size = 10;
    cfg.max_attempts = 10;
    let c = TwentyConnector::new("crm", cfg, Secret::new(sim.api_key.clone())).unwrap();
    let (records, _) = list_all(&c, "companies", None).await;
    assert_eq!(records.len(), 200, "the listing completes after backing off");
    assert!(sim.counters().throttled > 0, "the server did throttle (so the back-off was exercised)");
}

#[tokio::test(flavor = "multi_thread")]
async fn simulator_webhooks_verify_and_replays_are_refused() {
    use axum::body::Bytes;
    use axum::http::HeaderMap;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(HeaderMap, Bytes)>();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |h: HeaderMap, b: Bytes| {
            let tx = tx.clone();
            async move {
                let _ = tx.send((h, b));
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let sim = sim().await;
    let ids = sim.seed(1, 0).companies;
    sim.register_webhook(&format!("http://{addr}/hook"), "s3cret");
    sim.edit_as_user("companies", &ids[0], json!({"name": "Hooked"})).unwrap();
    let (h, body) = tokio::time::timeout(Duration::from_secs(5), rx.recv()).await.expect("a webhook arrives").unwrap();
    let get = |k: &str| h.get(k).and_then(|v| v.to_str().ok());
    let headers = TwentyWebhookHeaders { timestamp: get("x-twenty-webhook-timestamp"), signature: get("x-twenty-webhook-signature"), nonce: get("x-twenty-webhook-nonce") };
    let cache = NonceCache::new();
    let now = chrono::Utc::now();
    let ev = verify_twenty_webhook("s3cret", &headers, &body, now, DEFAULT_WINDOW, &cache).expect("the simulator signs exactly as the verifier expects");
    assert_eq!((ev.object.as_str(), ev.action.as_str(), ev.record_ids.as_slice()), ("company", "updated", &ids[..]));
    assert_eq!(verify_twenty_webhook("s3cret", &headers, &body, now, DEFAULT_WINDOW, &cache), Err(WebhookError::Replayed), "the same delivery twice is a replay");
    let forged = TwentyWebhookHeaders { nonce: Some("other"), ..headers };
    assert_eq!(verify_twenty_webhook("wrong", &forged, &body, now, DEFAULT_WINDOW, &cache), Err(WebhookError::BadSignature), "another secret does not verify");
}
