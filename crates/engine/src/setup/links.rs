//! A link's field mapping, conflict and deletion policies and schedule, as the Syncs
//! screen shows and edits them.
//!
//! Invariants: an edit is checked first (names, duplicates, fields the systems describe,
//! the match key and id field kept right), then the whole new config is validated, and only
//! then written (temp file + rename); a refused edit writes nothing. The file is edited with
//! `toml_edit`, so comments, key order and the style of the `fields` list (inline array or
//! `[[links.NAME.fields]]`) survive; kept fields keep their type, transform and value renames.

use std::collections::BTreeSet;
use std::path::Path;

use crosswalk_core::config::{Config, ConflictPolicy, DeletePolicy, Direction, LinkDef, Side};
use crosswalk_core::connector::ObjectSchema;
use serde::{Deserialize, Serialize};

use super::{read_doc, write_doc};
use crate::error::{AppError, ErrorCode};
use crate::App;

/// One mapped field: left ↔ right, and its own direction when it differs from the link's.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldMapping {
    pub left: String,
    pub right: String,
    pub direction: Option<Direction>,
}

/// What the Syncs screen shows of a link.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LinkSettings {
    pub link: String,
    pub left_connection: String,
    pub left_object: String,
    pub right_connection: String,
    pub right_object: String,
    pub direction: Direction,
    pub conflict: ConflictPolicy,
    pub deletes: DeletePolicy,
    pub every_minutes: Option<u64>,
    pub on_save: bool,
    pub on_webhook: bool,
    pub fields: Vec<FieldMapping>,
    /// The natural key (left, right): these fields must stay mapped.
    pub match_key: Option<(String, String)>,
    /// The field holding the other side's id: it is never a mapped field.
    pub id_field: Option<(Side, String)>,
}

/// The editable part of a link, as a whole: the fields listed replace the mapping.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LinkEdit {
    pub conflict: ConflictPolicy,
    pub deletes: DeletePolicy,
    /// `None`: no schedule (save and webhook triggers and "Sync now" still run it).
    pub every_minutes: Option<u64>,
    pub on_save: bool,
    pub on_webhook: bool,
    pub fields: Vec<FieldMapping>,
}

/// A field a system describes, for the "add a field" lists.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FieldChoice {
    pub name: String,
    pub label: String,
    pub field_type: String,
    pub read_only: bool,
}

/// Both sides' fields and suggested pairs of fields not mapped yet.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct LinkFields {
    pub left: Vec<FieldChoice>,
    pub right: Vec<FieldChoice>,
    pub suggestions: Vec<FieldMapping>,
}

fn not_found(config_path: &Path, link: &str) -> AppError {
    AppError::new(ErrorCode::NotFound, format!("there is no sync named {link} in {}", config_path.display()))
}

/// The link's mapping, policies and schedule as the config file has them.
pub fn link_settings(config_path: &Path, link: &str) -> Result<LinkSettings, AppError> {
    let cfg = Config::load(config_path)?;
    let def = cfg.links.get(link).ok_or_else(|| not_found(config_path, link))?;
    Ok(settings_of(link, def))
}

fn settings_of(link: &str, def: &LinkDef) -> LinkSettings {
    LinkSettings {
        link: link.to_string(),
        left_connection: def.left.connection.clone(),
        left_object: def.left.object.clone(),
        right_connection: def.right.connection.clone(),
        right_object: def.right.object.clone(),
        direction: def.direction,
        conflict: def.conflict,
        deletes: def.deletes,
        every_minutes: def.triggers.every_minutes,
        on_save: def.triggers.on_save,
        on_webhook: def.triggers.on_webhook,
        fields: def.fields.iter().map(|f| FieldMapping { left: f.left.clone(), right: f.right.clone(), direction: f.direction }).collect(),
        match_key: def.match_key.as_ref().map(|m| (m.left.clone(), m.right.clone())),
        id_field: def.id_field.as_ref().map(|i| (i.side, i.field.clone())),
    }
}

/// The fields both objects of a link have (the engine's describe cache), with suggested
/// pairs for fields not mapped yet: same name or label, ignoring case and punctuation.
pub async fn link_fields(app: &App, link: &str) -> Result<LinkFields, AppError> {
    let def = app.config().links.get(link).ok_or_else(|| not_found(app.config_path(), link))?;
    let mut sides = vec![];
    for ep in [&def.left, &def.right] {
        let objects = app.describe(&ep.connection).await?;
        sides.push(objects.into_iter().find(|o| o.name == ep.object));
    }
    let right = sides.pop().flatten();
    let left = sides.pop().flatten();
    Ok(fields_and_suggestions(def, left.as_ref(), right.as_ref()))
}

