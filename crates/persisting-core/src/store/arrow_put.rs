//! Arrow put as Arrow: the batch reaches the buffer and the WAL (as an IPC payload) without a
//! JSON text on the way, in the record path's types and under its schema rules.

use std::sync::Arc;

use arrow_array::RecordBatch;

use super::state::Chunk;
use super::{BucketStore, PutAck};
use crate::error::Result;
use crate::json;

impl BucketStore {
    /// Accepts an Arrow IPC stream or file as one call: all of it or, refused naming the column,
    /// none of it. Acknowledged like `put_json`.
    pub fn put_ipc(self: &Arc<Self>, ipc: &[u8]) -> Result<PutAck> {
        let batch = json::ipc_to_batch(ipc)?;
        self.put_batch(&batch)
    }

    /// Accepts records whose vectors crossed as raw bytes (`json::rows_with_vectors`): the
    /// vectors reach the buffer and the WAL as Arrow, every value exact.
    pub fn put_json_vectors(self: &Arc<Self>, json: &[u8], vectors: &[json::RawVectors<'_>]) -> Result<PutAck> {
        let current = self.st().schema.clone();
        let batch = json::rows_with_vectors(json, vectors, &self.opts.vector_columns, current.as_deref())?;
        self.put_batch(&batch)
    }

    /// Accepts one batch already in the record path's types (`json::record_types`).
    pub fn put_batch(self: &Arc<Self>, batch: &RecordBatch) -> Result<PutAck> {
        let mut st = self.state_for_put()?;
        let n = batch.num_rows() as u64;
        if n == 0 {
            return Ok(PutAck::Done);
        }
        let batch = json::apply_declared(batch.clone(), &self.opts.vector_columns)?;
        let batch = self.merge_batch_locked(&mut st, &batch)?;
        let seq = st.persisted + st.buffer_rows;
        let mut lsn = None;
        if let Some(wal) = &self.wal {
            let payload = json::batch_to_ipc(&batch)?;
            lsn = Some(self.append_wal(&mut st, wal, seq, n as u32, &payload)?);
        }
        st.buffer_bytes += batch.get_array_memory_size() as u64;
        st.buffer.push(Chunk::Batch(batch));
        self.accepted(st, n, lsn)
    }
}
