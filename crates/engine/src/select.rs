//! What a manual run covers: `crosswalk sync [LINK] [--object O] [--record ID] [--direction
//! FROM-to-TO]`.
//!
//! - `--object` picks the links whose object (on the source side when a direction is given,
//!   else on either side) is that object, by name, ignoring case (`Customer`, `Sales Order`).
//! - `--direction` names the way data goes with the link's connection names
//!   (`cloud-to-local`, `local-to-cloud`) or its sides (`left-to-right`, `right-to-left`);
//!   the run then writes only to the target side (a pull or a push).
//! - `--record` limits the run to one record, given by its id on the source side; it needs
//!   a direction (the id says nothing about which system it belongs to) and an object or a
//!   link name (nor what kind of record it is). The runner reads
//!   that record and its partner only and moves no cursor
//!   ([`crosswalk_core::runner::RecordSelection`]).
//!
//! Pure: no I/O, so the rules are tested by a table below.

use crosswalk_core::config::{Config, LinkDef, Side};
use crosswalk_core::runner::{RecordSelection, RunMode};

use crate::error::{AppError, ErrorCode};

/// The flags as given.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Selection {
    pub object: Option<String>,
    pub record: Option<String>,
    pub direction: Option<String>,
}

impl Selection {
    pub fn is_empty(&self) -> bool {
        self.object.is_none() && self.record.is_none() && self.direction.is_none()
    }
}

/// One run to make.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SelectedRun {
    pub link: String,
    pub mode: RunMode,
    pub only: Option<RecordSelection>,
}

fn bad(message: String) -> AppError {
    AppError::new(ErrorCode::BadInput, message)
}

/// The source side `direction` names on `def`, or `None` when it names neither way.
pub fn source_side(def: &LinkDef, direction: &str) -> Option<Side> {
    let d = direction.trim().to_ascii_lowercase();
    let (from, to) = d.split_once("-to-")?;
    let (l, r) = (def.left.connection.to_ascii_lowercase(), def.right.connection.to_ascii_lowercase());
    if (from == "left" && to == "right") || (from == l && to == r && l != r) {
        Some(Side::Left)
    } else if (from == "right" && to == "left") || (from == r && to == l && l != r) {
        Some(Side::Right)
    } else {
        None
    }
}

fn directions(def: &LinkDef) -> String {
    format!("{l}-to-{r}, {r}-to-{l}, left-to-right or right-to-left", l = def.left.connection, r = def.right.connection)
}

