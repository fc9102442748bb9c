//! One bucket's storage: an Arrow buffer in memory in front of an append-only Lance dataset,
//! optionally behind a write-ahead log.
//!
//! Sequence numbers are row offsets: record `n` of the bucket has sequence `n`. A Lance commit
//! therefore records, atomically and for free, the highest sequence it holds (its row count),
//! and recovery replays exactly the WAL records at or past that count: none lost, none twice.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arrow_array::RecordBatch;
use arrow_schema::{Schema, SchemaRef};
use lance::dataset::Dataset;
use tokio::sync::watch;

use crate::codec::Compression;
use crate::conform::{conform_batch, fill_missing, strip_metadata, with_compression};
use crate::error::{Error, ErrorCode, Result, ResultExt};
use crate::fault;
use crate::json::{self, MergeMode};
use crate::lance_io::{self, Durability};
use crate::lock::{create_dir_durable, BucketLock};
use crate::metrics::BucketMetrics;
use crate::wal::{RecoveryMode, Wal, WalConfig};

#[derive(Debug, Clone)]
pub struct WalOptions {
    /// Zero: fsync before every acknowledgement (group commit).
    pub sync_interval: Duration,
    pub max_size: u64,
    /// What recovery does with damage (see `docs/durability.md`).
    pub recovery_mode: RecoveryMode,
}

impl WalOptions {
    pub fn new(sync_interval: Duration, max_size: u64) -> Self {
        WalOptions { sync_interval, max_size, recovery_mode: RecoveryMode::PointInTime }
    }
}

#[derive(Debug, Clone)]
pub struct StoreOptions {
    pub storage_path: String,
    pub bucket_id: i64,
    pub topic: Option<String>,
    pub backend: String,
    pub batch_size: usize,
    pub flush_threshold: usize,
    /// Fragments past which a flush also compacts; 0 disables.
    pub compaction_threshold: usize,
    pub evolve_schema: bool,
    pub compression: Compression,
    pub wal: Option<WalOptions>,
    pub metrics: bool,
    /// A reader: takes no lock, never writes, follows what writers flush.
    pub read_only: bool,
}

impl StoreOptions {
    pub fn new(storage_path: impl Into<String>) -> Self {
        StoreOptions {
            storage_path: storage_path.into(),
            bucket_id: 0,
            topic: None,
            backend: "lance".into(),
            batch_size: 100,
            flush_threshold: 1000,
            compaction_threshold: 64,
            evolve_schema: false,
            compression: Compression::None,
            wal: None,
            metrics: false,
            read_only: false,
        }
    }
}

/// What a caller must still wait for after `put_json` returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutAck {
    Done,
    /// Await `sync_wal(lsn)` before acknowledging (walSyncInterval = 0).
    Sync(u64),
    /// The buffer is far past its threshold: await `relieve()` (back-pressure).
    Backpressure,
}

struct State {
    /// Buffer/decode schema: always a superset of the stored schema.
    schema: Option<SchemaRef>,
    /// Top-level fields already in Lance (fixed or evolvable depending on backend).
    stored: Option<SchemaRef>,
    buffer: Vec<Chunk>,
    buffer_rows: u64,
    persisted: u64,
    dataset: Option<Arc<Dataset>>,
    flushing: bool,
    closed: bool,
    flush_error: Option<String>,
    wal_events: Vec<String>,
    /// Set by the first I/O error in a flush, compaction or the WAL: every later call fails
    /// until the bucket is reopened and reconciled from disk (fail-stop).
    failed: Option<String>,
    /// With `walSyncInterval: 0`, puts not yet fsynced: (WAL position, total once durable).
    /// Readers see a record only once it is durable, so they never see what a crash could take back.
    undurable: VecDeque<(u64, u64)>,
}

impl State {
    fn new(schema: Option<SchemaRef>, persisted: u64, dataset: Option<Arc<Dataset>>) -> Self {
        State {
            stored: schema.clone(),
            schema,
            buffer: Vec::new(),
            buffer_rows: 0,
            persisted,
            dataset,
            flushing: false,
            closed: false,
            flush_error: None,
            wal_events: Vec::new(),
            failed: None,
            undurable: VecDeque::new(),
        }
    }
}

/// Rows accepted but not decoded yet: newline-separated JSON that the byte scan has checked
/// against `schema` (flat rows only, see `SplitRows::flat`), so a strict decode cannot fail.
/// Decoding them later, on a core worker, keeps it off the JavaScript thread.
struct RawRows {
    bytes: Vec<u8>,
    rows: usize,
    schema: SchemaRef,
}

/// Raw rows grow by appending while nobody else holds them; past this many a new chunk starts,
/// so a read of a few buffered rows never decodes a huge chunk.
const RAW_CHUNK_ROWS: usize = 16_384;

#[derive(Clone)]
enum Chunk {
    Batch(RecordBatch),
    Raw(Arc<RawRows>),
}

impl Chunk {
    fn num_rows(&self) -> usize {
        match self {
            Chunk::Batch(b) => b.num_rows(),
            Chunk::Raw(r) => r.rows,
        }
    }

    /// Decoded and shaped like `schema` (the buffer's current schema).
    fn decode(&self, schema: &SchemaRef) -> Result<RecordBatch> {
        let b = match self {
            Chunk::Batch(b) => b.clone(),
            Chunk::Raw(r) => json::decode_rows(&r.bytes, &r.schema, r.rows)
                .map_err(|e| Error::with_source(ErrorCode::Internal, "decoding buffered rows that passed the scan", e))?,
        };
        if b.schema().as_ref() == schema.as_ref() {
            Ok(b)
        } else {
            conform_batch(&b, schema)
        }
    }

