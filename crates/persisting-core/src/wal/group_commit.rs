//! Group commit: fsync rounds shared by every waiting writer, and the interval syncer.

use std::io;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use super::format::segment_file_name;
use super::{lock, Inner, Wal};
use crate::error::{Error, ErrorCode, Result, ResultExt};

pub(super) struct Background {
    pub(super) stop: mpsc::Sender<()>,
    pub(super) handle: JoinHandle<()>,
}

pub(super) struct SyncState {
    /// Everything up to this LSN is on stable storage.
    pub(super) synced: u64,
    /// Highest LSN any waiter asked for.
    pub(super) requested: u64,
    /// An fsync round (leader) is running.
    pub(super) in_flight: bool,
    pub(super) failure: Option<String>,
}

impl Wal {
    /// Group commit: blocks until everything up to `lsn` is `fdatasync`ed. The first caller
    /// with nothing in flight runs the fsync rounds on its own thread (no runtime hop before the
    /// fsync); callers arriving while one runs are covered by the next round, which the
    /// finishing round starts immediately.
    pub fn sync_blocking_to(&self, lsn: u64) -> Result<()> {
        let lsn = lsn.min(lock(&self.inner.writer).lsn);
        self.inner.sync_blocking_to(lsn)
    }

    /// Blocks until everything appended so far is `fdatasync`ed (same group commit as `sync_blocking_to`).
    pub fn sync_blocking(&self) -> Result<()> {
        self.sync_blocking_to(u64::MAX)
    }
}

impl Inner {
    pub(super) fn failure_error(&self) -> Error {
        let why = lock(&self.sync).failure.clone().unwrap_or_default();
        Error::new(
            ErrorCode::WalIo,
            format!(
                "WAL fsync failed ({why}); records acknowledged since the last successful sync may not be \
                 durable and the WAL refuses further writes; reopen the bucket"
            ),
        )
    }

    pub(super) fn record_failure(&self, msg: String) {
        let mut st = lock(&self.sync);
        if st.failure.is_none() {
            eprintln!("[WAL_IO] {}: {msg}", self.dir.display());
            st.failure = Some(msg);
        }
        self.failed.store(true, Ordering::Release);
        drop(st);
        self.wake_all();
    }

    pub(super) fn wake_all(&self) {
        self.sync_cv.notify_all();
    }

    /// Runs fsync rounds until no waiter asks for more. The caller must have set `in_flight`.
    fn run_sync_rounds(&self) {
        loop {
            let (file, seg_id, target, written) = {
                let mut w = lock(&self.writer);
                // Under the writer lock, so a rotate never seals a segment missing these bytes.
                let written = self.write_pending(&mut w);
                (w.file.clone(), w.seg_id, w.lsn, written)
            };
            let needed = target > lock(&self.sync).synced;
            let res = match written {
                Err(msg) => Err(io::Error::other(msg)),
                Ok(()) if needed => {
                    self.fsyncs.fetch_add(1, Ordering::Relaxed);
                    let started = std::time::Instant::now();
                    let r = file.sync_data();
                    if let Some(observe) = self.fsync_observer.get() {
                        observe(started.elapsed());
                    }
                    r
                }
                Ok(()) => Ok(()),
            };
            drop(file);
            let mut st = lock(&self.sync);
            match res {
                // After a failure (e.g. a rotate's fsync), a later success proves nothing.
                Ok(()) if st.failure.is_none() => st.synced = st.synced.max(target),
                Ok(()) => {}
                Err(e) => {
                    let msg = format!("fdatasync {}: {e}", self.dir.join(segment_file_name(seg_id)).display());
                    if st.failure.is_none() {
                        eprintln!("[WAL_IO] {}: {msg}", self.dir.display());
                        st.failure = Some(msg);
                    }
                    self.failed.store(true, Ordering::Release);
                }
            }
            let again = st.failure.is_none() && st.requested > st.synced;
            if !again {
                st.in_flight = false;
            }
            drop(st);
            self.wake_all();
            if !again {
                return;
            }
        }
    }

    pub(super) fn sync_blocking_to(&self, target: u64) -> Result<()> {
        let mut st = lock(&self.sync);
        loop {
            if st.synced >= target {
                return Ok(());
            }
            if st.failure.is_some() {
                drop(st);
                return Err(self.failure_error());
            }
            st.requested = st.requested.max(target);
            if !st.in_flight {
                st.in_flight = true;
                drop(st);
                self.run_sync_rounds();
                st = lock(&self.sync);
            } else {
                st = self.sync_cv.wait(st).unwrap_or_else(|p| p.into_inner());
            }
        }
    }

    /// One tick of the interval syncer: fsync if something was written and nobody else is.
    fn background_sync(&self) {
        let target = lock(&self.writer).lsn;
        {
            let mut st = lock(&self.sync);
            if st.synced >= target || st.in_flight || st.failure.is_some() {
                return;
            }
            st.in_flight = true;
            st.requested = st.requested.max(target);
        }
        self.run_sync_rounds();
    }
}

pub(super) fn spawn_background(inner: &Arc<Inner>, interval: Duration) -> Result<Background> {
    let weak = Arc::downgrade(inner);
    let (stop, rx) = mpsc::channel::<()>();
    let handle = thread::Builder::new()
        .name("persisting-wal-sync".into())
        .spawn(move || loop {
            match rx.recv_timeout(interval) {
                Err(RecvTimeoutError::Timeout) => {}
                _ => return,
            }
            let Some(inner) = weak.upgrade() else { return };
            inner.background_sync();
        })
        .code(ErrorCode::WalIo, "spawn WAL sync thread")?;
    Ok(Background { stop, handle })
}
