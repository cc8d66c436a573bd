//! HTTP status → [`ConnectorError`], with the server's own words where it gave some.

use crosswalk_core::ConnectorError;

/// The human message in an error body: `messages[]` (Twenty, NestJS), `message`, `error`,
/// `exception` (Frappe) or the plain text, shortened. Never the request (which could carry
/// a secret), only what the server said.
pub fn server_message(body: &str) -> Option<String> {
    let body = body.trim();
    if body.is_empty() {
        return None;
    }
    let text = match serde_json::from_str::<serde_json::Value>(body) {
        Ok(j) => {
            let from_messages = j.get("messages").and_then(|m| m.as_array()).map(|a| {
                a.iter().map(|m| m.as_str().map(str::to_string).unwrap_or_else(|| m.to_string())).collect::<Vec<_>>().join("; ")
            });
            from_messages
                .filter(|s| !s.is_empty())
                .or_else(|| j.get("message").map(|m| m.as_str().map(str::to_string).unwrap_or_else(|| m.to_string())))
                .or_else(|| j.get("exception").and_then(|m| m.as_str()).map(str::to_string))
                .or_else(|| j.get("error").and_then(|m| m.as_str()).map(str::to_string))
                .unwrap_or_else(|| body.to_string())
        }
        Err(_) => body.to_string(),
    };
    let mut text = text.trim().to_string();
    if text.chars().count() > 300 {
        text = text.chars().take(300).collect::<String>() + "…";
    }
    Some(text)
}

/// Maps a failed response to an error. `what` names the request in plain words
/// (`GET https://x/rest/companies`), never with a secret in it.
pub fn map_status(status: u16, retry_after_secs: Option<u64>, body: &str, what: &str) -> ConnectorError {
    let said = server_message(body);
    let suffix = said.as_deref().map(|s| format!(": {s}")).unwrap_or_default();
    match status {
        401 => ConnectorError::Auth(format!("the server rejected the credentials (HTTP 401) for {what}")),
        403 => ConnectorError::Auth(format!("the credentials are not allowed to do this (HTTP 403) for {what}{suffix}")),
        404 => ConnectorError::NotFound(format!("{what} (HTTP 404){suffix}")),
        409 => ConnectorError::Conflict(format!("{what}{suffix}")),
        400 | 422 => ConnectorError::Invalid(said.unwrap_or_else(|| format!("the server refused {what} (HTTP {status})"))),
        429 => ConnectorError::RateLimited { retry_after_secs },
        500..=599 => ConnectorError::Unavailable(format!("the server had an error (HTTP {status}) answering {what}{suffix}; try again later")),
        _ => ConnectorError::Other(format!("unexpected HTTP {status} from {what}{suffix}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_to_what_callers_branch_on() {
        let cases: &[(u16, &str)] = &[(401, "auth"), (403, "auth"), (404, "not_found"), (400, "invalid"), (422, "invalid"), (429, "rate_limited"), (500, "unavailable"), (503, "unavailable"), (418, "other")];
        for (status, code) in cases {
            assert_eq!(map_status(*status, None, "", "GET u").code(), *code, "HTTP {status} must map to {code}");
        }
        assert_eq!(
            map_status(400, None, r#"{"statusCode":400,"messages":["name is required"],"error":"BadRequestException"}"#, "x"),
            ConnectorError::Invalid("name is required".into()),
            "a 400 carries the server's own message"
        );
        assert!(map_status(502, None, "", "GET http://h/rest/x").to_string().contains("http://h/rest/x"), "5xx names the URL");
    }
}
