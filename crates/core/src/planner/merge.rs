//! Field-level three-way merge of one pair against its base.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::{from_link, record_to_link, Conflict, ConflictKind, LinkSpec, Overwrite, PairPlan, PairState, Plan, SideView, Warning, Write};
use crate::config::{ConflictPolicy, DeletePolicy, Direction, Side};
use crate::connector::Record;
use crate::value::{Fields, Value};

pub(crate) type Resolutions<'a> = BTreeMap<(&'a str, &'a str, &'a str), &'a Value>;

/// Ids and clocks of the two records being merged.
pub(crate) struct MergeCtx<'a> {
    pub left_id: Option<&'a str>,
    pub right_id: Option<&'a str>,
    pub left_time: Option<DateTime<Utc>>,
    pub right_time: Option<DateTime<Utc>>,
}

/// The merged values and which base keys must be written to each side.
pub(crate) struct Merged {
    pub values: Fields,
    pub left_keys: Vec<String>,
    pub right_keys: Vec<String>,
}

fn field_direction(spec: &LinkSpec, i: usize) -> Direction {
    spec.def.fields[i].direction.unwrap_or(spec.def.direction)
}

/// Who wins a field changed differently on both sides, and why; `None` parks it (`ask`).
fn settle(spec: &LinkSpec, dir: Direction, ctx: &MergeCtx<'_>) -> Option<(Side, String)> {
    match dir {
        Direction::LeftToRight => return Some((Side::Left, "one-way link: left is the source".into())),
        Direction::RightToLeft => return Some((Side::Right, "one-way link: right is the source".into())),
        Direction::TwoWay => {}
    }
    let tie = spec.def.tie_break;
    match spec.def.conflict {
        ConflictPolicy::LeftWins => Some((Side::Left, "left_wins".into())),
        ConflictPolicy::RightWins => Some((Side::Right, "right_wins".into())),
        ConflictPolicy::Ask => None,
        ConflictPolicy::NewestWins => Some(match (ctx.left_time, ctx.right_time) {
            (Some(l), Some(r)) if l > r => (Side::Left, format!("newest_wins: left changed at {l}, right at {r}")),
            (Some(l), Some(r)) if r > l => (Side::Right, format!("newest_wins: right changed at {r}, left at {l}")),
            (Some(_), Some(_)) => (tie, format!("newest_wins: same time, tie goes to {tie}")),
            _ => (tie, format!("newest_wins: a time is unknown, tie goes to {tie}")),
        }),
    }
}

/// Three-way merge of every mapped field. `base == None` for a pair matched just now.
pub(crate) fn merge_fields(
    spec: &LinkSpec,
    base: Option<&Fields>,
    lv: &Fields,
    rv: &Fields,
    ctx: &MergeCtx<'_>,
    resolutions: &Resolutions<'_>,
    plan: &mut Plan,
) -> Merged {
    let mut m = Merged { values: Fields::new(), left_keys: vec![], right_keys: vec![] };
    for i in 0..spec.def.fields.len() {
        let key = spec.key(i).to_string();
        let l = lv.get(&key).cloned().unwrap_or_default();
        let r = rv.get(&key).cloned().unwrap_or_default();
        let b = base.map(|b| b.get(&key).cloned().unwrap_or_default());
        let dir = field_direction(spec, i);
        let (lc, rc) = match &b {
            Some(b) => (&l != b, &r != b),
            // No base: a side that is blank has nothing to say.
            None => (!l.is_null(), !r.is_null()),
        };
        let resting = b.clone().unwrap_or(Value::Null);
        let value = match (lc, rc) {
            _ if l == r => l.clone(),
            (false, false) => resting,
            (true, false) => {
                if dir.allows_from(Side::Left) {
                    m.right_keys.push(key.clone());
                    l.clone()
                } else {
                    skipped_one_way(spec, i, Side::Left, ctx, &l, b.is_some(), plan);
                    b.clone().unwrap_or(r.clone())
                }
            }
            (false, true) => {
                if dir.allows_from(Side::Right) {
                    m.left_keys.push(key.clone());
                    r.clone()
                } else {
                    skipped_one_way(spec, i, Side::Right, ctx, &r, b.is_some(), plan);
                    b.clone().unwrap_or(l.clone())
                }
            }
            (true, true) => {
                let lid = ctx.left_id.unwrap_or_default();
                let rid = ctx.right_id.unwrap_or_default();
                if let Some(v) = resolutions.get(&(lid, rid, key.as_str())).filter(|_| spec.def.conflict == ConflictPolicy::Ask && dir == Direction::TwoWay) {
                    if **v != l {
                        m.left_keys.push(key.clone());
                    }
                    if **v != r {
                        m.right_keys.push(key.clone());
                    }
                    (*v).clone()
                } else {
                    match settle(spec, dir, ctx) {
                        Some((winner, reason)) => {
                            let (kept, lost) = if winner == Side::Left { (l.clone(), r.clone()) } else { (r.clone(), l.clone()) };
                            match winner {
                                Side::Left => m.right_keys.push(key.clone()),
                                Side::Right => m.left_keys.push(key.clone()),
                            }
                            plan.overwrites.push(Overwrite {
                                left_id: ctx.left_id.map(str::to_string),
                                right_id: ctx.right_id.map(str::to_string),
                                field: key.clone(),
                                winner,
                                kept: kept.clone(),
                                lost,
                                reason,
                            });
                            kept
                        }
                        None => {
                            plan.conflicts.push(Conflict {
                                left_id: lid.to_string(),
                                right_id: rid.to_string(),
                                field: key.clone(),
                                kind: ConflictKind::Field,
                                base: resting.clone(),
                                left: l.clone(),
                                right: r.clone(),
                            });
                            resting
                        }
                    }
                }
            }
        };
        m.values.insert(key, value);
    }
    m
}

