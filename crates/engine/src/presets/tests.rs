use super::*;

#[test]
fn twenty_excel_config_loads_and_validates() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("crosswalk.toml");
    let mut v = Values::default();
    v.flags.insert("TWENTY_API_URL".into(), "http://127.0.0.1:9/rest/".into());
    v.env_file.insert("CONFLICT_STRATEGY".into(), "excel_wins".into());
    v.env_file.insert("API_RATE_LIMIT_DELAY".into(), "1.2".into());
    v.env_file.insert("TWENTY_API_KEY".into(), "k".into());
    let plan = init("twenty-excel", &cfg, &v).unwrap();
    std::fs::write(&cfg, &plan.config_text).unwrap();
    let c = crosswalk_core::Config::load(&cfg).expect("the written config must parse");
    crate::App::validate(&c).expect("the written config must validate");
    assert_eq!(c.links["companies"].conflict, crosswalk_core::config::ConflictPolicy::RightWins, "excel_wins maps to right_wins");
    assert_eq!(c.connections["crm"].settings["url"].as_str(), Some("http://127.0.0.1:9"), "the /rest suffix is the API's, not the base URL");
    assert_eq!(c.connections["crm"].settings["requests_per_minute"].as_integer(), Some(50), "1.2 s between requests = 50 per minute");
    assert!(!plan.config_text.contains("\"k\""), "the API key must not be in the config");
    assert_eq!(plan.secrets[0].value.as_ref().map(|s| s.expose()), Some("k"));
}

#[test]
fn env_file_forms() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join(".env");
    std::fs::write(&p, "# comment\nexport A=1\nB=\"two words\"\nC='x'\n\n").unwrap();
    let m = read_env_file(&p).unwrap();
    assert_eq!(m["A"], "1");
    assert_eq!(m["B"], "two words");
    assert_eq!(m["C"], "x");
    std::fs::write(&p, "oops\n").unwrap();
    assert!(read_env_file(&p).unwrap_err().message.contains(":1:"), "bad lines are named");
}

#[test]
fn unknown_conflict_strategy_is_refused() {
    let mut v = Values::default();
    v.flags.insert("TWENTY_API_URL".into(), "http://x".into());
    v.flags.insert("CONFLICT_STRATEGY".into(), "coin_flip".into());
    let e = init("twenty-excel", Path::new("c.toml"), &v).unwrap_err();
    assert!(e.message.contains("coin_flip") && e.message.contains("excel_wins"), "{e}");
}

#[test]
fn wefact_webhook_config_loads_and_validates() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("crosswalk.toml");
    let mut v = Values::default();
    v.env_file.insert("DEBTORS_WEBHOOK_URL".into(), "https://hooks.zapier.com/hooks/catch/1/abc/".into());
    v.env_file.insert("INVOICES_WEBHOOK_URL".into(), "https://hooks.zapier.com/hooks/catch/1/def/".into());
    v.env_file.insert("SYNC_INTERVAL".into(), "300".into());
    v.env_file.insert("WEFACT_API_KEY".into(), "wk".into());
    let plan = init("wefact-webhook", &cfg, &v).unwrap();
    std::fs::write(&cfg, &plan.config_text).unwrap();
    let c = crosswalk_core::Config::load(&cfg).expect("the written config must parse");
    crate::App::validate(&c).expect("the written config must validate");
    assert_eq!(c.links["invoices"].direction, crosswalk_core::config::Direction::LeftToRight, "one-way to the webhook");
    assert_eq!(c.links["debtors"].triggers.every_minutes, Some(5), "SYNC_INTERVAL is in seconds");
    assert!(!plan.config_text.contains("\"wk\""), "the API key is not in the config");
}
