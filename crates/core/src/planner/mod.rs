//! The planner: a pure function from (left records, right records, pairs with bases, link)
//! to an ordered plan of writes plus the conflicts and overwrites it decided.
//!
//! Rules:
//! - Direction of a change comes from comparing each side with the pair's **base** (the
//!   values both sides agreed on after the last sync), never from clocks.
//! - A field changed on one side is copied across; changed on both to the same value is
//!   fine; changed on both differently is a conflict on that field only, settled by the
//!   link's policy. `newest_wins` compares updated-at times and falls back to the link's
//!   `tie_break` side; every loser is listed in [`Plan::overwrites`].
//! - Unpaired records are matched by the id field, then by the natural key, before anything
//!   is created, so a first sync links existing records instead of duplicating them.
//! - Output order never depends on input order.

mod fields;
mod merge;
mod matching;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::config::Side;
use crate::connector::Record;
use crate::value::{Fields, Value};

pub use fields::{from_link, record_to_link, to_link, LinkSpec};

/// What one side looks like this run.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    pub records: Vec<Record>,
    /// A full listing: a paired record missing from it was deleted. An incremental listing
    /// is not complete: a missing record is unchanged.
    pub complete: bool,
}

/// A pair the link matched earlier, with its base.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PairState {
    pub left_id: String,
    pub right_id: String,
    /// Link-space values both sides agreed on after the last sync, by base key.
    pub base: Fields,
    /// A side whose record was deleted while the deletion policy kept the partner.
    pub gone: Option<Side>,
}

/// A person's answer to an `ask` conflict: the value the field should have on both sides,
/// or for a deletion conflict, `Value::Bool(true)` to accept it and `false` to restore.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Resolution {
    pub left_id: String,
    pub right_id: String,
    /// Base key of the field, or `""` for a deletion conflict.
    pub field: String,
    pub value: Value,
}

/// Everything the planner looks at.
#[derive(Clone, Debug)]
pub struct PlanInput<'a> {
    pub spec: &'a LinkSpec,
    pub left: &'a Snapshot,
    pub right: &'a Snapshot,
    pub pairs: &'a [PairState],
    pub resolutions: &'a [Resolution],
}

/// A write to one side.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Write {
    /// Create a record with these fields (side's names). For new pairs only.
    Create { fields: Fields },
    /// Set these fields (side's names); `before` holds the values they replace.
    Update { fields: Fields, before: Fields },
    Delete,
}

/// The plan for one pair (existing or about to exist).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PairPlan {
    /// `None`: the record is created on that side by this plan.
    pub left_id: Option<String>,
    pub right_id: Option<String>,
    /// The base before this run (`None` for a pair matched or created now).
    pub base: Option<Fields>,
    /// The link-space values both sides will hold once every write is confirmed.
    pub merged: Fields,
    /// Base keys each side's write carries (a field's base advances only when every write
    /// carrying it is confirmed).
    pub left_keys: Vec<String>,
    pub right_keys: Vec<String>,
    pub left_write: Option<Write>,
    pub right_write: Option<Write>,
    /// Remove the pair once the writes are done (deleted on both sides).
    pub forget: bool,
    /// Set the pair's `gone` marker (deletion kept on one side by policy).
    pub gone: Option<Side>,
    /// After creating on this side, store the new id into the other side's id field.
    pub write_back_id: Option<(Side, String)>,
}

impl PairPlan {
    pub fn write(&self, side: Side) -> Option<&Write> {
        match side {
            Side::Left => self.left_write.as_ref(),
            Side::Right => self.right_write.as_ref(),
        }
    }
    pub fn id(&self, side: Side) -> Option<&str> {
        match side {
            Side::Left => self.left_id.as_deref(),
            Side::Right => self.right_id.as_deref(),
        }
    }
    pub fn keys(&self, side: Side) -> &[String] {
        match side {
            Side::Left => &self.left_keys,
            Side::Right => &self.right_keys,
        }
    }
    pub fn has_writes(&self) -> bool {
        self.left_write.is_some() || self.right_write.is_some()
    }
}

/// What kind of conflict a person must settle.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConflictKind {
    /// The same field changed differently on both sides.
    Field,
    /// The record was deleted on this side and the policy is `ask`.
    Deleted(Side),
}

/// A parked `ask` conflict: both sides stay as they are until someone decides.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Conflict {
    pub left_id: String,
    pub right_id: String,
    /// Base key (`""` for a deletion).
    pub field: String,
    pub kind: ConflictKind,
    pub base: Value,
    pub left: Value,
    pub right: Value,
}

/// A conflict the policy settled: the loser's value is kept here for the run log.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Overwrite {
    pub left_id: Option<String>,
    pub right_id: Option<String>,
    pub field: String,
    pub winner: Side,
    pub kept: Value,
    pub lost: Value,
    /// Why the winner won ("newest_wins: left changed at …", "left_wins", "tie → left").
    pub reason: String,
}

