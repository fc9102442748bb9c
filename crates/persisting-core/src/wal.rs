//! Write-ahead log for one bucket directory (`<storagePath>/wal/`).
//!
//! Layout: numbered segment files `wal-<20-digit id>.log` plus a `LOCK` file held with an
//! exclusive `flock` for the life of the [`Wal`]. Every entry is one frame (little-endian):
//!
//! ```text
//! [u32 length][u32 crc32(payload)][payload: length bytes]
//! payload = [u8 version = 1][u8 codec tag][u64 first_seq][u32 count][body = codec.compress(data)]
//! ```
//!
//! Appends `pwrite` whole frames at a length tracked in memory, so the data is in the OS page
//! cache (and survives a process crash) before `append` returns. Durability against power loss
//! comes from [`Wal::sync`] (group commit: one `fdatasync` covers every writer waiting on it)
//! or, with a non-zero `sync_interval`, from a background thread. See `docs/wal.md`.
//!
//! Recovery never fails because of bad bytes: a torn or corrupt frame ends its segment, the
//! segment is cut back (`ftruncate`) to the last good frame, the cut is reported in
//! [`Recovery::truncations`] and reading continues with the next segment.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, Read};
use std::os::unix::fs::FileExt as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use tokio::sync::Notify;

use crate::codec::Compression;
use crate::error::{Error, ErrorCode, Result, ResultExt};

/// Version byte at the start of every frame payload.
pub const FORMAT_VERSION: u8 = 1;
/// `[u32 length][u32 crc]`.
pub const FRAME_HEADER_LEN: usize = 8;
/// `[u8 version][u8 codec][u64 first_seq][u32 count]`.
pub const PAYLOAD_HEADER_LEN: usize = 14;
/// Largest frame payload (header + compressed body) written or accepted on recovery.
pub const MAX_FRAME_LEN: usize = 1 << 30;
/// Largest uncompressed entry accepted by `append` and produced by recovery.
pub const MAX_ENTRY_LEN: usize = 1 << 30;

const LOCK_FILE: &str = "LOCK";
const SEGMENT_PREFIX: &str = "wal-";
const SEGMENT_SUFFIX: &str = ".log";
const SEGMENT_ID_DIGITS: usize = 20;

