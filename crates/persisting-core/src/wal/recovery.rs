//! Opening a WAL directory: lock, replay every segment, cut damaged tails.

use std::collections::BTreeMap;
use std::io::{self, BufReader, Read};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Arc, Condvar, Mutex};

use tokio::sync::Notify;

use super::format::{decode_payload, parse_segment_name, segment_file_name};
use super::fs::{ReadAt, WalFs};
use super::group_commit::{spawn_background, SyncState};
use super::writer::{create_segment, fsync_dir, Writer};
use super::{Inner, Recovery, Truncation, Wal, WalConfig, WalEntry, FRAME_HEADER_LEN, MAX_FRAME_LEN, PAYLOAD_HEADER_LEN};
use crate::error::{Error, ErrorCode, Result, ResultExt};

const LOCK_FILE: &str = "LOCK";


/// Reads one segment, cutting it back at the first bad frame. Returns the good length.
fn recover_segment(
    fs: &dyn WalFs,
    path: &Path,
    min_seq: u64,
    entries: &mut Vec<WalEntry>,
    truncations: &mut Vec<Truncation>,
) -> Result<u64> {
    let ctx = |what: &str| format!("{what} WAL segment {}", path.display());
    let file = fs.open(path).code(ErrorCode::WalIo, &ctx("open"))?;
    let len = file.len().code(ErrorCode::WalIo, &ctx("stat"))?;
    let mut reader = BufReader::with_capacity(256 * 1024, ReadAt { file: &*file, pos: 0 });
    let mut pos = 0u64;
    let mut bad: Option<String> = None;
    // Maps a read error to "torn" (file shorter than it claimed) or a real I/O error.
    let read_exact = |r: &mut BufReader<ReadAt<'_>>, buf: &mut [u8]| -> Result<bool> {
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
    } else if pos > 0 {
        // What a crashed session wrote may be in the page cache only. It is replayed now and
        // new records will follow it, so it must not be lost to a power loss any more.
        file.sync_all().code(ErrorCode::WalIo, &ctx("fsync recovered"))?;
    }
    Ok(pos)
}

fn lock_error(fs: &dyn WalFs, lock_path: &Path) -> Error {
    let by = match fs.lock_holder(lock_path) {
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
        let fs = cfg.fs.clone();
        let existed = fs.is_dir(&dir);
        fs.create_dir_all(&dir).code(ErrorCode::WalIo, &format!("create WAL directory {}", dir.display()))?;
        if !existed {
            if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
                fsync_dir(&*fs, parent)?;
            }
        }

        let lock_path = dir.join(LOCK_FILE);
        let lock_guard = match fs.try_lock(&lock_path) {
            Ok(Some(guard)) => guard,
            Ok(None) => return Err(lock_error(&*fs, &lock_path)),
            Err(e) => return Err(Error::with_source(ErrorCode::WalIo, format!("lock WAL {}", lock_path.display()), e)),
        };

        let mut ids = Vec::new();
        for name in fs.list(&dir).code(ErrorCode::WalIo, &format!("list WAL directory {}", dir.display()))? {
            if let Some(id) = parse_segment_name(&name) {
                ids.push(id);
            }
        }
        ids.sort_unstable();

        let mut recovery = Recovery::default();
        let mut sealed = BTreeMap::new();
        let mut removed_empty = false;
        for &id in &ids {
            let path = dir.join(segment_file_name(id));
            let len = recover_segment(&*fs, &path, min_seq, &mut recovery.entries, &mut recovery.truncations)?;
            if len == 0 {
                fs.remove_file(&path).code(ErrorCode::WalIo, &format!("remove empty WAL segment {}", path.display()))?;
                removed_empty = true;
            } else {
                sealed.insert(id, len);
            }
        }
        if removed_empty {
            fsync_dir(&*fs, &dir)?;
        }

        let seg_id = ids.last().map_or(1, |max| max + 1);
        // Also fsyncs the directory, so the kept segments' entries are durable before any append.
        let file = create_segment(&*fs, &dir, seg_id)?;

        let inner = Arc::new(Inner {
            dir,
            fs,
            compression: cfg.compression,
            defer_writes: cfg.defer_writes && cfg.sync_interval.is_zero(),
            max_size: cfg.max_size,
            writer: Mutex::new(Writer {
                closed: false,
                broken: None,
                seg_id,
                file,
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
        let wal = Wal { inner, background: Mutex::new(background), lock_guard: Mutex::new(Some(lock_guard)) };
        Ok((wal, recovery))
    }
}
