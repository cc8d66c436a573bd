//! A dry run's plan as plain lines for the Syncs screen's preview (formatting only).

use crosswalk_core::planner::{Plan, Write};
use crosswalk_core::value::Fields;

fn fields(f: &Fields) -> String {
    f.iter().filter(|(_, v)| !v.is_null()).take(4).map(|(k, v)| format!("{k}: {v}")).collect::<Vec<_>>().join(", ")
}

/// Up to `max` lines such as `right: update 42 — name: Acme → Acme Inc`.
pub fn lines(plan: &Plan, max: usize) -> Vec<String> {
    let mut out = vec![];
    for p in &plan.pairs {
        for (side, id, w) in [("left", &p.left_id, &p.left_write), ("right", &p.right_id, &p.right_write)] {
            let Some(w) = w else { continue };
            let id = id.as_deref().unwrap_or("new");
            out.push(match w {
                Write::Create { fields: f } => format!("{side}: create — {}", fields(f)),
                Write::Update { fields: f, before } => {
                    let changes: Vec<String> = f
                        .iter()
                        .map(|(k, v)| format!("{k}: {} → {v}", before.get(k).map(|b| b.display()).unwrap_or_default()))
                        .collect();
                    format!("{side}: update {id} — {}", changes.join(", "))
                }
                Write::Delete => format!("{side}: delete {id}"),
            });
            if out.len() >= max {
                return out;
            }
        }
    }
    for c in &plan.conflicts {
        out.push(format!("conflict on {}: {} ≠ {}", c.field, c.left, c.right));
    }
    out.truncate(max);
    out
}