#[derive(Debug, Clone)]
pub struct WalConfig {
    pub dir: PathBuf,
    /// `Duration::ZERO`: callers `sync` before acknowledging (group commit).
    /// Otherwise a background thread `fdatasync`s every interval when something was written.
    pub sync_interval: Duration,
    /// Segment size at which the caller should `rotate` (see [`Wal::should_rotate`]).
    pub max_size: u64,
    /// Codec for new frames; every frame records its own codec, so any setting reads any WAL.
    pub compression: Compression,
    /// With `sync_interval` zero only: `append` keeps frames in memory and the fsync round
    /// writes them all with one `pwrite` before its `fdatasync`. Nothing is acknowledged before
    /// that fsync anyway, so a crash loses nothing acknowledged, and producers stop paying a
    /// system call per record.
    pub defer_writes: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalEntry {
    pub first_seq: u64,
    pub count: u32,
    /// Already decompressed.
    pub payload: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Truncation {
    pub segment: PathBuf,
    /// Length the segment was cut back to (start of the first bad frame).
    pub offset: u64,
    pub dropped_bytes: u64,
    pub reason: String,
}

#[derive(Debug, Default)]
pub struct Recovery {
    pub entries: Vec<WalEntry>,
    pub truncations: Vec<Truncation>,
}

/// Write-ahead log of one bucket. `Send + Sync`; share it as `Arc<Wal>`.
pub struct Wal {
    inner: Arc<Inner>,
    background: Mutex<Option<Background>>,
    lock_file: Mutex<Option<File>>,
}

struct Background {
    stop: mpsc::Sender<()>,
    handle: JoinHandle<()>,
}

struct Inner {
    dir: PathBuf,
    compression: Compression,
    defer_writes: bool,
    max_size: u64,
    writer: Mutex<Writer>,
    /// Serialises `rotate` calls (segment creation happens outside the writer lock).
    rotate_lock: Mutex<()>,
    sync: Mutex<SyncState>,
    /// Wakes `sync_blocking` waiters.
    sync_cv: Condvar,
    /// Wakes async `sync` waiters.
    sync_notify: Notify,
    /// Set once an fsync failed; every later append and sync fails (fsync errors are not retryable).
    failed: AtomicBool,
    fsyncs: AtomicU64,
    #[cfg(test)]
    inject_short_write: AtomicBool,
}

struct Writer {
    closed: bool,
    /// Set when a failed write could not be cut back; the segment may end in garbage.
    broken: Option<String>,
    seg_id: u64,
    file: Arc<File>,
    seg_len: u64,
    /// Global end position of everything written (the LSN of the last append).
    lsn: u64,
    /// Frames appended but not yet written (deferred mode); they end at `seg_len`.
    pending: Vec<u8>,
    /// Live segments older than the current one: id -> size in bytes.
    sealed: BTreeMap<u64, u64>,
}

struct SyncState {
    /// Everything up to this LSN is on stable storage.
    synced: u64,
    /// Highest LSN any waiter asked for.
    requested: u64,
    /// An fsync round (leader) is running.
    in_flight: bool,
    failure: Option<String>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

pub fn segment_file_name(id: u64) -> String {
    format!("{SEGMENT_PREFIX}{id:0width$}{SEGMENT_SUFFIX}", width = SEGMENT_ID_DIGITS)
}

fn parse_segment_name(name: &str) -> Option<u64> {
    let digits = name.strip_prefix(SEGMENT_PREFIX)?.strip_suffix(SEGMENT_SUFFIX)?;
    if digits.len() != SEGMENT_ID_DIGITS || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

fn fsync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .code(ErrorCode::WalIo, &format!("fsync WAL directory {}", dir.display()))
}

/// Creates an empty segment and makes its directory entry durable before anything is written.
fn create_segment(dir: &Path, id: u64) -> Result<File> {
    let path = dir.join(segment_file_name(id));
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&path)
        .code(ErrorCode::WalIo, &format!("create WAL segment {}", path.display()))?;
    file.sync_all().code(ErrorCode::WalIo, &format!("fsync new WAL segment {}", path.display()))?;
    fsync_dir(dir)?;
    Ok(file)
}

/// Builds one complete frame. Only the frame buffer is allocated (plus the codec's output
/// when compressing).
fn encode_frame(compression: Compression, first_seq: u64, count: u32, data: &[u8]) -> Result<Vec<u8>> {
    if data.len() > MAX_ENTRY_LEN {
        return Err(Error::invalid_record(format!(
            "WAL entry of {} bytes exceeds the {MAX_ENTRY_LEN}-byte limit",
            data.len()
        )));
    }
    let compressed;
    let body: &[u8] = match compression {
        Compression::None => data,
        c => {
            compressed = c.compress(data)?;
            &compressed
        }
    };
    let payload_len = PAYLOAD_HEADER_LEN + body.len();
    if payload_len > MAX_FRAME_LEN {
        return Err(Error::invalid_record(format!(
            "WAL frame of {payload_len} bytes exceeds the {MAX_FRAME_LEN}-byte limit"
        )));
    }
    let mut frame = Vec::with_capacity(FRAME_HEADER_LEN + payload_len);
    frame.extend_from_slice(&(payload_len as u32).to_le_bytes());
    frame.extend_from_slice(&[0u8; 4]); // crc, filled below
    frame.push(FORMAT_VERSION);
    frame.push(compression.tag());
    frame.extend_from_slice(&first_seq.to_le_bytes());
    frame.extend_from_slice(&count.to_le_bytes());
    frame.extend_from_slice(body);
    let crc = crc32fast::hash(&frame[FRAME_HEADER_LEN..]);
    frame[4..8].copy_from_slice(&crc.to_le_bytes());
    Ok(frame)
}

/// Decodes a CRC-checked frame payload. `Err` carries the reason the frame is unusable.
fn decode_payload(payload: &[u8]) -> std::result::Result<WalEntry, String> {
    if payload.len() < PAYLOAD_HEADER_LEN {
        return Err(format!("frame payload of {} bytes is shorter than its header", payload.len()));
    }
    let version = payload[0];
    if version != FORMAT_VERSION {
        return Err(format!("unsupported frame format version {version}"));
    }
    let codec = Compression::from_tag(payload[1]).map_err(|e| e.message)?;
    let first_seq = u64::from_le_bytes(payload[2..10].try_into().unwrap());
    let count = u32::from_le_bytes(payload[10..14].try_into().unwrap());
    let body = &payload[PAYLOAD_HEADER_LEN..];
    let data = decompress_bounded(codec, body)?;
    Ok(WalEntry { first_seq, count, payload: data })
}

/// Decompresses with a bound on the output so a frame can never make recovery allocate
/// absurd amounts of memory (the declared sizes of lz4/snappy are checked before allocating).
fn decompress_bounded(codec: Compression, body: &[u8]) -> std::result::Result<Vec<u8>, String> {
    let too_big = |n: usize| format!("{codec:?} body declares {n} decoded bytes, more than it can hold");
    match codec {
        Compression::None => Ok(body.to_vec()),
        Compression::Lz4 => {
            if body.len() < 4 {
                return Err("lz4 body shorter than its size prefix".into());
            }
            let declared = u32::from_le_bytes(body[..4].try_into().unwrap()) as usize;
            // LZ4 cannot expand more than ~255x.
            if declared > MAX_ENTRY_LEN || declared > (body.len() - 4).saturating_mul(255) + 64 {
                return Err(too_big(declared));
            }
            codec.decompress(body).map_err(|e| e.full_message())
        }
        Compression::Snappy => {
            let declared = snap::raw::decompress_len(body).map_err(|e| format!("snappy: {e}"))?;
            // Snappy cannot expand more than ~22x.
            if declared > MAX_ENTRY_LEN || declared > body.len().saturating_mul(32) + 64 {
                return Err(too_big(declared));
            }
            codec.decompress(body).map_err(|e| e.full_message())
        }
        Compression::Zstd => {
            let decoder = zstd::stream::read::Decoder::with_buffer(body).map_err(|e| format!("zstd: {e}"))?;
            let mut out = Vec::new();
            decoder
                .take(MAX_ENTRY_LEN as u64 + 1)
                .read_to_end(&mut out)
                .map_err(|e| format!("zstd decompress: {e}"))?;
            if out.len() > MAX_ENTRY_LEN {
                return Err(too_big(out.len()));
            }
            Ok(out)
        }
    }
}

/// Reads one segment, cutting it back at the first bad frame. Returns the good length.
fn recover_segment(
    path: &Path,
    min_seq: u64,
    entries: &mut Vec<WalEntry>,
    truncations: &mut Vec<Truncation>,
) -> Result<u64> {
    let ctx = |what: &str| format!("{what} WAL segment {}", path.display());
    let file = OpenOptions::new().read(true).write(true).open(path).code(ErrorCode::WalIo, &ctx("open"))?;
    let len = file.metadata().code(ErrorCode::WalIo, &ctx("stat"))?.len();
    let mut reader = BufReader::with_capacity(256 * 1024, &file);
    let mut pos = 0u64;
    let mut bad: Option<String> = None;
    // Maps a read error to "torn" (file shorter than it claimed) or a real I/O error.
    let read_exact = |r: &mut BufReader<&File>, buf: &mut [u8]| -> Result<bool> {
        match r.read_exact(buf) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(false),
            Err(e) => Err(Error::with_source(ErrorCode::WalIo, ctx("read"), e)),
        }
    };
    while pos < len {
        let remaining = len - pos;
        if remaining < FRAME_HEADER_LEN as u64 {
            bad = Some(format!("torn frame header ({remaining} of {FRAME_HEADER_LEN} bytes)"));
            break;
        }
        let mut header = [0u8; FRAME_HEADER_LEN];
        if !read_exact(&mut reader, &mut header)? {
            bad = Some("segment shrank while being read".into());
            break;
        }
        let frame_len = u32::from_le_bytes(header[..4].try_into().unwrap()) as usize;
        let crc = u32::from_le_bytes(header[4..].try_into().unwrap());
        if !(PAYLOAD_HEADER_LEN..=MAX_FRAME_LEN).contains(&frame_len) {
            bad = Some(format!("absurd frame length {frame_len}"));
            break;
        }
        let available = remaining - FRAME_HEADER_LEN as u64;
        if frame_len as u64 > available {
            bad = Some(format!("frame length {frame_len} runs past the end of the segment ({available} bytes left)"));
            break;
        }
        let mut payload = vec![0u8; frame_len];
        if !read_exact(&mut reader, &mut payload)? {
            bad = Some("segment shrank while being read".into());
            break;
        }
        let actual = crc32fast::hash(&payload);
        if actual != crc {
            bad = Some(format!("checksum mismatch (stored {crc:#010x}, computed {actual:#010x})"));
            break;
        }
        match decode_payload(&payload) {
            Ok(entry) => {
                if entry.first_seq.saturating_add(entry.count as u64) > min_seq {
                    entries.push(entry);
                }
            }
            Err(reason) => {
                bad = Some(format!("undecodable frame: {reason}"));
                break;
            }
        }
        pos += (FRAME_HEADER_LEN + frame_len) as u64;
    }
    drop(reader);
    if let Some(reason) = bad {
        file.set_len(pos).code(ErrorCode::WalIo, &ctx("truncate corrupt tail of"))?;
        file.sync_all().code(ErrorCode::WalIo, &ctx("fsync truncated"))?;
        let t = Truncation { segment: path.to_path_buf(), offset: pos, dropped_bytes: len - pos, reason };
        eprintln!(
            "[WAL_CORRUPT] {}: {}; cut back to byte {} ({} bytes dropped, entries after that point in this segment are lost)",
            t.segment.display(),
            t.reason,
            t.offset,
            t.dropped_bytes
        );
        truncations.push(t);
    }
    Ok(pos)
}

fn lock_error(lock_path: &Path) -> Error {
    let holder = fs::read_to_string(lock_path).ok().map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
    let by = match holder {
        Some(pid) => format!(" (last opened by pid {pid})"),
        None => String::new(),
    };
    Error::new(
        ErrorCode::WalLocked,
        format!(
            "WAL lock {} is held by another open bucket{by}, in this or another process; \
             close that one first (a storage path can be open only once at a time)",
            lock_path.display()
        ),
    )
}

impl Wal {
    /// Creates the directory, locks `<dir>/LOCK`, recovers every segment (cutting torn or
    /// corrupt tails), skips entries with `first_seq + count <= min_seq`, and starts a new
    /// segment for appends. Empty segments left over from earlier runs are removed.
    pub fn open(cfg: WalConfig, min_seq: u64) -> Result<(Wal, Recovery)> {
        let dir = cfg.dir.clone();
        let existed = dir.is_dir();
        fs::create_dir_all(&dir).code(ErrorCode::WalIo, &format!("create WAL directory {}", dir.display()))?;
        if !existed {
            if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
                fsync_dir(parent)?;
            }
        }

