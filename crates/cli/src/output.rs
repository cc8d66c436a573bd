//! Printing results: readable text by default, JSON with --json.

use crosswalk_core::runner::{RunReport, RunStatus};
use serde::Serialize;

pub fn json<T: Serialize>(v: &T) {
    println!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
}

/// A run report in plain words.
pub fn report(r: &RunReport, left: &str, right: &str) {
    let s = &r.summary;
    let head = match r.status {
        RunStatus::Ok => "done",
        RunStatus::Partial => "done with failures",
        RunStatus::Waiting => "waiting",
        RunStatus::BadInput => "stopped: bad input",
        RunStatus::DryRun => "dry run (nothing written)",
    };
    println!("{}: {head} (run {})", r.link, r.run_id);
    println!("  read: {left} {}, {right} {}", s.read[0], s.read[1]);
    if r.status == RunStatus::DryRun || r.status == RunStatus::BadInput {
        println!(
            "  would write: {left}: {} create, {} update, {} delete · {right}: {} create, {} update, {} delete",
            s.planned_create[0], s.planned_update[0], s.planned_delete[0], s.planned_create[1], s.planned_update[1], s.planned_delete[1]
        );
        if let Some(plan) = &r.plan {
            for p in plan.pairs.iter().filter(|p| p.has_writes()).take(20) {
                for (side, w, name) in [(p.left_id.as_deref(), &p.left_write, left), (p.right_id.as_deref(), &p.right_write, right)] {
                    if let Some(w) = w {
                        let what = match w {
                            crosswalk_core::planner::Write::Create { fields } => format!("create {}", brief(fields)),
                            crosswalk_core::planner::Write::Update { fields, before } => format!(
                                "update {}: {}",
                                side.unwrap_or("?"),
                                fields.iter().map(|(k, v)| format!("{k} {:?} → {:?}", before.get(k).map(|b| b.display()).unwrap_or_default(), v.display())).collect::<Vec<_>>().join(", ")
                            ),
                            crosswalk_core::planner::Write::Delete => format!("delete {}", side.unwrap_or("?")),
                        };
                        println!("    {name}: {what}");
                    }
                }
            }
        }
    } else {
        println!("  {}", s.one_line(left, right));
    }
    if s.recovered > 0 {
        println!("  recovered {} record(s) created by an interrupted run (no duplicates made)", s.recovered);
    }
    if s.overwrites > 0 {
        println!("  {} conflict(s) settled by the link's policy; the losing values are in `crosswalk log --run {}`", s.overwrites, r.run_id);
    }
    if s.conflicts_open > 0 {
        println!("  {} conflict(s) wait for you: `crosswalk conflicts`", s.conflicts_open);
    }
    for h in &s.held_deletes {
        println!("  held back {} deletion(s) on the {} side ({} of {} records): run with --allow-mass-delete if intended", h.count, h.side, h.count, h.total);
    }
    for w in s.warnings.iter().take(10) {
        println!("  note: {w}");
    }
    if s.warnings.len() > 10 {
        println!("  … and {} more notes (`crosswalk log --run {}`)", s.warnings.len() - 10, r.run_id);
    }
    for e in s.errors.iter().take(10) {
        println!("  failed: {e}");
    }
    if let Some(m) = &r.message {
        if r.status == RunStatus::Waiting {
            println!("  {m}; the changes will be written on the first run after it is closed");
        }
    }
}

fn brief(f: &crosswalk_core::value::Fields) -> String {
    let s: Vec<String> = f.iter().filter(|(_, v)| !v.is_null()).take(3).map(|(k, v)| format!("{k}={:?}", v.display())).collect();
    s.join(", ")
}
