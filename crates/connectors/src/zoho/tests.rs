//! The Zoho connector against the Zoho simulator over real HTTP.

use std::time::Duration;

use crosswalk_core::connector::{Connector, ListRequest};
use crosswalk_core::{ConnectorError, Secret};
use crosswalk_simulators::{ZohoSim, ZohoSimHandle, ZohoSimOptions};
use serde_json::{json, Map, Value as Json};

use super::oauth::{self, LoopbackListener, OAuthClient, Pkce};
use super::*;
use crate::http::RetryPolicy;

fn config(sim: &ZohoSimHandle, org: &str, extra: &str) -> ZohoConfig {
    let c = sim.client(org);
    let t: toml::Table = format!("client_id = {:?}\naccounts_url = {:?}\n{extra}", c.client_id, sim.base_url).parse().unwrap();
    ZohoConfig::from_settings(&t).unwrap()
}

fn client(sim: &ZohoSimHandle, org: &str, extra: &str) -> ZohoClient {
    let c = sim.client(org);
    ZohoClient::new(config(sim, org, extra), Some(Secret::new(&c.client_secret)), Secret::new(&c.refresh_token), None)
        .unwrap()
        .with_retry(RetryPolicy { base_delay: Duration::from_millis(10), max_delay: Duration::from_millis(50), ..RetryPolicy::default() })
}

fn fields(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("F{i:02}")).collect()
}

#[tokio::test]
async fn the_access_token_is_cached_and_a_401_refreshes_once() {
    let sim = ZohoSim::spawn(ZohoSimOptions::default()).await;
    for i in 0..3 {
        sim.insert("a", "Deals", json!({"Deal_Name": format!("D{i}")}));
    }
    let c = client(&sim, "a", "");
    for _ in 0..5 {
        c.records_page("Deals", &["Deal_Name".into()], &PageCursor { page: 1, token: None }, None).await.unwrap();
    }
    assert_eq!(sim.counters().refreshes(), 1, "five calls share one access token: never refresh per request");
    sim.expire_tokens_after(0);
    let (p, _) = c.records_page("Deals", &["Deal_Name".into()], &PageCursor { page: 1, token: None }, None).await.unwrap();
    assert_eq!(p.data.len(), 3, "the call that met an expired token succeeded after one refresh");
    assert_eq!(sim.counters().refreshes(), 2, "exactly one more refresh");
    assert_eq!(c.stats().unauthorized, 1, "one 401 was answered by refreshing");
    assert_eq!(sim.counters().secret_leaks, 0, "no API call carried the client secret or refresh token");
}

#[tokio::test]
async fn the_refresh_rate_limit_is_respected() {
    let sim = ZohoSim::spawn(ZohoSimOptions::default()).await;
    sim.insert("a", "Deals", json!({"Deal_Name": "x"}));
    let c = client(&sim, "a", "refresh_limit = 2");
    let first = PageCursor { page: 1, token: None };
    c.records_page("Deals", &["Deal_Name".into()], &first, None).await.unwrap();
    sim.expire_tokens_after(0);
    c.records_page("Deals", &["Deal_Name".into()], &first, None).await.unwrap();
    sim.expire_tokens_after(0);
    let e = c.records_page("Deals", &["Deal_Name".into()], &first, None).await.unwrap_err();
    assert!(matches!(&e, ConnectorError::Auth(m) if m.contains("access tokens per refresh token")), "a third token inside the window is not asked for: {e}");
    assert_eq!(sim.counters().refreshes(), 2, "the accounts server saw only the allowed refreshes");
}

#[tokio::test]
async fn more_than_50_fields_are_split_and_merged() {
    let sim = ZohoSim::spawn(ZohoSimOptions::default()).await;
    let f = fields(120);
    for r in 0..3 {
        let m: Map<String, Json> = f.iter().map(|k| (k.clone(), json!(format!("{k}-{r}")))).collect();
        sim.insert("a", "Deals", Json::Object(m));
    }
    let c = client(&sim, "a", "");
    let (p, _) = c.records_page("Deals", &f, &PageCursor { page: 1, token: None }, None).await.unwrap();
    assert_eq!(p.data.len(), 3);
    assert!(p.data.iter().all(|r| f.iter().all(|k| r.get(k).and_then(Json::as_str).is_some_and(|v| v.starts_with(k.as_str())))), "every record carries all 120 fields");
    let calls: Vec<_> = sim.requests().into_iter().filter(|r| r.path == "/crm/v8/Deals").collect();
    assert_eq!(calls.len(), 3, "120 fields + id take three calls of at most 50");
    for r in calls {
        let q: std::collections::HashMap<String, String> = reqwest::Url::parse(&format!("http://x/?{}", r.query)).unwrap().query_pairs().into_owned().collect();
        assert!(q["fields"].split(',').count() <= 50, "never more than 50 fields per call");
    }
}

