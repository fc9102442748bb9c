//! One bucket's storage: an Arrow buffer in memory in front of an append-only Lance dataset,
//! optionally behind a write-ahead log.
//!
//! Sequence numbers are row offsets: record `n` of the bucket has sequence `n`. A Lance commit
//! therefore records, atomically and for free, the highest sequence it holds (its row count),
//! and recovery replays exactly the WAL records at or past that count: none lost, none twice.
//!
//! The implementation is split by concern: `options` (what a bucket is opened with), `state`
//! (the locked state and buffered chunks), `open` (locks, WAL drain and replay, readers,
//! checkouts), `schema` (decoding and schema merging), `buffer` (puts, durability, back-pressure),
//! `flush` (Lance commits, compaction, indexes) and `read` (ranges, waits, search).

mod arrow_put;
mod buffer;
mod flush;
mod open;
mod options;
mod read;
mod schema;
mod state;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use lance::dataset::Dataset;
use tokio::sync::watch;

use crate::error::{Error, ErrorCode, Result};
use crate::lance_io::{self, Durability};
use crate::lock::BucketLock;
use crate::metrics::BucketMetrics;
use crate::wal::Wal;

pub use options::{StoreOptions, WalOptions};
use state::State;

/// What a caller must still wait for after `put_json` returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutAck {
    Done,
    /// Call `sync_wal_blocking(lsn)` (off the runtime) before acknowledging (walSyncInterval = 0).
    Sync(u64),
    /// The buffer is far past its threshold: await `relieve()` (back-pressure).
    Backpressure,
}

pub struct Stats {
    pub bucket_id: i64,
    pub total_count: u64,
    pub buffer_count: u64,
    /// Bytes the unflushed records hold (see `maxBufferBytes`).
    pub buffer_bytes: u64,
    pub persisted_count: u64,
    pub storage_path: String,
    pub backend: String,
    pub wal_enabled: bool,
    pub wal_size: u64,
    pub wal_fsyncs: u64,
    pub compression: Option<&'static str>,
    pub fragments: u64,
    pub version: u64,
    pub disk_bytes: u64,
    pub wal_events: Vec<String>,
    pub read_only: bool,
    pub last_flush_error: Option<String>,
    /// Why the bucket failed stop, if it did.
    pub failed: Option<String>,
}

pub struct BucketStore {
    opts: StoreOptions,
    uri: String,
    state: Mutex<State>,
    flush_lock: tokio::sync::Mutex<()>,
    wal: Option<Arc<Wal>>,
    total: watch::Sender<u64>,
    total_fast: AtomicU64,
    metrics: Option<BucketMetrics>,
    read_only: bool,
    /// A `readOnly` reader of the latest version (not a checkout pinned to an old one).
    follows: bool,
    durability: Durability,
    bg_flush_scheduled: AtomicBool,
    /// A reader's current pause between looks for a new version, in ms: kept across waits so an
    /// idle reader stays at the longest pause instead of starting over at every wait.
    poll_pause_ms: AtomicU64,
    /// Looks for a newer version a reader made (each is a listing on an object store).
    version_checks: AtomicU64,
    locks: Mutex<Vec<BucketLock>>,
    /// The bucket's lease on an object store (commits check it; close releases it).
    lease: Option<Arc<crate::lease::Lease>>,
}

impl BucketStore {
    /// The one constructor behind `open`, readers and `checkout`.
    fn build(
        opts: StoreOptions,
        uri: String,
        ds: Option<Dataset>,
        persisted: u64,
        wal: Option<Arc<Wal>>,
        guards: open::Guards,
        read_only: bool,
    ) -> BucketStore {
        let schema = ds.as_ref().map(|d| Arc::new(lance_io::stored_schema(d)));
        let metrics = (opts.metrics && !read_only)
            .then(|| BucketMetrics::new(opts.topic.as_deref().unwrap_or(""), &opts.bucket_id.to_string()));
        if let (Some(m), Some(w)) = (&metrics, &wal) {
            let h = m.fsync_seconds.clone();
            w.observe_fsyncs(Box::new(move |d| h.observe(d.as_secs_f64())));
        }
        let (total, _) = watch::channel(persisted);
        BucketStore {
            durability: Durability::new(&uri, guards.lease.clone()),
            uri,
            state: Mutex::new(State::new(schema, persisted, ds.map(Arc::new))),
            flush_lock: tokio::sync::Mutex::new(()),
            wal,
            total,
            total_fast: AtomicU64::new(persisted),
            metrics,
            read_only,
            follows: false,
            bg_flush_scheduled: AtomicBool::new(false),
            poll_pause_ms: AtomicU64::new(read::MIN_POLL_PAUSE.as_millis() as u64),
            version_checks: AtomicU64::new(0),
            locks: Mutex::new(guards.locks),
            lease: guards.lease,
            opts,
        }
    }

