//! Auto-sync on save, in watch mode: a LibreOffice headless edit-and-save of the workbook
//! triggers exactly one sync, which carries the edit to the CRM; the sync's own write-back
//! into the workbook triggers none.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crosswalk_core::runner::{RunMode, RunOptions, NoProgress};
use crosswalk_engine::presets::{self, Values};
use crosswalk_engine::App;
use crosswalk_simulators::twenty::{TwentySim, TwentySimOptions};
use serde_json::json;

fn libreoffice_here() -> bool {
    let soffice = Command::new("soffice").arg("--version").output().map(|o| o.status.success()).unwrap_or(false);
    let uno = Command::new("/usr/bin/python3").args(["-c", "import uno"]).status().map(|s| s.success()).unwrap_or(false);
    if !(soffice && uno) && std::env::var("CROSSWALK_REQUIRE_LIBREOFFICE").as_deref() == Ok("1") {
        panic!("LibreOffice (libreoffice-calc + python3-uno) is required here (CROSSWALK_REQUIRE_LIBREOFFICE=1)");
    }
    soffice && uno
}

fn lo_edit(path: &Path, sheet: &str, cell: &str, value: &str) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/lo_edit.py");
    let out = Command::new("/usr/bin/python3").arg(script).arg(path).arg(sheet).arg(cell).arg(value).output().unwrap();
    assert!(out.status.success(), "LibreOffice edit failed: {}", String::from_utf8_lossy(&out.stderr));
}

fn save_runs(app: &App) -> usize {
    app.runs(None, 100).unwrap().iter().filter(|r| r.trigger == "save" && r.status != "running").count()
}

#[tokio::test(flavor = "multi_thread")]
async fn libreoffice_save_triggers_exactly_one_sync() {
    if !libreoffice_here() {
        eprintln!("skipped: needs soffice and python3-uno");
        return;
    }
    let sim = TwentySim::spawn(TwentySimOptions { api_key: "k".into(), ..TwentySimOptions::default() }.unlimited()).await;
    let ids = sim.seed(4, 0);
    let dir = tempfile::tempdir().unwrap();
    std::env::set_var("CROSSWALK_HOME", dir.path().join("home"));
    std::env::set_var("CROSSWALK_NO_KEYRING", "1");
    std::env::set_var("TWENTY_API_KEY", "k");
    let config = dir.path().join("crosswalk.toml");
    let book = dir.path().join("crm.xlsx");
    let mut v = Values::default();
    v.flags.insert("TWENTY_API_URL".into(), sim.base_url.clone());
    v.flags.insert("EXCEL_FILE_PATH".into(), book.display().to_string());
    let plan = presets::init("twenty-excel", &config, &v).unwrap();
    // Only the companies link, so one save is one run.
    let text = plan.config_text.split("[links.people]").next().unwrap().to_string();
    std::fs::write(&config, text).unwrap();
    let app = Arc::new(App::open(Some(&config)).unwrap());
    app.run_link("companies", &RunOptions { mode: RunMode::Pull, ..Default::default() }, &NoProgress).await.unwrap();

    let w = crosswalk_engine::watch::start(app.clone(), false).await.unwrap();
    tokio::time::sleep(Duration::from_millis(800)).await;
    // A change in the CRM the save-triggered sync will write into the workbook (our own
    // write, which must not trigger another run).
    let crm_side = ids.companies[1].clone();
    sim.edit_as_user("companies", &crm_side, json!({"name": "Renamed In CRM"})).unwrap();
    let target = ids.companies[0].clone();
    let rows = {
        let mut wb: calamine::Xlsx<_> = calamine::open_workbook(&book).unwrap();
        use calamine::Reader;
        wb.worksheet_range("Companies").unwrap().rows().map(|r| r.iter().map(|c| c.to_string()).collect::<Vec<_>>()).collect::<Vec<_>>()
    };
    let row = rows.iter().position(|r| r[0] == target).unwrap() + 1;
    let saved_at = Instant::now();
    lo_edit(&book, "Companies", &format!("B{row}"), "Edited In LibreOffice");
    let mut arrived = None;
    for _ in 0..150 {
        if sim.record("companies", &target).unwrap()["name"] == json!("Edited In LibreOffice") {
            arrived = Some(saved_at.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let arrived = arrived.expect("the LibreOffice edit reached the CRM through a save-triggered sync");
    eprintln!("save → CRM in {arrived:?} (includes LibreOffice's own start and save)");
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(save_runs(&app), 1, "one save, one run: our own write-back into the workbook triggered none");
    let names: Vec<String> = {
        let mut wb: calamine::Xlsx<_> = calamine::open_workbook(&book).unwrap();
        use calamine::Reader;
        wb.worksheet_range("Companies").unwrap().rows().map(|r| r[1].to_string()).collect()
    };
    assert!(names.iter().any(|n| n == "Renamed In CRM"), "the same run brought the CRM edit into the workbook");
    w.stop();
}