fn fields_and_suggestions(def: &LinkDef, left: Option<&ObjectSchema>, right: Option<&ObjectSchema>) -> LinkFields {
    let choices = |o: Option<&ObjectSchema>| -> Vec<FieldChoice> {
        o.map(|o| {
            o.fields
                .iter()
                .map(|f| FieldChoice { name: f.name.clone(), label: f.label.clone(), field_type: format!("{:?}", f.field_type).to_lowercase(), read_only: f.read_only })
                .collect()
        })
        .unwrap_or_default()
    };
    let (left, right) = (choices(left), choices(right));
    let norm = |s: &str| s.chars().filter(|c| c.is_alphanumeric()).flat_map(char::to_lowercase).collect::<String>();
    let mapped_left: BTreeSet<&str> = def.fields.iter().map(|f| f.left.as_str()).collect();
    let mut taken_right: BTreeSet<String> = def.fields.iter().map(|f| f.right.clone()).collect();
    let reserved = def.id_field.as_ref().map(|i| (i.side, i.field.clone()));
    let is_id = |side: Side, name: &str| reserved.as_ref().is_some_and(|(s, f)| *s == side && f == name);
    let mut suggestions = vec![];
    for l in left.iter().filter(|l| !mapped_left.contains(l.name.as_str()) && !is_id(Side::Left, &l.name)) {
        let keys = [norm(&l.name), norm(&l.label)];
        let found = right.iter().find(|r| !taken_right.contains(&r.name) && !is_id(Side::Right, &r.name) && !r.read_only && (keys.contains(&norm(&r.name)) || keys.contains(&norm(&r.label))));
        if let Some(r) = found {
            taken_right.insert(r.name.clone());
            suggestions.push(FieldMapping { left: l.name.clone(), right: r.name.clone(), direction: None });
        }
    }
    LinkFields { left, right, suggestions }
}

/// Checks an edit against the link as it is and the fields the systems describe
/// (`known`, when they could be described). Pure.
fn check(link: &str, def: &LinkDef, edit: &LinkEdit, known: Option<&LinkFields>) -> Result<(), AppError> {
    let bad = |m: String| Err(AppError::new(ErrorCode::BadInput, m));
    if edit.every_minutes == Some(0) {
        return bad("the schedule must be at least every 1 minute; turn it off to sync only on save, webhook or Sync now".into());
    }
    if edit.fields.is_empty() {
        return bad(format!("sync {link} needs at least one mapped field"));
    }
    let (mut lefts, mut rights) = (BTreeSet::new(), BTreeSet::new());
    for f in &edit.fields {
        if f.left.trim().is_empty() || f.right.trim().is_empty() {
            return bad("choose a field on both sides (left and right) for every row".into());
        }
        if !lefts.insert(f.left.trim()) {
            return bad(format!("left field {:?} is mapped twice; remove one of the rows", f.left.trim()));
        }
        if !rights.insert(f.right.trim()) {
            return bad(format!("right field {:?} is mapped twice; remove one of the rows", f.right.trim()));
        }
    }
    if let Some(mk) = &def.match_key {
        if !edit.fields.iter().any(|f| f.left.trim() == mk.left && f.right.trim() == mk.right) {
            return bad(format!("{} ↔ {} is how sync {link} matches records; keep it mapped", mk.left, mk.right));
        }
    }
    if let Some(id) = &def.id_field {
        let hit = edit.fields.iter().any(|f| if id.side == Side::Left { f.left.trim() == id.field } else { f.right.trim() == id.field });
        if hit {
            return bad(format!("{} holds the other side's record id for sync {link}; it can't also be a mapped field", id.field));
        }
    }
    let existing: BTreeSet<(&str, &str)> = def.fields.iter().map(|f| (f.left.as_str(), f.right.as_str())).collect();
    if let Some(k) = known {
        for f in edit.fields.iter().filter(|f| !existing.contains(&(f.left.trim(), f.right.trim()))) {
            for (side, name, list, ep) in [(Side::Left, f.left.trim(), &k.left, &def.left), (Side::Right, f.right.trim(), &k.right, &def.right)] {
                if !list.is_empty() && !list.iter().any(|c| c.name == name) {
                    let some: Vec<&str> = list.iter().map(|c| c.name.as_str()).take(30).collect();
                    return bad(format!("{} field {name:?} does not exist on {} in {}; fields there: {}", side.as_str(), ep.object, ep.connection, some.join(", ")));
                }
            }
        }
    }
    Ok(())
}