    /// Raw rows stay raw (they decode with their own schema and are conformed then).
    fn conform(&self, schema: &SchemaRef) -> Result<Chunk> {
        match self {
            Chunk::Batch(b) => Ok(Chunk::Batch(conform_batch(b, schema)?)),
            Chunk::Raw(_) => Ok(self.clone()),
        }
    }
}

pub struct Stats {
    pub bucket_id: i64,
    pub total_count: u64,
    pub buffer_count: u64,
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
    lock: Mutex<Option<BucketLock>>,
}

impl BucketStore {
    /// Opens (or creates lazily on first flush) the bucket at `opts.storage_path`, replaying the
    /// WAL. A writer takes the bucket lock before it reads anything.
    pub async fn open(opts: StoreOptions) -> Result<Arc<Self>> {
        validate(&opts)?;
        if opts.read_only {
            return Self::open_reader(opts).await;
        }
        let local = lance_io::local_path(&opts.storage_path);
        let mut lock = None;
        if let Some(dir) = &local {
            create_dir_durable(dir)?;
            let code = if opts.wal.is_some() { ErrorCode::WalLocked } else { ErrorCode::Locked };
            lock = Some(BucketLock::acquire(dir, code)?);
            if opts.wal.is_none() && wal_holds_records(&dir.join("wal")) {
                lock = Some(Self::drain_wal(&opts, lock.take()).await?);
            }
        }
        Self::open_locked(opts, lock).await
    }

    /// A WAL left by a session with `enableWal` holds acknowledged records: replay and flush
    /// them into Lance before a WAL-less session starts numbering rows after Lance's count.
    async fn drain_wal(opts: &StoreOptions, lock: Option<BucketLock>) -> Result<BucketLock> {
        let mut with_wal = opts.clone();
        with_wal.wal = Some(WalOptions::new(Duration::ZERO, 100 << 20));
        with_wal.metrics = false;
        let store = Self::open_locked(with_wal, lock).await?;
        store.flush().await?;
        fault::point("after_recovery_flush")?;
        let lock = store.lock.lock().unwrap_or_else(|p| p.into_inner()).take();
        store.close().await?;
        if let Some(dir) = lance_io::local_path(&opts.storage_path) {
            remove_empty_segments(&dir.join("wal"))?;
        }
        lock.ok_or_else(|| Error::internal("bucket lock lost while draining the WAL"))
    }

    async fn open_locked(opts: StoreOptions, lock: Option<BucketLock>) -> Result<Arc<Self>> {
        let uri = lance_io::dataset_uri(&opts.storage_path);
        let ds = lance_io::open_if_exists(&uri).await?;
        let persisted = match &ds {
            Some(ds) => lance_io::count_rows(ds).await?,
            None => 0,
        };
        let (wal, recovery) = match &opts.wal {
            Some(w) => {
                let local = lance_io::local_path(&opts.storage_path).ok_or_else(|| {
                    Error::invalid_option("the write-ahead log needs a local storagePath")
                })?;
                let cfg = WalConfig {
                    dir: local.join("wal"),
                    sync_interval: w.sync_interval,
                    max_size: w.max_size,
                    compression: opts.compression,
                    defer_writes: true,
                    recovery_mode: w.recovery_mode,
                    ..WalConfig::default()
                };
                let (wal, rec) = Wal::open(cfg, persisted)?;
                (Some(Arc::new(wal)), Some(rec))
            }
            None => (None, None),
        };
        let store = Arc::new(Self::build(opts, uri, ds, persisted, wal, lock, false));
        if let Some(rec) = recovery {
            store.replay(rec)?;
        }
        if let Some(m) = &store.metrics {
            m.persisted.set(persisted as f64);
            m.buffer.set(store.buffer_count() as i64);
            m.wal.set(store.wal.as_ref().map(|w| w.total_size()).unwrap_or(0) as i64);
        }
        Ok(store)
    }

    /// A reader takes no lock and has no WAL: it sees what writers flushed, and follows new
    /// versions as they are committed.
    async fn open_reader(mut opts: StoreOptions) -> Result<Arc<Self>> {
        opts.wal = None;
        opts.metrics = false;
        let uri = lance_io::dataset_uri(&opts.storage_path);
        let ds = lance_io::open_if_exists(&uri).await?;
        let persisted = match &ds {
            Some(ds) => lance_io::count_rows(ds).await?,
            None => 0,
        };
        let mut store = Self::build(opts, uri, ds, persisted, None, None, true);
        store.follows = true;
        Ok(Arc::new(store))
    }

    /// The one constructor behind `open`, readers and `checkout`.
    fn build(
        opts: StoreOptions,
        uri: String,
        ds: Option<Dataset>,
        persisted: u64,
        wal: Option<Arc<Wal>>,
        lock: Option<BucketLock>,
        read_only: bool,
    ) -> BucketStore {
        let schema = ds.as_ref().map(|d| Arc::new(lance_io::stored_schema(d)));
        let metrics = (opts.metrics && !read_only)
            .then(|| BucketMetrics::new(opts.topic.as_deref().unwrap_or(""), &opts.bucket_id.to_string()));
        let (total, _) = watch::channel(persisted);
        BucketStore {
            durability: Durability::new(&uri),
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
            lock: Mutex::new(lock),
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
        }
    }

    /// Passes `r` through, failing the bucket stop when it is an error.
    fn stop_on_err<T>(&self, r: Result<T>) -> Result<T> {
        if let Err(e) = &r {
            self.fail_stop(e);
        }
        r
    }

