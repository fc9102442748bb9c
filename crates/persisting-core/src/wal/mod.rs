//! Write-ahead log for one bucket directory (`<storagePath>/wal/`).
//!
//! Layout: numbered segment files `wal-<20-digit id>.log` plus a `LOCK` file held with an
//! exclusive `flock` for the life of the [`Wal`]. Every entry is one frame (little-endian):
//!
//! ```text
//! [u32 length][u32 crc32(payload)][payload: length bytes]
//! payload = [u8 version = 1][u8 codec tag][u64 first_seq][u32 count][body = codec.compress(data)]
//! ```
//!
//! Appends `pwrite` whole frames at a length tracked in memory, so the data is in the OS page
//! cache (and survives a process crash) before `append` returns. Durability against power loss
//! comes from [`Wal::sync_blocking_to`] (group commit: one `fdatasync` covers every writer waiting on it)
//! or, with a non-zero `sync_interval`, from a background thread. See `docs/wal.md`.
//!
//! Recovery reads the segments up to the first damage (a torn, corrupt or undecodable frame,
//! or a gap in the sequence numbers). [`RecoveryMode::PointInTime`] cuts the damaged segment
//! there ([`Recovery::truncations`]) and moves everything after it into `quarantine/`
//! ([`Recovery::quarantined`]); [`RecoveryMode::Absolute`] refuses to open unless the damage is
//! a torn tail of the newest segment. Kept segments are made durable before `open` returns.
//!
//! File I/O goes through [`WalFs`] so tests can simulate power loss (`fault_fs`).

#[cfg(any(test, fuzzing, feature = "fault-fs"))]
pub mod fault_fs;
mod format;
mod fs;
#[cfg(any(test, fuzzing, feature = "fault-fs"))]
pub mod fuzz;
mod group_commit;
mod open;
mod recovery;
mod scan;
#[cfg(test)]
mod tests;
mod writer;

use std::any::Any;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

use crate::codec::Compression;
use crate::error::Result;

pub use format::segment_file_name;
pub use fs::{OsFs, WalFile, WalFs};
use group_commit::{Background, SyncState};
use writer::Writer;

/// Version byte at the start of every frame payload.
pub const FORMAT_VERSION: u8 = 1;
/// `[u32 length][u32 crc]`.
pub const FRAME_HEADER_LEN: usize = 8;
/// `[u8 version][u8 codec][u64 first_seq][u32 count]`.
pub const PAYLOAD_HEADER_LEN: usize = 14;
/// Largest frame payload (header + compressed body) written or accepted on recovery.
pub const MAX_FRAME_LEN: usize = 1 << 30;
/// Largest uncompressed entry accepted by `append` and produced by recovery.
pub const MAX_ENTRY_LEN: usize = 1 << 30;
/// Subdirectory of the WAL directory that damaged or unreachable segments are moved into.
pub const QUARANTINE_DIR: &str = "quarantine";

/// What recovery does with damage (a torn, corrupt or undecodable frame, or a sequence gap).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RecoveryMode {
    /// Keep everything before the first damage, cut the damaged segment there, move every
    /// later segment into `quarantine/` and open.
    #[default]
    PointInTime,
    /// Refuse to open (`WAL_CORRUPT`) on any damage except a torn tail of the newest segment.
    Absolute,
}

#[derive(Debug, Clone)]
pub struct WalConfig {
    pub dir: PathBuf,
    /// `Duration::ZERO`: callers `sync` before acknowledging (group commit).
    /// Otherwise a background thread `fdatasync`s every interval when something was written.
    pub sync_interval: Duration,
    /// Segment size at which the caller should `rotate` (see [`Wal::should_rotate`]).
    pub max_size: u64,
    /// Codec for new frames; every frame records its own codec, so any setting reads any WAL.
    pub compression: Compression,
    /// With `sync_interval` zero only: `append` keeps frames in memory and the fsync round
    /// writes them all with one `pwrite` before its `fdatasync`. Nothing is acknowledged before
    /// that fsync anyway, so a crash loses nothing acknowledged, and producers stop paying a
    /// system call per record.
    pub defer_writes: bool,
    pub recovery_mode: RecoveryMode,
    /// The file system; [`OsFs`] except in tests that simulate power loss.
    pub fs: Arc<dyn WalFs>,
}

