//! One bucket's storage: an Arrow buffer in memory in front of an append-only Lance dataset,
//! optionally behind a write-ahead log.
//!
//! Sequence numbers are row offsets: record `n` of the bucket has sequence `n`. A Lance commit
//! therefore records, atomically and for free, the highest sequence it holds (its row count),
//! and recovery replays exactly the WAL records at or past that count: none lost, none twice.

use std::collections::HashSet;
use std::path::PathBuf;
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
use crate::lance_io;
use crate::metrics::BucketMetrics;
use crate::wal::{Wal, WalConfig};

#[derive(Debug, Clone)]
pub struct WalOptions {
    /// Zero: fsync before every acknowledgement (group commit).
    pub sync_interval: Duration,
    pub max_size: u64,
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
    synced_files: Mutex<HashSet<PathBuf>>,
    bg_flush_scheduled: AtomicBool,
}

impl BucketStore {
    /// Opens (or creates lazily on first flush) the bucket at `opts.storage_path`, replaying the WAL.
    pub async fn open(opts: StoreOptions) -> Result<Arc<Self>> {
        validate(&opts)?;
        let uri = lance_io::dataset_uri(&opts.storage_path);
        let ds = lance_io::open_if_exists(&uri).await?;
        let (persisted, stored) = match &ds {
            Some(ds) => (lance_io::count_rows(ds).await?, Some(Arc::new(lance_io::stored_schema(ds)))),
            None => (0, None),
        };
        let (wal, recovery) = match &opts.wal {
            Some(w) => {
                let local = lance_io::local_path(&opts.storage_path).ok_or_else(|| {
                    Error::invalid_option("the write-ahead log needs a local storagePath")
                })?;
                std::fs::create_dir_all(&local).code(ErrorCode::Io, "creating storage directory")?;
                let cfg = WalConfig {
                    dir: local.join("wal"),
                    sync_interval: w.sync_interval,
                    max_size: w.max_size,
                    compression: opts.compression,
                    defer_writes: true,
                };
                let (wal, rec) = Wal::open(cfg, persisted)?;
                (Some(Arc::new(wal)), Some(rec))
            }
            None => (None, None),
        };
        let metrics = opts.metrics.then(|| {
            BucketMetrics::new(opts.topic.as_deref().unwrap_or(""), &opts.bucket_id.to_string())
        });
        let (total, _) = watch::channel(persisted);
        let store = Arc::new(BucketStore {
            uri,
            state: Mutex::new(State {
                schema: stored.clone(),
                stored,
                buffer: Vec::new(),
                buffer_rows: 0,
                persisted,
                dataset: ds.map(Arc::new),
                flushing: false,
                closed: false,
                flush_error: None,
                wal_events: Vec::new(),
            }),
            flush_lock: tokio::sync::Mutex::new(()),
            wal,
            total,
            total_fast: AtomicU64::new(persisted),
            metrics,
            read_only: false,
            synced_files: Mutex::new(HashSet::new()),
            bg_flush_scheduled: AtomicBool::new(false),
            opts,
        });
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

    fn replay(&self, rec: crate::wal::Recovery) -> Result<()> {
        let mut st = self.state.lock().unwrap();
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
        self.state.lock().unwrap().buffer_rows
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
        let mut st = self.state.lock().unwrap();
        if st.closed {
            return Err(Error::new(ErrorCode::Closed, "the backend is closed"));
        }
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
                lsn = Some(wal.append(seq, n as u32, bytes)?);
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
                lsn = Some(wal.append(seq, n as u32, bytes)?);
            }
            st.buffer.push(Chunk::Batch(batch));
        }
        st.buffer_rows += n;
        let total = st.persisted + st.buffer_rows;
        let buffer_rows = st.buffer_rows;
        let flushing = st.flushing;
        drop(st);
        self.publish_total(total);
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
                    me.state.lock().unwrap().flush_error = Some(e.to_string());
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
                w.sync(lsn).await?;
                Ok(self.synced(w, lsn))
            }
            None => Ok(lsn),
        }
    }

    /// As `sync_wal`, blocking the calling thread (which must not be a runtime worker).
    pub fn sync_wal_blocking(&self, lsn: u64) -> Result<u64> {
        match &self.wal {
            Some(w) => {
                w.sync_blocking_to(lsn)?;
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
        w.synced_lsn().max(lsn)
    }

    /// Waits until the buffer is back under its limit (a flush ran).
    pub async fn relieve(self: &Arc<Self>) -> Result<()> {
        let limit = self.high_water();
        while self.buffer_count() >= limit {
            self.flush().await?;
        }
        Ok(())
    }

    /// Writes the buffer to Lance as one appended fragment, makes it durable, then drops the
    /// WAL segments it covered. Concurrent puts keep going into a fresh WAL segment.
    pub async fn flush(self: &Arc<Self>) -> Result<()> {
        if self.read_only {
            return Ok(());
        }
        let _guard = self.flush_lock.lock().await;
        let started = Instant::now();
        let (batches, rows, schema, stored, dataset, next_segment) = {
            let mut st = self.state.lock().unwrap();
            if st.buffer_rows == 0 {
                return Ok(());
            }
            let next_segment = match &self.wal {
                Some(w) => Some(w.rotate()?),
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
        let k = batches.len();
        let result = match batches.iter().map(|c| c.decode(&schema)).collect::<Result<Vec<_>>>() {
            Ok(decoded) => self.write_to_lance(decoded, rows, &schema, stored, dataset).await,
            Err(e) => Err(e),
        };
        let (persisted, buffered) = self.finish_flush(result, k, rows)?;
        fault::point("after_buffer_drain");
        if let (Some(w), Some(seg)) = (&self.wal, next_segment) {
            w.remove_segments_before(seg)?;
        }
        fault::point("after_wal_truncate");
        if let Some(m) = &self.metrics {
            m.flush.observe(started.elapsed().as_secs_f64());
            m.buffer.set(buffered as i64);
            m.persisted.set(persisted as f64);
            if let Some(w) = &self.wal {
                m.wal.set(w.total_size() as i64);
            }
        }
        self.maybe_compact().await?;
        Ok(())
    }

    /// Swaps the flushed prefix of the buffer for the new dataset version, atomically for readers.
    fn finish_flush(&self, result: Result<Dataset>, k: usize, rows: u64) -> Result<(u64, u64)> {
        let mut st = self.state.lock().unwrap();
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
                if lance_io::evolve(d, schema, codec).await? {
                    fault::point("after_evolve");
                }
                lance_io::record_untyped(d, schema).await?;
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
            let st = self.state.lock().unwrap();
            st.persisted + rows
        };
        fault::point("before_lance_commit");
        let ds = lance_io::append(ds, &self.uri, batch, vec![("persisting.next_seq".into(), last_seq.to_string())]).await?;
        fault::point("after_lance_commit");
        if let Some(local) = lance_io::local_path(&self.uri) {
            let mut synced = self.synced_files.lock().unwrap();
            lance_io::fsync_tree(&local, &mut synced)?;
        }
        fault::point("after_lance_fsync");
        Ok(ds)
    }

    /// Caller holds `flush_lock`.
    async fn maybe_compact(&self) -> Result<()> {
        let th = self.opts.compaction_threshold;
        if th == 0 {
            return Ok(());
        }
        let frags = self.state.lock().unwrap().dataset.as_ref().map(|d| d.get_fragments().len()).unwrap_or(0);
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
        self.compact_locked().await
    }

    /// Caller holds `flush_lock`.
    async fn compact_locked(&self) -> Result<(usize, usize)> {
        let ds = self.state.lock().unwrap().dataset.clone();
        let Some(ds) = ds else { return Ok((0, 0)) };
        let mut ds = ds.as_ref().clone();
        let r = lance_io::compact(&mut ds).await?;
        crate::memory::release_free_memory();
        if let Some(local) = lance_io::local_path(&self.uri) {
            let mut synced = self.synced_files.lock().unwrap();
            lance_io::fsync_tree(&local, &mut synced)?;
        }
        self.state.lock().unwrap().dataset = Some(Arc::new(ds));
        Ok(r)
    }

    /// Records `[offset, offset+limit)` as one JSON array, from Lance and then the buffer.
    pub async fn read_json(&self, offset: u64, limit: Option<u64>) -> Result<Vec<u8>> {
        let (ds, persisted, buffer, schema) = {
            let st = self.state.lock().unwrap();
            (st.dataset.clone(), st.persisted, st.buffer.clone(), st.schema.clone())
        };
        let buffered: u64 = buffer.iter().map(|b| b.num_rows() as u64).sum();
        let total = persisted + buffered;
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
        let mut st = self.state.lock().unwrap();
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

    pub async fn versions(&self) -> Result<Vec<(u64, i64)>> {
        let ds = self.state.lock().unwrap().dataset.clone();
        match ds {
            Some(ds) => lance_io::versions(&ds).await,
            None => Ok(Vec::new()),
        }
    }

    /// A read-only store over the dataset as it was at `version`.
    pub async fn checkout(&self, version: u64) -> Result<Arc<BucketStore>> {
        let ds = self.state.lock().unwrap().dataset.clone();
        let ds = ds.ok_or_else(|| Error::new(ErrorCode::NotFound, format!("version {version} does not exist (nothing flushed yet)")))?;
        let old = lance_io::checkout(&ds, version).await?;
        let persisted = lance_io::count_rows(&old).await?;
        let schema = Arc::new(lance_io::stored_schema(&old));
        let (total, _) = watch::channel(persisted);
        Ok(Arc::new(BucketStore {
            opts: self.opts.clone(),
            uri: self.uri.clone(),
            state: Mutex::new(State {
                schema: Some(schema.clone()),
                stored: Some(schema),
                buffer: Vec::new(),
                buffer_rows: 0,
                persisted,
                dataset: Some(Arc::new(old)),
                flushing: false,
                closed: false,
                flush_error: None,
                wal_events: Vec::new(),
            }),
            flush_lock: tokio::sync::Mutex::new(()),
            wal: None,
            total,
            total_fast: AtomicU64::new(persisted),
            metrics: None,
            read_only: true,
            synced_files: Mutex::new(HashSet::new()),
            bg_flush_scheduled: AtomicBool::new(false),
        }))
    }

    /// Nearest records to `vector` in a vector field. Flushes first so every acknowledged
    /// record is searchable.
    pub async fn search_json(self: &Arc<Self>, column: &str, vector: &[f32], k: usize) -> Result<Vec<u8>> {
        self.flush().await?;
        let ds = self.state.lock().unwrap().dataset.clone();
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
        let ds = self.state.lock().unwrap().dataset.clone();
        let Some(ds) = ds else {
            return Err(Error::new(ErrorCode::NotFound, "cannot index an empty dataset; put records first"));
        };
        let mut ds = ds.as_ref().clone();
        lance_io::create_vector_index(&mut ds, column).await?;
        self.state.lock().unwrap().dataset = Some(Arc::new(ds));
        Ok(())
    }

    pub fn stats(&self) -> Stats {
        // Directory walk outside the state lock: puts must not wait on it.
        let disk_bytes = lance_io::local_path(&self.opts.storage_path).map(|p| lance_io::disk_usage(&p)).unwrap_or(0);
        let st = self.state.lock().unwrap();
        Stats {
            bucket_id: self.opts.bucket_id,
            total_count: st.persisted + st.buffer_rows,
            buffer_count: st.buffer_rows,
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
        }
    }

    /// Flushes, syncs and releases the WAL lock; wakes blocked readers.
    pub async fn close(self: &Arc<Self>) -> Result<()> {
        if self.state.lock().unwrap().closed {
            return Ok(());
        }
        let r = self.flush().await;
        self.state.lock().unwrap().closed = true;
        if let Some(w) = &self.wal {
            w.close()?;
        }
        self.total.send_replace(u64::MAX);
        r
    }

    pub fn is_closed(&self) -> bool {
        self.state.lock().unwrap().closed
    }
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