#[tokio::test]
async fn paging_switches_to_page_token_past_2000_records() {
    let sim = ZohoSim::spawn(ZohoSimOptions::default()).await;
    for i in 0..2150 {
        sim.insert("a", "Deals", json!({"Deal_Name": format!("D{i}")}));
    }
    let conn = ZohoConnector::new(client(&sim, "a", "fields.Deals = [\"Deal_Name\"]"));
    let mut seen = std::collections::BTreeSet::new();
    let mut page = None;
    loop {
        let p = conn.list(ListRequest { object: "Deals".into(), since: None, page }).await.unwrap();
        seen.extend(p.records.iter().map(|r| r.id.clone()));
        page = p.next_page;
        if page.is_none() {
            break;
        }
    }
    assert_eq!(seen.len(), 2150, "every record once, past the 2,000 that `page` reaches");
    assert!(sim.requests().iter().any(|r| r.query.contains("page_token=")), "records past 2,000 were read by page_token");
    assert!(sim.requests().iter().all(|r| r.status != 400), "no request was refused");
    let c = conn.client().stats().crm_credits;
    assert_eq!(c, 11, "11 pages of 200 cost 11 credits: {c}");
}

#[tokio::test]
async fn incremental_reads_send_if_modified_since_and_empty_is_204() {
    let sim = ZohoSim::spawn(ZohoSimOptions::default()).await;
    sim.insert("a", "Deals", json!({"Deal_Name": "old", "Modified_Time": "2020-01-01T10:00:00+05:30"}));
    let conn = ZohoConnector::new(client(&sim, "a", "fields.Deals = [\"Deal_Name\"]"));
    let p = conn.list(ListRequest { object: "Deals".into(), since: Some("2021-01-01T00:00:00+00:00".into()), page: None }).await.unwrap();
    assert!(p.records.is_empty() && p.next_page.is_none(), "a 204 is an empty last page");
    assert_eq!(p.cursor.as_deref(), Some("2021-01-01T00:00:00+00:00"), "the cursor stays when nothing changed");
    let q = sim.requests().last().unwrap().query.clone();
    assert!(q.contains("sort_by=Modified_Time") && q.contains("sort_order=asc"), "increments sort by Modified_Time: {q}");
    let p = conn.list(ListRequest { object: "Deals".into(), since: Some("2019-01-01T00:00:00+00:00".into()), page: None }).await.unwrap();
    assert_eq!(p.records.len(), 1);
    assert_eq!(p.cursor.as_deref(), Some("2020-01-01T10:00:00+05:30"), "the cursor is the newest Modified_Time, verbatim");
}

#[tokio::test]
async fn search_keeps_only_exact_matches() {
    let sim = ZohoSim::spawn(ZohoSimOptions::default()).await;
    let abc = sim.insert("b", "Deals", json!({"Deal_Name": "ABC"}));
    sim.insert("b", "Deals", json!({"Deal_Name": "ABC Inc"}));
    let c = client(&sim, "b", "");
    let hits = c.search_exact("Deals", "Deal_Name", "abc", &["Deal_Name".into()], true).await.unwrap();
    assert_eq!(hits.iter().filter_map(client::id_of).collect::<Vec<_>>(), vec![abc], "the simulator (like Zoho) also matched 'ABC Inc'; the local filter drops it");
    let none = c.search_exact("Deals", "Deal_Name", "Nothing (here)", &["Deal_Name".into()], true).await.unwrap();
    assert!(none.is_empty(), "no match is an empty list (204), brackets escaped");
}

#[tokio::test]
async fn updates_go_100_per_call_with_a_result_per_record() {
    let sim = ZohoSim::spawn(ZohoSimOptions::default()).await;
    let ids: Vec<String> = (0..150).map(|i| sim.insert("a", "Deals", json!({"Deal_Name": format!("D{i}")}))).collect();
    let c = client(&sim, "a", "");
    let mut body: Vec<Map<String, Json>> = ids.iter().map(|id| json!({"id": id, "Stage": "Won"}).as_object().cloned().unwrap()).collect();
    body[120] = json!({"id": "404", "Stage": "Won"}).as_object().cloned().unwrap();
    let r = c.update("Deals", body).await.unwrap();
    assert_eq!(r.len(), 150, "one result per record");
    assert!(r[120].is_err() && r.iter().filter(|x| x.is_ok()).count() == 149, "only the bad id failed");
    assert_eq!(sim.requests().iter().filter(|q| q.method == "PUT").count(), 2, "150 records take two calls of at most 100");
    assert_eq!(sim.record("a", "Deals", &ids[0]).unwrap()["Stage"], json!("Won"));
}

