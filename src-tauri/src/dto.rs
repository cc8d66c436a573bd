//! What crosses the IPC boundary, as typed for the generated `ui/src/bindings.ts`.
//!
//! These are views of the engine's types (flattened values, plain counts); conversion is
//! field-for-field, with no decisions in it.

use std::collections::BTreeMap;

use crosswalk_core::config::{ConflictPolicy, DeletePolicy, Direction};
use crosswalk_core::planner::ConflictKind;
use crosswalk_core::runner::{RunReport, RunSummary};
use crosswalk_core::store::{ChangeRow, ConflictRow, RunRow};
use crosswalk_engine::control::{Summary, WorkbookVersion};
use crosswalk_engine::setup::links::{FieldChoice, FieldMapping, LinkEdit, LinkFields, LinkSettings};
use crosswalk_engine::setup::{ConnectionInfo, FormField, SignInForm};
use crosswalk_engine::{AppError, AppEvent, ErrorCode, LinkStatus, Take};
use serde::{Deserialize, Serialize};
use specta::Type;

/// The one error shape the UI receives.
#[derive(Clone, Debug, Serialize, Deserialize, Type)]
pub struct UiError {
    pub code: Code,
    pub message: String,
}

/// Stable error codes (the engine's `ErrorCode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "snake_case")]
pub enum Code {
    BadConfig,
    BadInput,
    Auth,
    Unavailable,
    Locked,
    NotFound,
    Internal,
}

impl From<AppError> for UiError {
    fn from(e: AppError) -> Self {
        let code = match e.code {
            ErrorCode::BadConfig => Code::BadConfig,
            ErrorCode::BadInput => Code::BadInput,
            ErrorCode::Auth => Code::Auth,
            ErrorCode::Unavailable => Code::Unavailable,
            ErrorCode::Locked => Code::Locked,
            ErrorCode::NotFound => Code::NotFound,
            ErrorCode::Internal => Code::Internal,
        };
        UiError { code, message: e.message }
    }
}

impl UiError {
    pub fn internal(message: impl Into<String>) -> Self {
        UiError { code: Code::Internal, message: message.into() }
    }
}

pub type UiResult<T> = Result<T, UiError>;

/// The header line and the tray tooltip.
#[derive(Clone, Debug, Serialize, Deserialize, Type)]
pub struct Overview {
    pub configured: bool,
    pub config_path: String,
    pub paused: bool,
    pub tooltip: String,
    pub open_conflicts: u32,
    pub config_error: Option<String>,
    pub links: Vec<LinkView>,
}

