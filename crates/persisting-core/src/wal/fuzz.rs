//! The body of the `wal_decode` fuzz target (`fuzz/`), also run over seeded inputs by the
//! unit tests: arbitrary bytes as a set of segment files, recovered in both modes on the
//! simulated file system.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::fault_fs::FaultFs;
use super::format::segment_file_name;
use super::{RecoveryMode, Wal, WalConfig, FRAME_HEADER_LEN, PAYLOAD_HEADER_LEN};
use crate::error::ErrorCode;

/// A decoded fuzz input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FuzzInput {
    pub mode: RecoveryMode,
    pub min_seq: u64,
    /// Contents of segments 1, 2, ...
    pub segments: Vec<Vec<u8>>,
}

impl FuzzInput {
    /// `[u8 flags: bit 0 absolute][u8 min_seq]` then `[u16 len][bytes]` per segment (the last
    /// one may be shorter than its length says). Any byte string decodes.
    pub fn decode(data: &[u8]) -> FuzzInput {
        let flags = data.first().copied().unwrap_or(0);
        let min_seq = data.get(1).copied().unwrap_or(0) as u64;
        let mode = if flags & 1 == 1 { RecoveryMode::Absolute } else { RecoveryMode::PointInTime };
        let mut segments = Vec::new();
        let mut rest = data.get(2..).unwrap_or(&[]);
        while rest.len() >= 2 && segments.len() < 8 {
            let len = u16::from_le_bytes([rest[0], rest[1]]) as usize;
            let body = &rest[2..];
            let take = len.min(body.len());
            segments.push(body[..take].to_vec());
            rest = &body[take..];
        }
        FuzzInput { mode, min_seq, segments }
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![u8::from(self.mode == RecoveryMode::Absolute), self.min_seq.min(255) as u8];
        for s in &self.segments {
            let s = &s[..s.len().min(u16::MAX as usize)];
            out.extend_from_slice(&(s.len() as u16).to_le_bytes());
            out.extend_from_slice(s);
        }
        out
    }
}

/// (first_seq, count) of every frame whose length and CRC check out, walking each segment
/// from its start until the first frame that does not: an independent reference for what
/// recovery may keep.
fn crc_valid_frames(segment: &[u8]) -> Vec<(u64, u32)> {
    let mut out = Vec::new();
    let mut pos = 0;
    while segment.len() - pos >= FRAME_HEADER_LEN {
        let len = u32::from_le_bytes(segment[pos..pos + 4].try_into().unwrap()) as usize;
        let crc = u32::from_le_bytes(segment[pos + 4..pos + 8].try_into().unwrap());
        let start = pos + FRAME_HEADER_LEN;
        if len < PAYLOAD_HEADER_LEN || len > segment.len() - start {
            break;
        }
        let payload = &segment[start..start + len];
        if crc32fast::hash(payload) != crc {
            break;
        }
        let first_seq = u64::from_le_bytes(payload[2..10].try_into().unwrap());
        let count = u32::from_le_bytes(payload[10..14].try_into().unwrap());
        out.push((first_seq, count));
        pos = start + len;
    }
    out
}

fn dir() -> PathBuf {
    PathBuf::from("/fuzz/wal")
}

fn write_segments(fs: &FaultFs, input: &FuzzInput) {
    fs.durable_dir(Path::new("/fuzz"));
    for (i, s) in input.segments.iter().enumerate() {
        fs.put_file(&dir().join(segment_file_name(i as u64 + 1)), s);
    }
}

fn config(fs: &FaultFs, mode: RecoveryMode) -> WalConfig {
    WalConfig { dir: dir(), recovery_mode: mode, fs: Arc::new(fs.clone()), ..WalConfig::default() }
}

/// Recovers the segments of `data` and panics if recovery misbehaves: a panic inside it, a
/// `PointInTime` failure on bad bytes, an entry that is not a CRC-valid frame of the input in
/// order, a gap, a report that does not match the files, or a second recovery that disagrees.
pub fn check_recovery(data: &[u8]) {
    let input = FuzzInput::decode(data);
    let fs = FaultFs::new(1);
    write_segments(&fs, &input);
    let (wal, rec) = match Wal::open(config(&fs, input.mode), input.min_seq) {
        Ok(r) => r,
        Err(e) => {
            assert_eq!(input.mode, RecoveryMode::Absolute, "pointInTime failed on bad bytes: {e}");
            assert_eq!(e.code, ErrorCode::WalCorrupt, "{e}");
            // Absolute changed nothing; pointInTime recovers the same files.
            for (i, s) in input.segments.iter().enumerate() {
                let now = fs.read_file(&dir().join(segment_file_name(i as u64 + 1))).unwrap_or_default();
                assert_eq!(&now, s, "absolute mode changed segment {}", i + 1);
            }
            let again = FuzzInput { mode: RecoveryMode::PointInTime, ..input };
            return check_recovery(&again.encode());
        }
    };

    // Every entry is a CRC-valid frame, in input order, and they are contiguous from min_seq.
    let reference: Vec<(u64, u32)> = input.segments.iter().flat_map(|s| crc_valid_frames(s)).collect();
    let mut ref_iter = reference.iter();
    let mut next: Option<u64> = None;
    for e in &rec.entries {
        assert!(
            ref_iter.any(|&(f, c)| f == e.first_seq && c == e.count),
            "entry {}+{} is not a CRC-valid frame of the input (in order)",
            e.first_seq,
            e.count
        );
        let end = e.first_seq.saturating_add(e.count as u64);
        match next {
            None => assert!(e.first_seq <= input.min_seq && end > input.min_seq, "first entry misses min_seq"),
            Some(n) => assert_eq!(e.first_seq, n, "gap or overlap"),
        }
        next = Some(end);
    }
    // The report matches the files.
    for t in &rec.truncations {
        let len = fs.read_file(&t.segment).map_or(0, |b| b.len() as u64);
        assert_eq!(len, t.offset, "{} not cut to the reported offset", t.segment.display());
    }
    for q in &rec.quarantined {
        assert!(fs.read_file(&q.moved_to).is_some(), "quarantined file missing");
        assert!(q.moved_to.starts_with(dir().join(super::QUARANTINE_DIR)));
    }
    if input.mode == RecoveryMode::Absolute {
        assert!(rec.quarantined.is_empty() && rec.truncations.len() <= 1);
    }
    // Recovery is idempotent: a second one finds the same entries and nothing to repair.
    drop(wal);
    let (_wal, again) = Wal::open(config(&fs, RecoveryMode::Absolute), input.min_seq).expect("second recovery");
    assert_eq!(again.entries, rec.entries, "second recovery disagrees");
    assert!(again.truncations.is_empty() && again.quarantined.is_empty(), "second recovery repaired again");
}
