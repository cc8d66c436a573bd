//! The app API: what the CLI and the desktop shell call. Thin front ends map its results
//! and [`AppError`]s; all behaviour lives here and below.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use crosswalk_connectors::{BuildContext, KINDS};
use crosswalk_core::config::{Config, ConnectionDef, KeyPath, Side};
use crosswalk_core::connector::{Connector, Identity, ObjectSchema};
use crosswalk_core::planner::{ConflictKind, LinkSpec};
use crosswalk_core::runner::{self, LinkRun, Progress, RunOptions, RunReport, RunStatus};
use crosswalk_core::store::{ChangeRow, ConflictRow, ConflictStatus, RunRow, Store};
use crosswalk_core::value::{canonicalize, Value};
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

use crate::error::{AppError, ErrorCode};
use crate::events::AppEvent;
use crate::paths::Paths;
use crate::secrets;

/// Settings the engine reads from a `[connections.NAME]` table; they are not passed to the
/// connector.
pub const ENGINE_SETTINGS: &[&str] = &["secret_env", "webhook_port", "webhook_host", "webhook_secret_env", "client_secret_env", "refresh_token_env"];

/// How long a described schema is reused before asking the system again.
pub const SCHEMA_TTL: std::time::Duration = std::time::Duration::from_secs(600);

/// One run per link at a time; triggers during a run coalesce into one follow-up run.
#[derive(Default)]
struct LinkGate {
    lock: tokio::sync::Mutex<()>,
    pending: AtomicBool,
}

/// The running app: config, state store, connections and links.
pub struct App {
    paths: Paths,
    config_path: PathBuf,
    config: Config,
    store: Arc<Store>,
    connections: Mutex<BTreeMap<String, Arc<dyn Connector>>>,
    /// Described objects per connection, kept for [`SCHEMA_TTL`] so a run costs no
    /// metadata requests when nothing changed.
    schemas: Mutex<BTreeMap<String, (std::time::Instant, Vec<ObjectSchema>)>>,
    gates: BTreeMap<String, Arc<LinkGate>>,
    events: broadcast::Sender<AppEvent>,
}

/// How a person settles a conflict.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "take", content = "value")]
pub enum Take {
    Left,
    Right,
    /// A value typed by the person, written to both sides.
    Value(String),
}

/// A link's state at a glance (`crosswalk status`, the UI's home screen).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LinkStatus {
    pub link: String,
    pub left: String,
    pub right: String,
    pub pairs: usize,
    pub open_conflicts: usize,
    pub last_run: Option<RunRow>,
    pub last_ok_at: Option<String>,
    /// "waiting for Book.xlsx to be closed" when the last run could not write.
    pub waiting_for: Option<String>,
    pub every_minutes: Option<u64>,
}

impl App {
    /// Loads and validates the config at `config` (default: the OS config folder) and opens
    /// the state store. Any config problem is `BadConfig` naming file, line and key.
    pub fn open(config: Option<&Path>) -> Result<App, AppError> {
        let paths = Paths::from_env();
        let config_path = config.map(Path::to_path_buf).unwrap_or_else(|| paths.default_config());
        let cfg = Config::load(&config_path)?;
        Self::validate(&cfg)?;
        let store = Store::open(&paths.state_db(&config_path))?;
        let gates = cfg.links.keys().map(|k| (k.clone(), Arc::new(LinkGate::default()))).collect();
        let (events, _) = broadcast::channel(256);
        Ok(App { paths, config_path, config: cfg, store: Arc::new(store), connections: Mutex::new(BTreeMap::new()), schemas: Mutex::new(BTreeMap::new()), gates, events })
    }