#[tokio::test]
async fn a_429_is_waited_out() {
    let sim = ZohoSim::spawn(ZohoSimOptions::default()).await;
    sim.insert("a", "Deals", json!({"Deal_Name": "x"}));
    let c = client(&sim, "a", "");
    sim.rate_limit_next(2);
    let (p, _) = c.records_page("Deals", &["Deal_Name".into()], &PageCursor { page: 1, token: None }, None).await.unwrap();
    assert_eq!(p.data.len(), 1, "the read succeeded after backing off");
    assert_eq!(c.stats().rate_limited, 2, "both 429s were counted");
}

#[tokio::test]
async fn workdrive_folder_lookup_and_duplicate_names() {
    let sim = ZohoSim::spawn(ZohoSimOptions::default()).await;
    let team = sim.team_folder("b");
    for i in 0..60 {
        sim.add_folder("b", &team, &format!("Other {i}"));
    }
    let target = sim.add_folder("b", &team, "Acme Deal");
    sim.add_file("b", &target, "report.pdf", b"old");
    let c = client(&sim, "b", "");
    let kids = c.child_folders(&team).await.unwrap();
    assert_eq!(kids.len(), 61, "children are read past the first page of 50");
    assert_eq!(find_by_name(&kids, "acme deal").map(|f| f.id.clone()), Some(target.clone()));
    let up = c.upload_keeping_both(&target, "report.pdf", b"new", chrono::Utc::now()).await.unwrap();
    assert!(up.name.starts_with("report_") && up.name.ends_with(".pdf"), "a taken name gets our timestamp: {}", up.name);
    let files = sim.files_in("b", &target);
    assert_eq!(files.len(), 2, "both files are kept: {files:?}");
    assert!(files.iter().any(|(n, b)| n == "report.pdf" && b == b"old"), "the existing file is untouched");
}

#[tokio::test]
async fn pkce_loopback_sign_in_and_device_flow() {
    let sim = ZohoSim::spawn(ZohoSimOptions::default()).await;
    let cfg = config(&sim, "a", "redirect_uri = \"http://127.0.0.1:0/callback\"");
    let oc = OAuthClient::new(&cfg, Some(Secret::new(sim.client("a").client_secret))).unwrap();
    let listener = LoopbackListener::bind(&cfg.redirect_uri).await.unwrap();
    let redirect = listener.redirect_uri().to_string();
    assert!(!redirect.contains(":0/"), "port 0 became a real port: {redirect}");
    let pkce = Pkce::new();
    let url = oauth::authorization_url(&cfg.accounts_url, &cfg.client_id, &cfg.scopes, &redirect, "state-1", &pkce.challenge);
    // The "browser": follows Zoho's redirect to our listener.
    let browser = tokio::spawn(async move { reqwest::get(url).await.map(|r| r.status().as_u16()) });
    let cb = listener.wait("state-1", Duration::from_secs(10)).await.unwrap();
    assert_eq!(browser.await.unwrap().unwrap(), 200, "the browser is told it may close the window");
    assert_eq!(cb.accounts_server.as_deref(), Some(sim.base_url.as_str()), "the redirect names the accounts server");
    let g = oauth::exchange_code(&oc.at(cb.accounts_server.as_deref().unwrap()), &cb.code, Some(&redirect), Some(&pkce.verifier)).await.unwrap();
    assert_eq!(g.refresh_token.as_ref().map(|s| s.expose().to_string()), Some(sim.client("a").refresh_token), "a refresh token came back");
    assert_eq!(sim.counters().pkce_verified, 1, "the simulator checked the S256 challenge against the verifier");

    let bad = oauth::exchange_code(&oc, &Secret::new("1000.code-unknown"), Some(&redirect), Some(&pkce.verifier)).await.unwrap_err();
    assert!(matches!(bad, ConnectorError::Auth(_)), "an unknown code is an auth error");

    let d = oauth::device_start(&oc, &cfg.scopes).await.unwrap();
    assert_eq!(d.user_code, "ABCD-1234");
    let g = oauth::device_poll(&oc, &d).await.unwrap();
    assert!(g.refresh_token.is_some(), "the device flow ends with a refresh token after 'authorization_pending'");
}

#[derive(Debug, Default)]
struct MemCache(std::sync::Mutex<Option<Secret>>);

impl oauth::TokenCache for MemCache {
    fn load(&self) -> Option<oauth::CachedToken> {
        self.0.lock().unwrap().as_ref().and_then(oauth::CachedToken::parse)
    }
    fn store(&self, t: &oauth::CachedToken) {
        *self.0.lock().unwrap() = Some(t.to_secret());
    }
}

