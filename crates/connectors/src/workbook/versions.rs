//! Version history: before every write-back the old file is copied to
//! `DATA_DIR/versions/<file name>-<hash of its full path>/`, keeping the last [`KEEP`].
//! `crosswalk restore WORKBOOK [--version N]` calls [`list_versions`] and [`restore`].
//! Also the process-wide registry of content hashes we wrote ourselves, which the watcher
//! consults so our own write-back never triggers a sync.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

use crosswalk_core::ConnectorError;
use sha2::{Digest, Sha256};

/// How many old versions are kept per workbook.
pub const KEEP: usize = 20;

/// One saved version. `number` 1 is the newest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VersionInfo {
    pub number: usize,
    pub path: PathBuf,
    pub saved_at: SystemTime,
    pub size: u64,
}

/// The SHA-256 of some content, in hex.
pub fn content_hash(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn absolute(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf()))
}

/// The folder holding `workbook`'s versions.
pub fn versions_dir(data_dir: &Path, workbook: &Path) -> PathBuf {
    let abs = absolute(workbook);
    let name = abs.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "workbook".into());
    let h = &content_hash(abs.to_string_lossy().as_bytes())[..12];
    data_dir.join("versions").join(format!("{name}-{h}"))
}

/// Saved versions of `workbook`, newest first (number 1).
pub fn list_versions(data_dir: &Path, workbook: &Path) -> std::io::Result<Vec<VersionInfo>> {
    let dir = versions_dir(data_dir, workbook);
    let mut files: Vec<(String, PathBuf, SystemTime, u64)> = match std::fs::read_dir(&dir) {
        Ok(rd) => rd
            .flatten()
            .filter_map(|e| {
                let m = e.metadata().ok()?;
                m.is_file().then(|| (e.file_name().to_string_lossy().into_owned(), e.path(), m.modified().unwrap_or(SystemTime::UNIX_EPOCH), m.len()))
            })
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => vec![],
        Err(e) => return Err(e),
    };
    // Names start with a zero-padded nanosecond time stamp: sorting by name is by age.
    files.sort_by(|a, b| b.0.cmp(&a.0));
    Ok(files.into_iter().enumerate().map(|(i, (_, path, saved_at, size))| VersionInfo { number: i + 1, path, saved_at, size }).collect())
}

/// Copies `bytes` (the workbook as it is before we replace it) into the history.
pub fn save_version(data_dir: &Path, workbook: &Path, bytes: &[u8]) -> std::io::Result<PathBuf> {
    let dir = versions_dir(data_dir, workbook);
    std::fs::create_dir_all(&dir)?;
    let nanos = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    let ext = workbook.extension().map(|e| e.to_string_lossy().into_owned()).unwrap_or_else(|| "xlsx".into());
    let mut path = dir.join(format!("{nanos:024}.{ext}"));
    let mut n = 0;
    while path.exists() {
        n += 1;
        path = dir.join(format!("{nanos:024}-{n}.{ext}"));
    }
    std::fs::write(&path, bytes)?;
    for old in list_versions(data_dir, workbook)?.into_iter().skip(KEEP) {
        let _ = std::fs::remove_file(old.path);
    }
    Ok(path)
}

/// Puts version `version` (1 = newest, the default) back in place of `workbook`. The
/// current file is saved into the history first, so a restore can itself be undone.
pub fn restore(data_dir: &Path, workbook: &Path, version: Option<usize>) -> Result<VersionInfo, ConnectorError> {
    let name = workbook.display();
    let versions = list_versions(data_dir, workbook).map_err(|e| ConnectorError::Other(format!("reading the versions of {name}: {e}")))?;
    if versions.is_empty() {
        return Err(ConnectorError::NotFound(format!("no saved versions of {name}; Crosswalk keeps one each time it writes the workbook")));
    }
    let n = version.unwrap_or(1);
    let v = versions.iter().find(|v| v.number == n).cloned().ok_or_else(|| {
        ConnectorError::NotFound(format!("{name} has no version {n}; choose 1 (newest) to {}", versions.len()))
    })?;
    super::lock::check_writable(workbook)?;
    let bytes = std::fs::read(&v.path).map_err(|e| ConnectorError::Other(format!("reading {}: {e}", v.path.display())))?;
    if let Ok(current) = std::fs::read(workbook) {
        save_version(data_dir, workbook, &current).map_err(|e| ConnectorError::Other(format!("saving the current {name}: {e}")))?;
    }
    super::write::replace_file(workbook, &bytes).map_err(|e| ConnectorError::Other(format!("writing {name}: {e}")))?;
    Ok(v)
}

static OWN_WRITES: Mutex<VecDeque<String>> = Mutex::new(VecDeque::new());

/// Records that we wrote content with this hash (so the watcher ignores it).
pub fn note_own_write(hash: &str) {
    let mut q = OWN_WRITES.lock().unwrap_or_else(|e| e.into_inner());
    q.push_back(hash.to_string());
    while q.len() > 256 {
        q.pop_front();
    }
}

/// Whether content with this hash was written by this process.
pub fn is_own_write(hash: &str) -> bool {
    OWN_WRITES.lock().unwrap_or_else(|e| e.into_inner()).iter().any(|h| h == hash)
}
