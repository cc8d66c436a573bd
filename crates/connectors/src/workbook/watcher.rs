//! [`WorkbookWatcher`]: tells when a user saved a workbook, once per real save.
//!
//! How (DESKTOP_FACTS §6): watch each workbook's *parent folder* (rename-over saves replace
//! the file's inode) with `notify-debouncer-full` at 500 ms; keep only events naming the
//! exact workbook file that look like a save (create, data write, rename onto it, close
//! after write) — so lock files (`~$…`, `.~lock.…#`) and temp files (`*.tmp`, Excel's
//! extension-less names) never count. Then settle: wait until length and mtime have not
//! changed for [`SETTLE`], check the file opens as a zip, hash it, and report it only if
//! the hash differs from the last one seen and is not one we wrote ourselves
//! ([`super::versions::is_own_write`]). One save that arrives as two debounced batches
//! (in-place writes, LibreOffice) is thus reported once.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use crosswalk_core::ConnectorError;
use notify::event::{AccessKind, AccessMode, EventKind, ModifyKind, RenameMode};
use notify::RecursiveMode;
use notify_debouncer_full::{new_debouncer, DebounceEventResult, Debouncer, RecommendedCache};
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};

use super::lock::is_noise;
use super::versions::{content_hash, is_own_write};

/// Debounce window of the file-system events.
pub const DEBOUNCE: Duration = Duration::from_millis(500);
/// How long length and mtime must stay unchanged before we read the file.
pub const SETTLE: Duration = Duration::from_millis(400);
/// Give up on a file that never becomes a readable workbook after this long.
const GIVE_UP: Duration = Duration::from_secs(60);

/// Watches workbooks; dropping it stops watching.
pub struct WorkbookWatcher {
    debouncer: Option<Debouncer<notify::RecommendedWatcher, RecommendedCache>>,
    stop: Arc<AtomicBool>,
    worker: Option<JoinHandle<()>>,
}

/// Which paths of an event count as "this file may have been saved".
fn saved_paths(ev: &notify::Event) -> Vec<&Path> {
    match ev.kind {
        EventKind::Create(_) | EventKind::Modify(ModifyKind::Data(_)) | EventKind::Modify(ModifyKind::Any) => ev.paths.iter().map(PathBuf::as_path).collect(),
        EventKind::Modify(ModifyKind::Name(RenameMode::To)) => ev.paths.iter().map(PathBuf::as_path).collect(),
        EventKind::Modify(ModifyKind::Name(RenameMode::Both)) => ev.paths.get(1).map(PathBuf::as_path).into_iter().collect(),
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => ev.paths.iter().map(PathBuf::as_path).collect(),
        _ => vec![],
    }
}

struct Target {
    last_hash: Option<String>,
}

struct Dirty {
    seen: (u64, Option<SystemTime>),
    stable_since: Instant,
    first: Instant,
}

fn stat(path: &Path) -> Option<(u64, Option<SystemTime>)> {
    std::fs::metadata(path).ok().map(|m| (m.len(), m.modified().ok()))
}

fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

impl WorkbookWatcher {
    /// Starts watching `paths`; the receiver gets a workbook's path once per real save.
    pub fn spawn(paths: Vec<PathBuf>) -> Result<(WorkbookWatcher, UnboundedReceiver<PathBuf>), ConnectorError> {
        let targets: HashMap<PathBuf, Target> = paths
            .iter()
            .map(|p| {
                let p = absolute(p);
                let last_hash = std::fs::read(&p).ok().map(|b| content_hash(&b));
                (p, Target { last_hash })
            })
            .collect();
        let (raw_tx, raw_rx) = mpsc::channel::<PathBuf>();
        let names: Vec<PathBuf> = targets.keys().cloned().collect();
        let handler = move |res: DebounceEventResult| {
            let Ok(events) = res else { return };
            for ev in events {
                for p in saved_paths(&ev) {
                    let name = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                    if is_noise(&name) {
                        continue;
                    }
                    if let Some(t) = names.iter().find(|t| t.file_name() == p.file_name() && t.parent() == p.parent()) {
                        let _ = raw_tx.send(t.clone());
                    }
                }
            }
        };
        let mut debouncer = new_debouncer(DEBOUNCE, None, handler).map_err(|e| ConnectorError::Other(format!("can't start the file watcher: {e}")))?;
        let mut dirs: Vec<PathBuf> = targets.keys().filter_map(|p| p.parent().map(Path::to_path_buf)).collect();
        dirs.sort();
        dirs.dedup();
        for d in &dirs {
            debouncer
                .watch(d, RecursiveMode::NonRecursive)
                .map_err(|e| ConnectorError::Other(format!("can't watch folder {}: {e}", d.display())))?;
        }
        let (tx, rx) = unbounded_channel();
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = stop.clone();
        let worker = std::thread::Builder::new()
            .name("workbook-watcher".into())
            .spawn(move || settle_loop(targets, raw_rx, tx, stop2))
            .map_err(|e| ConnectorError::Other(format!("can't start the watcher thread: {e}")))?;
        Ok((WorkbookWatcher { debouncer: Some(debouncer), stop, worker: Some(worker) }, rx))
    }
}

impl Drop for WorkbookWatcher {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(d) = self.debouncer.take() {
            d.stop_nonblocking();
        }
        if let Some(w) = self.worker.take() {
            let _ = w.join();
        }
    }
}

fn settle_loop(mut targets: HashMap<PathBuf, Target>, raw: mpsc::Receiver<PathBuf>, tx: UnboundedSender<PathBuf>, stop: Arc<AtomicBool>) {
    let mut dirty: HashMap<PathBuf, Dirty> = HashMap::new();
    while !stop.load(Ordering::SeqCst) {
        match raw.recv_timeout(Duration::from_millis(50)) {
            Ok(p) => {
                let now = Instant::now();
                let seen = stat(&p).unwrap_or((0, None));
                let first = dirty.get(&p).map_or(now, |d| d.first);
                dirty.insert(p, Dirty { seen, stable_since: now, first });
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
        let now = Instant::now();
        let mut done = vec![];
        for (p, d) in dirty.iter_mut() {
            let Some(cur) = stat(p) else {
                done.push(p.clone());
                continue;
            };
            if cur != d.seen {
                d.seen = cur;
                d.stable_since = now;
                continue;
            }
            if now.duration_since(d.stable_since) < SETTLE {
                continue;
            }
            let Ok(bytes) = std::fs::read(p) else {
                d.stable_since = now;
                continue;
            };
            if zip::ZipArchive::new(std::io::Cursor::new(&bytes[..])).is_err() {
                // Half-written, or not a workbook: try again later, then give up.
                if now.duration_since(d.first) > GIVE_UP {
                    done.push(p.clone());
                } else {
                    d.stable_since = now;
                }
                continue;
            }
            done.push(p.clone());
            let hash = content_hash(&bytes);
            let Some(t) = targets.get_mut(p) else { continue };
            if t.last_hash.as_deref() == Some(hash.as_str()) {
                continue;
            }
            t.last_hash = Some(hash.clone());
            if is_own_write(&hash) {
                tracing::debug!(path = %p.display(), "Ignoring our own write");
                continue;
            }
            tracing::info!(path = %p.display(), "Workbook saved");
            if tx.send(p.clone()).is_err() {
                return;
            }
        }
        for p in done {
            dirty.remove(&p);
        }
    }
}
