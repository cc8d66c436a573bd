//! A long-running front end's handle on the engine (the desktop app, the tray): the
//! current [`App`] with its triggers running, reopened when the config changes; pause and
//! resume; "sync now" with live progress; and the one-line status the tray shows.
//!
//! Invariants: at most one set of triggers runs at a time (a reload stops the old ones
//! first); events of every [`App`] this runtime opens reach [`Runtime::subscribe`]rs, so a
//! reload never drops the UI's subscription.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use crosswalk_core::runner::{Progress, RunOptions, RunReport};
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

use crate::error::{AppError, ErrorCode};
use crate::events::AppEvent;
use crate::watch::{self, Watching};
use crate::{App, Paths, Take};

/// The running engine of a desktop session.
pub struct Runtime {
    config_path: PathBuf,
    paths: Paths,
    app: RwLock<Option<Arc<App>>>,
    watching: tokio::sync::Mutex<Option<Watching>>,
    paused: AtomicBool,
    events: broadcast::Sender<AppEvent>,
    /// Why the config could not be opened, for the UI.
    open_error: RwLock<Option<AppError>>,
}

/// What the tray tooltip and the window header show.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Summary {
    pub configured: bool,
    pub paused: bool,
    pub links: usize,
    pub last_sync_at: Option<String>,
    pub open_conflicts: usize,
    /// Links whose last run failed or was partial, with its message.
    pub errors: Vec<String>,
    /// "waiting for crm.xlsx to be closed".
    pub waiting_for: Vec<String>,
    pub config_error: Option<String>,
}

impl Summary {
    /// One short text for a tray tooltip.
    pub fn tooltip(&self) -> String {
        let mut parts = vec!["Crosswalk".to_string()];
        if !self.configured {
            parts.push("not set up yet".into());
        }
        if self.paused {
            parts.push("paused".into());
        }
        match &self.last_sync_at {
            Some(t) => parts.push(format!("last sync {t}")),
            None if self.configured => parts.push("not synced yet".into()),
            None => {}
        }
        if self.open_conflicts > 0 {
            parts.push(format!("{} conflict(s) to review", self.open_conflicts));
        }
        parts.extend(self.waiting_for.iter().cloned());
        if !self.errors.is_empty() {
            parts.push(format!("{} error(s): {}", self.errors.len(), self.errors[0]));
        }
        parts.join(" · ")
    }
}

impl Runtime {
    /// A runtime for the config at `config` (default: the OS config folder). Call
    /// [`Runtime::reload`] to open it and start the triggers.
    pub fn new(config: Option<&Path>) -> Arc<Runtime> {
        let paths = Paths::from_env();
        let config_path = config.map(Path::to_path_buf).unwrap_or_else(|| paths.default_config());
        let (events, _) = broadcast::channel(512);
        Arc::new(Runtime {
            config_path,
            paths,
            app: RwLock::new(None),
            watching: tokio::sync::Mutex::new(None),
            paused: AtomicBool::new(false),
            events,
            open_error: RwLock::new(None),
        })
    }

    pub fn config_path(&self) -> &Path {
        &self.config_path
    }
    pub fn paths(&self) -> &Paths {
        &self.paths
    }
    pub fn subscribe(&self) -> broadcast::Receiver<AppEvent> {
        self.events.subscribe()
    }
    pub fn is_paused(&self) -> bool {
        self.paused.load(Ordering::SeqCst)
    }

    /// The open app, or `NotFound` with what to do when nothing is set up yet.
    pub fn app(&self) -> Result<Arc<App>, AppError> {
        if let Some(app) = self.app.read().unwrap_or_else(|e| e.into_inner()).clone() {
            return Ok(app);
        }
        Err(self.open_error.read().unwrap_or_else(|e| e.into_inner()).clone().unwrap_or_else(|| {
            AppError::new(ErrorCode::NotFound, "no sync is set up yet: add a connection, then create a sync from a preset")
        }))
    }