fn direction_name(d: Direction) -> &'static str {
    match d {
        Direction::TwoWay => "two-way",
        Direction::LeftToRight => "left-to-right",
        Direction::RightToLeft => "right-to-left",
    }
}

fn conflict_name(c: ConflictPolicy) -> &'static str {
    match c {
        ConflictPolicy::NewestWins => "newest_wins",
        ConflictPolicy::LeftWins => "left_wins",
        ConflictPolicy::RightWins => "right_wins",
        ConflictPolicy::Ask => "ask",
    }
}

fn deletes_name(d: DeletePolicy) -> &'static str {
    match d {
        DeletePolicy::Ignore => "ignore",
        DeletePolicy::Propagate => "propagate",
        DeletePolicy::Ask => "ask",
    }
}

/// Sets `key` to `v`, keeping the old value's surrounding spaces and trailing comment.
fn set(t: &mut dyn toml_edit::TableLike, key: &str, v: impl Into<toml_edit::Value>) {
    let mut new: toml_edit::Value = v.into();
    if let Some(old) = t.get(key).and_then(|i| i.as_value()) {
        *new.decor_mut() = old.decor().clone();
    }
    t.insert(key, toml_edit::Item::Value(new));
}

/// Sets a trigger switch: written when it was there or differs from the default (on).
fn set_switch(t: &mut dyn toml_edit::TableLike, key: &str, on: bool) {
    if t.contains_key(key) || !on {
        set(t, key, on);
    }
}

fn entry_names(t: &dyn toml_edit::TableLike) -> (String, String) {
    let s = |k: &str| t.get(k).and_then(|i| i.as_str()).unwrap_or_default().to_string();
    (s("left"), s("right"))
}

fn set_direction(t: &mut dyn toml_edit::TableLike, d: Option<Direction>) {
    match d {
        Some(d) => set(t, "direction", direction_name(d)),
        None => {
            t.remove("direction");
        }
    }
}

