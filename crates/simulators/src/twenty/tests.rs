//! The simulator's own contract, over HTTP: limits, envelopes, paging, auth, deletes.

use std::time::Duration;

use serde_json::{json, Value as Json};

use super::{TwentySim, TwentySimOptions};

async fn call(sim: &super::TwentySimHandle, method: reqwest::Method, path: &str, body: Option<Json>) -> (u16, Json) {
    let mut req = reqwest::Client::new().request(method, format!("{}{path}", sim.base_url)).bearer_auth(&sim.api_key);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.expect("simulator answers");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Json::Null))
}

#[tokio::test]
async fn batch_limits_envelopes_and_paging() {
    let sim = TwentySim::spawn(TwentySimOptions::default().unlimited()).await;
    let many: Vec<Json> = (0..61).map(|i| json!({"name": format!("C{i}")})).collect();
    let (s, _) = call(&sim, reqwest::Method::POST, "/rest/batch/companies", Some(json!(many))).await;
    assert_eq!(s, 400, "a batch over 60 is refused");
    let (s, _) = call(&sim, reqwest::Method::POST, "/rest/batch/companies", Some(json!([]))).await;
    assert_eq!(s, 400, "an empty batch is refused");
    let (s, body) = call(&sim, reqwest::Method::POST, "/rest/batch/companies", Some(json!(many[..60]))).await;
    assert_eq!(s, 201);
    assert_eq!(body["data"]["createCompanies"].as_array().map(Vec::len), Some(60), "batch answer is data.createCompanies");
    let (s, _) = call(&sim, reqwest::Method::POST, "/rest/batch/companies", Some(json!([{"name": "ok"}, {"nope": 1}]))).await;
    assert_eq!(s, 400, "an unknown field refuses the whole batch");
    assert_eq!(sim.count("companies"), 60, "a refused batch creates nothing");

    let (_, page) = call(&sim, reqwest::Method::GET, "/rest/companies?limit=500&depth=0", None).await;
    assert_eq!(page["data"]["companies"].as_array().map(Vec::len), Some(60));
    assert_eq!(page["totalCount"], 60);
    let (_, p1) = call(&sim, reqwest::Method::GET, "/rest/companies?limit=25&order_by=name[DescNullsLast]", None).await;
    assert_eq!(p1["pageInfo"]["hasNextPage"], true);
    let end = p1["pageInfo"]["endCursor"].as_str().unwrap().to_string();
    let (_, p2) = call(&sim, reqwest::Method::GET, &format!("/rest/companies?limit=25&order_by=name[DescNullsLast]&starting_after={end}"), None).await;
    let n1: Vec<&str> = p1["data"]["companies"].as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap()).collect();
    let n2: Vec<&str> = p2["data"]["companies"].as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert!(n1.last().unwrap() > n2.first().unwrap(), "the next page continues the descending order");
    let (s, _) = call(&sim, reqwest::Method::GET, "/rest/companies/not-a-uuid", None).await;
    assert_eq!(s, 400, "a non-UUID id is a 400");
}

#[tokio::test]
async fn limit_is_clamped_to_200() {
    let sim = TwentySim::spawn(TwentySimOptions::default().unlimited()).await;
    sim.seed(250, 0);
    let (_, page) = call(&sim, reqwest::Method::GET, "/rest/companies?limit=1000", None).await;
    assert_eq!(page["data"]["companies"].as_array().map(Vec::len), Some(200), "QUERY_MAX_RECORDS clamps the page");
    assert_eq!(page["pageInfo"]["hasNextPage"], true);
}

#[tokio::test]
async fn auth_rate_limits_and_deletes() {
    let sim = TwentySim::spawn(TwentySimOptions::default().rate_limit(5, Duration::from_secs(60))).await;
    let ids = sim.seed(2, 0).companies;
    let (s, _) = reqwest::Client::new().get(format!("{}/rest/companies", sim.base_url)).bearer_auth("bad").send().await.map(|r| (r.status().as_u16(), ())).unwrap();
    assert_eq!(s, 401, "a wrong key is 401");
    let (s, _) = call(&sim, reqwest::Method::DELETE, &format!("/rest/companies/{}?soft_delete=true", ids[0]), None).await;
    assert_eq!(s, 200);
    assert!(!sim.record("companies", &ids[0]).unwrap()["deletedAt"].is_null(), "soft delete sets deletedAt");
    let (_, trash) = call(&sim, reqwest::Method::GET, "/rest/companies?filter=deletedAt[is]:NOT_NULL", None).await;
    assert_eq!(trash["data"]["companies"].as_array().map(Vec::len), Some(1), "a deletedAt filter shows the trash");
    let (s, _) = call(&sim, reqwest::Method::DELETE, &format!("/rest/companies/{}", ids[1]), None).await;
    assert_eq!(s, 200);
    assert!(sim.record("companies", &ids[1]).is_none(), "DELETE without soft_delete=true destroys");
    let mut statuses = vec![];
    for _ in 0..4 {
        statuses.push(call(&sim, reqwest::Method::GET, "/rest/companies", None).await.0);
    }
    assert_eq!(statuses.last(), Some(&429), "over 5 per minute the long bucket answers 429: {statuses:?}");
    assert!(sim.counters().throttled >= 1);
}
