//! Unpaired records: match by id field, then natural key; create what is left.

use std::collections::{BTreeMap, HashSet};

use super::merge::{create_fields, merge_fields, update_for, warn, MergeCtx, Resolutions};
use super::{record_to_link, to_link, LinkSpec, PairPlan, PairState, Plan, SideView, Write};
use crate::config::{Filter, FilterOp, Side};
use crate::connector::Record;
use crate::value::{canonicalize, FieldType, Fields, Value};

fn passes(filters: &[Filter], side: Side, r: &Record) -> bool {
    filters.iter().filter(|f| f.side == side).all(|f| {
        let v = canonicalize(r.get(&f.field), FieldType::Text).unwrap_or(Value::Null);
        let want = f.value.as_ref().map(|t| match t {
            toml::Value::String(s) => s.trim().to_string(),
            other => other.to_string(),
        });
        let got = v.display();
        match f.op {
            FilterOp::Eq => want.is_some_and(|w| w == got),
            FilterOp::Neq => want.is_none_or(|w| w != got),
            FilterOp::Empty => v.is_null(),
            FilterOp::NotEmpty => !v.is_null(),
        }
    })
}

pub(crate) fn plan_unpaired(spec: &LinkSpec, pairs: &[&PairState], left: &SideView<'_>, right: &SideView<'_>, plan: &mut Plan) {
    let paired_left: HashSet<&str> = pairs.iter().map(|p| p.left_id.as_str()).collect();
    let paired_right: HashSet<&str> = pairs.iter().map(|p| p.right_id.as_str()).collect();
    let filters = &spec.def.filters;
    let mut ul: BTreeMap<&str, &Record> =
        left.by_id.iter().filter(|(id, r)| !paired_left.contains(*id) && passes(filters, Side::Left, r)).map(|(k, v)| (*k, *v)).collect();
    let mut ur: BTreeMap<&str, &Record> =
        right.by_id.iter().filter(|(id, r)| !paired_right.contains(*id) && passes(filters, Side::Right, r)).map(|(k, v)| (*k, *v)).collect();
    let mut matches: Vec<(&Record, &Record)> = vec![];

    // 1. The id field: a record on one side that carries the other side's id.
    if let Some(idf) = &spec.def.id_field {
        let (holders, targets, paired_targets, target_view) = match idf.side {
            Side::Right => (&mut ur, &mut ul, &paired_left, left),
            Side::Left => (&mut ul, &mut ur, &paired_right, right),
        };
        let mut by_ref: BTreeMap<String, Vec<&Record>> = BTreeMap::new();
        for r in holders.values() {
            if let Ok(Value::Text(v)) = canonicalize(r.get(&idf.field), FieldType::Id) {
                by_ref.entry(v).or_default().push(r);
            }
        }
        for (target_id, holders_of) in by_ref {
            for h in &holders_of {
                holders.remove(h.id.as_str());
            }
            if holders_of.len() > 1 {
                for h in &holders_of {
                    warn(plan, idf.side, &h.id, format!(
                        "{} records carry the same {} {target_id:?}; each id may appear once — remove the duplicate rows and sync again",
                        holders_of.len(), idf.field), true);
                }
                continue;
            }
            let h = holders_of[0];
            if let Some(t) = targets.remove(target_id.as_str()) {
                matches.push(if idf.side == Side::Right { (t, h) } else { (h, t) });
            } else if paired_targets.contains(target_id.as_str()) {
                warn(plan, idf.side, &h.id, format!("{} {target_id:?} is already linked to another record; clear it to create a new record", idf.field), false);
            } else if target_view.complete || !target_view.by_id.contains_key(target_id.as_str()) {
                warn(plan, idf.side, &h.id, format!(
                    "{} {target_id:?} does not exist on the {} side (deleted there?); clear it to create the record again", idf.field, idf.side.other()), false);
            }
        }
    }

    // 2. The natural key, compared in link space. Ambiguous keys match nothing and create nothing.
    if let Some(mk) = &spec.def.match_key {
        if let Some(i) = spec.def.fields.iter().position(|f| f.left == mk.left) {
            let index = |side: Side, recs: &BTreeMap<&str, &Record>| {
                let mut m: BTreeMap<Value, Vec<String>> = BTreeMap::new();
                for r in recs.values() {
                    if let Ok(v) = to_link(spec, side, i, r) {
                        if !v.is_null() {
                            m.entry(v).or_default().push(r.id.clone());
                        }
                    }
                }
                m
            };
            let lk = index(Side::Left, &ul);
            let rk = index(Side::Right, &ur);
            for (key, lids) in &lk {
                let Some(rids) = rk.get(key) else { continue };
                if lids.len() == 1 && rids.len() == 1 {
                    if let (Some(l), Some(r)) = (ul.remove(lids[0].as_str()), ur.remove(rids[0].as_str())) {
                        matches.push((l, r));
                    }
                } else {
                    for (side, ids) in [(Side::Left, lids), (Side::Right, rids)] {
                        for id in ids {
                            warn(plan, side, id, format!(
                                "{} left and {} right records share {} = {key}; not matched and not created — make the key unique",
                                lids.len(), rids.len(), mk.left), false);
                            match side {
                                Side::Left => ul.remove(id.as_str()),
                                Side::Right => ur.remove(id.as_str()),
                            };
                        }
                    }
                }
            }
        }
    }

    let no_resolutions: Resolutions<'_> = BTreeMap::new();
    for (l, r) in matches {
        plan_new_match(spec, l, r, &no_resolutions, plan);
    }
    for (side, recs) in [(Side::Left, ul), (Side::Right, ur)] {
        if !spec.def.direction.allows_from(side) {
            continue;
        }
        for r in recs.values() {
            plan_create(spec, side, r, plan);
        }
    }
}