    fn replay(&self, rec: crate::wal::Recovery) -> Result<()> {
        let mut st = self.st();
        for q in &rec.quarantined {
            st.wal_events.push(format!(
                "[WAL_QUARANTINE] moved {} to {}: {}",
                q.segment.display(),
                q.moved_to.display(),
                q.reason
            ));
        }
        for t in &rec.truncations {
            st.wal_events.push(format!(
                "[WAL_CORRUPT] cut {} bytes at offset {} of {}: {}",
                t.dropped_bytes,
                t.offset,
                t.segment.display(),
                t.reason
            ));
        }
        for entry in rec.entries {
            let expected = st.persisted + st.buffer_rows;
            if entry.first_seq > expected {
                st.wal_events.push(format!(
                    "[WAL_CORRUPT] sequence gap: expected {expected}, found {}; later WAL records ignored",
                    entry.first_seq
                ));
                break;
            }
            let skip = (expected - entry.first_seq) as usize;
            if skip >= entry.count as usize {
                continue;
            }
            let rows = entry.payload;
            // Payloads are stored already split into rows; re-wrap them so the normal path applies.
            let batch = self.decode_locked(&mut st, &rows, None)?;
            let batch = if skip > 0 { batch.slice(skip, batch.num_rows() - skip) } else { batch };
            let n = batch.num_rows() as u64;
            st.buffer.push(Chunk::Batch(batch));
            st.buffer_rows += n;
        }
        let total = st.persisted + st.buffer_rows;
        drop(st);
        self.publish_total(total);
        Ok(())
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

    fn mode_for(&self, st: &State) -> MergeMode {
        match (&st.stored, self.opts.evolve_schema) {
            (None, _) => MergeMode::Loose,
            (Some(_), true) => MergeMode::Evolve,
            (Some(_), false) => MergeMode::Fixed,
        }
    }

    /// Decodes rows already split by `split_rows` (or WAL payload rows when `split` is None),
    /// evolving the buffer schema when allowed. Nothing is appended here.
    fn decode_locked(&self, st: &mut State, bytes: &[u8], split: Option<&json::SplitRows>) -> Result<RecordBatch> {
        // WAL payloads: count rows by decoding; schema check via the slow path when needed.
        let (rows, fits) = match split {
            Some(s) => (Some(s.rows), s.fits_schema),
            None => (None, false),
        };
        if let Some(0) = rows {
            return Ok(RecordBatch::new_empty(st.schema.clone().unwrap_or_else(|| Arc::new(Schema::empty()))));
        }
        let mode = self.mode_for(st);
        if fits {
            let schema = st.schema.clone().unwrap();
            match json::decode_rows(bytes, &schema, rows.unwrap()) {
                Ok(b) => return Ok(b),
                // A type change (named there), or an integer beyond i64 that widens in any mode.
                Err(_) => {}
            }
        }
        let inferred = json::infer_rows(bytes)?;
        let n = match rows {
            Some(n) => n,
            None => count_rows(bytes),
        };
        let merged = match &st.schema {
            None => inferred,
            Some(cur) => {
                let stored = st.stored.clone();
                merge_by_field(cur, &inferred, mode, stored.as_deref())?
            }
        };
        check_storable(&merged, st.stored.is_some())?;
        let merged = Arc::new(merged);
        let batch = json::decode_rows(bytes, &merged, n)?;
        if st.schema.as_deref() != Some(merged.as_ref()) {
            // The buffer follows the widest schema so reads and flushes see one shape.
            let mut conformed = Vec::with_capacity(st.buffer.len());
            for c in &st.buffer {
                conformed.push(c.conform(&merged)?);
            }
            st.buffer = conformed;
            st.schema = Some(merged);
        }
        Ok(batch)
    }

    /// Accepts one JSON array of records. Synchronous and cheap when the WAL is off or syncs
    /// in the background; the returned ack tells the caller what it must still await.
    pub fn put_json(self: &Arc<Self>, mut bytes: Vec<u8>) -> Result<PutAck> {
        self.put_json_in_place(&mut bytes)
    }

    /// As `put_json`, for a caller-owned buffer (rewritten in place by the row split), so a
    /// binding can reuse one buffer for every call instead of allocating per batch.
    pub fn put_json_in_place(self: &Arc<Self>, bytes: &mut [u8]) -> Result<PutAck> {
        if self.read_only {
            return Err(Error::new(ErrorCode::ReadOnly, "this is a read-only view of an older version"));
        }
        let mut st = self.st();
        if st.closed {
            return Err(Error::new(ErrorCode::Closed, "the backend is closed"));
        }
        Self::check_failed(&st)?;
        fault::point("put")?;
        let split = json::split_rows(bytes, st.schema.as_deref())?;
        let n = split.rows as u64;
        if n == 0 {
            return Ok(PutAck::Done);
        }
        let seq = st.persisted + st.buffer_rows;
        let mut lsn = None;
        if split.fits_schema && split.flat {
            // Fast path: the scan proved the rows decode with the current schema.
            if let Some(wal) = &self.wal {
                lsn = Some(self.append_wal(&mut st, wal, seq, n as u32, bytes)?);
            }
            let schema = st.schema.clone().unwrap();
            let appended = match st.buffer.last_mut() {
                Some(Chunk::Raw(last)) if Arc::ptr_eq(&last.schema, &schema) && last.rows < RAW_CHUNK_ROWS => {
                    // Only while no flush or read holds the chunk: theirs is a fixed snapshot.
                    match Arc::get_mut(last) {
                        Some(r) => {
                            r.bytes.push(b'\n');
                            r.bytes.extend_from_slice(bytes);
                            r.rows += split.rows;
                            true
                        }
                        None => false,
                    }
                }
                _ => false,
            };
            if !appended {
                // Room for the puts that will follow into this chunk.
                let mut owned = Vec::with_capacity((bytes.len() * 4).max(1 << 16));
                owned.extend_from_slice(bytes);
                st.buffer.push(Chunk::Raw(Arc::new(RawRows { bytes: owned, rows: split.rows, schema })));
            }
        } else {
            let batch = self.decode_locked(&mut st, bytes, Some(&split))?;
            debug_assert_eq!(batch.num_rows() as u64, n);
            if let Some(wal) = &self.wal {
                lsn = Some(self.append_wal(&mut st, wal, seq, n as u32, bytes)?);
            }
            st.buffer.push(Chunk::Batch(batch));
        }
        st.buffer_rows += n;
        let total = st.persisted + st.buffer_rows;
        let buffer_rows = st.buffer_rows;
        let flushing = st.flushing;
        let gated = match lsn {
            Some(l) if self.durable_reads() => {
                st.undurable.push_back((l, total));
                true
            }
            _ => false,
        };
        drop(st);
        if !gated {
            self.publish_total(total);
        }
        if let Some(m) = &self.metrics {
            m.records.inc_by(n);
            m.buffer.set(buffer_rows as i64);
            if let Some(w) = &self.wal {
                m.wal.set(w.total_size() as i64);
            }
        }
        let threshold = self.opts.flush_threshold as u64;
        if (buffer_rows >= threshold || self.wal_full()) && !flushing {
            self.schedule_flush();
        }
        if let (Some(lsn), Some(w)) = (lsn, &self.opts.wal) {
            if w.sync_interval.is_zero() {
                return Ok(PutAck::Sync(lsn));
            }
        }
        if buffer_rows >= self.high_water() {
            return Ok(PutAck::Backpressure);
        }
        Ok(PutAck::Done)
    }

    /// A failed WAL write stops the bucket: the segment may end in garbage and the rows were
    /// not buffered, so nothing later may be numbered after them.
    fn append_wal(&self, st: &mut State, wal: &Wal, seq: u64, n: u32, bytes: &[u8]) -> Result<u64> {
        wal.append(seq, n, bytes).inspect_err(|e| {
            if matches!(e.code, ErrorCode::WalIo | ErrorCode::Io) && st.failed.is_none() {
                st.failed = Some(format!("[{}] {}", e.code.as_str(), e.full_message()));
            }
        })
    }

    /// With `walSyncInterval: 0` a record becomes visible only once it is fsynced.
    fn durable_reads(&self) -> bool {
        self.opts.wal.as_ref().is_some_and(|w| w.sync_interval.is_zero())
    }

    /// Everything up to WAL position `lsn` is durable: readers may see it.
    fn mark_durable(&self, lsn: u64) {
        let mut st = self.st();
        let mut total = None;
        while let Some(&(l, t)) = st.undurable.front() {
            if l > lsn {
                break;
            }
            total = Some(t);
            st.undurable.pop_front();
        }
        drop(st);
        if let Some(t) = total {
            if t > self.total_count() {
                self.publish_total(t);
            }
        }
    }

    fn schedule_flush(self: &Arc<Self>) {
        if self.bg_flush_scheduled.swap(true, Ordering::AcqRel) {
            return;
        }
        let me = self.clone();
        crate::runtime().spawn(async move {
            // Puts that arrived during a flush may already have crossed a limit again.
            let mut ok = true;
            loop {
                if let Err(e) = me.flush().await {
                    // Kept for stats; the next put or an explicit flush retries.
                    me.st().flush_error = Some(e.to_string());
                    ok = false;
                    break;
                }
                if !me.over_limits() {
                    break;
                }
            }
            me.bg_flush_scheduled.store(false, Ordering::Release);
            if ok && me.over_limits() && !me.is_closed() {
                me.schedule_flush();
            }
        });
    }

    /// Buffered records past which `put` waits for a flush. Background flushes take the whole
    /// buffer, so a Lance commit (a few ms of fixed cost) carries as many records as arrived
    /// meanwhile; this bound keeps memory proportional to the threshold, not to the ingest.
    fn high_water(&self) -> u64 {
        let t = self.opts.flush_threshold as u64;
        t.saturating_mul(8).max(t + 100_000)
    }

    fn over_limits(&self) -> bool {
        let buffered = self.buffer_count();
        buffered > 0 && (buffered >= self.opts.flush_threshold as u64 || self.wal_full())
    }

    /// The current WAL segment reached `maxWalSize`: a flush (which rotates it) is due.
    fn wal_full(&self) -> bool {
        self.wal.as_ref().is_some_and(|w| w.should_rotate())
    }

    /// Waits until the WAL is durable up to `lsn`; returns the LSN it is durable up to (>= `lsn`).
    pub async fn sync_wal(&self, lsn: u64) -> Result<u64> {
        match &self.wal {
            Some(w) => {
                let r = w.sync(lsn).await;
                self.stop_on_err(r)?;
                Ok(self.synced(w, lsn))
            }
            None => Ok(lsn),
        }
    }

    /// As `sync_wal`, blocking the calling thread (which must not be a runtime worker).
    pub fn sync_wal_blocking(&self, lsn: u64) -> Result<u64> {
        match &self.wal {
            Some(w) => {
                let r = w.sync_blocking_to(lsn);
                self.stop_on_err(r)?;
                Ok(self.synced(w, lsn))
            }
            None => Ok(lsn),
        }
    }

    /// After a successful sync to `lsn`: counts the fsyncs and returns how far the WAL is durable.
    fn synced(&self, w: &Wal, lsn: u64) -> u64 {
        if let Some(m) = &self.metrics {
            m.fsyncs.inc_by(w.fsync_count().saturating_sub(m.fsyncs.get()));
        }
        let durable = w.synced_lsn().max(lsn);
        self.mark_durable(durable);
        durable
    }

    /// The buffer is past the point where puts must wait for a flush.
    pub fn needs_relief(&self) -> bool {
        self.buffer_count() >= self.high_water()
    }

    /// Waits until the buffer is back under its limit (a flush ran).
    pub async fn relieve(self: &Arc<Self>) -> Result<()> {
        let limit = self.high_water();
        self.ensure_usable()?;
        while self.buffer_count() >= limit {
            self.flush().await?;
        }
        Ok(())
    }

    /// Writes the buffer to Lance as one appended fragment, makes it durable, then drops the
    /// WAL segments it covered. Concurrent puts keep going into a fresh WAL segment.
    pub async fn flush(self: &Arc<Self>) -> Result<()> {
        if self.follows {
            return Err(Error::new(ErrorCode::ReadOnly, "this bucket is open read-only; only its writer flushes"));
        }
        if self.read_only {
            return Ok(()); // a checkout of an old version has nothing to flush
        }
        let _guard = self.flush_lock.lock().await;
        let started = Instant::now();
        let (batches, rows, schema, stored, dataset, next_segment) = {
            let mut st = self.st();
            Self::check_failed(&st)?;
            if st.buffer_rows == 0 {
                return Ok(());
            }
            // Rotation fsyncs everything appended so far: only durable rows go to Lance.
            let next_segment = match &self.wal {
                Some(w) => match w.rotate() {
                    Ok(seg) => Some((seg, w.synced_lsn())),
                    Err(e) => {
                        drop(st);
                        self.fail_stop(&e);
                        return Err(e);
                    }
                },
                None => None,
            };
            st.flushing = true;
            (
                st.buffer.clone(),
                st.buffer_rows,
                st.schema.clone().unwrap(),
                st.stored.clone(),
                st.dataset.clone(),
                next_segment,
            )
        };
        if let Some((_, durable)) = next_segment {
            self.mark_durable(durable);
        }
        let k = batches.len();
        let result = match batches.iter().map(|c| c.decode(&schema)).collect::<Result<Vec<_>>>() {
            Ok(decoded) => self.write_to_lance(decoded, rows, &schema, stored, dataset).await,
            Err(e) => Err(e),
        };
        // Whether or not the commit landed, a retry could append the rows twice: stop, and
        // let a reopen reconcile (Lance's row count is the truth, the WAL fills in the rest).
        let r = self.finish_flush(result, k, rows);
        let (persisted, buffered) = self.stop_on_err(r)?;
        let r = fault::point("after_buffer_drain");
        self.stop_on_err(r)?;
        if let (Some(w), Some((seg, _))) = (&self.wal, next_segment) {
            let r = w.remove_segments_before(seg);
            self.stop_on_err(r)?;
        }
        let r = fault::point("after_wal_truncate");
        self.stop_on_err(r)?;
        if let Some(m) = &self.metrics {
            m.flush.observe(started.elapsed().as_secs_f64());
            m.buffer.set(buffered as i64);
            m.persisted.set(persisted as f64);
            if let Some(w) = &self.wal {
                m.wal.set(w.total_size() as i64);
            }
        }
        let r = self.maybe_compact().await;
        self.stop_on_err(r)
    }

    /// Swaps the flushed prefix of the buffer for the new dataset version, atomically for readers.
    fn finish_flush(&self, result: Result<Dataset>, k: usize, rows: u64) -> Result<(u64, u64)> {
        let mut st = self.st();
        st.flushing = false;
        let ds = match result {
            Ok(ds) => ds,
            Err(e) => return Err(e),
        };
        // The flushed batches are exactly the buffer's prefix: puts only append, and schema
        // changes conform batches one for one.
        st.buffer.drain(..k);
        st.buffer_rows -= rows;
        st.persisted += rows;
        // Fields still untyped stay Null in the buffer: they have no column yet (see
        // `lance_io::UNTYPED_KEY`), so there is no stored type to adopt.
        let stored = Arc::new(lance_io::stored_schema(&ds));
        st.stored = Some(stored);
        st.dataset = Some(Arc::new(ds));
        st.flush_error = None;
        Ok((st.persisted, st.buffer_rows))
    }

    async fn write_to_lance(
        &self,
        batches: Vec<RecordBatch>,
        rows: u64,
        schema: &SchemaRef,
        stored: Option<SchemaRef>,
        dataset: Option<Arc<Dataset>>,
    ) -> Result<Dataset> {
        let codec = lance_codec(self.opts.compression);
        let mut ds = dataset.map(|d| d.as_ref().clone());
        if let (Some(d), Some(stored)) = (ds.as_mut(), stored.as_ref()) {
            // In every mode (merge_by_field let through only what the mode allows): widened
            // numbers, untyped fields that got a type, and (evolving) new fields.
            if stored.as_ref() != &strip_metadata(schema) {
                if lance_io::evolve(d, schema, codec, &self.durability).await? {
                    fault::point("after_evolve")?;
                }
                lance_io::record_untyped(d, schema).await?;
                self.durability.after_commit()?;
            }
        }
        // Lance orders columns as stored; new columns come last.
        let target: SchemaRef = match &ds {
            Some(d) => Arc::new(with_compression(&strip_metadata(&lance_io::arrow_schema(d)), codec)),
            None => Arc::new(with_compression(&storage_schema(schema), codec)),
        };
        let conformed: Vec<RecordBatch> =
            batches.iter().map(|b| conform_batch(b, &target)).collect::<Result<_>>()?;
        let batch = arrow_select::concat::concat_batches(&target, &conformed).code(ErrorCode::Internal, "concat")?;
        debug_assert_eq!(batch.num_rows() as u64, rows);
        let last_seq = {
            let st = self.st();
            st.persisted + rows
        };
        let meta = vec![("persisting.next_seq".into(), last_seq.to_string())];
        let ds = lance_io::append(ds, &self.uri, batch, meta, &self.durability).await?;
        fault::point("after_lance_fsync")?;
        Ok(ds)
    }

    /// Caller holds `flush_lock`.
    async fn maybe_compact(&self) -> Result<()> {
        let th = self.opts.compaction_threshold;
        if th == 0 {
            return Ok(());
        }
        let frags = self.st().dataset.as_ref().map(|d| d.get_fragments().len()).unwrap_or(0);
        if frags > th {
            self.compact_locked().await?;
        }
        Ok(())
    }

    /// Merges small fragments into large ones, keeping row order.
    pub async fn compact(self: &Arc<Self>) -> Result<(usize, usize)> {
        if self.read_only {
            return Err(Error::new(ErrorCode::ReadOnly, "cannot compact a read-only view"));
        }
        let _guard = self.flush_lock.lock().await;
        self.ensure_usable()?;
        let r = self.compact_locked().await;
        self.stop_on_err(r)
    }

    /// Caller holds `flush_lock`.
    async fn compact_locked(&self) -> Result<(usize, usize)> {
        let ds = self.st().dataset.clone();
        let Some(ds) = ds else { return Ok((0, 0)) };
        let mut ds = ds.as_ref().clone();
        let r = lance_io::compact(&mut ds, &self.durability).await?;
        crate::memory::release_free_memory();
        self.st().dataset = Some(Arc::new(ds));
        Ok(r)
    }

    /// Records `[offset, offset+limit)` as one JSON array, from Lance and then the buffer.
    pub async fn read_json(&self, offset: u64, limit: Option<u64>) -> Result<Vec<u8>> {
        if self.follows {
            self.refresh().await?;
        }
        let (ds, persisted, buffer, schema) = {
            let st = self.st();
            Self::check_failed(&st)?;
            (st.dataset.clone(), st.persisted, st.buffer.clone(), st.schema.clone())
        };
        let buffered: u64 = buffer.iter().map(|b| b.num_rows() as u64).sum();
        // Never past what readers may see (rows not yet durable stay hidden).
        let total = (persisted + buffered).min(self.total_count());
        let end = match limit {
            Some(l) => offset.saturating_add(l).min(total),
            None => total,
        };
        let mut parts: Vec<RecordBatch> = Vec::new();
        if offset < end {
            if offset < persisted {
                let ds = ds.ok_or_else(|| Error::internal("persisted rows without a dataset"))?;
                let stop = end.min(persisted);
                // Bounded takes keep memory flat for large ranges.
                let mut s = offset;
                while s < stop {
                    let e = (s + 65_536).min(stop);
                    parts.push(fill_missing(lance_io::take_range(&ds, s, e).await?, schema.as_deref())?);
                    s = e;
                }
            }
            if end > persisted {
                let mut pos = persisted;
                let from = offset.max(persisted);
                for b in &buffer {
                    let len = b.num_rows() as u64;
                    let (bs, be) = (pos, pos + len);
                    pos = be;
                    if be <= from {
                        continue;
                    }
                    if bs >= end {
                        break;
                    }
                    let s = from.max(bs) - bs;
                    let e = end.min(be) - bs;
                    let schema = schema.as_ref().ok_or_else(|| Error::internal("buffered rows without a schema"))?;
                    let decoded = b.decode(schema)?;
                    if let Chunk::Raw(raw) = b {
                        self.keep_decoded(raw, &decoded);
                    }
                    parts.push(decoded.slice(s as usize, (e - s) as usize));
                }
            }
        }
        json::encode_batches(&parts)
    }

    /// Replaces raw rows a read had to decode by their batch, so later reads do not decode again.
    /// Holding `raw` kept puts from appending to it, so the batch has exactly its rows.
    fn keep_decoded(&self, raw: &Arc<RawRows>, batch: &RecordBatch) {
        let mut st = self.st();
        let Some(schema) = st.schema.clone() else { return };
        let Some(slot) = st.buffer.iter_mut().find(|c| matches!(c, Chunk::Raw(r) if Arc::ptr_eq(r, raw))) else {
            return; // flushed meanwhile
        };
        let b = if batch.schema().as_ref() == schema.as_ref() { Ok(batch.clone()) } else { conform_batch(batch, &schema) };
        if let Ok(b) = b {
            *slot = Chunk::Batch(b);
        }
    }

    /// Resolves when the total count exceeds `seen`, the store closes, or `timeout` passes.
    /// Returns the total count at that moment.
    pub async fn wait_for_more(&self, seen: u64, timeout: Option<Duration>) -> u64 {
        if self.follows {
            return self.poll_for_more(seen, timeout).await;
        }
        let mut rx = self.total.subscribe();
        let wait = rx.wait_for(|t| *t > seen || t == &u64::MAX);
        match timeout {
            Some(t) => {
                let _ = tokio::time::timeout(t, wait).await;
            }
            None => {
                let _ = wait.await;
            }
        }
        self.total_count()
    }

    /// A reader's blocking wait: new versions appear on disk, so poll with back-off (a few ms
    /// at first, at most 250 ms between looks).
    async fn poll_for_more(&self, seen: u64, timeout: Option<Duration>) -> u64 {
        let deadline = timeout.map(|t| Instant::now() + t);
        let mut pause = Duration::from_millis(5);
        loop {
            if self.refresh().await.is_err() || self.is_closed() {
                return self.total_count();
            }
            let total = self.total_count();
            if total > seen {
                return total;
            }
            let mut nap = pause;
            if let Some(d) = deadline {
                let left = d.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return total;
                }
                nap = nap.min(left);
            }
            let mut rx = self.total.subscribe();
            let _ = tokio::time::timeout(nap, rx.wait_for(|t| *t == u64::MAX)).await;
            pause = (pause * 2).min(Duration::from_millis(250));
        }
    }