/// The runs `sel` asks for among `links` (the named link, or every link), in `links`'
/// order; `mode` is the command's (`sync`, `pull`, `push`).
pub fn plan_runs(config: &Config, links: &[String], mode: RunMode, sel: &Selection) -> Result<Vec<SelectedRun>, AppError> {
    if sel.record.is_some() && sel.direction.is_none() {
        return Err(bad("--record needs --direction to say which system the id belongs to, e.g. --direction cloud-to-local".into()));
    }
    if sel.record.is_some() && sel.object.is_none() && links.len() != 1 {
        return Err(bad("--record needs --object (e.g. --object Customer) or a link name, to know what kind of record the id is".into()));
    }
    let mut out = vec![];
    let mut objects_seen = vec![];
    for name in links {
        let Some(def) = config.links.get(name) else {
            return Err(AppError::new(ErrorCode::NotFound, format!("there is no link {name:?}")));
        };
        let source = match &sel.direction {
            None => None,
            Some(d) => match source_side(def, d) {
                Some(s) => Some(s),
                // Every link asked for by name must understand the direction; among all
                // links, those between other connections are left out.
                None if links.len() == 1 => return Err(bad(format!("--direction {d:?} does not name a way of link {name}; use {}", directions(def)))),
                None => continue,
            },
        };
        if let Some(obj) = &sel.object {
            let sides: Vec<Side> = source.map(|s| vec![s]).unwrap_or_else(|| vec![Side::Left, Side::Right]);
            objects_seen.extend(sides.iter().map(|s| def.endpoint(*s).object.clone()));
            if !sides.iter().any(|s| def.endpoint(*s).object.eq_ignore_ascii_case(obj.trim())) {
                continue;
            }
        }
        let run_mode = match source {
            None => mode,
            Some(s) => {
                let wanted = if s == Side::Left { RunMode::Pull } else { RunMode::Push };
                if mode != RunMode::Sync && mode != wanted {
                    return Err(bad(format!("`{}` and --direction {} ask for opposite ways; use `crosswalk sync --direction …`", mode.as_str(), sel.direction.as_deref().unwrap_or_default())));
                }
                wanted
            }
        };
        let only = match (&sel.record, source) {
            (Some(id), Some(side)) => Some(RecordSelection { side, id: id.trim().to_string() }),
            _ => None,
        };
        out.push(SelectedRun { link: name.clone(), mode: run_mode, only });
    }
    if out.is_empty() {
        let what = match (&sel.object, &sel.direction) {
            (Some(o), Some(d)) => format!("no link copies {o:?} {d}"),
            (Some(o), None) => format!("no link syncs an object {o:?}"),
            (None, Some(d)) => {
                let known: Vec<String> = links.iter().filter_map(|l| config.links.get(l)).map(directions).collect();
                format!("--direction {d:?} names no link's way; use one of: {}", known.join("; "))
            }
            (None, None) => "there are no links to run".into(),
        };
        objects_seen.sort();
        objects_seen.dedup();
        let hint = if objects_seen.is_empty() { String::new() } else { format!("; objects there: {}", objects_seen.join(", ")) };
        return Err(bad(format!("{what}{hint}")));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = r#"
[connections.cloud]
kind = "frappe"
url = "http://127.0.0.1:9"
[connections.local]
kind = "frappe"
url = "http://127.0.0.1:10"
[links.01_customer]
left = { connection = "cloud", object = "Customer" }
right = { connection = "local", object = "Customer" }
fields = [{ left = "customer_name", right = "customer_name" }]
[links.10_sales_order]
left = { connection = "cloud", object = "Sales Order" }
right = { connection = "local", object = "Sales Order" }
fields = [{ left = "customer", right = "customer" }]
"#;

    fn sel(object: Option<&str>, record: Option<&str>, direction: Option<&str>) -> Selection {
        Selection { object: object.map(Into::into), record: record.map(Into::into), direction: direction.map(Into::into) }
    }

    #[test]
    fn flags_to_runs() {
        let config = Config::parse(std::path::Path::new("crosswalk.toml"), CONFIG).unwrap();
        let all: Vec<String> = config.links.keys().cloned().collect();
        let one = |link: &str, mode, only: Option<(Side, &str)>| SelectedRun { link: link.into(), mode, only: only.map(|(side, id)| RecordSelection { side, id: id.into() }) };
        let cases: Vec<(Selection, RunMode, Result<Vec<SelectedRun>, &str>)> = vec![
            (sel(None, None, None), RunMode::Sync, Ok(vec![one("01_customer", RunMode::Sync, None), one("10_sales_order", RunMode::Sync, None)])),
            (sel(Some("customer"), None, None), RunMode::Sync, Ok(vec![one("01_customer", RunMode::Sync, None)])),
            (sel(Some("Customer"), Some("CUST-00001"), Some("cloud-to-local")), RunMode::Sync, Ok(vec![one("01_customer", RunMode::Pull, Some((Side::Left, "CUST-00001")))])),
            (sel(Some("Sales Order"), Some("SAL-ORD-5001"), Some("local-to-cloud")), RunMode::Sync, Ok(vec![one("10_sales_order", RunMode::Push, Some((Side::Right, "SAL-ORD-5001")))])),
            (sel(None, None, Some("Right-To-Left")), RunMode::Sync, Ok(vec![one("01_customer", RunMode::Push, None), one("10_sales_order", RunMode::Push, None)])),
            (sel(Some("Customer"), Some("CUST-1"), None), RunMode::Sync, Err("--record needs --direction")),
            (sel(None, Some("CUST-1"), Some("cloud-to-local")), RunMode::Sync, Err("--record needs --object")),
            (sel(Some("Supplier"), None, None), RunMode::Sync, Err("no link syncs an object \"Supplier\"; objects there: Customer, Sales Order")),
            (sel(None, None, Some("cloud-to-crm")), RunMode::Sync, Err("--direction \"cloud-to-crm\" names no link's way; use one of: cloud-to-local")),
            (sel(None, None, Some("local-to-cloud")), RunMode::Pull, Err("ask for opposite ways")),
        ];
        for (s, mode, want) in cases {
            let got = plan_runs(&config, &all, mode, &s);
            match want {
                Ok(w) => assert_eq!(got.as_ref().map_err(|e| e.message.clone()), Ok(&w), "{s:?}"),
                Err(msg) => {
                    let e = got.expect_err(&format!("{s:?} must be refused"));
                    assert!(e.message.contains(msg), "{s:?}: {}", e.message);
                    assert_eq!(e.code, ErrorCode::BadInput);
                }
            }
        }
        let e = plan_runs(&config, &["01_customer".to_string()], RunMode::Sync, &sel(None, None, Some("a-to-b"))).unwrap_err();
        assert!(e.message.contains("use cloud-to-local, local-to-cloud, left-to-right or right-to-left"), "a named link explains its ways: {}", e.message);
    }
}
