//! Recovery: read the segments in id order up to the first damage, then either refuse
//! ([`RecoveryMode::Absolute`]) or keep what came before it and set the rest aside in
//! `quarantine/` ([`RecoveryMode::PointInTime`]). Nothing is deleted except empty segments and
//! torn tails; everything kept is fsynced before the WAL accepts appends.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::format::{parse_segment_name, segment_file_name};
use super::fs::{WalFile, WalFs};
use super::scan::{scan_segment, Damage, SeqCheck};
use super::writer::fsync_dir;
use super::{Quarantine, Recovery, RecoveryMode, Truncation, QUARANTINE_DIR};
use crate::error::{Error, ErrorCode, Result, ResultExt};

struct Segment {
    id: u64,
    path: PathBuf,
    file: Arc<dyn WalFile>,
    len: u64,
}

fn io_ctx(what: &str, path: &Path) -> String {
    format!("{what} WAL segment {}", path.display())
}

/// Segment ids in `dir`, sorted.
fn segment_ids(fs: &dyn WalFs, dir: &Path) -> Result<Vec<u64>> {
    let names = fs.list(dir).code(ErrorCode::WalIo, &format!("list WAL directory {}", dir.display()))?;
    let mut ids: Vec<u64> = names.iter().filter_map(|n| parse_segment_name(n)).collect();
    ids.sort_unstable();
    Ok(ids)
}

/// Highest segment id named in `quarantine/` (`wal-<id>.log` and the tails saved from it).
fn max_quarantined_id(fs: &dyn WalFs, qdir: &Path) -> Result<u64> {
    if !fs.is_dir(qdir) {
        return Ok(0);
    }
    let names = fs.list(qdir).code(ErrorCode::WalIo, &format!("list {}", qdir.display()))?;
    let id_of = |n: &String| n.get(..24).and_then(|p| parse_segment_name(&format!("{p}.log")));
    Ok(names.iter().filter_map(id_of).max().unwrap_or(0))
}

/// Recovers `dir`. Returns the recovery report, the kept segments (id -> length) and the id
/// for the next segment.
pub(super) fn recover(
    fs: &dyn WalFs,
    dir: &Path,
    min_seq: u64,
    mode: RecoveryMode,
) -> Result<(Recovery, BTreeMap<u64, u64>, u64)> {
    let ids = segment_ids(fs, dir)?;
    let qdir = dir.join(QUARANTINE_DIR);
    let next_id = ids.last().copied().unwrap_or(0).max(max_quarantined_id(fs, &qdir)?) + 1;

    let mut segments = Vec::with_capacity(ids.len());
    for &id in &ids {
        let path = dir.join(segment_file_name(id));
        let file = fs.open(&path).code(ErrorCode::WalIo, &io_ctx("open", &path))?;
        let len = file.len().code(ErrorCode::WalIo, &io_ctx("stat", &path))?;
        segments.push(Segment { id, path, file, len });
    }

    let mut rec = Recovery::default();
    let mut check = SeqCheck::new(min_seq);
    let mut damage: Option<(usize, Damage)> = None;
    for (i, seg) in segments.iter().enumerate() {
        let found = scan_segment(&*seg.file, seg.len, &mut check, &mut rec.entries)
            .code(ErrorCode::WalIo, &io_ctx("read", &seg.path))?;
        if let Some(d) = found {
            damage = Some((i, d));
            break;
        }
    }

    let mut removed = false;
    if let Some((i, d)) = &damage {
        if mode == RecoveryMode::Absolute && !is_tail(d, &segments[i + 1..]) {
            let seg = &segments[*i];
            return Err(Error::new(
                ErrorCode::WalCorrupt,
                format!(
                    "WAL segment {} is damaged at byte {}: {}; recovery mode 'absolute' refuses to open a WAL \
                     with damage other than a torn tail of its newest segment ('pointInTime' keeps everything \
                     before the damage and moves the rest into {})",
                    seg.path.display(),
                    d.offset,
                    d.reason,
                    qdir.display()
                ),
            ));
        }
        removed = set_aside(fs, dir, &segments, *i, d, &mut rec)?;
    }

    // What a crashed session wrote may be in the page cache only. It is replayed now and new
    // records will follow it, so it must not be lost to a power loss any more.
    let kept_until = damage.as_ref().map_or(segments.len(), |(i, _)| i + 1);
    let mut sealed = BTreeMap::new();
    let mut newest = true;
    for (i, seg) in segments[..kept_until].iter().enumerate().rev() {
        let len = match &damage {
            Some((d_i, d)) if *d_i == i => {
                if !d.torn && d.offset == 0 {
                    continue; // moved whole
                }
                d.offset
            }
            _ => seg.len,
        };
        if len == 0 {
            fs.remove_file(&seg.path).code(ErrorCode::WalIo, &io_ctx("remove empty", &seg.path))?;
            removed = true;
        } else {
            if std::mem::take(&mut newest) {
                rewrite(&*seg.file, len).code(ErrorCode::WalIo, &io_ctx("rewrite recovered", &seg.path))?;
            }
            seg.file.sync_all().code(ErrorCode::WalIo, &io_ctx("fsync recovered", &seg.path))?;
            sealed.insert(seg.id, len);
        }
    }
    if removed {
        fsync_dir(fs, dir)?;
    }
    Ok((rec, sealed, next_id))
}

