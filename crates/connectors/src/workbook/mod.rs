//! The workbook connector (filled by the workbook issue).
use std::sync::Arc;

use crosswalk_core::Connector;

use crate::{BuildContext, SettingsError};

pub fn build(_name: &str, _settings: &toml::Table, _ctx: &BuildContext) -> Result<Arc<dyn Connector>, SettingsError> {
    Err(SettingsError { key: "kind".into(), message: "the workbook connector is not built yet".into() })
}
