//! Helpers for driving the real `crosswalk` binary against simulators and real files.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use calamine::{open_workbook_auto, Data, Reader};

/// The `crosswalk` binary, built once per test run.
pub fn bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo).args(["build", "-q", "-p", "crosswalk-cli", "--bin", "crosswalk"]).status().expect("cargo runs");
        assert!(status.success(), "building the crosswalk binary failed");
        let exe = std::env::current_exe().unwrap();
        let dir = exe.parent().unwrap().parent().unwrap();
        let p = dir.join(if cfg!(windows) { "crosswalk.exe" } else { "crosswalk" });
        assert!(p.exists(), "crosswalk binary expected at {}", p.display());
        p
    })
}

/// One test's world: a temp folder for config, workbook and app data.
pub struct World {
    pub dir: tempfile::TempDir,
    pub api_key: String,
}

impl World {
    pub fn new(api_key: &str) -> World {
        World { dir: tempfile::tempdir().unwrap(), api_key: api_key.to_string() }
    }
    pub fn config(&self) -> PathBuf {
        self.dir.path().join("crosswalk.toml")
    }
    pub fn workbook(&self) -> PathBuf {
        self.dir.path().join("crm.xlsx")
    }
    /// Runs `crosswalk --config … ARGS` with this world's home and key.
    pub fn run(&self, args: &[&str]) -> Output {
        self.run_env(args, &[])
    }
    pub fn run_env(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut c = Command::new(bin());
        c.arg("--config").arg(self.config()).args(args);
        c.env("CROSSWALK_HOME", self.dir.path().join("home"));
        c.env("CROSSWALK_NO_KEYRING", "1");
        c.env("TWENTY_API_KEY", &self.api_key);
        c.env_remove("CROSSWALK_CONFIG");
        for (k, v) in env {
            c.env(k, v);
        }
        c.output().expect("crosswalk runs")
    }
    /// Runs and asserts the exit code, returning stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(out.status.success(), "crosswalk {args:?} failed ({:?}):\n{text}\n{}", out.status.code(), String::from_utf8_lossy(&out.stderr));
        text
    }
}

/// The rows of a sheet as header → text maps.
pub fn sheet_rows(path: &Path, sheet: &str) -> Vec<std::collections::BTreeMap<String, String>> {
    let mut wb = open_workbook_auto(path).expect("workbook opens");
    let range = wb.worksheet_range(sheet).expect("sheet exists");
    let mut rows = range.rows();
    let header: Vec<String> = rows.next().unwrap().iter().map(|c| c.to_string()).collect();
    rows.filter(|r| r.iter().any(|c| !matches!(c, Data::Empty)))
        .map(|r| header.iter().cloned().zip(r.iter().map(|c| c.to_string())).collect())
        .collect()
}

/// Whether python3 with openpyxl is here (CI installs it).
pub fn have_openpyxl() -> bool {
    let ok = Command::new("python3").args(["-c", "import openpyxl"]).status().map(|s| s.success()).unwrap_or(false);
    if !ok && std::env::var("CROSSWALK_REQUIRE_OPENPYXL").as_deref() == Ok("1") {
        panic!("python3 with openpyxl is required (CROSSWALK_REQUIRE_OPENPYXL=1)");
    }
    ok
}

/// Edits the workbook as a person would in a spreadsheet program (openpyxl load + save).
pub fn edit_workbook(path: &Path, python_body: &str) {
    let script = format!("import openpyxl, sys\nwb = openpyxl.load_workbook(sys.argv[1])\n{python_body}\nwb.save(sys.argv[1])\n");
    let out = Command::new("python3").arg("-c").arg(&script).arg(path).output().expect("python3 runs");
    assert!(out.status.success(), "editing the workbook failed: {}", String::from_utf8_lossy(&out.stderr));
    // A save is a later save: make sure the file time moves past the previous one.
    std::thread::sleep(std::time::Duration::from_millis(1100));
}
