//! The Frappe connector against the Frappe v15 simulator (API_FACTS §2, §9).

mod support;

use std::time::Duration;

use crosswalk_connectors::frappe::{verify_frappe_webhook, Cursor, FrappeConnector, WebhookError};
use crosswalk_core::connector::RecordPatch;
use crosswalk_core::value::Fields;
use crosswalk_core::{Connector, ConnectorError, Secret, Value};
use crosswalk_simulators::{WebhookReceiver, WebhookReceiverOptions};
use serde_json::json;
use support::*;

fn fields(pairs: &[(&str, Value)]) -> Fields {
    pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
}

#[tokio::test]
async fn pages_at_twenty_until_a_short_page() {
    let sim = sim().await;
    sim.seed(45, 0, 0);
    let raw: serde_json::Value = reqwest::Client::new()
        .get(format!("{}/api/resource/Customer", sim.base_url))
        .header("Authorization", format!("token {}", sim.secret()))
        .send().await.unwrap().json().await.unwrap();
    assert_eq!(raw["data"].as_array().map(Vec::len), Some(20), "Frappe's default page length is 20");
    let c = connector(&sim);
    let (records, pages, cursor) = list_all(&c, "Customer", None).await;
    assert_eq!(records.len(), 45, "every customer is listed once");
    assert_eq!(pages, 3, "20 + 20 + 5: the short page ends the listing");
    let mut ids: Vec<&str> = records.iter().map(|r| r.id.as_str()).collect();
    ids.dedup();
    assert_eq!(ids.len(), 45, "no duplicates across pages");
    assert!(cursor.is_some_and(|c| c.ends_with("|CUST-0045")), "the cursor keeps the last name as tie-break");
}

#[tokio::test]
async fn incremental_in_the_site_time_zone_with_name_tie_break() {
    let sim = sim().await;
    sim.seed(3, 0, 0);
    let c = connector(&sim);
    let (records, _, cursor) = list_all(&c, "Customer", None).await;
    let doc = sim.doc("Customer", &records[0].id).unwrap();
    let modified = chrono::NaiveDateTime::parse_from_str(doc["modified"].as_str().unwrap(), "%Y-%m-%d %H:%M:%S%.f").unwrap();
    let expect = modified.and_utc() - chrono::Duration::minutes(330);
    assert_eq!(records[0].updated_at, Some(expect), "a fresh site stamps Asia/Kolkata (UTC+05:30), never UTC");
    let (again, _, _) = list_all(&c, "Customer", cursor.clone()).await;
    assert!(again.is_empty(), "nothing changed since the cursor: the boundary row is not re-delivered ({:?})", again.iter().map(|r| &r.id).collect::<Vec<_>>());

    // Five documents saved in the same microsecond: only the name orders them.
    sim.freeze_clock(Some("2030-01-01 00:00:00.000000"));
    for i in 0..5 {
        sim.insert_as_user("Customer", json!({"customer_name": format!("Tie {i}")})).unwrap();
    }
    sim.freeze_clock(None);
    let mut small = config(&sim);
    small.page_size = 2;
    let c2 = connector_with(&sim, small);
    let (tied, pages, _) = list_all(&c2, "Customer", cursor).await;
    let names: Vec<&str> = tied.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(names, vec!["CUST-0004", "CUST-0005", "CUST-0006", "CUST-0007", "CUST-0008"], "pages of 2 over equal times deliver each once, in name order");
    assert!(pages >= 3, "it took several pages");
    let mid = Cursor { modified: "2030-01-01 00:00:00.000000".into(), name: "CUST-0005".into() }.encode();
    let (rest, _, _) = list_all(&c2, "Customer", Some(mid)).await;
    assert_eq!(rest.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), vec!["CUST-0006", "CUST-0007", "CUST-0008"], "the name tie-break resumes after the cursor's row");
}

