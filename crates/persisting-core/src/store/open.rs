//! Opening a bucket: the writer's lock, draining a WAL left by an earlier session, readers,
//! WAL replay, and checkouts of old versions.

use std::sync::Arc;
use std::time::Duration;

use super::options::validate;
use super::state::Chunk;
use super::{BucketStore, StoreOptions, WalOptions};
use crate::defaults;
use crate::error::{Error, ErrorCode, Result, ResultExt};
use crate::fault;
use crate::json;
use crate::lance_io;
use crate::lease::{self, Lease};
use crate::lock::{create_dir_durable, BucketLock};
use crate::wal::{Wal, WalConfig};

/// What keeps other writers out while a store is open: the local `flock` (this host) and, on
/// an object store, the bucket's lease (every host).
#[derive(Default)]
pub(super) struct Guards {
    /// The bucket directory's lock (local storage) and the `walPath` directory's, when apart.
    pub locks: Vec<BucketLock>,
    pub lease: Option<Arc<Lease>>,
}

impl BucketStore {
    /// Opens (or creates lazily on first flush) the bucket at `opts.storage_path`, replaying the
    /// WAL. A writer takes the bucket lock (and on an object store its lease) before it reads
    /// anything.
    pub async fn open(opts: StoreOptions) -> Result<Arc<Self>> {
        validate(&opts)?;
        if opts.read_only {
            return Self::open_reader(opts).await;
        }
        if opts.remote() && opts.wal.is_some() && opts.wal_path.is_none() {
            return Err(Error::invalid_option(format!(
                "storagePath '{}' is an object store: the write-ahead log needs walPath, a directory on this \
                 host's disk",
                opts.storage_path
            )));
        }
        let local = opts.local_dir();
        let mut guards = Guards::default();
        let code = if opts.wal.is_some() { ErrorCode::WalLocked } else { ErrorCode::Locked };
        // A local bucket is locked where its data is, whatever walPath says; the WAL directory
        // too, so two buckets given one walPath cannot share a WAL.
        let data_dir = lance_io::local_path(&opts.storage_path);
        for dir in data_dir.iter().chain(local.iter().filter(|d| Some(*d) != data_dir.as_ref())) {
            create_dir_durable(dir)?;
            guards.locks.push(BucketLock::acquire(dir, code)?);
        }
        if opts.remote() {
            let owner = lease::writer_id(local.as_deref())?;
            let params = lance_io::store_params(&opts.storage_options);
            guards.lease = Some(Lease::acquire(&opts.storage_path, &params, owner, opts.lease_timeout).await?);
        }
        if let Some(dir) = &local {
            if opts.wal.is_none() && wal_holds_records(&dir.join("wal")) {
                guards = Self::drain_wal(&opts, guards).await?;
            }
        }
        Self::open_locked(opts, guards).await
    }

    /// A WAL left by a session with `enableWal` holds acknowledged records: replay and flush
    /// them into Lance before a WAL-less session starts numbering rows after Lance's count.
    pub(super) async fn drain_wal(opts: &StoreOptions, guards: Guards) -> Result<Guards> {
        let mut with_wal = opts.clone();
        with_wal.wal = Some(WalOptions::new(Duration::ZERO, defaults::MAX_WAL_SIZE));
        with_wal.metrics = false;
        let store = Self::open_locked(with_wal, guards).await?;
        store.flush().await?;
        fault::point("after_recovery_flush")?;
        let locks = std::mem::take(&mut *store.locks.lock().unwrap_or_else(|p| p.into_inner()));
        let lease = store.lease.clone();
        store.close_keeping_lease().await?;
        if let Some(dir) = opts.local_dir() {
            remove_empty_segments(&dir.join("wal"))?;
        }
        if locks.is_empty() {
            return Err(Error::internal("bucket lock lost while draining the WAL"));
        }
        Ok(Guards { locks, lease })
    }

    pub(super) async fn open_locked(opts: StoreOptions, guards: Guards) -> Result<Arc<Self>> {
        let uri = lance_io::dataset_uri(&opts.storage_path);
        let ds = lance_io::open_if_exists(&uri, &opts.storage_options).await?;
        let persisted = match &ds {
            Some(ds) => lance_io::count_rows(ds).await?,
            None => 0,
        };
        let (wal, recovery) = match &opts.wal {
            Some(w) => {
                let local = opts
                    .local_dir()
                    .ok_or_else(|| Error::invalid_option("the write-ahead log needs a local storagePath or walPath"))?;
                let cfg = WalConfig {
                    dir: local.join("wal"),
                    sync_interval: w.sync_interval,
                    max_size: w.max_size,
                    compression: opts.compression,
                    defer_writes: true,
                    recovery_mode: w.recovery_mode,
                    ..WalConfig::default()
                };
                let (wal, rec) = Wal::open(cfg, persisted)?;
                (Some(Arc::new(wal)), Some(rec))
            }
            None => (None, None),
        };
        let store = Arc::new(Self::build(opts, uri, ds, persisted, wal, guards, false));
        if let Some(rec) = recovery {
            store.replay(rec)?;
        }
        if let Some(m) = &store.metrics {
            m.persisted.set(persisted as f64);
            m.buffer.set(store.buffer_count() as i64);
            m.wal.set(store.wal.as_ref().map(|w| w.total_size()).unwrap_or(0) as i64);
        }
        Ok(store)
    }

