//! Frappe's error answers (API_FACTS §2.5, §9) decoded into [`ConnectorError`]s whose
//! messages are plain text a user can act on.
//!
//! A v1 error body carries `exc_type` (the exception class), `exception`
//! (`"frappe.exceptions.X: message"`), `exc` (a traceback, ignored) and `_server_messages`:
//! a JSON *string* holding a list of JSON *strings*, each an object with `message` (HTML).
//! v2 bodies carry `errors`/`messages` lists of objects instead.

use crosswalk_core::ConnectorError;
use serde_json::Value as Json;

/// What an error body said.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FrappeErrorBody {
    /// `TimestampMismatchError`, `DuplicateEntryError`, … (module path stripped).
    pub exc_type: Option<String>,
    /// Plain-text messages, HTML stripped, in order.
    pub messages: Vec<String>,
}

/// Decodes an error body (tolerant: any of the known keys, or plain text).
pub fn decode_error_body(body: &str) -> FrappeErrorBody {
    let mut out = FrappeErrorBody::default();
    let Ok(j) = serde_json::from_str::<Json>(body.trim()) else {
        let t = strip_html(body);
        if !t.is_empty() {
            out.messages.push(t);
        }
        return out;
    };
    let exception = j.get("exception").and_then(Json::as_str).unwrap_or_default();
    let exc_type = j.get("exc_type").and_then(Json::as_str).map(str::to_string).or_else(|| {
        let head = exception.split(':').next().unwrap_or_default().trim();
        (!head.is_empty() && !head.contains(' ')).then(|| head.to_string())
    });
    out.exc_type = exc_type.map(|t| t.rsplit('.').next().unwrap_or(&t).to_string());
    // `_server_messages`: a string of a list of strings of objects — decode twice.
    if let Some(sm) = j.get("_server_messages").and_then(Json::as_str) {
        if let Ok(Json::Array(items)) = serde_json::from_str::<Json>(sm) {
            for item in items {
                let inner = match &item {
                    Json::String(s) => serde_json::from_str::<Json>(s).unwrap_or(Json::String(s.clone())),
                    other => other.clone(),
                };
                push_message(&mut out.messages, &inner);
            }
        }
    }
    for key in ["messages", "errors"] {
        if let Some(Json::Array(items)) = j.get(key) {
            for item in items {
                push_message(&mut out.messages, item);
            }
        }
    }
    if out.messages.is_empty() {
        if let Some(m) = j.get("_error_message").and_then(Json::as_str).or_else(|| j.get("message").and_then(Json::as_str)) {
            push_message(&mut out.messages, &Json::String(m.to_string()));
        }
    }
    if out.messages.is_empty() && !exception.is_empty() {
        let text = exception.split_once(':').map(|(_, m)| m).unwrap_or(exception);
        push_message(&mut out.messages, &Json::String(text.to_string()));
    }
    out
}

fn push_message(out: &mut Vec<String>, item: &Json) {
    let text = match item {
        Json::String(s) => strip_html(s),
        Json::Object(o) => o.get("message").map(|m| m.as_str().map(strip_html).unwrap_or_else(|| m.to_string())).unwrap_or_default(),
        other => other.to_string(),
    };
    if !text.is_empty() && !out.contains(&text) {
        out.push(text);
    }
}

