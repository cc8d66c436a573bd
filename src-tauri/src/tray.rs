//! The tray icon: Sync all now / Pause–Resume / Open Crosswalk / Quit, a status line and a
//! tooltip (last sync, conflicts, errors, "waiting for … to be closed").

use std::sync::Arc;

use crosswalk_engine::control::Runtime;
use tauri::menu::{Menu, MenuItem, PredefinedMenuItem};
use tauri::tray::TrayIconBuilder;
use tauri::{AppHandle, Manager};

const TRAY_ID: &str = "main";

/// The menu items whose text changes.
struct TrayItems<R: tauri::Runtime> {
    status: MenuItem<R>,
    pause: MenuItem<R>,
}

pub fn build<R: tauri::Runtime>(app: &AppHandle<R>) -> tauri::Result<()> {
    let status = MenuItem::with_id(app, "status", "Crosswalk", false, None::<&str>)?;
    let sync = MenuItem::with_id(app, "sync_all", "Sync all now", true, None::<&str>)?;
    let pause = MenuItem::with_id(app, "pause", "Pause", true, None::<&str>)?;
    let open = MenuItem::with_id(app, "open", "Open Crosswalk", true, None::<&str>)?;
    let quit = MenuItem::with_id(app, "quit", "Quit", true, None::<&str>)?;
    let sep = PredefinedMenuItem::separator(app)?;
    let menu = Menu::with_items(app, &[&status, &sep, &sync, &pause, &open, &quit])?;
    let icon = tauri::image::Image::from_bytes(include_bytes!("../../icons/tray.png"))?;
    TrayIconBuilder::with_id(TRAY_ID)
        .icon(icon)
        .tooltip("Crosswalk")
        .menu(&menu)
        .on_menu_event(|app, event| on_menu(app, event.id().as_ref()))
        .build(app)?;
    app.manage(TrayItems { status, pause });
    Ok(())
}

fn on_menu<R: tauri::Runtime>(app: &AppHandle<R>, id: &str) {
    let rt = app.state::<Arc<Runtime>>().inner().clone();
    match id {
        "sync_all" => {
            let app = app.clone();
            tauri::async_runtime::spawn(async move {
                if let Err(e) = rt.sync_now(None, false).await {
                    tracing::warn!(error = %e, "Sync all from the tray could not start");
                }
                refresh(&app);
            });
        }
        "pause" => {
            let app = app.clone();
            tauri::async_runtime::spawn(async move {
                if rt.is_paused() {
                    if let Err(e) = rt.resume().await {
                        tracing::warn!(error = %e, "Resume failed");
                    }
                } else {
                    rt.pause().await;
                }
                refresh(&app);
                let _ = tauri_specta::Event::emit(&crate::dto::EngineEvent::StateChanged, &app);
            });
        }
        "open" => crate::show_main(app),
        "quit" => app.exit(0),
        _ => {}
    }
}

/// Updates the tooltip, the status line and the Pause/Resume label. No-op without a tray
/// (tests).
pub fn refresh<R: tauri::Runtime>(app: &AppHandle<R>) {
    let Some(rt) = app.try_state::<Arc<Runtime>>() else { return };
    let summary = rt.summary();
    let text = summary.tooltip();
    if let Some(tray) = app.tray_by_id(TRAY_ID) {
        let _ = tray.set_tooltip(Some(&text));
    }
    if let Some(items) = app.try_state::<TrayItems<R>>() {
        let _ = items.status.set_text(&text);
        let _ = items.pause.set_text(if summary.paused { "Resume" } else { "Pause" });
    }
}
