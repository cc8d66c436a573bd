//! Helpers for the erpnext-erpnext end-to-end tests: two simulator sites, a config written
//! by the preset, the app, and the real `crosswalk` binary for CLI steps.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::Duration;

use crosswalk_engine::presets::{self, Values};
use crosswalk_simulators::frappe::{FrappeSim, FrappeSimHandle, FrappeSimOptions};

pub const WEBHOOK_SECRET: &str = "erpnext-hook-secret";

/// One `CROSSWALK_HOME` for the whole test binary: tests run on threads of one process and
/// the engine reads the variable when an app opens, so per-test values would race. Each
/// test's state database is still its own (it is named after the config file's path).
pub fn home() -> &'static Path {
    static HOME: OnceLock<PathBuf> = OnceLock::new();
    HOME.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("crosswalk-erpnext-{}", std::process::id()));
        std::env::set_var("CROSSWALK_HOME", dir.join("home"));
        std::env::set_var("CROSSWALK_NO_KEYRING", "1");
        // Every simulator here uses the default key and secret, so one value serves all.
        let sim = FrappeSimOptions::default();
        std::env::set_var("CROSSWALK_SECRET_CLOUD", format!("{}:{}", sim.api_key, sim.api_secret));
        std::env::set_var("CROSSWALK_SECRET_LOCAL", format!("{}:{}", sim.api_key, sim.api_secret));
        std::env::set_var("WEBHOOK_SECRET", WEBHOOK_SECRET);
        dir.join("home")
    })
}

/// A cloud site (series from 1, Asia/Kolkata) and a local one (series from 5001,
/// Europe/Amsterdam), so names and times differ between them.
pub async fn sites(opts: impl Fn(FrappeSimOptions) -> FrappeSimOptions) -> (FrappeSimHandle, FrappeSimHandle) {
    home();
    let quick = vec![Duration::from_millis(100), Duration::from_millis(400)];
    let cloud = FrappeSim::spawn(opts(FrappeSimOptions { series_start: 1, webhook_retry_delays: quick.clone(), ..FrappeSimOptions::default() })).await;
    let local = FrappeSim::spawn(opts(FrappeSimOptions { series_start: 5001, utc_offset_minutes: 60, time_zone: Some("Europe/Amsterdam".into()), webhook_retry_delays: quick, ..FrappeSimOptions::default() })).await;
    (cloud, local)
}

/// Writes the erpnext-erpnext preset's config for the two sites into `dir`, with the
/// listener on a free port and the client-side rate limit lifted (the simulators have none).
pub fn write_config(dir: &Path, cloud: &FrappeSimHandle, local: &FrappeSimHandle, conflict: &str) -> PathBuf {
    let config = dir.join("crosswalk.toml");
    let mut v = Values::default();
    for (k, val) in [
        ("CLOUD_ERP_URL", cloud.base_url.clone()),
        ("LOCAL_ERP_URL", local.base_url.clone()),
        ("CLOUD_API_KEY", cloud.api_key.clone()),
        ("LOCAL_API_KEY", local.api_key.clone()),
        ("CONFLICT_RESOLUTION", conflict.into()),
        ("WEBHOOK_PORT", "0".into()),
    ] {
        v.flags.insert(k.into(), val);
    }
    let plan = presets::init("erpnext-erpnext", &config, &v).unwrap();
    assert!(plan.config_text.contains("requests_per_minute = 3000\n"), "the preset sets the client-side limit");
    let text = plan.config_text.replace("requests_per_minute = 3000\n", "requests_per_minute = 100000\n");
    std::fs::write(&config, text).unwrap();
    config
}

/// The `crosswalk` binary, built once per test run.
pub fn bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo).args(["build", "-q", "-p", "crosswalk-cli", "--bin", "crosswalk"]).status().expect("cargo runs");
        assert!(status.success(), "building the crosswalk binary failed");
        let exe = std::env::current_exe().unwrap();
        let p = exe.parent().unwrap().parent().unwrap().join(if cfg!(windows) { "crosswalk.exe" } else { "crosswalk" });
        assert!(p.exists(), "crosswalk binary expected at {}", p.display());
        p
    })
}

/// Runs `crosswalk --config CONFIG ARGS` with the test's environment.
pub fn cli(config: &Path, args: &[&str]) -> Output {
    Command::new(bin()).arg("--config").arg(config).args(args).env("CROSSWALK_HOME", home()).env_remove("CROSSWALK_CONFIG").output().expect("crosswalk runs")
}

/// Runs and asserts success, returning stdout.
pub fn cli_ok(config: &Path, args: &[&str]) -> String {
    let out = cli(config, args);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "crosswalk {args:?} failed ({:?}):\n{text}\n{}", out.status.code(), String::from_utf8_lossy(&out.stderr));
    text
}

/// Write requests a site received (POST/PUT/DELETE on resources).
pub fn writes(site: &FrappeSimHandle) -> u64 {
    let c = site.counters();
    c.kind("POST list") + c.kind("PUT one") + c.kind("DELETE one")
}