#[tokio::test]
async fn site_time_zone_comes_from_system_settings() {
    let sim = crosswalk_simulators::FrappeSim::spawn(crosswalk_simulators::FrappeSimOptions { time_zone: Some("Europe/Amsterdam".into()), utc_offset_minutes: 120, ..Default::default() }).await;
    let c = connector(&sim);
    let id = c.health().await.expect("health works");
    assert!(id.display.contains("Europe/Amsterdam"), "health names the site's zone: {}", id.display);
}

#[tokio::test]
async fn child_tables_round_trip() {
    let sim = sim().await;
    sim.seed(1, 2, 0);
    let c = connector(&sim);
    let items = r#"[{"delivery_date":"2025-12-31","item_code":"ITEM-S1-0000","qty":2,"rate":10.5},{"delivery_date":"2025-12-31","item_code":"ITEM-S1-0001","qty":1,"rate":3}]"#;
    let created = c.create("Sales Order", vec![fields(&[("customer", Value::text("CUST-0001")), ("items", Value::text(items))])]).await.unwrap();
    let so = created[0].as_ref().expect("the order is created").clone();
    assert!(so.id.starts_with("SAL-ORD-"), "the site names it by its naming series: {}", so.id);
    let back = c.get("Sales Order", std::slice::from_ref(&so.id)).await.unwrap();
    assert_eq!(back[0].get("items"), &Value::text(items), "child rows read back equal to what was written");
    let fewer = r#"[{"delivery_date":"2025-12-31","item_code":"ITEM-S1-0001","qty":5,"rate":3}]"#;
    let r = c.update("Sales Order", vec![RecordPatch { id: so.id.clone(), fields: fields(&[("items", Value::text(fewer))]) }]).await.unwrap();
    assert_eq!(r[0].as_ref().unwrap().get("items"), &Value::text(fewer), "the table is replaced, as Frappe does");
    assert_eq!(sim.doc("Sales Order", &so.id).unwrap()["items"].as_array().map(Vec::len), Some(1), "the omitted row is gone on the site");
}

#[tokio::test]
async fn stale_modified_is_a_conflict() {
    let sim = sim().await;
    sim.seed(2, 0, 0);
    let c = connector(&sim);
    list_all(&c, "Customer", None).await;
    sim.edit_as_user("Customer", "CUST-0001", json!({"territory": "Changed by a user"})).unwrap();
    let r = c.update("Customer", vec![RecordPatch { id: "CUST-0001".into(), fields: fields(&[("territory", Value::text("Ours"))]) }]).await.unwrap();
    match &r[0] {
        Err(ConnectorError::Conflict(m)) => assert!(m.contains("TimestampMismatchError"), "{m}"),
        other => panic!("a stale modified must be a conflict, got {other:?}"),
    }
    assert_eq!(sim.doc("Customer", "CUST-0001").unwrap()["territory"], "Changed by a user", "the user's edit is not overwritten");
    let ok = c.update("Customer", vec![RecordPatch { id: "CUST-0002".into(), fields: fields(&[("territory", Value::text("Ours"))]) }]).await.unwrap();
    assert!(ok[0].is_ok(), "an unchanged document updates: {:?}", ok[0]);
}

