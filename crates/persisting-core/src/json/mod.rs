//! JSON rows <-> Arrow.
//!
//! Records cross from JavaScript as ONE `JSON.stringify` of the whole batch. arrow-json's
//! decoder wants concatenated objects, not an array, so a single byte pass (`split_rows`)
//! rewrites the array in place into newline-separated rows and, on the way, checks the
//! top-level keys and value kinds against the current schema. Only when that check fails
//! (first batch, new field, int -> float) do we pay for a full `serde_json` parse to infer
//! types (`infer_rows`).
//!
//! Typing keeps every JS value exactly: a number is Int64 while every value seen for that
//! place is integral and within i64, Float64 otherwise (a JS number is a double, so Float64
//! holds any of them exactly); arrays are lists of those. Only a top-level field named
//! `vector` holding numbers becomes a `FixedSizeList<Float32, dim>` (as in lancedb).

mod arrow_in;
mod infer;
mod ndjson;
mod record_types;
mod scan;
#[cfg(test)]
mod tests;
mod vectors;

use arrow_array::RecordBatch;
use arrow_json::ReaderBuilder;
use arrow_schema::SchemaRef;

use crate::error::{Error, ErrorCode, Result, ResultExt};

pub use arrow_in::{batch_to_ipc, ipc_payload_to_batch, ipc_to_batch, ipc_to_ndjson, is_ipc_payload};
pub use infer::{
    check_typed_join, infer_rows, infer_rows_with, merge_schemas, merge_types, MergeMode, VectorColumns, VECTOR_FIELD,
};
pub use ndjson::{first_bad_line, ndjson_lines, ndjson_to_array};
pub use record_types::record_types;
pub use scan::{split_rows, SplitRows};
pub use vectors::{apply_declared, rows_with_vectors, vector_columns_out, OwnedVectors, RawVectors};

/// Field metadata of a vector column made from `Float32Array`/`Float64Array` values (the value
/// names the kind): reads hand that column back as typed arrays, not number arrays. Stored in
/// Lance with the column, so it holds across reopens and for readers in other processes.
pub const TYPED_ARRAY_KEY: &str = "persisting:typed-array";

/// The metadata `TYPED_ARRAY_KEY` gives a vector field of float64 (`f64`) or float32 values.
pub fn typed_array_metadata(f64: bool) -> std::collections::HashMap<String, String> {
    typed_array_mark(if f64 { "Float64Array" } else { "Float32Array" })
}

/// The field metadata holding only the `TYPED_ARRAY_KEY` mark `kind` (a field's other
/// metadata is never carried along with the mark).
pub fn typed_array_mark(kind: &str) -> std::collections::HashMap<String, String> {
    std::iter::once((TYPED_ARRAY_KEY.to_string(), kind.to_string())).collect()
}

/// Decodes newline-separated rows with a known schema; unknown fields are errors.
pub fn decode_rows(rows: &[u8], schema: &SchemaRef, expected_rows: usize) -> Result<RecordBatch> {
    let mut decoder = ReaderBuilder::new(schema.clone())
        .with_batch_size(expected_rows.max(1))
        .with_strict_mode(true)
        .build_decoder()
        .code(ErrorCode::Internal, "building JSON decoder")?;
    let mut consumed = 0;
    let mut batches = Vec::with_capacity(1);
    while consumed < rows.len() {
        let n = decoder.decode(&rows[consumed..]).map_err(decode_error)?;
        consumed += n;
        if let Some(b) = decoder.flush().map_err(decode_error)? {
            batches.push(b);
        }
        if n == 0 {
            break;
        }
    }
    if let Some(b) = decoder.flush().map_err(decode_error)? {
        batches.push(b);
    }
    let batch = match batches.len() {
        0 => RecordBatch::new_empty(schema.clone()),
        1 => batches.pop().unwrap(),
        _ => arrow_select::concat::concat_batches(schema, &batches).code(ErrorCode::Internal, "concat")?,
    };
    if batch.num_rows() != expected_rows {
        return Err(Error::invalid_record(format!("decoded {} rows, expected {expected_rows}", batch.num_rows())));
    }
    Ok(batch)
}

fn decode_error(e: arrow_schema::ArrowError) -> Error {
    let msg = e.to_string();
    let msg = msg.strip_prefix("Json error: ").unwrap_or(&msg).to_string();
    Error::with_source(ErrorCode::SchemaMismatch, format!("record does not fit the schema: {msg}"), e)
}

/// Encodes batches as one JSON array text; nulls are written explicitly so every record
/// has every field of the schema.
pub fn encode_batches(batches: &[RecordBatch]) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(batches.iter().map(|b| b.get_array_memory_size()).sum::<usize>() + 2);
    {
        let mut w = arrow_json::WriterBuilder::new()
            .with_explicit_nulls(true)
            .build::<_, arrow_json::writer::JsonArray>(&mut out);
        for b in batches {
            w.write(b).code(ErrorCode::Internal, "encoding JSON")?;
        }
        w.finish().code(ErrorCode::Internal, "encoding JSON")?;
    }
    if out.is_empty() {
        out.extend_from_slice(b"[]");
    }
    Ok(out)
}
