//! Tauri commands: each one calls the engine's app API (`Runtime`, `App`, `setup`) and maps
//! the result to a view; no sync logic lives here.

use std::sync::Arc;

use crosswalk_core::Secret;
use crosswalk_engine::control::Runtime;
use crosswalk_engine::presets::Values;
use crosswalk_engine::setup;
use tauri::{AppHandle, State};
use tauri_specta::Event;

use crate::dto::*;

pub(crate) type Rt<'a> = State<'a, Arc<Runtime>>;

/// The header, the Syncs list and the tray tooltip.
#[tauri::command]
#[specta::specta]
pub async fn overview(rt: Rt<'_>) -> UiResult<Overview> {
    let links = rt.app().ok().map(|a| a.status()).transpose()?.unwrap_or_default();
    Ok(Overview::new(rt.config_path().display().to_string(), &rt.summary(), links))
}

#[tauri::command]
#[specta::specta]
pub async fn list_connections(rt: Rt<'_>) -> UiResult<Vec<ConnectionView>> {
    Ok(setup::list_connections(rt.config_path())?.into_iter().map(ConnectionView::from).collect())
}

/// Every system's sign-in form (settings and secret inputs), from the engine.
#[tauri::command]
#[specta::specta]
pub async fn sign_in_forms() -> UiResult<Vec<SignInFormView>> {
    Ok(setup::sign_in_forms().into_iter().map(SignInFormView::from).collect())
}

/// "Test connection": health with the form's values, before anything is saved. Returns
/// who the account is signed in as.
#[tauri::command]
#[specta::specta]
pub async fn test_connection(rt: Rt<'_>, form: ConnectionForm) -> UiResult<String> {
    let secret = form.secret.filter(|s| !s.is_empty()).map(Secret::new);
    let who = setup::test_connection(rt.config_path(), &form.name, &form.kind, &form.settings, secret).await?;
    Ok(who.display)
}

/// "Save": writes the settings to the config and the secret to the OS keyring.
#[tauri::command]
#[specta::specta]
pub async fn save_connection<R: tauri::Runtime>(app: AppHandle<R>, rt: Rt<'_>, form: ConnectionForm) -> UiResult<()> {
    let secret = form.secret.filter(|s| !s.is_empty()).map(Secret::new);
    setup::save_connection(rt.config_path(), &form.name, &form.kind, &form.settings, secret.as_ref())?;
    reload(&app, &rt).await
}

/// "Sign out": deletes the connection's secret from the keyring.
#[tauri::command]
#[specta::specta]
pub async fn sign_out<R: tauri::Runtime>(app: AppHandle<R>, rt: Rt<'_>, name: String) -> UiResult<()> {
    crosswalk_engine::logout(&name)?;
    reload(&app, &rt).await
}

#[tauri::command]
#[specta::specta]
pub async fn remove_connection<R: tauri::Runtime>(app: AppHandle<R>, rt: Rt<'_>, name: String) -> UiResult<()> {
    setup::remove_connection(rt.config_path(), &name)?;
    reload(&app, &rt).await
}

/// "Create sync": adds a preset's connections and links to the config.
#[tauri::command]
#[specta::specta]
pub async fn create_sync<R: tauri::Runtime>(app: AppHandle<R>, rt: Rt<'_>, form: PresetForm) -> UiResult<PresetCreatedView> {
    let values = Values { flags: form.values, env_file: Default::default() };
    let made = setup::create_from_preset(rt.config_path(), &form.preset, &values, form.replace)?;
    reload(&app, &rt).await?;
    Ok(PresetCreatedView { links: made.links, secrets_missing: made.secrets_missing })
}

#[tauri::command]
#[specta::specta]
pub async fn remove_sync<R: tauri::Runtime>(app: AppHandle<R>, rt: Rt<'_>, link: String) -> UiResult<()> {
    setup::remove_link(rt.config_path(), &link)?;
    reload(&app, &rt).await
}

/// A sync's field mapping, policies and schedule, as the config has them.
#[tauri::command]
#[specta::specta]
pub async fn link_settings(rt: Rt<'_>, link: String) -> UiResult<LinkSettingsView> {
    Ok(setup::links::link_settings(rt.config_path(), &link)?.into())
}

/// Both sides' fields for the mapping editor (the engine's describe cache) and suggested pairs.
#[tauri::command]
#[specta::specta]
pub async fn link_fields(rt: Rt<'_>, link: String) -> UiResult<LinkFieldsView> {
    let app = rt.app()?;
    Ok(setup::links::link_fields(&app, &link).await?.into())
}