    /// The state, also after a panic elsewhere poisoned its lock: the bucket then fails stop
    /// (the panic may have left it half-updated) instead of every later call panicking too.
    fn st(&self) -> std::sync::MutexGuard<'_, State> {
        match self.state.lock() {
            Ok(g) => g,
            Err(poisoned) => {
                let mut g = poisoned.into_inner();
                if g.failed.is_none() {
                    g.failed = Some("[INTERNAL] a panic interrupted an operation on this bucket".into());
                }
                g
            }
        }
    }

    /// Errors once the bucket has failed stop.
    fn check_failed(st: &State) -> Result<()> {
        match &st.failed {
            None => Ok(()),
            Some(why) => Err(Error::new(
                ErrorCode::BucketFailed,
                format!(
                    "this bucket stopped after an I/O error ({why}); nothing more is written or read \
                     until it is closed and reopened, which reconciles it from disk"
                ),
            )),
        }
    }

    fn ensure_usable(&self) -> Result<()> {
        Self::check_failed(&self.st())
    }

    /// Records the first I/O error: from now on the bucket fails stop.
    fn fail_stop(&self, e: &Error) {
        let mut st = self.st();
        if st.failed.is_none() {
            eprintln!("[BUCKET_FAILED] {}: {}", self.opts.storage_path, e.full_message());
            st.failed = Some(format!("[{}] {}", e.code.as_str(), e.full_message()));
            if let Some(m) = &self.metrics {
                m.flush_errors.inc();
            }
        }
    }

    /// Passes `r` through, failing the bucket stop when it is an error.
    fn stop_on_err<T>(&self, r: Result<T>) -> Result<T> {
        if let Err(e) = &r {
            self.fail_stop(e);
        }
        r
    }

    pub fn options(&self) -> &StoreOptions {
        &self.opts
    }

    pub fn total_count(&self) -> u64 {
        self.total_fast.load(Ordering::Acquire)
    }

    pub fn buffer_count(&self) -> u64 {
        self.st().buffer_rows
    }

    fn publish_total(&self, total: u64) {
        self.total_fast.store(total, Ordering::Release);
        self.total.send_replace(total);
    }

    pub fn stats(&self) -> Stats {
        // Directory walk outside the state lock: puts must not wait on it.
        let disk_bytes = lance_io::local_path(&self.opts.storage_path).map(|p| lance_io::disk_usage(&p)).unwrap_or(0);
        let visible = self.total_count();
        let st = self.st();
        Stats {
            bucket_id: self.opts.bucket_id,
            total_count: visible,
            buffer_count: visible.saturating_sub(st.persisted),
            buffer_bytes: st.buffer_bytes,
            persisted_count: st.persisted,
            storage_path: self.opts.storage_path.clone(),
            backend: self.opts.backend.clone(),
            wal_enabled: self.wal.is_some(),
            wal_size: self.wal.as_ref().map(|w| w.total_size()).unwrap_or(0),
            wal_fsyncs: self.wal.as_ref().map(|w| w.fsync_count()).unwrap_or(0),
            compression: self.opts.compression.name(),
            fragments: st.dataset.as_ref().map(|d| d.get_fragments().len() as u64).unwrap_or(0),
            version: st.dataset.as_ref().map(|d| d.version().version).unwrap_or(0),
            disk_bytes,
            wal_events: st.wal_events.clone(),
            read_only: self.read_only,
            last_flush_error: st.flush_error.clone(),
            failed: st.failed.clone(),
        }
    }

    /// Flushes, syncs and releases the WAL lock and the lease; wakes blocked readers.
    /// A failed bucket is not flushed: its reopen reconciles from disk instead.
    pub async fn close(self: &Arc<Self>) -> Result<()> {
        let r = self.close_keeping_lease().await;
        // A failed bucket keeps its lease until it expires: its WAL may still hold records only
        // its own writer can replay.
        let failed = self.st().failed.is_some();
        match &self.lease {
            Some(lease) if !failed => r.and(lease.release().await),
            _ => r,
        }
    }

    async fn close_keeping_lease(self: &Arc<Self>) -> Result<()> {
        if self.st().closed {
            return Ok(());
        }
        let failed = self.st().failed.is_some();
        let r = if failed || self.read_only { Ok(()) } else { self.flush().await };
        let failed = self.st().failed.is_some();
        self.st().closed = true;
        let mut r = if failed { Ok(()) } else { r };
        if let Some(w) = &self.wal {
            let closed = w.close();
            if r.is_ok() && !failed {
                r = closed;
            }
        }
        self.locks.lock().unwrap_or_else(|p| p.into_inner()).clear();
        self.total.send_replace(u64::MAX);
        r
    }

    pub fn is_closed(&self) -> bool {
        self.st().closed
    }
}
