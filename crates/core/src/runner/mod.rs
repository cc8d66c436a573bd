//! The runner: one run of one link — read, recover, plan, apply, record.
//!
//! Guarantees:
//! - Every create is journalled before the call; a create whose outcome is unknown (crash,
//!   time-out) is recognised on the next run by its values instead of being made twice.
//! - A pair's base advances only for fields whose writes were confirmed (for a workbook:
//!   after the write-back landed); a failed record leaves its pair as it was, and the
//!   others go on.
//! - Cursors advance only when nothing failed, so no change is skipped by the next
//!   incremental read.
//! - Everything a run did is recorded in one transaction at its end: pairs, cursors,
//!   conflicts, changes and the run's summary.

mod apply;
mod read;
mod report;

use std::sync::Arc;

use crate::config::{ConflictPolicy, Side};
use crate::connector::{Connector, ConnectorError};
use crate::planner::{self, LinkSpec, Plan, PlanInput, Write};
use crate::store::{Store, StoreError};

pub use report::{RunReport, RunStatus, RunSummary};

/// Which writes a run may make.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunMode {
    /// Both ways, as the link says.
    Sync,
    /// Only write to the right side (left → right; e.g. CRM → workbook).
    Pull,
    /// Only write to the left side (right → left; e.g. workbook → CRM).
    Push,
}

impl RunMode {
    pub fn as_str(self) -> &'static str {
        match self {
            RunMode::Sync => "sync",
            RunMode::Pull => "pull",
            RunMode::Push => "push",
        }
    }
    fn writes(self, side: Side) -> bool {
        match self {
            RunMode::Sync => true,
            RunMode::Pull => side == Side::Right,
            RunMode::Push => side == Side::Left,
        }
    }
}

/// How to run.
#[derive(Clone, Debug)]
pub struct RunOptions {
    pub mode: RunMode,
    /// Plan and report, write nothing.
    pub dry_run: bool,
    /// Ignore cursors and read everything.
    pub full: bool,
    /// Let a run delete more than the mass-delete brake allows.
    pub allow_mass_delete: bool,
    /// What started the run (`manual`, `schedule`, `save`, `webhook`).
    pub trigger: String,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions { mode: RunMode::Sync, dry_run: false, full: false, allow_mass_delete: false, trigger: "manual".into() }
    }
}

/// One record of one side: a run limited to it (`crosswalk sync --object Customer --record
/// CUST-00001 --direction cloud-to-local`). The record is read by id, its partner through
/// the stored pair (or the natural key), nothing is read in full and no cursor moves, so the
/// next ordinary run sees every other change as before. Only the writes of this record's
/// pair are made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordSelection {
    /// The side the id is on (the source of a one-way run).
    pub side: Side,
    pub id: String,
}

/// Progress reporting for long runs (a CLI bar, UI events). Calls are cheap and frequent.
pub trait Progress: Send + Sync {
    fn stage(&self, _message: &str) {}
    fn set_total(&self, _total: u64) {}
    fn advance(&self, _n: u64) {}
}

/// Progress that goes nowhere.
pub struct NoProgress;
impl Progress for NoProgress {}

/// A link ready to run: its spec, both connectors and the state store.
pub struct LinkRun<'a> {
    pub spec: &'a LinkSpec,
    pub left: Arc<dyn Connector>,
    pub right: Arc<dyn Connector>,
    pub store: &'a Store,
    /// Connection names, for messages.
    pub left_name: String,
    pub right_name: String,
}

impl LinkRun<'_> {
    pub fn conn(&self, side: Side) -> &dyn Connector {
        match side {
            Side::Left => self.left.as_ref(),
            Side::Right => self.right.as_ref(),
        }
    }
    pub fn conn_name(&self, side: Side) -> &str {
        match side {
            Side::Left => &self.left_name,
            Side::Right => &self.right_name,
        }
    }
    pub fn object(&self, side: Side) -> &str {
        &self.spec.def.endpoint(side).object
    }
}

/// Why a run could not complete. Per-record failures are not errors: they are counted in
/// the report and the run goes on.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("reading {object} from connection {connection} failed: {source}")]
    Read { connection: String, object: String, source: ConnectorError },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl RunError {
    pub fn is_retryable(&self) -> bool {
        matches!(self, RunError::Read { source, .. } if source.is_retryable())
    }
}