    /// A reader takes no lock and has no WAL: it sees what writers flushed, and follows new
    /// versions as they are committed.
    pub(super) async fn open_reader(mut opts: StoreOptions) -> Result<Arc<Self>> {
        opts.wal = None;
        opts.metrics = false;
        let uri = lance_io::dataset_uri(&opts.storage_path);
        let ds = lance_io::open_if_exists(&uri, &opts.storage_options).await?;
        let persisted = match &ds {
            Some(ds) => lance_io::count_rows(ds).await?,
            None => 0,
        };
        let mut store = Self::build(opts, uri, ds, persisted, None, Guards::default(), true);
        store.follows = true;
        Ok(Arc::new(store))
    }

    pub(super) fn replay(&self, rec: crate::wal::Recovery) -> Result<()> {
        let mut st = self.st();
        for q in &rec.quarantined {
            st.wal_events.push(format!(
                "[WAL_QUARANTINE] moved {} to {}: {}",
                q.segment.display(),
                q.moved_to.display(),
                q.reason
            ));
        }
        for t in &rec.truncations {
            st.wal_events.push(format!(
                "[WAL_CORRUPT] cut {} bytes at offset {} of {}: {}",
                t.dropped_bytes,
                t.offset,
                t.segment.display(),
                t.reason
            ));
        }
        for entry in rec.entries {
            let expected = st.persisted + st.buffer_rows;
            if entry.first_seq > expected {
                st.wal_events.push(format!(
                    "[WAL_CORRUPT] sequence gap: expected {expected}, found {}; later WAL records ignored",
                    entry.first_seq
                ));
                break;
            }
            let skip = (expected - entry.first_seq) as usize;
            if skip >= entry.count as usize {
                continue;
            }
            let rows = entry.payload;
            // JSON payloads are stored already split into rows; Arrow puts as an IPC stream.
            let batch = if json::is_ipc_payload(&rows) {
                let batch = json::ipc_payload_to_batch(&rows)?;
                self.merge_batch_locked(&mut st, &batch)?
            } else {
                self.decode_locked(&mut st, &rows, None)?
            };
            let batch = if skip > 0 { batch.slice(skip, batch.num_rows() - skip) } else { batch };
            let n = batch.num_rows() as u64;
            st.buffer_bytes += batch.get_array_memory_size() as u64;
            st.buffer.push(Chunk::Batch(batch));
            st.buffer_rows += n;
        }
        let total = st.persisted + st.buffer_rows;
        drop(st);
        self.publish_total(total);
        Ok(())
    }

    /// A read-only store over the dataset as it was at `version`.
    pub async fn checkout(&self, version: u64) -> Result<Arc<BucketStore>> {
        self.ensure_usable()?;
        let ds = self.st().dataset.clone();
        let ds = ds.ok_or_else(|| {
            Error::new(ErrorCode::NotFound, format!("version {version} does not exist (nothing flushed yet)"))
        })?;
        let old = lance_io::checkout(&ds, version).await?;
        let persisted = lance_io::count_rows(&old).await?;
        let mut opts = self.opts.clone();
        opts.wal = None;
        opts.read_only = true;
        Ok(Arc::new(Self::build(opts, self.uri.clone(), Some(old), persisted, None, Guards::default(), true)))
    }
}

/// True when `dir` has a non-empty WAL segment (acknowledged records not yet in Lance).
fn wal_holds_records(dir: &std::path::Path) -> bool {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return false;
    };
    rd.flatten().any(|e| {
        let name = e.file_name();
        let name = name.to_string_lossy();
        name.starts_with("wal-") && name.ends_with(".log") && e.metadata().map(|m| m.len() > 0).unwrap_or(false)
    })
}

fn remove_empty_segments(dir: &std::path::Path) -> Result<()> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    for e in rd.flatten() {
        let name = e.file_name();
        let name = name.to_string_lossy();
        if name.starts_with("wal-") && name.ends_with(".log") && e.metadata().map(|m| m.len() == 0).unwrap_or(false) {
            std::fs::remove_file(e.path()).code(ErrorCode::Io, "removing an empty WAL segment")?;
        }
    }
    crate::lock::fsync_dir(dir)
}
