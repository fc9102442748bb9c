//! Loss paths of the durability issue that the store itself must close: the bucket lock,
//! WAL-less opens of a bucket whose WAL holds records, durable-only visibility, single-commit
//! widening and lock-free readers. Each test failed on the code before its fix.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use persisting_core::{runtime, BucketStore, ErrorCode, PutAck, StoreOptions, WalOptions};
use serde_json::{json, Value};

fn opts(dir: &Path) -> StoreOptions {
    let mut o = StoreOptions::new(dir.to_string_lossy());
    o.flush_threshold = 1_000_000;
    o.compaction_threshold = 0;
    o
}

fn durable(dir: &Path) -> StoreOptions {
    let mut o = opts(dir);
    o.backend = "persisting".into();
    o.evolve_schema = true;
    o.wal = Some(WalOptions::new(Duration::ZERO, 100 << 20));
    o
}

fn open(o: StoreOptions) -> persisting_core::Result<Arc<BucketStore>> {
    runtime().block_on(BucketStore::open(o))
}

fn put(s: &Arc<BucketStore>, v: Value) -> PutAck {
    s.put_json(serde_json::to_vec(&v).unwrap()).unwrap()
}

/// Puts and waits for the fsync when the ack asks for it, as the binding does.
fn put_acked(s: &Arc<BucketStore>, v: Value) {
    if let PutAck::Sync(lsn) = put(s, v) {
        s.sync_wal_blocking(lsn).unwrap();
    }
}

fn read(s: &Arc<BucketStore>) -> Vec<Value> {
    let b = runtime().block_on(s.read_json(0, None)).unwrap();
    serde_json::from_slice(&b).unwrap()
}

fn seqs(rows: &[Value]) -> Vec<i64> {
    rows.iter().map(|r| r["seq"].as_i64().unwrap()).collect()
}

fn batch(range: std::ops::Range<i64>) -> Value {
    Value::Array(range.map(|i| json!({"seq": i, "s": format!("r{i}")})).collect())
}

fn close(s: &Arc<BucketStore>) {
    runtime().block_on(s.close()).unwrap()
}

#[test]
fn a_second_writer_without_wal_is_locked_out_and_the_first_keeps_working() {
    let dir = tempfile::tempdir().unwrap();
    let first = open(opts(dir.path())).unwrap();
    put(&first, batch(0..3));
    runtime().block_on(first.flush()).unwrap();
    let err = open(opts(dir.path())).err().expect("second writer must be refused");
    assert_eq!(err.code, ErrorCode::Locked, "{}", err.full_message());
    put(&first, batch(3..5));
    runtime().block_on(first.flush()).unwrap();
    assert_eq!(seqs(&read(&first)), (0..5).collect::<Vec<_>>());
    close(&first);
    let again = open(opts(dir.path())).unwrap();
    assert_eq!(again.total_count(), 5);
}

#[test]
fn with_the_wal_on_the_second_writer_gets_wal_locked_before_reading_anything() {
    let dir = tempfile::tempdir().unwrap();
    let first = open(durable(dir.path())).unwrap();
    put_acked(&first, batch(0..2));
    let err = open(durable(dir.path())).err().expect("second writer must be refused");
    assert_eq!(err.code, ErrorCode::WalLocked);
    // A WAL-less writer is refused too (the lock is the bucket's, not the WAL's).
    let err = open(opts(dir.path())).err().expect("second writer must be refused");
    assert_eq!(err.code, ErrorCode::Locked);
    close(&first);
}

#[test]
fn opening_without_the_wal_replays_and_flushes_a_wal_that_holds_records() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(durable(dir.path())).unwrap();
    put_acked(&s, batch(0..4));
    runtime().block_on(s.flush()).unwrap();
    put_acked(&s, batch(4..7));
    // Simulate a crash: copy the WAL aside while it holds rows 4..7, close, restore it.
    let wal = dir.path().join("wal");
    let saved = tempfile::tempdir().unwrap();
    for e in std::fs::read_dir(&wal).unwrap().flatten() {
        if e.file_type().unwrap().is_file() {
            std::fs::copy(e.path(), saved.path().join(e.file_name())).unwrap();
        }
    }
    drop(s); // no close: closing would flush
    for e in std::fs::read_dir(&wal).unwrap().flatten() {
        if e.file_name().to_string_lossy().starts_with("wal-") {
            std::fs::remove_file(e.path()).unwrap();
        }
    }
    for e in std::fs::read_dir(saved.path()).unwrap().flatten() {
        std::fs::copy(e.path(), wal.join(e.file_name())).unwrap();
    }
    let mut plain = opts(dir.path());
    plain.evolve_schema = true;
    let s = open(plain.clone()).unwrap();
    assert_eq!(s.total_count(), 7, "the WAL's acknowledged rows are part of the bucket");
    put(&s, batch(7..9));
    runtime().block_on(s.flush()).unwrap();
    assert_eq!(seqs(&read(&s)), (0..9).collect::<Vec<_>>());
    close(&s);
    let s = open(plain).unwrap();
    assert_eq!(seqs(&read(&s)), (0..9).collect::<Vec<_>>(), "nothing replayed twice");
}

