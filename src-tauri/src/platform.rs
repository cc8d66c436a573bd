//! The OS integrations the commands use: open a folder, start at login, the native file
//! dialog. Each wraps one plugin call.

use std::path::Path;

use tauri::AppHandle;
use tauri_plugin_autostart::ManagerExt as _;
use tauri_plugin_dialog::DialogExt as _;
use tauri_plugin_opener::OpenerExt as _;

pub fn open_folder<R: tauri::Runtime>(app: &AppHandle<R>, dir: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    app.opener().open_path(dir.display().to_string(), None::<&str>).map_err(|e| format!("cannot open {}: {e}", dir.display()))
}

/// Opens a web page in the system browser (Zoho's sign-in page).
/// Without the opener plugin (the IPC tests' mock app) nothing is opened.
pub fn open_url<R: tauri::Runtime>(app: &AppHandle<R>, url: &str) -> Result<(), String> {
    use tauri::Manager as _;
    let opener = app.try_state::<tauri_plugin_opener::Opener<R>>().ok_or("no opener plugin")?;
    opener.open_url(url, None::<&str>).map_err(|e| format!("cannot open the browser: {e}"))
}

/// Turns start-at-login on or off when `enable` is given; returns whether it is on.
pub fn start_at_login<R: tauri::Runtime>(app: &AppHandle<R>, enable: Option<bool>) -> Result<bool, String> {
    let auto = app.autolaunch();
    match enable {
        Some(true) => auto.enable().map_err(|e| format!("cannot turn on start at login: {e}"))?,
        Some(false) => auto.disable().map_err(|e| format!("cannot turn off start at login: {e}"))?,
        None => {}
    }
    auto.is_enabled().map_err(|e| format!("cannot read the start-at-login setting: {e}"))
}

pub async fn pick_workbook<R: tauri::Runtime>(app: &AppHandle<R>) -> Option<String> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    app.dialog().file().set_title("Choose the workbook").add_filter("Excel workbook", &["xlsx"]).pick_file(move |p| {
        let _ = tx.send(p);
    });
    rx.await.ok().flatten().and_then(|p| p.into_path().ok()).map(|p| p.display().to_string())
}