/// Notes a change on `side` that a one-way link does not copy (a finance edit under a
/// link where the CRM leads): skipped, and said so in the run's notes. Only for paired
/// records with a base (a change, not a first match) and fields following the link's own
/// direction (a field's own `direction` is a deliberate column rule, left quiet).
fn skipped_one_way(spec: &LinkSpec, i: usize, side: Side, ctx: &MergeCtx<'_>, value: &Value, has_base: bool, plan: &mut Plan) {
    if !has_base || spec.def.fields[i].direction.is_some() {
        return;
    }
    let id = if side == Side::Left { ctx.left_id } else { ctx.right_id }.unwrap_or_default();
    let field = spec.field_name(side, i).to_string();
    plan.warnings.push(Warning {
        side: Some(side),
        record_id: Some(id.to_string()),
        field: Some(field.clone()),
        message: format!("{side} record {id}: {field} was changed there to {:?}, but this link copies only from the {} side; the change is skipped", value.display(), side.other()),
        invalid_input: false,
    });
}

/// The write that brings `side` from its current link values to `merged` for `keys`.
pub(crate) fn update_for(spec: &LinkSpec, side: Side, keys: &[String], merged: &Fields, current: &Fields) -> Option<Write> {
    if keys.is_empty() {
        return None;
    }
    let mut fields = Fields::new();
    let mut before = Fields::new();
    for (i, f) in spec.def.fields.iter().enumerate() {
        if keys.iter().any(|k| *k == f.left) {
            let name = spec.field_name(side, i).to_string();
            fields.insert(name.clone(), from_link(spec, side, i, merged.get(&f.left).unwrap_or(&Value::Null)));
            before.insert(name, from_link(spec, side, i, current.get(&f.left).unwrap_or(&Value::Null)));
        }
    }
    Some(Write::Update { fields, before })
}

/// All mapped fields of `values` in `side`'s names, for a create (blanks left out).
pub(crate) fn create_fields(spec: &LinkSpec, side: Side, values: &Fields) -> Fields {
    let mut out = Fields::new();
    for (i, f) in spec.def.fields.iter().enumerate() {
        let v = values.get(&f.left).cloned().unwrap_or_default();
        if !v.is_null() {
            out.insert(spec.field_name(side, i).to_string(), from_link(spec, side, i, &v));
        }
    }
    out
}

fn invalid(plan: &mut Plan, side: Side, id: &str, field: String, e: crate::value::ValueError) {
    plan.warnings.push(Warning {
        side: Some(side),
        record_id: Some(id.to_string()),
        field: Some(field.clone()),
        message: format!("{side} record {id}, field {field}: {e}; correct the value and sync again"),
        invalid_input: true,
    });
}

