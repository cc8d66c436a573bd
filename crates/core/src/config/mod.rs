//! Link configuration: the TOML file users edit by hand and the UI writes.
//!
//! Loading is two steps: [`Config::parse`] (TOML → types; syntax and type errors carry the
//! line) and [`Config::validate`] (pure checks across keys). Every error is a
//! [`ConfigError`] naming the file, line and dotted key. Connection settings beyond `kind`
//! belong to the connector and are validated there; `core` knows no vendor.

mod locate;
mod validate;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::value::FieldType;

pub use locate::KeyPath;

/// A whole config file.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub connections: BTreeMap<String, ConnectionDef>,
    #[serde(default)]
    pub links: BTreeMap<String, LinkDef>,
    /// Where this config was read from (not part of the file).
    #[serde(skip)]
    pub source: Option<SourceFile>,
}

/// The file text a config came from, kept so later checks can point at a line.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SourceFile {
    pub path: PathBuf,
    pub text: String,
}

/// A connection: `kind` plus the connector's own non-secret settings.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ConnectionDef {
    pub kind: String,
    #[serde(flatten)]
    pub settings: toml::Table,
}

/// Which side of a link.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    Left,
    Right,
}

impl Side {
    pub fn other(self) -> Side {
        match self {
            Side::Left => Side::Right,
            Side::Right => Side::Left,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Left => "left",
            Side::Right => "right",
        }
    }
}

impl std::fmt::Display for Side {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which way changes flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Direction {
    #[default]
    TwoWay,
    LeftToRight,
    RightToLeft,
}

impl Direction {
    /// Whether a change seen on `from` may be copied to the other side.
    pub fn allows_from(self, from: Side) -> bool {
        match self {
            Direction::TwoWay => true,
            Direction::LeftToRight => from == Side::Left,
            Direction::RightToLeft => from == Side::Right,
        }
    }
}

/// How a field changed differently on both sides is settled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ConflictPolicy {
    #[default]
    NewestWins,
    LeftWins,
    RightWins,
    /// Park the conflict, leave both sides, and ask a person.
    Ask,
}

/// What a deletion on one side does to the other.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum DeletePolicy {
    /// Forget the pair's partner; never re-create it.
    #[default]
    Ignore,
    Propagate,
    Ask,
}

/// One object on one connection.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Endpoint {
    pub connection: String,
    pub object: String,
}

/// A natural key: records with equal canonical values here are the same record.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MatchKey {
    pub left: String,
    pub right: String,
}

/// A field on `side` that stores the *other* side's record id (a workbook's `id` column).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct IdField {
    pub side: Side,
    pub field: String,
}

/// A normalising transform applied to both sides before comparing, and when writing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Transform {
    Trim,
    Lower,
    Upper,
}

/// One mapped field.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FieldMap {
    pub left: String,
    pub right: String,
    /// The canonical type both sides are compared as. Default: the left field's type from
    /// the connector's schema, else text.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub field_type: Option<FieldType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transform: Option<Transform>,
    /// Restrict this field's flow (e.g. a column that is only ever filled from the CRM).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub direction: Option<Direction>,
    /// Value renames, left value → right value (e.g. `ACTIVE` → `Active`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub values: BTreeMap<String, String>,
}

/// The mass-delete brake: a run that would delete more stops and asks.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MassDeleteBrake {
    #[serde(default = "default_max_deletes")]
    pub max_count: usize,
    #[serde(default = "default_max_share")]
    pub max_share: f64,
}

fn default_max_deletes() -> usize {
    50
}
fn default_max_share() -> f64 {
    0.25
}

impl Default for MassDeleteBrake {
    fn default() -> Self {
        MassDeleteBrake { max_count: default_max_deletes(), max_share: default_max_share() }
    }
}

impl MassDeleteBrake {
    /// Whether deleting `count` of `total` records must stop and ask. Small runs (under
    /// five deletions) never trip the share rule, so a tiny table can still lose a row.
    pub fn trips(&self, count: usize, total: usize) -> bool {
        count > self.max_count || (count >= 5 && total > 0 && (count as f64 / total as f64) > self.max_share)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FilterOp {
    Eq,
    Neq,
    Empty,
    NotEmpty,
}

/// Only records passing every filter take part in the link.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Filter {
    pub side: Side,
    pub field: String,
    pub op: FilterOp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<toml::Value>,
}

/// After a record from `side` was written to the other side, set `field` on it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AfterWrite {
    pub side: Side,
    pub field: String,
    pub value: toml::Value,
}