impl Overview {
    pub fn new(config_path: String, s: &Summary, links: Vec<LinkStatus>) -> Self {
        Overview {
            configured: s.configured,
            config_path,
            paused: s.paused,
            tooltip: s.tooltip(),
            open_conflicts: s.open_conflicts as u32,
            config_error: s.config_error.clone(),
            links: links.into_iter().map(LinkView::from).collect(),
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, Type)]
pub struct LinkView {
    pub link: String,
    pub left: String,
    pub right: String,
    pub pairs: u32,
    pub open_conflicts: u32,
    pub last_status: Option<String>,
    pub last_ok_at: Option<String>,
    pub waiting_for: Option<String>,
    pub every_minutes: Option<u32>,
}

impl From<LinkStatus> for LinkView {
    fn from(l: LinkStatus) -> Self {
        LinkView {
            link: l.link,
            left: l.left,
            right: l.right,
            pairs: l.pairs as u32,
            open_conflicts: l.open_conflicts as u32,
            last_status: l.last_run.map(|r| r.status),
            last_ok_at: l.last_ok_at,
            waiting_for: l.waiting_for,
            every_minutes: l.every_minutes.map(|m| m as u32),
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, Type)]
pub struct ConnectionView {
    pub name: String,
    pub kind: String,
    pub location: Option<String>,
    /// Text settings to fill the sign-in form again (never a secret).
    pub settings: BTreeMap<String, String>,
    pub signed_in: bool,
    pub needs_secret: bool,
    /// The secret may be left out (a webhook's signing key).
    pub secret_optional: bool,
    /// "the OS keyring did not answer within 10 s — …" when it could not be asked.
    pub secret_error: Option<String>,
}

impl From<ConnectionInfo> for ConnectionView {
    fn from(c: ConnectionInfo) -> Self {
        ConnectionView {
            name: c.name,
            kind: c.kind,
            location: c.location,
            settings: c.settings,
            signed_in: c.signed_in,
            needs_secret: c.needs_secret,
            secret_optional: c.secret_optional,
            secret_error: c.secret_error,
        }
    }
}

/// One input of a sign-in form; `secret` inputs go to the keyring only.
#[derive(Clone, Debug, Serialize, Deserialize, Type)]
pub struct FormFieldView {
    pub key: String,
    pub label: String,
    pub placeholder: String,
    pub secret: bool,
    pub required: bool,
    pub hint: Option<String>,
}

/// The sign-in form of one kind of system (from the engine, so every front end asks the same).
#[derive(Clone, Debug, Serialize, Deserialize, Type)]
pub struct SignInFormView {
    pub kind: String,
    pub label: String,
    pub fields: Vec<FormFieldView>,
    pub oauth: bool,
}

impl From<SignInForm> for SignInFormView {
    fn from(f: SignInForm) -> Self {
        let field = |x: FormField| FormFieldView { key: x.key, label: x.label, placeholder: x.placeholder, secret: x.secret, required: x.required, hint: x.hint };
        SignInFormView { kind: f.kind, label: f.label, fields: f.fields.into_iter().map(field).collect(), oauth: f.oauth }
    }
}

/// A sign-in form: the connection's settings (`url`, …) and its secret (never stored
/// anywhere but the keyring).
#[derive(Clone, Debug, Serialize, Deserialize, Type)]
pub struct ConnectionForm {
    pub name: String,
    pub kind: String,
    pub settings: BTreeMap<String, String>,
    pub secret: Option<String>,
}

/// How a field changed differently on both sides is settled (the link's `conflict`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "snake_case")]
pub enum ConflictPolicyView {
    NewestWins,
    LeftWins,
    RightWins,
    Ask,
}

/// What a deletion on one side does to the other (the link's `deletes`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "snake_case")]
pub enum DeletePolicyView {
    Ignore,
    Propagate,
    Ask,
}

/// Which way changes flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Type)]
#[serde(rename_all = "snake_case")]
pub enum DirectionView {
    TwoWay,
    LeftToRight,
    RightToLeft,
}

impl From<ConflictPolicy> for ConflictPolicyView {
    fn from(c: ConflictPolicy) -> Self {
        match c {
            ConflictPolicy::NewestWins => Self::NewestWins,
            ConflictPolicy::LeftWins => Self::LeftWins,
            ConflictPolicy::RightWins => Self::RightWins,
            ConflictPolicy::Ask => Self::Ask,
        }
    }
}

impl From<ConflictPolicyView> for ConflictPolicy {
    fn from(c: ConflictPolicyView) -> Self {
        match c {
            ConflictPolicyView::NewestWins => Self::NewestWins,
            ConflictPolicyView::LeftWins => Self::LeftWins,
            ConflictPolicyView::RightWins => Self::RightWins,
            ConflictPolicyView::Ask => Self::Ask,
        }
    }
}

impl From<DeletePolicy> for DeletePolicyView {
    fn from(d: DeletePolicy) -> Self {
        match d {
            DeletePolicy::Ignore => Self::Ignore,
            DeletePolicy::Propagate => Self::Propagate,
            DeletePolicy::Ask => Self::Ask,
        }
    }
}

impl From<DeletePolicyView> for DeletePolicy {
    fn from(d: DeletePolicyView) -> Self {
        match d {
            DeletePolicyView::Ignore => Self::Ignore,
            DeletePolicyView::Propagate => Self::Propagate,
            DeletePolicyView::Ask => Self::Ask,
        }
    }
}

impl From<Direction> for DirectionView {
    fn from(d: Direction) -> Self {
        match d {
            Direction::TwoWay => Self::TwoWay,
            Direction::LeftToRight => Self::LeftToRight,
            Direction::RightToLeft => Self::RightToLeft,
        }
    }
}

impl From<DirectionView> for Direction {
    fn from(d: DirectionView) -> Self {
        match d {
            DirectionView::TwoWay => Self::TwoWay,
            DirectionView::LeftToRight => Self::LeftToRight,
            DirectionView::RightToLeft => Self::RightToLeft,
        }
    }
}

/// One mapped field; `direction` only when it differs from the link's.
#[derive(Clone, Debug, Serialize, Deserialize, Type)]
pub struct FieldMappingView {
    pub left: String,
    pub right: String,
    pub direction: Option<DirectionView>,
}

impl From<FieldMapping> for FieldMappingView {
    fn from(f: FieldMapping) -> Self {
        FieldMappingView { left: f.left, right: f.right, direction: f.direction.map(Into::into) }
    }
}

impl From<FieldMappingView> for FieldMapping {
    fn from(f: FieldMappingView) -> Self {
        FieldMapping { left: f.left, right: f.right, direction: f.direction.map(Into::into) }
    }
}

/// A link's mapping, policies and schedule (Syncs → Edit).
#[derive(Clone, Debug, Serialize, Deserialize, Type)]
pub struct LinkSettingsView {
    pub link: String,
    pub left_connection: String,
    pub left_object: String,
    pub right_connection: String,
    pub right_object: String,
    pub direction: DirectionView,
    pub conflict: ConflictPolicyView,
    pub deletes: DeletePolicyView,
    pub every_minutes: Option<u32>,
    pub on_save: bool,
    pub on_webhook: bool,
    pub fields: Vec<FieldMappingView>,
    /// `[left, right]`: how records are matched; these stay mapped.
    pub match_key: Option<[String; 2]>,
    /// `[side, field]`: the field holding the other side's id (not mappable).
    pub id_field: Option<[String; 2]>,
}

impl From<LinkSettings> for LinkSettingsView {
    fn from(s: LinkSettings) -> Self {
        LinkSettingsView {
            link: s.link,
            left_connection: s.left_connection,
            left_object: s.left_object,
            right_connection: s.right_connection,
            right_object: s.right_object,
            direction: s.direction.into(),
            conflict: s.conflict.into(),
            deletes: s.deletes.into(),
            every_minutes: s.every_minutes.map(|m| m.min(u32::MAX as u64) as u32),
            on_save: s.on_save,
            on_webhook: s.on_webhook,
            fields: s.fields.into_iter().map(Into::into).collect(),
            match_key: s.match_key.map(|(l, r)| [l, r]),
            id_field: s.id_field.map(|(side, f)| [side.as_str().to_string(), f]),
        }
    }
}

/// "Save" on the link editor: the fields listed replace the mapping.
#[derive(Clone, Debug, Serialize, Deserialize, Type)]
pub struct LinkEditForm {
    pub conflict: ConflictPolicyView,
    pub deletes: DeletePolicyView,
    pub every_minutes: Option<u32>,
    pub on_save: bool,
    pub on_webhook: bool,
    pub fields: Vec<FieldMappingView>,
}

impl From<LinkEditForm> for LinkEdit {
    fn from(f: LinkEditForm) -> Self {
        LinkEdit {
            conflict: f.conflict.into(),
            deletes: f.deletes.into(),
            every_minutes: f.every_minutes.map(u64::from),
            on_save: f.on_save,
            on_webhook: f.on_webhook,
            fields: f.fields.into_iter().map(Into::into).collect(),
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, Type)]
pub struct FieldChoiceView {
    pub name: String,
    pub label: String,
    pub field_type: String,
    pub read_only: bool,
}

/// Both sides' fields (the engine's describe cache) and suggested pairs.
#[derive(Clone, Debug, Serialize, Deserialize, Type)]
pub struct LinkFieldsView {
    pub left: Vec<FieldChoiceView>,
    pub right: Vec<FieldChoiceView>,
    pub suggestions: Vec<FieldMappingView>,
}

impl From<LinkFields> for LinkFieldsView {
    fn from(f: LinkFields) -> Self {
        let c = |x: FieldChoice| FieldChoiceView { name: x.name, label: x.label, field_type: x.field_type, read_only: x.read_only };
        LinkFieldsView { left: f.left.into_iter().map(c).collect(), right: f.right.into_iter().map(c).collect(), suggestions: f.suggestions.into_iter().map(Into::into).collect() }
    }
}

/// "Create a sync from a preset".
#[derive(Clone, Debug, Serialize, Deserialize, Type)]
pub struct PresetForm {
    pub preset: String,
    /// The preset's old-script variables (`TWENTY_API_URL`, `EXCEL_FILE_PATH`, …).
    pub values: BTreeMap<String, String>,
    pub replace: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize, Type)]
pub struct PresetCreatedView {
    pub links: Vec<String>,
    pub secrets_missing: Vec<String>,
}

/// Per-side counts: index 0 is the left system, 1 the right.
#[derive(Clone, Debug, Default, Serialize, Deserialize, Type)]
pub struct Counts {
    pub read: [u32; 2],
    pub created: [u32; 2],
    pub updated: [u32; 2],
    pub deleted: [u32; 2],
    pub failed: [u32; 2],
    pub planned_create: [u32; 2],
    pub planned_update: [u32; 2],
    pub planned_delete: [u32; 2],
    pub conflicts_open: u32,
    pub conflicts_new: u32,
    pub errors: Vec<String>,
    pub warnings: Vec<String>,
    pub waiting_for: Option<String>,
}

fn pair(a: [usize; 2]) -> [u32; 2] {
    [a[0] as u32, a[1] as u32]
}

impl From<&RunSummary> for Counts {
    fn from(s: &RunSummary) -> Self {
        Counts {
            read: pair(s.read),
            created: pair(s.created),
            updated: pair(s.updated),
            deleted: pair(s.deleted),
            failed: pair(s.failed),
            planned_create: pair(s.planned_create),
            planned_update: pair(s.planned_update),
            planned_delete: pair(s.planned_delete),
            conflicts_open: s.conflicts_open as u32,
            conflicts_new: s.conflicts_new as u32,
            errors: s.errors.clone(),
            warnings: s.warnings.clone(),
            waiting_for: s.waiting_for.clone(),
        }
    }
}

/// One run (Activity), from the audit log or just finished.
#[derive(Clone, Debug, Serialize, Deserialize, Type)]
pub struct RunView {
    pub id: i32,
    pub link: String,
    pub trigger: String,
    pub status: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub message: Option<String>,
    pub counts: Counts,
    /// For a dry run: the planned writes, one line each (at most 200).
    pub preview: Vec<String>,
}

impl From<RunRow> for RunView {
    fn from(r: RunRow) -> Self {
        let summary: RunSummary = serde_json::from_value(r.summary).unwrap_or_default();
        RunView {
            id: r.id as i32,
            link: r.link,
            trigger: r.trigger,
            status: r.status,
            started_at: Some(r.started_at),
            finished_at: r.finished_at,
            message: r.message,
            counts: Counts::from(&summary),
            preview: vec![],
        }
    }
}

impl From<&RunReport> for RunView {
    fn from(r: &RunReport) -> Self {
        let preview = r.plan.as_ref().map(|p| crate::preview::lines(p, 200)).unwrap_or_default();
        RunView {
            id: r.run_id as i32,
            link: r.link.clone(),
            trigger: "manual".into(),
            status: r.status.as_str().into(),
            started_at: None,
            finished_at: None,
            message: r.message.clone(),
            counts: Counts::from(&r.summary),
            preview,
        }
    }
}

/// A run that could not start or failed, next to the ones that ran.
#[derive(Clone, Debug, Serialize, Deserialize, Type)]
pub struct RunOutcome {
    pub link: String,
    pub run: Option<RunView>,
    pub error: Option<UiError>,
}

impl RunOutcome {
    pub fn new(link: &str, r: Result<RunReport, AppError>) -> Self {
        match r {
            Ok(rep) => RunOutcome { link: link.into(), run: Some(RunView::from(&rep)), error: None },
            Err(e) => RunOutcome { link: link.into(), run: None, error: Some(e.into()) },
        }
    }
}

/// One changed record/field: before → after.
#[derive(Clone, Debug, Serialize, Deserialize, Type)]
pub struct ChangeView {
    pub side: String,
    pub record_id: String,
    pub action: String,
    pub field: Option<String>,
    pub before: Option<String>,
    pub after: Option<String>,
    pub note: Option<String>,
}

impl From<ChangeRow> for ChangeView {
    fn from(c: ChangeRow) -> Self {
        ChangeView { side: c.side, record_id: c.record_id, action: c.action, field: c.field, before: c.before, after: c.after, note: c.note }
    }
}

/// A parked conflict: base, left and right side by side.
#[derive(Clone, Debug, Serialize, Deserialize, Type)]
pub struct ConflictView {
    pub id: i32,
    pub link: String,
    pub left_id: String,
    pub right_id: String,
    pub field: String,
    /// `field`, or `deleted_left` / `deleted_right`.
    pub kind: String,
    pub base: String,
    pub left: String,
    pub right: String,
    pub created_at: String,
}

impl From<ConflictRow> for ConflictView {
    fn from(c: ConflictRow) -> Self {
        let kind = match c.conflict.kind {
            ConflictKind::Field => "field".to_string(),
            ConflictKind::Deleted(side) => format!("deleted_{}", side.as_str()),
        };
        ConflictView {
            id: c.id as i32,
            link: c.link,
            left_id: c.conflict.left_id,
            right_id: c.conflict.right_id,
            field: c.conflict.field,
            kind,
            base: c.conflict.base.display(),
            left: c.conflict.left.display(),
            right: c.conflict.right.display(),
            created_at: c.created_at,
        }
    }
}

/// How a person settles a conflict.
#[derive(Clone, Debug, Serialize, Deserialize, Type)]
#[serde(tag = "take", content = "value", rename_all = "snake_case")]
pub enum TakeView {
    Left,
    Right,
    Value(String),
}

impl From<TakeView> for Take {
    fn from(t: TakeView) -> Self {
        match t {
            TakeView::Left => Take::Left,
            TakeView::Right => Take::Right,
            TakeView::Value(v) => Take::Value(v),
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, Type)]
pub struct VersionView {
    pub connection: String,
    pub path: String,
    pub number: u32,
    pub saved_at: String,
    pub bytes: u32,
}

impl From<WorkbookVersion> for VersionView {
    fn from(v: WorkbookVersion) -> Self {
        VersionView { connection: v.connection, path: v.path, number: v.number as u32, saved_at: v.saved_at, bytes: v.bytes.min(u32::MAX as u64) as u32 }
    }
}

/// The engine's events as the UI receives them (`events.engineEvent.listen`).
#[derive(Clone, Debug, Serialize, Deserialize, Type, tauri_specta::Event)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EngineEvent {
    RunStarted { link: String, trigger: String },
    RunProgress { link: String, stage: String, done: u32, total: u32 },
    RunFinished { run: RunView },
    RunFailed { link: String, error: UiError },
    ConflictsWaiting { link: String, count: u32 },
    TriggerSeen { link: String, trigger: String },
    /// Paused, resumed, config reloaded: refresh the overview.
    StateChanged,
}

impl From<AppEvent> for EngineEvent {
    fn from(e: AppEvent) -> Self {
        match e {
            AppEvent::RunStarted { link, trigger } => EngineEvent::RunStarted { link, trigger },
            AppEvent::RunProgress { link, stage, done, total } => EngineEvent::RunProgress { link, stage, done: done as u32, total: total as u32 },
            AppEvent::RunFinished { report } => EngineEvent::RunFinished { run: RunView::from(&report) },
            AppEvent::RunFailed { link, error } => EngineEvent::RunFailed { link, error: error.into() },
            AppEvent::ConflictsWaiting { link, count } => EngineEvent::ConflictsWaiting { link, count: count as u32 },
            AppEvent::TriggerSeen { link, trigger } => EngineEvent::TriggerSeen { link, trigger },
        }
    }
}
