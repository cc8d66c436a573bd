//! The engine's webhook listener: a verified Twenty webhook triggers exactly one run; a
//! forged, stale or replayed one gets 401 and starts nothing.

use std::sync::Arc;
use std::time::Duration;

use crosswalk_connectors::twenty::webhook::sign;
use crosswalk_engine::presets::{self, Values};
use crosswalk_engine::App;
use crosswalk_simulators::twenty::{TwentySim, TwentySimOptions};

mod frappe;

const HOOK_SECRET: &str = "hook-secret-123";

async fn post(url: &str, ts: &str, sig: &str, nonce: &str, body: &str) -> u16 {
    reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .header("X-Twenty-Webhook-Timestamp", ts)
        .header("X-Twenty-Webhook-Signature", sig)
        .header("X-Twenty-Webhook-Nonce", nonce)
        .body(body.to_string())
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn runs_after(app: &App, wait: Duration) -> usize {
    tokio::time::sleep(wait).await;
    app.runs(None, 100).unwrap().len()
}

#[tokio::test(flavor = "multi_thread")]
async fn forged_stale_and_replayed_webhooks_start_nothing() {
    let sim = TwentySim::spawn(TwentySimOptions { api_key: "k".into(), ..TwentySimOptions::default() }.unlimited()).await;
    let ids = sim.seed(3, 0);
    let dir = tempfile::tempdir().unwrap();
    std::env::set_var("CROSSWALK_HOME", dir.path().join("home"));
    std::env::set_var("CROSSWALK_NO_KEYRING", "1");
    std::env::set_var("TWENTY_API_KEY", "k");
    std::env::set_var("TW_HOOK_SECRET", HOOK_SECRET);
    let config = dir.path().join("crosswalk.toml");
    let mut v = Values::default();
    v.flags.insert("TWENTY_API_URL".into(), sim.base_url.clone());
    v.flags.insert("EXCEL_FILE_PATH".into(), dir.path().join("crm.xlsx").display().to_string());
    let plan = presets::init("twenty-excel", &config, &v).unwrap();
    let text = plan.config_text.replace("batch_size = 60\n", "batch_size = 60\nwebhook_port = 0\nwebhook_secret_env = \"TW_HOOK_SECRET\"\n");
    std::fs::write(&config, text).unwrap();
    let app = Arc::new(App::open(Some(&config)).unwrap());
    let w = crosswalk_engine::watch::start(app.clone(), false).await.unwrap();
    let url = format!("http://{}/webhooks/crm", w.webhook_addrs[0]);
    let body = serde_json::json!({
        "eventName": "company.updated",
        "objectMetadata": {"nameSingular": "company"},
        "record": {"id": ids.companies[0]},
        "eventDate": chrono::Utc::now().to_rfc3339(),
    })
    .to_string();
    let now_ms = chrono::Utc::now().timestamp_millis().to_string();

    let forged = sign("not-the-secret", &now_ms, body.as_bytes());
    assert_eq!(post(&url, &now_ms, &forged, "n1", &body).await, 401, "a forged signature is refused");
    let old = (chrono::Utc::now().timestamp_millis() - 3_600_000).to_string();
    assert_eq!(post(&url, &old, &sign(HOOK_SECRET, &old, body.as_bytes()), "n2", &body).await, 401, "an hour-old webhook is refused");
    let tampered = body.replace("company.updated", "company.deleted");
    assert_eq!(post(&url, &now_ms, &sign(HOOK_SECRET, &now_ms, body.as_bytes()), "n3", &tampered).await, 401, "a changed body breaks the signature");
    assert_eq!(runs_after(&app, Duration::from_millis(500)).await, 0, "refused webhooks start no run");

    let good = sign(HOOK_SECRET, &now_ms, body.as_bytes());
    assert_eq!(post(&url, &now_ms, &good, "n4", &body).await, 202, "a signed webhook is accepted");
    let mut runs = 0;
    for _ in 0..50 {
        runs = app.runs(None, 100).unwrap().iter().filter(|r| r.trigger == "webhook" && r.status != "running").count();
        if runs >= 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(runs, 1, "the verified webhook triggered one run of the link using the connection");
    assert_eq!(app.store().inbox("crm").unwrap().len(), 1, "and is in the inbox");
    assert_eq!(post(&url, &now_ms, &good, "n4", &body).await, 401, "the same delivery again is a replay");
    let total = runs_after(&app, Duration::from_millis(800)).await;
    assert_eq!(total, 1, "only the accepted delivery ran, and only the companies link");
    assert_eq!(app.runs(None, 10).unwrap()[0].link, "companies", "a company event runs the companies link");
    w.stop();
}
