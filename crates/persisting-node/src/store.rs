//! Binding for src/backends/native-store.ts (shared by LanceBackend and PersistingBackend).

use std::sync::Arc;
use std::time::Duration;

use napi::bindgen_prelude::*;
use napi_derive::napi;
use persisting_core::wal::RecoveryMode;
use persisting_core::{runtime, BucketStore, Compression, PutAck, StoreOptions, WalOptions};

use persisting_core::Error as CoreError;

use crate::error::{guard, join_error, IntoNapi};

#[napi(object)]
pub struct NativeStoreOptions {
    pub storage_path: String,
    pub bucket_id: Option<i64>,
    pub topic: Option<String>,
    pub backend: Option<String>,
    pub batch_size: Option<f64>,
    pub flush_threshold: Option<f64>,
    pub compaction_threshold: Option<f64>,
    pub evolve_schema: Option<bool>,
    pub compression: Option<String>,
    pub enable_wal: Option<bool>,
    /// Seconds; 0 = fsync before every acknowledgement.
    pub wal_sync_interval: Option<f64>,
    /// Bytes.
    pub max_wal_size: Option<f64>,
    pub enable_metrics: Option<bool>,
    /// Open as a reader: no lock, no writes, follows what writers flush.
    pub read_only: Option<bool>,
    /// What recovery does with a damaged WAL (default `pointInTime`).
    #[napi(ts_type = "'pointInTime' | 'absolute'")]
    pub wal_recovery_mode: Option<String>,
}

#[napi(object)]
pub struct NativeStats {
    pub bucket_id: i64,
    pub total_count: f64,
    pub buffer_count: f64,
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

#[napi]
pub struct NativeBucketStore {
    inner: Arc<BucketStore>,
    /// The UTF-8 of the last `putJson` text, reused: a fresh buffer per batch costs page faults.
    scratch: std::sync::Mutex<Vec<u8>>,
}

/// Scratch buffers larger than this are released after use instead of kept.
const SCRATCH_KEEP: usize = 16 << 20;

/// A JavaScript string argument, read later straight into a caller's buffer.
pub struct JsText {
    env: napi::sys::napi_env,
    value: napi::sys::napi_value,
}

impl FromNapiValue for JsText {
    unsafe fn from_napi_value(env: napi::sys::napi_env, value: napi::sys::napi_value) -> Result<Self> {
        Ok(JsText { env, value })
    }
}

impl JsText {
    /// One V8 pass: UTF-16 length is O(1) and bounds the UTF-8 size (3 bytes per unit).
    fn read_into(&self, buf: &mut Vec<u8>) -> Result<()> {
        use napi::sys;
        let mut units = 0usize;
        let status = unsafe { sys::napi_get_value_string_utf16(self.env, self.value, std::ptr::null_mut(), 0, &mut units) };
        if status != sys::Status::napi_ok {
            return Err(Error::new(Status::StringExpected, "[INVALID_RECORD] records must be passed as one JSON string"));
        }
        let cap = units * 3 + 1;
        buf.clear();
        buf.reserve(cap);
        let mut written = 0usize;
        let status = unsafe {
            sys::napi_get_value_string_utf8(self.env, self.value, buf.as_mut_ptr().cast(), cap, &mut written)
        };
        if status != sys::Status::napi_ok {
            return Err(Error::new(Status::GenericFailure, "[INTERNAL] could not read the JSON string"));
        }
        unsafe { buf.set_len(written) };
        Ok(())
    }
}

/// Runs on a libuv worker, which may block: the group-commit fsync happens right there, one
/// thread hop from the caller instead of three (binding runtime, core runtime, blocking pool).
pub struct Settle {
    inner: Arc<BucketStore>,
    ack: f64,
}

impl Task for Settle {
    type Output = f64;
    type JsValue = f64;