impl Default for WalConfig {
    fn default() -> Self {
        WalConfig {
            dir: PathBuf::new(),
            sync_interval: Duration::ZERO,
            max_size: 64 << 20,
            compression: Compression::None,
            defer_writes: false,
            recovery_mode: RecoveryMode::PointInTime,
            fs: OsFs::shared(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalEntry {
    pub first_seq: u64,
    pub count: u32,
    /// Already decompressed.
    pub payload: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Truncation {
    pub segment: PathBuf,
    /// Length the segment was cut back to (start of the first bad frame).
    pub offset: u64,
    pub dropped_bytes: u64,
    pub reason: String,
}

/// Bytes recovery set aside instead of replaying: a whole segment after the first damage, or
/// the dropped part of a segment cut at damage that is not a torn tail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quarantine {
    /// Where the bytes were (the segment file).
    pub segment: PathBuf,
    /// Where they are now, under `<dir>/quarantine/`.
    pub moved_to: PathBuf,
    pub reason: String,
}

#[derive(Debug, Default)]
pub struct Recovery {
    /// Contiguous entries ending the WAL, the first one covering `min_seq`.
    pub entries: Vec<WalEntry>,
    pub truncations: Vec<Truncation>,
    pub quarantined: Vec<Quarantine>,
}

/// Write-ahead log of one bucket. `Send + Sync`; share it as `Arc<Wal>`.
pub struct Wal {
    inner: Arc<Inner>,
    background: Mutex<Option<Background>>,
    /// Held for the life of the WAL; dropping it releases the directory lock.
    lock_guard: Mutex<Option<Box<dyn Any + Send + Sync>>>,
}

struct Inner {
    dir: PathBuf,
    fs: Arc<dyn WalFs>,
    compression: Compression,
    defer_writes: bool,
    max_size: u64,
    writer: Mutex<Writer>,
    /// Serialises `rotate` calls (segment creation happens outside the writer lock).
    rotate_lock: Mutex<()>,
    sync: Mutex<SyncState>,
    /// Wakes `sync_blocking` waiters.
    sync_cv: Condvar,
    /// Set once an fsync failed; every later append and sync fails (fsync errors are not retryable).
    failed: AtomicBool,
    fsyncs: AtomicU64,
    /// Told the duration of every group-commit or background `fdatasync` (metrics).
    fsync_observer: std::sync::OnceLock<FsyncObserver>,
    #[cfg(test)]
    inject_short_write: AtomicBool,
}

/// Receives the duration of each WAL `fdatasync`.
pub type FsyncObserver = Box<dyn Fn(std::time::Duration) + Send + Sync>;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Wal {
    /// The LSN up to which everything is `fdatasync`ed. A sync for one LSN usually covers
    /// later appends too; callers batching acknowledgements resolve all of those at once.
    pub fn synced_lsn(&self) -> u64 {
        lock(&self.inner.sync).synced
    }

    /// Id of the segment appends currently go to.
    pub fn current_segment_id(&self) -> u64 {
        lock(&self.inner.writer).seg_id
    }

    pub fn current_segment_size(&self) -> u64 {
        lock(&self.inner.writer).seg_len
    }

    /// True when `max_size > 0` and the current segment has reached it.
    pub fn should_rotate(&self) -> bool {
        self.inner.max_size > 0 && self.current_segment_size() >= self.inner.max_size
    }

    /// Bytes in all live segments (sealed + current).
    pub fn total_size(&self) -> u64 {
        let w = lock(&self.inner.writer);
        w.sealed.values().sum::<u64>() + w.seg_len
    }

    /// Number of `fdatasync` calls issued on segment data (group commit, background, rotate).
    /// Sets who is told how long each `fdatasync` took (once; later calls are ignored).
    pub fn observe_fsyncs(&self, observer: FsyncObserver) {
        let _ = self.inner.fsync_observer.set(observer);
    }

    pub fn fsync_count(&self) -> u64 {
        self.inner.fsyncs.load(Ordering::Relaxed)
    }

    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// Stops the background thread, syncs everything, refuses further appends and releases
    /// the directory lock. Idempotent; also run on drop.
    pub fn close(&self) -> Result<()> {
        if let Some(bg) = lock(&self.background).take() {
            drop(bg.stop);
            let _ = bg.handle.join();
        }
        let target = {
            let mut w = lock(&self.inner.writer);
            if w.closed {
                None
            } else {
                w.closed = true;
                Some(w.lsn)
            }
        };
        let res = match target {
            Some(t) => self.inner.sync_blocking_to(t),
            None => Ok(()),
        };
        drop(lock(&self.lock_guard).take());
        res
    }
}

impl Drop for Wal {
    fn drop(&mut self) {
        if let Err(e) = self.close() {
            eprintln!("[{}] closing WAL {}: {}", e.code.as_str(), self.inner.dir.display(), e.full_message());
        }
    }
}
