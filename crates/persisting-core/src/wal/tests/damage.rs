//! Recovery of torn and corrupt segments.

use super::*;
use crate::error::ErrorCode;

#[test]
fn segment_names_round_trip() {
    assert_eq!(segment_file_name(42), "wal-00000000000000000042.log");
    assert_eq!(parse_segment_name("wal-00000000000000000042.log"), Some(42));
    assert_eq!(parse_segment_name("wal-42.log"), None);
    assert_eq!(parse_segment_name("wal-0000000000000000004x.log"), None);
    assert_eq!(parse_segment_name("LOCK"), None);
}

/// Writes `n` entries into one segment and returns (segment bytes, start offset of each frame).
fn one_segment(compression: Compression, n: u64) -> (Vec<u8>, Vec<usize>) {
    let tmp = ram_tempdir();
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

/// What recovery mode `Absolute` must do with a damaged single segment.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Absolute {
    /// A torn tail: cut and open, like `PointInTime`.
    Opens,
    /// Damage a crash cannot explain: refuse, naming the segment and offset, touching nothing.
    Refuses,
    /// Depends on where a bit flip landed; either way the outcome must be one of the above.
    Either,
}

/// Recovers `bytes` as segment 1 of a fresh dir, in both modes. `PointInTime` keeps the good
/// prefix, reports the cut at `last_start`, saves non-torn dropped bytes in quarantine, and an
/// append after the cut is read back right after the prefix.
fn check_damaged(
    bytes: &[u8],
    compression: Compression,
    last_start: usize,
    good: &[WalEntry],
    case: &str,
    absolute: Absolute,
) {
    let tmp = ram_tempdir();
    let seg = tmp.path().join(segment_file_name(1));
    fs::write(&seg, bytes).unwrap();
    let c = WalConfig { compression, ..cfg(tmp.path()) };

    let strict = WalConfig { recovery_mode: RecoveryMode::Absolute, ..c.clone() };
    let torn = match Wal::open(strict, 0) {
        Ok((wal, rec)) => {
            assert_ne!(absolute, Absolute::Refuses, "{case}: absolute mode opened");
            assert_eq!(rec.entries, good, "{case}");
            assert_eq!(rec.truncations.len(), 1, "{case}");
            assert!(rec.quarantined.is_empty(), "{case}");
            drop(wal);
            fs::write(&seg, bytes).unwrap(); // undo the cut for the pointInTime run
            true
        }
        Err(e) => {
            assert_ne!(absolute, Absolute::Opens, "{case}: {e}");
            assert_eq!(e.code, ErrorCode::WalCorrupt, "{case}");
            assert!(e.message.contains(&seg.display().to_string()), "{case}: {}", e.message);
            assert!(e.message.contains(&format!("byte {last_start}")), "{case}: {}", e.message);
            assert_eq!(fs::read(&seg).unwrap(), bytes, "{case}: absolute mode changed the segment");
            assert!(!tmp.path().join(QUARANTINE_DIR).exists(), "{case}");
            false
        }
    };

    let (wal, rec) = Wal::open(c.clone(), 0).unwrap_or_else(|e| panic!("{case}: open failed: {e}"));
    assert_eq!(rec.entries, good, "{case}");
    assert_eq!(rec.truncations.len(), 1, "{case}: {:?}", rec.truncations);
    let t = &rec.truncations[0];
    assert_eq!(t.segment, seg, "{case}");
    assert_eq!(t.offset, last_start as u64, "{case}");
    assert_eq!(t.dropped_bytes, (bytes.len() - last_start) as u64, "{case}");
    assert_eq!(fs::metadata(&seg).unwrap().len(), last_start as u64, "{case}: not cut on disk");
    if torn {
        assert!(rec.quarantined.is_empty(), "{case}: {:?}", rec.quarantined);
    } else {
        assert_eq!(rec.quarantined.len(), 1, "{case}: {:?}", rec.quarantined);
        assert_eq!(fs::read(&rec.quarantined[0].moved_to).unwrap(), &bytes[last_start..], "{case}");
    }
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
            check_damaged(
                &bytes[..cut],
                compression,
                last,
                &good,
                &format!("{compression:?} cut at {cut}"),
                Absolute::Opens,
            );
        }
        // A cut exactly at a frame boundary is a clean end, not corruption.
        let tmp = ram_tempdir();
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
        // A flip in the payload is a checksum failure of the final frame: a torn tail.
        let expect = if bit >= FRAME_HEADER_LEN * 8 { Absolute::Opens } else { Absolute::Either };
        check_damaged(&damaged, compression, last, &good, &format!("flip bit {bit}"), expect);
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
        (
            "lz4 absurd size",
            forge(&|p| {
                p[1] = Compression::Lz4.tag();
                p[14..18].copy_from_slice(&u32::MAX.to_le_bytes());
            }),
        ),
        ("short payload", forge(&|p| p.truncate(10))),
    ];
    for (name, damaged) in cases {
        check_damaged(&damaged, Compression::None, last, &good, name, Absolute::Refuses);
    }
    // Absurd length field.
    let mut damaged = bytes.clone();
    damaged[last..last + 4].copy_from_slice(&u32::MAX.to_le_bytes());
    check_damaged(&damaged, Compression::None, last, &good, "absurd length", Absolute::Refuses);
    // Trailing zeros (e.g. a filesystem that extended the file but lost the data).
    let mut damaged = bytes[..starts[2]].to_vec();
    damaged.extend_from_slice(&[0u8; 4096]);
    check_damaged(&damaged, Compression::None, last, &good, "zero fill", Absolute::Opens);
}