/// Runs one link once. Records the run in the store whatever happens.
pub async fn run(link: &LinkRun<'_>, opts: &RunOptions, progress: &dyn Progress) -> Result<RunReport, RunError> {
    run_selected(link, opts, None, progress).await
}

/// Runs one link once, limited to one record when `only` is given (see
/// [`RecordSelection`]). Records the run in the store whatever happens.
pub async fn run_selected(link: &LinkRun<'_>, opts: &RunOptions, only: Option<&RecordSelection>, progress: &dyn Progress) -> Result<RunReport, RunError> {
    let name = link.spec.name.clone();
    let mut mode = if opts.dry_run { format!("{} --dry-run", opts.mode.as_str()) } else { opts.mode.as_str().to_string() };
    if let Some(o) = only {
        mode = format!("{mode} --record {} ({})", o.id, o.side.as_str());
    }
    let run_id = link.store.start_run(&name, &mode, &opts.trigger)?;
    match run_inner(link, opts, only, progress, run_id).await {
        Ok(report) => Ok(report),
        Err(e) => {
            let _ = link.store.finish_run(run_id, "failed", &serde_json::json!({}), Some(&e.to_string()));
            Err(e)
        }
    }
}

async fn run_inner(link: &LinkRun<'_>, opts: &RunOptions, only: Option<&RecordSelection>, progress: &dyn Progress, run_id: i64) -> Result<RunReport, RunError> {
    let name = &link.spec.name;
    let mut summary = RunSummary::default();
    let snaps = match only {
        Some(o) => read::read_selected(link, o, &mut summary).await?,
        None => read::read_sides(link, opts, progress, &mut summary).await?,
    };
    let mut snaps = snaps;
    summary.recovered = read::recover_intents(link, &snaps)?;
    read::fetch_references(link, &mut snaps).await?;

    let pairs = link.store.pairs(name)?;
    let mut pending = link.store.pending_resolutions(name)?;
    // Bug found by the simulation (seed 867, `stale_answer_does_not_overwrite_a_later_edit`):
    // an answer was applied even when a side had changed the field again after the person
    // chose, silently overwriting that later edit. An answer only holds for the values the
    // person saw; if either side moved on, the conflict is asked again with the new values.
    let mut stale = vec![];
    for (id, r) in &pending {
        let Some(i) = link.spec.def.fields.iter().position(|f| f.left == r.field) else { continue };
        let Some(row) = link.store.conflict(*id)? else { continue };
        let moved = |side: Side, rid: &str, seen: &crate::value::Value| {
            snaps.side(side).records.iter().find(|rec| rec.id == rid).is_some_and(|rec| planner::to_link(link.spec, side, i, rec).ok().as_ref() != Some(seen))
        };
        if moved(Side::Left, &r.left_id, &row.conflict.left) || moved(Side::Right, &r.right_id, &row.conflict.right) {
            stale.push(*id);
        }
    }
    for id in &stale {
        link.store.reopen_conflict(*id)?;
    }
    pending.retain(|(id, _)| !stale.contains(id));
    if let Some(o) = only {
        // An answered conflict of another record waits for that record's own run.
        pending.retain(|(_, r)| (if o.side == Side::Left { &r.left_id } else { &r.right_id }) == &o.id);
    }
    let resolutions: Vec<_> = pending.iter().map(|(_, r)| r.clone()).collect();
    let mut spec = link.spec.clone();
    if opts.allow_mass_delete {
        spec.def.mass_delete.max_count = usize::MAX;
        spec.def.mass_delete.max_share = 1.0;
    }
    progress.stage("Planning");
    let mut plan = planner::plan(&PlanInput { spec: &spec, left: &snaps.left, right: &snaps.right, pairs: &pairs, resolutions: &resolutions });
    if let Some(o) = only {
        let selected = |l: &Option<String>, r: &Option<String>| (if o.side == Side::Left { l } else { r }).as_deref() == Some(o.id.as_str());
        plan.pairs.retain(|p| selected(&p.left_id, &p.right_id));
        plan.overwrites.retain(|w| selected(&w.left_id, &w.right_id));
    }
    if restrict_to_mode(&spec, &mut plan, opts.mode) {
        // Bug found by the simulation (seeds 45 and 302, `pull_keeps_the_cursor_of_changes_it_did_not_take`):
        // a pull/push run that dropped writes still advanced both cursors, so the next
        // incremental sync no longer listed the record whose change was held back, took it
        // as unchanged, and overwrote that change with no conflict recorded. Keep the old
        // cursors: the next run reads those changes again.
        snaps.cursors = [None, None];
    }
    summary.note_plan(&plan);

    if plan.has_invalid_input() {
        let message = format!(
            "nothing was written: {} value(s) can't be read. {}",
            plan.warnings.iter().filter(|w| w.invalid_input).count(),
            plan.warnings.iter().filter(|w| w.invalid_input).map(|w| w.message.clone()).take(5).collect::<Vec<_>>().join("; ")
        );
        link.store.finish_run(run_id, "bad_input", &summary.to_json(), Some(&message))?;
        return Ok(RunReport { run_id, link: name.clone(), status: RunStatus::BadInput, summary, plan: Some(plan), message: Some(message) });
    }
    if opts.dry_run {
        link.store.finish_run(run_id, "dry_run", &summary.to_json(), None)?;
        return Ok(RunReport { run_id, link: name.clone(), status: RunStatus::DryRun, summary, plan: Some(plan), message: None });
    }
    for side in [Side::Left, Side::Right] {
        let needs = plan.pairs.iter().any(|p| p.write(side).is_some()) || link.conn(side).capabilities().buffered_writes;
        if !needs {
            continue;
        }
        if let Err(e) = link.conn(side).ready_to_write().await {
            if matches!(e, ConnectorError::Locked(_)) {
                let message = e.to_string();
                summary.waiting_for = Some(message.clone());
                link.store.finish_run(run_id, "waiting", &summary.to_json(), Some(&message))?;
                return Ok(RunReport { run_id, link: name.clone(), status: RunStatus::Waiting, summary, plan: None, message: Some(message) });
            }
            return Err(RunError::Read { connection: link.conn_name(side).to_string(), object: link.object(side).to_string(), source: e });
        }
    }
    apply::record_overwrites(link, &plan, run_id)?;
    let outcome = apply::apply(link, &plan, progress, run_id).await?;
    apply::commit(link, &plan, &outcome, &snaps, pending.iter().map(|(id, _)| *id).collect(), run_id, &mut summary)?;
    let status = if summary.failed.iter().sum::<usize>() > 0 { RunStatus::Partial } else { RunStatus::Ok };
    let message = summary.errors.first().cloned();
    Ok(RunReport { run_id, link: name.clone(), status, summary, plan: None, message })
}