#[test]
fn with_sync_zero_readers_see_a_put_only_once_it_is_fsynced() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(durable(dir.path())).unwrap();
    put_acked(&s, batch(0..2));
    let ack = put(&s, batch(2..5));
    let PutAck::Sync(lsn) = ack else { panic!("sync 0 must ask for an fsync, got {ack:?}") };
    assert_eq!(s.total_count(), 2, "not durable yet, so not visible");
    assert_eq!(read(&s).len(), 2);
    s.sync_wal_blocking(lsn).unwrap();
    assert_eq!(s.total_count(), 5);
    assert_eq!(seqs(&read(&s)), (0..5).collect::<Vec<_>>());
    close(&s);
}

#[test]
fn widening_is_one_commit_and_keeps_every_value() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(durable(dir.path())).unwrap();
    put_acked(&s, json!([{"seq": 0, "n": 1}, {"seq": 1, "n": 2}]));
    runtime().block_on(s.flush()).unwrap();
    put_acked(&s, json!([{"seq": 2, "n": 2.5}]));
    let before = runtime().block_on(s.versions()).unwrap().len();
    runtime().block_on(s.flush()).unwrap();
    let after = runtime().block_on(s.versions()).unwrap().len();
    // One commit for the widening and one for the append: no state in between where the old
    // values live only under a hidden column.
    assert_eq!(after - before, 2, "widen + append");
    let rows = read(&s);
    let n: Vec<f64> = rows.iter().map(|r| r["n"].as_f64().unwrap()).collect();
    assert_eq!(n, vec![1.0, 2.0, 2.5]);
    close(&s);
    let s = open(durable(dir.path())).unwrap();
    let rows = read(&s);
    assert_eq!(rows.len(), 3);
    assert!(rows.iter().all(|r| r.as_object().unwrap().keys().all(|k| !k.starts_with("__"))), "{rows:?}");
}

/// A durable writer that flushed rows 0..3, and a read-only reader of its bucket.
fn writer_with_reader(dir: &Path) -> (Arc<BucketStore>, Arc<BucketStore>) {
    let w = open(durable(dir)).unwrap();
    put_acked(&w, batch(0..3));
    runtime().block_on(w.flush()).unwrap();
    let mut ro = opts(dir);
    ro.read_only = true;
    (w, open(ro).unwrap())
}

#[test]
fn a_read_only_reader_takes_no_lock_and_follows_new_flushes() {
    let dir = tempfile::tempdir().unwrap();
    let (w, r) = writer_with_reader(dir.path());
    assert_eq!(seqs(&read(&r)), vec![0, 1, 2]);
    assert_eq!(r.put_json(b"[{\"seq\":9}]".to_vec()).err().map(|e| e.code), Some(ErrorCode::ReadOnly));
    put_acked(&w, batch(3..6));
    runtime().block_on(w.flush()).unwrap();
    let total = runtime().block_on(r.wait_for_more(3, Some(Duration::from_secs(10))));
    assert_eq!(total, 6, "a blocked reader wakes on the writer's flush");
    assert_eq!(seqs(&read(&r)), (0..6).collect::<Vec<_>>());
    close(&w);
    close(&r);
}

#[test]
fn the_bucket_lock_is_released_by_close() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(opts(dir.path())).unwrap();
    close(&s);
    let s2 = open(opts(dir.path())).unwrap();
    close(&s2);
    drop(s);
}

#[test]
fn an_idle_reader_backs_off_across_waits_and_wakes_on_a_flush() {
    let dir = tempfile::tempdir().unwrap();
    let (w, r) = writer_with_reader(dir.path());
    // Four waits of 500 ms with nothing new, as a blocking stream makes them. Starting each
    // wait over at a few ms would look about 8 times per wait (32); keeping the pause, the
    // later waits look every 250 ms. A slower machine only looks less often.
    let before = r.version_checks();
    for _ in 0..4 {
        assert_eq!(runtime().block_on(r.wait_for_more(3, Some(Duration::from_millis(500)))), 3);
    }
    let looks = r.version_checks() - before;
    assert!(looks < 24, "an idle reader looked {looks} times in 2 s");
    put_acked(&w, batch(3..5));
    runtime().block_on(w.flush()).unwrap();
    assert_eq!(runtime().block_on(r.wait_for_more(3, Some(Duration::from_secs(10)))), 5);
    close(&w);
    close(&r);
}