fn plan_new_match(spec: &LinkSpec, l: &Record, r: &Record, resolutions: &Resolutions<'_>, plan: &mut Plan) {
    let lv = match record_to_link(spec, Side::Left, l) {
        Ok(v) => v,
        Err((f, e)) => return warn(plan, Side::Left, &l.id, format!("field {f}: {e}"), true),
    };
    let rv = match record_to_link(spec, Side::Right, r) {
        Ok(v) => v,
        Err((f, e)) => return warn(plan, Side::Right, &r.id, format!("field {f}: {e}"), true),
    };
    let ctx = MergeCtx { left_id: Some(&l.id), right_id: Some(&r.id), left_time: l.updated_at, right_time: r.updated_at };
    let m = merge_fields(spec, None, &lv, &rv, &ctx, resolutions, plan);
    plan.pairs.push(PairPlan {
        left_id: Some(l.id.clone()),
        right_id: Some(r.id.clone()),
        base: None,
        left_write: update_for(spec, Side::Left, &m.left_keys, &m.values, &lv),
        right_write: update_for(spec, Side::Right, &m.right_keys, &m.values, &rv),
        left_keys: m.left_keys,
        right_keys: m.right_keys,
        merged: m.values,
        forget: false,
        gone: None,
        write_back_id: None,
    });
}

fn plan_create(spec: &LinkSpec, from: Side, rec: &Record, plan: &mut Plan) {
    let values = match record_to_link(spec, from, rec) {
        Ok(v) => v,
        Err((f, e)) => return warn(plan, from, &rec.id, format!("field {f}: {e}; correct the value and sync again"), true),
    };
    if values.values().all(Value::is_null) {
        return;
    }
    let to = from.other();
    // Fields that may not flow this way stay blank on the new record and in the base.
    let mut merged = Fields::new();
    for (i, f) in spec.def.fields.iter().enumerate() {
        let dir = f.direction.unwrap_or(spec.def.direction);
        let v = if dir.allows_from(from) { values.get(spec.key(i)).cloned().unwrap_or_default() } else { Value::Null };
        merged.insert(spec.key(i).to_string(), v);
    }
    let mut fields = create_fields(spec, to, &merged);
    let mut write_back_id = None;
    if let Some(idf) = &spec.def.id_field {
        if idf.side == to {
            fields.insert(idf.field.clone(), Value::Text(rec.id.clone()));
        } else {
            write_back_id = Some((from, idf.field.clone()));
        }
    }
    let keys: Vec<String> = (0..spec.def.fields.len()).map(|i| spec.key(i).to_string()).collect();
    let (left_id, right_id) = match from {
        Side::Left => (Some(rec.id.clone()), None),
        Side::Right => (None, Some(rec.id.clone())),
    };
    let w = Some(Write::Create { fields });
    let (left_write, right_write, left_keys, right_keys) = match to {
        Side::Left => (w, None, keys, vec![]),
        Side::Right => (None, w, vec![], keys),
    };
    plan.pairs.push(PairPlan {
        left_id,
        right_id,
        base: None,
        merged,
        left_keys,
        right_keys,
        left_write,
        right_write,
        forget: false,
        gone: None,
        write_back_id,
    });
}