#[tokio::test]
async fn the_access_token_is_reused_across_runs_through_the_cache() {
    let sim = ZohoSim::spawn(ZohoSimOptions::default()).await;
    sim.insert("a", "Deals", json!({"Deal_Name": "x"}));
    let cache = std::sync::Arc::new(MemCache::default());
    let first = PageCursor { page: 1, token: None };
    for _ in 0..3 {
        // A new client per "run", as a new `crosswalk transfer` process would make.
        let c = client(&sim, "a", "").with_token_cache(cache.clone());
        c.records_page("Deals", &["Deal_Name".into()], &first, None).await.unwrap();
    }
    assert_eq!(sim.counters().refreshes(), 1, "three runs share one access token");
    // A token from another refresh token is never used.
    let b = sim.client("b");
    let other = ZohoClient::new(config(&sim, "b", ""), Some(Secret::new(&b.client_secret)), Secret::new(&b.refresh_token), None).unwrap().with_token_cache(cache.clone());
    other.records_page("Deals", &["Deal_Name".into()], &first, None).await.unwrap();
    assert_eq!(sim.counters().refreshes(), 2, "org B minted its own token instead of using org A's");
    assert!(sim.requests().iter().filter(|r| r.path == "/crm/v8/Deals").all(|r| r.status == 200 || r.status == 204), "org B's call ran with org B's token");
}

#[tokio::test]
async fn calls_in_flight_stay_under_max_concurrency() {
    let sim = ZohoSim::spawn(ZohoSimOptions { latency: Duration::from_millis(60), ..ZohoSimOptions::default() }).await;
    sim.insert("a", "Deals", json!({"Deal_Name": "x"}));
    let c = std::sync::Arc::new(client(&sim, "a", "max_concurrency = 3"));
    let first = PageCursor { page: 1, token: None };
    let calls = (0..12).map(|_| {
        let c = c.clone();
        let first = first.clone();
        async move { c.records_page("Deals", &["Deal_Name".into()], &first, None).await.map(|_| ()) }
    });
    for r in futures::future::join_all(calls).await {
        r.unwrap();
    }
    let m = sim.counters().max_in_flight;
    assert!(m <= 3, "never more than max_concurrency calls at once (Zoho answers 429 past the edition's limit): {m}");
    assert!(m >= 2, "but calls do run side by side: {m}");
}

#[tokio::test]
async fn as_a_connector_describe_find_create_update_delete() {
    use crosswalk_core::connector::RecordPatch;
    use crosswalk_core::Value;
    let sim = ZohoSim::spawn(ZohoSimOptions::default()).await;
    let id = sim.insert("a", "Deals", json!({"Deal_Name": "Acme", "Stage": "New", "Owner": {"name": "Jane", "id": "9"}}));
    sim.insert("a", "Deals", json!({"Deal_Name": "Acme Two", "Stage": "New"}));
    let conn = ZohoConnector::new(client(&sim, "a", "modules = [\"Deals\"]"));
    let objs = conn.describe().await.unwrap();
    assert!(objs[0].field("Deal_Name").is_some() && objs[0].field("Modified_Time").is_some_and(|f| f.read_only), "fields come from the settings API");
    let found = conn.find("Deals", "Deal_Name", &[Value::text("Acme")]).await.unwrap();
    assert_eq!(found.iter().map(|r| r.id.clone()).collect::<Vec<_>>(), vec![id.clone()], "find is exact ('Acme Two' is left out)");
    assert_eq!(found[0].get("Owner.name"), &Value::text("Jane"), "every described field is read (lookups flattened)");
    let mut f = crosswalk_core::value::Fields::new();
    f.insert("Deal_Name".into(), Value::text("New Deal"));
    let created = conn.create("Deals", vec![f]).await.unwrap();
    let new_id = created[0].as_ref().unwrap().id.clone();
    assert_eq!(sim.record("a", "Deals", &new_id).unwrap()["Deal_Name"], json!("New Deal"), "create lands with Zoho's id");
    let mut p = crosswalk_core::value::Fields::new();
    p.insert("Stage".into(), Value::text("Won"));
    let r = conn.update("Deals", vec![RecordPatch { id: id.clone(), fields: p.clone() }, RecordPatch { id: "404".into(), fields: p }]).await.unwrap();
    assert!(r[0].is_ok() && r[1].is_err(), "one result per record: {r:?}");
    assert_eq!(sim.record("a", "Deals", &id).unwrap()["Stage"], json!("Won"));
    let got = conn.get("Deals", std::slice::from_ref(&id)).await.unwrap();
    assert_eq!(got[0].get("Stage"), &Value::text("Won"), "get reads it back");
    let d = conn.delete("Deals", vec![new_id.clone(), "404".into()]).await.unwrap();
    assert!(d[0].is_ok() && d[1].is_err() && sim.record("a", "Deals", &new_id).is_none(), "delete reports per record: {d:?}");
}
