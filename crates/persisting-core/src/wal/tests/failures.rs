//! Injected I/O errors (EIO, ENOSPC) on the simulated file system: a failed fsync stops the
//! WAL for good, and nothing is ever reported synced that a power loss can take away.

use super::power_loss::{crash, fault_cfg};
use super::*;
use crate::error::ErrorCode;
use crate::wal::fault_fs::{FaultFs, FsOp, LossMode};

fn seqs(rec: &Recovery) -> Vec<u64> {
    rec.entries.iter().map(|e| e.first_seq).collect()
}

/// Linux may drop the dirty pages when an fsync fails, so a retried fsync can "succeed"
/// without them. `rotate` used to fsync again after such a failure and then mark everything
/// synced, so a `sync` for the lost record returned Ok.
#[test]
fn rotate_after_a_failed_fsync_fails_and_marks_nothing_synced() {
    for defer_writes in [false, true] {
        let fs = FaultFs::new(7);
        let c = WalConfig { defer_writes, ..fault_cfg(&fs) };
        let (wal, _) = Wal::open(c.clone(), 0).unwrap();
        let lsn0 = wal.append(0, 1, b"zero").unwrap();
        wal.sync_blocking_to(lsn0).unwrap();
        let lsn1 = wal.append(1, 1, b"one").unwrap();
        fs.fail(FsOp::SyncData, 1, libc::EIO);
        assert_eq!(wal.sync_blocking_to(lsn1).unwrap_err().code, ErrorCode::WalIo);

        assert_eq!(wal.rotate().unwrap_err().code, ErrorCode::WalIo, "rotate ignored the failed fsync");
        assert!(wal.synced_lsn() < lsn1, "a record whose fsync failed is reported synced");
        assert_eq!(wal.sync_blocking_to(lsn1).unwrap_err().code, ErrorCode::WalIo);
        crash(wal, &fs);
        fs.power_loss(LossMode::DropAll);
        let (_wal, rec) = Wal::open(c, 0).unwrap();
        assert_eq!(seqs(&rec), vec![0], "defer_writes {defer_writes}");
    }
}

#[test]
fn a_failed_fsync_stops_every_later_write() {
    for errno in [libc::EIO, libc::ENOSPC] {
        let fs = FaultFs::new(8);
        let c = fault_cfg(&fs);
        let (wal, _) = Wal::open(c.clone(), 0).unwrap();
        let lsn0 = wal.append(0, 1, b"zero").unwrap();
        wal.sync_blocking_to(lsn0).unwrap();
        let lsn1 = wal.append(1, 1, b"one").unwrap();
        fs.fail(FsOp::SyncData, 1, errno);
        let err = wal.sync_blocking_to(lsn1).unwrap_err();
        assert_eq!(err.code, ErrorCode::WalIo);
        assert!(err.message.contains("fdatasync"), "{}", err.message);
        // Everything after it fails, even though the file system works again.
        assert_eq!(wal.append(2, 1, b"two").unwrap_err().code, ErrorCode::WalIo);
        assert_eq!(wal.sync_blocking().unwrap_err().code, ErrorCode::WalIo);
        assert_eq!(wal.rotate().unwrap_err().code, ErrorCode::WalIo);
        assert_eq!(wal.synced_lsn(), lsn0);
        assert!(wal.close().is_err());
        drop(wal);
        // Reopening replays what is there; record 1 may or may not be (it was never acknowledged).
        fs.power_loss(LossMode::DropAll);
        let (wal, rec) = Wal::open(c.clone(), 0).unwrap();
        assert_eq!(seqs(&rec), vec![0]);
        let lsn = wal.append(1, 1, b"one again").unwrap();
        wal.sync_blocking_to(lsn).unwrap();
    }
}