/// A torn tail is the end of the log: nothing but empty segments after it.
fn is_tail(d: &Damage, later: &[Segment]) -> bool {
    d.torn && later.iter().all(|s| s.len == 0)
}

/// Deals with the damage `d` in `segments[i]`: saves the dropped bytes of damage a crash
/// cannot explain, moves every later non-empty segment into quarantine (deleting empty ones),
/// then cuts the damaged segment. Returns whether a segment was deleted.
fn set_aside(
    fs: &dyn WalFs,
    dir: &Path,
    segments: &[Segment],
    i: usize,
    d: &Damage,
    rec: &mut Recovery,
) -> Result<bool> {
    let qdir = dir.join(QUARANTINE_DIR);
    let seg = &segments[i];
    let later = &segments[i + 1..];
    let save_tail = !d.torn;
    if save_tail || later.iter().any(|s| s.len > 0) {
        ensure_dir(fs, dir, &qdir)?;
    }
    let (mut moved, mut removed) = (false, false);
    if save_tail && d.offset == 0 {
        let to = quarantine_path(fs, &qdir, &segment_file_name(seg.id))?;
        fs.rename(&seg.path, &to).code(ErrorCode::WalIo, &io_ctx("quarantine", &seg.path))?;
        note_quarantine(rec, &seg.path, to, d.reason.clone());
        moved = true;
    } else if save_tail {
        let name = format!("{}.from-{}", segment_file_name(seg.id), d.offset);
        let to = quarantine_path(fs, &qdir, &name)?;
        copy_tail(fs, &*seg.file, d.offset, seg.len, &to)?;
        note_quarantine(rec, &seg.path, to, format!("bytes {}.. of the segment: {}", d.offset, d.reason));
        moved = true;
    }
    for s in later {
        if s.len == 0 {
            fs.remove_file(&s.path).code(ErrorCode::WalIo, &io_ctx("remove empty", &s.path))?;
            removed = true;
            continue;
        }
        let to = quarantine_path(fs, &qdir, &segment_file_name(s.id))?;
        fs.rename(&s.path, &to).code(ErrorCode::WalIo, &io_ctx("quarantine", &s.path))?;
        let why = format!("follows damage at byte {} of {}: {}", d.offset, seg.path.display(), d.reason);
        note_quarantine(rec, &s.path, to, why);
        moved = true;
    }
    // The moves are durable before the cut, so an interrupted recovery finds the damage again.
    if moved {
        fsync_dir(fs, &qdir)?;
        fsync_dir(fs, dir)?;
    }
    if !(save_tail && d.offset == 0) {
        seg.file.set_len(d.offset).code(ErrorCode::WalIo, &io_ctx("truncate damaged tail of", &seg.path))?;
        seg.file.sync_all().code(ErrorCode::WalIo, &io_ctx("fsync truncated", &seg.path))?;
        let t = Truncation {
            segment: seg.path.clone(),
            offset: d.offset,
            dropped_bytes: seg.len - d.offset,
            reason: d.reason.clone(),
        };
        eprintln!(
            "[WAL_CORRUPT] {}: {}; cut back to byte {} ({} bytes dropped)",
            t.segment.display(),
            t.reason,
            t.offset,
            t.dropped_bytes
        );
        rec.truncations.push(t);
    }
    Ok(removed)
}

