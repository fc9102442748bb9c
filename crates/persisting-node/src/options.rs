//! The options of a native store, their defaults (owned by `persisting_core::defaults`) and
//! their checks. Every number is checked where it enters: a value out of range is an
//! `INVALID_OPTION` error, never a panic in a conversion.

use std::time::Duration;

use napi_derive::napi;
use persisting_core::wal::RecoveryMode;
use persisting_core::{defaults, Compression, StoreOptions, WalOptions};

use crate::error::{invalid_option, IntoNapi, Result};

/// Options of `NativeBucketStore.open`. Absent fields take the defaults `defaultOptions()`
/// returns.
#[napi(object)]
pub struct NativeStoreOptions {
    /// Directory of the bucket (`${storagePath}/data.lance`, `${storagePath}/wal/`). Required,
    /// not empty.
    pub storage_path: String,
    /// Bucket number, used in stats and metric labels. Default 0.
    pub bucket_id: Option<i64>,
    /// Topic name, used in metric labels. Default none.
    pub topic: Option<String>,
    /// Backend name reported in stats (`'lance'` fixes the schema at the first flush,
    /// `'persisting'` evolves it when `evolveSchema` is set). Default `'lance'`.
    pub backend: Option<String>,
    /// Records per chunk of the TypeScript queue's puts. Integer from 1 to 2^32-1, default 100.
    /// Checked here; the native store itself takes a put of any size as one call.
    pub batch_size: Option<f64>,
    /// Buffered records that trigger an automatic flush. Integer from 1 to 2^32-1, default 1000.
    pub flush_threshold: Option<f64>,
    /// Fragments past which a flush also compacts. Integer from 0 (never) to 2^32-1, default 64.
    pub compaction_threshold: Option<f64>,
    /// Add new fields and widen types instead of refusing them. Default false.
    pub evolve_schema: Option<bool>,
    /// Codec of the stored data and the WAL. Default none (uncompressed).
    #[napi(ts_type = "'zstd' | 'lz4' | 'snappy' | null")]
    pub compression: Option<String>,
    /// Put every record in a write-ahead log before acknowledging it. Default false.
    pub enable_wal: Option<bool>,
    /// Seconds between background fsyncs of the WAL; 0 = fsync before every acknowledgement
    /// (group commit). From 0 to one year, default 1.
    pub wal_sync_interval: Option<f64>,
    /// WAL segment size, in bytes, that triggers a flush and a new segment. From 1 to 1 TiB,
    /// default 100 MiB.
    pub max_wal_size: Option<f64>,
    /// Export Prometheus metrics for this bucket. Default false.
    pub enable_metrics: Option<bool>,
    /// Open as a reader: no lock, no writes, follows what writers flush. Default false.
    pub read_only: Option<bool>,
    /// What recovery does with a damaged WAL: `'pointInTime'` keeps everything before the
    /// damage and quarantines the rest; `'absolute'` refuses to open. Default `'pointInTime'`.
    #[napi(ts_type = "'pointInTime' | 'absolute'")]
    pub wal_recovery_mode: Option<String>,
    /// Unflushed bytes past which puts wait for a flush (back-pressure). From 1 to 1 TiB,
    /// default 64 MiB.
    pub max_buffer_bytes: Option<f64>,
    /// Top-level fields stored as float32 vectors (`FixedSizeList<Float32, dim>`), by name:
    /// dimension, an integer from 1 to 2^31-1. Default none (only `vector` and typed arrays).
    pub vector_columns: Option<std::collections::HashMap<String, f64>>,
    /// Settings of the object store behind an `s3://` storage path, passed to Lance as given
    /// (`aws_endpoint`, `aws_region`, `aws_access_key_id`, `aws_secret_access_key`,
    /// `aws_allow_http`, ...); the standard AWS environment variables fill the rest. Default none.
    pub storage_options: Option<std::collections::HashMap<String, String>>,
    /// Local directory of the bucket's WAL, writer lock and writer id. Default: `storagePath`
    /// when it is local; required with `enableWal` on an object store.
    pub wal_path: Option<String>,
    /// Seconds a writer's lease of an object-store bucket lasts without renewal (renewed every
    /// third of it); a crashed writer's buckets are free again after it. From 1 to one year,
    /// default 30.
    pub lease_timeout: Option<f64>,
}

/// The core's defaults, in the units of the TypeScript API (seconds, bytes).
#[napi(object)]
pub struct NativeDefaults {
    pub batch_size: u32,
    pub flush_threshold: u32,
    pub compaction_threshold: u32,
    pub enable_wal: bool,
    /// Seconds.
    pub wal_sync_interval: f64,
    /// Bytes.
    pub max_wal_size: f64,
    #[napi(ts_type = "'zstd' | 'lz4' | 'snappy' | null")]
    pub compression: Option<String>,
    pub enable_metrics: bool,
    pub evolve_schema: bool,
    pub read_only: bool,
    #[napi(ts_type = "'pointInTime' | 'absolute'")]
    pub wal_recovery_mode: String,
    /// Bytes.
    pub max_buffer_bytes: f64,
    /// Seconds.
    pub lease_timeout: f64,
}

