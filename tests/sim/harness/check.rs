//! The invariants checked after every quiescent sync:
//! (1) convergence, (2) no lost update, (3) no duplicates. (4) quiet-is-quiet and (5) the
//! audit log are checked by the world around each run.

use std::collections::{BTreeMap, BTreeSet};

use crosswalk_core::config::DeletePolicy;
use crosswalk_core::planner::ConflictKind;
use crosswalk_core::store::ConflictStatus;
use crosswalk_core::Side;

use super::ops::FIELDS;
use super::world::{idx, World, LINK};
use super::Failure;

pub async fn invariants(w: &World) -> Result<(), Failure> {
    let sides = [w.by_tag(Side::Left).await, w.by_tag(Side::Right).await];
    // (3) No duplicates.
    for side in [Side::Left, Side::Right] {
        for (tag, recs) in &sides[idx(side)] {
            if recs.len() > 1 {
                let ids: Vec<&String> = recs.iter().map(|(id, _)| id).collect();
                return Err(w.fail("duplicate", format!("{tag} exists {} times on the {side} side: {ids:?}", recs.len())));
            }
        }
    }
    let pairs = w.store.pairs(LINK).expect("pairs");
    let paired: BTreeSet<(&str, &str)> = pairs.iter().map(|p| (p.left_id.as_str(), p.right_id.as_str())).collect();
    let open = w.store.conflicts(Some(LINK), Some(ConflictStatus::Open)).expect("conflicts");
    let open_field: BTreeSet<(&str, &str, &str)> =
        open.iter().map(|c| (c.conflict.left_id.as_str(), c.conflict.right_id.as_str(), c.conflict.field.as_str())).collect();
    let open_delete: BTreeSet<&str> = open
        .iter()
        .filter(|c| matches!(c.conflict.kind, ConflictKind::Deleted(_)))
        .flat_map(|c| [c.conflict.left_id.as_str(), c.conflict.right_id.as_str()])
        .collect();

    // (1) Convergence.
    let tags: BTreeSet<&String> = sides[0].keys().chain(sides[1].keys()).collect();
    for tag in &tags {
        match (sides[0].get(*tag), sides[1].get(*tag)) {
            (Some(l), Some(r)) => {
                let ((lid, lv), (rid, rv)) = (&l[0], &r[0]);
                if !paired.contains(&(lid.as_str(), rid.as_str())) {
                    return Err(w.fail("convergence", format!("{tag} is on both sides ({lid}, {rid}) but they are not paired")));
                }
                for f in 1..FIELDS {
                    if lv[f] != rv[f] && !open_field.contains(&(lid.as_str(), rid.as_str(), w.spec.key(f))) {
                        return Err(w.fail(
                            "convergence",
                            format!("{tag}.{} differs with no open conflict: left {lid} = {:?}, right {rid} = {:?}", w.spec.key(f), lv[f], rv[f]),
                        ));
                    }
                }
            }
            (Some(one), None) | (None, Some(one)) => {
                let (have, missing) = if sides[0].contains_key(*tag) { (Side::Left, Side::Right) } else { (Side::Right, Side::Left) };
                let id = &one[0].0;
                let user_deleted = w.model.deleted[idx(missing)].contains(*tag);
                let allowed = user_deleted
                    && match w.sc.deletes {
                        DeletePolicy::Ignore => true,
                        DeletePolicy::Ask => open_delete.contains(id.as_str()),
                        DeletePolicy::Propagate => false,
                    };
                if !allowed {
                    return Err(w.fail(
                        "convergence",
                        format!(
                            "{tag} is on the {have} side ({id}) but not on the {missing} side (deleted there by a user: {user_deleted}, policy {:?})",
                            w.sc.deletes
                        ),
                    ));
                }
            }
            (None, None) => {}
        }
    }

    // (2) No lost update.
    let mut overwrites: BTreeMap<(String, String, String), Vec<String>> = BTreeMap::new();
    for run in w.store.runs(Some(LINK), 10_000).expect("runs").iter().filter(|r| r.id > w.window_start_run) {
        for c in w.store.changes(run.id).expect("changes").into_iter().filter(|c| c.action == "overwrite") {
            overwrites.entry((c.side.clone(), c.record_id.clone(), c.field.clone().unwrap_or_default())).or_default().push(c.before.clone().unwrap_or_default());
        }
    }
    for ((side, tag, f), p) in &w.model.pending {
        let (Some(l), Some(r)) = (sides[0].get(tag), sides[1].get(tag)) else { continue }; // deleted
        let ((lid, lv), (rid, rv)) = (&l[0], &r[0]);
        if lv[*f] == p.value && rv[*f] == p.value {
            continue;
        }
        let key = w.spec.key(*f);
        if open_field.contains(&(lid.as_str(), rid.as_str(), key)) {
            continue;
        }
        let id = if *side == Side::Left { lid } else { rid };
        let recorded = overwrites.get(&(side.as_str().to_string(), id.clone(), key.to_string())).is_some_and(|lost| lost.contains(&p.value.display()));
        if recorded {
            continue;
        }
        if w.model.resolved.get(&(tag.clone(), *f)).is_some_and(|at| *at > p.step) {
            continue; // a person chose the other value after seeing this one
        }
        return Err(w.fail(
            "lost update",
            format!(
                "{tag}.{key} = {:?} set on the {side} side at step {} is lost: left has {:?}, right has {:?}, no overwrite recorded and no open conflict",
                p.value, p.step, lv[*f], rv[*f]
            ),
        ));
    }
    Ok(())
}
