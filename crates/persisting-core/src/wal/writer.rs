//! Appends, rotation and segment removal.

use std::collections::BTreeMap;
use std::io;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::format::{encode_frame, segment_file_name};
use super::fs::{WalFile, WalFs};
use super::{lock, Inner, Wal};
use crate::error::{Error, ErrorCode, Result, ResultExt};

pub(super) struct Writer {
    pub(super) closed: bool,
    /// Set when a failed write could not be cut back; the segment may end in garbage.
    pub(super) broken: Option<String>,
    pub(super) seg_id: u64,
    pub(super) file: Arc<dyn WalFile>,
    pub(super) seg_len: u64,
    /// Global end position of everything written (the LSN of the last append).
    pub(super) lsn: u64,
    /// Frames appended but not yet written (deferred mode); they end at `seg_len`.
    pub(super) pending: Vec<u8>,
    /// Live segments older than the current one: id -> size in bytes.
    pub(super) sealed: BTreeMap<u64, u64>,
}

pub(super) fn fsync_dir(fs: &dyn WalFs, dir: &Path) -> Result<()> {
    fs.sync_dir(dir).code(ErrorCode::WalIo, &format!("fsync WAL directory {}", dir.display()))
}

/// Creates an empty segment and makes its directory entry durable before anything is written.
pub(super) fn create_segment(fs: &dyn WalFs, dir: &Path, id: u64) -> Result<Arc<dyn WalFile>> {
    let path = dir.join(segment_file_name(id));
    let file = fs.create_new(&path).code(ErrorCode::WalIo, &format!("create WAL segment {}", path.display()))?;
    let made_durable = file
        .sync_all()
        .code(ErrorCode::WalIo, &format!("fsync new WAL segment {}", path.display()))
        .and_then(|()| fsync_dir(fs, dir));
    if let Err(e) = made_durable {
        // Empty and unused: removing it lets a later rotate create the same id again.
        let _ = fs.remove_file(&path);
        return Err(e);
    }
    Ok(file)
}

impl Wal {
    /// Writes one frame into the current segment and returns its LSN (end position in a
    /// global byte counter) for [`Wal::sync_blocking_to`]. The data is in the OS page cache on return.
    /// A failed or short write is cut back so no later frame follows garbage.
    pub fn append(&self, first_seq: u64, count: u32, payload: &[u8]) -> Result<u64> {
        let inner = &*self.inner;
        let frame = encode_frame(inner.compression, first_seq, count, payload)?;
        let mut w = lock(&inner.writer);
        inner.check_writable(&w)?;
        if inner.defer_writes {
            w.pending.extend_from_slice(&frame);
            w.seg_len += frame.len() as u64;
            w.lsn += frame.len() as u64;
            return Ok(w.lsn);
        }
        let offset = w.seg_len;
        match inner.write_frame(&*w.file, &frame, offset) {
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

    /// Seals the current segment (fsyncs it) and starts a new one (created, fsynced and its
    /// directory entry fsynced before use). Returns the new segment's id.
    pub fn rotate(&self) -> Result<u64> {
        let inner = &*self.inner;
        let _serial = lock(&inner.rotate_lock);
        let next = {
            let w = lock(&inner.writer);
            inner.check_writable(&w)?;
            w.seg_id + 1
        };
        let file = create_segment(&*inner.fs, &inner.dir, next)?;
        let mut w = lock(&inner.writer);
        // A failed fsync is final: a retried fsync may "succeed" without the lost pages.
        inner.check_writable(&w)?;
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
        w.file = file;
        w.seg_len = 0;
        let lsn = w.lsn;
        {
            let mut st = lock(&inner.sync);
            if st.failure.is_none() {
                st.synced = st.synced.max(lsn);
            }
        }
        drop(w);
        inner.wake_all();
        Ok(next)
    }

    /// Deletes every sealed segment with id < `segment_id` (never the current one). Call once
    /// those entries are durably in Lance. The directory is not fsynced: a removal a power loss
    /// undoes brings back a segment whose rows are all below what Lance holds, which recovery
    /// skips, exactly as after a crash between the Lance commit and the removal.
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
            match inner.fs.remove_file(&path) {
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
        match first_err {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

impl Inner {
    /// Appends and rotations need an open WAL without a failed fsync or an uncut bad write.
    fn check_writable(&self, w: &Writer) -> Result<()> {
        if w.closed {
            return Err(Error::new(ErrorCode::Closed, "WAL is closed"));
        }
        if self.failed.load(Ordering::Acquire) {
            return Err(self.failure_error());
        }
        if let Some(why) = &w.broken {
            return Err(Error::new(ErrorCode::WalIo, format!("WAL segment is unusable: {why}; reopen the bucket")));
        }
        Ok(())
    }

    /// Writes deferred frames at the end of the current segment. On failure the segment is cut
    /// back to its written part; the caller records the failure (nothing in `pending` was
    /// acknowledged, and no later frame may follow a gap).
    pub(super) fn write_pending(&self, w: &mut Writer) -> std::result::Result<(), String> {
        if w.pending.is_empty() {
            return Ok(());
        }
        let offset = w.seg_len - w.pending.len() as u64;
        let res = self.write_frame(&*w.file, &w.pending, offset);
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

    fn write_frame(&self, file: &dyn WalFile, frame: &[u8], offset: u64) -> io::Result<()> {
        #[cfg(test)]
        {
            if self.inject_short_write.swap(false, Ordering::SeqCst) {
                file.write_all_at(&frame[..frame.len() / 2], offset)?;
                return Err(io::Error::other("injected short write"));
            }
        }
        file.write_all_at(frame, offset)
    }
}
