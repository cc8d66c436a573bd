//! The Records API (API_FACTS §3.3, §3.5): Get Records with `fields` split into groups of
//! at most 50 and merged by id, `per_page` 200 and `page_token` past 2,000 records,
//! increments by `If-Modified-Since`; search by criteria with a local exact filter;
//! writes of at most 100 records with a result per record; attachments.

use crosswalk_core::ConnectorError;
use reqwest::Method;
use serde_json::{json, Map, Value as Json};

use super::client::{Api, Attachment, Body, PageCursor, RecordsPage, ZohoClient};

impl ZohoClient {
    pub(super) async fn crm_json(&self, method: Method, path: &str, query: &[(String, String)], headers: &[(&str, String)], body: &Body) -> Result<Json, ConnectorError> {
        self.call(Api::Crm, method, path, query, headers, body).await?.json()
    }

    /// Groups of at most `max_fields_per_call` fields, each including `id`.
    pub fn field_groups(&self, fields: &[String]) -> Vec<Vec<String>> {
        let rest: Vec<String> = fields.iter().filter(|f| f.as_str() != "id").cloned().collect();
        let per = self.config.max_fields_per_call.saturating_sub(1).max(1);
        let mut groups: Vec<Vec<String>> = rest.chunks(per).map(|c| std::iter::once("id".to_string()).chain(c.iter().cloned()).collect()).collect();
        if groups.is_empty() {
            groups.push(vec!["id".to_string()]);
        }
        groups
    }

    /// One page of Get Records with every field in `fields` (split into calls of at most
    /// 50 fields and merged by id). `modified_since` sends `If-Modified-Since` and sorts by
    /// `Modified_Time` ascending.
    pub async fn records_page(&self, module: &str, fields: &[String], cursor: &PageCursor, modified_since: Option<&str>) -> Result<(RecordsPage, PageCursor), ConnectorError> {
        let groups = self.field_groups(fields);
        let mut q = vec![("fields".to_string(), groups[0].join(",")), ("per_page".to_string(), self.config.per_page.to_string())];
        match &cursor.token {
            Some(t) => q.push(("page_token".into(), t.clone())),
            None => q.push(("page".into(), cursor.page.max(1).to_string())),
        }
        let mut headers = vec![];
        if let Some(since) = modified_since {
            q.push(("sort_by".into(), "Modified_Time".into()));
            q.push(("sort_order".into(), "asc".into()));
            headers.push(("If-Modified-Since", overlap(since)));
        } else {
            q.push(("sort_by".into(), "id".into()));
            q.push(("sort_order".into(), "asc".into()));
        }
        let j = self.crm_json(Method::GET, &format!("/{module}"), &q, &headers, &Body::None).await?;
        let mut page = parse_page(&j);
        if groups.len() > 1 && !page.data.is_empty() {
            let ids: Vec<String> = page.data.iter().filter_map(|r| id_of(r)).collect();
            for g in &groups[1..] {
                for r in self.by_ids(module, &ids, g).await? {
                    if let Some(id) = id_of(&r) {
                        if let Some(target) = page.data.iter_mut().find(|d| id_of(d).as_deref() == Some(id.as_str())) {
                            target.extend(r);
                        }
                    }
                }
            }
        }
        // `page` reaches only the first 2,000 records; past them Zoho pages by token.
        let next_page = cursor.page.max(1) + 1;
        let next = if cursor.token.is_some() || (next_page as usize - 1) * self.config.per_page >= self.config.page_limit_records {
            PageCursor { page: next_page, token: page.next_page_token.clone() }
        } else {
            PageCursor { page: next_page, token: None }
        };
        if page.more && next.token.is_none() && (next_page as usize - 1) * self.config.per_page >= self.config.page_limit_records {
            return Err(ConnectorError::Other(format!("Zoho gave no next_page_token past record {} of {module}; use API version v3 or later", self.config.page_limit_records)));
        }
        page.more = page.more && !page.data.is_empty();
        Ok((page, next))
    }

