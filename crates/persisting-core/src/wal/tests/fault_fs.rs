//! The simulated file system itself: what a power loss keeps and what it throws away.

use crate::wal::fault_fs::{FaultFs, FsOp, LossMode};
use crate::wal::WalFs;
use std::path::Path;

fn setup() -> (FaultFs, &'static Path) {
    let fs = FaultFs::new(3);
    let dir = Path::new("/d");
    fs.durable_dir(dir);
    (fs, dir)
}

#[test]
fn power_loss_keeps_exactly_what_was_synced() {
    let (fs, dir) = setup();
    let p = dir.join("f");
    let f = fs.create_new(&p).unwrap();
    fs.sync_dir(dir).unwrap();
    f.write_all_at(b"synced", 0).unwrap();
    f.sync_data().unwrap();
    f.write_all_at(b" lost", 6).unwrap();
    assert_eq!(fs.read_file(&p).unwrap(), b"synced lost");
    assert!(!fs.is_durable(&p));
    fs.power_loss(LossMode::DropAll);
    assert_eq!(fs.read_file(&p).unwrap(), b"synced");
    assert!(f.write_all_at(b"x", 0).is_err(), "handles from before the crash must not work");
}

#[test]
fn directory_changes_need_a_directory_fsync() {
    let (fs, dir) = setup();
    let (a, b, c) = (dir.join("a"), dir.join("b"), dir.join("c"));
    fs.put_file(&a, b"a");
    fs.put_file(&b, b"b");
    let f = fs.create_new(&c).unwrap();
    f.write_all_at(b"c", 0).unwrap();
    f.sync_all().unwrap(); // the file's data, not its name
    fs.rename(&a, &dir.join("a2")).unwrap();
    fs.remove_file(&b).unwrap();
    assert_eq!(fs.list_dir(dir), vec!["a2", "c"]);
    fs.power_loss(LossMode::DropAll);
    assert_eq!(fs.list_dir(dir), vec!["a", "b"], "unsynced create, rename and remove are undone");

    let f = fs.create_new(&c).unwrap();
    f.sync_all().unwrap();
    fs.rename(&a, &dir.join("a2")).unwrap();
    fs.sync_dir(dir).unwrap();
    fs.power_loss(LossMode::DropAll);
    assert_eq!(fs.list_dir(dir), vec!["a2", "b", "c"]);
}

#[test]
fn a_failed_fsync_loses_the_data_for_good() {
    let (fs, dir) = setup();
    let p = dir.join("f");
    fs.put_file(&p, b"");
    let f = fs.open(&p).unwrap();
    f.write_all_at(b"data", 0).unwrap();
    fs.fail(FsOp::SyncData, 1, libc::EIO);
    assert_eq!(f.sync_data().unwrap_err().raw_os_error(), Some(libc::EIO));
    assert_eq!(fs.read_file(&p).unwrap(), b"data", "still in the page cache");
    f.sync_data().unwrap(); // "succeeds"
    fs.power_loss(LossMode::DropAll);
    assert_eq!(fs.read_file(&p).unwrap(), b"");
}

#[test]
fn partial_loss_modes_keep_prefixes_or_subsets_of_unsynced_writes() {
    let mut seen_prefix = std::collections::BTreeSet::new();
    let mut seen_subset = std::collections::BTreeSet::new();
    for seed in 0..200 {
        for (mode, seen) in [(LossMode::KeepPrefix, &mut seen_prefix), (LossMode::RandomSubset, &mut seen_subset)] {
            let fs = FaultFs::new(seed);
            let dir = Path::new("/d");
            fs.durable_dir(dir);
            let p = dir.join("f");
            fs.put_file(&p, b"");
            let f = fs.open(&p).unwrap();
            for (i, w) in [b"aa", b"bb", b"cc"].iter().enumerate() {
                f.write_all_at(*w, i as u64 * 2).unwrap();
            }
            fs.power_loss(mode);
            let got = fs.read_file(&p).unwrap();
            if mode == LossMode::KeepPrefix {
                assert!(b"aabbcc".starts_with(&got), "{got:?}");
            }
            seen.insert(got);
        }
    }
    // Every prefix length, torn writes included.
    assert_eq!(seen_prefix.len(), 7, "{seen_prefix:?}");
    // Holes (zeros) before surviving writes.
    assert!(
        seen_subset.contains(b"\0\0bbcc".as_slice()) && seen_subset.contains(b"aa\0\0cc".as_slice()),
        "{seen_subset:?}"
    );
}