/// Applies `edit` to link `link` in the config at `config_path`, after checking it, and
/// returns the link as saved. `known`: the fields the systems describe (new mapped fields
/// must be among them when given).
pub fn edit_link(config_path: &Path, link: &str, edit: &LinkEdit, known: Option<&LinkFields>) -> Result<LinkSettings, AppError> {
    let cfg = Config::load(config_path)?;
    let def = cfg.links.get(link).ok_or_else(|| not_found(config_path, link))?;
    check(link, def, edit, known)?;
    let wanted: Vec<FieldMapping> = edit.fields.iter().map(|f| FieldMapping { left: f.left.trim().to_string(), right: f.right.trim().to_string(), direction: f.direction }).collect();
    let find = |l: &str, r: &str| wanted.iter().find(|f| f.left == l && f.right == r);

    let mut doc = read_doc(config_path)?;
    let t = doc
        .get_mut("links")
        .and_then(|l| l.as_table_like_mut())
        .and_then(|l| l.get_mut(link))
        .and_then(|l| l.as_table_like_mut())
        .ok_or_else(|| AppError::bad_config(format!("links.{link} in {} is not a table", config_path.display())))?;
    set(t, "conflict", conflict_name(edit.conflict));
    set(t, "deletes", deletes_name(edit.deletes));

    if t.get("triggers").and_then(|i| i.as_table_like()).is_none() {
        t.insert("triggers", toml_edit::value(toml_edit::InlineTable::new()));
    }
    let trig = t.get_mut("triggers").and_then(|i| i.as_table_like_mut()).expect("triggers was just made a table");
    match edit.every_minutes {
        Some(m) => set(trig, "every_minutes", m as i64),
        None => {
            trig.remove("every_minutes");
        }
    }
    set_switch(trig, "on_save", edit.on_save);
    set_switch(trig, "on_webhook", edit.on_webhook);

    let mut kept = BTreeSet::new();
    match t.get_mut("fields") {
        Some(toml_edit::Item::Value(toml_edit::Value::Array(arr))) => {
            arr.retain(|v| v.as_inline_table().is_some_and(|it| {
                let (l, r) = entry_names(it);
                find(&l, &r).is_some()
            }));
            for v in arr.iter_mut() {
                if let Some(it) = v.as_inline_table_mut() {
                    let (l, r) = entry_names(it);
                    let want = find(&l, &r).and_then(|f| f.direction);
                    if it.get("direction").and_then(|d| d.as_str()) != want.map(direction_name) {
                        set_direction(it, want);
                        // Re-space only an entry that changed: `{ left = "a", right = "b", direction = "…" }`.
                        it.fmt();
                    }
                    kept.insert((l, r));
                }
            }
            let decor = arr.iter().last().map(|v| v.decor().clone());
            for f in wanted.iter().filter(|f| !kept.contains(&(f.left.clone(), f.right.clone()))) {
                let mut it = toml_edit::InlineTable::new();
                it.insert("left", f.left.as_str().into());
                it.insert("right", f.right.as_str().into());
                if let Some(d) = f.direction {
                    it.insert("direction", direction_name(d).into());
                }
                let mut v = toml_edit::Value::InlineTable(it);
                match &decor {
                    Some(d) => *v.decor_mut() = d.clone(),
                    None => v.decor_mut().set_prefix(" "),
                }
                arr.push_formatted(v);
            }
        }
        Some(toml_edit::Item::ArrayOfTables(aot)) => {
            aot.retain(|tb| {
                let (l, r) = entry_names(tb);
                find(&l, &r).is_some()
            });
            for tb in aot.iter_mut() {
                let (l, r) = entry_names(tb);
                set_direction(tb, find(&l, &r).and_then(|f| f.direction));
                kept.insert((l, r));
            }
            for f in wanted.iter().filter(|f| !kept.contains(&(f.left.clone(), f.right.clone()))) {
                let mut tb = toml_edit::Table::new();
                tb.insert("left", toml_edit::value(f.left.as_str()));
                tb.insert("right", toml_edit::value(f.right.as_str()));
                if let Some(d) = f.direction {
                    tb.insert("direction", toml_edit::value(direction_name(d)));
                }
                aot.push(tb);
            }
        }
        _ => return Err(AppError::bad_config(format!("links.{link}.fields in {} is not a list of fields", config_path.display()))),
    }
    write_doc(config_path, &doc)?;
    link_settings(config_path, link)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crosswalk_core::connector::FieldSchema;
    use crosswalk_core::value::FieldType;

    const CONFIG: &str = r#"# my own notes at the top
[connections.a]
kind = "memory"

[connections.b]
kind = "memory"

[links.people]
left = { connection = "a", object = "people" }
right = { connection = "b", object = "contacts" }
# match people by e-mail
match_key = { left = "email", right = "mail" }
conflict = "ask"   # ask me first
deletes = "ignore"
triggers = { every_minutes = 30, on_save = true }
fields = [
  { left = "email", right = "mail" },
  { left = "name", right = "full_name", transform = "trim" },
  { left = "phone", right = "tel" },
]

[links.orders]
left = { connection = "a", object = "orders" }
right = { connection = "b", object = "orders" }

[[links.orders.fields]]
left = "number"
right = "number"

[[links.orders.fields]]
left = "total"
right = "amount"
type = "decimal"
"#;

    fn setup() -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("crosswalk.toml");
        std::fs::write(&path, CONFIG).unwrap();
        (dir, path)
    }

    fn mapping(l: &str, r: &str, d: Option<Direction>) -> FieldMapping {
        FieldMapping { left: l.into(), right: r.into(), direction: d }
    }

    fn edit_of(s: &LinkSettings) -> LinkEdit {
        LinkEdit { conflict: s.conflict, deletes: s.deletes, every_minutes: s.every_minutes, on_save: s.on_save, on_webhook: s.on_webhook, fields: s.fields.clone() }
    }

    #[test]
    fn policies_schedule_and_fields_are_saved_keeping_comments_order_and_field_details() {
        let (_d, path) = setup();
        let now = link_settings(&path, "people").unwrap();
        assert_eq!((now.conflict, now.every_minutes, now.fields.len()), (ConflictPolicy::Ask, Some(30), 3), "the link is read as written");
        let mut e = edit_of(&now);
        e.conflict = ConflictPolicy::NewestWins;
        e.deletes = DeletePolicy::Propagate;
        e.every_minutes = Some(15);
        e.fields.retain(|f| f.left != "phone");
        e.fields[1].direction = Some(Direction::LeftToRight);
        e.fields.push(mapping("city", "town", Some(Direction::RightToLeft)));
        let saved = edit_link(&path, "people", &e, None).unwrap();
        assert_eq!((saved.conflict, saved.deletes, saved.every_minutes), (ConflictPolicy::NewestWins, DeletePolicy::Propagate, Some(15)), "policies and schedule saved");
        assert_eq!(saved.fields, vec![mapping("email", "mail", None), mapping("name", "full_name", Some(Direction::LeftToRight)), mapping("city", "town", Some(Direction::RightToLeft))], "phone removed, name one-way, city added");
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("# my own notes at the top\n"), "the user's comments survive: {text}");
        assert!(text.contains("# match people by e-mail") && text.contains("conflict = \"newest_wins\"   # ask me first"), "comments beside keys survive: {text}");
        assert!(text.contains("transform = \"trim\""), "a kept field keeps its transform: {text}");
        assert!(text.find("[links.people]").unwrap() < text.find("[links.orders]").unwrap(), "table order is kept");
        assert!(text.contains("on_save = true") && !text.contains("on_webhook"), "unchanged default switches are not added: {text}");
        Config::parse(&path, &text).expect("the written file loads");

        let mut e = edit_of(&saved);
        e.every_minutes = None;
        e.on_save = false;
        let saved = edit_link(&path, "people", &e, None).unwrap();
        assert_eq!((saved.every_minutes, saved.on_save), (None, false), "the schedule can be turned off");
    }

    #[test]
    fn array_of_tables_fields_keep_their_style() {
        let (_d, path) = setup();
        let mut e = edit_of(&link_settings(&path, "orders").unwrap());
        e.fields.push(mapping("date", "date", None));
        edit_link(&path, "orders", &e, None).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.matches("[[links.orders.fields]]").count(), 3, "a new field is one more [[...fields]] table: {text}");
        assert!(text.contains("type = \"decimal\""), "kept fields keep their type: {text}");
    }

    #[test]
    fn a_bad_edit_is_refused_and_writes_nothing() {
        let (_d, path) = setup();
        let now = link_settings(&path, "people").unwrap();
        let known = LinkFields {
            left: ["email", "name", "phone", "city"].iter().map(|n| FieldChoice { name: n.to_string(), label: n.to_string(), field_type: "text".into(), read_only: false }).collect(),
            right: ["mail", "full_name", "tel"].iter().map(|n| FieldChoice { name: n.to_string(), label: n.to_string(), field_type: "text".into(), read_only: false }).collect(),
            suggestions: vec![],
        };
        let cases: Vec<(&str, Box<dyn Fn(&mut LinkEdit)>)> = vec![
            ("schedule 0", Box::new(|e| e.every_minutes = Some(0))),
            ("no fields", Box::new(|e| e.fields.clear())),
            ("twice", Box::new(|e| e.fields.push(mapping("email", "tel", None)))),
            ("empty side", Box::new(|e| e.fields.push(mapping("city", " ", None)))),
            ("match key removed", Box::new(|e| e.fields.retain(|f| f.left != "email"))),
            ("unknown field", Box::new(|e| e.fields.push(mapping("city", "nowhere", None)))),
        ];
        for (what, change) in cases {
            let mut e = edit_of(&now);
            change(&mut e);
            let err = edit_link(&path, "people", &e, Some(&known)).unwrap_err();
            assert_eq!(err.code, ErrorCode::BadInput, "{what}: refused as bad input: {err}");
            assert_eq!(std::fs::read_to_string(&path).unwrap(), CONFIG, "{what}: nothing is written");
        }
        assert_eq!(edit_link(&path, "nope", &edit_of(&now), None).unwrap_err().code, ErrorCode::NotFound, "an unknown link is not found");
    }

    #[test]
    fn suggestions_pair_unmapped_fields_by_name_or_label() {
        let cfg = Config::parse(Path::new("x.toml"), CONFIG).unwrap();
        let def = &cfg.links["people"];
        let obj = |names: &[(&str, &str)]| ObjectSchema {
            name: "o".into(),
            label: "o".into(),
            fields: names.iter().map(|(n, l)| FieldSchema { label: l.to_string(), ..FieldSchema::new(n, FieldType::Text) }).collect(),
        };
        let f = fields_and_suggestions(def, Some(&obj(&[("email", "E-mail"), ("jobTitle", "Job title"), ("city", "City")])), Some(&obj(&[("mail", "Mail"), ("job_title", "Job Title"), ("Town", "City")])));
        assert_eq!(f.suggestions, vec![mapping("jobTitle", "job_title", None), mapping("city", "Town", None)], "mapped fields are not suggested; names and labels match loosely");
    }
}