        let lock_path = dir.join(LOCK_FILE);
        let lock_file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&lock_path)
            .code(ErrorCode::WalIo, &format!("open WAL lock {}", lock_path.display()))?;
        match fs4::fs_std::FileExt::try_lock_exclusive(&lock_file) {
            Ok(true) => {}
            Ok(false) => return Err(lock_error(&lock_path)),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Err(lock_error(&lock_path)),
            Err(e) => {
                return Err(Error::with_source(
                    ErrorCode::WalIo,
                    format!("lock WAL {}", lock_path.display()),
                    e,
                ))
            }
        }
        // Diagnostics only: which process holds the lock.
        let _ = lock_file.set_len(0).and_then(|_| lock_file.write_all_at(std::process::id().to_string().as_bytes(), 0));

        let mut ids = Vec::new();
        for entry in fs::read_dir(&dir).code(ErrorCode::WalIo, &format!("list WAL directory {}", dir.display()))? {
            let entry = entry.code(ErrorCode::WalIo, &format!("list WAL directory {}", dir.display()))?;
            if let Some(id) = entry.file_name().to_str().and_then(parse_segment_name) {
                ids.push(id);
            }
        }
        ids.sort_unstable();

        let mut recovery = Recovery::default();
        let mut sealed = BTreeMap::new();
        let mut removed_empty = false;
        for &id in &ids {
            let path = dir.join(segment_file_name(id));
            let len = recover_segment(&path, min_seq, &mut recovery.entries, &mut recovery.truncations)?;
            if len == 0 {
                fs::remove_file(&path).code(ErrorCode::WalIo, &format!("remove empty WAL segment {}", path.display()))?;
                removed_empty = true;
            } else {
                sealed.insert(id, len);
            }
        }
        if removed_empty {
            fsync_dir(&dir)?;
        }

        let seg_id = ids.last().map_or(1, |max| max + 1);
        let file = create_segment(&dir, seg_id)?;

        let inner = Arc::new(Inner {
            dir,
            compression: cfg.compression,
            defer_writes: cfg.defer_writes && cfg.sync_interval.is_zero(),
            max_size: cfg.max_size,
            writer: Mutex::new(Writer {
                closed: false,
                broken: None,
                seg_id,
                file: Arc::new(file),
                seg_len: 0,
                lsn: 0,
                pending: Vec::new(),
                sealed,
            }),
            rotate_lock: Mutex::new(()),
            sync: Mutex::new(SyncState { synced: 0, requested: 0, in_flight: false, failure: None }),
            sync_cv: Condvar::new(),
            sync_notify: Notify::new(),
            failed: AtomicBool::new(false),
            fsyncs: AtomicU64::new(0),
            #[cfg(test)]
            inject_short_write: AtomicBool::new(false),
        });
        let background = if cfg.sync_interval.is_zero() {
            None
        } else {
            Some(spawn_background(&inner, cfg.sync_interval)?)
        };
        let wal = Wal { inner, background: Mutex::new(background), lock_file: Mutex::new(Some(lock_file)) };
        Ok((wal, recovery))
    }

    /// Writes one frame into the current segment and returns its LSN (end position in a
    /// global byte counter) for [`Wal::sync`]. The data is in the OS page cache on return.
    /// A failed or short write is cut back so no later frame follows garbage.
    pub fn append(&self, first_seq: u64, count: u32, payload: &[u8]) -> Result<u64> {
        let inner = &*self.inner;
        let frame = encode_frame(inner.compression, first_seq, count, payload)?;
        let mut w = lock(&inner.writer);
        if w.closed {
            return Err(Error::new(ErrorCode::Closed, "WAL is closed"));
        }
        if inner.failed.load(Ordering::Acquire) {
            return Err(inner.failure_error());
        }
        if let Some(why) = &w.broken {
            return Err(Error::new(ErrorCode::WalIo, format!("WAL segment is unusable: {why}; reopen the bucket")));
        }
        if inner.defer_writes {
            w.pending.extend_from_slice(&frame);
            w.seg_len += frame.len() as u64;
            w.lsn += frame.len() as u64;
            return Ok(w.lsn);
        }
        let offset = w.seg_len;
        match inner.write_frame(&w.file, &frame, offset) {
            Ok(()) => {
                w.seg_len += frame.len() as u64;
                w.lsn += frame.len() as u64;
                Ok(w.lsn)
            }
            Err(e) => {
                let seg = inner.dir.join(segment_file_name(w.seg_id));
                if let Err(e2) = w.file.set_len(offset) {
                    w.broken = Some(format!(
                        "could not cut {} back to {offset} bytes after a failed write: {e2}",
                        seg.display()
                    ));
                }
                Err(Error::with_source(
                    ErrorCode::WalIo,
                    format!("write {} bytes to WAL segment {}", frame.len(), seg.display()),
                    e,
                ))
            }
        }
    }

    /// Group commit: resolves once everything up to `lsn` is `fdatasync`ed. The first caller
    /// with nothing in flight starts an fsync on the blocking pool; callers arriving while one
    /// runs are covered by the next round, which the finishing round starts immediately.
    pub async fn sync(&self, lsn: u64) -> Result<()> {
        let inner = &self.inner;
        let lsn = lsn.min(lock(&inner.writer).lsn);
        loop {
            // Created before checking the state, so a completion after the check still wakes us.
            let notified = inner.sync_notify.notified();
            {
                let mut st = lock(&inner.sync);
                if st.synced >= lsn {
                    return Ok(());
                }
                if st.failure.is_some() {
                    drop(st);
                    return Err(inner.failure_error());
                }
                st.requested = st.requested.max(lsn);
                if !st.in_flight {
                    st.in_flight = true;
                    drop(st);
                    spawn_leader(inner.clone());
                }
            }
            notified.await;
        }
    }

    /// The LSN up to which everything is `fdatasync`ed. A sync for one LSN usually covers
    /// later appends too; callers batching acknowledgements resolve all of those at once.
    pub fn synced_lsn(&self) -> u64 {
        lock(&self.inner.sync).synced
    }

    /// Blocks until everything up to `lsn` is `fdatasync`ed (same group commit as `sync`).
    /// For callers already on a thread that may block: no runtime hop before the fsync.
    pub fn sync_blocking_to(&self, lsn: u64) -> Result<()> {
        let lsn = lsn.min(lock(&self.inner.writer).lsn);
        self.inner.sync_blocking_to(lsn)
    }

    /// Blocks until everything appended so far is `fdatasync`ed (same group commit as `sync`).
    pub fn sync_blocking(&self) -> Result<()> {
        self.sync_blocking_to(u64::MAX)
    }

    /// Seals the current segment (fsyncs it) and starts a new one (created, fsynced and its
    /// directory entry fsynced before use). Returns the new segment's id.
    pub fn rotate(&self) -> Result<u64> {
        let inner = &*self.inner;
        let _serial = lock(&inner.rotate_lock);
        let next = {
            let w = lock(&inner.writer);
            if w.closed {
                return Err(Error::new(ErrorCode::Closed, "WAL is closed"));
            }
            w.seg_id + 1
        };
        let file = create_segment(&inner.dir, next)?;
        let mut w = lock(&inner.writer);
        if w.closed {
            return Err(Error::new(ErrorCode::Closed, "WAL is closed"));
        }
        if let Err(e) = inner.write_pending(&mut w) {
            drop(w);
            inner.record_failure(e);
            return Err(inner.failure_error());
        }
        inner.fsyncs.fetch_add(1, Ordering::Relaxed);
        if let Err(e) = w.file.sync_data() {
            let path = inner.dir.join(segment_file_name(w.seg_id));
            let msg = format!("fdatasync {}: {e}", path.display());
            drop(w);
            inner.record_failure(msg);
            return Err(inner.failure_error());
        }
        let (old_id, old_len) = (w.seg_id, w.seg_len);
        w.sealed.insert(old_id, old_len);
        w.seg_id = next;
        w.file = Arc::new(file);
        w.seg_len = 0;
        let lsn = w.lsn;
        {
            let mut st = lock(&inner.sync);
            st.synced = st.synced.max(lsn);
        }
        drop(w);
        inner.wake_all();
        Ok(next)
    }

    /// Deletes every sealed segment with id < `segment_id` (never the current one) and fsyncs
    /// the directory. Call once those entries are durably in Lance.
    pub fn remove_segments_before(&self, segment_id: u64) -> Result<()> {
        let inner = &*self.inner;
        let doomed: Vec<(u64, u64)> = {
            let mut w = lock(&inner.writer);
            let limit = segment_id.min(w.seg_id);
            let keep = w.sealed.split_off(&limit);
            std::mem::replace(&mut w.sealed, keep).into_iter().collect()
        };
        if doomed.is_empty() {
            return Ok(());
        }
        let mut first_err = None;
        for &(id, len) in &doomed {
            let path = inner.dir.join(segment_file_name(id));
            match fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => {
                    lock(&inner.writer).sealed.insert(id, len);
                    first_err.get_or_insert(Error::with_source(
                        ErrorCode::WalIo,
                        format!("remove WAL segment {}", path.display()),
                        e,
                    ));
                }
            }
        }
        fsync_dir(&inner.dir)?;
        match first_err {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Id of the segment appends currently go to.
    pub fn current_segment_id(&self) -> u64 {
        lock(&self.inner.writer).seg_id
    }

    pub fn current_segment_size(&self) -> u64 {
        lock(&self.inner.writer).seg_len
    }

    /// True when `max_size > 0` and the current segment has reached it.
    pub fn should_rotate(&self) -> bool {
        self.inner.max_size > 0 && self.current_segment_size() >= self.inner.max_size
    }

    /// Bytes in all live segments (sealed + current).
    pub fn total_size(&self) -> u64 {
        let w = lock(&self.inner.writer);
        w.sealed.values().sum::<u64>() + w.seg_len
    }

    /// Number of `fdatasync` calls issued on segment data (group commit, background, rotate).
    pub fn fsync_count(&self) -> u64 {
        self.inner.fsyncs.load(Ordering::Relaxed)
    }

    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// Stops the background thread, syncs everything, refuses further appends and releases
    /// the directory lock. Idempotent; also run on drop.
    pub fn close(&self) -> Result<()> {
        if let Some(bg) = lock(&self.background).take() {
            drop(bg.stop);
            let _ = bg.handle.join();
        }
        let target = {
            let mut w = lock(&self.inner.writer);
            if w.closed {
                None
            } else {
                w.closed = true;
                Some(w.lsn)
            }
        };
        let res = match target {
            Some(t) => self.inner.sync_blocking_to(t),
            None => Ok(()),
        };
        if let Some(f) = lock(&self.lock_file).take() {
            let _ = fs4::fs_std::FileExt::unlock(&f);
        }
        res
    }
}

