//! Siagh's transport: `LoginUser` with the MD5-hashed password → `SessionId`, sent raw as
//! `Authorization`; a call refused because the session ended logs in again once. Siagh's
//! answers carry `Errors[]` with an `ErrorType` and a Persian `Description`: those are
//! shown as they are, after an English summary of the error type.

use crosswalk_core::md5::md5_hex_upper;
use crosswalk_core::{ConnectorError, Secret};
use serde_json::{json, Map, Value as Json};
use tokio::sync::Mutex;

use super::config::SiaghConfig;
use crate::http::{HttpClient, HttpRequest, RetryPolicy};

/// What `LoginUser` told us besides the session.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SiaghLogin {
    pub user_name: String,
    pub fiscal_year: Option<i64>,
    /// `SystemDate`, Jalali (`1404/09/04`).
    pub system_date: Option<String>,
    pub branch_name: Option<String>,
}

#[derive(Debug, Clone)]
struct Session {
    http: HttpClient,
    info: SiaghLogin,
}

/// Talks to one Siagh server as one user.
#[derive(Debug)]
pub struct SiaghClient {
    pub config: SiaghConfig,
    password: Secret,
    anon: HttpClient,
    session: Mutex<Option<Session>>,
}

/// English words for Siagh's `ErrorType` values (`ErrError`, `ErrSuccs`, …). Types not
/// seen in API_FACTS are guessed from their names [UNSURE].
pub fn error_type_summary(t: &str) -> &'static str {
    match t.trim().to_ascii_lowercase().as_str() {
        "errsuccs" | "errsuccess" => "success",
        "errerror" | "error" => "error",
        "errwarning" | "errwarn" => "warning",
        "errinfo" | "errinformation" => "information",
        "errquestion" | "errconfirm" => "needs confirmation",
        _ => "unrecognised message type",
    }
}

/// The failure messages of an answer's `Errors[]` (every type but success), each as
/// `"<English summary> (<ErrorType>[, code <ErrorCode>]): <Persian Description>"`.
pub fn failures(answer: &Json) -> Vec<String> {
    let errors = answer.get("Errors").or_else(|| answer.get("errors")).and_then(Json::as_array).cloned().unwrap_or_default();
    errors
        .iter()
        .filter_map(|e| {
            let t = e.get("ErrorType").and_then(Json::as_str).unwrap_or("");
            let summary = error_type_summary(t);
            if summary == "success" || summary == "information" {
                return None;
            }
            let code = e.get("ErrorCode").map(|c| c.as_str().map(str::to_string).unwrap_or_else(|| c.to_string())).filter(|c| !c.is_empty() && c != "null");
            let desc = e.get("Description").and_then(Json::as_str).unwrap_or("(no description)");
            Some(format!("{summary} ({t}{}): {desc}", code.map(|c| format!(", code {c}")).unwrap_or_default()))
        })
        .collect()
}

/// Whether Siagh's words say the session ended (Persian "نشست"/"جلسه" = session,
/// "منقضی" = expired, "مجددا وارد" = log in again; English fallbacks). [UNSURE: the exact
/// wording is undocumented, so a 401 counts too.]
pub fn says_session_ended(text: &str) -> bool {
    let t = text.to_lowercase();
    ["نشست", "جلسه", "منقضی", "مجددا وارد", "دوباره وارد", "session", "login again"].iter().any(|k| t.contains(k))
}

/// Maps a failed HTTP answer, keeping Siagh's Persian descriptions.
fn map_error(status: u16, retry_after: Option<u64>, body: &str, what: &str) -> ConnectorError {
    let said = serde_json::from_str::<Json>(body).ok().map(|j| failures(&j)).filter(|f| !f.is_empty()).map(|f| f.join("; "));
    match (status, said) {
        (401, Some(s)) => ConnectorError::Auth(format!("Siagh refused the session (HTTP 401) for {what}: {s}")),
        (400 | 422 | 409, Some(s)) => ConnectorError::Invalid(format!("Siagh refused {what}: {s}")),
        (404, Some(s)) => ConnectorError::NotFound(format!("{what}: {s}")),
        _ => crate::http::map_status(status, retry_after, body, what),
    }
}

impl SiaghClient {
    pub fn new(config: SiaghConfig, password: Secret) -> Result<Self, ConnectorError> {
        let anon = Self::builder(&config).build()?;
        Ok(SiaghClient { config, password, anon, session: Mutex::new(None) })
    }

    fn builder(config: &SiaghConfig) -> crate::http::HttpClientBuilder {
        HttpClient::builder(&config.url).timeout(config.timeout).retry(RetryPolicy { max_attempts: config.max_attempts, ..RetryPolicy::default() }).error_mapper(map_error)
    }

