//! Accepting records: the buffer, the WAL append, durable visibility with `walSyncInterval: 0`
//! (the undurable queue), background flushes and back-pressure.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::state::{Chunk, RawRows, State, RAW_CHUNK_BYTES, RAW_CHUNK_ROWS};
use super::{BucketStore, PutAck};
use crate::error::{Error, ErrorCode, Result};
use crate::fault;
use crate::json;
use crate::wal::Wal;

impl BucketStore {
    /// Accepts one JSON array of records. Synchronous and cheap when the WAL is off or syncs
    /// in the background; the returned ack tells the caller what it must still await.
    pub fn put_json(self: &Arc<Self>, mut bytes: Vec<u8>) -> Result<PutAck> {
        self.put_json_in_place(&mut bytes)
    }

    /// Accepts NDJSON (one object per line) as one call: all of it or, refused with the line
    /// named, none of it. `scratch` receives the JSON array the lines are put as.
    pub fn put_ndjson(self: &Arc<Self>, input: &[u8], max_line_bytes: usize, scratch: &mut Vec<u8>) -> Result<PutAck> {
        json::ndjson_to_array(input, max_line_bytes, scratch)?;
        self.put_json_in_place(scratch).map_err(|e| match e.code {
            ErrorCode::InvalidRecord | ErrorCode::SchemaMismatch => json::first_bad_line(input).unwrap_or(e),
            _ => e,
        })
    }

