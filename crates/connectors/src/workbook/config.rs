//! Workbook connection settings: parsed and validated purely (no I/O), every error names
//! the setting that is wrong and says what to write instead.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crosswalk_core::FieldType;

use crate::{setting_str, BuildContext, SettingsError};

/// Header of the hidden column that holds our stable row keys.
pub const KEY_HEADER: &str = "crosswalk_key";
/// The sheet deleted rows are moved to (with `on_delete = "move"`).
pub const DELETED_SHEET: &str = "Deleted";

/// What `delete` does to a row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnDelete {
    /// Copy the row to the `Deleted` sheet, then empty it in place.
    Move,
    /// Empty the row in place.
    Remove,
}

/// Per-sheet settings (`[connections.NAME.sheets.SHEET]`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SheetConfig {
    /// Column order for a new sheet or workbook.
    pub columns: Vec<String>,
    /// Columns written as text (other systems' ids: 19 digits, leading zeros).
    pub id_columns: Vec<String>,
    /// Columns holding dates (date format in a new workbook; serial numbers read as dates).
    pub date_columns: Vec<String>,
    /// Fixed options per column (drop-down validation in a new workbook).
    pub options: BTreeMap<String, Vec<String>>,
    /// Declared types (`types = { revenue = "decimal" }`); cells that don't fit are errors.
    pub types: BTreeMap<String, FieldType>,
}

impl SheetConfig {
    /// The declared type of a column, if any.
    pub fn declared_type(&self, column: &str) -> Option<FieldType> {
        if self.id_columns.iter().any(|c| c == column) {
            Some(FieldType::Id)
        } else if self.date_columns.iter().any(|c| c == column) {
            Some(FieldType::Date)
        } else if let Some(t) = self.types.get(column) {
            Some(*t)
        } else if self.options.contains_key(column) {
            Some(FieldType::Enum)
        } else {
            None
        }
    }
}

/// A validated workbook connection.
#[derive(Clone, Debug, PartialEq)]
pub struct WorkbookConfig {
    pub name: String,
    /// Absolute (or base-dir relative) path of the workbook.
    pub path: PathBuf,
    /// 1-based row holding the field names.
    pub header_row: u32,
    pub sheets: BTreeMap<String, SheetConfig>,
    pub on_delete: OnDelete,
    /// The app data folder (version history).
    pub data_dir: PathBuf,
}

/// The file formats we know, by extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Xlsx,
    /// `.xls` / `.ods`: read, never written.
    ReadOnly,
}

impl WorkbookConfig {
    pub fn format(&self) -> Format {
        match extension(&self.path).as_str() {
            "xls" | "ods" => Format::ReadOnly,
            _ => Format::Xlsx,
        }
    }

    pub fn file_name(&self) -> String {
        self.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
    }

    pub fn sheet(&self, name: &str) -> SheetConfig {
        self.sheets.get(name).cloned().unwrap_or_default()
    }
}

pub(crate) fn extension(path: &std::path::Path) -> String {
    path.extension().map(|e| e.to_string_lossy().to_ascii_lowercase()).unwrap_or_default()
}

fn bad(key: &str, message: impl Into<String>) -> SettingsError {
    SettingsError { key: key.into(), message: message.into() }
}

fn string_list(v: &toml::Value, key: &str) -> Result<Vec<String>, SettingsError> {
    let arr = v.as_array().ok_or_else(|| bad(key, "must be a list of column names, e.g. [\"id\", \"name\"]"))?;
    arr.iter()
        .map(|x| match x.as_str() {
            Some(s) if !s.trim().is_empty() => Ok(s.to_string()),
            _ => Err(bad(key, "must hold only non-empty column names in quotes")),
        })
        .collect()
}

fn parse_type(s: &str) -> Option<FieldType> {
    serde_json::from_value(serde_json::Value::String(s.to_string())).ok()
}

