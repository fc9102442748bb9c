//! Binding for src/backends/native-store.ts (shared by LanceBackend and PersistingBackend).

use std::sync::Arc;
use std::time::Duration;

use napi::bindgen_prelude::{AsyncTask, Buffer, Env, FromNapiValue, Task};
use napi_derive::napi;
use persisting_core::{runtime, BucketStore, PutAck};

use crate::error::{guard, internal, invalid_record, join_error, referenced, Coded, IntoNapi, Result};
use crate::options::{store_options, NativeStoreOptions};

#[napi(object)]
pub struct NativeStats {
    pub bucket_id: i64,
    pub total_count: f64,
    pub buffer_count: f64,
    /// Bytes the unflushed records hold in memory (bounded by `maxBufferBytes`).
    pub buffer_bytes: f64,
    pub persisted_count: f64,
    pub storage_path: String,
    pub backend: String,
    pub wal_enabled: bool,
    pub wal_size: f64,
    pub wal_fsyncs: f64,
    pub compression: Option<String>,
    pub fragments: f64,
    pub version: f64,
    pub disk_bytes: f64,
    pub wal_events: Vec<String>,
    pub read_only: bool,
    pub last_flush_error: Option<String>,
    /// Why the bucket failed stop (every call but stats/close errors until it is reopened).
    pub failed: Option<String>,
}

#[napi(object)]
pub struct NativeVersion {
    pub version: f64,
    pub timestamp_ms: f64,
}

#[napi(object)]
pub struct NativeCompaction {
    pub fragments_removed: u32,
    pub fragments_added: u32,
}

#[napi(object)]
pub struct NativeCleanup {
    pub versions_removed: f64,
    pub bytes_removed: f64,
}

#[napi]
pub struct NativeBucketStore {
    inner: Arc<BucketStore>,
    /// The UTF-8 of the last `putJson` text, reused: a fresh buffer per batch costs page faults.
    scratch: std::sync::Mutex<Vec<u8>>,
}

/// One vector field of a batch as raw little-endian floats (row-major, `dim` a row).
#[napi(object)]
pub struct NativeVectors {
    pub name: String,
    pub dim: u32,
    /// Float64 values instead of Float32.
    pub f64: bool,
    pub data: Buffer,
    /// One byte a row, 0 = the record has no vector there (null); absent = every row has one.
    pub present: Option<Buffer>,
    /// From number arrays (a `vector` or declared field), not typed arrays: stored without the
    /// typed-array mark, so reads give number arrays back. Default false.
    pub plain: Option<bool>,
}

/// Rows read: the JSON array of every field but the typed-array vectors, which come as raw bytes.
#[napi(object)]
pub struct NativeRows {
    pub json: String,
    pub vectors: Vec<NativeVectors>,
}

/// The number a put returns to JavaScript for its ack (see `putJson`).
fn ack_code(ack: PutAck) -> f64 {
    match ack {
        PutAck::Done => 0.0,
        PutAck::Sync(lsn) => lsn as f64,
        PutAck::Backpressure => -1.0,
    }
}

/// Scratch buffers larger than this are released after use instead of kept.
const SCRATCH_KEEP: usize = 16 << 20;

/// A JavaScript string argument, read later straight into a caller's buffer.
pub struct JsText {
    env: napi::sys::napi_env,
    value: napi::sys::napi_value,
}

impl FromNapiValue for JsText {
    unsafe fn from_napi_value(env: napi::sys::napi_env, value: napi::sys::napi_value) -> napi::Result<Self> {
        Ok(JsText { env, value })
    }
}

impl JsText {
    /// One V8 pass: UTF-16 length is O(1) and bounds the UTF-8 size (3 bytes per unit).
    fn read_into(&self, buf: &mut Vec<u8>) -> Result<()> {
        use napi::sys;
        let mut units = 0usize;
        let status =
            unsafe { sys::napi_get_value_string_utf16(self.env, self.value, std::ptr::null_mut(), 0, &mut units) };
        if status != sys::Status::napi_ok {
            return Err(invalid_record("records must be passed as one JSON string"));
        }
        let cap = units * 3 + 1;
        buf.clear();
        buf.reserve(cap);
        let mut written = 0usize;
        let status = unsafe {
            sys::napi_get_value_string_utf8(self.env, self.value, buf.as_mut_ptr().cast(), cap, &mut written)
        };
        if status != sys::Status::napi_ok {
            return Err(internal("could not read the JSON string"));
        }
        unsafe { buf.set_len(written) };
        Ok(())
    }
}

