//! Opening a WAL: create the directory, take the lock, recover, start a new segment.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Arc, Condvar, Mutex};

use super::fs::WalFs;
use super::group_commit::{spawn_background, SyncState};
use super::recovery::recover;
use super::writer::{create_segment, fsync_dir, Writer};
use super::{Inner, Recovery, Wal, WalConfig};
use crate::error::{Error, ErrorCode, Result, ResultExt};

const LOCK_FILE: &str = "LOCK";

fn lock_error(fs: &dyn WalFs, lock_path: &Path) -> Error {
    let by = match fs.lock_holder(lock_path) {
        Some(pid) => format!(" (last opened by pid {pid})"),
        None => String::new(),
    };
    Error::new(
        ErrorCode::WalLocked,
        format!(
            "WAL lock {} is held by another open bucket{by}, in this or another process; \
             close that one first (a storage path can be open only once at a time)",
            lock_path.display()
        ),
    )
}

impl Wal {
    /// Creates the directory, locks `<dir>/LOCK`, recovers the segments (see
    /// [`RecoveryMode`](super::RecoveryMode) and `docs/wal.md`), skips entries with
    /// `first_seq + count <= min_seq`, makes every kept segment durable, and starts a new
    /// segment for appends, numbered after every segment (quarantined ones included).
    pub fn open(cfg: WalConfig, min_seq: u64) -> Result<(Wal, Recovery)> {
        let dir = cfg.dir.clone();
        let fs = cfg.fs.clone();
        let existed = fs.is_dir(&dir);
        fs.create_dir_all(&dir).code(ErrorCode::WalIo, &format!("create WAL directory {}", dir.display()))?;
        if !existed {
            if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
                fsync_dir(&*fs, parent)?;
            }
        }

        let lock_path = dir.join(LOCK_FILE);
        let lock_guard = match fs.try_lock(&lock_path) {
            Ok(Some(guard)) => guard,
            Ok(None) => return Err(lock_error(&*fs, &lock_path)),
            Err(e) => return Err(Error::with_source(ErrorCode::WalIo, format!("lock WAL {}", lock_path.display()), e)),
        };

        let (recovery, sealed, seg_id): (Recovery, BTreeMap<u64, u64>, u64) =
            recover(&*fs, &dir, min_seq, cfg.recovery_mode)?;
        // Also fsyncs the directory, so the kept segments' entries are durable before any append.
        let file = create_segment(&*fs, &dir, seg_id)?;

        let inner = Arc::new(Inner {
            dir,
            fs,
            compression: cfg.compression,
            defer_writes: cfg.defer_writes && cfg.sync_interval.is_zero(),
            max_size: cfg.max_size,
            writer: Mutex::new(Writer {
                closed: false,
                broken: None,
                seg_id,
                file,
                seg_len: 0,
                lsn: 0,
                pending: Vec::new(),
                sealed,
            }),
            rotate_lock: Mutex::new(()),
            sync: Mutex::new(SyncState { synced: 0, requested: 0, in_flight: false, failure: None }),
            sync_cv: Condvar::new(),
            failed: AtomicBool::new(false),
            fsyncs: AtomicU64::new(0),
            fsync_observer: std::sync::OnceLock::new(),
            #[cfg(test)]
            inject_short_write: AtomicBool::new(false),
        });
        let background =
            if cfg.sync_interval.is_zero() { None } else { Some(spawn_background(&inner, cfg.sync_interval)?) };
        let wal = Wal { inner, background: Mutex::new(background), lock_guard: Mutex::new(Some(lock_guard)) };
        Ok((wal, recovery))
    }
}