impl Drop for Wal {
    fn drop(&mut self) {
        if let Err(e) = self.close() {
            eprintln!("[{}] closing WAL {}: {}", e.code.as_str(), self.inner.dir.display(), e.full_message());
        }
    }
}

impl Inner {
    /// Writes deferred frames at the end of the current segment. On failure the segment is cut
    /// back to its written part; the caller records the failure (nothing in `pending` was
    /// acknowledged, and no later frame may follow a gap).
    fn write_pending(&self, w: &mut Writer) -> std::result::Result<(), String> {
        if w.pending.is_empty() {
            return Ok(());
        }
        let offset = w.seg_len - w.pending.len() as u64;
        let res = self.write_frame(&w.file, &w.pending, offset);
        w.pending.clear();
        if w.pending.capacity() > 16 << 20 {
            w.pending = Vec::new();
        }
        res.map_err(|e| {
            let seg = self.dir.join(segment_file_name(w.seg_id));
            let _ = w.file.set_len(offset);
            w.seg_len = offset;
            w.broken = Some(format!("a deferred write to {} failed: {e}", seg.display()));
            format!("write {}: {e}", seg.display())
        })
    }

    fn write_frame(&self, file: &File, frame: &[u8], offset: u64) -> io::Result<()> {
        #[cfg(test)]
        {
            if self.inject_short_write.swap(false, Ordering::SeqCst) {
                file.write_all_at(&frame[..frame.len() / 2], offset)?;
                return Err(io::Error::other("injected short write"));
            }
        }
        file.write_all_at(frame, offset)
    }

    fn failure_error(&self) -> Error {
        let why = lock(&self.sync).failure.clone().unwrap_or_default();
        Error::new(
            ErrorCode::WalIo,
            format!(
                "WAL fsync failed ({why}); records acknowledged since the last successful sync may not be \
                 durable and the WAL refuses further writes; reopen the bucket"
            ),
        )
    }

    fn record_failure(&self, msg: String) {
        let mut st = lock(&self.sync);
        if st.failure.is_none() {
            eprintln!("[WAL_IO] {}: {msg}", self.dir.display());
            st.failure = Some(msg);
        }
        self.failed.store(true, Ordering::Release);
        drop(st);
        self.wake_all();
    }

    fn wake_all(&self) {
        self.sync_cv.notify_all();
        self.sync_notify.notify_waiters();
    }