    /// (Re)opens the config and restarts the triggers (unless paused). A missing config is
    /// not an error: the app waits to be set up. `initial_run` runs every link once now.
    pub async fn reload(self: &Arc<Self>, initial_run: bool) -> Result<(), AppError> {
        let mut watching = self.watching.lock().await;
        if let Some(w) = watching.take() {
            w.stop();
        }
        *self.open_error.write().unwrap_or_else(|e| e.into_inner()) = None;
        // No config, or connections but no link yet: the app waits to be set up. A zoho
        // transfer job needs no link (and its Sign in with Zoho needs the open app).
        let has_links = self.config_path.exists()
            && crosswalk_core::config::Config::load(&self.config_path).map_or(true, |c| !c.links.is_empty() || crate::zoho_transfer::has_transfer_job(&c));
        if !has_links {
            *self.app.write().unwrap_or_else(|e| e.into_inner()) = None;
            return Ok(());
        }
        let app = match App::open(Some(&self.config_path)) {
            Ok(app) => Arc::new(app),
            Err(e) => {
                *self.app.write().unwrap_or_else(|e| e.into_inner()) = None;
                *self.open_error.write().unwrap_or_else(|e| e.into_inner()) = Some(e.clone());
                return Err(e);
            }
        };
        self.forward(&app);
        *self.app.write().unwrap_or_else(|e| e.into_inner()) = Some(app.clone());
        if !self.is_paused() {
            *watching = Some(watch::start(app, initial_run).await?);
        }
        Ok(())
    }

    fn forward(self: &Arc<Self>, app: &Arc<App>) {
        let mut rx = app.subscribe();
        let tx = self.events.clone();
        tokio::spawn(async move {
            loop {
                match rx.recv().await {
                    Ok(e) => {
                        let _ = tx.send(e);
                    }
                    Err(broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(broadcast::error::RecvError::Closed) => return,
                }
            }
        });
    }

    /// Stops every trigger (schedule, save, webhook); "Sync now" still works.
    pub async fn pause(&self) {
        self.paused.store(true, Ordering::SeqCst);
        if let Some(w) = self.watching.lock().await.take() {
            w.stop();
        }
    }

    /// Starts the triggers again.
    pub async fn resume(self: &Arc<Self>) -> Result<(), AppError> {
        self.paused.store(false, Ordering::SeqCst);
        self.reload(false).await
    }

    /// Runs one link (or all) now, emitting [`AppEvent::RunProgress`] while it runs.
    pub async fn sync_now(&self, link: Option<&str>, dry_run: bool) -> Result<Vec<Result<RunReport, AppError>>, AppError> {
        let app = self.app()?;
        let links = match link {
            Some(l) => vec![l.to_string()],
            None => app.link_names(),
        };
        let opts = RunOptions { dry_run, trigger: "manual".into(), ..RunOptions::default() };
        let mut out = vec![];
        for link in links {
            let progress = EventProgress::new(link.clone(), self.events.clone());
            out.push(app.run_link(&link, &opts, &progress).await);
        }
        Ok(out)
    }

    /// Settles many conflicts the same way, then (unless paused) runs their links so the
    /// answers reach both sides.
    pub fn resolve_many(&self, ids: &[i64], take: &Take) -> Result<usize, AppError> {
        let app = self.app()?;
        let mut links = std::collections::BTreeSet::new();
        for id in ids {
            links.insert(app.resolve(*id, take)?.link);
        }
        if !self.is_paused() {
            for link in links {
                let app = app.clone();
                tokio::spawn(async move {
                    app.trigger(&link, "resolve").await;
                });
            }
        }
        Ok(ids.len())
    }

    /// Everything the tray tooltip needs.
    pub fn summary(&self) -> Summary {
        let mut s = Summary { paused: self.is_paused(), ..Summary::default() };
        s.config_error = self.open_error.read().unwrap_or_else(|e| e.into_inner()).as_ref().map(|e| e.message.clone());
        let Ok(app) = self.app() else { return s };
        s.configured = true;
        let Ok(status) = app.status() else { return s };
        s.links = status.len();
        for l in status {
            s.open_conflicts += l.open_conflicts;
            if let Some(t) = l.last_ok_at {
                if s.last_sync_at.as_ref().map_or(true, |old| *old < t) {
                    s.last_sync_at = Some(t);
                }
            }
            if let Some(w) = l.waiting_for {
                s.waiting_for.push(w);
            }
            if let Some(r) = l.last_run.filter(|r| r.status == "partial" || r.status == "bad_input" || r.status == "failed") {
                s.errors.push(format!("{}: {}", l.link, r.message.unwrap_or_else(|| r.status.clone())));
            }
        }
        s
    }
}

/// Progress of one run as [`AppEvent::RunProgress`] events, at most ~10 a second.
pub struct EventProgress {
    link: String,
    events: broadcast::Sender<AppEvent>,
    state: Mutex<ProgressState>,
}

struct ProgressState {
    stage: String,
    done: u64,
    total: u64,
    last: Option<Instant>,
}

impl EventProgress {
    pub fn new(link: String, events: broadcast::Sender<AppEvent>) -> Self {
        EventProgress { link, events, state: Mutex::new(ProgressState { stage: String::new(), done: 0, total: 0, last: None }) }
    }

