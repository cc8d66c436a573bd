//! From queued writes to cell edits: where new columns, new rows, row keys and deleted rows
//! go in one sheet. Pure: it looks only at the sheet as read and the queue.

use std::collections::{BTreeMap, BTreeSet};

use crosswalk_core::{Fields, Value};

use super::config::{SheetConfig, KEY_HEADER};
use super::read::SheetData;
use super::sheetxml::SheetEdits;

/// Writes queued for one sheet.
#[derive(Clone, Debug, Default)]
pub struct Pending {
    /// (new row key, fields), in order.
    pub creates: Vec<(String, Fields)>,
    /// Row key → fields to set (merged).
    pub updates: BTreeMap<String, Fields>,
    pub deletes: BTreeSet<String>,
}

impl Pending {
    pub fn is_empty(&self) -> bool {
        self.creates.is_empty() && self.updates.is_empty() && self.deletes.is_empty()
    }
}

/// The edits for one sheet, and the rows (as fields) it deletes.
#[derive(Debug, Default)]
pub struct SheetPlan {
    pub edits: SheetEdits,
    pub deleted: Vec<Fields>,
    /// Updates whose row is gone (deleted or its key cleared by the user meanwhile).
    pub lost_updates: Vec<String>,
}

/// Plans `pending` against `sheet` (`keys[i]` is the key of `sheet.rows[i]`; `fresh` marks
/// the rows whose key is not in the file yet). `header_row` is 0-based.
pub fn plan_sheet(sheet: &SheetData, keys: &[String], fresh: &[bool], pending: &Pending, cfg: &SheetConfig, header_row: u32) -> SheetPlan {
    let mut plan = SheetPlan::default();
    let ed = &mut plan.edits;
    ed.header_row = header_row;
    // Columns: existing headers, then configured columns missing from the sheet, then fields
    // nobody has seen before, in order of first appearance.
    let mut cols: BTreeMap<String, u32> = sheet.headers.iter().map(|(c, h)| (h.clone(), *c)).collect();
    let mut new_names: Vec<String> = vec![];
    if !sheet.has_header {
        new_names.extend(cfg.columns.iter().cloned());
    }
    let mut wanted = |name: &str| {
        if name != KEY_HEADER && !cols.contains_key(name) && !new_names.iter().any(|n| n == name) {
            new_names.push(name.to_string());
        }
    };
    for (_, f) in &pending.creates {
        f.keys().for_each(|k| wanted(k));
    }
    for f in pending.updates.values() {
        f.keys().for_each(|k| wanted(k));
    }
    let first_new = sheet.next_user_col().max(sheet.last_used_col.map_or(0, |c| c + 1));
    let after_new = first_new + new_names.len() as u32;
    let key_col = match sheet.key_col {
        Some(k) if k < first_new || k >= after_new => k,
        _ => after_new,
    };
    let key_moved = sheet.key_col != Some(key_col);
    if key_moved {
        if let Some(old) = sheet.key_col {
            ed.set(header_row, old, Value::Null, false);
        }
        ed.set(header_row, key_col, Value::Text(KEY_HEADER.into()), true);
        ed.hide_col = Some(key_col);
    }
    // New headers after clearing the old key header: a new column may take its place.
    for (i, name) in new_names.iter().enumerate() {
        let c = first_new + i as u32;
        cols.insert(name.clone(), c);
        ed.set(header_row, c, Value::Text(name.clone()), false);
    }
    let mut row_of: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, k) in keys.iter().enumerate() {
        row_of.insert(k.as_str(), i);
        let r = sheet.rows[i].row;
        if pending.deletes.contains(k) {
            continue;
        }
        if key_moved || fresh[i] {
            ed.set(r, key_col, Value::Text(k.clone()), true);
            if key_moved {
                if let Some(old) = sheet.key_col {
                    if old != key_col {
                        ed.set(r, old, Value::Null, false);
                    }
                }
            }
        }
    }
    let is_id = |name: &str| cfg.id_columns.iter().any(|c| c == name);
    for (key, fields) in &pending.updates {
        let Some(&i) = row_of.get(key.as_str()) else {
            plan.lost_updates.push(key.clone());
            continue;
        };
        if pending.deletes.contains(key) {
            continue;
        }
        for (name, v) in fields {
            if let Some(&c) = cols.get(name) {
                ed.set(sheet.rows[i].row, c, v.clone(), is_id(name));
            }
        }
    }
    for key in &pending.deletes {
        if let Some(&i) = row_of.get(key.as_str()) {
            let row = &sheet.rows[i];
            ed.clear_rows.insert(row.row);
            ed.cells.remove(&row.row);
            plan.deleted.push(row.fields.clone());
        }
    }
    let first = sheet.last_row.map_or(header_row + 1, |r| (r + 1).max(header_row + 1));
    for (next, (key, fields)) in (first..).zip(&pending.creates) {
        for (name, v) in fields {
            if let Some(&c) = cols.get(name) {
                if !v.is_null() {
                    ed.set(next, c, v.clone(), is_id(name));
                }
            }
        }
        ed.set(next, key_col, Value::Text(key.clone()), true);
    }
    plan
}

/// Edits appending deleted rows to the `Deleted` sheet (read as `existing`, if it exists).
pub fn plan_deleted(existing: Option<&SheetData>, moved: &[(String, Fields)], now: &str) -> SheetEdits {
    let mut ed = SheetEdits::default();
    let mut cols: BTreeMap<String, u32> = existing.map(|s| s.headers.iter().map(|(c, h)| (h.clone(), *c)).collect()).unwrap_or_default();
    let mut next_col = existing.map_or(0, |s| s.next_user_col().max(s.last_used_col.map_or(0, |c| c + 1)));
    let mut col_for = |name: &str, ed: &mut SheetEdits| -> u32 {
        if let Some(c) = cols.get(name) {
            return *c;
        }
        let c = next_col;
        next_col += 1;
        cols.insert(name.to_string(), c);
        ed.set(0, c, Value::Text(name.to_string()), false);
        c
    };
    let first = existing.and_then(|s| s.last_row).map_or(1, |r| r + 1);
    for (row, (sheet, fields)) in (first..).zip(moved) {
        let c = col_for("deleted_from", &mut ed);
        ed.set(row, c, Value::Text(sheet.clone()), false);
        let c = col_for("deleted_at", &mut ed);
        ed.set(row, c, Value::Text(now.to_string()), false);
        for (name, v) in fields {
            let c = col_for(name, &mut ed);
            if !v.is_null() {
                ed.set(row, c, v.clone(), matches!(v, Value::Text(_)));
            }
        }
    }
    ed
}
