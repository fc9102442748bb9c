//! Crashes and power losses on the simulated file system ([`FaultFs`]).

use super::*;
use crate::wal::fault_fs::{FaultFs, LossMode};
use std::sync::Arc;

/// The WAL directory's parent already exists (the store creates it) and is durable.
pub(super) fn fault_cfg(fs: &FaultFs) -> WalConfig {
    fs.durable_dir(Path::new("/bucket"));
    WalConfig { dir: PathBuf::from("/bucket/wal"), fs: Arc::new(fs.clone()), ..WalConfig::default() }
}

/// The process dies with the WAL open: nothing of it runs (no close, no final sync).
pub(super) fn crash(wal: Wal, fs: &FaultFs) {
    std::mem::forget(wal);
    fs.crash();
}

/// Loss path A: frames replayed after a process crash were only in the page cache. The next
/// session acknowledges new records with fsyncs of its own segment only; unless recovery made
/// the replayed segment durable, a power loss then drops the older records and leaves the
/// acknowledged ones behind a gap.
#[test]
fn replayed_segments_are_durable_before_new_appends() {
    let fs = FaultFs::new(1);
    let (wal, _) = Wal::open(fault_cfg(&fs), 0).unwrap();
    for seq in 0..5 {
        wal.append(seq, 1, &payload_for(seq)).unwrap();
    }
    crash(wal, &fs);

    let (wal, rec) = Wal::open(fault_cfg(&fs), 0).unwrap();
    assert_eq!(rec.entries, (0..5).map(entry).collect::<Vec<_>>());
    let seg1 = PathBuf::from("/bucket/wal").join(segment_file_name(1));
    assert!(fs.is_durable(&seg1), "recovery kept segment 1 but did not make it durable");
    let mut lsn = 0;
    for seq in 5..10 {
        lsn = wal.append(seq, 1, &payload_for(seq)).unwrap();
    }
    wal.sync_blocking_to(lsn).unwrap();
    crash(wal, &fs);
    fs.power_loss(LossMode::DropAll);

    let (_wal, rec) = Wal::open(fault_cfg(&fs), 0).unwrap();
    assert_eq!(rec.entries, (0..10).map(entry).collect::<Vec<_>>());
}
