//! The one error shape both front ends receive: a stable code and a plain message.

use serde::{Deserialize, Serialize};

/// What kind of failure, for exit codes and the UI.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The config file is wrong (exit code 2).
    BadConfig,
    /// Input data can't be used (exit code 2).
    BadInput,
    /// A secret is missing or was rejected.
    Auth,
    /// A system can't be reached or keeps failing.
    Unavailable,
    /// A workbook is open elsewhere.
    Locked,
    NotFound,
    Internal,
}

/// `{code, message}`: messages say what was wrong with which input and what to do next.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{message}")]
pub struct AppError {
    pub code: ErrorCode,
    pub message: String,
}

impl AppError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        AppError { code, message: message.into() }
    }
    pub fn bad_config(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::BadConfig, message)
    }
    /// CLI exit code: 2 for bad input or config, 1 otherwise.
    pub fn exit_code(&self) -> i32 {
        match self.code {
            ErrorCode::BadConfig | ErrorCode::BadInput => 2,
            _ => 1,
        }
    }
}

impl From<crosswalk_core::ConnectorError> for AppError {
    fn from(e: crosswalk_core::ConnectorError) -> Self {
        use crosswalk_core::ConnectorError as C;
        let code = match &e {
            C::Auth(_) => ErrorCode::Auth,
            C::RateLimited { .. } | C::Unavailable(_) => ErrorCode::Unavailable,
            C::Locked(_) => ErrorCode::Locked,
            C::NotFound(_) => ErrorCode::NotFound,
            C::Invalid(_) => ErrorCode::BadInput,
            _ => ErrorCode::Internal,
        };
        AppError::new(code, e.to_string())
    }
}

impl From<crosswalk_core::store::StoreError> for AppError {
    fn from(e: crosswalk_core::store::StoreError) -> Self {
        let code = match &e {
            crosswalk_core::store::StoreError::NotFound(_) => ErrorCode::NotFound,
            _ => ErrorCode::Internal,
        };
        AppError::new(code, e.to_string())
    }
}

impl From<crosswalk_core::runner::RunError> for AppError {
    fn from(e: crosswalk_core::runner::RunError) -> Self {
        match e {
            crosswalk_core::runner::RunError::Read { ref source, .. } => {
                let code = AppError::from(source.clone()).code;
                AppError::new(code, e.to_string())
            }
            crosswalk_core::runner::RunError::Store(s) => s.into(),
        }
    }
}

impl From<crosswalk_core::ConfigError> for AppError {
    fn from(e: crosswalk_core::ConfigError) -> Self {
        AppError::bad_config(e.to_string())
    }
}