    /// All config checks that need no network: keys, kinds, connection settings.
    pub fn validate(cfg: &Config) -> Result<(), AppError> {
        let mut errors: Vec<String> = match cfg.validate(KINDS) {
            Ok(()) => vec![],
            // A config whose only job is a zoho transfer has no links (zoho_transfer).
            Err(es) => es.iter().filter(|e| !(e.key == "links" && crate::zoho_transfer::has_transfer_job(cfg))).map(ToString::to_string).collect(),
        };
        for (name, def) in &cfg.connections {
            if !KINDS.contains(&def.kind.as_str()) {
                continue;
            }
            let ctx = BuildContext { base_dir: cfg.base_dir(), data_dir: std::env::temp_dir(), secret: Some(crosswalk_core::Secret::new("validation-only")) };
            if let Err(e) = crosswalk_connectors::build(name, &connector_def(def), &ctx) {
                errors.push(cfg.error_at(&KeyPath::connection(name).key(&e.key), e.message).to_string());
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(AppError::bad_config(errors.join("\n")))
        }
    }

    pub fn config(&self) -> &Config {
        &self.config
    }
    pub fn config_path(&self) -> &Path {
        &self.config_path
    }
    pub fn paths(&self) -> &Paths {
        &self.paths
    }
    pub fn store(&self) -> &Store {
        &self.store
    }
    /// The links "sync all", schedules and the watcher run: every link except those marked
    /// `triggers.manual` (run only by name).
    pub fn link_names(&self) -> Vec<String> {
        self.config.links.iter().filter(|(_, l)| !l.triggers.manual).map(|(k, _)| k.clone()).collect()
    }
    /// Every link in the config, manual ones included.
    pub fn all_link_names(&self) -> Vec<String> {
        self.config.links.keys().cloned().collect()
    }
    pub fn subscribe(&self) -> broadcast::Receiver<AppEvent> {
        self.events.subscribe()
    }
    pub(crate) fn emit(&self, e: AppEvent) {
        let _ = self.events.send(e);
    }

    fn def(&self, connection: &str) -> Result<&ConnectionDef, AppError> {
        self.config.connections.get(connection).ok_or_else(|| {
            AppError::new(ErrorCode::NotFound, format!("there is no connection {connection:?} in {}", self.config_path.display()))
        })
    }

    /// The connector of a connection, built on first use with its secret.
    pub fn connection(&self, name: &str) -> Result<Arc<dyn Connector>, AppError> {
        if let Some(c) = self.connections.lock().unwrap_or_else(|e| e.into_inner()).get(name) {
            return Ok(c.clone());
        }
        let def = self.def(name)?;
        let secret = if def.kind == "zoho" {
            // Client secret + refresh token, each with its own variable (zoho_auth).
            Some(crate::zoho_auth::connection_secret(name, def)?)
        } else if crosswalk_connectors::needs_secret(&def.kind) {
            let env = def.settings.get("secret_env").and_then(|v| v.as_str());
            match secrets::lookup(name, env).map_err(|m| AppError::new(ErrorCode::Unavailable, format!("connection {name}: {m}")))? {
                Some((s, _)) => Some(s),
                None => {
                    return Err(AppError::new(
                        ErrorCode::Auth,
                        format!(
                            "connection {name} has no secret: run `crosswalk login {name}`{}",
                            env.map(|e| format!(", or set {e}")).unwrap_or_else(|| format!(", or set {}", secrets::env_name(name)))
                        ),
                    ))
                }
            }
        } else if crate::setup::optional_secret(&def.kind) {
            // A webhook's signing secret: from the keyring when signed in, else none.
            let env = def.settings.get("secret_env").and_then(|v| v.as_str());
            secrets::lookup(name, env).map_err(|m| AppError::new(ErrorCode::Unavailable, format!("connection {name}: {m}")))?.map(|(s, _)| s)
        } else {
            def.settings.get("secret_env").and_then(|v| v.as_str()).and_then(|e| secrets::get(name, Some(e))).map(|(s, _)| s)
        };
        let ctx = BuildContext { base_dir: self.config.base_dir(), data_dir: self.paths.data_dir.clone(), secret };
        let conn = crosswalk_connectors::build(name, &connector_def(def), &ctx)
            .map_err(|e| AppError::bad_config(self.config.error_at(&KeyPath::connection(name).key(&e.key), e.message).to_string()))?;
        self.connections.lock().unwrap_or_else(|e| e.into_inner()).insert(name.to_string(), conn.clone());
        Ok(conn)
    }

    /// Checks a connection and says who it is signed in as.
    pub async fn health(&self, connection: &str) -> Result<Identity, AppError> {
        let c = self.connection(connection)?;
        Ok(c.health().await?)
    }

    /// The objects of a connection (cached for [`SCHEMA_TTL`]).
    pub async fn describe(&self, connection: &str) -> Result<Vec<ObjectSchema>, AppError> {
        if let Some((at, objs)) = self.schemas.lock().unwrap_or_else(|e| e.into_inner()).get(connection) {
            if at.elapsed() < SCHEMA_TTL {
                return Ok(objs.clone());
            }
        }
        let objs = self.connection(connection)?.describe().await?;
        if self.def(connection)?.kind == "workbook" {
            // A workbook is cheap to read and changes under the user's hands.
            return Ok(objs);
        }
        self.schemas.lock().unwrap_or_else(|e| e.into_inner()).insert(connection.to_string(), (std::time::Instant::now(), objs.clone()));
        Ok(objs)
    }

    /// Describes both objects of a link and checks every mapped field exists there.
    pub async fn prepare(&self, link: &str) -> Result<LinkSpec, AppError> {
        let def = self.config.links.get(link).ok_or_else(|| {
            AppError::new(ErrorCode::NotFound, format!("there is no link {link:?}; links in {}: {}", self.config_path.display(), self.all_link_names().join(", ")))
        })?;
        let mut schemas = Vec::new();
        for side in [Side::Left, Side::Right] {
            let ep = def.endpoint(side);
            let objects = self.describe(&ep.connection).await?;
            let Some(obj) = objects.into_iter().find(|o| o.name == ep.object) else {
                return Err(AppError::bad_config(self.config.error_at(&KeyPath::link(link).key(side.as_str()).key("object"), format!(
                    "connection {} has no object {:?}", ep.connection, ep.object)).to_string()));
            };
            if !obj.fields.is_empty() {
                let mut errors = vec![];
                for (i, f) in def.fields.iter().enumerate() {
                    let name = if side == Side::Left { &f.left } else { &f.right };
                    if obj.field(name).is_none() {
                        let known: Vec<&str> = obj.fields.iter().map(|f| f.name.as_str()).take(40).collect();
                        errors.push(self.config.error_at(&KeyPath::link(link).key("fields").index(i).key(side.as_str()), format!(
                            "field {name:?} does not exist on {} in connection {}; fields there: {}", ep.object, ep.connection, known.join(", "))).to_string());
                    }
                }
                if !errors.is_empty() {
                    return Err(AppError::bad_config(errors.join("\n")));
                }
            }
            schemas.push(obj);
        }
        let left = schemas.remove(0);
        Ok(LinkSpec::new(link, def.clone(), |name| left.field(name).map(|f| f.field_type)))
    }

    fn gate(&self, link: &str) -> Result<Arc<LinkGate>, AppError> {
        self.gates.get(link).cloned().ok_or_else(|| AppError::new(ErrorCode::NotFound, format!("there is no link {link:?}")))
    }

    /// Runs a link now, waiting for a run already under way to finish first.
    pub async fn run_link(&self, link: &str, opts: &RunOptions, progress: &dyn Progress) -> Result<RunReport, AppError> {
        self.run_link_selected(link, opts, None, progress).await
    }

    /// Runs a link now, limited to one record when `only` is given (`crosswalk sync
    /// --record`; see [`crate::select`]).
    pub async fn run_link_selected(&self, link: &str, opts: &RunOptions, only: Option<&runner::RecordSelection>, progress: &dyn Progress) -> Result<RunReport, AppError> {
        let gate = self.gate(link)?;
        let _guard = gate.lock.lock().await;
        self.run_locked(link, opts, only, progress).await
    }

    async fn run_locked(&self, link: &str, opts: &RunOptions, only: Option<&runner::RecordSelection>, progress: &dyn Progress) -> Result<RunReport, AppError> {
        self.emit(AppEvent::RunStarted { link: link.to_string(), trigger: opts.trigger.clone() });
        let result = async {
            let spec = self.prepare(link).await?;
            let left = self.connection(&spec.def.left.connection)?;
            let right = self.connection(&spec.def.right.connection)?;
            // Two Frappe sites: link fields are translated through the masters' pairs.
            let (left, right) = if crate::translate::applies(&self.config, &spec.def) {
                let find = |objs: Vec<ObjectSchema>, o: &str| objs.into_iter().find(|s| s.name == o);
                let ls = find(self.describe(&spec.def.left.connection).await?, &spec.def.left.object);
                let rs = find(self.describe(&spec.def.right.connection).await?, &spec.def.right.object);
                crate::translate::wrap(&self.config, link, &spec.def, left, right, ls.as_ref(), rs.as_ref(), self.store.clone())
            } else {
                (left, right)
            };
            let run = LinkRun {
                spec: &spec,
                left,
                right,
                store: &self.store,
                left_name: spec.def.left.connection.clone(),
                right_name: spec.def.right.connection.clone(),
            };
            Ok::<_, AppError>(runner::run_selected(&run, opts, only, progress).await?)
        }
        .await;
        match &result {
            Ok(report) => {
                tracing::info!(link, status = report.status.as_str(), writes = report.summary.writes(), "Run finished");
                if report.summary.conflicts_new > 0 {
                    self.emit(AppEvent::ConflictsWaiting { link: link.to_string(), count: report.summary.conflicts_open });
                }
                self.emit(AppEvent::RunFinished { report: report.clone() });
            }
            Err(e) => {
                tracing::warn!(link, error = %e, "Run failed");
                self.emit(AppEvent::RunFailed { link: link.to_string(), error: e.clone() });
            }
        }
        result
    }

    /// A trigger (schedule, save, webhook, click in the tray): runs the link unless a run is
    /// under way, in which case one follow-up run is queued. Returns the reports of the
    /// runs this call made (empty when it was coalesced into another caller's run).
    pub async fn trigger(&self, link: &str, trigger: &str) -> Vec<Result<RunReport, AppError>> {
        let mut out = vec![];
        let Ok(gate) = self.gate(link) else { return out };
        gate.pending.store(true, Ordering::SeqCst);
        loop {
            let Ok(guard) = gate.lock.try_lock() else { return out };
            if !gate.pending.swap(false, Ordering::SeqCst) {
                drop(guard);
                if gate.pending.load(Ordering::SeqCst) {
                    continue;
                }
                return out;
            }
            let opts = RunOptions { trigger: trigger.to_string(), ..RunOptions::default() };
            out.push(self.run_locked(link, &opts, None, &runner::NoProgress).await);
            drop(guard);
        }
    }

    /// Links that use a connection (for webhook and save triggers; manual links are left out).
    pub fn links_using(&self, connection: &str) -> Vec<String> {
        self.config
            .links
            .iter()
            .filter(|(_, l)| !l.triggers.manual && (l.left.connection == connection || l.right.connection == connection))
            .map(|(k, _)| k.clone())
            .collect()
    }

    pub fn runs(&self, link: Option<&str>, limit: usize) -> Result<Vec<RunRow>, AppError> {
        Ok(self.store.runs(link, limit)?)
    }

    pub fn changes(&self, run_id: i64) -> Result<Vec<ChangeRow>, AppError> {
        Ok(self.store.changes(run_id)?)
    }

    /// Open conflicts (all links, or one).
    pub fn conflicts(&self, link: Option<&str>) -> Result<Vec<ConflictRow>, AppError> {
        Ok(self.store.conflicts(link, Some(ConflictStatus::Open))?)
    }

    /// Records a person's answer; it is applied by the link's next run.
    pub fn resolve(&self, id: i64, take: &Take) -> Result<ConflictRow, AppError> {
        let c = self.store.conflict(id)?.ok_or_else(|| AppError::new(ErrorCode::NotFound, format!("there is no conflict {id}; list them with `crosswalk conflicts`")))?;
        let value = match (&c.conflict.kind, take) {
            (ConflictKind::Deleted(deleted), Take::Left | Take::Right) => {
                let taken = if *take == Take::Left { Side::Left } else { Side::Right };
                Value::Bool(taken == *deleted)
            }
            (ConflictKind::Deleted(_), Take::Value(_)) => {
                return Err(AppError::new(ErrorCode::BadInput, "a deleted record is settled with --take left or --take right"));
            }
            (ConflictKind::Field, Take::Left) => c.conflict.left.clone(),
            (ConflictKind::Field, Take::Right) => c.conflict.right.clone(),
            (ConflictKind::Field, Take::Value(v)) => {
                let ty = self
                    .config
                    .links
                    .get(&c.link)
                    .and_then(|l| l.fields.iter().find(|f| f.left == c.conflict.field))
                    .and_then(|f| f.field_type)
                    .unwrap_or_default();
                canonicalize(&Value::text(v.clone()), ty).map_err(|e| AppError::new(ErrorCode::BadInput, format!("{v:?} can't be used for {}: {e}", c.conflict.field)))?
            }
        };
        Ok(self.store.resolve_conflict(id, &value)?)
    }

    /// Every link's state at a glance.
    pub fn status(&self) -> Result<Vec<LinkStatus>, AppError> {
        let mut out = vec![];
        for (name, l) in &self.config.links {
            let runs = self.store.runs(Some(name), 50)?;
            let last_run = runs.first().cloned();
            let waiting_for = last_run.as_ref().filter(|r| r.status == RunStatus::Waiting.as_str()).and_then(|r| r.message.clone());
            out.push(LinkStatus {
                link: name.clone(),
                left: format!("{} {}", l.left.connection, l.left.object),
                right: format!("{} {}", l.right.connection, l.right.object),
                pairs: self.store.pair_count(name)?,
                open_conflicts: self.store.conflicts(Some(name), Some(ConflictStatus::Open))?.len(),
                last_ok_at: runs.iter().find(|r| r.status == "ok").and_then(|r| r.finished_at.clone()),
                last_run,
                waiting_for,
                every_minutes: l.triggers.every_minutes,
            });
        }
        Ok(out)
    }
}

/// The connection's settings without the engine's own keys.
fn connector_def(def: &ConnectionDef) -> ConnectionDef {
    let mut d = def.clone();
    for k in ENGINE_SETTINGS {
        d.settings.remove(*k);
    }
    d
}

/// Stores a connection's secret in the OS keyring (sign in).
pub fn login(connection: &str, secret: &crosswalk_core::Secret) -> Result<(), AppError> {
    secrets::set(connection, secret).map_err(|m| AppError::new(ErrorCode::Auth, m))
}

/// Deletes a connection's secret (sign out).
pub fn logout(connection: &str) -> Result<(), AppError> {
    secrets::delete(connection).map_err(|m| AppError::new(ErrorCode::Internal, m))
}
