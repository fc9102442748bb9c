//! Group commit and the interval syncer.

use super::*;
use std::sync::Arc;
use std::thread;

#[test]
fn group_commit_shares_fsyncs() {
    let tmp = tempfile::tempdir().unwrap();
    let (wal, _) = Wal::open(cfg(tmp.path()), 0).unwrap();
    let wal = Arc::new(wal);
    // Sequence numbers are handed out in append order, as the store does.
    let next_seq = Arc::new(std::sync::Mutex::new(0u64));
    const TASKS: u64 = 64;
    const PER_TASK: u64 = 50;
    let mut handles = Vec::new();
    for _ in 0..TASKS {
        let wal = wal.clone();
        let next_seq = next_seq.clone();
        handles.push(thread::spawn(move || {
            for _ in 0..PER_TASK {
                let lsn = {
                    let mut next = next_seq.lock().unwrap();
                    let seq = *next;
                    *next += 1;
                    wal.append(seq, 1, &payload_for(seq)).unwrap()
                };
                wal.sync_blocking_to(lsn).unwrap();
                // Acknowledged: must already be covered by a completed fsync.
                assert!(lock(&wal.inner.sync).synced >= lsn);
            }
        }));
    }
    for h in handles {
        h.join().unwrap();
    }
    let appends = TASKS * PER_TASK;
    let fsyncs = wal.fsync_count();
    eprintln!("group commit: {appends} appends, {fsyncs} fsyncs");
    assert!(fsyncs >= 1);
    assert!(fsyncs < appends / 2, "{fsyncs} fsyncs for {appends} appends");
    let wal = Arc::into_inner(wal).expect("no other references");
    drop(wal);
    let (_wal, rec) = Wal::open(cfg(tmp.path()), 0).unwrap();
    assert!(rec.truncations.is_empty() && rec.quarantined.is_empty());
    assert_eq!(rec.entries, (0..appends).map(entry).collect::<Vec<_>>());
}

#[test]
fn sync_is_immediate_when_already_durable_and_counts_fsyncs() {
    let tmp = tempfile::tempdir().unwrap();
    let (wal, _) = Wal::open(cfg(tmp.path()), 0).unwrap();
    wal.sync_blocking_to(0).unwrap();
    assert_eq!(wal.fsync_count(), 0);
    let lsn = wal.append(0, 1, b"a").unwrap();
    wal.sync_blocking_to(lsn).unwrap();
    assert_eq!(wal.fsync_count(), 1);
    wal.sync_blocking_to(lsn).unwrap();
    wal.sync_blocking().unwrap();
    assert_eq!(wal.fsync_count(), 1, "nothing new to sync");
    // An LSN beyond what was written is clamped rather than waited on forever.
    wal.sync_blocking_to(lsn + 1_000_000).unwrap();
    wal.append(1, 1, b"b").unwrap();
    wal.sync_blocking().unwrap();
    assert_eq!(wal.fsync_count(), 2);
}

#[test]
fn background_thread_syncs_on_interval_and_stops_on_drop() {
    let tmp = tempfile::tempdir().unwrap();
    let c = WalConfig { sync_interval: Duration::from_millis(20), ..cfg(tmp.path()) };
    let (wal, _) = Wal::open(c.clone(), 0).unwrap();
    let weak = Arc::downgrade(&wal.inner);
    thread::sleep(Duration::from_millis(100));
    assert_eq!(wal.fsync_count(), 0, "nothing written, nothing to sync");
    let lsn = wal.append(0, 1, b"x").unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while lock(&wal.inner.sync).synced < lsn {
        assert!(std::time::Instant::now() < deadline, "background sync never happened");
        thread::sleep(Duration::from_millis(5));
    }
    assert!(wal.fsync_count() >= 1);
    drop(wal);
    assert!(weak.upgrade().is_none(), "background thread kept the WAL alive");
    let (_wal, rec) = Wal::open(c, 0).unwrap();
    assert_eq!(rec.entries.len(), 1);
}
