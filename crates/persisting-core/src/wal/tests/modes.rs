//! Recovery modes on multi-segment damage: what `PointInTime` keeps, moves and reports, and
//! what `Absolute` refuses. Nothing may become silently unreachable.

use super::power_loss::fault_cfg;
use super::*;
use crate::error::ErrorCode;
use crate::wal::fault_fs::FaultFs;

/// Segments 1, 2, 3 holding entries 0..10, 10..20, 20..30; returns each frame's start offset.
fn three_segments(dir: &Path) -> Vec<u64> {
    let (wal, _) = Wal::open(cfg(dir), 0).unwrap();
    let mut starts = Vec::new();
    for seq in 0..30u64 {
        if seq == 10 || seq == 20 {
            wal.rotate().unwrap();
        }
        starts.push(wal.current_segment_size());
        wal.append(seq, 1, &payload_for(seq)).unwrap();
    }
    wal.close().unwrap();
    starts
}

fn seg(dir: &Path, id: u64) -> PathBuf {
    dir.join(segment_file_name(id))
}

fn absolute(dir: &Path) -> WalConfig {
    WalConfig { recovery_mode: RecoveryMode::Absolute, ..cfg(dir) }
}

/// Absolute mode refuses, names the segment and offset, and leaves every file as it was.
fn assert_refused(dir: &Path, segment: &Path, offset: u64) {
    let before: Vec<(u64, Vec<u8>)> =
        segment_ids(dir).into_iter().map(|id| (id, fs::read(seg(dir, id)).unwrap())).collect();
    let err = Wal::open(absolute(dir), 0).err().expect("absolute mode must refuse");
    assert_eq!(err.code, ErrorCode::WalCorrupt);
    assert!(err.message.contains(&segment.display().to_string()), "{}", err.message);
    assert!(err.message.contains(&format!("byte {offset}")), "{}", err.message);
    let after: Vec<(u64, Vec<u8>)> =
        segment_ids(dir).into_iter().map(|id| (id, fs::read(seg(dir, id)).unwrap())).collect();
    assert_eq!(before, after, "absolute mode changed the WAL");
    assert!(!dir.join(QUARANTINE_DIR).exists());
}

/// After recovery, a record appended at the next sequence number is reachable by every
/// later recovery, in both modes.
fn assert_appends_reachable(dir: &Path, min_seq: u64, expect: Vec<WalEntry>) {
    let next = expect.last().map_or(min_seq, |e| e.first_seq + e.count as u64);
    let (wal, rec) = Wal::open(cfg(dir), min_seq).unwrap();
    assert_eq!(rec.entries, expect);
    assert!(rec.truncations.is_empty() && rec.quarantined.is_empty(), "{rec:?}");
    wal.append(next, 1, b"after recovery").unwrap();
    wal.close().unwrap();
    drop(wal);
    let mut want = expect;
    want.push(WalEntry { first_seq: next, count: 1, payload: b"after recovery".to_vec() });
    for c in [cfg(dir), absolute(dir)] {
        let (_wal, rec) = Wal::open(c, min_seq).unwrap();
        assert_eq!(rec.entries, want);
        assert!(rec.truncations.is_empty() && rec.quarantined.is_empty(), "{rec:?}");
    }
}

#[test]
fn deleted_middle_segment_quarantines_the_rest() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    three_segments(dir);
    let seg3 = fs::read(seg(dir, 3)).unwrap();
    fs::remove_file(seg(dir, 2)).unwrap();
    assert_refused(dir, &seg(dir, 3), 0);

    let (wal, rec) = Wal::open(cfg(dir), 0).unwrap();
    assert_eq!(rec.entries, (0..10).map(entry).collect::<Vec<_>>());
    assert!(rec.truncations.is_empty(), "{:?}", rec.truncations);
    assert_eq!(rec.quarantined.len(), 1);
    let q = &rec.quarantined[0];
    assert_eq!(q.segment, seg(dir, 3));
    assert_eq!(q.moved_to, dir.join(QUARANTINE_DIR).join(segment_file_name(3)));
    assert!(q.reason.contains("sequence gap"), "{}", q.reason);
    assert_eq!(fs::read(&q.moved_to).unwrap(), seg3, "quarantined bytes must be kept as they were");
    // New appends go after every id, quarantined ones included: 4, not 2.
    assert_eq!(wal.current_segment_id(), 4);
    drop(wal);
    assert_appends_reachable(dir, 0, (0..10).map(entry).collect());
}

