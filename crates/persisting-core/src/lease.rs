//! Exclusive ownership of a bucket on an object store, where no `flock` reaches the other hosts.
//!
//! The owner writes `<bucket>/_lease.json` with a conditional create (S3 `If-None-Match: *`) and
//! renews it every third of the timeout with a conditional update (`If-Match: <etag>`), so of
//! two writers racing for a bucket exactly one wins, and a writer that lost the lease learns it
//! at its next renewal. A writer checks that its lease is held before every Lance commit
//! ([`Lease::ensure_held`]): once another writer may own the bucket, it commits nothing more.
//!
//! A lease is free when it names the same writer (a restart of the owner: the writer id is kept
//! in its `walPath`), when its owner released it on close, or when it was last renewed more than
//! the timeout (plus a second, the resolution of `Last-Modified`) ago by the store's clock as seen
//! from this host's clock; host clocks are assumed to agree to well within the timeout (NTP).

use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant, SystemTime};

use lance::io::{ObjectStore, ObjectStoreParams};
use object_store::path::Path;
use object_store::{ObjectStoreExt as _, PutMode, PutOptions, PutPayload, UpdateVersion};
use serde::{Deserialize, Serialize};

use crate::error::{Error, ErrorCode, Result};

pub const LEASE_FILE: &str = "_lease.json";

#[derive(Serialize, Deserialize, Clone, Debug)]
#[serde(rename_all = "camelCase")]
struct Body {
    owner: String,
    host: String,
    pid: u32,
    /// Milliseconds since the epoch on the owner's clock (for people reading the file).
    renewed_at: u64,
    #[serde(default)]
    released: bool,
}

struct Held {
    version: UpdateVersion,
    renewed: Instant,
    /// Set when another writer took the bucket over.
    lost: Option<String>,
}

pub struct Lease {
    store: Arc<ObjectStore>,
    path: Path,
    uri: String,
    owner: String,
    timeout: Duration,
    held: Mutex<Held>,
    renewer: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

fn store_err(what: String) -> impl FnOnce(object_store::Error) -> Error {
    move |e| Error::with_source(ErrorCode::Io, what, e)
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

/// This host's name, read once (every renewal writes it).
fn host() -> &'static str {
    static HOST: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HOST.get_or_init(|| {
        std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|s| s.trim().to_string())
            .unwrap_or_else(|_| "?".into())
    })
}

impl Lease {
    /// Takes the lease of the bucket at `uri` for `owner`, or fails with `Locked` naming the
    /// writer that holds it.
    pub async fn acquire(
        uri: &str,
        params: &ObjectStoreParams,
        owner: String,
        timeout: Duration,
    ) -> Result<Arc<Lease>> {
        let (store, base) = ObjectStore::from_uri_and_params(crate::lance_io::registry(), uri, params)
            .await
            .map_err(|e| Error::with_source(ErrorCode::Io, format!("opening the object store of {uri}"), e))?;
        let path = base.join(LEASE_FILE);
        let lease = Lease {
            store,
            path,
            uri: uri.to_string(),
            owner,
            timeout,
            held: Mutex::new(Held {
                version: UpdateVersion { e_tag: None, version: None },
                renewed: Instant::now(),
                lost: None,
            }),
            renewer: Mutex::new(None),
        };
        // A lost race (the object appeared or changed between our read and our write) is retried:
        // the next read shows who won.
        for _ in 0..5 {
            if let Some(version) = lease.try_take().await? {
                *lease.held.lock().unwrap() = Held { version, renewed: Instant::now(), lost: None };
                let lease = Arc::new(lease);
                lease.start_renewing();
                return Ok(lease);
            }
        }
        Err(Error::new(ErrorCode::Locked, format!("could not take the lease of {uri}: other writers keep changing it")))
    }

    fn body(&self, released: bool) -> PutPayload {
        let b = Body {
            owner: self.owner.clone(),
            host: host().to_string(),
            pid: std::process::id(),
            renewed_at: now_ms(),
            released,
        };
        PutPayload::from(serde_json::to_vec(&b).expect("lease body"))
    }

    async fn put(&self, mode: PutMode, released: bool) -> object_store::Result<UpdateVersion> {
        let opts = PutOptions { mode, ..Default::default() };
        let r = self.store.inner.put_opts(&self.path, self.body(released), opts).await?;
        Ok(UpdateVersion { e_tag: r.e_tag, version: r.version })
    }