impl JsText {
    /// Runs `f` on the bytes of a string (as UTF-8, read into `buf`) or of a `Uint8Array` or
    /// `Buffer` (borrowed in place: the call is synchronous, so JavaScript cannot touch it).
    pub(crate) fn with_bytes<R>(&self, buf: &mut Vec<u8>, f: impl FnOnce(&[u8]) -> R) -> Result<R> {
        use napi::sys;
        let mut is_typed = false;
        unsafe { sys::napi_is_typedarray(self.env, self.value, &mut is_typed) };
        if !is_typed {
            self.read_into(buf)?;
            return Ok(f(buf));
        }
        let (mut kind, mut len, mut data) = (0, 0usize, std::ptr::null_mut());
        let status = unsafe {
            sys::napi_get_typedarray_info(
                self.env,
                self.value,
                &mut kind,
                &mut len,
                &mut data,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
            )
        };
        if status != sys::Status::napi_ok || kind != sys::TypedarrayType::uint8_array {
            return Err(invalid_record("NDJSON must be a string, a Uint8Array or a Buffer"));
        }
        let bytes = if len == 0 { &[][..] } else { unsafe { std::slice::from_raw_parts(data as *const u8, len) } };
        Ok(f(bytes))
    }
}

/// Runs on a libuv worker, which may block: the group-commit fsync happens right there, one
/// thread hop from the caller instead of three (binding runtime, core runtime, blocking pool).
pub struct Settle {
    inner: Arc<BucketStore>,
    ack: f64,
}

impl Task for Settle {
    /// The coded result travels as the task's output: napi's task error path is untyped.
    type Output = Result<f64>;
    type JsValue = f64;

    fn compute(&mut self) -> napi::Result<Result<f64>> {
        let (inner, ack) = (self.inner.clone(), self.ack);
        Ok(guard(move || {
            // Back-pressure only paces a put the store has already accepted: a relief flush that
            // fails stops the bucket (later calls report it) but must not reject this put, which
            // a reopen recovers; rejecting it would invite a retry that duplicates it.
            if ack > 0.0 {
                let durable = inner.sync_wal_blocking(ack as u64)?;
                // With the WAL syncing every put, back-pressure is applied here, after the fsync.
                if inner.needs_relief() {
                    let _ = runtime().block_on(inner.relieve());
                }
                Ok(durable as f64)
            } else {
                let _ = runtime().block_on(inner.relieve());
                Ok(0.0)
            }
        }))
    }

    fn resolve(&mut self, env: Env, output: Result<f64>) -> napi::Result<f64> {
        // On the JS thread: reject with the coded JS error.
        output.map_err(|e| unsafe { referenced(env.raw(), e) })
    }
}

/// Runs a core future on the core's runtime (see "Runtimes" in docs/design.md).
async fn on_core<T: Send + 'static>(
    fut: impl std::future::Future<Output = persisting_core::Result<T>> + Send + 'static,
) -> Result<T> {
    runtime().spawn(fut).await.map_err(join_error)?.napi()
}

/// arrow-json only emits UTF-8.
fn native_rows((text, vectors): (Vec<u8>, Vec<persisting_core::json::OwnedVectors>)) -> Result<NativeRows> {
    Ok(NativeRows {
        json: utf8(text)?,
        vectors: vectors
            .into_iter()
            .map(|v| NativeVectors {
                name: v.name,
                dim: v.dim as u32,
                f64: v.f64,
                data: v.data.into(),
                present: v.present.map(Buffer::from),
                plain: None,
            })
            .collect(),
    })
}

fn utf8(bytes: Vec<u8>) -> Result<String> {
    String::from_utf8(bytes).map_err(internal)
}

#[napi]
impl NativeBucketStore {
    /// Opens the bucket synchronously (dataset open + WAL replay), so counts are right at once.
    #[napi(factory)]
    pub fn open(options: NativeStoreOptions) -> Result<Self> {
        let o = store_options(options)?;
        let inner = guard(move || runtime().block_on(BucketStore::open(o)))?;
        Ok(NativeBucketStore { inner, scratch: Default::default() })
    }

    /// Appends a JSON array of records. Returns 0 when acknowledged, a positive WAL position
    /// to pass to `settle` when an fsync must come first, or -1 when the caller should
    /// `settle(-1)` for back-pressure.
    #[napi]
    pub fn put_json(&self, #[napi(ts_arg_type = "string")] json: JsText) -> Result<f64> {
        let mut scratch = self.scratch.lock().unwrap_or_else(|p| p.into_inner());
        json.read_into(&mut scratch)?;
        let inner = &self.inner;
        let result = guard(|| inner.put_json_in_place(&mut scratch));
        if scratch.capacity() > SCRATCH_KEEP {
            *scratch = Vec::new();
        }
        drop(scratch);
        Ok(ack_code(result?))
    }

