//! Twenty's REST endpoints: paging, filters, batch writes, the metadata API.

use std::collections::HashMap;
use std::sync::Mutex;

use crosswalk_core::{ConnectorError, Secret};
use reqwest::Method;
use serde_json::{Map, Value as Json};

use super::config::TwentyConfig;
use super::mapping;
use crate::http::{HttpClient, HttpRequest, RateLimit, RetryPolicy};

/// The ordering every incremental listing uses; cursors are only valid with it.
pub const ORDER_BY: &str = "updatedAt[AscNullsFirst],id[AscNullsFirst]";

/// One page as the server sent it.
pub struct RawPage {
    pub records: Vec<Map<String, Json>>,
    pub has_next: bool,
    pub end_cursor: Option<String>,
    pub total: Option<u64>,
}

/// A Twenty workspace over REST.
#[derive(Debug)]
pub struct TwentyClient {
    http: HttpClient,
    pub config: TwentyConfig,
    connection: String,
    /// Company id → name, filled by listings and lookups (for the `company` column).
    company_names: Mutex<HashMap<String, String>>,
}

impl TwentyClient {
    pub fn new(connection: &str, config: TwentyConfig, api_key: Secret) -> Result<Self, ConnectorError> {
        let http = HttpClient::builder(&config.url)
            .timeout(config.timeout)
            .retry(RetryPolicy { max_attempts: config.max_attempts, ..RetryPolicy::default() })
            .rate_limit(RateLimit::new(config.requests_per_minute, config.rate_period))
            .bearer(api_key)
            .build()?;
        Ok(TwentyClient { http, config, connection: connection.to_string(), company_names: Mutex::new(HashMap::new()) })
    }

    /// Sends a request, rewording a rejected key into what the user should do.
    pub async fn send(&self, req: HttpRequest) -> Result<Json, ConnectorError> {
        self.http.send(&req).await.map_err(|e| match e {
            ConnectorError::Auth(m) if m.contains("HTTP 401") => ConnectorError::Auth(format!(
                "the API key for connection {} was rejected — create a new one in Twenty under Settings → APIs & Webhooks",
                self.connection
            )),
            ConnectorError::Auth(m) if m.contains("HTTP 403") => ConnectorError::Auth(format!(
                "the API key for connection {} is not allowed to do this ({m}) — give its role access in Twenty under Settings → APIs & Webhooks",
                self.connection
            )),
            other => other,
        })
    }

    /// One page of `object` matching `filter`, after `starting_after`.
    pub async fn find_page(&self, object: &str, filter: Option<&str>, starting_after: Option<&str>, limit: u32) -> Result<RawPage, ConnectorError> {
        let mut req = HttpRequest::get(format!("/rest/{object}")).query("limit", limit.to_string()).query("depth", "0").query("order_by", ORDER_BY);
        if let Some(f) = filter {
            req = req.query("filter", f);
        }
        if let Some(c) = starting_after {
            req = req.query("starting_after", c);
        }
        let body = self.send(req).await?;
        let (has_next, end_cursor) = mapping::page_info(&body);
        let records = mapping::records_in(&body);
        if object == "companies" {
            self.remember_companies(&records);
        }
        Ok(RawPage { has_next: has_next && !records.is_empty(), end_cursor, total: mapping::total_count(&body), records })
    }

    /// Every record matching `filter` (all pages).
    pub async fn find_all(&self, object: &str, filter: &str) -> Result<Vec<Map<String, Json>>, ConnectorError> {
        let mut out = vec![];
        let mut after: Option<String> = None;
        loop {
            let page = self.find_page(object, Some(filter), after.as_deref(), self.config.page_size).await?;
            out.extend(page.records);
            match (page.has_next, page.end_cursor) {
                (true, Some(c)) if Some(&c) != after.as_ref() => after = Some(c),
                _ => return Ok(out),
            }
        }
    }

    pub async fn count(&self, object: &str) -> Result<Option<u64>, ConnectorError> {
        let body = self.send(HttpRequest::get(format!("/rest/{object}")).query("limit", "1").query("depth", "0")).await?;
        Ok(mapping::total_count(&body))
    }

