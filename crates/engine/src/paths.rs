//! Where Crosswalk keeps its files: one place, overridable by `CROSSWALK_HOME` so tests
//! and portable installs never touch the real home folder.

use std::path::{Path, PathBuf};

use directories::ProjectDirs;

/// The app's folders.
#[derive(Clone, Debug)]
pub struct Paths {
    pub config_dir: PathBuf,
    pub data_dir: PathBuf,
}

impl Paths {
    /// `CROSSWALK_HOME/{config,data}` when set, else the OS folders
    /// (`~/.config/crosswalk`, `~/.local/share/crosswalk` on Linux).
    pub fn from_env() -> Paths {
        if let Some(home) = std::env::var_os("CROSSWALK_HOME") {
            let home = PathBuf::from(home);
            return Paths { config_dir: home.join("config"), data_dir: home.join("data") };
        }
        match ProjectDirs::from("app", "Crosswalk", "crosswalk") {
            Some(p) => Paths { config_dir: p.config_dir().to_path_buf(), data_dir: p.data_dir().to_path_buf() },
            None => Paths { config_dir: PathBuf::from(".crosswalk"), data_dir: PathBuf::from(".crosswalk/data") },
        }
    }

    /// The default config file.
    pub fn default_config(&self) -> PathBuf {
        self.config_dir.join("crosswalk.toml")
    }

    /// The state database of a config file: one per config, so a demo or a second
    /// workspace never mixes its pairs with another's.
    pub fn state_db(&self, config: &Path) -> PathBuf {
        let abs = std::fs::canonicalize(config).unwrap_or_else(|_| config.to_path_buf());
        let stem = abs.file_stem().and_then(|s| s.to_str()).unwrap_or("crosswalk").to_string();
        let digest = sha2::Digest::finalize(<sha2::Sha256 as sha2::Digest>::new_with_prefix(abs.to_string_lossy().as_bytes()));
        self.data_dir.join("state").join(format!("{stem}-{}.db", &hex::encode(digest)[..8]))
    }

    /// The rolling log folder of the desktop app.
    pub fn log_dir(&self) -> PathBuf {
        self.data_dir.join("logs")
    }
}
