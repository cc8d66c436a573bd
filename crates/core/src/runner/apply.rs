//! Applying a plan through the connectors, then recording what was confirmed.

use std::collections::BTreeMap;

use super::read::Snapshots;
use super::{LinkRun, Progress, RunError, RunSummary};
use crate::config::Side;
use crate::connector::{ConnectorError, Record, RecordPatch};
use crate::planner::{record_to_link, LinkSpec, Plan, Write};
use crate::store::{ChangeRow, Store};
use crate::value::{Fields, Value};

type SideResult = Option<Result<String, String>>;

/// What happened to each planned write.
pub(crate) struct Outcome {
    /// Per pair: `[left, right]`; `None` = nothing was to be written.
    results: Vec<[SideResult; 2]>,
    /// The journal intent of each pair's create.
    intents: Vec<Option<i64>>,
    /// Pairs that must not be recorded yet (their source id isn't durable): their intents
    /// stay pending and the next run recognises the records by value.
    hold: Vec<bool>,
    /// Failures of extra writes (id write-backs, after-write actions).
    extra_errors: Vec<(Side, String, String)>,
}

fn idx(side: Side) -> usize {
    match side {
        Side::Left => 0,
        Side::Right => 1,
    }
}

/// The link-space values of `fields` given in `side`'s names.
pub(crate) fn link_values(spec: &LinkSpec, side: Side, fields: &Fields) -> Fields {
    let rec = Record { id: String::new(), fields: fields.clone(), updated_at: None };
    record_to_link(spec, side, &rec).unwrap_or_default()
}

/// Whether the server may have done the write although we got an error.
fn outcome_unknown(e: &ConnectorError) -> bool {
    matches!(e, ConnectorError::Unavailable(_))
}

fn toml_to_value(v: &toml::Value) -> Value {
    match v {
        toml::Value::String(s) => Value::Text(s.clone()),
        toml::Value::Integer(i) => Value::Int(*i),
        toml::Value::Float(f) => Value::Float(crate::value::Float(*f)),
        toml::Value::Boolean(b) => Value::Bool(*b),
        other => Value::Text(other.to_string()),
    }
}