/// Something the planner skipped, with the reason in plain words.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Warning {
    pub side: Option<Side>,
    pub record_id: Option<String>,
    pub field: Option<String>,
    pub message: String,
    /// A value that couldn't be read as its type: the run must stop before writing.
    pub invalid_input: bool,
}

/// Deletions the mass-delete brake held back.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HeldDeletes {
    pub side: Side,
    pub count: usize,
    pub total: usize,
}

/// The planner's output.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub pairs: Vec<PairPlan>,
    pub conflicts: Vec<Conflict>,
    pub overwrites: Vec<Overwrite>,
    pub warnings: Vec<Warning>,
    pub held_deletes: Vec<HeldDeletes>,
}

/// Counts of writes per side and kind.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanCounts {
    pub create: [usize; 2],
    pub update: [usize; 2],
    pub delete: [usize; 2],
}

impl Plan {
    /// Whether applying the plan writes anything on either side.
    pub fn is_quiet(&self) -> bool {
        !self.pairs.iter().any(PairPlan::has_writes)
    }

    pub fn counts(&self) -> PlanCounts {
        let mut c = PlanCounts::default();
        for p in &self.pairs {
            for (i, w) in [&p.left_write, &p.right_write].into_iter().enumerate() {
                match w {
                    Some(Write::Create { .. }) => c.create[i] += 1,
                    Some(Write::Update { .. }) => c.update[i] += 1,
                    Some(Write::Delete) => c.delete[i] += 1,
                    None => {}
                }
            }
        }
        c
    }

    pub fn has_invalid_input(&self) -> bool {
        self.warnings.iter().any(|w| w.invalid_input)
    }
}

/// Records of one side by id, with the times used by `newest_wins`.
pub(crate) struct SideView<'a> {
    pub by_id: HashMap<&'a str, &'a Record>,
    pub complete: bool,
}

impl<'a> SideView<'a> {
    fn new(s: &'a Snapshot) -> Self {
        SideView { by_id: s.records.iter().map(|r| (r.id.as_str(), r)).collect(), complete: s.complete }
    }
    pub fn updated_at(&self, id: &str) -> Option<DateTime<Utc>> {
        self.by_id.get(id).and_then(|r| r.updated_at)
    }
}

/// Plans one run of one link. Pure: no I/O, no clock, deterministic.
pub fn plan(input: &PlanInput<'_>) -> Plan {
    let left = SideView::new(input.left);
    let right = SideView::new(input.right);
    let mut plan = Plan::default();
    let pairs: Vec<&PairState> = {
        let mut p: Vec<&PairState> = input.pairs.iter().collect();
        p.sort_by(|a, b| (&a.left_id, &a.right_id).cmp(&(&b.left_id, &b.right_id)));
        p
    };
    let resolutions: BTreeMap<(&str, &str, &str), &Value> =
        input.resolutions.iter().map(|r| ((r.left_id.as_str(), r.right_id.as_str(), r.field.as_str()), &r.value)).collect();

    for pair in &pairs {
        let from = plan.pairs.len();
        merge::plan_pair(input.spec, pair, &left, &right, &resolutions, &mut plan);
        merge::repair_id_field(input.spec, pair, &left, &right, &mut plan, from);
    }
    matching::plan_unpaired(input.spec, &pairs, &left, &right, &mut plan);

    brake_mass_deletes(input, &pairs, &mut plan);
    plan.pairs.sort_by(|a, b| (&a.left_id, &a.right_id).cmp(&(&b.left_id, &b.right_id)));
    plan.conflicts.sort_by(|a, b| (&a.left_id, &a.right_id, &a.field).cmp(&(&b.left_id, &b.right_id, &b.field)));
    plan.overwrites.sort_by(|a, b| (&a.left_id, &a.right_id, &a.field).cmp(&(&b.left_id, &b.right_id, &b.field)));
    plan.warnings.sort_by(|a, b| (&a.record_id, &a.field, &a.message).cmp(&(&b.record_id, &b.field, &b.message)));
    plan
}

fn brake_mass_deletes(input: &PlanInput<'_>, pairs: &[&PairState], plan: &mut Plan) {
    let total = pairs.len();
    for side in [Side::Left, Side::Right] {
        let count = plan.pairs.iter().filter(|p| matches!(p.write(side), Some(Write::Delete))).count();
        if count > 0 && input.spec.def.mass_delete.trips(count, total) {
            plan.pairs.retain(|p| !matches!(p.write(side), Some(Write::Delete)));
            plan.held_deletes.push(HeldDeletes { side, count, total });
        }
    }
}