    async fn login(&self) -> Result<Session, ConnectorError> {
        let body = json!({"UserName": self.config.username, "Password": md5_hex_upper(self.password.expose())});
        let a = self.anon.send(&HttpRequest::new(reqwest::Method::POST, self.config.login_path.clone()).json(body)).await.map_err(|e| match e {
            ConnectorError::Auth(m) | ConnectorError::Invalid(m) | ConnectorError::NotFound(m) => ConnectorError::Auth(format!("Siagh at {} refused the login of {:?} — check the username, the password (`crosswalk login`) and the login_path setting. {m}", self.config.url, self.config.username)),
            e => e,
        })?;
        let session = a.get("SessionId").and_then(Json::as_str).filter(|s| !s.trim().is_empty());
        let Some(session) = session else {
            let f = failures(&a);
            let said = if f.is_empty() { "it answered without a SessionId".to_string() } else { f.join("; ") };
            return Err(ConnectorError::Auth(format!("Siagh at {} refused the login of {:?} — check the username and the password: {said}", self.config.url, self.config.username)));
        };
        let info = SiaghLogin {
            user_name: a.get("UserName").and_then(Json::as_str).unwrap_or(&self.config.username).to_string(),
            fiscal_year: a.get("FiscalYear").and_then(|v| v.as_i64().or_else(|| v.as_str().and_then(|s| crate::jalali::to_ascii_digits(s).trim().parse().ok()))),
            system_date: a.get("SystemDate").and_then(Json::as_str).map(crate::jalali::to_ascii_digits),
            branch_name: a.get("BranchName").and_then(Json::as_str).map(str::to_string),
        };
        tracing::debug!(user = %info.user_name, "Logged in to Siagh");
        // The raw SessionId, no scheme: API_FACTS §6.2 stresses SessionId, not Token.
        let http = Self::builder(&self.config).authorization(Secret::new(session)).build()?;
        Ok(Session { http, info })
    }

    async fn session(&self, force: bool) -> Result<Session, ConnectorError> {
        let mut guard = self.session.lock().await;
        match guard.as_ref() {
            Some(s) if !force => Ok(s.clone()),
            _ => {
                let s = self.login().await?;
                *guard = Some(s.clone());
                Ok(s)
            }
        }
    }

    /// What the current session's login said (logs in when there is none).
    pub async fn login_info(&self) -> Result<SiaghLogin, ConnectorError> {
        Ok(self.session(false).await?.info)
    }

    /// POSTs `body` to `path`. A refusal that says the session ended (401, or an
    /// `Errors[]` entry saying so on HTTP 200) logs in again and sends once more.
    pub async fn post(&self, path: &str, body: Json) -> Result<Json, ConnectorError> {
        let req = HttpRequest::new(reqwest::Method::POST, path.to_string()).json(body);
        let s = self.session(false).await?;
        let first = s.http.send(&req).await;
        let ended = match &first {
            Err(ConnectorError::Auth(_)) => true,
            Ok(a) => failures(a).iter().any(|f| says_session_ended(f)),
            Err(_) => false,
        };
        if !ended {
            return first;
        }
        tracing::debug!("Siagh session ended; logging in again");
        self.session(true).await?.http.send(&req).await
    }

    /// `SaveFormData`: the form's new code (`ReturnCode`) or the refusal with Siagh's words.
    pub async fn save_form(&self, form_id: &str, ctrl_values: &str, data_rows: &Json) -> Result<SavedForm, ConnectorError> {
        let body = json!({
            "formId": form_id,
            "ctrlValues": ctrl_values,
            "parameters": "",
            "dataRows": data_rows.to_string(),
            "attachments": "[]",
            "postCode": self.config.post_code,
            "flowId": "",
        });
        let a = self.post(&self.config.save_form_path, body).await?;
        let f = failures(&a);
        let ok = a.get("ReturnValue").and_then(Json::as_bool).unwrap_or(f.is_empty());
        if !ok || !f.is_empty() {
            let said = if f.is_empty() { "ReturnValue was false and no message was given".to_string() } else { f.join("; ") };
            return Err(ConnectorError::Invalid(format!("Siagh refused to save form {form_id}: {said}")));
        }
        let code = a.get("ReturnCode").map(|c| c.as_str().map(str::to_string).unwrap_or_else(|| c.to_string())).unwrap_or_default();
        Ok(SavedForm { code, params: a.get("ReturnParams").and_then(Json::as_str).unwrap_or("").to_string(), answer: a.as_object().cloned().unwrap_or_default() })
    }
}

/// A saved form: `ReturnCode` (the new record's code) and `ReturnParams`.
#[derive(Debug, Clone)]
pub struct SavedForm {
    pub code: String,
    pub params: String,
    pub answer: Map<String, Json>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn persian_errors_keep_their_words_after_an_english_summary() {
        let a = json!({"Errors": [{"ErrorType": "ErrSuccs", "Description": "ok"}, {"ErrorType": "ErrError", "ErrorCode": "1203", "Description": "کد مشتری تکراری است"}]});
        assert_eq!(failures(&a), vec!["error (ErrError, code 1203): کد مشتری تکراری است".to_string()], "success lines are dropped, errors keep Siagh's Persian words");
        assert!(says_session_ended("نشست کاربر منقضی شده است"), "Persian 'session expired'");
        assert!(!says_session_ended("کد مشتری تکراری است"), "a duplicate code is not a session end");
    }
}