/// Fast path: a record whose raw mapped values equal the base (already canonical) is
/// unchanged, without canonicalising or allocating. Fields with value renames are always
/// taken the slow way.
fn unchanged(spec: &LinkSpec, side: Side, rec: &Record, base: &Fields) -> bool {
    const MAX: usize = 64;
    let n = spec.def.fields.len();
    if n > MAX || spec.def.fields.iter().any(|f| !f.values.is_empty()) {
        return false;
    }
    let mut have: [Option<&Value>; MAX] = [None; MAX];
    let mut was: [Option<&Value>; MAX] = [None; MAX];
    spec.mapped(side, &rec.fields, &mut have[..n]);
    spec.mapped(Side::Left, base, &mut was[..n]);
    (0..n).all(|i| have[i].unwrap_or(&Value::Null) == was[i].unwrap_or(&Value::Null))
}

/// Link values of a side's record, or the base when the record wasn't listed (unchanged).
fn side_values(spec: &LinkSpec, side: Side, rec: Option<&&Record>, base: &Fields, plan: &mut Plan) -> Option<Fields> {
    match rec {
        Some(r) => match record_to_link(spec, side, r) {
            Ok(v) => Some(v),
            Err((field, e)) => {
                invalid(plan, side, &r.id, field, e);
                None
            }
        },
        None => Some(base.clone()),
    }
}

pub(crate) fn plan_pair(spec: &LinkSpec, pair: &PairState, left: &SideView<'_>, right: &SideView<'_>, resolutions: &Resolutions<'_>, plan: &mut Plan) {
    let l = left.by_id.get(pair.left_id.as_str());
    let r = right.by_id.get(pair.right_id.as_str());
    let l_deleted = l.is_none() && left.complete;
    let r_deleted = r.is_none() && right.complete;
    let empty = |forget: bool, gone: Option<Side>| PairPlan {
        left_id: Some(pair.left_id.clone()),
        right_id: Some(pair.right_id.clone()),
        base: Some(pair.base.clone()),
        merged: pair.base.clone(),
        left_keys: vec![],
        right_keys: vec![],
        left_write: None,
        right_write: None,
        forget,
        gone,
        write_back_id: None,
    };
    if let Some(gone) = pair.gone {
        let other_deleted = if gone == Side::Left { r_deleted } else { l_deleted };
        if other_deleted {
            plan.pairs.push(empty(true, Some(gone)));
        }
        return;
    }
    if l_deleted && r_deleted {
        plan.pairs.push(empty(true, None));
        return;
    }
    if l_deleted || r_deleted {
        let deleted = if l_deleted { Side::Left } else { Side::Right };
        plan_deletion(spec, pair, deleted, l.or(r).copied(), resolutions, plan, empty);
        return;
    }
    let l_same = l.is_none_or(|r| unchanged(spec, Side::Left, r, &pair.base));
    let r_same = r.is_none_or(|r| unchanged(spec, Side::Right, r, &pair.base));
    if l_same && r_same {
        return;
    }
    let Some(lv) = (if l_same { Some(pair.base.clone()) } else { side_values(spec, Side::Left, l, &pair.base, plan) }) else { return };
    let Some(rv) = (if r_same { Some(pair.base.clone()) } else { side_values(spec, Side::Right, r, &pair.base, plan) }) else { return };
    if lv == pair.base && rv == pair.base {
        return;
    }
    let ctx = MergeCtx {
        left_id: Some(&pair.left_id),
        right_id: Some(&pair.right_id),
        left_time: left.updated_at(&pair.left_id),
        right_time: right.updated_at(&pair.right_id),
    };
    let m = merge_fields(spec, Some(&pair.base), &lv, &rv, &ctx, resolutions, plan);
    if m.values == pair.base && m.left_keys.is_empty() && m.right_keys.is_empty() {
        return;
    }
    let mut p = empty(false, None);
    p.left_write = update_for(spec, Side::Left, &m.left_keys, &m.values, &lv);
    p.right_write = update_for(spec, Side::Right, &m.right_keys, &m.values, &rv);
    p.left_keys = m.left_keys;
    p.right_keys = m.right_keys;
    p.merged = m.values;
    plan.pairs.push(p);
}