    /// Records by id with `fields` (at most 50), `ids_per_call` ids per call.
    pub async fn by_ids(&self, module: &str, ids: &[String], fields: &[String]) -> Result<Vec<Map<String, Json>>, ConnectorError> {
        let mut out = vec![];
        for chunk in ids.chunks(self.config.ids_per_call) {
            let q = vec![("ids".to_string(), chunk.join(",")), ("fields".to_string(), fields.join(","))];
            let j = self.crm_json(Method::GET, &format!("/{module}"), &q, &[], &Body::None).await?;
            out.extend(parse_page(&j).data);
        }
        Ok(out)
    }

    /// Records by id with every field in `fields` (split into groups and merged).
    pub async fn get_records(&self, module: &str, ids: &[String], fields: &[String]) -> Result<Vec<Map<String, Json>>, ConnectorError> {
        let groups = self.field_groups(fields);
        let mut out = self.by_ids(module, ids, &groups[0]).await?;
        for g in &groups[1..] {
            for r in self.by_ids(module, ids, g).await? {
                if let Some(target) = out.iter_mut().find(|d| id_of(d) == id_of(&r)) {
                    target.extend(r);
                }
            }
        }
        Ok(out)
    }

    /// Search by `field equals value`, then keep only exact matches locally (Zoho's
    /// `equals` can match words of a longer value, API_FACTS §3.3). `case_insensitive`
    /// compares trimmed, case-folded texts.
    pub async fn search_exact(&self, module: &str, field: &str, value: &str, fields: &[String], case_insensitive: bool) -> Result<Vec<Map<String, Json>>, ConnectorError> {
        let criteria = format!("({field}:equals:{})", escape_criteria(value.trim()));
        let want = norm(value, case_insensitive);
        let groups = self.field_groups(fields);
        let mut out = vec![];
        let mut page = 1u32;
        loop {
            // `fields` on search is accepted by newer API versions [RECALL]; without it Zoho
            // returns every field, which the local filter tolerates too.
            let q = vec![
                ("criteria".to_string(), criteria.clone()),
                ("fields".to_string(), groups[0].join(",")),
                ("page".to_string(), page.to_string()),
                ("per_page".to_string(), self.config.per_page.to_string()),
            ];
            let j = self.crm_json(Method::GET, &format!("/{module}/search"), &q, &[], &Body::None).await?;
            let p = parse_page(&j);
            let n = p.data.len();
            out.extend(p.data.into_iter().filter(|r| r.get(field).map(|v| norm(&text_of(v), case_insensitive) == want).unwrap_or(false)));
            // Search returns at most 2,000 records [RECALL/UNSURE].
            if !p.more || n == 0 || page as usize * self.config.per_page >= 2000 {
                break;
            }
            page += 1;
        }
        if groups.len() > 1 && !out.is_empty() {
            let ids: Vec<String> = out.iter().filter_map(|r| id_of(r)).collect();
            for g in &groups[1..] {
                for r in self.by_ids(module, &ids, g).await? {
                    if let Some(target) = out.iter_mut().find(|d| id_of(d) == id_of(&r)) {
                        target.extend(r);
                    }
                }
            }
        }
        Ok(out)
    }

    /// Updates records (`{"id", …fields}`), at most `max_batch` per call; one result per
    /// record in input order (`details` of each success).
    pub async fn update(&self, module: &str, records: Vec<Map<String, Json>>) -> Result<Vec<Result<Map<String, Json>, ConnectorError>>, ConnectorError> {
        self.write(Method::PUT, module, records).await
    }

    /// Inserts records, at most `max_batch` per call; one result per record.
    pub async fn insert(&self, module: &str, records: Vec<Map<String, Json>>) -> Result<Vec<Result<Map<String, Json>, ConnectorError>>, ConnectorError> {
        self.write(Method::POST, module, records).await
    }