/// "Save" in the sync editor: checked, validated, then written (a refused edit writes nothing).
#[tauri::command]
#[specta::specta]
pub async fn save_link<R: tauri::Runtime>(app: AppHandle<R>, rt: Rt<'_>, link: String, edit: LinkEditForm) -> UiResult<LinkSettingsView> {
    // New fields are checked against what the systems describe, when they can be reached.
    let known = match rt.app() {
        Ok(a) => setup::links::link_fields(&a, &link).await.ok(),
        Err(_) => None,
    };
    let saved = setup::links::edit_link(rt.config_path(), &link, &edit.into(), known.as_ref())?;
    reload(&app, &rt).await?;
    Ok(saved.into())
}

/// "Sync now" (one link, or all when `link` is null); `dry_run` for the preview.
#[tauri::command]
#[specta::specta]
pub async fn sync_now(rt: Rt<'_>, link: Option<String>, dry_run: bool) -> UiResult<Vec<RunOutcome>> {
    let app = rt.app()?;
    let links = link.clone().map(|l| vec![l]).unwrap_or_else(|| app.link_names());
    let results = rt.sync_now(link.as_deref(), dry_run).await?;
    Ok(links.iter().zip(results).map(|(l, r)| RunOutcome::new(l, r)).collect())
}

#[tauri::command]
#[specta::specta]
pub async fn runs(rt: Rt<'_>, link: Option<String>, limit: u32) -> UiResult<Vec<RunView>> {
    Ok(rt.app()?.runs(link.as_deref(), limit as usize)?.into_iter().map(RunView::from).collect())
}

#[tauri::command]
#[specta::specta]
pub async fn run_changes(rt: Rt<'_>, run_id: i32) -> UiResult<Vec<ChangeView>> {
    Ok(rt.app()?.changes(run_id as i64)?.into_iter().map(ChangeView::from).collect())
}

#[tauri::command]
#[specta::specta]
pub async fn conflicts(rt: Rt<'_>) -> UiResult<Vec<ConflictView>> {
    Ok(rt.app()?.conflicts(None)?.into_iter().map(ConflictView::from).collect())
}

/// Settles one or many conflicts the same way; their links run next.
#[tauri::command]
#[specta::specta]
pub async fn resolve_conflicts(rt: Rt<'_>, ids: Vec<i32>, take: TakeView) -> UiResult<u32> {
    let ids: Vec<i64> = ids.into_iter().map(i64::from).collect();
    Ok(rt.resolve_many(&ids, &take.into())? as u32)
}

#[tauri::command]
#[specta::specta]
pub async fn set_paused<R: tauri::Runtime>(app: AppHandle<R>, rt: Rt<'_>, paused: bool) -> UiResult<()> {
    if paused {
        rt.pause().await;
    } else {
        rt.resume().await?;
    }
    crate::tray::refresh(&app);
    let _ = EngineEvent::StateChanged.emit(&app);
    Ok(())
}

#[tauri::command]
#[specta::specta]
pub async fn open_log_folder<R: tauri::Runtime>(app: AppHandle<R>, rt: Rt<'_>) -> UiResult<String> {
    let dir = rt.paths().log_dir();
    crate::platform::open_folder(&app, &dir).map_err(UiError::internal)?;
    Ok(dir.display().to_string())
}

#[tauri::command]
#[specta::specta]
pub async fn workbook_versions(rt: Rt<'_>) -> UiResult<Vec<VersionView>> {
    Ok(rt.workbook_versions()?.into_iter().map(VersionView::from).collect())
}

#[tauri::command]
#[specta::specta]
pub async fn restore_workbook(rt: Rt<'_>, connection: String, version: u32) -> UiResult<()> {
    Ok(rt.restore_workbook(&connection, version as usize)?)
}

#[tauri::command]
#[specta::specta]
pub async fn start_at_login<R: tauri::Runtime>(app: AppHandle<R>, enable: Option<bool>) -> UiResult<bool> {
    crate::platform::start_at_login(&app, enable).map_err(UiError::internal)
}

/// The native "open file" dialog for a workbook; null when cancelled.
#[tauri::command]
#[specta::specta]
pub async fn pick_workbook<R: tauri::Runtime>(app: AppHandle<R>) -> UiResult<Option<String>> {
    Ok(crate::platform::pick_workbook(&app).await)
}

/// Re-opens the engine after a config change and tells the window and the tray.
pub(crate) async fn reload<R: tauri::Runtime>(app: &AppHandle<R>, rt: &Arc<Runtime>) -> UiResult<()> {
    let result = rt.reload(false).await;
    crate::tray::refresh(app);
    let _ = EngineEvent::StateChanged.emit(app);
    Ok(result?)
}
