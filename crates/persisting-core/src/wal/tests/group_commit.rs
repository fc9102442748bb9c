//! Group commit and the interval syncer.

use super::*;
use std::sync::Arc;
use std::thread;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn group_commit_shares_fsyncs() {
    let tmp = tempfile::tempdir().unwrap();
    let (wal, _) = Wal::open(cfg(tmp.path()), 0).unwrap();
    let wal = Arc::new(wal);
    const TASKS: u64 = 64;
    const PER_TASK: u64 = 50;
    let mut handles = Vec::new();
    for t in 0..TASKS {
        let wal = wal.clone();
        handles.push(tokio::spawn(async move {
            for i in 0..PER_TASK {
                let seq = t * 1000 + i;
                let lsn = wal.append(seq, 1, &payload_for(seq)).unwrap();
                wal.sync(lsn).await.unwrap();
                // Acknowledged: must already be covered by a completed fsync.
                assert!(lock(&wal.inner.sync).synced >= lsn);
            }
        }));
    }
    for h in handles {
        h.await.unwrap();
    }
    let appends = TASKS * PER_TASK;
    let fsyncs = wal.fsync_count();
    eprintln!("group commit: {appends} appends, {fsyncs} fsyncs");
    assert!(fsyncs >= 1);
    assert!(fsyncs < appends / 2, "{fsyncs} fsyncs for {appends} appends");
    let wal = Arc::into_inner(wal).expect("no other references");
    drop(wal);
    let (_wal, rec) = Wal::open(cfg(tmp.path()), 0).unwrap();
    let mut got: Vec<u64> = rec.entries.iter().map(|e| e.first_seq).collect();
    assert_eq!(got.len() as u64, appends);
    for e in &rec.entries {
        assert_eq!(e.payload, payload_for(e.first_seq));
    }
    got.sort_unstable();
    let want: Vec<u64> = (0..TASKS).flat_map(|t| (0..PER_TASK).map(move |i| t * 1000 + i)).collect();
    assert_eq!(got, want);
}

#[tokio::test]
async fn sync_is_immediate_when_already_durable_and_counts_fsyncs() {
    let tmp = tempfile::tempdir().unwrap();
    let (wal, _) = Wal::open(cfg(tmp.path()), 0).unwrap();
    wal.sync(0).await.unwrap();
    assert_eq!(wal.fsync_count(), 0);
    let lsn = wal.append(0, 1, b"a").unwrap();
    wal.sync(lsn).await.unwrap();
    assert_eq!(wal.fsync_count(), 1);
    wal.sync(lsn).await.unwrap();
    wal.sync_blocking().unwrap();
    assert_eq!(wal.fsync_count(), 1, "nothing new to sync");
    // An LSN beyond what was written is clamped rather than waited on forever.
    wal.sync(lsn + 1_000_000).await.unwrap();
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