/// What starts a run of this link besides a click.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Triggers {
    /// Run every N minutes (`None`: no schedule).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub every_minutes: Option<u64>,
    /// Run when a workbook on either side is saved.
    #[serde(default = "yes")]
    pub on_save: bool,
    /// Run when a verified webhook for either side arrives.
    #[serde(default = "yes")]
    pub on_webhook: bool,
    /// Run only when asked for by name (`crosswalk sync LINK`, the link's own Sync button):
    /// "sync all", schedules, saves and webhooks leave it alone. For one-time jobs such as
    /// an initial import.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub manual: bool,
}

fn yes() -> bool {
    true
}

impl Default for Triggers {
    fn default() -> Self {
        Triggers { every_minutes: None, on_save: true, on_webhook: true, manual: false }
    }
}

/// A link: left object ↔ right object and how they are kept in step.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LinkDef {
    pub left: Endpoint,
    pub right: Endpoint,
    #[serde(default)]
    pub direction: Direction,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub match_key: Option<MatchKey>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_field: Option<IdField>,
    pub fields: Vec<FieldMap>,
    #[serde(default)]
    pub conflict: ConflictPolicy,
    /// Which side wins a `newest_wins` tie (equal or unknown times).
    #[serde(default = "left")]
    pub tie_break: Side,
    #[serde(default)]
    pub deletes: DeletePolicy,
    #[serde(default)]
    pub mass_delete: MassDeleteBrake,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub filters: Vec<Filter>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub after_write: Vec<AfterWrite>,
    #[serde(default)]
    pub triggers: Triggers,
}

fn left() -> Side {
    Side::Left
}

impl LinkDef {
    pub fn endpoint(&self, side: Side) -> &Endpoint {
        match side {
            Side::Left => &self.left,
            Side::Right => &self.right,
        }
    }
}

/// A configuration problem, pointing at the file, line and key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}:{}: {key}: {message}", file.display(), line.map(|l| l.to_string()).unwrap_or_else(|| "?".into()))]
pub struct ConfigError {
    pub file: PathBuf,
    pub line: Option<usize>,
    /// Dotted key such as `links.companies.fields[2].right`.
    pub key: String,
    pub message: String,
}

impl Config {
    /// Parses config text. `path` is used in error messages and kept with the config.
    pub fn parse(path: &Path, text: &str) -> Result<Config, ConfigError> {
        let mut config: Config = toml::from_str(text).map_err(|e| {
            let line = e.span().map(|s| locate::line_of(text, s.start));
            let key = locate::key_near(text, e.span().map(|s| s.start).unwrap_or(0));
            ConfigError { file: path.to_path_buf(), line, key, message: e.message().trim().to_string() }
        })?;
        config.source = Some(SourceFile { path: path.to_path_buf(), text: text.to_string() });
        Ok(config)
    }

    /// Reads and parses a config file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: path.to_path_buf(),
            line: None,
            key: String::new(),
            message: format!("cannot read the config file: {e}. Create one with `crosswalk init PRESET` or pass --config FILE"),
        })?;
        Config::parse(path, &text)
    }

    /// Pure checks across keys: every link names existing connections of known kinds,
    /// fields are mapped once, keys name mapped fields. Returns every problem found.
    pub fn validate(&self, known_kinds: &[&str]) -> Result<(), Vec<ConfigError>> {
        validate::validate(self, known_kinds)
    }

    /// An error pointing at `key` in this config's source file.
    pub fn error_at(&self, key: &KeyPath, message: impl Into<String>) -> ConfigError {
        let (file, line) = match &self.source {
            Some(src) => (src.path.clone(), locate::line_of_key(&src.text, key)),
            None => (PathBuf::from("<config>"), None),
        };
        ConfigError { file, line, key: key.to_string(), message: message.into() }
    }

    /// Serialises to TOML (used by `init` and the UI; `source` is not written).
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_default()
    }

    /// The folder relative paths in the config are resolved against.
    pub fn base_dir(&self) -> PathBuf {
        self.source
            .as_ref()
            .and_then(|s| s.path.parent().map(Path::to_path_buf))
            .unwrap_or_else(|| PathBuf::from("."))
    }
}

#[cfg(test)]
mod tests;