/// Pull and push runs drop writes to the other side; the pair's base then keeps the value
/// that side still has for those fields, so the next two-way sync still carries them.
/// Returns whether any write was dropped.
fn restrict_to_mode(spec: &LinkSpec, plan: &mut Plan, mode: RunMode) -> bool {
    if mode == RunMode::Sync {
        return false;
    }
    let before = plan.pairs.len();
    let mut dropped_any = false;
    plan.pairs.retain(|p| [Side::Left, Side::Right].into_iter().all(|s| mode.writes(s) || !matches!(p.write(s), Some(Write::Create { .. }))));
    for p in &mut plan.pairs {
        for side in [Side::Left, Side::Right] {
            if mode.writes(side) {
                continue;
            }
            let dropped = match side {
                Side::Left => p.left_write.take(),
                Side::Right => p.right_write.take(),
            };
            dropped_any |= dropped.is_some();
            match dropped {
                Some(Write::Delete) => p.forget = false,
                Some(Write::Update { before, .. }) => {
                    let current = apply::link_values(spec, side, &before);
                    let keys = match side {
                        Side::Left => std::mem::take(&mut p.left_keys),
                        Side::Right => std::mem::take(&mut p.right_keys),
                    };
                    for k in keys {
                        let v = p.base.as_ref().and_then(|b| b.get(&k).cloned()).or_else(|| current.get(&k).cloned()).unwrap_or_default();
                        p.merged.insert(k, v);
                    }
                }
                _ => {}
            }
        }
    }
    dropped_any || plan.pairs.len() != before
}

/// Whether a link's conflicts wait for a person.
pub fn asks(spec: &LinkSpec) -> bool {
    spec.def.conflict == ConflictPolicy::Ask
}