    /// The metadata API's objects (all pages), or an error if this server has none.
    pub async fn metadata_objects(&self) -> Result<Vec<Json>, ConnectorError> {
        let mut out = vec![];
        let mut after: Option<String> = None;
        for _ in 0..20 {
            let mut req = HttpRequest::get("/rest/metadata/objects").query("limit", "1000");
            if let Some(c) = &after {
                req = req.query("starting_after", c.clone());
            }
            let body = self.send(req).await?;
            let objects = match mapping::payload(&body) {
                Some(Json::Array(a)) => a.clone(),
                Some(Json::Object(m)) if m.contains_key("edges") => {
                    m["edges"].as_array().map(|e| e.iter().map(|i| i.get("node").cloned().unwrap_or(Json::Null)).collect()).unwrap_or_default()
                }
                _ => return Err(ConnectorError::Other("the metadata API answered in an unknown shape".into())),
            };
            out.extend(objects);
            match mapping::page_info(&body) {
                (true, Some(c)) if Some(&c) != after.as_ref() => after = Some(c),
                _ => break,
            }
        }
        Ok(out)
    }

    pub async fn create_batch(&self, object: &str, bodies: Vec<Json>) -> Result<Vec<Map<String, Json>>, ConnectorError> {
        let req = HttpRequest::new(Method::POST, format!("/rest/batch/{object}")).json(Json::Array(bodies));
        Ok(mapping::records_in(&self.send(req).await?))
    }

    pub async fn create_one(&self, object: &str, body: Json) -> Result<Map<String, Json>, ConnectorError> {
        let req = HttpRequest::new(Method::POST, format!("/rest/{object}")).json(body);
        one(self.send(req).await?, object)
    }

    pub async fn update_one(&self, object: &str, id: &str, body: Json) -> Result<Map<String, Json>, ConnectorError> {
        let req = HttpRequest::new(Method::PATCH, format!("/rest/{object}/{}", path_id(id)?)).json(body);
        one(self.send(req).await?, object)
    }

    pub async fn soft_delete(&self, object: &str, id: &str) -> Result<Map<String, Json>, ConnectorError> {
        let req = HttpRequest::new(Method::DELETE, format!("/rest/{object}/{}", path_id(id)?)).query("soft_delete", "true");
        let body = self.send(req).await?;
        Ok(mapping::records_in(&body).into_iter().next().unwrap_or_else(|| {
            let mut m = Map::new();
            m.insert("id".into(), Json::String(id.to_string()));
            m
        }))
    }

    fn remember_companies(&self, records: &[Map<String, Json>]) {
        let mut names = self.company_names.lock().unwrap_or_else(|e| e.into_inner());
        for r in records {
            if let (Some(id), Some(name)) = (r.get("id").and_then(Json::as_str), r.get("name").and_then(Json::as_str)) {
                names.insert(id.to_string(), name.to_string());
            }
        }
    }

    pub fn cached_company_name(&self, id: &str) -> Option<String> {
        self.company_names.lock().unwrap_or_else(|e| e.into_inner()).get(id).cloned()
    }

    /// Names of these companies (cached; unknown ids looked up with `id[in]`, 100 per request).
    pub async fn company_names(&self, ids: &[String]) -> Result<HashMap<String, String>, ConnectorError> {
        let missing: Vec<String> = {
            let names = self.company_names.lock().unwrap_or_else(|e| e.into_inner());
            let mut m: Vec<String> = ids.iter().filter(|id| !names.contains_key(*id)).cloned().collect();
            m.sort();
            m.dedup();
            m
        };
        for chunk in missing.chunks(100) {
            self.find_all("companies", &format!("id[in]:[{}]", chunk.join(","))).await?;
        }
        let names = self.company_names.lock().unwrap_or_else(|e| e.into_inner());
        Ok(ids.iter().filter_map(|id| names.get(id).map(|n| (id.clone(), n.clone()))).collect())
    }

    /// The id of the company called `name` (first match, exact name), cached.
    pub async fn company_id_by_name(&self, name: &str) -> Result<Option<String>, ConnectorError> {
        let want = name.trim();
        {
            let names = self.company_names.lock().unwrap_or_else(|e| e.into_inner());
            let mut hits: Vec<&String> = names.iter().filter(|(_, n)| n.trim() == want).map(|(id, _)| id).collect();
            hits.sort();
            if let Some(id) = hits.first() {
                return Ok(Some((*id).clone()));
            }
        }
        let found = self.find_all("companies", &format!("name[eq]:\"{want}\"")).await?;
        Ok(found.iter().find_map(|r| r.get("id").and_then(Json::as_str).map(str::to_string)))
    }
}

fn one(body: Json, object: &str) -> Result<Map<String, Json>, ConnectorError> {
    mapping::records_in(&body).into_iter().next().ok_or_else(|| ConnectorError::Other(format!("Twenty answered a write to {object} without the record")))
}

/// Ids go into the path: refuse anything that could change the path.
fn path_id(id: &str) -> Result<&str, ConnectorError> {
    if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return Err(ConnectorError::Invalid(format!("{id:?} is not a Twenty record id (a UUID)")));
    }
    Ok(id)
}
