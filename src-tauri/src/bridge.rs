//! Engine events → the window (typed `EngineEvent`), OS notifications (new conflicts,
//! failed runs) and the tray tooltip.

use std::sync::Arc;

use crosswalk_engine::control::Runtime;
use crosswalk_engine::AppEvent;
use tauri::AppHandle;
use tauri_plugin_notification::NotificationExt as _;
use tauri_specta::Event as _;
use tokio::sync::broadcast::error::RecvError;

use crate::dto::EngineEvent;

pub fn start<R: tauri::Runtime>(app: AppHandle<R>, rt: Arc<Runtime>) {
    let mut rx = rt.subscribe();
    tauri::async_runtime::spawn(async move {
        loop {
            let event = match rx.recv().await {
                Ok(e) => e,
                Err(RecvError::Lagged(_)) => continue,
                Err(RecvError::Closed) => return,
            };
            if let Some((title, body)) = notification(&event) {
                notify(&app, &title, &body);
            }
            let finished = matches!(event, AppEvent::RunFinished { .. } | AppEvent::RunFailed { .. });
            let _ = EngineEvent::from(event).emit(&app);
            if finished {
                crate::tray::refresh(&app);
            }
        }
    });
}

/// Which events a person is told about, and in what words.
pub fn notification(event: &AppEvent) -> Option<(String, String)> {
    match event {
        AppEvent::ConflictsWaiting { link, count } => {
            Some((format!("{count} conflict(s) to review"), format!("Sync {link} has records changed on both sides. Open Crosswalk → Conflicts.")))
        }
        AppEvent::RunFailed { link, error } => Some((format!("Sync {link} failed"), error.message.clone())),
        AppEvent::RunFinished { report } if !report.status.succeeded() && report.status.as_str() != "waiting" => Some((
            format!("Sync {} finished with problems", report.link),
            report.summary.errors.first().cloned().or_else(|| report.message.clone()).unwrap_or_else(|| report.status.as_str().to_string()),
        )),
        _ => None,
    }
}

fn notify<R: tauri::Runtime>(app: &AppHandle<R>, title: &str, body: &str) {
    tracing::info!(title, "Notification shown");
    if let Err(e) = app.notification().builder().title(title).body(body).show() {
        tracing::warn!(error = %e, "Notification could not be shown");
    }
}