fn parse_sheet(sheet: &str, v: &toml::Value) -> Result<SheetConfig, SettingsError> {
    let prefix = format!("sheets.{sheet}");
    let table = v.as_table().ok_or_else(|| bad(&prefix, "must be a table such as { columns = [\"id\", \"name\"] }"))?;
    let mut cfg = SheetConfig::default();
    for (k, val) in table {
        let key = format!("{prefix}.{k}");
        match k.as_str() {
            "columns" => cfg.columns = string_list(val, &key)?,
            "id_columns" => cfg.id_columns = string_list(val, &key)?,
            "date_columns" => cfg.date_columns = string_list(val, &key)?,
            "options" => {
                let t = val.as_table().ok_or_else(|| bad(&key, "must be a table such as { status = [\"Active\", \"Lost\"] }"))?;
                for (col, opts) in t {
                    cfg.options.insert(col.clone(), string_list(opts, &format!("{key}.{col}"))?);
                }
            }
            "types" => {
                let t = val.as_table().ok_or_else(|| bad(&key, "must be a table such as { revenue = \"decimal\" }"))?;
                for (col, ty) in t {
                    let ty = ty.as_str().and_then(parse_type).ok_or_else(|| {
                        bad(&format!("{key}.{col}"), "must be one of: text, id, integer, decimal, float, bool, date, date_time, list, enum")
                    })?;
                    cfg.types.insert(col.clone(), ty);
                }
            }
            other => {
                return Err(bad(&key, format!("unknown setting {other:?}; use columns, id_columns, date_columns, options or types")))
            }
        }
    }
    let mut seen = std::collections::BTreeSet::new();
    for c in &cfg.columns {
        if c == KEY_HEADER {
            return Err(bad(&format!("{prefix}.columns"), format!("{KEY_HEADER:?} is Crosswalk's own hidden column; leave it out")));
        }
        if !seen.insert(c) {
            return Err(bad(&format!("{prefix}.columns"), format!("column {c:?} is listed twice")));
        }
    }
    Ok(cfg)
}

/// Validates settings purely; `path` is resolved against `ctx.base_dir`.
pub fn parse(name: &str, settings: &toml::Table, ctx: &BuildContext) -> Result<WorkbookConfig, SettingsError> {
    let raw_path = setting_str(settings, "path")?;
    let path = PathBuf::from(raw_path);
    let path = if path.is_absolute() { path } else { ctx.base_dir.join(path) };
    match extension(&path).as_str() {
        "xlsx" | "xlsm" | "xls" | "ods" => {}
        other => {
            return Err(bad("path", format!("{raw_path:?} has extension {other:?}; a workbook must end in .xlsx or .xlsm (.xls and .ods are read-only)")))
        }
    }
    let header_row = match settings.get("header_row") {
        None => 1,
        Some(toml::Value::Integer(n)) if (1..=1_048_576).contains(n) => *n as u32,
        Some(_) => return Err(bad("header_row", "must be a row number from 1 to 1048576 (the row holding the column names)")),
    };
    let on_delete = match settings.get("on_delete") {
        None => OnDelete::Move,
        Some(v) => match v.as_str() {
            Some("move") => OnDelete::Move,
            Some("remove") => OnDelete::Remove,
            _ => return Err(bad("on_delete", "must be \"move\" (to a Deleted sheet) or \"remove\"")),
        },
    };
    let mut sheets = BTreeMap::new();
    if let Some(v) = settings.get("sheets") {
        let t = v.as_table().ok_or_else(|| bad("sheets", "must be a table of sheet names, e.g. [connections.book.sheets.Companies]"))?;
        for (sheet, sv) in t {
            sheets.insert(sheet.clone(), parse_sheet(sheet, sv)?);
        }
    }
    for key in settings.keys() {
        if !matches!(key.as_str(), "kind" | "path" | "header_row" | "on_delete" | "sheets") {
            return Err(bad(key, "unknown setting; use path, header_row, on_delete or sheets"));
        }
    }
    Ok(WorkbookConfig { name: name.to_string(), path, header_row, sheets, on_delete, data_dir: ctx.data_dir.clone() })
}