    fn compute(&mut self) -> Result<f64> {
        let (inner, ack) = (self.inner.clone(), self.ack);
        guard(move || {
            if ack > 0.0 {
                let durable = inner.sync_wal_blocking(ack as u64)?;
                // With the WAL syncing every put, back-pressure is applied here, after the fsync.
                if inner.needs_relief() {
                    runtime().block_on(inner.relieve())?;
                }
                Ok(durable as f64)
            } else {
                runtime().block_on(inner.relieve()).map(|_| 0.0)
            }
        })
    }

    fn resolve(&mut self, _env: Env, output: f64) -> Result<f64> {
        Ok(output)
    }
}

/// Builds core options, checking every number where it enters (a value out of range must be
/// an INVALID_OPTION error, never a panic in a conversion).
fn store_options(options: NativeStoreOptions) -> persisting_core::Result<StoreOptions> {
    let mut o = StoreOptions::new(options.storage_path);
    if let Some(v) = options.bucket_id {
        o.bucket_id = v;
    }
    o.topic = options.topic;
    if let Some(v) = options.backend {
        o.backend = v;
    }
    if let Some(v) = options.batch_size {
        o.batch_size = count("batchSize", v, 1)?;
    }
    if let Some(v) = options.flush_threshold {
        o.flush_threshold = count("flushThreshold", v, 1)?;
    }
    if let Some(v) = options.compaction_threshold {
        o.compaction_threshold = count("compactionThreshold", v, 0)?;
    }
    o.evolve_schema = options.evolve_schema.unwrap_or(false);
    o.compression = Compression::parse(options.compression.as_deref())?;
    o.metrics = options.enable_metrics.unwrap_or(false);
    o.read_only = options.read_only.unwrap_or(false);
    if options.enable_wal.unwrap_or(false) && !o.read_only {
        let secs = options.wal_sync_interval.unwrap_or(1.0);
        if !(0.0..=MAX_SYNC_INTERVAL).contains(&secs) {
            return Err(CoreError::invalid_option(format!(
                "walSyncInterval must be a number of seconds from 0 to {MAX_SYNC_INTERVAL}, got {secs}"
            )));
        }
        let max = options.max_wal_size.unwrap_or(100.0 * 1024.0 * 1024.0);
        if !(max >= 1.0 && max <= MAX_WAL_SIZE) {
            return Err(CoreError::invalid_option(format!(
                "maxWalSize must be a number of bytes from 1 to {MAX_WAL_SIZE}, got {max}"
            )));
        }
        let mut w = WalOptions::new(Duration::from_secs_f64(secs), max as u64);
        w.recovery_mode = match options.wal_recovery_mode.as_deref() {
            None | Some("pointInTime") => RecoveryMode::PointInTime,
            Some("absolute") => RecoveryMode::Absolute,
            Some(other) => {
                return Err(CoreError::invalid_option(format!(
                    "walRecoveryMode must be 'pointInTime' or 'absolute', got '{other}'"
                )))
            }
        };
        o.wal = Some(w);
    }
    Ok(o)
}

/// A year: longer intervals mean "never" in practice and overflow time arithmetic far out.
const MAX_SYNC_INTERVAL: f64 = 365.0 * 24.0 * 3600.0;
/// 1 TiB.
const MAX_WAL_SIZE: f64 = (1u64 << 40) as f64;

fn count(name: &str, v: f64, min: u32) -> persisting_core::Result<usize> {
    if v.fract() != 0.0 || !(min as f64..=u32::MAX as f64).contains(&v) {
        return Err(CoreError::invalid_option(format!(
            "{name} must be an integer from {min} to {}, got {v}",
            u32::MAX
        )));
    }
    Ok(v as usize)
}

async fn on_core<T: Send + 'static>(
    fut: impl std::future::Future<Output = persisting_core::Result<T>> + Send + 'static,
) -> Result<T> {
    runtime().spawn(fut).await.map_err(join_error)?.napi()
}