    async fn write(&self, method: Method, module: &str, records: Vec<Map<String, Json>>) -> Result<Vec<Result<Map<String, Json>, ConnectorError>>, ConnectorError> {
        let mut out = Vec::with_capacity(records.len());
        for chunk in records.chunks(self.config.max_batch) {
            let body = Body::Json(json!({ "data": chunk }));
            let j = self.crm_json(method.clone(), &format!("/{module}"), &[], &[], &body).await?;
            out.extend(per_record_results(&j, chunk.len()));
        }
        Ok(out)
    }

    /// Deletes records by id (to Zoho's recycle bin); one result per id.
    pub async fn delete(&self, module: &str, ids: &[String]) -> Result<Vec<Result<Map<String, Json>, ConnectorError>>, ConnectorError> {
        let mut out = vec![];
        for chunk in ids.chunks(self.config.max_batch) {
            let q = vec![("ids".to_string(), chunk.join(","))];
            let j = self.crm_json(Method::DELETE, &format!("/{module}"), &q, &[], &Body::None).await?;
            out.extend(per_record_results(&j, chunk.len()));
        }
        Ok(out)
    }

    /// The attachments of a record (every page).
    pub async fn attachments(&self, module: &str, record_id: &str) -> Result<Vec<Attachment>, ConnectorError> {
        let mut out = vec![];
        let mut page = 1u32;
        loop {
            let q = vec![
                ("fields".to_string(), "id,File_Name,Size,Created_Time,Modified_Time".to_string()),
                ("page".to_string(), page.to_string()),
                ("per_page".to_string(), self.config.per_page.to_string()),
            ];
            let j = self.crm_json(Method::GET, &format!("/{module}/{record_id}/Attachments"), &q, &[], &Body::None).await?;
            let p = parse_page(&j);
            let n = p.data.len();
            for a in p.data {
                let Some(id) = id_of(&a) else { continue };
                out.push(Attachment { id, file_name: a.get("File_Name").map(text_of).unwrap_or_else(|| "attachment".into()), size: a.get("Size").and_then(|v| v.as_u64().or_else(|| v.as_str().and_then(|s| s.parse().ok()))) });
            }
            if !p.more || n == 0 {
                break;
            }
            page += 1;
        }
        Ok(out)
    }

    /// The bytes of one attachment.
    pub async fn download_attachment(&self, module: &str, record_id: &str, attachment_id: &str) -> Result<Vec<u8>, ConnectorError> {
        Ok(self.call(Api::Crm, Method::GET, &format!("/{module}/{record_id}/Attachments/{attachment_id}"), &[], &[], &Body::None).await?.bytes)
    }

    /// Field API names and types of a module (`/settings/fields?module=`).
    pub async fn module_fields(&self, module: &str) -> Result<Vec<Map<String, Json>>, ConnectorError> {
        let j = self.crm_json(Method::GET, "/settings/fields", &[("module".into(), module.to_string())], &[], &Body::None).await?;
        Ok(j.get("fields").and_then(Json::as_array).map(|a| a.iter().filter_map(|f| f.as_object().cloned()).collect()).unwrap_or_default())
    }

    /// The signed-in user (`/users?type=CurrentUser`).
    pub async fn current_user(&self) -> Result<Map<String, Json>, ConnectorError> {
        let j = self.crm_json(Method::GET, "/users", &[("type".into(), "CurrentUser".into())], &[], &Body::None).await?;
        Ok(j.get("users").and_then(Json::as_array).and_then(|a| a.first()).and_then(Json::as_object).cloned().unwrap_or_default())
    }
}

/// The cursor one second earlier, in its own offset: `If-Modified-Since` means "after", and
/// a record changed in the cursor's own second after our read must not be missed (the
/// planner makes the repeated boundary records harmless).
pub fn overlap(since: &str) -> String {
    match chrono::DateTime::parse_from_rfc3339(since.trim()) {
        Ok(t) => (t - chrono::Duration::seconds(1)).format("%Y-%m-%dT%H:%M:%S%:z").to_string(),
        Err(_) => since.trim().to_string(),
    }
}