/// The defaults of every option, from the core (TypeScript reads them instead of repeating
/// numbers).
#[napi]
pub fn default_options() -> NativeDefaults {
    let core = StoreOptions::new("");
    let wal = WalOptions::default();
    NativeDefaults {
        batch_size: defaults::BATCH_SIZE as u32,
        flush_threshold: core.flush_threshold as u32,
        compaction_threshold: core.compaction_threshold as u32,
        enable_wal: core.wal.is_some(),
        wal_sync_interval: wal.sync_interval.as_secs_f64(),
        max_wal_size: wal.max_size as f64,
        compression: core.compression.name().map(str::to_string),
        enable_metrics: core.metrics,
        evolve_schema: core.evolve_schema,
        read_only: core.read_only,
        wal_recovery_mode: recovery_mode_name(wal.recovery_mode).to_string(),
        max_buffer_bytes: core.max_buffer_bytes as f64,
        lease_timeout: core.lease_timeout.as_secs_f64(),
    }
}

fn recovery_mode_name(m: RecoveryMode) -> &'static str {
    match m {
        RecoveryMode::PointInTime => "pointInTime",
        RecoveryMode::Absolute => "absolute",
    }
}

/// Builds the core's options from the binding's, checking every value.
pub fn store_options(options: NativeStoreOptions) -> Result<StoreOptions> {
    let mut o = StoreOptions::new(options.storage_path);
    if let Some(v) = options.bucket_id {
        o.bucket_id = v;
    }
    o.topic = options.topic;
    if let Some(v) = options.backend {
        o.backend = v;
    }
    if let Some(v) = options.batch_size {
        count("batchSize", v, 1)?;
    }
    if let Some(v) = options.flush_threshold {
        o.flush_threshold = count("flushThreshold", v, 1)?;
    }
    if let Some(v) = options.compaction_threshold {
        o.compaction_threshold = count("compactionThreshold", v, 0)?;
    }
    if let Some(v) = options.evolve_schema {
        o.evolve_schema = v;
    }
    o.compression = Compression::parse(options.compression.as_deref()).napi()?;
    if let Some(v) = options.enable_metrics {
        o.metrics = v;
    }
    if let Some(v) = options.read_only {
        o.read_only = v;
    }
    if let Some(v) = options.max_buffer_bytes {
        let max = defaults::MAX_WAL_SIZE_LIMIT as f64;
        if !(v >= 1.0 && v <= max && v.fract() == 0.0) {
            return Err(invalid_option(format!(
                "maxBufferBytes must be an integer number of bytes from 1 to {max}, got {v}"
            )));
        }
        o.max_buffer_bytes = v as u64;
    }
    for (name, dim) in options.vector_columns.unwrap_or_default() {
        if name.is_empty() || dim.fract() != 0.0 || !(1.0..=i32::MAX as f64).contains(&dim) {
            return Err(invalid_option(format!(
                "vectorColumns['{name}'] must be a dimension, an integer from 1 to {}, got {dim}",
                i32::MAX
            )));
        }
        o.vector_columns.insert(name, dim as i32);
    }
    o.storage_options = options.storage_options.unwrap_or_default();
    o.wal_path = options.wal_path;
    if let Some(secs) = options.lease_timeout {
        let max_secs = defaults::MAX_WAL_SYNC_INTERVAL_SECS;
        if !(1.0..=max_secs).contains(&secs) {
            return Err(invalid_option(format!(
                "leaseTimeout must be a number of seconds from 1 to {max_secs}, got {secs}"
            )));
        }
        o.lease_timeout = Duration::from_secs_f64(secs);
    }
    if options.enable_wal.unwrap_or(false) && !o.read_only {
        let mut w = WalOptions::default();
        let max_secs = defaults::MAX_WAL_SYNC_INTERVAL_SECS;
        if let Some(secs) = options.wal_sync_interval {
            if !(0.0..=max_secs).contains(&secs) {
                return Err(invalid_option(format!(
                    "walSyncInterval must be a number of seconds from 0 to {max_secs}, got {secs}"
                )));
            }
            w.sync_interval = Duration::from_secs_f64(secs);
        }
        let max_size = defaults::MAX_WAL_SIZE_LIMIT as f64;
        if let Some(max) = options.max_wal_size {
            if !(max >= 1.0 && max <= max_size) {
                return Err(invalid_option(format!(
                    "maxWalSize must be a number of bytes from 1 to {max_size}, got {max}"
                )));
            }
            w.max_size = max as u64;
        }
        w.recovery_mode = match options.wal_recovery_mode.as_deref() {
            None => w.recovery_mode,
            Some("pointInTime") => RecoveryMode::PointInTime,
            Some("absolute") => RecoveryMode::Absolute,
            Some(other) => {
                return Err(invalid_option(format!(
                    "walRecoveryMode must be 'pointInTime' or 'absolute', got '{other}'"
                )))
            }
        };
        o.wal = Some(w);
    }
    Ok(o)
}

fn count(name: &str, v: f64, min: u32) -> Result<usize> {
    let max = defaults::MAX_COUNT;
    if v.fract() != 0.0 || !(min as f64..=max as f64).contains(&v) {
        return Err(invalid_option(format!("{name} must be an integer from {min} to {max}, got {v}")));
    }
    Ok(v as usize)
}