    /// Appends NDJSON (one object per line) as one call, all or nothing; a refused line is
    /// named. Returns an ack as `putJson` does.
    #[napi]
    pub fn put_ndjson(
        &self,
        #[napi(ts_arg_type = "string | Uint8Array")] data: JsText,
        max_record_bytes: f64,
    ) -> Result<f64> {
        let mut input = Vec::new();
        let mut scratch = self.scratch.lock().unwrap_or_else(|p| p.into_inner());
        let inner = &self.inner;
        let max = if max_record_bytes >= 1.0 { max_record_bytes as usize } else { usize::MAX };
        let result = data.with_bytes(&mut input, |bytes| guard(|| inner.put_ndjson(bytes, max, &mut scratch)))?;
        if scratch.capacity() > SCRATCH_KEEP {
            *scratch = Vec::new();
        }
        drop(scratch);
        Ok(ack_code(result?))
    }

    /// Appends records whose `Float32Array`/`Float64Array` fields come as raw bytes (`vectors`)
    /// next to the JSON of every other field; the vectors never become text. Returns an ack as
    /// `putJson` does.
    #[napi]
    pub fn put_json_vectors(
        &self,
        #[napi(ts_arg_type = "string")] json: JsText,
        vectors: Vec<NativeVectors>,
    ) -> Result<f64> {
        let mut scratch = self.scratch.lock().unwrap_or_else(|p| p.into_inner());
        json.read_into(&mut scratch)?;
        let raw: Vec<persisting_core::json::RawVectors<'_>> = vectors
            .iter()
            .map(|v| persisting_core::json::RawVectors {
                name: &v.name,
                dim: v.dim as usize,
                f64: v.f64,
                data: &v.data,
                present: v.present.as_deref(),
                plain: v.plain.unwrap_or(false),
            })
            .collect();
        let inner = &self.inner;
        let result = guard(|| inner.put_json_vectors(&scratch, &raw));
        if scratch.capacity() > SCRATCH_KEEP {
            *scratch = Vec::new();
        }
        drop(scratch);
        Ok(ack_code(result?))
    }

    /// Appends an Arrow IPC stream or file as one call, kept as Arrow into the buffer and the WAL
    /// (no JSON); all or nothing, a refused column named. Returns an ack as `putJson` does.
    #[napi]
    pub fn put_ipc(&self, data: napi::bindgen_prelude::Uint8Array) -> Result<f64> {
        let inner = &self.inner;
        Ok(ack_code(guard(|| inner.put_ipc(&data))?))
    }

    /// Resolves once `ack` is settled: for a WAL position, with the position the WAL is now
    /// durable up to (often past `ack`, so one call can acknowledge many puts); for -1, with 0
    /// once the buffer is back under its limit.
    #[napi(ts_return_type = "Promise<number>")]
    pub fn settle(&self, ack: f64) -> AsyncTask<Settle> {
        AsyncTask::new(Settle { inner: self.inner.clone(), ack })
    }

    /// Records `[offset, offset+limit)` as a JSON array, except that vector columns made from
    /// typed arrays come apart as raw bytes (left out of the JSON text), so reads hand them back
    /// as the same typed arrays.
    #[napi(ts_return_type = "Promise<NativeRows>")]
    pub async fn read_rows(&self, offset: f64, limit: Option<f64>) -> napi::Result<Coded<NativeRows>> {
        let inner = self.inner.clone();
        let r = on_core(async move { inner.read_rows(offset as u64, limit.map(|l| l as u64)).await }).await;
        Ok(Coded(r.and_then(native_rows)))
    }

    /// `readRows` done at once, for a tailing reader at the head: null unless every row of
    /// the range is still in this writer's buffer (then no thread hop and no Lance read).
    #[napi]
    pub fn read_buffered(&self, offset: f64, limit: f64) -> Result<Option<NativeRows>> {
        let inner = &self.inner;
        guard(|| inner.read_buffered_rows(offset as u64, limit as u64).transpose())?.map(native_rows).transpose()
    }

    /// Records `[offset, offset+limit)` as an Arrow IPC stream, in the stored column types.
    #[napi(ts_return_type = "Promise<Buffer>")]
    pub async fn read_ipc(&self, offset: f64, limit: Option<f64>) -> napi::Result<Coded<Buffer>> {
        let inner = self.inner.clone();
        let r = on_core(async move { inner.read_ipc(offset as u64, limit.map(|l| l as u64)).await }).await;
        Ok(Coded(r.map(Buffer::from)))
    }

    #[napi(ts_return_type = "Promise<void>")]
    pub async fn flush(&self) -> napi::Result<Coded<()>> {
        let inner = self.inner.clone();
        Ok(Coded(on_core(async move { inner.flush().await }).await))
    }

    #[napi]
    pub fn total_count(&self) -> f64 {
        self.inner.total_count() as f64
    }