    /// A reader moves to the newest committed version, if there is one.
    async fn refresh(&self) -> Result<()> {
        let current = self.st().dataset.clone();
        let newer = match current {
            Some(ds) => {
                let latest = ds.latest_version_id().await.map_err(|e| {
                    Error::with_source(ErrorCode::Lance, "looking for a newer version", e)
                })?;
                if latest <= ds.version().version {
                    return Ok(());
                }
                let mut ds = ds.as_ref().clone();
                ds.checkout_latest().await.map_err(|e| Error::with_source(ErrorCode::Lance, "opening the newest version", e))?;
                ds
            }
            None => match lance_io::open_if_exists(&self.uri).await? {
                Some(ds) => ds,
                None => return Ok(()),
            },
        };
        let persisted = lance_io::count_rows(&newer).await?;
        let schema = Arc::new(lance_io::stored_schema(&newer));
        let mut st = self.st();
        st.persisted = persisted;
        st.schema = Some(schema.clone());
        st.stored = Some(schema);
        st.dataset = Some(Arc::new(newer));
        drop(st);
        self.publish_total(persisted);
        Ok(())
    }

    pub async fn versions(&self) -> Result<Vec<(u64, i64)>> {
        self.ensure_usable()?;
        let ds = self.st().dataset.clone();
        match ds {
            Some(ds) => lance_io::versions(&ds).await,
            None => Ok(Vec::new()),
        }
    }