/// Drops tags and decodes the common entities: `<b>Customer</b> &amp; Co` → `Customer & Co`.
pub fn strip_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut in_tag = false;
    for c in s.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                out.push(' ');
            }
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    let out = out.replace("&nbsp;", " ").replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&#39;", "'").replace("&amp;", "&");
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Maps a failed Frappe answer (the [`crate::http::ErrorMapper`] of Frappe clients).
pub fn map_frappe_error(status: u16, retry_after_secs: Option<u64>, body: &str, what: &str) -> ConnectorError {
    let b = decode_error_body(body);
    let said = b.messages.join("; ");
    let exc = b.exc_type.clone().unwrap_or_default();
    let tagged = |fallback: &str| {
        let m = if said.is_empty() { fallback.to_string() } else { said.clone() };
        if exc.is_empty() { m } else { format!("{m} ({exc})") }
    };
    match (status, exc.as_str()) {
        (_, "TimestampMismatchError") => ConnectorError::Conflict(format!("{what}: {}", tagged("the document was changed on the site since it was read"))),
        (_, "RateLimitExceededError") | (429, _) => ConnectorError::RateLimited { retry_after_secs },
        (401, _) | (_, "AuthenticationError") => ConnectorError::Auth(format!(
            "the site rejected the API key or secret (HTTP 401) for {what}; generate new keys under User → Settings → API Access and log in again"
        )),
        (403, _) => ConnectorError::Auth(format!(
            "not permitted (HTTP 403) for {what}: {} — without a valid Authorization header Frappe treats the request as Guest; otherwise give the API user's role access to this DocType",
            tagged("PermissionError")
        )),
        (400, t) if t.starts_with("InvalidAuthorization") || t == "CSRFTokenError" => {
            ConnectorError::Auth(format!("the Authorization header was refused (HTTP 400, {t}) for {what}; the secret must be `api_key:api_secret`"))
        }
        (404, _) => ConnectorError::NotFound(format!("{what}: {}", tagged("does not exist"))),
        (409, _) => ConnectorError::Invalid(format!("{what}: {}", tagged("a document with this name already exists"))),
        (417, _) | (400, _) | (415, _) | (422, _) => ConnectorError::Invalid(format!("{what}: {}", tagged(&format!("the site refused it (HTTP {status})")))),
        (500..=599, _) => ConnectorError::Unavailable(format!("the site had an error (HTTP {status}) answering {what}{}; try again later", if said.is_empty() { String::new() } else { format!(": {said}") })),
        _ => ConnectorError::Other(format!("unexpected HTTP {status} from {what}: {}", tagged(""))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_messages_are_decoded_twice_and_stripped() {
        let inner = serde_json::json!({"message": "Row #1: <b>Item</b> X &amp; Y not found", "title": "Message", "indicator": "red"}).to_string();
        let sm = serde_json::to_string(&vec![inner]).unwrap();
        let body = serde_json::json!({"exc_type": "LinkValidationError", "exception": "frappe.exceptions.LinkValidationError: Could not find Item", "_server_messages": sm}).to_string();
        let e = map_frappe_error(417, None, &body, "POST /api/resource/Sales Order");
        assert_eq!(e.code(), "invalid", "a 417 validation error is the record's fault");
        assert!(e.to_string().contains("Row #1: Item X & Y not found (LinkValidationError)"), "plain text with the exception class: {e}");
    }

    #[test]
    fn statuses_and_exceptions_map_to_what_callers_branch_on() {
        let ts = r#"{"exc_type":"TimestampMismatchError","exception":"frappe.exceptions.TimestampMismatchError: Document has been modified after you have opened it"}"#;
        assert_eq!(map_frappe_error(417, None, ts, "PUT x").code(), "conflict", "optimistic locking is a conflict, not a failure");
        assert_eq!(map_frappe_error(403, None, "{}", "GET x").code(), "auth");
        assert_eq!(map_frappe_error(401, None, "{}", "GET x").code(), "auth");
        assert_eq!(map_frappe_error(404, None, r#"{"exc_type":"DoesNotExistError"}"#, "GET x").code(), "not_found");
        assert_eq!(map_frappe_error(409, None, r#"{"exc_type":"DuplicateEntryError"}"#, "POST x").code(), "invalid");
        assert_eq!(map_frappe_error(429, Some(3), "Too Many Requests", "GET x"), ConnectorError::RateLimited { retry_after_secs: Some(3) });
        assert_eq!(map_frappe_error(502, None, "", "GET x").code(), "unavailable");
        let e = map_frappe_error(417, None, r#"{"exception":"frappe.exceptions.MandatoryError: customer_name"}"#, "POST x");
        assert!(e.to_string().contains("customer_name (MandatoryError)"), "the class is read from `exception` when exc_type is absent: {e}");
    }
}