/// `data` + `info` of a list answer; 204 (null) is an empty last page.
pub fn parse_page(j: &Json) -> RecordsPage {
    let data = j.get("data").and_then(Json::as_array).map(|a| a.iter().filter_map(|v| v.as_object().cloned()).collect()).unwrap_or_default();
    let info = j.get("info");
    RecordsPage {
        data,
        more: info.and_then(|i| i.get("more_records")).and_then(Json::as_bool).unwrap_or(false),
        next_page_token: info.and_then(|i| i.get("next_page_token")).and_then(Json::as_str).filter(|s| !s.is_empty()).map(str::to_string),
    }
}

/// Per-record results of a write answer, aligned with the request (`status` of each).
pub fn per_record_results(j: &Json, n: usize) -> Vec<Result<Map<String, Json>, ConnectorError>> {
    let items = j.get("data").and_then(Json::as_array).cloned().unwrap_or_default();
    (0..n)
        .map(|i| match items.get(i) {
            Some(it) if it.get("status").and_then(Json::as_str) == Some("success") => Ok(it.get("details").and_then(Json::as_object).cloned().unwrap_or_default()),
            Some(it) => {
                let code = it.get("code").and_then(Json::as_str).unwrap_or("ERROR");
                let msg = it.get("message").and_then(Json::as_str).unwrap_or("");
                let details = it.get("details").map(|d| d.to_string()).unwrap_or_default();
                let text = format!("Zoho refused the record: {code} {msg} {details}").trim().to_string();
                Err(match code {
                    "INVALID_DATA" | "MANDATORY_NOT_FOUND" | "DUPLICATE_DATA" => ConnectorError::Invalid(text),
                    "ID_ALREADY_DELETED" | "INVALID_ID" => ConnectorError::NotFound(text),
                    "RECORD_LOCKED" => ConnectorError::Conflict(text),
                    _ => ConnectorError::Other(text),
                })
            }
            None => Err(ConnectorError::Other("Zoho's answer had no result for this record".into())),
        })
        .collect()
}

/// A record's id as text (Zoho ids are 19-digit strings).
pub fn id_of(r: &Map<String, Json>) -> Option<String> {
    r.get("id").map(text_of).filter(|s| !s.is_empty())
}

/// A JSON value as plain text (strings unquoted; lookups by their `name`).
pub fn text_of(v: &Json) -> String {
    match v {
        Json::String(s) => s.clone(),
        Json::Null => String::new(),
        Json::Object(m) => m.get("name").map(text_of).unwrap_or_else(|| v.to_string()),
        other => other.to_string(),
    }
}

fn norm(s: &str, case_insensitive: bool) -> String {
    let t = s.trim();
    if case_insensitive {
        t.to_lowercase()
    } else {
        t.to_string()
    }
}

/// Escapes `(`, `)`, `,` and `\` in a criteria value with a backslash (API_FACTS §3.3).
pub fn escape_criteria(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        if matches!(c, '(' | ')' | ',' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn increments_overlap_by_a_second_in_zohos_format() {
        assert_eq!(overlap("2019-07-25T15:26:49+05:30"), "2019-07-25T15:26:48+05:30", "one second back, same offset");
        assert_eq!(overlap("garbage"), "garbage", "an unknown text is passed as it is");
    }

    #[test]
    fn criteria_values_are_escaped() {
        assert_eq!(escape_criteria("Acme (EU), Ltd"), "Acme \\(EU\\)\\, Ltd", "brackets and commas would end the criteria");
    }

    #[test]
    fn per_record_results_follow_request_order() {
        let j = json!({"data": [
            {"code": "SUCCESS", "status": "success", "details": {"id": "1"}},
            {"code": "INVALID_DATA", "status": "error", "message": "invalid data", "details": {"api_name": "Email"}}
        ]});
        let r = per_record_results(&j, 3);
        assert!(r[0].is_ok(), "the first record succeeded");
        assert!(matches!(&r[1], Err(ConnectorError::Invalid(m)) if m.contains("Email")), "the second names its field: {:?}", r[1]);
        assert!(r[2].is_err(), "a missing result is a failure, never a silent success");
        assert!(parse_page(&Json::Null).data.is_empty() && !parse_page(&Json::Null).more, "204 is an empty last page");
    }
}
