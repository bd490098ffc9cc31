//! `-e FILE` (`--memory-file`): warm restart. On an orderly stop (SIGTERM, SIGINT,
//! SIGUSR1 or the `shutdown` command), once the listeners have drained, every live
//! item is written to `FILE.tmp`, synced and renamed to `FILE`; at the next start,
//! before listening, its items are restored, and `FILE` is removed before the first
//! client is served. So a crash or a `kill -9` later never restores stale items:
//! only a stop that wrote a new file does. The format is
//! `memkeep_server::store::snapshot`'s; see docs/warm-restart.md.

use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::Instant;

use memkeep_server::store::snapshot::{self, ResumePoint};
use memkeep_server::store::Store;
use tracing::{info, warn};

/// Where the snapshot is written first, renamed over `path` once complete.
fn temporary(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".tmp");
    PathBuf::from(name)
}

/// Refuses a file the process could not write at its stop (as memcached refuses a
/// memory file it cannot open): creates and removes `FILE.tmp`, which also clears
/// one left by a stop that was killed while writing. Call as the user the process
/// runs as (after `-u`).
pub fn check_writable(path: &Path) -> Result<(), String> {
    let tmp = temporary(path);
    create(&tmp)
        .and_then(|_| std::fs::remove_file(&tmp))
        .map_err(|e| format!("cannot use the memory file {}: {e}", path.display()))
}

/// What [`restore`] found.
#[derive(Debug, Default)]
pub struct Restored {
    /// The replication resume points the snapshot carried.
    pub resume: Vec<ResumePoint>,
    /// The file was a snapshot (restored or refused): [`forget`] removes it.
    ours: bool,
}

/// Restores the items of the snapshot at `path` into `store` (which must be empty).
/// A missing file means a cold start; a foreign, corrupt, truncated or other-version
/// one is refused with a warning and the cache starts empty. Never fails the start.
/// The file stays until [`forget`], so a start that fails later (a busy port, say)
/// keeps it for the next.
pub fn restore(path: &Path, store: &Store) -> Restored {
    let started = Instant::now();
    let mut file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            info!(file = %path.display(), "-e: no snapshot, starting with an empty cache");
            return Restored::default();
        }
        Err(e) => {
            warn!(file = %path.display(), error = %e, "-e: cannot open the snapshot, starting with an empty cache");
            return Restored::default();
        }
    };
    match snapshot::is_snapshot(&mut file).and_then(|ours| {
        file.seek(SeekFrom::Start(0))?;
        Ok(ours)
    }) {
        Ok(true) => {}
        // Not ours: left as it is (the next orderly stop replaces it).
        Ok(false) => {
            warn!(file = %path.display(), "-e: not a memkeepd snapshot, starting with an empty cache");
            return Restored::default();
        }
        Err(e) => {
            warn!(file = %path.display(), error = %e, "-e: cannot read the snapshot, starting with an empty cache");
            return Restored::default();
        }
    }
    match snapshot::load(store, file) {
        Ok(loaded) => {
            info!(
                file = %path.display(),
                items = loaded.items,
                expired = loaded.expired,
                too_large = loaded.too_large,
                not_stored = loaded.not_stored,
                age_seconds = store.unix_now().saturating_sub(loaded.written_at),
                ms = started.elapsed().as_millis() as u64,
                "-e: cache restored"
            );
            Restored {
                resume: loaded.resume,
                ours: true,
            }
        }
        Err(e) => {
            warn!(file = %path.display(), error = %e, "-e: snapshot refused, starting with an empty cache");
            Restored {
                resume: Vec::new(),
                ours: true,
            }
        }
    }
}

/// Removes the snapshot [`restore`] read, before the first client is served: from
/// then on the cache differs from it, and a crash must not restore it. A file that
/// cannot be removed fails the start (the process could not save over it either).
pub fn forget(path: &Path, restored: &Restored) -> Result<(), String> {
    if !restored.ours {
        return Ok(());
    }
    std::fs::remove_file(path).map_err(|e| {
        format!(
            "cannot remove the memory file {} once read: {e}",
            path.display()
        )
    })
}

/// Writes every live item of `store` and `resume` to `path`, through `FILE.tmp` so
/// that `path` is either the whole new snapshot or absent.
pub fn save(path: &Path, store: &Store, resume: &[ResumePoint]) -> Result<(), String> {
    let started = Instant::now();
    let tmp = temporary(path);
    let failed = |e: &dyn std::fmt::Display| {
        let _ = std::fs::remove_file(&tmp);
        format!("cannot save the cache to {}: {e}", path.display())
    };
    let file = create(&tmp).map_err(|e| failed(&e))?;
    let written = snapshot::write(store, resume, &file).map_err(|e| failed(&e))?;
    file.sync_all().map_err(|e| failed(&e))?;
    std::fs::rename(&tmp, path).map_err(|e| failed(&e))?;
    // The rename itself is durable once the directory is synced.
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if let Ok(dir) = File::open(dir) {
            let _ = dir.sync_all();
        }
    }
    info!(
        file = %path.display(),
        items = written.items,
        bytes = written.bytes,
        ms = started.elapsed().as_millis() as u64,
        "-e: cache saved"
    );
    Ok(())
}

/// A new file readable by the owner only: it holds every cached value. One left
/// there (by a stop killed while writing, perhaps as another user) is replaced.
fn create(path: &Path) -> std::io::Result<File> {
    let _ = std::fs::remove_file(path);
    OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
}
