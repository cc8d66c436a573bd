//! `crosswalk webhook-setup` on a site whose API user may not manage Webhooks (403): the
//! documents are printed for someone who may, without the secret; `--print` prints them
//! without asking the site to make anything.

use crate::support::{self, cli};

#[tokio::test(flavor = "multi_thread")]
async fn refused_or_asked_to_print_the_documents_are_printed_without_the_secret() {
    let (cloud, local) = support::sites(|o| crosswalk_simulators::frappe::FrappeSimOptions { webhook_admin: false, ..o }).await;
    let dir = tempfile::tempdir().unwrap();
    let config = support::write_config(dir.path(), &cloud, &local, "newest_wins");

    let out = cli(&config, &["webhook-setup", "cloud", "--url", "https://sync.example.com/"]);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(out.status.code(), Some(1), "nothing was set up, so the command did not succeed:\n{text}");
    assert!(text.contains("the site refused") && text.contains("403"), "says why:\n{text}");
    assert!(text.contains("Request URL: https://sync.example.com/webhooks/cloud"), "{text}");
    assert!(text.contains("DocType: Sales Order    Doc Event: on_submit"), "submit events for submittable DocTypes:\n{text}");
    assert!(text.contains("Webhook Secret: the environment variable WEBHOOK_SECRET"), "says where the secret is, never what it is:\n{text}");
    assert!(!text.contains(support::WEBHOOK_SECRET) && !String::from_utf8_lossy(&out.stderr).contains(support::WEBHOOK_SECRET));
    assert_eq!(cloud.count("Webhook"), 0);

    let printed = cli(&config, &["--json", "webhook-setup", "local", "--print", "--url", "http://10.0.0.5:8765"]);
    assert!(printed.status.success(), "--print succeeds: {}", String::from_utf8_lossy(&printed.stderr));
    let j: serde_json::Value = serde_json::from_slice(&printed.stdout).unwrap();
    assert_eq!(j["request_url"], "http://10.0.0.5:8765/webhooks/local");
    assert_eq!(j["documents"].as_array().map(Vec::len), Some(16), "{j:#}");
    assert!(j["documents"].as_array().unwrap().iter().all(|d| d.get("webhook_secret").is_none()), "no secret in the printed documents");
    assert_eq!(j["printed_because"], "--print was given");
}
