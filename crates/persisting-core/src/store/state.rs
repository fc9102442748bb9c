//! The mutable state of one bucket behind its mutex, and the buffered chunks of rows.

use std::collections::VecDeque;
use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use lance::dataset::Dataset;

use crate::conform::conform_batch;
use crate::error::{Error, ErrorCode, Result};
use crate::json;

pub(super) struct State {
    /// Buffer/decode schema: always a superset of the stored schema.
    pub(super) schema: Option<SchemaRef>,
    /// Top-level fields already in Lance (fixed or evolvable depending on backend).
    pub(super) stored: Option<SchemaRef>,
    pub(super) buffer: Vec<Chunk>,
    pub(super) buffer_rows: u64,
    /// Bytes the buffered chunks hold (JSON text of raw rows, Arrow memory of decoded ones).
    pub(super) buffer_bytes: u64,
    pub(super) persisted: u64,
    pub(super) dataset: Option<Arc<Dataset>>,
    pub(super) flushing: bool,
    pub(super) closed: bool,
    pub(super) flush_error: Option<String>,
    pub(super) wal_events: Vec<String>,
    /// Set by the first I/O error in a flush, compaction or the WAL: every later call fails
    /// until the bucket is reopened and reconciled from disk (fail-stop).
    pub(super) failed: Option<String>,
    /// With `walSyncInterval: 0`, puts not yet fsynced: (WAL position, total once durable).
    /// Readers see a record only once it is durable, so they never see what a crash could take back.
    pub(super) undurable: VecDeque<(u64, u64)>,
}

impl State {
    /// Recounts `buffer_bytes` after chunks were dropped or replaced (flush, decode for reads).
    pub(super) fn recount_buffer_bytes(&mut self) {
        self.buffer_bytes = self.buffer.iter().map(Chunk::bytes).sum();
    }

    pub(super) fn new(schema: Option<SchemaRef>, persisted: u64, dataset: Option<Arc<Dataset>>) -> Self {
        State {
            stored: schema.clone(),
            schema,
            buffer: Vec::new(),
            buffer_rows: 0,
            buffer_bytes: 0,
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
pub(super) struct RawRows {
    pub(super) bytes: Vec<u8>,
    pub(super) rows: usize,
    pub(super) schema: SchemaRef,
}

/// Raw rows grow by appending while nobody else holds them; past this many a new chunk starts,
/// so a read of a few buffered rows never decodes a huge chunk.
pub(super) const RAW_CHUNK_ROWS: usize = 16_384;

#[derive(Clone)]
pub(super) enum Chunk {
    Batch(RecordBatch),
    Raw(Arc<RawRows>),
}

impl Chunk {
    /// What the chunk holds in memory, as counted against `maxBufferBytes`.
    pub(super) fn bytes(&self) -> u64 {
        match self {
            Chunk::Batch(b) => b.get_array_memory_size() as u64,
            Chunk::Raw(r) => r.bytes.len() as u64,
        }
    }

    pub(super) fn num_rows(&self) -> usize {
        match self {
            Chunk::Batch(b) => b.num_rows(),
            Chunk::Raw(r) => r.rows,
        }
    }

    /// Decoded and shaped like `schema` (the buffer's current schema).
    pub(super) fn decode(&self, schema: &SchemaRef) -> Result<RecordBatch> {
        let b = match self {
            Chunk::Batch(b) => b.clone(),
            Chunk::Raw(r) => json::decode_rows(&r.bytes, &r.schema, r.rows).map_err(|e| {
                Error::with_source(ErrorCode::Internal, "decoding buffered rows that passed the scan", e)
            })?,
        };
        if b.schema().as_ref() == schema.as_ref() {
            Ok(b)
        } else {
            conform_batch(&b, schema)
        }
    }

    /// Raw rows stay raw (they decode with their own schema and are conformed then).
    pub(super) fn conform(&self, schema: &SchemaRef) -> Result<Chunk> {
        match self {
            Chunk::Batch(b) => Ok(Chunk::Batch(conform_batch(b, schema)?)),
            Chunk::Raw(_) => Ok(self.clone()),
        }
    }
}
