//! An I/O error in a flush stops the bucket; reopening reconciles from disk. Its own test
//! binary: injected errors are process-wide.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use persisting_core::{fault, runtime, BucketStore, ErrorCode, PutAck, StoreOptions, WalOptions};
use serde_json::{json, Value};

fn durable(dir: &Path) -> StoreOptions {
    let mut o = StoreOptions::new(dir.to_string_lossy());
    o.flush_threshold = 1_000_000;
    o.compaction_threshold = 0;
    o.evolve_schema = true;
    o.wal = Some(WalOptions::new(Duration::ZERO, 100 << 20));
    o
}

fn put_acked(s: &Arc<BucketStore>, range: std::ops::Range<i64>) {
    let v = Value::Array(range.map(|i| json!({"seq": i})).collect());
    if let PutAck::Sync(lsn) = s.put_json(serde_json::to_vec(&v).unwrap()).unwrap() {
        s.sync_wal_blocking(lsn).unwrap();
    }
}

fn seqs(s: &Arc<BucketStore>) -> Vec<i64> {
    let b = runtime().block_on(s.read_json(0, None)).unwrap();
    let rows: Vec<Value> = serde_json::from_slice(&b).unwrap();
    rows.iter().map(|r| r["seq"].as_i64().unwrap()).collect()
}

/// Each point on the flush path fails once (the retry would "succeed", as Linux reports an
/// fsync error once): the bucket stops, and the reopen has every row exactly once.
#[test]
fn an_error_anywhere_in_a_flush_fails_stop_and_reopen_has_no_duplicate() {
    for point in
        ["before_lance_commit", "after_lance_commit", "after_lance_fsync", "after_buffer_drain", "after_wal_truncate"]
    {
        let dir = tempfile::tempdir().unwrap();
        let s = runtime().block_on(BucketStore::open(durable(dir.path()))).unwrap();
        put_acked(&s, 0..5);
        runtime().block_on(s.flush()).unwrap();
        put_acked(&s, 5..9);
        fault::arm_error(Some(point));
        let err = runtime().block_on(s.flush()).expect_err(point);
        fault::arm_error(None);
        assert!(err.full_message().contains("injected"), "{point}: {}", err.full_message());
        // Fail-stop: a retry must not append the same rows again.
        let again = runtime().block_on(s.flush()).expect_err("flush after a failed flush");
        assert_eq!(again.code, ErrorCode::BucketFailed, "{point}");
        let put = s.put_json(b"[{\"seq\":99}]".to_vec()).expect_err("put after a failed flush");
        assert_eq!(put.code, ErrorCode::BucketFailed, "{point}");
        assert_eq!(runtime().block_on(s.read_json(0, None)).expect_err("read").code, ErrorCode::BucketFailed);
        assert!(s.stats().failed.is_some());
        runtime().block_on(s.close()).unwrap();
        let s = runtime().block_on(BucketStore::open(durable(dir.path()))).unwrap();
        assert_eq!(seqs(&s), (0..9).collect::<Vec<_>>(), "{point}: every row exactly once");
        put_acked(&s, 9..11);
        runtime().block_on(s.flush()).unwrap();
        runtime().block_on(s.close()).unwrap();
        let s = runtime().block_on(BucketStore::open(durable(dir.path()))).unwrap();
        assert_eq!(seqs(&s), (0..11).collect::<Vec<_>>(), "{point}");
        runtime().block_on(s.close()).unwrap();
    }
}