    /// As `put_json`, for a caller-owned buffer (rewritten in place by the row split), so a
    /// binding can reuse one buffer for every call instead of allocating per batch.
    pub fn put_json_in_place(self: &Arc<Self>, bytes: &mut [u8]) -> Result<PutAck> {
        let mut st = self.state_for_put()?;
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
                Some(Chunk::Raw(last))
                    if Arc::ptr_eq(&last.schema, &schema)
                        && last.rows < RAW_CHUNK_ROWS
                        && last.bytes.len() + bytes.len() < RAW_CHUNK_BYTES =>
                {
                    // Only while no flush or read holds the chunk: theirs is a fixed snapshot.
                    match Arc::get_mut(last) {
                        Some(r) => {
                            r.append(bytes, split.rows);
                            true
                        }
                        None => false,
                    }
                }
                _ => false,
            };
            if appended {
                st.buffer_bytes += bytes.len() as u64 + 1;
            } else {
                // Room for the puts that will follow into this chunk.
                let mut owned = Vec::with_capacity((bytes.len() * 4).max(1 << 16));
                owned.extend_from_slice(bytes);
                st.buffer_bytes += owned.len() as u64;
                st.buffer.push(Chunk::Raw(Arc::new(RawRows::new(owned, split.rows, schema))));
            }
        } else {
            let batch = self.decode_locked(&mut st, bytes, Some(&split))?;
            debug_assert_eq!(batch.num_rows() as u64, n);
            if let Some(wal) = &self.wal {
                lsn = Some(self.append_wal(&mut st, wal, seq, n as u32, bytes)?);
            }
            st.buffer_bytes += batch.get_array_memory_size() as u64;
            st.buffer.push(Chunk::Batch(batch));
        }
        self.accepted(st, n, lsn)
    }

    /// The state, locked for a put, once this store may take one (writable, open, not failed).
    pub(super) fn state_for_put(&self) -> Result<std::sync::MutexGuard<'_, State>> {
        if self.read_only {
            return Err(Error::new(ErrorCode::ReadOnly, "this is a read-only view of an older version"));
        }
        let st = self.st();
        if st.closed {
            return Err(Error::new(ErrorCode::Closed, "the backend is closed"));
        }
        Self::check_failed(&st)?;
        fault::point("put")?;
        Ok(st)
    }

    /// The end of every put once its rows are buffered (and in the WAL at `lsn`): publish or
    /// gate them, metrics, the flush trigger, and what the caller must still wait for.
    pub(super) fn accepted(
        self: &Arc<Self>,
        mut st: std::sync::MutexGuard<'_, State>,
        n: u64,
        lsn: Option<u64>,
    ) -> Result<PutAck> {
        st.buffer_rows += n;
        let total = st.persisted + st.buffer_rows;
        let buffer_rows = st.buffer_rows;
        let over_bytes = st.buffer_bytes >= self.opts.max_buffer_bytes;
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
        if (buffer_rows >= threshold || over_bytes || self.wal_full()) && !flushing {
            self.schedule_flush();
        }
        if let (Some(lsn), Some(w)) = (lsn, &self.opts.wal) {
            if w.sync_interval.is_zero() {
                return Ok(PutAck::Sync(lsn));
            }
        }
        if buffer_rows >= self.high_water() || over_bytes {
            return Ok(PutAck::Backpressure);
        }
        Ok(PutAck::Done)
    }

    /// A failed WAL write stops the bucket: the segment may end in garbage and the rows were
    /// not buffered, so nothing later may be numbered after them.
    pub(super) fn append_wal(&self, st: &mut State, wal: &Wal, seq: u64, n: u32, bytes: &[u8]) -> Result<u64> {
        wal.append(seq, n, bytes).inspect_err(|e| {
            if matches!(e.code, ErrorCode::WalIo | ErrorCode::Io) && st.failed.is_none() {
                st.failed = Some(format!("[{}] {}", e.code.as_str(), e.full_message()));
            }
        })
    }

    /// With `walSyncInterval: 0` a record becomes visible only once it is fsynced.
    pub(super) fn durable_reads(&self) -> bool {
        self.opts.wal.as_ref().is_some_and(|w| w.sync_interval.is_zero())
    }

    /// Everything up to WAL position `lsn` is durable: readers may see it.
    pub(super) fn mark_durable(&self, lsn: u64) {
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

    pub(super) fn schedule_flush(self: &Arc<Self>) {
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
    pub(super) fn high_water(&self) -> u64 {
        let t = self.opts.flush_threshold as u64;
        t.saturating_mul(8).max(t + 100_000)
    }

    pub(super) fn over_limits(&self) -> bool {
        let (buffered, bytes) = self.buffered();
        buffered > 0
            && (buffered >= self.opts.flush_threshold as u64 || bytes >= self.opts.max_buffer_bytes || self.wal_full())
    }

    /// Buffered records and the bytes they hold.
    pub(super) fn buffered(&self) -> (u64, u64) {
        let st = self.st();
        (st.buffer_rows, st.buffer_bytes)
    }

    /// Past either bound, puts wait: records (`high_water`) or bytes (`maxBufferBytes`).
    fn past_high_water(&self) -> bool {
        let (rows, bytes) = self.buffered();
        rows > 0 && (rows >= self.high_water() || bytes >= self.opts.max_buffer_bytes)
    }

    /// The current WAL segment reached `maxWalSize`: a flush (which rotates it) is due.
    pub(super) fn wal_full(&self) -> bool {
        self.wal.as_ref().is_some_and(|w| w.should_rotate())
    }

    /// Waits until the WAL is durable up to `lsn` (group commit), blocking the calling thread
    /// (which must not be a runtime worker); returns the LSN it is durable up to (>= `lsn`).
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
    pub(super) fn synced(&self, w: &Wal, lsn: u64) -> u64 {
        if let Some(m) = &self.metrics {
            m.fsyncs.inc_by(w.fsync_count().saturating_sub(m.fsyncs.get()));
        }
        let durable = w.synced_lsn().max(lsn);
        self.mark_durable(durable);
        durable
    }

    /// The buffer is past the point where puts must wait for a flush.
    pub fn needs_relief(&self) -> bool {
        self.past_high_water()
    }

    /// Waits until the buffer is back under its limits (a flush ran). A failing flush stops the
    /// bucket, so a waiting put fails typed instead of waiting for ever.
    pub async fn relieve(self: &Arc<Self>) -> Result<()> {
        self.ensure_usable()?;
        while self.past_high_water() {
            self.flush().await?;
        }
        Ok(())
    }
}