#[napi]
impl NativeBucketStore {
    /// Opens the bucket synchronously (dataset open + WAL replay), so counts are right at once.
    #[napi(factory)]
    pub fn open(options: NativeStoreOptions) -> Result<Self> {
        let o = store_options(options).napi()?;
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
        Ok(match result? {
            PutAck::Done => 0.0,
            PutAck::Sync(lsn) => lsn as f64,
            PutAck::Backpressure => -1.0,
        })
    }

    /// Resolves once `ack` is settled: for a WAL position, with the position the WAL is now
    /// durable up to (often past `ack`, so one call can acknowledge many puts); for -1, with 0
    /// once the buffer is back under its limit.
    #[napi(ts_return_type = "Promise<number>")]
    pub fn settle(&self, ack: f64) -> AsyncTask<Settle> {
        AsyncTask::new(Settle { inner: self.inner.clone(), ack })
    }

    #[napi]
    pub async fn read_json(&self, offset: f64, limit: Option<f64>) -> Result<String> {
        let inner = self.inner.clone();
        let bytes = on_core(async move { inner.read_json(offset as u64, limit.map(|l| l as u64)).await }).await?;
        // arrow-json only emits UTF-8.
        String::from_utf8(bytes).map_err(|e| Error::from_reason(format!("[INTERNAL] {e}")))
    }

    #[napi]
    pub async fn flush(&self) -> Result<()> {
        let inner = self.inner.clone();
        on_core(async move { inner.flush().await }).await
    }

    #[napi]
    pub fn total_count(&self) -> f64 {
        self.inner.total_count() as f64
    }

    /// Resolves with the new total once it exceeds `seen`, on close, or after `timeout` seconds.
    #[napi]
    pub async fn wait_for_more(&self, seen: f64, timeout: Option<f64>) -> Result<f64> {
        let inner = self.inner.clone();
        // Out of range (negative, NaN, beyond Duration) means no timeout.
        let t = timeout.and_then(|t| Duration::try_from_secs_f64(t).ok());
        on_core(async move { Ok(inner.wait_for_more(seen as u64, t).await) }).await.map(|n| n as f64)
    }

    #[napi]
    pub fn stats(&self) -> NativeStats {
        let s = self.inner.stats();
        NativeStats {
            bucket_id: s.bucket_id,
            total_count: s.total_count as f64,
            buffer_count: s.buffer_count as f64,
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
        }
    }

    #[napi]
    pub async fn versions(&self) -> Result<Vec<NativeVersion>> {
        let inner = self.inner.clone();
        let v = on_core(async move { inner.versions().await }).await?;
        Ok(v.into_iter().map(|(v, t)| NativeVersion { version: v as f64, timestamp_ms: t as f64 }).collect())
    }

    #[napi]
    pub async fn checkout(&self, version: f64) -> Result<NativeBucketStore> {
        let inner = self.inner.clone();
        let view = on_core(async move { inner.checkout(version as u64).await }).await?;
        Ok(NativeBucketStore { inner: view, scratch: Default::default() })
    }

    #[napi]
    pub async fn compact(&self) -> Result<NativeCompaction> {
        let inner = self.inner.clone();
        let (removed, added) = on_core(async move { inner.compact().await }).await?;
        Ok(NativeCompaction { fragments_removed: removed as u32, fragments_added: added as u32 })
    }

    #[napi]
    pub async fn search(&self, column: String, vector: Vec<f64>, k: u32) -> Result<String> {
        let inner = self.inner.clone();
        let v: Vec<f32> = vector.into_iter().map(|x| x as f32).collect();
        let bytes = on_core(async move { inner.search_json(&column, &v, k as usize).await }).await?;
        String::from_utf8(bytes).map_err(|e| Error::from_reason(format!("[INTERNAL] {e}")))
    }

    #[napi]
    pub async fn create_index(&self, column: String) -> Result<()> {
        let inner = self.inner.clone();
        on_core(async move { inner.create_index(&column).await }).await
    }

    #[napi]
    pub async fn close(&self) -> Result<()> {
        let inner = self.inner.clone();
        on_core(async move { inner.close().await }).await
    }
}
