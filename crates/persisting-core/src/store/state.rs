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
    /// Where each put's rows start: (byte offset, rows before it). A read of a few rows at the
    /// head decodes only the puts that hold them, so a tailing reader costs O(its rows), not
    /// O(the chunk), and leaves the chunk raw for the next put to append to.
    pub(super) puts: Vec<(u32, u32)>,
}

impl RawRows {
    pub(super) fn new(bytes: Vec<u8>, rows: usize, schema: SchemaRef) -> Self {
        RawRows { bytes, rows, schema, puts: vec![(0, 0)] }
    }

    /// Appends one put's rows (newline separated, as the row split leaves them).
    pub(super) fn append(&mut self, rows_text: &[u8], rows: usize) {
        self.bytes.push(b'\n');
        self.puts.push((self.bytes.len() as u32, self.rows as u32));
        self.bytes.extend_from_slice(rows_text);
        self.rows += rows;
    }

    /// Rows `[s, e)` of this chunk, decoding only the puts that hold them.
    pub(super) fn decode_range(&self, s: usize, e: usize) -> Result<RecordBatch> {
        let first = self.puts.partition_point(|&(_, before)| before as usize <= s) - 1;
        let last = self.puts.partition_point(|&(_, before)| (before as usize) < e);
        let (from, skip) = (self.puts[first].0 as usize, self.puts[first].1 as usize);
        let (to, upto) = match self.puts.get(last) {
            Some(&(at, before)) => (at as usize, before as usize),
            None => (self.bytes.len(), self.rows),
        };
        let b = json::decode_rows(&self.bytes[from..to], &self.schema, upto - skip)
            .map_err(|e| Error::with_source(ErrorCode::Internal, "decoding buffered rows that passed the scan", e))?;
        Ok(b.slice(s - skip, e - s))
    }
}

/// Raw rows grow by appending while nobody else holds them; past this many a new chunk starts,
/// so a read of a few buffered rows never decodes a huge chunk.
pub(super) const RAW_CHUNK_ROWS: usize = 16_384;

/// Past this many bytes a new raw chunk starts too (put offsets are `u32`).
pub(super) const RAW_CHUNK_BYTES: usize = 1 << 30;

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

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_schema::{DataType, Field, Schema};

    /// Puts of 1, 3, 2 and 5 rows appended into one chunk: every range decodes to exactly the
    /// rows a decode of the whole chunk has there.
    #[test]
    fn a_range_of_a_raw_chunk_is_the_same_rows_as_the_whole_chunk_there() {
        let schema: SchemaRef =
            Arc::new(Schema::new(vec![Field::new("id", DataType::Int64, true), Field::new("t", DataType::Utf8, true)]));
        let mut next = 0;
        let mut put = |n: usize| {
            let rows: Vec<String> = (0..n)
                .map(|_| {
                    next += 1;
                    format!(r#"  {{"id":{next},"t":"row {next}"}} "#)
                })
                .collect();
            (rows.join("\n").into_bytes(), n)
        };
        let (first, n) = put(1);
        let mut raw = RawRows::new(first, n, schema.clone());
        for size in [3, 2, 5] {
            let (text, n) = put(size);
            raw.append(&text, n);
        }
        assert_eq!(raw.rows, 11);
        let whole =
            Chunk::Raw(Arc::new(RawRows::new(raw.bytes.clone(), raw.rows, schema.clone()))).decode(&schema).unwrap();
        for s in 0..raw.rows {
            for e in s + 1..=raw.rows {
                let part = raw.decode_range(s, e).unwrap();
                assert_eq!(part, whole.slice(s, e - s), "rows {s}..{e}");
            }
        }
    }
}
