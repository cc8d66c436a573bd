//! The Zoho simulator refuses what Zoho refuses (a connector that is always polite never
//! shows these).

use std::time::Duration;

use serde_json::Value as Json;

use super::*;

async fn token(sim: &ZohoSimHandle, org: &str) -> reqwest::Response {
    let c = sim.client(org);
    reqwest::Client::new()
        .post(format!("{}/oauth/v2/token", sim.base_url))
        .form(&[("grant_type", "refresh_token"), ("client_id", c.client_id.as_str()), ("client_secret", c.client_secret.as_str()), ("refresh_token", c.refresh_token.as_str())])
        .send()
        .await
        .unwrap()
}

async fn get(sim: &ZohoSimHandle, tok: &str, path_query: &str) -> (u16, Json) {
    let r = reqwest::Client::new().get(format!("{}{path_query}", sim.base_url)).header("Authorization", format!("Zoho-oauthtoken {tok}")).send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Json::Null))
}

#[tokio::test]
async fn refuses_what_zoho_refuses() {
    let sim = ZohoSim::spawn(ZohoSimOptions { refresh_limit: 2, ..ZohoSimOptions::default() }).await;
    sim.insert("a", "Deals", json!({"Deal_Name": "x"}));
    let t: Json = token(&sim, "a").await.json().await.unwrap();
    let tok = t["access_token"].as_str().unwrap().to_string();
    assert_eq!(t["api_domain"], json!(sim.base_url), "the token answer names the API domain");
    let (s, j) = get(&sim, &tok, "/crm/v8/Deals").await;
    assert_eq!((s, j["code"].clone()), (400, json!("REQUIRED_PARAM_MISSING")), "fields is mandatory from v3");
    assert_eq!(get(&sim, &tok, "/crm/v2/Deals").await.0, 200, "but optional in v2");
    let many: Vec<String> = (0..51).map(|i| format!("F{i}")).collect();
    assert_eq!(get(&sim, &tok, &format!("/crm/v8/Deals?fields={}", many.join(","))).await.0, 400, "51 fields are refused");
    assert_eq!(get(&sim, &tok, "/crm/v8/Deals?fields=Deal_Name&page=11&per_page=200").await.1["code"], json!("LIMIT_REACHED"), "page stops at 2,000 records");
    assert_eq!(get(&sim, &tok, "/crm/v8/Deals?fields=Deal_Name&per_page=201").await.0, 400, "per_page is at most 200");
    assert_eq!(get(&sim, &tok, "/crm/v8/Leads?fields=Last_Name").await.0, 204, "an empty list is 204 No Content");
    assert_eq!(get(&sim, "nope", "/crm/v8/Deals?fields=Deal_Name").await.0, 401, "a wrong token is 401");
    token(&sim, "a").await;
    let third: Json = token(&sim, "a").await.json().await.unwrap();
    assert_eq!(third["error"], json!("Access Denied"), "a refresh token mints only refresh_limit tokens per window");

    let team = sim.team_folder("b");
    let f = sim.add_folder("b", &team, "F");
    sim.add_file("b", &f, "a.txt", b"1");
    let tb: Json = token(&sim, "b").await.json().await.unwrap();
    let body = format!("--XX\r\nContent-Disposition: form-data; name=\"parent_id\"\r\n\r\n{f}\r\n--XX\r\nContent-Disposition: form-data; name=\"filename\"\r\n\r\na.txt\r\n--XX\r\nContent-Disposition: form-data; name=\"override-name-exist\"\r\n\r\nfalse\r\n--XX\r\nContent-Disposition: form-data; name=\"content\"; filename=\"a.txt\"\r\n\r\n2\r\n--XX--\r\n");
    let r = reqwest::Client::new()
        .post(format!("{}/workdrive/api/v1/upload", sim.base_url))
        .header("Authorization", format!("Zoho-oauthtoken {}", tb["access_token"].as_str().unwrap()))
        .header("Content-Type", "multipart/form-data; boundary=XX")
        .body(body)
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 409, "a taken name is refused when override-name-exist is false");
    assert_eq!(sim.files_in("b", &f), vec![("a.txt".to_string(), b"1".to_vec())], "and the file is untouched");
}