/// Writes a segment's bytes back in place. If an fsync of the last session failed, Linux may
/// have marked the unwritten pages clean: they still read back, but no later fsync writes them.
/// Rewriting makes them dirty again, so the fsync that follows really persists what is being
/// replayed. Only the newest segment can be affected: a failed fsync stops the WAL, so no
/// segment is sealed (or created with data) after it.
fn rewrite(file: &dyn WalFile, len: u64) -> std::io::Result<()> {
    let mut buf = vec![0u8; 1 << 20];
    let mut pos = 0;
    while pos < len {
        let want = buf.len().min((len - pos) as usize);
        let n = file.read_at(&mut buf[..want], pos)?;
        if n == 0 {
            break;
        }
        file.write_all_at(&buf[..n], pos)?;
        pos += n as u64;
    }
    Ok(())
}

fn note_quarantine(rec: &mut Recovery, segment: &Path, moved_to: PathBuf, reason: String) {
    eprintln!("[WAL_QUARANTINE] {} moved to {}: {reason}", segment.display(), moved_to.display());
    rec.quarantined.push(Quarantine { segment: segment.to_path_buf(), moved_to, reason });
}

/// Creates `quarantine/` if needed and makes its directory entry durable.
fn ensure_dir(fs: &dyn WalFs, dir: &Path, qdir: &Path) -> Result<()> {
    if fs.is_dir(qdir) {
        return Ok(());
    }
    fs.create_dir_all(qdir).code(ErrorCode::WalIo, &format!("create {}", qdir.display()))?;
    fsync_dir(fs, dir)
}

/// `quarantine/<name>`, or `<name>.<n>` if that exists (an interrupted recovery may have
/// left a copy).
fn quarantine_path(fs: &dyn WalFs, qdir: &Path, name: &str) -> Result<PathBuf> {
    let taken = fs.list(qdir).code(ErrorCode::WalIo, &format!("list {}", qdir.display()))?;
    let mut candidate = name.to_string();
    let mut n = 0;
    while taken.contains(&candidate) {
        n += 1;
        candidate = format!("{name}.{n}");
    }
    Ok(qdir.join(candidate))
}

/// Copies `from..len` of `file` into a new durable file at `to`.
fn copy_tail(fs: &dyn WalFs, file: &dyn WalFile, from: u64, len: u64, to: &Path) -> Result<()> {
    let ctx = format!("save damaged WAL bytes to {}", to.display());
    let out = fs.create_new(to).code(ErrorCode::WalIo, &ctx)?;
    let mut buf = vec![0u8; 1 << 20];
    let mut pos = from;
    while pos < len {
        let want = buf.len().min((len - pos) as usize);
        let n = file.read_at(&mut buf[..want], pos).code(ErrorCode::WalIo, &ctx)?;
        if n == 0 {
            break;
        }
        out.write_all_at(&buf[..n], pos - from).code(ErrorCode::WalIo, &ctx)?;
        pos += n as u64;
    }
    out.sync_all().code(ErrorCode::WalIo, &ctx)
}
