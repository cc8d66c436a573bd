//! Zoho WorkDrive (API_FACTS §3.6): find a folder by name inside a team folder, upload a
//! file into it.
//!
//! - Finding: list the parent's child folders (`GET /files/{id}/files?filter[type]=folder`,
//!   JSON:API `data[].attributes.name`, paged with `page[limit]`/`page[offset]` [RECALL])
//!   and match names locally (case-insensitive, trimmed): WorkDrive's search matches words,
//!   not whole names. Never creates a folder.
//! - Uploading: `POST /upload` as `multipart/form-data` with `parent_id`, `filename`,
//!   `override-name-exist=false` and the file part `content` [RECALL for the part name].
//!   Whether `false` makes WorkDrive refuse a taken name (409, [DOC] status list) or keep
//!   both with its own timestamp [3P] is [UNSURE]; we handle the 409: the file goes up
//!   again as `name_YYYYMMDD_HHMMSS.ext` (our duplicate-name policy).

use chrono::{DateTime, Utc};
use crosswalk_core::ConnectorError;
use reqwest::Method;
use serde_json::{Map, Value as Json};

use super::client::{Api, Body, ZohoClient};

/// A file or folder in WorkDrive.
#[derive(Clone, Debug, PartialEq)]
pub struct WdItem {
    pub id: String,
    pub name: String,
    /// Milliseconds since the epoch, when WorkDrive says.
    pub modified_ms: Option<i64>,
}

fn item(v: &Map<String, Json>) -> Option<WdItem> {
    let attrs = v.get("attributes").and_then(Json::as_object);
    let get = |k: &str| attrs.and_then(|a| a.get(k)).or_else(|| v.get(k));
    let id = v.get("id").and_then(Json::as_str).or_else(|| get("resource_id").and_then(Json::as_str))?.to_string();
    let name = get("name").or_else(|| get("FileName")).and_then(Json::as_str).unwrap_or_default().to_string();
    let modified_ms = get("modified_time_in_millisecond").and_then(|v| v.as_i64().or_else(|| v.as_str().and_then(|s| s.parse().ok())));
    Some(WdItem { id, name, modified_ms })
}

/// WorkDrive's page size for listing children.
pub const PAGE_LIMIT: usize = 50;

impl ZohoClient {
    /// Every child folder of `folder_id`.
    pub async fn child_folders(&self, folder_id: &str) -> Result<Vec<WdItem>, ConnectorError> {
        let mut out = vec![];
        let mut offset = 0usize;
        loop {
            let q = vec![
                ("filter[type]".to_string(), "folder".to_string()),
                ("page[limit]".to_string(), PAGE_LIMIT.to_string()),
                ("page[offset]".to_string(), offset.to_string()),
            ];
            let a = self.call(Api::WorkDrive, Method::GET, &format!("/files/{folder_id}/files"), &q, &[("Accept", "application/vnd.api+json".into())], &Body::None).await?;
            let j = a.json()?;
            let items: Vec<WdItem> = j.get("data").and_then(Json::as_array).map(|a| a.iter().filter_map(|v| v.as_object().and_then(item)).collect()).unwrap_or_default();
            let n = items.len();
            out.extend(items);
            if n < PAGE_LIMIT {
                break;
            }
            offset += n;
        }
        Ok(out)
    }

    /// Uploads `bytes` as `filename` into `parent_id`. A taken name is a
    /// [`ConnectorError::Conflict`].
    pub async fn upload(&self, parent_id: &str, filename: &str, bytes: &[u8]) -> Result<WdItem, ConnectorError> {
        let boundary = format!("crosswalk-{}", super::oauth::random_token(12));
        let body = multipart(&boundary, &[("parent_id", parent_id), ("filename", filename), ("override-name-exist", "false")], filename, bytes);
        let a = self.call(Api::WorkDrive, Method::POST, "/upload", &[], &[], &Body::Multipart { boundary, bytes: body }).await?;
        let j = a.json()?;
        let first = j.get("data").and_then(Json::as_array).and_then(|a| a.first()).and_then(Json::as_object).cloned().unwrap_or_default();
        Ok(item(&first).unwrap_or(WdItem { id: String::new(), name: filename.to_string(), modified_ms: None }))
    }

    /// Uploads, and on a name collision uploads again as `name_YYYYMMDD_HHMMSS.ext`.
    pub async fn upload_keeping_both(&self, parent_id: &str, filename: &str, bytes: &[u8], now: DateTime<Utc>) -> Result<WdItem, ConnectorError> {
        match self.upload(parent_id, filename, bytes).await {
            Err(ConnectorError::Conflict(_)) => {
                let renamed = timestamped_name(filename, now);
                tracing::info!(file = filename, renamed = %renamed, "A file of that name is already in the folder; uploading under a timestamped name");
                self.upload(parent_id, &renamed, bytes).await
            }
            other => other,
        }
    }
}

/// The folder named `name` (trimmed, case-insensitive) among `items`; the most recently
/// modified one when several match.
pub fn find_by_name<'a>(items: &'a [WdItem], name: &str) -> Option<&'a WdItem> {
    let want = name.trim().to_lowercase();
    items.iter().filter(|i| i.name.trim().to_lowercase() == want).max_by_key(|i| i.modified_ms.unwrap_or(i64::MIN))
}

/// `report.pdf` → `report_20260102_030405.pdf` (no extension: `name_…`).
pub fn timestamped_name(filename: &str, now: DateTime<Utc>) -> String {
    let stamp = now.format("%Y%m%d_%H%M%S");
    match filename.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() && !ext.is_empty() && !ext.contains(' ') => format!("{stem}_{stamp}.{ext}"),
        _ => format!("{filename}_{stamp}"),
    }
}

/// A `multipart/form-data` body: text fields, then the file as part `content`.
pub fn multipart(boundary: &str, fields: &[(&str, &str)], filename: &str, bytes: &[u8]) -> Vec<u8> {
    let mut b = Vec::with_capacity(bytes.len() + 512);
    for (k, v) in fields {
        b.extend_from_slice(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n").as_bytes());
    }
    let safe: String = filename.chars().map(|c| if c == '"' || c == '\r' || c == '\n' { '_' } else { c }).collect();
    b.extend_from_slice(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"content\"; filename=\"{safe}\"\r\nContent-Type: application/octet-stream\r\n\r\n").as_bytes());
    b.extend_from_slice(bytes);
    b.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    b
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn duplicate_names_get_a_timestamp_before_the_extension() {
        let t = Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap();
        assert_eq!(timestamped_name("report.pdf", t), "report_20260102_030405.pdf");
        assert_eq!(timestamped_name("archive.tar.gz", t), "archive.tar_20260102_030405.gz");
        assert_eq!(timestamped_name("README", t), "README_20260102_030405", "no extension: the stamp goes at the end");
        assert_eq!(timestamped_name(".env", t), ".env_20260102_030405", "a dot file has no extension");
    }

    #[test]
    fn folder_match_is_case_insensitive_exact_and_newest_wins() {
        let items = vec![
            WdItem { id: "1".into(), name: "Acme Deal".into(), modified_ms: Some(1) },
            WdItem { id: "2".into(), name: "acme deal ".into(), modified_ms: Some(5) },
            WdItem { id: "3".into(), name: "Acme Deal 2".into(), modified_ms: Some(9) },
        ];
        assert_eq!(find_by_name(&items, "ACME DEAL").map(|i| i.id.as_str()), Some("2"), "case-insensitive, exact, the newest of several");
        assert!(find_by_name(&items, "Acme").is_none(), "a prefix is not a match");
    }
}