#[test]
fn a_failed_write_is_cut_back_and_the_wal_goes_on() {
    let fs = FaultFs::new(9);
    let c = fault_cfg(&fs);
    let (wal, _) = Wal::open(c.clone(), 0).unwrap();
    let lsn0 = wal.append(0, 1, b"zero").unwrap();
    fs.fail(FsOp::Write, 1, libc::ENOSPC);
    assert_eq!(wal.append(1, 1, b"does not fit").unwrap_err().code, ErrorCode::WalIo);
    let seg = c.dir.join(segment_file_name(1));
    assert_eq!(fs.read_file(&seg).unwrap().len() as u64, lsn0, "half-written frame not cut back");
    let lsn1 = wal.append(1, 1, b"fits now").unwrap();
    wal.sync_blocking_to(lsn1).unwrap();
    crash(wal, &fs);
    fs.power_loss(LossMode::DropAll);
    let (_wal, rec) = Wal::open(c, 0).unwrap();
    assert!(rec.truncations.is_empty());
    assert_eq!(seqs(&rec), vec![0, 1]);
}

/// A rotation whose new segment could not be made durable leaves no file behind, so the next
/// rotation can create the same id (before, it failed with "exists" forever).
#[test]
fn a_failed_segment_creation_can_be_retried() {
    for op in [FsOp::SyncAll, FsOp::SyncDir] {
        let fs = FaultFs::new(10);
        let c = fault_cfg(&fs);
        let (wal, _) = Wal::open(c.clone(), 0).unwrap();
        wal.append(0, 1, b"zero").unwrap();
        fs.fail(op, 1, libc::EIO);
        assert_eq!(wal.rotate().unwrap_err().code, ErrorCode::WalIo, "{op:?}");
        assert_eq!(wal.rotate().unwrap(), 2, "{op:?}");
        let lsn = wal.append(1, 1, b"one").unwrap();
        wal.sync_blocking_to(lsn).unwrap();
        crash(wal, &fs);
        fs.power_loss(LossMode::DropAll);
        let (_wal, rec) = Wal::open(c, 0).unwrap();
        assert_eq!(seqs(&rec), vec![0, 1], "{op:?}");
    }
}

/// Errors during recovery fail the open with `WAL_IO`; a later open succeeds and loses nothing.
#[test]
fn io_errors_during_recovery_fail_the_open_cleanly() {
    for op in [FsOp::Open, FsOp::Read, FsOp::SyncAll, FsOp::SyncDir, FsOp::Create, FsOp::List] {
        let fs = FaultFs::new(11);
        let c = fault_cfg(&fs);
        let (wal, _) = Wal::open(c.clone(), 0).unwrap();
        for seq in 0..3 {
            wal.append(seq, 1, &payload_for(seq)).unwrap();
        }
        crash(wal, &fs);
        fs.fail(op, 1, libc::EIO);
        let err = Wal::open(c.clone(), 0).err().unwrap_or_else(|| panic!("{op:?}: open succeeded"));
        assert_eq!(err.code, ErrorCode::WalIo, "{op:?}");
        fs.crash();
        let (_wal, rec) = Wal::open(c, 0).unwrap();
        assert_eq!(seqs(&rec), vec![0, 1, 2], "{op:?}");
    }
}

/// After a failed fsync the unwritten pages may be marked clean: still readable, never
/// written. A reopen in the same boot replays them and new records follow them; unless
/// recovery rewrites them, a power loss drops them and the newer acknowledged records end up
/// behind a gap.
#[test]
fn a_reopen_after_a_failed_fsync_persists_what_it_replays() {
    let fs = FaultFs::new(12);
    let c = fault_cfg(&fs);
    let (wal, _) = Wal::open(c.clone(), 0).unwrap();
    let lsn0 = wal.append(0, 1, b"zero").unwrap();
    wal.sync_blocking_to(lsn0).unwrap();
    let lsn1 = wal.append(1, 1, b"one").unwrap();
    fs.fail(FsOp::SyncData, 1, libc::EIO);
    assert!(wal.sync_blocking_to(lsn1).is_err());
    assert!(wal.close().is_err());
    drop(wal);

    let (wal, rec) = Wal::open(c.clone(), 0).unwrap();
    assert_eq!(seqs(&rec), vec![0, 1], "the page cache still has record 1");
    let lsn2 = wal.append(2, 1, b"two").unwrap();
    wal.sync_blocking_to(lsn2).unwrap();
    crash(wal, &fs);
    fs.power_loss(LossMode::DropAll);

    let (_wal, rec) = Wal::open(c, 0).unwrap();
    assert!(rec.quarantined.is_empty(), "{:?}", rec.quarantined);
    assert_eq!(seqs(&rec), vec![0, 1, 2]);
}