fn plan_deletion(
    spec: &LinkSpec,
    pair: &PairState,
    deleted: Side,
    survivor: Option<&Record>,
    resolutions: &Resolutions<'_>,
    plan: &mut Plan,
    empty: impl Fn(bool, Option<Side>) -> PairPlan,
) {
    let survivor_side = deleted.other();
    let decision = resolutions.get(&(pair.left_id.as_str(), pair.right_id.as_str(), "")).map(|v| **v == Value::Bool(true));
    let propagate = match (spec.def.deletes, decision) {
        (DeletePolicy::Propagate, _) => spec.def.direction.allows_from(deleted),
        (DeletePolicy::Ignore, _) => false,
        (DeletePolicy::Ask, Some(accept)) => accept,
        (DeletePolicy::Ask, None) => {
            let summary = |side: Side| {
                if side == deleted {
                    Value::Null
                } else {
                    survivor.map(|r| Value::Text(format!("record {} still exists", r.id))).unwrap_or(Value::Null)
                }
            };
            plan.conflicts.push(Conflict {
                left_id: pair.left_id.clone(),
                right_id: pair.right_id.clone(),
                field: String::new(),
                kind: ConflictKind::Deleted(deleted),
                base: Value::Null,
                left: summary(Side::Left),
                right: summary(Side::Right),
            });
            return;
        }
    };
    if propagate {
        let mut p = empty(true, None);
        match survivor_side {
            Side::Left => p.left_write = Some(Write::Delete),
            Side::Right => p.right_write = Some(Write::Delete),
        }
        plan.pairs.push(p);
    } else if decision == Some(false) {
        // Restore: create the record again on the side that deleted it.
        let Some(rec) = survivor else { return };
        let Some(values) = side_values(spec, survivor_side, Some(&rec), &pair.base, plan) else { return };
        let mut p = empty(false, None);
        let keys: Vec<String> = (0..spec.def.fields.len()).map(|i| spec.key(i).to_string()).collect();
        let w = Some(Write::Create { fields: create_fields(spec, deleted, &values) });
        match deleted {
            Side::Left => {
                p.left_id = None;
                p.left_write = w;
                p.left_keys = keys;
            }
            Side::Right => {
                p.right_id = None;
                p.right_write = w;
                p.right_keys = keys;
            }
        }
        p.base = None;
        p.merged = values;
        plan.pairs.push(p);
    } else {
        plan.pairs.push(empty(false, Some(deleted)));
    }
}

pub(crate) fn warn(plan: &mut Plan, side: Side, id: &str, message: String, invalid_input: bool) {
    plan.warnings.push(Warning { side: Some(side), record_id: Some(id.to_string()), field: None, message, invalid_input });
}

/// Keeps the id field right: when the record holding the other side's id (a workbook's
/// `id` column) no longer shows its partner's id — a write-back that failed, a cell cleared
/// by hand — the plan writes it again. Quiet once it is right.
pub(crate) fn repair_id_field(spec: &LinkSpec, pair: &PairState, left: &SideView<'_>, right: &SideView<'_>, plan: &mut Plan, from: usize) {
    let Some(idf) = &spec.def.id_field else { return };
    if pair.gone.is_some() {
        return;
    }
    let (view, holder_id, partner_id) = match idf.side {
        Side::Left => (left, &pair.left_id, &pair.right_id),
        Side::Right => (right, &pair.right_id, &pair.left_id),
    };
    let Some(rec) = view.by_id.get(holder_id.as_str()) else { return };
    let current = crate::value::canonicalize(rec.get(&idf.field), crate::value::FieldType::Id).unwrap_or(Value::Null);
    let expected = Value::Text(partner_id.clone());
    if current == expected {
        return;
    }
    let existing = plan.pairs[from..].iter().position(|p| p.left_id.as_deref() == Some(&pair.left_id) && p.right_id.as_deref() == Some(&pair.right_id));
    let idx = match existing {
        Some(i) => from + i,
        None => {
            plan.pairs.push(PairPlan {
                left_id: Some(pair.left_id.clone()),
                right_id: Some(pair.right_id.clone()),
                base: Some(pair.base.clone()),
                merged: pair.base.clone(),
                left_keys: vec![],
                right_keys: vec![],
                left_write: None,
                right_write: None,
                forget: false,
                gone: None,
                write_back_id: None,
            });
            plan.pairs.len() - 1
        }
    };
    let p = &mut plan.pairs[idx];
    if p.forget {
        return;
    }
    let slot = match idf.side {
        Side::Left => &mut p.left_write,
        Side::Right => &mut p.right_write,
    };
    match slot {
        None => {
            let mut fields = Fields::new();
            fields.insert(idf.field.clone(), expected);
            let mut before = Fields::new();
            before.insert(idf.field.clone(), current);
            *slot = Some(Write::Update { fields, before });
        }
        Some(Write::Update { fields, before }) => {
            fields.insert(idf.field.clone(), expected);
            before.insert(idf.field.clone(), current);
        }
        _ => {}
    }
}