pub(crate) async fn apply(link: &LinkRun<'_>, plan: &Plan, progress: &dyn Progress, _run_id: i64) -> Result<Outcome, RunError> {
    let n = plan.pairs.len();
    let mut out = Outcome { results: vec![[None, None]; n], intents: vec![None; n], hold: vec![false; n], extra_errors: vec![] };
    let total: usize = plan.pairs.iter().map(|p| usize::from(p.left_write.is_some()) + usize::from(p.right_write.is_some())).sum();
    progress.set_total(total as u64);
    progress.stage("Writing");
    let name = &link.spec.name;

    // 1. Creates, journalled first.
    for side in [Side::Left, Side::Right] {
        let conn = link.conn(side);
        let items: Vec<usize> = (0..n).filter(|&i| matches!(plan.pairs[i].write(side), Some(Write::Create { .. }))).collect();
        for chunk in items.chunks(conn.capabilities().max_batch.max(1)) {
            let journal: Vec<(String, Fields)> =
                chunk.iter().map(|&i| (plan.pairs[i].id(side.other()).unwrap_or_default().to_string(), plan.pairs[i].merged.clone())).collect();
            let intent_ids = link.store.add_intents(name, side, &journal)?;
            let fields: Vec<Fields> = chunk
                .iter()
                .map(|&i| match plan.pairs[i].write(side) {
                    Some(Write::Create { fields }) => fields.clone(),
                    _ => Fields::new(),
                })
                .collect();
            match conn.create(link.object(side), fields).await {
                Ok(results) => {
                    for (k, &i) in chunk.iter().enumerate() {
                        match results.get(k) {
                            Some(Ok(rec)) => {
                                out.results[i][idx(side)] = Some(Ok(rec.id.clone()));
                                out.intents[i] = Some(intent_ids[k]);
                            }
                            Some(Err(e)) => {
                                out.results[i][idx(side)] = Some(Err(e.to_string()));
                                link.store.close_intent(intent_ids[k], "failed")?;
                            }
                            None => {
                                out.results[i][idx(side)] = Some(Err("the server returned no result for this record".into()));
                                out.intents[i] = None;
                            }
                        }
                    }
                }
                Err(e) => {
                    for (k, &i) in chunk.iter().enumerate() {
                        out.results[i][idx(side)] = Some(Err(e.to_string()));
                        if !outcome_unknown(&e) {
                            link.store.close_intent(intent_ids[k], "failed")?;
                        }
                    }
                }
            }
            progress.advance(chunk.len() as u64);
        }
    }

    // 2. Updates, plus new ids written back and after-write actions.
    for side in [Side::Left, Side::Right] {
        let conn = link.conn(side);
        let other = side.other();
        // record id → (pair index if it is the pair's own update, fields)
        let mut updates: BTreeMap<String, (Option<usize>, Fields)> = BTreeMap::new();
        for (i, p) in plan.pairs.iter().enumerate() {
            if let (Some(Write::Update { fields, .. }), Some(id)) = (p.write(side), p.id(side)) {
                updates.insert(id.to_string(), (Some(i), fields.clone()));
            }
        }
        for (i, p) in plan.pairs.iter().enumerate() {
            let Some(own_id) = p.id(side) else { continue };
            let other_ok = matches!(&out.results[i][idx(other)], Some(Ok(_)));
            if let (Some((wb_side, field)), Some(Ok(new_id))) = (&p.write_back_id, &out.results[i][idx(other)]) {
                if *wb_side == side {
                    updates.entry(own_id.to_string()).or_insert((None, Fields::new())).1.insert(field.clone(), Value::Text(new_id.clone()));
                }
            }
            if other_ok {
                for aw in link.spec.def.after_write.iter().filter(|a| a.side == side) {
                    updates.entry(own_id.to_string()).or_insert((None, Fields::new())).1.insert(aw.field.clone(), toml_to_value(&aw.value));
                }
            }
        }
        let items: Vec<(String, Option<usize>, Fields)> = updates.into_iter().map(|(id, (i, f))| (id, i, f)).collect();
        for chunk in items.chunks(conn.capabilities().max_batch.max(1)) {
            let patches: Vec<RecordPatch> = chunk.iter().map(|(id, _, f)| RecordPatch { id: id.clone(), fields: f.clone() }).collect();
            let results = conn.update(link.object(side), patches).await;
            for (k, (id, pair, _)) in chunk.iter().enumerate() {
                let r: Result<String, String> = match &results {
                    Ok(rs) => match rs.get(k) {
                        Some(Ok(_)) => Ok(id.clone()),
                        Some(Err(e)) => Err(e.to_string()),
                        None => Err("the server returned no result for this record".into()),
                    },
                    Err(e) => Err(e.to_string()),
                };
                match pair {
                    Some(i) => out.results[*i][idx(side)] = Some(r),
                    None => {
                        if let Err(e) = r {
                            out.extra_errors.push((side, id.clone(), e));
                        }
                    }
                }
            }
            progress.advance(chunk.iter().filter(|c| c.1.is_some()).count() as u64);
        }
    }

    // 3. Deletes.
    for side in [Side::Left, Side::Right] {
        let conn = link.conn(side);
        let items: Vec<usize> = (0..n).filter(|&i| matches!(plan.pairs[i].write(side), Some(Write::Delete))).collect();
        for chunk in items.chunks(conn.capabilities().max_batch.max(1)) {
            let ids: Vec<String> = chunk.iter().map(|&i| plan.pairs[i].id(side).unwrap_or_default().to_string()).collect();
            let results = conn.delete(link.object(side), ids.clone()).await;
            for (k, &i) in chunk.iter().enumerate() {
                out.results[i][idx(side)] = Some(match &results {
                    Ok(rs) => match rs.get(k) {
                        Some(Ok(_)) | Some(Err(ConnectorError::NotFound(_))) => Ok(ids[k].clone()),
                        Some(Err(e)) => Err(e.to_string()),
                        None => Err("the server returned no result for this record".into()),
                    },
                    Err(e) => Err(e.to_string()),
                });
            }
            progress.advance(chunk.len() as u64);
        }
    }

    // 4. Buffered writes land now; if they don't, none of that side's writes happened.
    for side in [Side::Left, Side::Right] {
        let conn = link.conn(side);
        if !conn.capabilities().buffered_writes {
            continue;
        }
        if let Err(e) = conn.flush().await {
            let msg = format!("writing to {} failed, nothing was changed there: {e}", link.conn_name(side));
            for i in 0..n {
                if let Some(Ok(_)) = &out.results[i][idx(side)] {
                    if matches!(plan.pairs[i].write(side), Some(Write::Create { .. })) {
                        if let Some(intent) = out.intents[i].take() {
                            link.store.close_intent(intent, "failed")?;
                        }
                    }
                    out.results[i][idx(side)] = Some(Err(msg.clone()));
                }
                // A record created on the other side from a row of this side: the row's
                // key was not saved, so hold the pair; the next run matches it by value.
                if matches!(plan.pairs[i].write(side.other()), Some(Write::Create { .. })) && matches!(&out.results[i][idx(side.other())], Some(Ok(_))) {
                    out.hold[i] = true;
                }
            }
            out.extra_errors.push((side, String::new(), msg));
        }
    }
    Ok(out)
}

