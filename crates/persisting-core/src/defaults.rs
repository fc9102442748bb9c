//! Every default and range of a bucket's options, in one place. The binding exposes them to
//! TypeScript (`defaultOptions()`), so no other layer repeats these numbers. Units are the
//! core's (durations as `Duration`, sizes in bytes); the TypeScript API takes seconds.

use std::time::Duration;

use crate::wal::RecoveryMode;

/// Records per `putBatch` chunk of the TypeScript queue (`batchSize`). The native store does
/// not batch by it: a put is one call whatever its size.
pub const BATCH_SIZE: usize = 100;
/// Buffered records that trigger an automatic flush (`flushThreshold`, at least 1).
pub const FLUSH_THRESHOLD: usize = 1000;
/// Fragments past which a flush also compacts (`compactionThreshold`; 0 disables).
pub const COMPACTION_THRESHOLD: usize = 64;
/// Backend name reported in stats when the caller gives none.
pub const BACKEND: &str = "lance";
/// How often the WAL is fsynced in the background (`walSyncInterval`, 1 s); zero means an
/// fsync before every acknowledgement (group commit).
pub const WAL_SYNC_INTERVAL: Duration = Duration::from_secs(1);
/// Longest `walSyncInterval` accepted, in seconds (a year: longer means "never" in practice
/// and overflows time arithmetic far out).
pub const MAX_WAL_SYNC_INTERVAL_SECS: f64 = 365.0 * 24.0 * 3600.0;
/// WAL segment size that triggers a flush and rotation (`maxWalSize`, 100 MiB).
pub const MAX_WAL_SIZE: u64 = 100 << 20;
/// Largest `maxWalSize` accepted (1 TiB).
pub const MAX_WAL_SIZE_LIMIT: u64 = 1 << 40;
/// What WAL recovery does with damage (`walRecoveryMode`).
pub const WAL_RECOVERY_MODE: RecoveryMode = RecoveryMode::PointInTime;
/// Unflushed bytes per bucket (the JSON of buffered records) past which puts wait for a flush
/// (`maxBufferBytes`, 64 MiB). Memory stays bounded by this plus one call when flushes fall
/// behind; a failing flush stops the bucket instead.
pub const MAX_BUFFER_BYTES: u64 = 64 << 20;
/// Largest integer option accepted (`flushThreshold`, `batchSize`, `compactionThreshold`).
pub const MAX_COUNT: u32 = u32::MAX;

/// A writer's lease of an object-store bucket lasts this long without renewal (renewed every
/// third of it); a crashed writer's buckets are free again after it.
pub const LEASE_TIMEOUT: Duration = Duration::from_secs(30);