#[tokio::test]
async fn validation_messages_are_plain_text() {
    let sim = sim().await;
    let c = connector(&sim);
    let r = c.create("Sales Order", vec![fields(&[("customer", Value::text("NOPE")), ("items", Value::text(r#"[{"item_code":"X","qty":1}]"#))])]).await.unwrap();
    let e = r[0].clone().unwrap_err();
    assert_eq!(e.code(), "invalid", "a 417 is the record's fault");
    let m = e.to_string();
    assert!(m.contains("Could not find Item Code: X (LinkValidationError)") && !m.contains('<'), "the _server_messages text, HTML stripped: {m}");
    let dup = c.create("Item", vec![fields(&[("item_code", Value::text("A"))]), fields(&[("item_code", Value::text("A"))])]).await.unwrap();
    assert!(dup[0].is_ok() && dup[1].as_ref().unwrap_err().to_string().contains("DuplicateEntryError"), "409 names the duplicate: {dup:?}");
}

#[tokio::test]
async fn auth_errors_say_what_to_do() {
    let sim = sim().await;
    let bad = FrappeConnector::new("erp", config(&sim), &sim.api_key, &Secret::new("wrong")).unwrap();
    let e = bad.health().await.unwrap_err();
    assert_eq!(e.code(), "auth");
    assert!(e.to_string().contains("401") && !e.to_string().contains("wrong"), "401 is named, the secret never is: {e}");
    let r = bad.create("Customer", vec![fields(&[("customer_name", Value::text("x"))])]).await;
    assert!(matches!(r, Err(ConnectorError::Auth(_))), "an auth failure stops the whole call: {r:?}");
}

#[tokio::test]
async fn docstatus_rules() {
    let sim = sim().await;
    sim.seed(1, 1, 2);
    sim.edit_as_user("Sales Order", "SAL-ORD-0001", json!({"docstatus": 1})).unwrap();
    sim.edit_as_user("Sales Order", "SAL-ORD-0002", json!({"docstatus": 1})).unwrap();
    sim.edit_as_user("Sales Order", "SAL-ORD-0002", json!({"docstatus": 2})).unwrap();
    let c = connector(&sim);
    let r = c.update("Sales Order", vec![
        RecordPatch { id: "SAL-ORD-0001".into(), fields: fields(&[("po_no", Value::text("PO-7"))]) },
        RecordPatch { id: "SAL-ORD-0001".into(), fields: fields(&[("delivery_date", Value::text("2026-01-01"))]) },
        RecordPatch { id: "SAL-ORD-0002".into(), fields: fields(&[("po_no", Value::text("PO-8"))]) },
    ]).await.unwrap();
    assert!(r[0].is_ok(), "po_no is allow_on_submit: {:?}", r[0]);
    assert!(r[1].as_ref().unwrap_err().to_string().contains("submitted"), "other fields of a submitted order are refused before sending: {:?}", r[1]);
    assert!(r[2].as_ref().unwrap_err().to_string().contains("cancelled"), "cancelled orders never change: {:?}", r[2]);
    let again = c.create("Sales Order", vec![fields(&[("customer", Value::text("CUST-0001")), ("docstatus", Value::Int(2))])]).await.unwrap();
    assert!(again[0].as_ref().unwrap_err().to_string().contains("never re-created"), "a cancelled document is not re-created: {:?}", again[0]);
}

#[tokio::test]
async fn webhooks_are_signed_and_verified() {
    let sim = sim().await;
    let rx = WebhookReceiver::spawn(WebhookReceiverOptions::default()).await;
    sim.register_webhook(&rx.url("cloud"), "hook-secret", &["Customer"]);
    sim.insert_as_user("Customer", json!({"customer_name": "Hooked"})).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while rx.received().len() < 2 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let got = rx.received();
    assert_eq!(got.len(), 2, "an insert fires after_insert and on_update (§9)");
    for r in &got {
        let sig = r.header("x-frappe-webhook-signature");
        let ev = verify_frappe_webhook("hook-secret", sig, &r.body).expect("Frappe's signature verifies over the raw body");
        assert_eq!((ev.doctype.as_str(), ev.name.as_str()), ("Customer", "CUST-0001"));
        assert!(ev.doc.is_some(), "the template sends the whole document");
        assert_eq!(verify_frappe_webhook("forged", sig, &r.body), Err(WebhookError::BadSignature), "another secret does not verify");
    }
    assert_eq!(verify_frappe_webhook("hook-secret", None, &got[0].body), Err(WebhookError::MissingSignature), "unsigned is refused");
}

#[tokio::test]
async fn rate_limited_requests_are_retried_after_retry_after() {
    let sim = sim().await;
    sim.seed(2, 0, 0);
    let c = connector(&sim);
    sim.throttle_next(1, Duration::from_secs(1));
    let started = std::time::Instant::now();
    let (records, _, _) = list_all(&c, "Customer", None).await;
    assert_eq!(records.len(), 2, "the listing succeeds after the 429");
    assert_eq!(sim.counters().throttled, 1, "one request was throttled");
    assert!(started.elapsed() >= Duration::from_secs(1), "Retry-After was waited for");
}