    /// A read-only store over the dataset as it was at `version`.
    pub async fn checkout(&self, version: u64) -> Result<Arc<BucketStore>> {
        self.ensure_usable()?;
        let ds = self.st().dataset.clone();
        let ds = ds.ok_or_else(|| Error::new(ErrorCode::NotFound, format!("version {version} does not exist (nothing flushed yet)")))?;
        let old = lance_io::checkout(&ds, version).await?;
        let persisted = lance_io::count_rows(&old).await?;
        let mut opts = self.opts.clone();
        opts.wal = None;
        opts.read_only = true;
        Ok(Arc::new(Self::build(opts, self.uri.clone(), Some(old), persisted, None, None, true)))
    }

    /// Nearest records to `vector` in a vector field. Flushes first so every acknowledged
    /// record is searchable.
    pub async fn search_json(self: &Arc<Self>, column: &str, vector: &[f32], k: usize) -> Result<Vec<u8>> {
        if self.follows {
            self.refresh().await?;
        } else {
            self.ensure_usable()?;
            self.flush().await?;
        }
        let ds = self.st().dataset.clone();
        let Some(ds) = ds else { return Ok(b"[]".to_vec()) };
        let batch = lance_io::search(&ds, column, vector, k).await?;
        json::encode_batches(&[batch])
    }

