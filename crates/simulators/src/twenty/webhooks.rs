//! Outgoing webhooks, sent as Twenty's `call-webhook.job` sends them: one POST per record
//! event, JSON body, `X-Twenty-Webhook-{Timestamp,Signature,Nonce}` when a secret is set,
//! 5 s time-out, no retry.

use std::sync::Arc;

use hmac::{Hmac, Mac};
use rand::RngCore;
use serde_json::{json, Value as Json};
use sha2::Sha256;

use super::store::Event;
use super::{lock, Shared};

/// The hex HMAC-SHA256 of `"{timestamp}:{body}"`.
pub fn signature(secret: &str, timestamp: &str, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(format!("{timestamp}:{body}").as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// Sends `ev` to every registered target, in the background.
pub(super) fn deliver(shared: &Arc<Shared>, ev: Event) {
    let targets = lock(&shared.webhooks).clone();
    for t in targets {
        let event_name = format!("{}.{}", ev.object_singular, ev.action);
        let object_metadata = json!({"id": format!("meta-{}", ev.object_singular), "nameSingular": ev.object_singular});
        let event_date = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
        let mut body = json!({
            "targetUrl": t.url, "eventName": event_name, "objectMetadata": object_metadata,
            "workspaceId": shared.workspace_id, "webhookId": t.id, "eventDate": event_date,
        });
        let mut item = json!({"record": Json::Object(ev.record.clone())});
        if let Some(f) = &ev.updated_fields {
            item["updatedFields"] = json!(f);
        }
        if shared.opts.batched_webhooks {
            body["items"] = json!([item]);
            body["batchSize"] = json!(1);
        } else if let Json::Object(m) = item {
            body.as_object_mut().expect("object").extend(m);
        }
        let text = body.to_string();
        let shared = shared.clone();
        shared.rt.clone().spawn(async move {
            let mut req = shared.http.post(&t.url).header("Content-Type", "application/json");
            if !t.secret.is_empty() {
                let ts = chrono::Utc::now().timestamp_millis().to_string();
                let mut nonce = [0u8; 16];
                rand::thread_rng().fill_bytes(&mut nonce);
                req = req
                    .header("X-Twenty-Webhook-Timestamp", &ts)
                    .header("X-Twenty-Webhook-Signature", signature(&t.secret, &ts, &text))
                    .header("X-Twenty-Webhook-Nonce", hex::encode(nonce));
            }
            let ok = matches!(req.body(text).send().await, Ok(r) if r.status().is_success());
            let mut c = lock(&shared.counters);
            if ok {
                c.webhooks_sent += 1;
            } else {
                c.webhooks_failed += 1;
            }
        });
    }
}
