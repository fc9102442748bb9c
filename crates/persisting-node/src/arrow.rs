//! Binding for src/arrow.ts: Arrow IPC bytes into NDJSON in the core, so `putArrow` takes the
//! NDJSON put path (routing, WAL, all-or-nothing) without a JavaScript object per row.

use napi::bindgen_prelude::{Buffer, Uint8Array};
use napi_derive::napi;

use crate::error::{guard, Result};

/// An Arrow IPC stream or file as NDJSON lines; values a record cannot hold are refused
/// (`INVALID_RECORD`, naming the column).
#[napi]
pub fn ipc_to_ndjson(data: Uint8Array) -> Result<Buffer> {
    let mut out = Vec::new();
    guard(|| persisting_core::json::ipc_to_ndjson(&data, &mut out))?;
    Ok(out.into())
}
