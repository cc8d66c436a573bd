//! The event bus: what the desktop UI and the tray listen to.

use serde::{Deserialize, Serialize};

use crate::error::AppError;
use crosswalk_core::runner::RunReport;

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AppEvent {
    RunStarted { link: String, trigger: String },
    RunProgress { link: String, stage: String, done: u64, total: u64 },
    RunFinished { report: RunReport },
    RunFailed { link: String, error: AppError },
    /// New `ask` conflicts wait for a person (the shell raises a notification).
    ConflictsWaiting { link: String, count: usize },
    /// A workbook save or webhook was seen (for the activity view).
    TriggerSeen { link: String, trigger: String },
}
