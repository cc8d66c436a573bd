//! The watcher reports one event per real save however the program saves, and none for
//! lock files or our own writes.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crosswalk_connectors::workbook::WorkbookWatcher;
use crosswalk_core::{Fields, Value};
use tokio::sync::mpsc::UnboundedReceiver;

use super::support::*;

fn book(n: u32) -> Vec<u8> {
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet().set_name("Data").unwrap();
    ws.write_string(0, 0, "n").unwrap();
    ws.write_number(1, 0, n as f64).unwrap();
    wb.save_to_buffer().unwrap()
}

/// Events seen within `wait`.
async fn events(rx: &mut UnboundedReceiver<PathBuf>, wait: Duration) -> Vec<PathBuf> {
    let mut out = vec![];
    let end = tokio::time::Instant::now() + wait;
    while let Ok(Some(p)) = tokio::time::timeout_at(end, rx.recv()).await {
        out.push(p);
    }
    out
}

const WAIT: Duration = Duration::from_millis(2500);

async fn setup() -> (Env, PathBuf, WorkbookWatcher, UnboundedReceiver<PathBuf>) {
    let env = Env::new();
    let path = env.path("Book.xlsx");
    std::fs::write(&path, book(0)).unwrap();
    let (w, mut rx) = WorkbookWatcher::spawn(vec![path.clone()]).unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(events(&mut rx, Duration::from_millis(300)).await.is_empty(), "starting the watcher reports nothing");
    (env, path, w, rx)
}

fn same_file(a: &Path, b: &Path) -> bool {
    std::path::absolute(a).unwrap() == std::path::absolute(b).unwrap()
}

#[tokio::test]
async fn in_place_save_is_one_event() {
    let (_env, path, _w, mut rx) = setup().await;
    let bytes = book(1);
    let mut f = std::fs::File::create(&path).unwrap();
    f.write_all(&bytes[..bytes.len() / 2]).unwrap();
    f.flush().unwrap();
    tokio::time::sleep(Duration::from_millis(150)).await;
    f.write_all(&bytes[bytes.len() / 2..]).unwrap();
    drop(f);
    let ev = events(&mut rx, WAIT).await;
    assert_eq!(ev.len(), 1, "an in-place save written in two chunks is one save: {ev:?}");
    assert!(same_file(&ev[0], &path), "the event names the workbook");
}

#[tokio::test]
async fn atomic_temp_rename_save_is_one_event() {
    let (env, path, _w, mut rx) = setup().await;
    std::fs::write(env.path("Book.xlsx.tmp"), book(2)).unwrap();
    std::fs::rename(env.path("Book.xlsx.tmp"), &path).unwrap();
    let ev = events(&mut rx, WAIT).await;
    assert_eq!(ev.len(), 1, "temp file + rename is one save: {ev:?}");
}

#[tokio::test]
async fn excel_like_save_is_one_event() {
    let (env, path, _w, mut rx) = setup().await;
    std::fs::write(env.path("~$Book.xlsx"), "owner").unwrap();
    std::fs::write(env.path("A1B2C3D4"), book(3)).unwrap();
    std::fs::rename(&path, env.path("F1E2D3C4.tmp")).unwrap();
    std::fs::rename(env.path("A1B2C3D4"), &path).unwrap();
    std::fs::remove_file(env.path("F1E2D3C4.tmp")).unwrap();
    let ev = events(&mut rx, WAIT).await;
    assert_eq!(ev.len(), 1, "Excel's temp/backup/rename dance is one save: {ev:?}");
    std::fs::remove_file(env.path("~$Book.xlsx")).unwrap();
    assert!(events(&mut rx, Duration::from_millis(1500)).await.is_empty(), "closing Excel (owner file removed) is not a save");
}

#[tokio::test]
async fn lock_files_alone_are_no_event() {
    let (env, _path, _w, mut rx) = setup().await;
    for name in ["~$Book.xlsx", ".~lock.Book.xlsx#"] {
        std::fs::write(env.path(name), ",user,host,date;").unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        std::fs::remove_file(env.path(name)).unwrap();
    }
    std::fs::write(env.path("other.txt"), "x").unwrap();
    assert!(events(&mut rx, WAIT).await.is_empty(), "lock files and other files are not saves");
}

#[tokio::test]
async fn our_own_flush_is_no_event() {
    let (env, _path, _w, mut rx) = setup().await;
    let c = env.connector("Book.xlsx", "");
    c.create("Data", vec![Fields::from([("n".to_string(), Value::Int(99))])]).await.unwrap();
    c.flush().await.unwrap();
    assert_eq!(list(&c, "Data").await.len(), 2, "the flush did write");
    assert!(events(&mut rx, WAIT).await.is_empty(), "our own write-back must not trigger a sync");
    // And a real save after it still counts.
    std::fs::write(env.path("Book.xlsx.tmp"), book(5)).unwrap();
    std::fs::rename(env.path("Book.xlsx.tmp"), env.path("Book.xlsx")).unwrap();
    assert_eq!(events(&mut rx, WAIT).await.len(), 1, "a user save after our write is seen");
}

fn has_soffice() -> bool {
    std::process::Command::new("soffice").arg("--version").output().map(|o| o.status.success()).unwrap_or(false)
}

/// LibreOffice headless overwriting the workbook (DESKTOP_FACTS §6E) is one save.
#[tokio::test]
async fn libreoffice_save_is_one_event() {
    if !has_soffice() {
        eprintln!("SKIPPED libreoffice_save_is_one_event: soffice is not on PATH");
        return;
    }
    let (env, path, _w, mut rx) = setup().await;
    let src = env.dir.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("Book.csv"), "n\n42\n").unwrap();
    let profile = format!("-env:UserInstallation=file://{}/lo-profile", env.data.path().display());
    let st = std::process::Command::new("soffice")
        .args([profile.as_str(), "--headless", "--convert-to", "xlsx", "--outdir"])
        .arg(env.dir.path())
        .arg(src.join("Book.csv"))
        .status()
        .unwrap();
    assert!(st.success(), "soffice converted the file");
    let ev = events(&mut rx, Duration::from_secs(4)).await;
    assert_eq!(ev.len(), 1, "a LibreOffice save is one event (its lock file, temp file and duplicate signals are filtered): {ev:?}");
    let c = env.connector("Book.xlsx", "");
    assert_eq!(list(&c, "Book").await[0].get("n"), &Value::Int(42), "the saved edit is readable");
    let _ = path;
}
