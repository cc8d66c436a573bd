//! Triggers in the foreground or the tray: the scheduler, the workbook watcher and the
//! webhook listener, all feeding [`App::trigger`] (one run per link at a time; triggers
//! during a run coalesce into one follow-up run).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crosswalk_connectors::workbook::WorkbookWatcher;
use tokio::sync::watch as tokio_watch;

use crate::app::App;
use crate::error::{AppError, ErrorCode};
use crate::events::AppEvent;

/// The workbook file each workbook connection uses, with the links to run on its save.
pub fn workbook_triggers(app: &App) -> BTreeMap<PathBuf, Vec<String>> {
    let mut out: BTreeMap<PathBuf, Vec<String>> = BTreeMap::new();
    for (name, def) in &app.config().connections {
        if def.kind != "workbook" {
            continue;
        }
        let Some(path) = def.settings.get("path").and_then(|v| v.as_str()) else { continue };
        let abs = app.config().base_dir().join(path);
        let abs = std::fs::canonicalize(&abs).unwrap_or(abs);
        let links: Vec<String> = app.links_using(name).into_iter().filter(|l| app.config().links[l].triggers.on_save).collect();
        if !links.is_empty() {
            out.entry(abs).or_default().extend(links);
        }
    }
    out
}

/// Handles to stop a running watch.
pub struct Watching {
    stop: tokio_watch::Sender<bool>,
    _watcher: Option<WorkbookWatcher>,
    pub webhook_addrs: Vec<std::net::SocketAddr>,
}

impl Watching {
    pub fn stop(&self) {
        let _ = self.stop.send(true);
    }
}

/// Starts every trigger of every link: one run of each link now, then schedules, saves
/// and webhooks. Returns at once; the work goes on in tasks until [`Watching::stop`].
pub async fn start(app: Arc<App>, initial_run: bool) -> Result<Watching, AppError> {
    let (stop_tx, stop_rx) = tokio_watch::channel(false);
    if initial_run {
        for link in app.link_names() {
            let app = app.clone();
            tokio::spawn(async move {
                app.trigger(&link, "start").await;
            });
        }
    }
    for (link, def) in &app.config().links {
        let Some(minutes) = def.triggers.every_minutes else { continue };
        let (app, link, mut stop) = (app.clone(), link.clone(), stop_rx.clone());
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(minutes * 60));
            tick.tick().await;
            loop {
                tokio::select! {
                    _ = tick.tick() => { app.trigger(&link, "schedule").await; }
                    _ = stop.changed() => return,
                }
            }
        });
    }
    let files = workbook_triggers(&app);
    let watcher = if files.is_empty() {
        None
    } else {
        let (w, mut rx) = WorkbookWatcher::spawn(files.keys().cloned().collect()).map_err(|e| AppError::new(ErrorCode::Internal, format!("cannot watch the workbooks: {e}")))?;
        let (app, mut stop) = (app.clone(), stop_rx.clone());
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    saved = rx.recv() => {
                        let Some(path) = saved else { return };
                        let key = std::fs::canonicalize(&path).unwrap_or(path.clone());
                        for link in files.get(&key).or_else(|| files.get(&path)).cloned().unwrap_or_default() {
                            tracing::info!(link, path = %path.display(), "Workbook saved");
                            app.emit(AppEvent::TriggerSeen { link: link.clone(), trigger: "save".into() });
                            let app = app.clone();
                            tokio::spawn(async move { app.trigger(&link, "save").await; });
                        }
                    }
                    _ = stop.changed() => return,
                }
            }
        });
        Some(w)
    };
    let mut webhook_addrs = vec![];
    for (port, host) in crate::webhooks::listen_addrs(&app) {
        let addr: std::net::SocketAddr = format!("{host}:{port}")
            .parse()
            .map_err(|_| AppError::bad_config(format!("webhook_host {host:?} with port {port} is not an address to listen on")))?;
        let mut stop = stop_rx.clone();
        let bound = crate::webhooks::serve(app.clone(), addr, async move {
            let _ = stop.changed().await;
        })
        .await?;
        webhook_addrs.push(bound);
    }
    Ok(Watching { stop: stop_tx, _watcher: watcher, webhook_addrs })
}
