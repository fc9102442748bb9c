//! Reading: ranges from Lance and the buffer, blocking waits for new records, readers
//! following new versions, version listing and vector search.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow_array::{Array, RecordBatch};
use arrow_ipc::writer::StreamWriter;
use arrow_schema::{Schema, SchemaRef};

use super::state::{Chunk, RawRows, RAW_CHUNK_ROWS};
use super::BucketStore;
use crate::conform::{conform_batch, fill_missing};
use crate::error::{Error, ErrorCode, Result, ResultExt};
use crate::json;
use crate::lance_io;

/// Rows from Lance past which a read scans the fragments instead of taking row offsets.
const SCAN_ROWS: u64 = 65_536;

/// Reader back-off between looks for a new version (see `poll_for_more`).
pub(super) const MIN_POLL_PAUSE: Duration = Duration::from_millis(5);
const MAX_POLL_PAUSE: Duration = Duration::from_millis(250);
const MAX_REMOTE_POLL_PAUSE: Duration = Duration::from_millis(500);

impl BucketStore {
    /// Records `[offset, offset+limit)` as one JSON array, from Lance and then the buffer.
    pub async fn read_json(&self, offset: u64, limit: Option<u64>) -> Result<Vec<u8>> {
        let (parts, _) = self.read_batches(offset, limit).await?;
        json::encode_batches(&parts)
    }

    /// Records `[offset, offset+limit)` as `read_json` gives them, except that vector columns
    /// made from typed arrays come apart as raw bytes (`json::OwnedVectors`), for reads that
    /// hand them back as typed arrays; the JSON text leaves those fields out.
    pub async fn read_rows(&self, offset: u64, limit: Option<u64>) -> Result<(Vec<u8>, Vec<json::OwnedVectors>)> {
        let (parts, schema) = self.read_batches(offset, limit).await?;
        match schema {
            Some(schema) => rows_text(parts, &schema),
            None => Ok((json::encode_batches(&parts)?, Vec::new())),
        }
    }

    /// Records `[offset, offset+limit)` as an Arrow IPC stream (schema, then the batches): the
    /// stored columns as they are, so a reader in another language or library gets them
    /// without a JSON round trip.
    pub async fn read_ipc(&self, offset: u64, limit: Option<u64>) -> Result<Vec<u8>> {
        let (parts, schema) = self.read_batches(offset, limit).await?;
        let schema = parts.first().map(|b| b.schema()).or(schema).unwrap_or_else(|| Arc::new(Schema::empty()));
        // Sized up front: growing by doubling copied a 1M-row stream several times over.
        let estimate: usize =
            parts.iter().flat_map(|b| b.columns()).map(|c| c.to_data().get_slice_memory_size().unwrap_or(0)).sum();
        let mut out = Vec::with_capacity(estimate + (64 << 10));
        let mut w =
            StreamWriter::try_new(&mut out, &schema).code(ErrorCode::Internal, "starting an Arrow IPC stream")?;
        for b in &parts {
            w.write(b).code(ErrorCode::Internal, "writing an Arrow IPC batch")?;
        }
        w.finish().code(ErrorCode::Internal, "finishing an Arrow IPC stream")?;
        drop(w);
        Ok(out)
    }