    fn send(&self, force: bool) {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if !force && s.last.is_some_and(|t| t.elapsed() < Duration::from_millis(100)) && s.done < s.total {
            return;
        }
        s.last = Some(Instant::now());
        let _ = self.events.send(AppEvent::RunProgress { link: self.link.clone(), stage: s.stage.clone(), done: s.done, total: s.total });
    }
}

impl Progress for EventProgress {
    fn stage(&self, message: &str) {
        {
            let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
            s.stage = message.to_string();
            s.done = 0;
            s.total = 0;
        }
        self.send(true);
    }
    fn set_total(&self, total: u64) {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).total = total;
        self.send(true);
    }
    fn advance(&self, n: u64) {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).done += n;
        self.send(false);
    }
}

/// One kept version of a workbook (Settings → restore).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct WorkbookVersion {
    pub connection: String,
    pub path: String,
    pub number: usize,
    pub saved_at: String,
    pub bytes: u64,
}

impl Runtime {
    /// The kept versions of every workbook in the config, newest first per workbook.
    pub fn workbook_versions(&self) -> Result<Vec<WorkbookVersion>, AppError> {
        let app = self.app()?;
        let mut out = vec![];
        for (name, path) in self.workbooks(&app) {
            let versions = crosswalk_connectors::workbook::list_versions(&self.paths.data_dir, &path)
                .map_err(|e| AppError::new(ErrorCode::Internal, format!("cannot read the versions of {}: {e}", path.display())))?;
            for v in versions {
                let at: chrono::DateTime<chrono::Utc> = v.saved_at.into();
                out.push(WorkbookVersion { connection: name.clone(), path: path.display().to_string(), number: v.number, saved_at: at.to_rfc3339(), bytes: v.size });
            }
        }
        Ok(out)
    }

    /// Puts back a kept version of a workbook connection's file (the replaced one is kept).
    pub fn restore_workbook(&self, connection: &str, version: usize) -> Result<(), AppError> {
        let app = self.app()?;
        let (_, path) = self
            .workbooks(&app)
            .into_iter()
            .find(|(n, _)| n == connection)
            .ok_or_else(|| AppError::new(ErrorCode::NotFound, format!("there is no workbook connection {connection}")))?;
        crosswalk_connectors::workbook::restore(&self.paths.data_dir, &path, Some(version))?;
        Ok(())
    }

    fn workbooks(&self, app: &App) -> Vec<(String, PathBuf)> {
        app.config()
            .connections
            .iter()
            .filter(|(_, d)| d.kind == "workbook")
            .filter_map(|(n, d)| d.settings.get("path").and_then(|v| v.as_str()).map(|p| (n.clone(), app.config().base_dir().join(p))))
            .map(|(n, p)| (n, std::fs::canonicalize(&p).unwrap_or(p)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression: a zoho-zoho config (a transfer job, no links) left the desktop without an
    /// open app, so "Sign in with Zoho" could not start.
    #[tokio::test]
    async fn a_transfer_only_config_opens() {
        let dir = tempfile::tempdir().unwrap();
        // The state database goes under CROSSWALK_HOME, never the real home (no other test
        // in this crate reads the variable).
        std::env::set_var("CROSSWALK_HOME", dir.path().join("home"));
        let cfg = dir.path().join("crosswalk.toml");
        let mut v = crate::presets::Values::default();
        for (k, val) in [("ORG_A_CLIENT_ID", "1000.A"), ("ORG_A_CLIENT_SECRET", "a"), ("ORG_B_CLIENT_ID", "1000.B"), ("ORG_B_CLIENT_SECRET", "b"), ("ORG_B_TEAM_FOLDER_ID", "t")] {
            v.env_file.insert(k.into(), val.into());
        }
        std::fs::write(&cfg, crate::presets::init("zoho-zoho", &cfg, &v).unwrap().config_text).unwrap();
        let rt = Runtime::new(Some(&cfg));
        rt.reload(false).await.expect("a transfer-only config opens");
        assert!(rt.app().is_ok(), "the app is open for the Zoho sign-in");
        rt.pause().await;
    }
}