    /// Resolves with the new total once it exceeds `seen`, on close, or after `timeout` seconds.
    #[napi(ts_return_type = "Promise<number>")]
    pub async fn wait_for_more(&self, seen: f64, timeout: Option<f64>) -> napi::Result<Coded<f64>> {
        let inner = self.inner.clone();
        // Out of range (negative, NaN, beyond Duration) means no timeout.
        let t = timeout.and_then(|t| Duration::try_from_secs_f64(t).ok());
        let r = on_core(async move { Ok(inner.wait_for_more(seen as u64, t).await) }).await;
        Ok(Coded(r.map(|n| n as f64)))
    }

    #[napi]
    pub fn stats(&self) -> Result<NativeStats> {
        let inner = &self.inner;
        let s = guard(|| Ok(inner.stats()))?;
        Ok(NativeStats {
            bucket_id: s.bucket_id,
            total_count: s.total_count as f64,
            buffer_count: s.buffer_count as f64,
            buffer_bytes: s.buffer_bytes as f64,
            persisted_count: s.persisted_count as f64,
            storage_path: s.storage_path,
            backend: s.backend,
            wal_enabled: s.wal_enabled,
            wal_size: s.wal_size as f64,
            wal_fsyncs: s.wal_fsyncs as f64,
            compression: s.compression.map(str::to_string),
            fragments: s.fragments as f64,
            version: s.version as f64,
            disk_bytes: s.disk_bytes as f64,
            wal_events: s.wal_events,
            read_only: s.read_only,
            last_flush_error: s.last_flush_error,
            failed: s.failed,
        })
    }

    #[napi(ts_return_type = "Promise<Array<NativeVersion>>")]
    pub async fn versions(&self) -> napi::Result<Coded<Vec<NativeVersion>>> {
        let inner = self.inner.clone();
        let r = on_core(async move { inner.versions().await }).await;
        Ok(Coded(r.map(|v| {
            v.into_iter().map(|(v, t)| NativeVersion { version: v as f64, timestamp_ms: t as f64 }).collect()
        })))
    }

    #[napi(ts_return_type = "Promise<NativeBucketStore>")]
    pub async fn checkout(&self, version: f64) -> napi::Result<Coded<NativeBucketStore>> {
        let inner = self.inner.clone();
        let r = on_core(async move { inner.checkout(version as u64).await }).await;
        Ok(Coded(r.map(|view| NativeBucketStore { inner: view, scratch: Default::default() })))
    }

    #[napi(ts_return_type = "Promise<NativeCompaction>")]
    pub async fn compact(&self) -> napi::Result<Coded<NativeCompaction>> {
        let inner = self.inner.clone();
        let r = on_core(async move { inner.compact().await }).await;
        Ok(Coded(r.map(|(removed, added)| NativeCompaction {
            fragments_removed: removed as u32,
            fragments_added: added as u32,
        })))
    }

    /// Removes versions committed more than `older_than_seconds` ago (never the latest).
    #[napi(ts_return_type = "Promise<NativeCleanup>")]
    pub async fn cleanup_old_versions(&self, older_than_seconds: f64) -> napi::Result<Coded<NativeCleanup>> {
        if older_than_seconds.is_nan() || older_than_seconds < 0.0 {
            return Ok(Coded(Err(crate::error::invalid_option(format!(
                "olderThan must be a number of seconds >= 0, got {older_than_seconds}"
            )))));
        }
        // Beyond a century (Infinity included) nothing is old enough; the core returns at once.
        let age = Duration::from_secs_f64(older_than_seconds.min(4e9));
        let inner = self.inner.clone();
        let r = on_core(async move { inner.cleanup_old_versions(age).await }).await;
        Ok(Coded(r.map(|c| NativeCleanup {
            versions_removed: c.versions_removed as f64,
            bytes_removed: c.bytes_removed as f64,
        })))
    }

    /// The `k` nearest rows to `vector` in `column`, nearest first, as `readRows` gives rows.
    #[napi(ts_return_type = "Promise<NativeRows>")]
    pub async fn search(&self, column: String, vector: Vec<f64>, k: u32) -> napi::Result<Coded<NativeRows>> {
        let inner = self.inner.clone();
        let v: Vec<f32> = vector.into_iter().map(|x| x as f32).collect();
        let r = on_core(async move { inner.search_rows(&column, &v, k as usize).await }).await;
        Ok(Coded(r.and_then(native_rows)))
    }

    #[napi(ts_return_type = "Promise<void>")]
    pub async fn create_index(&self, column: String) -> napi::Result<Coded<()>> {
        let inner = self.inner.clone();
        Ok(Coded(on_core(async move { inner.create_index(&column).await }).await))
    }

    #[napi(ts_return_type = "Promise<void>")]
    pub async fn close(&self) -> napi::Result<Coded<()>> {
        let inner = self.inner.clone();
        Ok(Coded(on_core(async move { inner.close().await }).await))
    }
}