    /// The batches holding `[offset, offset+limit)`, all in the bucket's current schema (also
    /// returned, `None` for a bucket that never held a record).
    async fn read_batches(&self, offset: u64, limit: Option<u64>) -> Result<(Vec<RecordBatch>, Option<SchemaRef>)> {
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
                let scanned = match stop - offset >= SCAN_ROWS {
                    true => lance_io::scan_range(&ds, offset, stop).await?,
                    false => None,
                };
                // Bounded takes keep memory flat for large ranges.
                let mut s = if scanned.is_some() { stop } else { offset };
                for b in scanned.into_iter().flatten() {
                    parts.push(fill_missing(b, schema.as_deref())?);
                }
                while s < stop {
                    let e = (s + 65_536).min(stop);
                    parts.push(fill_missing(lance_io::take_range(&ds, s, e).await?, schema.as_deref())?);
                    s = e;
                }
            }
            if end > persisted {
                let schema = schema.as_ref().ok_or_else(|| Error::internal("buffered rows without a schema"))?;
                parts.extend(self.buffered_parts(&buffer, schema, persisted, offset.max(persisted), end)?);
            }
        }
        Ok((parts, schema))
    }

    /// The buffered rows `[from, end)` (all past `persisted`, where the buffer starts).
    fn buffered_parts(
        &self,
        buffer: &[Chunk],
        schema: &SchemaRef,
        persisted: u64,
        from: u64,
        end: u64,
    ) -> Result<Vec<RecordBatch>> {
        let mut parts = Vec::new();
        let mut pos = persisted;
        let open = buffer.len().saturating_sub(1);
        for (i, b) in buffer.iter().enumerate() {
            let len = b.num_rows() as u64;
            let (bs, be) = (pos, pos + len);
            pos = be;
            if be <= from {
                continue;
            }
            if bs >= end {
                break;
            }
            let s = (from.max(bs) - bs) as usize;
            let e = (end.min(be) - bs) as usize;
            match b {
                // Part of a raw chunk, or the one puts still append to: decode just those puts
                // and leave it raw, so a reader at the head neither decodes the chunk again and
                // again nor makes the next put start a chunk of its own.
                Chunk::Raw(raw) if e - s < raw.rows || (i == open && raw.rows < RAW_CHUNK_ROWS) => {
                    let part = raw.decode_range(s, e)?;
                    parts.push(if part.schema().as_ref() == schema.as_ref() {
                        part
                    } else {
                        conform_batch(&part, schema)?
                    });
                }
                _ => {
                    let decoded = b.decode(schema)?;
                    if let Chunk::Raw(raw) = b {
                        self.keep_decoded(raw, &decoded);
                    }
                    parts.push(decoded.slice(s, e - s));
                }
            }
        }
        Ok(parts)
    }

    /// `read_rows` without waiting on anything, for a tailing reader at the head: `None` unless
    /// every row of the range is still in this writer's buffer (rows already in Lance, or a
    /// reader following another process, take `read_rows`).
    pub fn read_buffered_rows(&self, offset: u64, limit: u64) -> Option<Result<(Vec<u8>, Vec<json::OwnedVectors>)>> {
        if self.follows {
            return None;
        }
        let (persisted, buffer, schema) = {
            let st = self.st();
            if let Err(e) = Self::check_failed(&st) {
                return Some(Err(e));
            }
            if offset < st.persisted {
                return None;
            }
            (st.persisted, st.buffer.clone(), st.schema.clone())
        };
        let buffered: u64 = buffer.iter().map(|b| b.num_rows() as u64).sum();
        let end = offset.saturating_add(limit).min((persisted + buffered).min(self.total_count()));
        if offset >= end {
            return Some(Ok((b"[]".to_vec(), Vec::new())));
        }
        let schema = schema?;
        Some(self.buffered_parts(&buffer, &schema, persisted, offset, end).and_then(|parts| rows_text(parts, &schema)))
    }

    /// Replaces raw rows a read had to decode by their batch, so later reads do not decode again.
    /// Holding `raw` kept puts from appending to it, so the batch has exactly its rows.
    pub(super) fn keep_decoded(&self, raw: &Arc<RawRows>, batch: &RecordBatch) {
        let mut st = self.st();
        let Some(schema) = st.schema.clone() else {
            return;
        };
        let Some(slot) = st.buffer.iter_mut().find(|c| matches!(c, Chunk::Raw(r) if Arc::ptr_eq(r, raw))) else {
            return; // flushed meanwhile
        };
        let b =
            if batch.schema().as_ref() == schema.as_ref() { Ok(batch.clone()) } else { conform_batch(batch, &schema) };
        if let Ok(b) = b {
            *slot = Chunk::Batch(b);
            st.recount_buffer_bytes();
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

    /// A reader's blocking wait: new versions appear on disk or in the object store, so poll
    /// with back-off: a few ms after new rows came, doubling while none do, up to 250 ms between
    /// looks on local disk and 500 ms on an object store (where each look is a LIST request).
    /// The pause is the store's, not the call's, so an idle reader that waits again and again
    /// (a blocking stream) stays at the longest pause.
    pub(super) async fn poll_for_more(&self, seen: u64, timeout: Option<Duration>) -> u64 {
        let deadline = timeout.map(|t| Instant::now() + t);
        let max = if self.opts.remote() { MAX_REMOTE_POLL_PAUSE } else { MAX_POLL_PAUSE };
        loop {
            if self.refresh().await.is_err() || self.is_closed() {
                return self.total_count();
            }
            let total = self.total_count();
            if total > seen {
                self.poll_pause_ms.store(MIN_POLL_PAUSE.as_millis() as u64, Ordering::Relaxed);
                return total;
            }
            let pause = Duration::from_millis(self.poll_pause_ms.load(Ordering::Relaxed));
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
            self.poll_pause_ms.store((pause * 2).min(max).as_millis() as u64, Ordering::Relaxed);
        }
    }

    /// How many times this reader looked for a newer version (what an idle reader costs).
    pub fn version_checks(&self) -> u64 {
        self.version_checks.load(Ordering::Relaxed)
    }

    /// A reader moves to the newest committed version, if there is one.
    pub(super) async fn refresh(&self) -> Result<()> {
        self.version_checks.fetch_add(1, Ordering::Relaxed);
        let current = self.st().dataset.clone();
        let newer = match current {
            Some(ds) => {
                let latest = ds
                    .latest_version_id()
                    .await
                    .map_err(|e| Error::with_source(ErrorCode::Lance, "looking for a newer version", e))?;
                if latest <= ds.version().version {
                    return Ok(());
                }
                let mut ds = ds.as_ref().clone();
                ds.checkout_latest()
                    .await
                    .map_err(|e| Error::with_source(ErrorCode::Lance, "opening the newest version", e))?;
                ds
            }
            None => match lance_io::open_if_exists(&self.uri, &self.opts.storage_options).await? {
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

    /// Nearest records to `vector` in a vector field. Flushes first so every acknowledged
    /// record is searchable.
    pub async fn search_json(self: &Arc<Self>, column: &str, vector: &[f32], k: usize) -> Result<Vec<u8>> {
        match self.search_batch(column, vector, k).await? {
            Some(batch) => json::encode_batches(&[batch]),
            None => Ok(b"[]".to_vec()),
        }
    }

    /// `search_json` with typed-array vector columns apart as raw bytes (as `read_rows`).
    pub async fn search_rows(
        self: &Arc<Self>,
        column: &str,
        vector: &[f32],
        k: usize,
    ) -> Result<(Vec<u8>, Vec<json::OwnedVectors>)> {
        match self.search_batch(column, vector, k).await? {
            Some(batch) => {
                // The bucket's schema knows which columns hold typed arrays (a scan's output
                // schema need not carry field metadata).
                let schema = self.st().schema.clone().unwrap_or_else(|| batch.schema());
                rows_text(vec![batch], &schema)
            }
            None => Ok((b"[]".to_vec(), Vec::new())),
        }
    }

    /// The nearest rows, after flushing (a writer) or following new versions (a reader); None
    /// before anything was stored.
    async fn search_batch(self: &Arc<Self>, column: &str, vector: &[f32], k: usize) -> Result<Option<RecordBatch>> {
        if self.follows {
            self.refresh().await?;
        } else {
            self.ensure_usable()?;
            self.flush().await?;
        }
        let ds = self.st().dataset.clone();
        match ds {
            Some(ds) => Ok(Some(lance_io::search(&ds, column, vector, k).await?)),
            None => Ok(None),
        }
    }
}

/// Rows as JSON text, the typed-array vector columns of `schema` apart as raw bytes.
fn rows_text(parts: Vec<RecordBatch>, schema: &Schema) -> Result<(Vec<u8>, Vec<json::OwnedVectors>)> {
    let (rest, vectors) = json::vector_columns_out(parts, schema);
    if vectors.is_empty() || rest.iter().any(|b| b.num_columns() > 0) {
        return Ok((json::encode_batches(&rest)?, vectors));
    }
    // Only vector columns: arrow-json writes nothing for a batch without columns.
    let rows: usize = rest.iter().map(|b| b.num_rows()).sum();
    let mut t = Vec::with_capacity(rows * 3 + 2);
    t.push(b'[');
    for i in 0..rows {
        if i > 0 {
            t.push(b',');
        }
        t.extend_from_slice(b"{}");
    }
    t.push(b']');
    Ok((t, vectors))
}