    /// Runs fsync rounds until no waiter asks for more. The caller must have set `in_flight`.
    fn run_sync_rounds(&self) {
        loop {
            let (file, seg_id, target, written) = {
                let mut w = lock(&self.writer);
                // Under the writer lock, so a rotate never seals a segment missing these bytes.
                let written = self.write_pending(&mut w);
                (w.file.clone(), w.seg_id, w.lsn, written)
            };
            let needed = target > lock(&self.sync).synced;
            let res = match written {
                Err(msg) => Err(io::Error::other(msg)),
                Ok(()) if needed => {
                    self.fsyncs.fetch_add(1, Ordering::Relaxed);
                    file.sync_data()
                }
                Ok(()) => Ok(()),
            };
            drop(file);
            let mut st = lock(&self.sync);
            match res {
                Ok(()) => st.synced = st.synced.max(target),
                Err(e) => {
                    let msg = format!("fdatasync {}: {e}", self.dir.join(segment_file_name(seg_id)).display());
                    if st.failure.is_none() {
                        eprintln!("[WAL_IO] {}: {msg}", self.dir.display());
                        st.failure = Some(msg);
                    }
                    self.failed.store(true, Ordering::Release);
                }
            }
            let again = st.failure.is_none() && st.requested > st.synced;
            if !again {
                st.in_flight = false;
            }
            drop(st);
            self.wake_all();
            if !again {
                return;
            }
        }
    }

    fn sync_blocking_to(&self, target: u64) -> Result<()> {
        let mut st = lock(&self.sync);
        loop {
            if st.synced >= target {
                return Ok(());
            }
            if st.failure.is_some() {
                drop(st);
                return Err(self.failure_error());
            }
            st.requested = st.requested.max(target);
            if !st.in_flight {
                st.in_flight = true;
                drop(st);
                self.run_sync_rounds();
                st = lock(&self.sync);
            } else {
                st = self.sync_cv.wait(st).unwrap_or_else(|p| p.into_inner());
            }
        }
    }

    /// One tick of the interval syncer: fsync if something was written and nobody else is.
    fn background_sync(&self) {
        let target = lock(&self.writer).lsn;
        {
            let mut st = lock(&self.sync);
            if st.synced >= target || st.in_flight || st.failure.is_some() {
                return;
            }
            st.in_flight = true;
            st.requested = st.requested.max(target);
        }
        self.run_sync_rounds();
    }
}

/// Owns a leader's right to run fsync rounds. If the job is dropped without running
/// (runtime shutting down, thread spawn failure) the rounds run wherever it is dropped,
/// so `in_flight` can never stay set with nobody working on it.
struct Leader(Option<Arc<Inner>>);

impl Leader {
    fn run(mut self) {
        if let Some(inner) = self.0.take() {
            inner.run_sync_rounds();
        }
    }
}

impl Drop for Leader {
    fn drop(&mut self) {
        if let Some(inner) = self.0.take() {
            inner.run_sync_rounds();
        }
    }
}

fn spawn_leader(inner: Arc<Inner>) {
    let leader = Leader(Some(inner));
    match tokio::runtime::Handle::try_current() {
        Ok(handle) => {
            drop(handle.spawn_blocking(move || leader.run()));
        }
        Err(_) => {
            let _ = thread::Builder::new().name("persisting-wal-fsync".into()).spawn(move || leader.run());
        }
    }
}

