//! What a bucket is opened with, and the checks on it. Defaults live in `crate::defaults`.

use std::time::Duration;

use crate::codec::Compression;
use crate::defaults;
use crate::error::{Error, Result};
use crate::wal::RecoveryMode;

#[derive(Debug, Clone)]
pub struct WalOptions {
    /// Zero: fsync before every acknowledgement (group commit).
    pub sync_interval: Duration,
    pub max_size: u64,
    /// What recovery does with damage (see `docs/durability.md`).
    pub recovery_mode: RecoveryMode,
}

impl Default for WalOptions {
    fn default() -> Self {
        WalOptions::new(defaults::WAL_SYNC_INTERVAL, defaults::MAX_WAL_SIZE)
    }
}

impl WalOptions {
    pub fn new(sync_interval: Duration, max_size: u64) -> Self {
        WalOptions { sync_interval, max_size, recovery_mode: defaults::WAL_RECOVERY_MODE }
    }
}

#[derive(Debug, Clone)]
pub struct StoreOptions {
    pub storage_path: String,
    pub bucket_id: i64,
    pub topic: Option<String>,
    pub backend: String,
    pub flush_threshold: usize,
    /// Fragments past which a flush also compacts; 0 disables.
    pub compaction_threshold: usize,
    pub evolve_schema: bool,
    pub compression: Compression,
    pub wal: Option<WalOptions>,
    pub metrics: bool,
    /// A reader: takes no lock, never writes, follows what writers flush.
    pub read_only: bool,
    /// Unflushed bytes past which puts wait for a flush (back-pressure).
    pub max_buffer_bytes: u64,
    /// Top-level fields stored as float32 vectors of the given dimension, whatever their first
    /// values look like (number arrays, typed arrays).
    pub vector_columns: crate::json::VectorColumns,
    /// Passed through to Lance's object store (endpoint, region, credentials, `allow_http`).
    pub storage_options: crate::lance_io::StorageOptions,
    /// Local directory of the WAL, the writer lock and the writer id; default: the storage path
    /// itself when it is local. Required for a WAL on an object store.
    pub wal_path: Option<String>,
    /// How long a writer's lease of an object-store bucket lasts without renewal.
    pub lease_timeout: Duration,
}

impl StoreOptions {
    /// The bucket's local directory (WAL, lock, writer id): `walPath`, else a local storage path.
    pub fn local_dir(&self) -> Option<std::path::PathBuf> {
        match &self.wal_path {
            Some(p) => crate::lance_io::local_path(p),
            None => crate::lance_io::local_path(&self.storage_path),
        }
    }

    /// True when the dataset lives on an object store (no flock reaches other hosts there).
    pub fn remote(&self) -> bool {
        crate::lance_io::local_path(&self.storage_path).is_none()
    }

    pub fn new(storage_path: impl Into<String>) -> Self {
        StoreOptions {
            storage_path: storage_path.into(),
            bucket_id: 0,
            topic: None,
            backend: defaults::BACKEND.into(),
            flush_threshold: defaults::FLUSH_THRESHOLD,
            compaction_threshold: defaults::COMPACTION_THRESHOLD,
            evolve_schema: false,
            compression: Compression::None,
            wal: None,
            metrics: false,
            read_only: false,
            max_buffer_bytes: defaults::MAX_BUFFER_BYTES,
            vector_columns: Default::default(),
            storage_options: Default::default(),
            wal_path: None,
            lease_timeout: defaults::LEASE_TIMEOUT,
        }
    }
}

pub(super) fn validate(opts: &StoreOptions) -> Result<()> {
    if opts.storage_path.is_empty() {
        return Err(Error::invalid_option("storagePath must not be empty"));
    }
    if opts.flush_threshold == 0 {
        return Err(Error::invalid_option("flushThreshold must be a positive integer"));
    }
    for (name, &dim) in &opts.vector_columns {
        if name.is_empty() || dim < 1 {
            return Err(Error::invalid_option(format!(
                "vectorColumns['{name}'] must name a field and give a positive dimension, got {dim}"
            )));
        }
    }
    if opts.wal_path.as_deref() == Some("") {
        return Err(Error::invalid_option("walPath must not be empty"));
    }
    if let Some(p) = &opts.wal_path {
        if p.contains("://") && !p.starts_with("file://") {
            return Err(Error::invalid_option(format!("walPath must be a local directory, got '{p}'")));
        }
    }
    if opts.lease_timeout < Duration::from_secs(1) {
        return Err(Error::invalid_option("leaseTimeout must be at least 1 second"));
    }
    if opts.max_buffer_bytes == 0 {
        return Err(Error::invalid_option("maxBufferBytes must be a positive number of bytes"));
    }
    if let Some(w) = &opts.wal {
        if w.max_size == 0 {
            return Err(Error::invalid_option("maxWalSize must be a positive number of bytes"));
        }
    }
    Ok(())
}
