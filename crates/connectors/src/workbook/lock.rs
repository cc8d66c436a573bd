//! Is the workbook open in Excel or LibreOffice? Their lock files (`~$Book.xlsx`,
//! `.~lock.Book.xlsx#`) exist for as long as the document is open; on Windows the file
//! itself can't be opened for writing. While either holds, we don't write.

use std::path::{Path, PathBuf};

use crosswalk_core::ConnectorError;

/// The lock files office programs put beside `path`.
pub fn lock_files(path: &Path) -> Vec<PathBuf> {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    vec![path.with_file_name(format!("~${name}")), path.with_file_name(format!(".~lock.{name}#"))]
}

/// Whether a file name is office or temp-file noise rather than a workbook.
pub fn is_noise(name: &str) -> bool {
    name.starts_with("~$") || (name.starts_with(".~lock.") && name.ends_with('#')) || name.ends_with(".tmp")
}

/// `Ok` when we may write `path` now; else [`ConnectorError::Locked`] saying what we wait for.
pub fn check_writable(path: &Path) -> Result<(), ConnectorError> {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let locked = || ConnectorError::Locked(format!("waiting for {name} to be closed (it is open in Excel or LibreOffice)"));
    if lock_files(path).iter().any(|l| l.exists()) {
        return Err(locked());
    }
    if path.exists() {
        match std::fs::OpenOptions::new().append(true).open(path) {
            Ok(f) => {
                use fs2::FileExt;
                if f.try_lock_exclusive().is_err() {
                    return Err(locked());
                }
                let _ = FileExt::unlock(&f);
            }
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
                return Err(ConnectorError::Locked(format!(
                    "can't write {name}: it is read-only or open in another program; close it or make it writable"
                )))
            }
            Err(_) => return Err(locked()),
        }
    }
    Ok(())
}