    pub async fn create_index(self: &Arc<Self>, column: &str) -> Result<()> {
        if self.read_only {
            return Err(Error::new(ErrorCode::ReadOnly, "cannot index a read-only view"));
        }
        self.flush().await?;
        let _guard = self.flush_lock.lock().await;
        self.ensure_usable()?;
        let ds = self.st().dataset.clone();
        let Some(ds) = ds else {
            return Err(Error::new(ErrorCode::NotFound, "cannot index an empty dataset; put records first"));
        };
        let mut ds = ds.as_ref().clone();
        let r = lance_io::create_vector_index(&mut ds, column).await;
        self.stop_on_err(r)?;
        self.durability.after_commit()?;
        self.st().dataset = Some(Arc::new(ds));
        Ok(())
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

    /// Flushes, syncs and releases the WAL lock; wakes blocked readers.
    /// A failed bucket is not flushed: its reopen reconciles from disk instead.
    pub async fn close(self: &Arc<Self>) -> Result<()> {
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
        self.lock.lock().unwrap_or_else(|p| p.into_inner()).take();
        self.total.send_replace(u64::MAX);
        r
    }

    pub fn is_closed(&self) -> bool {
        self.st().closed
    }
}

/// Refuses, at put time, what Lance could not store at flush time (an acknowledged record must
/// never fail its flush): a top-level name with a dot, an empty nested object (a struct
/// without fields), or a bucket's first records without a single typed value (no column).
fn check_storable(schema: &Schema, has_columns: bool) -> Result<()> {
    use arrow_schema::DataType;
    fn empty_struct(path: &str, t: &DataType) -> Option<String> {
        match t {
            DataType::Struct(fs) if fs.is_empty() => Some(path.to_string()),
            DataType::Struct(fs) => fs.iter().find_map(|f| empty_struct(&format!("{path}.{}", f.name()), f.data_type())),
            DataType::List(f) | DataType::LargeList(f) | DataType::FixedSizeList(f, _) => {
                empty_struct(&format!("{path}[]"), f.data_type())
            }
            _ => None,
        }
    }
    for f in schema.fields() {
        if f.name().is_empty() {
            return Err(Error::invalid_record("a field name is empty, which a stored column name cannot be; rename the field"));
        }
        if f.name().contains('.') {
            return Err(Error::invalid_record(format!(
                "field name '{}' contains '.', which a stored column name cannot; rename the field",
                f.name()
            )));
        }
        if f.data_type() != &DataType::Null && has_null(f.data_type()) {
            return Err(Error::invalid_record(format!(
                "field '{}' holds only empty arrays or nulls inside it so far, so its element type is unknown \
                 and it cannot be stored; give it at least one typed value (or leave the field out)",
                f.name()
            )));
        }
        if let Some(path) = empty_struct(f.name(), f.data_type()) {
            return Err(Error::invalid_record(format!(
                "field '{path}' is an empty object in every record so far; a stored object needs at least one field (use null instead)"
            )));
        }
    }
    fn has_null(t: &DataType) -> bool {
        match t {
            DataType::Null => true,
            DataType::Struct(fs) => fs.iter().any(|f| has_null(f.data_type())),
            DataType::List(f) | DataType::LargeList(f) | DataType::FixedSizeList(f, _) => has_null(f.data_type()),
            _ => false,
        }
    }
    if !has_columns && !schema.fields().iter().any(|f| f.data_type() != &DataType::Null) {
        return Err(Error::invalid_record(
            "records without a single non-null value cannot start a bucket: it has no column to store them in yet",
        ));
    }
    Ok(())
}

/// True when `dir` has a non-empty WAL segment (acknowledged records not yet in Lance).
fn wal_holds_records(dir: &std::path::Path) -> bool {
    let Ok(rd) = std::fs::read_dir(dir) else { return false };
    rd.flatten().any(|e| {
        let name = e.file_name();
        let name = name.to_string_lossy();
        name.starts_with("wal-") && name.ends_with(".log") && e.metadata().map(|m| m.len() > 0).unwrap_or(false)
    })
}

fn remove_empty_segments(dir: &std::path::Path) -> Result<()> {
    let Ok(rd) = std::fs::read_dir(dir) else { return Ok(()) };
    for e in rd.flatten() {
        let name = e.file_name();
        let name = name.to_string_lossy();
        if name.starts_with("wal-") && name.ends_with(".log") && e.metadata().map(|m| m.len() == 0).unwrap_or(false) {
            std::fs::remove_file(e.path()).code(ErrorCode::Io, "removing an empty WAL segment")?;
        }
    }
    crate::lock::fsync_dir(dir)
}

fn count_rows(rows: &[u8]) -> usize {
    serde_json::Deserializer::from_slice(rows).into_iter::<serde::de::IgnoredAny>().count()
}

/// Merge where fields already in Lance follow `mode` and fields only in the buffer stay loose.
fn merge_by_field(cur: &Schema, new: &Schema, mode: MergeMode, stored: Option<&Schema>) -> Result<Schema> {
    if mode == MergeMode::Loose {
        return json::merge_schemas(cur, new, mode);
    }
    let mut fields: Vec<arrow_schema::Field> = cur.fields().iter().map(|f| f.as_ref().clone()).collect();
    for nf in new.fields() {
        let in_stored = stored.map(|s| s.field_with_name(nf.name()).is_ok()).unwrap_or(false);
        let m = if in_stored { mode } else if mode == MergeMode::Fixed { MergeMode::Fixed } else { MergeMode::Loose };
        match fields.iter_mut().find(|f| f.name() == nf.name()) {
            Some(f) => {
                let t = json::merge_types(f.data_type(), nf.data_type(), m, nf.name())?;
                *f = f.clone().with_data_type(t);
            }
            None => {
                if m == MergeMode::Fixed {
                    return Err(Error::schema(format!(
                        "field '{}' is not in the stored schema; this backend's schema is fixed by its first flush (use the 'persisting' backend for schema evolution)",
                        nf.name()
                    )));
                }
                fields.push(arrow_schema::Field::new(nf.name(), nf.data_type().clone(), true));
            }
        }
    }
    Ok(Schema::new(fields))
}

/// The schema a new dataset is created with. Lance cannot store the Arrow Null type, and a
/// field null in every record so far has no type yet: it gets no column, and the schema
/// metadata names it, so it stays known (and typable, even on a fixed schema) after a reopen.
fn storage_schema(schema: &Schema) -> Schema {
    let (untyped, typed): (Vec<_>, Vec<_>) =
        schema.fields().iter().partition(|f| f.data_type() == &arrow_schema::DataType::Null);
    let names: Vec<String> = untyped.iter().map(|f| f.name().clone()).collect();
    Schema::new_with_metadata(
        typed.into_iter().map(|f| f.as_ref().clone()).collect::<Vec<arrow_schema::Field>>(),
        lance_io::untyped_metadata(&names),
    )
}

/// Lance's page codecs: zstd and lz4 natively; Lance has no snappy, so snappy data pages use
/// lz4 (the closest speed/ratio trade-off) while the WAL uses real snappy.
fn lance_codec(c: Compression) -> Option<&'static str> {
    match c {
        Compression::None => None,
        Compression::Zstd => Some("zstd"),
        Compression::Lz4 | Compression::Snappy => Some("lz4"),
    }
}

fn validate(opts: &StoreOptions) -> Result<()> {
    if opts.storage_path.is_empty() {
        return Err(Error::invalid_option("storagePath must not be empty"));
    }
    if opts.batch_size == 0 {
        return Err(Error::invalid_option("batchSize must be a positive integer"));
    }
    if opts.flush_threshold == 0 {
        return Err(Error::invalid_option("flushThreshold must be a positive integer"));
    }
    if let Some(w) = &opts.wal {
        if w.max_size == 0 {
            return Err(Error::invalid_option("maxWalSize must be a positive number of bytes"));
        }
    }
    Ok(())
}
