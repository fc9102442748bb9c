//! Binding for src/routing.ts: NDJSON split by bucket in the core, so a queue routes raw lines
//! without a JavaScript object per record.

use napi::bindgen_prelude::{Buffer, Uint8Array};
use napi_derive::napi;

use crate::error::{guard, Result};
use crate::store::JsText;

#[napi(object)]
pub struct NativeBucketPart {
    pub bucket: u32,
    /// The bucket's lines, as NDJSON in input order.
    pub ndjson: Buffer,
    pub rows: u32,
}

/// Routes each NDJSON line by its top-level `column` (md5 of JavaScript's `String(value)`,
/// modulo `numBuckets`); all or nothing, a bad line named. Parts come in bucket order.
#[napi]
pub fn route_ndjson(
    #[napi(ts_arg_type = "string | Uint8Array")] data: JsText,
    column: String,
    num_buckets: u32,
    max_record_bytes: f64,
) -> Result<Vec<NativeBucketPart>> {
    let max = if max_record_bytes >= 1.0 { max_record_bytes as usize } else { usize::MAX };
    let mut text = Vec::new();
    let parts = data.with_bytes(&mut text, |bytes| {
        guard(|| persisting_core::route::route_ndjson(bytes, &column, num_buckets, max))
    })??;
    Ok(parts
        .into_iter()
        .map(|p| NativeBucketPart { bucket: p.bucket, ndjson: p.ndjson.into(), rows: p.rows })
        .collect())
}

#[napi(object)]
pub struct NativeIpcPart {
    pub bucket: u32,
    /// The bucket's rows as an Arrow IPC stream, in input order.
    pub ipc: Buffer,
    pub rows: u32,
}

/// Routes the rows of an Arrow IPC stream or file by `column` as `routeNdjson` routes lines;
/// all or nothing. Parts come in bucket order.
#[napi]
pub fn route_ipc(data: Uint8Array, column: String, num_buckets: u32) -> Result<Vec<NativeIpcPart>> {
    let parts = guard(|| {
        let batch = persisting_core::json::ipc_to_batch(&data)?;
        persisting_core::route::route_batch(&batch, &column, num_buckets)?
            .into_iter()
            .map(|(bucket, part)| {
                let rows = part.num_rows() as u32;
                persisting_core::json::batch_to_ipc(&part).map(|ipc| (bucket, ipc, rows))
            })
            .collect::<persisting_core::Result<Vec<_>>>()
    })?;
    Ok(parts.into_iter().map(|(bucket, ipc, rows)| NativeIpcPart { bucket, ipc: ipc.into(), rows }).collect())
}
