//! Frappe's v1 REST endpoints (API_FACTS §2.1, §9): token auth, DocType metadata, the
//! site's time zone, listing with filters/order/offset, documents with child tables, and
//! writes. Answers are `{"data": …}` (resources) or `{"message": …}` (methods).

use std::collections::HashMap;
use std::sync::Mutex;

use crosswalk_core::{ConnectorError, Secret};
use reqwest::Method;
use serde_json::{Map, Value as Json};

use super::config::FrappeConfig;
use super::errors::map_frappe_error;
use super::mapping::DocMeta;
use crate::http::{HttpClient, HttpRequest, RateLimit, RetryPolicy};

/// The ordering every incremental listing uses; cursors are only valid with it.
pub const ORDER_BY: &str = "modified asc, name asc";

/// Zone Frappe stamps times in when System Settings has none (observed on v15, §9).
pub const FRESH_SITE_TIME_ZONE: &str = "Asia/Kolkata";

/// A Frappe site over REST.
#[derive(Debug)]
pub struct FrappeClient {
    http: HttpClient,
    /// No API key could be found: every request answers Auth with what to do.
    missing_key: bool,
    pub config: FrappeConfig,
    connection: String,
    metas: Mutex<HashMap<String, DocMeta>>,
    time_zone: Mutex<Option<(String, jiff::tz::TimeZone)>>,
}

/// Percent-encodes one path segment (DocType names have spaces, names may have `/`).
pub fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn resource(doctype: &str) -> String {
    format!("/api/resource/{}", encode_segment(doctype))
}

fn doc_path(doctype: &str, name: &str) -> String {
    format!("/api/resource/{}/{}", encode_segment(doctype), encode_segment(name))
}

fn data_object(body: Json, what: &str) -> Result<Map<String, Json>, ConnectorError> {
    match body.get("data").cloned().unwrap_or(body) {
        Json::Object(m) => Ok(m),
        other => Err(ConnectorError::Other(format!("{what} answered {other} where a document was expected; is the URL a Frappe site?"))),
    }
}

impl FrappeClient {
    pub fn new(connection: &str, config: FrappeConfig, api_key: &str, api_secret: &Secret) -> Result<Self, ConnectorError> {
        let mut b = HttpClient::builder(&config.url)
            .timeout(config.timeout)
            .retry(RetryPolicy { max_attempts: config.max_attempts, ..RetryPolicy::default() })
            .rate_limit(RateLimit::new(config.requests_per_minute, std::time::Duration::from_secs(60)))
            .authorization(Secret::new(format!("token {api_key}:{}", api_secret.expose())))
            .error_mapper(map_frappe_error);
        if let Some(site) = &config.site_name {
            b = b.header("X-Frappe-Site-Name", site);
        }
        Ok(FrappeClient { missing_key: api_key.is_empty(), http: b.build()?, config, connection: connection.to_string(), metas: Mutex::new(HashMap::new()), time_zone: Mutex::new(None) })
    }

    pub async fn send(&self, req: HttpRequest) -> Result<Json, ConnectorError> {
        if self.missing_key {
            return Err(ConnectorError::Auth(format!(
                "connection {}: the stored secret must be `api_key:api_secret` (User → Settings → API Access → Generate Keys); run `crosswalk login {}`",
                self.connection, self.connection
            )));
        }
        self.http.send(&req).await.map_err(|e| match e {
            ConnectorError::Auth(m) => ConnectorError::Auth(format!("connection {}: {m}", self.connection)),
            other => other,
        })
    }

    /// The signed-in user (`frappe.auth.get_logged_user`).
    pub async fn logged_user(&self) -> Result<String, ConnectorError> {
        let body = self.send(HttpRequest::get("/api/method/frappe.auth.get_logged_user")).await?;
        Ok(body.get("message").and_then(Json::as_str).unwrap_or_default().to_string())
    }

    /// The site's time zone: the `time_zone` setting, else System Settings `time_zone`,
    /// else (an empty setting on a fresh site) Asia/Kolkata. Cached.
    pub async fn time_zone(&self) -> Result<(String, jiff::tz::TimeZone), ConnectorError> {
        if let Some(tz) = self.time_zone.lock().unwrap_or_else(|e| e.into_inner()).clone() {
            return Ok(tz);
        }
        let name = match &self.config.time_zone {
            Some(n) => n.clone(),
            None => {
                let what = "System Settings";
                let body = self.send(HttpRequest::get(doc_path("System Settings", "System Settings"))).await.map_err(|e| match e {
                    ConnectorError::Auth(m) => ConnectorError::Auth(format!("{m}. Reading the site's time zone needs read access to System Settings; or set time_zone in the connection's settings")),
                    other => other,
                })?;
                let doc = data_object(body, what)?;
                doc.get("time_zone").and_then(Json::as_str).map(str::trim).filter(|s| !s.is_empty()).unwrap_or(FRESH_SITE_TIME_ZONE).to_string()
            }
        };
        let tz = jiff::tz::TimeZone::get(&name).map_err(|e| ConnectorError::Invalid(format!("the site's time zone {name:?} is unknown here ({e}); set time_zone in the connection's settings")))?;
        *self.time_zone.lock().unwrap_or_else(|e| e.into_inner()) = Some((name.clone(), tz.clone()));
        Ok((name, tz))
    }