    /// One attempt: `Some(version)` when the lease is ours now, `None` when a race was lost.
    async fn try_take(&self) -> Result<Option<UpdateVersion>> {
        let found = match self.store.inner.get(&self.path).await {
            Ok(r) => Some(r),
            Err(object_store::Error::NotFound { .. }) => None,
            Err(e) => return Err(store_err(format!("reading the lease of {}", self.uri))(e)),
        };
        let Some(found) = found else {
            return match self.put(PutMode::Create, false).await {
                Ok(v) => Ok(Some(v)),
                Err(object_store::Error::AlreadyExists { .. } | object_store::Error::Precondition { .. }) => Ok(None),
                Err(e) => Err(store_err(format!("creating the lease of {}", self.uri))(e)),
            };
        };
        let meta = found.meta.clone();
        let bytes = found.bytes().await.map_err(store_err(format!("reading the lease of {}", self.uri)))?;
        let held: Option<Body> = serde_json::from_slice(&bytes).ok();
        let modified: SystemTime = meta.last_modified.into();
        let age = SystemTime::now().duration_since(modified).unwrap_or_default();
        if let Some(h) = &held {
            // `Last-Modified` has one-second resolution (HTTP dates), so a lease may look up to a
            // second older than it is: expiry waits that second more.
            let expired = age > self.timeout + Duration::from_secs(1);
            let free = h.owner == self.owner || h.released || expired;
            if !free {
                return Err(Error::new(
                    ErrorCode::Locked,
                    format!(
                        "bucket {} is owned by writer {} on host {} (pid {}), whose lease was renewed {:.1} s ago \
                         and expires {} s after its last renewal; a bucket has one writer at a time (give each \
                         writer its own rank, close the other writer, or wait for its lease to expire)",
                        self.uri,
                        h.owner,
                        h.host,
                        h.pid,
                        age.as_secs_f64(),
                        self.timeout.as_secs_f64()
                    ),
                ));
            }
        }
        let version = UpdateVersion { e_tag: meta.e_tag, version: meta.version };
        match self.put(PutMode::Update(version), false).await {
            Ok(v) => Ok(Some(v)),
            Err(object_store::Error::Precondition { .. } | object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(store_err(format!("taking over the lease of {}", self.uri))(e)),
        }
    }

    fn start_renewing(self: &Arc<Self>) {
        let weak: Weak<Lease> = Arc::downgrade(self);
        let every = self.timeout / 3;
        let task = crate::runtime::runtime().spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                let Some(lease) = weak.upgrade() else { return };
                if !lease.renew().await {
                    return;
                }
            }
        });
        *self.renewer.lock().unwrap() = Some(task);
    }

    /// False once the lease is lost for good (renewing stops).
    async fn renew(&self) -> bool {
        let version = self.held.lock().unwrap().version.clone();
        match self.put(PutMode::Update(version), false).await {
            Ok(v) => {
                let mut h = self.held.lock().unwrap();
                h.version = v;
                h.renewed = Instant::now();
                true
            }
            Err(object_store::Error::Precondition { .. } | object_store::Error::NotFound { .. }) => {
                self.held.lock().unwrap().lost =
                    Some(format!("another writer took over bucket {} (its lease changed under this writer)", self.uri));
                false
            }
            // The store is unreachable: keep trying; commits stop once the lease may have expired.
            Err(_) => true,
        }
    }

    /// Errors unless this writer certainly still owns the bucket.
    pub fn ensure_held(&self) -> Result<()> {
        let h = self.held.lock().unwrap();
        if let Some(why) = &h.lost {
            return Err(Error::new(ErrorCode::Locked, why.clone()));
        }
        // Stop a margin before the expiry others see, so a commit under way cannot outlive it.
        let limit = self.timeout.mul_f64(0.8);
        if h.renewed.elapsed() > limit {
            return Err(Error::new(
                ErrorCode::Locked,
                format!(
                    "the lease of bucket {} was last renewed {:.1} s ago (timeout {} s): another writer may own it \
                     now, so this writer commits nothing more",
                    self.uri,
                    h.renewed.elapsed().as_secs_f64(),
                    self.timeout.as_secs_f64()
                ),
            ));
        }
        Ok(())
    }

    /// Marks the lease released, so the next writer takes the bucket at once.
    pub async fn release(&self) -> Result<()> {
        if let Some(t) = self.renewer.lock().unwrap().take() {
            t.abort();
        }
        let (version, lost) = {
            let h = self.held.lock().unwrap();
            (h.version.clone(), h.lost.is_some())
        };
        if lost {
            return Ok(());
        }
        match self.put(PutMode::Update(version), true).await {
            Ok(_) | Err(object_store::Error::Precondition { .. } | object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(store_err(format!("releasing the lease of {}", self.uri))(e)),
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Some(t) = self.renewer.lock().unwrap_or_else(|p| p.into_inner()).take() {
            t.abort();
        }
    }
}

/// This writer's id: kept in `dir` (its `walPath`) so a restarted writer reclaims its buckets at
/// once; without one, a new id per process.
pub fn writer_id(dir: Option<&std::path::Path>) -> Result<String> {
    // Random, not time and pid: two writers of one process may start in the same millisecond.
    let fresh = || {
        let mut bytes = [0u8; 12];
        let _ = std::fs::File::open("/dev/urandom").and_then(|mut f| std::io::Read::read_exact(&mut f, &mut bytes));
        static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let seq = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let rand: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        format!("{}-{rand}-{:x}-{seq}", host(), std::process::id())
    };
    let Some(dir) = dir else { return Ok(fresh()) };
    let path = dir.join("WRITER_ID");
    if let Ok(s) = std::fs::read_to_string(&path) {
        let s = s.trim();
        if !s.is_empty() {
            return Ok(s.to_string());
        }
    }
    let id = fresh();
    let tmp = dir.join("WRITER_ID.tmp");
    std::fs::write(&tmp, &id)
        .and_then(|_| std::fs::File::open(&tmp)?.sync_all())
        .and_then(|_| std::fs::rename(&tmp, &path))
        .map_err(|e| Error::with_source(ErrorCode::Io, format!("writing the writer id {}", path.display()), e))?;
    crate::lock::fsync_dir(dir)?;
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LONG: Duration = Duration::from_secs(60);

    async fn take(uri: &str, owner: &str, timeout: Duration) -> Result<Arc<Lease>> {
        Lease::acquire(uri, &ObjectStoreParams::default(), owner.to_string(), timeout).await
    }

    #[tokio::test]
    async fn one_owner_at_a_time_until_released() {
        let uri = "memory://leases/one-owner";
        let a = take(uri, "writer-a", LONG).await.unwrap();
        let err = take(uri, "writer-b", LONG).await.err().expect("b must be refused");
        assert_eq!(err.code, ErrorCode::Locked);
        assert!(err.message.contains("owned by writer writer-a"), "{}", err.message);
        a.ensure_held().unwrap();
        a.release().await.unwrap();
        let b = take(uri, "writer-b", LONG).await.unwrap();
        b.ensure_held().unwrap();
        drop(a);
    }

    #[tokio::test]
    async fn the_same_writer_takes_its_lease_back_after_a_restart() {
        let uri = "memory://leases/restart";
        let first = take(uri, "writer-a", LONG).await.unwrap();
        // No release: the process died. Its restart (same id, kept in walPath) is let in at once.
        let again = take(uri, "writer-a", LONG).await.unwrap();
        again.ensure_held().unwrap();
        // The old incarnation learns at its next renewal that the lease moved on.
        assert!(!first.renew().await);
        assert_eq!(first.ensure_held().unwrap_err().code, ErrorCode::Locked);
    }

    #[tokio::test]
    async fn an_expired_lease_is_taken_over_and_its_old_owner_stops_committing() {
        let uri = "memory://leases/expired";
        let short = Duration::from_secs(1);
        let a = take(uri, "writer-a", short).await.unwrap();
        if let Some(t) = a.renewer.lock().unwrap().take() {
            t.abort(); // a writer that stalled: it renews no more
        }
        assert_eq!(take(uri, "writer-b", short).await.err().unwrap().code, ErrorCode::Locked);
        tokio::time::sleep(Duration::from_millis(2300)).await;
        // Past the timeout: its own check stops it before anyone else can take over...
        let err = a.ensure_held().unwrap_err();
        assert_eq!(err.code, ErrorCode::Locked);
        assert!(err.message.contains("commits nothing more"), "{}", err.message);
        // ...and another writer may.
        let b = take(uri, "writer-b", short).await.unwrap();
        b.ensure_held().unwrap();
        assert!(!a.renew().await);
    }

    #[test]
    fn the_writer_id_is_kept_in_its_directory() {
        let dir = tempfile::tempdir().unwrap();
        let id = writer_id(Some(dir.path())).unwrap();
        assert_eq!(writer_id(Some(dir.path())).unwrap(), id);
        // Fresh ids never repeat, even made in the same millisecond by one process.
        let fresh: std::collections::HashSet<String> = (0..100).map(|_| writer_id(None).unwrap()).collect();
        assert_eq!(fresh.len(), 100);
        assert_ne!(writer_id(Some(tempfile::tempdir().unwrap().path())).unwrap(), id);
    }
}
