//! Helpers: temp folders, building a connector, reading zip parts.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crosswalk_connectors::{workbook, BuildContext};
use crosswalk_core::{Connector, ListRequest, Record};

pub struct Env {
    pub dir: tempfile::TempDir,
    pub data: tempfile::TempDir,
}

impl Env {
    pub fn new() -> Env {
        Env { dir: tempfile::tempdir().expect("temp dir"), data: tempfile::tempdir().expect("temp dir") }
    }
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
    /// A connector for `file` with extra settings in TOML.
    pub fn connector(&self, file: &str, extra: &str) -> Arc<dyn Connector> {
        let text = format!("path = {file:?}\n{extra}");
        let settings: toml::Table = toml::from_str(&text).expect("test settings parse");
        let ctx = BuildContext { base_dir: self.dir.path().to_path_buf(), data_dir: self.data.path().to_path_buf(), secret: None };
        workbook::build("book", &settings, &ctx).expect("settings are valid")
    }
}

pub async fn list(c: &Arc<dyn Connector>, object: &str) -> Vec<Record> {
    c.list(ListRequest { object: object.into(), ..Default::default() }).await.expect("list works").records
}

/// Zip entry name → (decompressed bytes, raw compressed bytes).
pub fn parts(path: &Path) -> BTreeMap<String, (Vec<u8>, Vec<u8>)> {
    let bytes = std::fs::read(path).expect("workbook readable");
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("workbook is a zip");
    let mut out = BTreeMap::new();
    for i in 0..zip.len() {
        let mut data = vec![];
        let name = {
            let mut f = zip.by_index(i).expect("entry");
            f.read_to_end(&mut data).expect("entry decompresses");
            f.name().to_string()
        };
        let mut raw = vec![];
        zip.by_index_raw(i).expect("raw entry").read_to_end(&mut raw).expect("raw read");
        out.insert(name, (data, raw));
    }
    out
}

pub fn python_has_openpyxl() -> bool {
    std::process::Command::new("python3").args(["-c", "import openpyxl"]).status().map(|s| s.success()).unwrap_or(false)
}

/// Whether openpyxl checks may be skipped (CI sets CROSSWALK_REQUIRE_OPENPYXL=1).
pub fn openpyxl_or_skip(what: &str) -> bool {
    if python_has_openpyxl() {
        return true;
    }
    assert!(
        std::env::var("CROSSWALK_REQUIRE_OPENPYXL").as_deref() != Ok("1"),
        "CROSSWALK_REQUIRE_OPENPYXL=1 but python3 can't import openpyxl, so {what} can't run"
    );
    eprintln!("SKIPPED the openpyxl half of {what}: python3 -c 'import openpyxl' failed");
    false
}
