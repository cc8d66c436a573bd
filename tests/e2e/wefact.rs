//! wefact-webhook end to end through the `crosswalk` binary: WeFact simulator → webhook
//! receiver failing 20% of requests, the process killed once mid-run.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::time::Duration;

use crosswalk_simulators::{WeFactSim, WeFactSimOptions, WebhookReceiver, WebhookReceiverOptions};

use crate::support::*;

fn record_id(r: &crosswalk_simulators::Received) -> String {
    let j = r.json();
    format!("{}:{}", r.path.trim_end_matches('/').rsplit('/').next().unwrap_or("?"), j["record"]["Identifier"])
}

/// Accepted deliveries: record → distinct idempotency keys.
fn accepted(rx: &crosswalk_simulators::WebhookReceiverHandle) -> BTreeMap<String, BTreeSet<String>> {
    let mut m: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for r in rx.received().iter().filter(|r| r.accepted) {
        m.entry(record_id(r)).or_default().insert(r.header("idempotency-key").unwrap_or("").to_string());
    }
    m
}

#[tokio::test(flavor = "multi_thread")]
async fn every_record_delivered_once_despite_failures_and_a_kill() {
    let wf = WeFactSim::spawn(WeFactSimOptions::default()).await;
    wf.seed(300, 700);
    let rx = WebhookReceiver::spawn(WebhookReceiverOptions::default()).await;
    rx.set_fail_rate(0.2);
    let w = World::new("unused");
    let env = w.dir.path().join(".env");
    std::fs::write(
        &env,
        format!(
            "WEFACT_API_URL={}\nWEFACT_API_KEY=wefact-sim-key\nDEBTORS_WEBHOOK_URL={}\nINVOICES_WEBHOOK_URL={}\nSYNC_INTERVAL=300\n",
            format!("{}/v2/", wf.base_url.trim_end_matches('/')),
            rx.url("debtors"),
            rx.url("invoices")
        ),
    )
    .unwrap();
    let out = w.run_env(&["init", "wefact-webhook", "--env-file", env.to_str().unwrap()], &[("WEFACT_API_KEY", "wefact-sim-key")]);
    assert!(out.status.success(), "init: {}", String::from_utf8_lossy(&out.stderr));
    // Test speed: lift the client-side limits (the behaviour is the same, just faster).
    let text = std::fs::read_to_string(w.config()).unwrap()
        .replace("secret_env = \"WEFACT_API_KEY\"", "secret_env = \"WEFACT_API_KEY\"\nrequests_per_minute = 60000")
        .replace("kind = \"webhook\"", "kind = \"webhook\"\nrequests_per_second = 500\nretry_base_ms = 20\nretry_max_seconds = 1\ndrain_seconds = 60");
    std::fs::write(w.config(), text).unwrap();
    let env_vars = [("WEFACT_API_KEY", "wefact-sim-key")];

    // First run, killed mid-run.
    let mut child = Command::new(bin())
        .arg("--config").arg(w.config()).arg("-v").arg("sync")
        .env("CROSSWALK_HOME", w.dir.path().join("home")).env("CROSSWALK_NO_KEYRING", "1").env("WEFACT_API_KEY", "wefact-sim-key")
        .stdout(std::fs::File::create(w.dir.path().join("killed-run.log")).unwrap()).stderr(std::fs::File::create(w.dir.path().join("killed-run.err")).unwrap())
        .spawn().unwrap();
    for _ in 0..3000 {
        if rx.received().len() >= 150 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    child.kill().unwrap();
    let _ = child.wait();
    let after_kill = accepted(&rx).len();
    let log = std::fs::read_to_string(w.dir.path().join("killed-run.log")).unwrap_or_default()
        + &std::fs::read_to_string(w.dir.path().join("killed-run.err")).unwrap_or_default().lines().take(40).collect::<Vec<_>>().join("\n")
        + &format!("\nreceived {}", rx.received().len());
    assert!(after_kill > 0 && after_kill < 1000, "the kill came mid-run ({after_kill} records delivered):\n{log}");

    // Runs until everything is through (failures are retried from the outbox).
    let mut ok = false;
    for _ in 0..8 {
        let out = w.run_env(&["sync"], &env_vars);
        if out.status.success() {
            ok = true;
            break;
        }
    }
    assert!(ok, "a run eventually succeeds");
    let acc = accepted(&rx);
    assert_eq!(acc.len(), 1000, "all 300 debtors and 700 invoices were delivered");
    assert!(acc.values().all(|keys| keys.len() == 1), "after deduplicating by idempotency key each record version arrived once");
    let total_accepted = rx.received().iter().filter(|r| r.accepted).count();
    assert!(total_accepted <= 1000 + 5, "at most the in-flight requests of the killed run were repeated ({total_accepted})");

    // Unchanged: nothing is sent.
    rx.set_fail_rate(0.0);
    rx.clear_received();
    let out = w.run_env(&["sync"], &env_vars);
    assert!(out.status.success());
    assert_eq!(rx.received().len(), 0, "an unchanged second run sends nothing");

    // Edits: only the changed ones.
    let debtors = wf.records("debtor");
    let invoices = wf.records("invoice");
    for d in debtors.iter().take(3) {
        wf.edit_as_user("debtor", d["Identifier"].as_str().unwrap().parse::<u64>().unwrap(), serde_json::json!({"City": "Utrecht"})).unwrap();
    }
    for i in invoices.iter().take(2) {
        wf.edit_as_user("invoice", i["Identifier"].as_str().unwrap().parse::<u64>().unwrap(), serde_json::json!({"Status": 4})).unwrap();
    }
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let out = w.run_env(&["sync"], &env_vars);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    let got = rx.received();
    assert_eq!(got.len(), 5, "exactly the 3 changed debtors and 2 changed invoices: {:?}", got.iter().map(record_id).collect::<Vec<_>>());
    let status = w.ok(&["status"]);
    assert!(status.contains("0 failed"), "status shows no failures:\n{status}");
}
