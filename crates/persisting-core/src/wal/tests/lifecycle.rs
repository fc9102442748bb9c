//! Appends, rotation, reopening, locking, compression and segment removal.

use super::*;
use crate::error::ErrorCode;
use std::sync::atomic::Ordering;

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
    for (min_seq, expect_first) in [
        (0u64, vec![0u64, 5, 10, 15]),
        (5, vec![5, 10, 15]),
        (7, vec![5, 10, 15]),
        (10, vec![10, 15]),
        (20, vec![]),
        (99, vec![]),
    ] {
        let (wal, rec) = Wal::open(cfg(tmp.path()), min_seq).unwrap();
        let firsts: Vec<u64> = rec.entries.iter().map(|e| e.first_seq).collect();
        assert_eq!(firsts, expect_first, "min_seq {min_seq}");
        for e in &rec.entries {
            assert_eq!(e.payload, format!("batch{}", e.first_seq / 5).into_bytes());
        }
        drop(wal);
    }
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

#[test]
fn each_compression_round_trips_and_mixes() {
    let all = [Compression::None, Compression::Zstd, Compression::Lz4, Compression::Snappy];
    let big =
        |seq: u64| format!("{{\"seq\":{seq},\"text\":\"{}\"}}\n", "compressible ".repeat(40)).repeat(10).into_bytes();
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
    // Segments are removed once their records are in the table, which then has 5 rows.
    let (_wal, rec) = Wal::open(cfg(tmp.path()), 5).unwrap();
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
    // The record was not written, so its sequence number is reused.
    let lsn1 = wal.append(1, 1, b"one").unwrap();
    assert!(lsn1 > lsn0);
    drop(wal);
    let (_wal, rec) = Wal::open(cfg(tmp.path()), 0).unwrap();
    assert!(rec.truncations.is_empty());
    assert_eq!(rec.entries.iter().map(|e| e.first_seq).collect::<Vec<_>>(), vec![0, 1]);
    assert_eq!(rec.entries[1].payload, b"one");
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