fn spawn_background(inner: &Arc<Inner>, interval: Duration) -> Result<Background> {
    let weak = Arc::downgrade(inner);
    let (stop, rx) = mpsc::channel::<()>();
    let handle = thread::Builder::new()
        .name("persisting-wal-sync".into())
        .spawn(move || loop {
            match rx.recv_timeout(interval) {
                Err(RecvTimeoutError::Timeout) => {}
                _ => return,
            }
            let Some(inner) = weak.upgrade() else { return };
            inner.background_sync();
        })
        .code(ErrorCode::WalIo, "spawn WAL sync thread")?;
    Ok(Background { stop, handle })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn cfg(dir: &Path) -> WalConfig {
        WalConfig {
            dir: dir.to_path_buf(),
            sync_interval: Duration::ZERO,
            max_size: 64 * 1024 * 1024,
            compression: Compression::None,
            defer_writes: false,
        }
    }

    fn payload_for(seq: u64) -> Vec<u8> {
        // Varying sizes, including empty, and compressible content.
        let n = (seq * 37 % 300) as usize;
        let mut p = format!("{{\"seq\":{seq},\"text\":\"").into_bytes();
        p.extend(std::iter::repeat_n(b'a' + (seq % 26) as u8, n));
        p.extend_from_slice(b"\"}\n");
        if seq % 50 == 7 {
            p.clear();
        }
        p
    }

    fn entry(seq: u64) -> WalEntry {
        WalEntry { first_seq: seq, count: 1, payload: payload_for(seq) }
    }

    fn segment_ids(dir: &Path) -> BTreeSet<u64> {
        fs::read_dir(dir)
            .unwrap()
            .filter_map(|e| e.unwrap().file_name().to_str().and_then(parse_segment_name))
            .collect()
    }

    fn dir_segment_bytes(dir: &Path) -> u64 {
        segment_ids(dir).iter().map(|id| fs::metadata(dir.join(segment_file_name(*id))).unwrap().len()).sum()
    }

    #[test]
    fn segment_names_round_trip() {
        assert_eq!(segment_file_name(42), "wal-00000000000000000042.log");
        assert_eq!(parse_segment_name("wal-00000000000000000042.log"), Some(42));
        assert_eq!(parse_segment_name("wal-42.log"), None);
        assert_eq!(parse_segment_name("wal-0000000000000000004x.log"), None);
        assert_eq!(parse_segment_name("LOCK"), None);
    }

    #[test]
    fn round_trip_across_rotations_and_reopen() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("wal");
        let (wal, rec) = Wal::open(cfg(&dir), 0).unwrap();
        assert!(rec.entries.is_empty() && rec.truncations.is_empty());
        assert_eq!(wal.current_segment_id(), 1);
        let mut last_lsn = 0;
        for seq in 0..1000u64 {
            let lsn = wal.append(seq, 1, &payload_for(seq)).unwrap();
            assert!(lsn > last_lsn, "LSNs must grow across rotations");
            last_lsn = lsn;
            if seq % 100 == 99 {
                let before = wal.current_segment_id();
                assert_eq!(wal.rotate().unwrap(), before + 1);
                assert_eq!(wal.current_segment_size(), 0);
            }
        }
        assert_eq!(wal.total_size(), last_lsn, "one session: total size equals bytes appended");
        assert_eq!(wal.total_size(), dir_segment_bytes(&dir));
        wal.close().unwrap();
        assert!(wal.append(1000, 1, b"x").is_err_and(|e| e.code == ErrorCode::Closed));
        drop(wal);

        let (wal, rec) = Wal::open(cfg(&dir), 0).unwrap();
        assert!(rec.truncations.is_empty(), "{:?}", rec.truncations);
        assert_eq!(rec.entries, (0..1000).map(entry).collect::<Vec<_>>());
        // Segment 11 was the empty current one: removed, new segment is 12.
        assert_eq!(wal.current_segment_id(), 12);
        assert_eq!(segment_ids(&dir), (1..=10).chain([12]).collect());
        assert_eq!(wal.total_size(), dir_segment_bytes(&dir));
        wal.append(1000, 3, b"more").unwrap();
        drop(wal);
        let (_wal, rec) = Wal::open(cfg(&dir), 0).unwrap();
        assert_eq!(rec.entries.len(), 1001);
        assert_eq!(rec.entries[1000], WalEntry { first_seq: 1000, count: 3, payload: b"more".to_vec() });
    }

    #[test]
    fn min_seq_skips_entries_already_in_lance() {
        let tmp = tempfile::tempdir().unwrap();
        let (wal, _) = Wal::open(cfg(tmp.path()), 0).unwrap();
        // Batches: [0,5) [5,10) [10,15) [15,20)
        for b in 0..4u64 {
            wal.append(b * 5, 5, format!("batch{b}").as_bytes()).unwrap();
        }
        drop(wal);
        for (min_seq, expect_first) in [(0u64, vec![0u64, 5, 10, 15]), (5, vec![5, 10, 15]), (7, vec![5, 10, 15]), (10, vec![10, 15]), (20, vec![]), (99, vec![])] {
            let (wal, rec) = Wal::open(cfg(tmp.path()), min_seq).unwrap();
            let firsts: Vec<u64> = rec.entries.iter().map(|e| e.first_seq).collect();
            assert_eq!(firsts, expect_first, "min_seq {min_seq}");
            for e in &rec.entries {
                assert_eq!(e.payload, format!("batch{}", e.first_seq / 5).into_bytes());
            }
            drop(wal);
        }
    }

    /// Writes `n` entries into one segment and returns (segment bytes, start offset of each frame).
    fn one_segment(compression: Compression, n: u64) -> (Vec<u8>, Vec<usize>) {
        let tmp = tempfile::tempdir().unwrap();
        let (wal, _) = Wal::open(WalConfig { compression, ..cfg(tmp.path()) }, 0).unwrap();
        let mut starts = vec![0usize];
        for seq in 0..n {
            let data = format!("entry {seq}: {}", "payload ".repeat(5));
            starts.push(wal.append(seq, 1, data.as_bytes()).unwrap() as usize);
        }
        starts.pop();
        drop(wal);
        (fs::read(tmp.path().join(segment_file_name(1))).unwrap(), starts)
    }

    fn entries_of(n: u64) -> Vec<WalEntry> {
        (0..n)
            .map(|seq| WalEntry {
                first_seq: seq,
                count: 1,
                payload: format!("entry {seq}: {}", "payload ".repeat(5)).into_bytes(),
            })
            .collect()
    }

    /// Recovers `bytes` as segment 1 of a fresh dir; checks the good prefix survives, the cut is
    /// reported at `last_start`, and an append after it is read back right after the prefix.
    fn check_damaged(bytes: &[u8], compression: Compression, last_start: usize, good: &[WalEntry], case: &str) {
        let tmp = tempfile::tempdir().unwrap();
        let seg = tmp.path().join(segment_file_name(1));
        fs::write(&seg, bytes).unwrap();
        let c = WalConfig { compression, ..cfg(tmp.path()) };
        let (wal, rec) = Wal::open(c.clone(), 0).unwrap_or_else(|e| panic!("{case}: open failed: {e}"));
        assert_eq!(rec.entries, good, "{case}");
        assert_eq!(rec.truncations.len(), 1, "{case}: {:?}", rec.truncations);
        let t = &rec.truncations[0];
        assert_eq!(t.segment, seg, "{case}");
        assert_eq!(t.offset, last_start as u64, "{case}");
        assert_eq!(t.dropped_bytes, (bytes.len() - last_start) as u64, "{case}");
        assert_eq!(fs::metadata(&seg).unwrap().len(), last_start as u64, "{case}: not cut on disk");
        let next = good.len() as u64;
        wal.append(next, 1, b"after the cut").unwrap();
        drop(wal);
        let (_wal, rec) = Wal::open(c, 0).unwrap();
        assert!(rec.truncations.is_empty(), "{case}: {:?}", rec.truncations);
        let mut expect = good.to_vec();
        expect.push(WalEntry { first_seq: next, count: 1, payload: b"after the cut".to_vec() });
        assert_eq!(rec.entries, expect, "{case}");
    }

    #[test]
    fn torn_last_frame_at_every_offset() {
        for compression in [Compression::None, Compression::Zstd] {
            let (bytes, starts) = one_segment(compression, 5);
            let last = *starts.last().unwrap();
            let good = entries_of(4);
            for cut in last + 1..bytes.len() {
                check_damaged(&bytes[..cut], compression, last, &good, &format!("{compression:?} cut at {cut}"));
            }
            // A cut exactly at a frame boundary is a clean end, not corruption.
            let tmp = tempfile::tempdir().unwrap();
            fs::write(tmp.path().join(segment_file_name(1)), &bytes[..last]).unwrap();
            let (_wal, rec) = Wal::open(cfg(tmp.path()), 0).unwrap();
            assert!(rec.truncations.is_empty());
            assert_eq!(rec.entries, good);
        }
    }

    #[test]
    fn every_bit_flip_in_last_frame_is_cut() {
        let compression = Compression::None;
        let (bytes, starts) = one_segment(compression, 5);
        let last = *starts.last().unwrap();
        let good = entries_of(4);
        let bits = (bytes.len() - last) * 8;
        let step = bits.div_ceil(2000).max(1);
        let mut tested = 0;
        for bit in (0..bits).step_by(step) {
            let mut damaged = bytes.clone();
            damaged[last + bit / 8] ^= 1 << (bit % 8);
            check_damaged(&damaged, compression, last, &good, &format!("flip bit {bit}"));
            tested += 1;
        }
        assert!(tested >= 400, "only {tested} flips tested");
    }

    #[test]
    fn undecodable_payload_with_valid_crc_is_cut() {
        let (bytes, starts) = one_segment(Compression::None, 3);
        let good = entries_of(2);
        let last = starts[2];
        let forge = |mutate: &dyn Fn(&mut Vec<u8>)| {
            let mut payload = bytes[last + FRAME_HEADER_LEN..].to_vec();
            mutate(&mut payload);
            let mut out = bytes[..last].to_vec();
            out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
            out.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
            out.extend_from_slice(&payload);
            out
        };
        let cases: Vec<(&str, Vec<u8>)> = vec![
            ("bad version", forge(&|p| p[0] = 2)),
            ("unknown codec", forge(&|p| p[1] = 9)),
            ("garbage zstd", forge(&|p| p[1] = Compression::Zstd.tag())),
            ("garbage snappy", forge(&|p| p[1] = Compression::Snappy.tag())),
            ("lz4 absurd size", forge(&|p| {
                p[1] = Compression::Lz4.tag();
                p[14..18].copy_from_slice(&u32::MAX.to_le_bytes());
            })),
            ("short payload", forge(&|p| p.truncate(10))),
        ];
        for (name, damaged) in cases {
            check_damaged(&damaged, Compression::None, last, &good, name);
        }
        // Absurd length field.
        let mut damaged = bytes.clone();
        damaged[last..last + 4].copy_from_slice(&u32::MAX.to_le_bytes());
        check_damaged(&damaged, Compression::None, last, &good, "absurd length");
        // Trailing zeros (e.g. a filesystem that extended the file but lost the data).
        let mut damaged = bytes[..starts[2]].to_vec();
        damaged.extend_from_slice(&[0u8; 4096]);
        check_damaged(&damaged, Compression::None, last, &good, "zero fill");
    }

    #[test]
    fn corrupt_middle_segment_keeps_later_segments() {
        let tmp = tempfile::tempdir().unwrap();
        let (wal, _) = Wal::open(cfg(tmp.path()), 0).unwrap();
        let mut frame_starts = Vec::new();
        for seq in 0..30u64 {
            if seq == 10 || seq == 20 {
                wal.rotate().unwrap();
            }
            frame_starts.push(wal.current_segment_size());
            wal.append(seq, 1, &payload_for(seq)).unwrap();
        }
        drop(wal);
        // Segment 2 holds 10..20; damage entry 14's payload.
        let seg2 = tmp.path().join(segment_file_name(2));
        let mut bytes = fs::read(&seg2).unwrap();
        let at = frame_starts[14] as usize + FRAME_HEADER_LEN + 3;
        bytes[at] ^= 0x40;
        fs::write(&seg2, &bytes).unwrap();

        let (_wal, rec) = Wal::open(cfg(tmp.path()), 0).unwrap();
        let expect: Vec<WalEntry> = (0..14).chain(20..30).map(entry).collect();
        assert_eq!(rec.entries, expect);
        assert_eq!(rec.truncations.len(), 1);
        assert_eq!(rec.truncations[0].segment, seg2);
        assert_eq!(rec.truncations[0].offset, frame_starts[14]);
        assert!(rec.truncations[0].reason.contains("checksum"), "{}", rec.truncations[0].reason);
    }

    #[test]
    fn second_open_is_locked_until_first_is_dropped() {
        let tmp = tempfile::tempdir().unwrap();
        let (first, _) = Wal::open(cfg(tmp.path()), 0).unwrap();
        first.append(0, 1, b"kept").unwrap();
        let err = Wal::open(cfg(tmp.path()), 0).err().expect("second open must fail");
        assert_eq!(err.code, ErrorCode::WalLocked);
        let lock_path = tmp.path().join("LOCK");
        assert!(err.message.contains(&lock_path.display().to_string()), "{}", err.message);
        // The failed open must not have created a segment.
        assert_eq!(segment_ids(tmp.path()), BTreeSet::from([1]));
        drop(first);
        let (second, rec) = Wal::open(cfg(tmp.path()), 0).unwrap();
        assert_eq!(rec.entries.len(), 1);
        // close() also releases it.
        second.close().unwrap();
        let (_third, rec) = Wal::open(cfg(tmp.path()), 0).unwrap();
        assert_eq!(rec.entries.len(), 1);
    }

    #[test]
    fn lock_excludes_another_process() {
        // flock(1) from util-linux, if present, stands in for another process.
        let tmp = tempfile::tempdir().unwrap();
        let (wal, _) = Wal::open(cfg(tmp.path()), 0).unwrap();
        let lock_path = tmp.path().join("LOCK");
        let status = std::process::Command::new("flock").arg("-n").arg(&lock_path).arg("true").status();
        let Ok(status) = status else {
            eprintln!("flock(1) not available; skipping");
            return;
        };
        assert!(!status.success(), "another process could take the WAL lock");
        drop(wal);
        let status = std::process::Command::new("flock").arg("-n").arg(&lock_path).arg("true").status().unwrap();
        assert!(status.success(), "lock not released after drop");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn group_commit_shares_fsyncs() {
        let tmp = tempfile::tempdir().unwrap();
        let (wal, _) = Wal::open(cfg(tmp.path()), 0).unwrap();
        let wal = Arc::new(wal);
        const TASKS: u64 = 64;
        const PER_TASK: u64 = 50;
        let mut handles = Vec::new();
        for t in 0..TASKS {
            let wal = wal.clone();
            handles.push(tokio::spawn(async move {
                for i in 0..PER_TASK {
                    let seq = t * 1000 + i;
                    let lsn = wal.append(seq, 1, &payload_for(seq)).unwrap();
                    wal.sync(lsn).await.unwrap();
                    // Acknowledged: must already be covered by a completed fsync.
                    assert!(lock(&wal.inner.sync).synced >= lsn);
                }
            }));
        }
        for h in handles {
            h.await.unwrap();
        }
        let appends = TASKS * PER_TASK;
        let fsyncs = wal.fsync_count();
        eprintln!("group commit: {appends} appends, {fsyncs} fsyncs");
        assert!(fsyncs >= 1);
        assert!(fsyncs < appends / 2, "{fsyncs} fsyncs for {appends} appends");
        let wal = Arc::into_inner(wal).expect("no other references");
        drop(wal);
        let (_wal, rec) = Wal::open(cfg(tmp.path()), 0).unwrap();
        let mut got: Vec<u64> = rec.entries.iter().map(|e| e.first_seq).collect();
        assert_eq!(got.len() as u64, appends);
        for e in &rec.entries {
            assert_eq!(e.payload, payload_for(e.first_seq));
        }
        got.sort_unstable();
        let want: Vec<u64> = (0..TASKS).flat_map(|t| (0..PER_TASK).map(move |i| t * 1000 + i)).collect();
        assert_eq!(got, want);
    }

    #[tokio::test]
    async fn sync_is_immediate_when_already_durable_and_counts_fsyncs() {
        let tmp = tempfile::tempdir().unwrap();
        let (wal, _) = Wal::open(cfg(tmp.path()), 0).unwrap();
        wal.sync(0).await.unwrap();
        assert_eq!(wal.fsync_count(), 0);
        let lsn = wal.append(0, 1, b"a").unwrap();
        wal.sync(lsn).await.unwrap();
        assert_eq!(wal.fsync_count(), 1);
        wal.sync(lsn).await.unwrap();
        wal.sync_blocking().unwrap();
        assert_eq!(wal.fsync_count(), 1, "nothing new to sync");
        // An LSN beyond what was written is clamped rather than waited on forever.
        wal.sync(lsn + 1_000_000).await.unwrap();
        wal.append(1, 1, b"b").unwrap();
        wal.sync_blocking().unwrap();
        assert_eq!(wal.fsync_count(), 2);
    }

    #[test]
    fn background_thread_syncs_on_interval_and_stops_on_drop() {
        let tmp = tempfile::tempdir().unwrap();
        let c = WalConfig { sync_interval: Duration::from_millis(20), ..cfg(tmp.path()) };
        let (wal, _) = Wal::open(c.clone(), 0).unwrap();
        let weak = Arc::downgrade(&wal.inner);
        thread::sleep(Duration::from_millis(100));
        assert_eq!(wal.fsync_count(), 0, "nothing written, nothing to sync");
        let lsn = wal.append(0, 1, b"x").unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while lock(&wal.inner.sync).synced < lsn {
            assert!(std::time::Instant::now() < deadline, "background sync never happened");
            thread::sleep(Duration::from_millis(5));
        }
        assert!(wal.fsync_count() >= 1);
        drop(wal);
        assert!(weak.upgrade().is_none(), "background thread kept the WAL alive");
        let (_wal, rec) = Wal::open(c, 0).unwrap();
        assert_eq!(rec.entries.len(), 1);
    }

    #[test]
    fn each_compression_round_trips_and_mixes() {
        let all = [Compression::None, Compression::Zstd, Compression::Lz4, Compression::Snappy];
        let big = |seq: u64| format!("{{\"seq\":{seq},\"text\":\"{}\"}}\n", "compressible ".repeat(40)).repeat(10).into_bytes();
        let mut sizes = Vec::new();
        for c in all {
            let tmp = tempfile::tempdir().unwrap();
            let (wal, _) = Wal::open(WalConfig { compression: c, ..cfg(tmp.path()) }, 0).unwrap();
            for seq in 0..20 {
                wal.append(seq, 1, &big(seq)).unwrap();
            }
            wal.append(20, 1, b"").unwrap();
            sizes.push(wal.total_size());
            drop(wal);
            // Read back under a different setting: the codec is per frame.
            let (_wal, rec) = Wal::open(cfg(tmp.path()), 0).unwrap();
            assert!(rec.truncations.is_empty(), "{c:?}");
            assert_eq!(rec.entries.len(), 21, "{c:?}");
            for (seq, e) in rec.entries.iter().take(20).enumerate() {
                assert_eq!(e.payload, big(seq as u64), "{c:?}");
            }
            assert!(rec.entries[20].payload.is_empty());
        }
        for (c, s) in all.iter().zip(&sizes).skip(1) {
            assert!(*s < sizes[0] / 4, "{c:?} did not compress: {s} vs {}", sizes[0]);
        }
        // One WAL written under every setting in turn.
        let tmp = tempfile::tempdir().unwrap();
        for (i, c) in all.iter().enumerate() {
            let (wal, rec) = Wal::open(WalConfig { compression: *c, ..cfg(tmp.path()) }, 0).unwrap();
            assert_eq!(rec.entries.len(), i);
            wal.append(i as u64, 1, &big(i as u64)).unwrap();
        }
        let (_wal, rec) = Wal::open(cfg(tmp.path()), 0).unwrap();
        assert_eq!(rec.entries.iter().map(|e| e.payload.clone()).collect::<Vec<_>>(), (0..4).map(big).collect::<Vec<_>>());
    }

    #[test]
    fn remove_segments_before_deletes_exactly_the_old_files() {
        let tmp = tempfile::tempdir().unwrap();
        let (wal, _) = Wal::open(cfg(tmp.path()), 0).unwrap();
        for seq in 0..5u64 {
            wal.append(seq, 1, &payload_for(seq + 1)).unwrap();
            wal.rotate().unwrap();
        }
        wal.append(5, 1, b"current").unwrap();
        assert_eq!(segment_ids(tmp.path()), (1..=6).collect());
        wal.remove_segments_before(3).unwrap();
        assert_eq!(segment_ids(tmp.path()), (3..=6).collect());
        assert_eq!(wal.total_size(), dir_segment_bytes(tmp.path()));
        assert!(tmp.path().join("LOCK").exists());
        // Never the current segment, whatever id is passed.
        wal.remove_segments_before(u64::MAX).unwrap();
        assert_eq!(segment_ids(tmp.path()), BTreeSet::from([6]));
        assert_eq!(wal.total_size(), wal.current_segment_size());
        wal.remove_segments_before(2).unwrap();
        drop(wal);
        let (_wal, rec) = Wal::open(cfg(tmp.path()), 0).unwrap();
        assert_eq!(rec.entries, vec![WalEntry { first_seq: 5, count: 1, payload: b"current".to_vec() }]);
    }

    #[test]
    fn failed_write_is_cut_back() {
        let tmp = tempfile::tempdir().unwrap();
        let (wal, _) = Wal::open(cfg(tmp.path()), 0).unwrap();
        let lsn0 = wal.append(0, 1, b"zero").unwrap();
        wal.inner.inject_short_write.store(true, Ordering::SeqCst);
        let err = wal.append(1, 1, b"one that fails halfway through").unwrap_err();
        assert_eq!(err.code, ErrorCode::WalIo);
        assert_eq!(wal.current_segment_size(), lsn0);
        assert_eq!(fs::metadata(tmp.path().join(segment_file_name(1))).unwrap().len(), lsn0);
        let lsn2 = wal.append(2, 1, b"two").unwrap();
        assert!(lsn2 > lsn0);
        drop(wal);
        let (_wal, rec) = Wal::open(cfg(tmp.path()), 0).unwrap();
        assert!(rec.truncations.is_empty());
        assert_eq!(rec.entries.iter().map(|e| e.first_seq).collect::<Vec<_>>(), vec![0, 2]);
    }

    #[test]
    fn should_rotate_follows_max_size() {
        let tmp = tempfile::tempdir().unwrap();
        let (wal, _) = Wal::open(WalConfig { max_size: 100, ..cfg(tmp.path()) }, 0).unwrap();
        assert!(!wal.should_rotate());
        wal.append(0, 1, &[7u8; 120]).unwrap();
        assert!(wal.should_rotate());
        wal.rotate().unwrap();
        assert!(!wal.should_rotate());
    }

    #[test]
    fn wal_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<Wal>();
    }

    #[test]
    fn deferred_frames_reach_the_file_with_the_sync_rotate_or_close() {
        let tmp = tempfile::tempdir().unwrap();
        let c = WalConfig { defer_writes: true, ..cfg(tmp.path()) };
        let seg1 = tmp.path().join(segment_file_name(1));
        let (wal, _) = Wal::open(c.clone(), 0).unwrap();
        let lsn = wal.append(0, 1, &payload_for(0)).unwrap();
        wal.append(1, 1, &payload_for(1)).unwrap();
        assert_eq!(fs::metadata(&seg1).unwrap().len(), 0, "nothing written before a sync");
        assert_eq!(wal.current_segment_size(), wal.total_size());
        wal.sync_blocking_to(lsn).unwrap();
        let after_sync = fs::metadata(&seg1).unwrap().len();
        assert_eq!(after_sync, wal.current_segment_size(), "a sync writes every pending frame");
        assert!(wal.synced_lsn() >= lsn);
        wal.append(2, 1, &payload_for(2)).unwrap();
        let next = wal.rotate().unwrap();
        assert!(fs::metadata(&seg1).unwrap().len() > after_sync, "rotate seals with the pending frame");
        wal.append(3, 1, &payload_for(3)).unwrap();
        drop(wal); // close writes and syncs the last one
        let (_wal, rec) = Wal::open(c, 0).unwrap();
        assert!(rec.truncations.is_empty());
        assert_eq!(rec.entries.iter().map(|e| e.first_seq).collect::<Vec<_>>(), vec![0, 1, 2, 3]);
        assert_eq!(rec.entries[3].payload, payload_for(3));
        assert!(tmp.path().join(segment_file_name(next)).exists());
    }

    #[test]
    fn a_failed_deferred_write_fails_the_sync_and_later_appends() {
        let tmp = tempfile::tempdir().unwrap();
        let c = WalConfig { defer_writes: true, ..cfg(tmp.path()) };
        let (wal, _) = Wal::open(c.clone(), 0).unwrap();
        let lsn0 = wal.append(0, 1, b"kept").unwrap();
        wal.sync_blocking_to(lsn0).unwrap();
        let lsn1 = wal.append(1, 1, b"lost before any acknowledgement").unwrap();
        wal.inner.inject_short_write.store(true, Ordering::SeqCst);
        assert_eq!(wal.sync_blocking_to(lsn1).unwrap_err().code, ErrorCode::WalIo);
        assert_eq!(wal.append(2, 1, b"refused").unwrap_err().code, ErrorCode::WalIo);
        drop(wal);
        let (_wal, rec) = Wal::open(c, 0).unwrap();
        assert_eq!(rec.entries.iter().map(|e| e.first_seq).collect::<Vec<_>>(), vec![0]);
    }
}