#[test]
fn bit_flip_in_middle_segment_keeps_the_prefix_and_quarantines_the_rest() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let starts = three_segments(dir);
    let mut bytes = fs::read(seg(dir, 2)).unwrap();
    let at = starts[14] as usize + FRAME_HEADER_LEN + 3;
    bytes[at] ^= 0x40;
    fs::write(seg(dir, 2), &bytes).unwrap();
    assert_refused(dir, &seg(dir, 2), starts[14]);

    let (wal, rec) = Wal::open(cfg(dir), 0).unwrap();
    assert_eq!(rec.entries, (0..14).map(entry).collect::<Vec<_>>());
    assert_eq!(rec.truncations.len(), 1);
    let t = &rec.truncations[0];
    assert_eq!((t.segment.clone(), t.offset), (seg(dir, 2), starts[14]));
    assert!(t.reason.contains("checksum"), "{}", t.reason);
    // The dropped bytes of segment 2 and all of segment 3 are set aside, not deleted.
    assert_eq!(rec.quarantined.len(), 2, "{:?}", rec.quarantined);
    assert_eq!(rec.quarantined[0].segment, seg(dir, 2));
    assert_eq!(fs::read(&rec.quarantined[0].moved_to).unwrap(), &bytes[starts[14] as usize..]);
    assert_eq!(rec.quarantined[1].segment, seg(dir, 3));
    assert!(!seg(dir, 3).exists());
    drop(wal);
    assert_appends_reachable(dir, 0, (0..14).map(entry).collect());
}

#[test]
fn garbage_after_the_last_frame() {
    // (garbage, torn): a torn tail is cut in both modes; anything else is refused by Absolute.
    let cases: Vec<(&str, Vec<u8>, bool)> = vec![
        ("0xab bytes", vec![0xab; 100], false),
        ("zeros", vec![0; 100], true),
        ("a header promising more than is there", [1000u32.to_le_bytes(), 7u32.to_le_bytes()].concat(), true),
        ("3 bytes", vec![1, 2, 3], true),
    ];
    for (name, garbage, torn) in cases {
        for mode in [RecoveryMode::Absolute, RecoveryMode::PointInTime] {
            let tmp = tempfile::tempdir().unwrap();
            let dir = tmp.path();
            let starts = three_segments(dir);
            let end = fs::metadata(seg(dir, 3)).unwrap().len();
            assert!(end > starts[29]);
            let mut bytes = fs::read(seg(dir, 3)).unwrap();
            bytes.extend_from_slice(&garbage);
            fs::write(seg(dir, 3), &bytes).unwrap();
            if mode == RecoveryMode::Absolute && !torn {
                assert_refused(dir, &seg(dir, 3), end);
                continue;
            }
            let (wal, rec) = Wal::open(WalConfig { recovery_mode: mode, ..cfg(dir) }, 0).unwrap();
            assert_eq!(rec.entries, (0..30).map(entry).collect::<Vec<_>>(), "{name} {mode:?}");
            let cuts: Vec<(u64, u64)> = rec.truncations.iter().map(|t| (t.offset, t.dropped_bytes)).collect();
            assert_eq!(cuts, vec![(end, garbage.len() as u64)], "{name} {mode:?}");
            assert_eq!(rec.quarantined.len(), usize::from(!torn), "{name} {mode:?}: {:?}", rec.quarantined);
            drop(wal);
            assert_appends_reachable(dir, 0, (0..30).map(entry).collect());
        }
    }
}