/// Records the conflict losers a plan decided, before any write is made.
///
/// Bug found by the simulation (seed 39, `conflict_loser_recorded_when_killed_after_winner_written`):
/// these rows were written with the rest of the run at its end, so a process killed after
/// the winner's value landed on the loser's side left no trace of the lost value — the next
/// run sees both sides equal and decides nothing. Writing them first keeps every loser in
/// the audit log; a run that dies before applying may list a loser that a later run lists
/// again, which is harmless.
pub(crate) fn record_overwrites(link: &LinkRun<'_>, plan: &Plan, run_id: i64) -> Result<(), RunError> {
    if plan.overwrites.is_empty() {
        return Ok(());
    }
    let rows: Vec<ChangeRow> = plan
        .overwrites
        .iter()
        .map(|o| {
            let loser = o.winner.other();
            let id = match loser {
                Side::Left => o.left_id.clone(),
                Side::Right => o.right_id.clone(),
            };
            ChangeRow {
                run_id,
                side: loser.as_str().to_string(),
                record_id: id.unwrap_or_else(|| "(new)".into()),
                action: "overwrite".into(),
                field: Some(o.field.clone()),
                before: Some(o.lost.display()),
                after: Some(o.kept.display()),
                note: Some(o.reason.clone()),
            }
        })
        .collect();
    link.store.transaction(|tx| Store::add_changes_tx(tx, &rows))?;
    Ok(())
}

fn display_fields(f: &Fields) -> String {
    let m: BTreeMap<&str, String> = f.iter().map(|(k, v)| (k.as_str(), v.display())).collect();
    serde_json::to_string(&m).unwrap_or_default()
}