    /// A DocType's metadata (cached): `GET /api/resource/DocType/{name}`, falling back to
    /// `frappe.desk.form.load.getdoctype` when the user may not read DocType records.
    pub async fn meta(&self, doctype: &str) -> Result<DocMeta, ConnectorError> {
        if let Some(m) = self.metas.lock().unwrap_or_else(|e| e.into_inner()).get(doctype) {
            return Ok(m.clone());
        }
        let meta = match self.send(HttpRequest::get(doc_path("DocType", doctype))).await {
            Ok(body) => DocMeta::from_json(body.get("data").unwrap_or(&body)),
            Err(ConnectorError::Auth(_)) | Err(ConnectorError::NotFound(_)) => {
                // [UNSURE] getdoctype answers {"docs": [parent, child DocTypes…]} in v14/v15.
                let body = self.send(HttpRequest::get("/api/method/frappe.desk.form.load.getdoctype").query("doctype", doctype)).await?;
                let docs = body.get("docs").and_then(Json::as_array).cloned().unwrap_or_default();
                let metas: Vec<DocMeta> = docs.iter().filter_map(DocMeta::from_json).collect();
                let mut cache = self.metas.lock().unwrap_or_else(|e| e.into_inner());
                for m in &metas {
                    cache.insert(m.name.clone(), m.clone());
                }
                metas.into_iter().find(|m| m.name == doctype)
            }
            Err(e) => return Err(e),
        };
        let meta = meta.ok_or_else(|| ConnectorError::NotFound(format!("DocType {doctype:?} is not on the site {}", self.config.url)))?;
        self.metas.lock().unwrap_or_else(|e| e.into_inner()).insert(doctype.to_string(), meta.clone());
        Ok(meta)
    }

    /// One page of a listing (parent columns only).
    pub async fn list(&self, doctype: &str, fields: &[&str], filters: &Json, order_by: &str, start: u64, length: u32) -> Result<Vec<Map<String, Json>>, ConnectorError> {
        let req = HttpRequest::get(resource(doctype))
            .query("fields", Json::from(fields.to_vec()).to_string())
            .query("filters", filters.to_string())
            .query("order_by", order_by)
            .query("limit_start", start.to_string())
            .query("limit_page_length", length.to_string());
        let body = self.send(req).await?;
        Ok(body.get("data").and_then(Json::as_array).map(|a| a.iter().filter_map(|r| r.as_object().cloned()).collect()).unwrap_or_default())
    }

    /// One document with its child tables; `None` when it does not exist.
    pub async fn get(&self, doctype: &str, name: &str) -> Result<Option<Map<String, Json>>, ConnectorError> {
        match self.send(HttpRequest::get(doc_path(doctype, name))).await {
            Ok(body) => data_object(body, &format!("GET {doctype} {name}")).map(Some),
            Err(ConnectorError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `POST /api/resource/{doctype}` (200 on v15, 201 elsewhere — both fine).
    pub async fn insert(&self, doctype: &str, body: Map<String, Json>) -> Result<Map<String, Json>, ConnectorError> {
        let what = format!("POST {doctype}");
        data_object(self.send(HttpRequest::new(Method::POST, resource(doctype)).json(Json::Object(body))).await?, &what)
    }

    /// `PUT /api/resource/{doctype}/{name}`: partial body; `modified` in it enables the
    /// optimistic lock.
    pub async fn update(&self, doctype: &str, name: &str, body: Map<String, Json>) -> Result<Map<String, Json>, ConnectorError> {
        let what = format!("PUT {doctype} {name}");
        data_object(self.send(HttpRequest::new(Method::PUT, doc_path(doctype, name)).json(Json::Object(body))).await?, &what)
    }

    /// `DELETE /api/resource/{doctype}/{name}` (202 `{"data":"ok"}`).
    pub async fn delete(&self, doctype: &str, name: &str) -> Result<(), ConnectorError> {
        self.send(HttpRequest::new(Method::DELETE, doc_path(doctype, name))).await.map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_are_encoded() {
        assert_eq!(encode_segment("Sales Order"), "Sales%20Order", "DocType names with spaces (API_FACTS §2.1)");
        assert_eq!(encode_segment("A/B 1"), "A%2FB%201", "document names may contain a slash");
    }
}
