//! What a run reports: counts per side, conflicts, losers, warnings, errors.

use serde::{Deserialize, Serialize};

use crate::planner::{HeldDeletes, Plan};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Everything planned was written.
    Ok,
    /// Some records failed; the rest were written. See `summary.errors`.
    Partial,
    /// Nothing written: a workbook is open elsewhere; the changes wait for the next run.
    Waiting,
    /// Nothing written: some values can't be read (see `summary.warnings`).
    BadInput,
    /// Planned only.
    DryRun,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Ok => "ok",
            RunStatus::Partial => "partial",
            RunStatus::Waiting => "waiting",
            RunStatus::BadInput => "bad_input",
            RunStatus::DryRun => "dry_run",
        }
    }
    /// Whether the caller's request fully succeeded (CLI exit code 0).
    pub fn succeeded(self) -> bool {
        matches!(self, RunStatus::Ok | RunStatus::DryRun)
    }
}

/// Counts are `[left, right]`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RunSummary {
    pub read: [usize; 2],
    pub created: [usize; 2],
    pub updated: [usize; 2],
    pub deleted: [usize; 2],
    pub failed: [usize; 2],
    /// Planned writes (for dry runs and previews).
    pub planned_create: [usize; 2],
    pub planned_update: [usize; 2],
    pub planned_delete: [usize; 2],
    pub conflicts_open: usize,
    pub conflicts_new: usize,
    pub conflicts_resolved: usize,
    pub overwrites: usize,
    pub recovered: usize,
    pub held_deletes: Vec<HeldDeletes>,
    pub warnings: Vec<String>,
    /// The first record errors, in plain words.
    pub errors: Vec<String>,
    pub waiting_for: Option<String>,
}

impl RunSummary {
    pub fn note_plan(&mut self, plan: &Plan) {
        let c = plan.counts();
        self.planned_create = c.create;
        self.planned_update = c.update;
        self.planned_delete = c.delete;
        self.conflicts_open = plan.conflicts.len();
        self.overwrites = plan.overwrites.len();
        self.held_deletes = plan.held_deletes.clone();
        self.warnings = plan.warnings.iter().map(|w| w.message.clone()).collect();
    }

    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }

    pub fn writes(&self) -> usize {
        self.created.iter().chain(&self.updated).chain(&self.deleted).sum()
    }

    /// One line for logs and the CLI: "left: 2 created, 1 updated · right: …".
    pub fn one_line(&self, left: &str, right: &str) -> String {
        let side = |i: usize| {
            format!(
                "{} created, {} updated, {} deleted{}",
                self.created[i],
                self.updated[i],
                self.deleted[i],
                if self.failed[i] > 0 { format!(", {} failed", self.failed[i]) } else { String::new() }
            )
        };
        let mut s = format!("{left}: {} · {right}: {}", side(0), side(1));
        if self.conflicts_open > 0 {
            s.push_str(&format!(" · {} conflict(s) waiting", self.conflicts_open));
        }
        s
    }
}

/// The result of one run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunReport {
    pub run_id: i64,
    pub link: String,
    pub status: RunStatus,
    pub summary: RunSummary,
    /// The plan, for dry runs and bad input.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan: Option<Plan>,
    pub message: Option<String>,
}