/// Records everything the run confirmed, in one transaction.
pub(crate) fn commit(
    link: &LinkRun<'_>,
    plan: &Plan,
    out: &Outcome,
    snaps: &Snapshots,
    resolution_ids: Vec<i64>,
    run_id: i64,
    summary: &mut RunSummary,
) -> Result<(), RunError> {
    let spec = link.spec;
    let name = &spec.name;
    let mut changes: Vec<ChangeRow> = vec![];
    let change = |side: Side, id: &str, action: &str, field: Option<&str>, before: Option<String>, after: Option<String>, note: Option<String>| ChangeRow {
        run_id,
        side: side.as_str().to_string(),
        record_id: id.to_string(),
        action: action.to_string(),
        field: field.map(str::to_string),
        before,
        after,
        note,
    };
    for (i, p) in plan.pairs.iter().enumerate() {
        for side in [Side::Left, Side::Right] {
            let Some(w) = p.write(side) else { continue };
            let res = &out.results[i][idx(side)];
            let id = match res {
                Some(Ok(id)) => id.clone(),
                _ => p.id(side).unwrap_or("(new)").to_string(),
            };
            match res {
                Some(Ok(_)) => match w {
                    Write::Create { fields } => {
                        summary.created[idx(side)] += 1;
                        changes.push(change(side, &id, "create", None, None, Some(display_fields(fields)), None));
                    }
                    Write::Update { fields, before } => {
                        summary.updated[idx(side)] += 1;
                        for (f, v) in fields {
                            changes.push(change(side, &id, "update", Some(f), before.get(f).map(Value::display), Some(v.display()), None));
                        }
                    }
                    Write::Delete => {
                        summary.deleted[idx(side)] += 1;
                        changes.push(change(side, &id, "delete", None, None, None, None));
                    }
                },
                other => {
                    let e = match other {
                        Some(Err(e)) => e.clone(),
                        _ => "not attempted".to_string(),
                    };
                    summary.failed[idx(side)] += 1;
                    if summary.errors.len() < 20 {
                        summary.errors.push(format!("{} {} {id}: {e}", link.conn_name(side), link.object(side)));
                    }
                    changes.push(change(side, &id, "failed", None, None, None, Some(e)));
                }
            }
        }
    }
    for (side, id, e) in &out.extra_errors {
        summary.failed[idx(*side)] += 1;
        if summary.errors.len() < 20 {
            summary.errors.push(if id.is_empty() { e.clone() } else { format!("{} {} {id}: {e}", link.conn_name(*side), link.object(*side)) });
        }
        changes.push(change(*side, id, "failed", None, None, None, Some(e.clone())));
    }
    // Conflict losers were recorded before applying (see `record_overwrites`).
    for w in &plan.warnings {
        changes.push(change(w.side.unwrap_or(Side::Left), w.record_id.as_deref().unwrap_or(""), "skipped", w.field.as_deref(), None, None, Some(w.message.clone())));
    }
    let failed_total: usize = summary.failed.iter().sum();

    link.store.transaction(|tx| {
        for (i, p) in plan.pairs.iter().enumerate() {
            if out.hold[i] {
                continue;
            }
            let ok = |side: Side| !matches!(&out.results[i][idx(side)], Some(Err(_)));
            let id_of = |side: Side| match (p.id(side), &out.results[i][idx(side)]) {
                (Some(id), _) => Some(id.to_string()),
                (None, Some(Ok(new_id))) => Some(new_id.clone()),
                _ => None,
            };
            if p.forget {
                if ok(Side::Left) && ok(Side::Right) {
                    if let (Some(l), Some(r)) = (p.left_id.as_deref(), p.right_id.as_deref()) {
                        Store::delete_pair_tx(tx, name, l, r)?;
                    }
                }
                continue;
            }
            let (Some(l), Some(r)) = (id_of(Side::Left), id_of(Side::Right)) else { continue };
            let mut base = Fields::new();
            for (k, v) in &p.merged {
                let unconfirmed = [Side::Left, Side::Right].into_iter().find(|s| p.keys(*s).contains(k) && !ok(*s));
                let value = match unconfirmed {
                    None => v.clone(),
                    Some(s) => p.base.as_ref().and_then(|b| b.get(k).cloned()).unwrap_or_else(|| match p.write(s) {
                        Some(Write::Update { before, .. }) => link_values(spec, s, before).get(k).cloned().unwrap_or_default(),
                        _ => Value::Null,
                    }),
                };
                base.insert(k.clone(), value);
            }
            Store::put_pair_tx(tx, name, &l, &r, &base, p.gone)?;
            if let Some(intent) = out.intents[i] {
                Store::close_intent_tx(tx, intent, "done")?;
            }
        }
        summary.conflicts_new = Store::sync_open_conflicts_tx(tx, name, &plan.conflicts)?;
        if failed_total == 0 {
            summary.conflicts_resolved = resolution_ids.len();
            Store::close_conflicts_tx(tx, &resolution_ids)?;
            for (k, side) in [Side::Left, Side::Right].into_iter().enumerate() {
                if let Some(c) = &snaps.cursors[k] {
                    Store::set_cursor_tx(tx, name, side, c)?;
                }
            }
        }
        Store::add_changes_tx(tx, &changes)?;
        let status = if failed_total > 0 { "partial" } else { "ok" };
        Store::finish_run_tx(tx, run_id, status, &summary.to_json(), summary.errors.first().map(String::as_str))?;
        Ok(())
    })?;
    Ok(())
}
