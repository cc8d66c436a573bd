//! Unit tests of the connector's pure parts (the HTTP behaviour is tested against the
//! simulator in `tests/twenty`).

use std::time::Duration;

use chrono::{TimeZone, Utc};

use super::webhook::*;
use crate::BuildContext;

const SECRET: &str = "whsec-test";

fn signed(body: &str, ms: i64) -> (String, String) {
    let ts = ms.to_string();
    let sig = sign(SECRET, &ts, body.as_bytes());
    (ts, sig)
}

#[test]
fn webhook_valid_forged_old_and_replayed() {
    let now = Utc.timestamp_millis_opt(1_750_000_000_000).unwrap();
    let body = r#"{"eventName":"person.updated","objectMetadata":{"id":"o","nameSingular":"person"},"workspaceId":"w","record":{"id":"p1"},"updatedFields":["city"]}"#;
    let (ts, sig) = signed(body, now.timestamp_millis() - 1000);
    let cache = NonceCache::new();
    let h = TwentyWebhookHeaders { timestamp: Some(&ts), signature: Some(&sig), nonce: Some("n1") };
    let ev = verify_twenty_webhook(SECRET, &h, body.as_bytes(), now, DEFAULT_WINDOW, &cache).expect("a correctly signed fresh webhook passes");
    assert_eq!((ev.object.as_str(), ev.action.as_str(), ev.record_ids.clone()), ("person", "updated", vec!["p1".to_string()]));

    let replay = verify_twenty_webhook(SECRET, &h, body.as_bytes(), now, DEFAULT_WINDOW, &cache);
    assert_eq!(replay, Err(WebhookError::Replayed), "the same nonce twice is a replay");

    let forged = TwentyWebhookHeaders { nonce: Some("n2"), ..h };
    let tampered = body.replace("p1", "p2");
    assert_eq!(verify_twenty_webhook(SECRET, &forged, tampered.as_bytes(), now, DEFAULT_WINDOW, &cache), Err(WebhookError::BadSignature), "a changed body breaks the signature");
    assert_eq!(verify_twenty_webhook("other", &forged, body.as_bytes(), now, DEFAULT_WINDOW, &cache), Err(WebhookError::BadSignature), "another secret is refused");

    let (old_ts, old_sig) = signed(body, now.timestamp_millis() - 10 * 60 * 1000);
    let old = TwentyWebhookHeaders { timestamp: Some(&old_ts), signature: Some(&old_sig), nonce: Some("n3") };
    assert!(matches!(verify_twenty_webhook(SECRET, &old, body.as_bytes(), now, DEFAULT_WINDOW, &cache), Err(WebhookError::OutsideWindow(_))), "a 10-minute-old webhook is outside the 5-minute window");
    let none = TwentyWebhookHeaders { signature: None, ..h };
    assert_eq!(verify_twenty_webhook(SECRET, &none, body.as_bytes(), now, Duration::from_secs(300), &cache), Err(WebhookError::MissingHeader(HEADER_SIGNATURE)));
}

#[test]
fn webhook_batched_body_lists_every_record() {
    let body = br#"{"eventName":"company.created","objectMetadata":{"nameSingular":"company"},"items":[{"record":{"id":"a"}},{"record":{"id":"b"}}],"batchSize":2}"#;
    let ev = parse_event(body).unwrap();
    assert_eq!(ev.record_ids, ["a", "b"], "the batched shape (items[]) carries several records");
    assert_eq!(ev.action, "created");
}

#[test]
fn build_without_key_says_how_to_sign_in() {
    let settings: toml::Table = "url = \"http://127.0.0.1:9\"".parse().unwrap();
    let e = super::build("crm", &settings, &BuildContext::default()).err().expect("no key must fail");
    assert!(e.message.contains("crosswalk login crm") && e.message.contains("TWENTY_API_KEY"), "message names the fix: {e}");
}