#[test]
fn torn_tail_at_every_byte_in_both_modes() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    let starts = three_segments(&src);
    let full = fs::read(seg(&src, 3)).unwrap();
    let seg2 = fs::read(seg(&src, 2)).unwrap();
    let seg1 = fs::read(seg(&src, 1)).unwrap();
    // The last two frames of segment 3, cut at every byte (on the in-memory file system:
    // thousands of real fsyncs would make this slow).
    let from = starts[28] as usize;
    for cut in from..full.len() {
        let good_frames = if cut < starts[29] as usize { 28 } else { 29 };
        let clean = cut == starts[29] as usize || cut == from;
        for mode in [RecoveryMode::Absolute, RecoveryMode::PointInTime] {
            let mem = FaultFs::new(cut as u64);
            let c = WalConfig { recovery_mode: mode, ..fault_cfg(&mem) };
            mem.put_file(&seg(&c.dir, 1), &seg1);
            mem.put_file(&seg(&c.dir, 2), &seg2);
            mem.put_file(&seg(&c.dir, 3), &full[..cut]);
            // An empty newer segment (a rotation that crashed before writing) changes nothing.
            mem.put_file(&seg(&c.dir, 4), b"");
            let (wal, rec) = Wal::open(c.clone(), 0).unwrap_or_else(|e| panic!("cut {cut} {mode:?}: {e}"));
            assert_eq!(rec.entries, (0..good_frames).map(entry).collect::<Vec<_>>(), "cut {cut} {mode:?}");
            assert_eq!(rec.truncations.len(), usize::from(!clean), "cut {cut} {mode:?}");
            assert!(rec.quarantined.is_empty(), "cut {cut} {mode:?}");
            assert!(mem.read_file(&seg(&c.dir, 4)).is_none());
            assert_eq!(
                mem.read_file(&seg(&c.dir, 3)).unwrap().len(),
                if clean { cut } else { starts[good_frames as usize] as usize }
            );
            drop(wal);
        }
    }
    // The same torn segment is not the tail when a newer segment has records: Absolute refuses,
    // PointInTime cuts it and quarantines the newer one.
    let dir = tmp.path().join("not-tail");
    fs::create_dir_all(&dir).unwrap();
    fs::copy(seg(&src, 1), seg(&dir, 1)).unwrap();
    fs::write(seg(&dir, 2), &seg2[..seg2.len() - 5]).unwrap();
    fs::copy(seg(&src, 3), seg(&dir, 3)).unwrap();
    assert_refused(&dir, &seg(&dir, 2), starts[19]);
    let (wal, rec) = Wal::open(cfg(&dir), 0).unwrap();
    assert_eq!(rec.entries, (0..19).map(entry).collect::<Vec<_>>());
    assert_eq!(rec.truncations.len(), 1);
    assert_eq!(rec.quarantined.len(), 1, "only segment 3 moves; a torn tail is not kept");
    assert_eq!(rec.quarantined[0].segment, seg(&dir, 3));
    drop(wal);
    assert_appends_reachable(&dir, 0, (0..19).map(entry).collect());
}

#[test]
fn gap_below_min_seq_and_between_frames() {
    // The WAL starts at 10 but the table has only 5 rows: records 5..10 are missing.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (wal, _) = Wal::open(cfg(dir), 0).unwrap();
    for seq in 10..20 {
        wal.append(seq, 1, &payload_for(seq)).unwrap();
    }
    wal.close().unwrap();
    drop(wal);
    // With the table at 10 or beyond, nothing is missing.
    let (wal, rec) = Wal::open(absolute(dir), 10).unwrap();
    assert_eq!(rec.entries.len(), 10);
    drop(wal);
    let (wal, rec) = Wal::open(absolute(dir), 12).unwrap();
    assert_eq!(rec.entries.first().map(|e| e.first_seq), Some(12));
    drop(wal);
    let original = fs::read(seg(dir, 1)).unwrap();
    let err = Wal::open(absolute(dir), 5).err().expect("gap below min_seq must be refused");
    assert_eq!(err.code, ErrorCode::WalCorrupt);
    assert!(
        err.message.contains(&seg(dir, 1).display().to_string()) && err.message.contains("byte 0"),
        "{}",
        err.message
    );
    let (wal, rec) = Wal::open(cfg(dir), 5).unwrap();
    assert!(rec.entries.is_empty());
    assert!(rec.truncations.is_empty());
    assert_eq!(rec.quarantined.len(), 1);
    assert_eq!(fs::read(&rec.quarantined[0].moved_to).unwrap(), original, "the whole segment is kept aside");
    assert!(rec.quarantined[0].reason.contains("sequence gap"), "{}", rec.quarantined[0].reason);
    drop(wal);
    assert_appends_reachable(dir, 5, vec![]);

    // A gap between two frames of one segment.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (wal, _) = Wal::open(cfg(dir), 0).unwrap();
    let mut gap_at = 0;
    for seq in (0..5).chain(7..10) {
        if seq == 7 {
            gap_at = wal.current_segment_size();
        }
        wal.append(seq, 1, &payload_for(seq)).unwrap();
    }
    wal.close().unwrap();
    drop(wal);
    assert_refused(dir, &seg(dir, 1), gap_at);
    let (wal, rec) = Wal::open(cfg(dir), 0).unwrap();
    assert_eq!(rec.entries, (0..5).map(entry).collect::<Vec<_>>());
    assert_eq!(rec.truncations.len(), 1);
    assert_eq!(rec.truncations[0].offset, gap_at);
    assert_eq!(rec.quarantined.len(), 1);
    drop(wal);
    assert_appends_reachable(dir, 0, (0..5).map(entry).collect());
}
