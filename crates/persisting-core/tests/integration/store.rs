//! BucketStore on real Lance datasets in temp dirs.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use persisting_core::{runtime, BucketStore, Compression, ErrorCode, PutAck, StoreOptions, WalOptions};
use serde_json::{json, Value};

pub(super) fn opts(dir: &Path) -> StoreOptions {
    let mut o = StoreOptions::new(dir.to_string_lossy());
    o.flush_threshold = 1_000_000;
    o.compaction_threshold = 0;
    o
}

pub(super) fn open(o: StoreOptions) -> Arc<BucketStore> {
    runtime().block_on(BucketStore::open(o)).unwrap()
}

fn put(s: &Arc<BucketStore>, v: Value) -> persisting_core::Result<PutAck> {
    s.put_json(serde_json::to_vec(&v).unwrap())
}

pub(super) fn read(s: &Arc<BucketStore>, offset: u64, limit: Option<u64>) -> Vec<Value> {
    let b = runtime().block_on(s.read_json(offset, limit)).unwrap();
    serde_json::from_slice(&b).unwrap()
}

pub(super) fn flush(s: &Arc<BucketStore>) {
    runtime().block_on(s.flush()).unwrap()
}

fn rows(range: std::ops::Range<i64>) -> Value {
    Value::Array(range.map(|i| json!({"id": format!("k{i}"), "n": i, "x": i as f64 + 0.5})).collect())
}

fn data_files(dir: &Path) -> BTreeSet<(String, Vec<u8>)> {
    let data = dir.join("data.lance").join("data");
    std::fs::read_dir(&data)
        .map(|rd| {
            rd.flatten()
                .map(|e| (e.file_name().to_string_lossy().into_owned(), std::fs::read(e.path()).unwrap()))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn put_flush_read_and_reopen_keep_values_and_order() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(opts(dir.path()));
    put(&s, rows(0..5)).unwrap();
    assert_eq!(s.total_count(), 5);
    flush(&s);
    put(&s, rows(5..8)).unwrap();
    let all = read(&s, 0, None);
    assert_eq!(all.len(), 8);
    assert_eq!(all[6]["id"], "k6");
    assert_eq!(all[6]["n"], 6);
    assert_eq!(all[6]["x"], 6.5);
    // across the persisted/buffer boundary
    let mid = read(&s, 3, Some(4));
    assert_eq!(mid.iter().map(|r| r["n"].as_i64().unwrap()).collect::<Vec<_>>(), vec![3, 4, 5, 6]);
    runtime().block_on(s.close()).unwrap();
    let s2 = open(opts(dir.path()));
    assert_eq!(s2.total_count(), 8);
    assert_eq!(read(&s2, 0, None), all);
}

#[test]
fn each_flush_appends_one_version_and_leaves_data_files_alone() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(opts(dir.path()));
    put(&s, rows(0..10)).unwrap();
    flush(&s);
    let v1 = runtime().block_on(s.versions()).unwrap();
    let files1 = data_files(dir.path());
    put(&s, rows(10..20)).unwrap();
    flush(&s);
    let v2 = runtime().block_on(s.versions()).unwrap();
    let files2 = data_files(dir.path());
    assert_eq!(v2.len(), v1.len() + 1);
    assert!(files1.is_subset(&files2), "existing data files changed");
    assert_eq!(files2.len(), files1.len() + 1);
    // the older version shows exactly what was stored then
    let old = runtime().block_on(s.checkout(v1.last().unwrap().0)).unwrap();
    assert_eq!(old.total_count(), 10);
    assert_eq!(read(&old, 0, None), read(&s, 0, Some(10)));
    assert_eq!(put(&old, rows(0..1)).unwrap_err().code, ErrorCode::ReadOnly);
}

#[test]
fn fixed_schema_rejects_new_fields_and_type_changes_without_losing_data() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(opts(dir.path()));
    put(&s, json!([{"id": "a", "n": 1}, {"id": "b", "n": 2, "extra": "merged before the first flush"}])).unwrap();
    flush(&s);
    let e = put(&s, json!([{"id": "c", "n": 3, "brand_new": true}])).unwrap_err();
    assert_eq!(e.code, ErrorCode::SchemaMismatch);
    assert!(e.message.contains("brand_new"), "{}", e.message);
    let e = put(&s, json!([{"id": "c", "n": "three"}])).unwrap_err();
    assert_eq!(e.code, ErrorCode::SchemaMismatch);
    assert!(e.message.contains("'n'"), "{}", e.message);
    let e = put(&s, json!([{"id": 7}])).unwrap_err();
    assert_eq!(e.code, ErrorCode::SchemaMismatch);
    // a missing field reads as null
    put(&s, json!([{"id": "d"}])).unwrap();
    let all = read(&s, 0, None);
    assert_eq!(all.len(), 3);
    assert_eq!(all[0]["extra"], Value::Null);
    assert_eq!(all[2]["n"], Value::Null);
}

#[test]
fn evolving_schema_adds_fields_and_widens_ints() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = opts(dir.path());
    o.evolve_schema = true;
    let s = open(o.clone());
    put(&s, json!([{"id": "a", "n": 1}])).unwrap();
    flush(&s);
    put(&s, json!([{"id": "b", "n": 2.5, "tag": "new"}])).unwrap();
    flush(&s);
    let all = read(&s, 0, None);
    assert_eq!(all[0]["tag"], Value::Null);
    assert_eq!(all[0]["n"].as_f64(), Some(1.0));
    assert_eq!(all[1]["n"].as_f64(), Some(2.5));
    assert_eq!(all[1]["tag"], "new");
    let e = put(&s, json!([{"id": "c", "tag": 5}])).unwrap_err();
    assert_eq!(e.code, ErrorCode::SchemaMismatch);
    assert!(e.message.contains("tag"));
    runtime().block_on(s.close()).unwrap();
    let s2 = open(o);
    assert_eq!(read(&s2, 0, None), all);
}

#[test]
fn nested_nulls_and_vectors_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(opts(dir.path()));
    let recs = json!([
        {"id": "a", "meta": {"k": "v", "w": 1.5}, "tags": ["x", "y"], "v": [1.0, 0.0], "maybe": null},
        {"id": "b", "meta": {"k": "u", "w": 2}, "tags": [], "v": [0.5, 0.25], "maybe": "set"}
    ]);
    put(&s, recs.clone()).unwrap();
    let before = read(&s, 0, None);
    flush(&s);
    let after = read(&s, 0, None);
    assert_eq!(before, after);
    assert_eq!(after[0]["meta"]["k"], "v");
    assert_eq!(after[1]["meta"]["w"].as_f64(), Some(2.0));
    assert_eq!(after[0]["tags"], json!(["x", "y"]));
    assert_eq!(after[1]["v"], json!([0.5, 0.25]));
    assert_eq!(after[0]["maybe"], Value::Null);
}

#[test]
fn search_finds_the_true_nearest_and_index_keeps_answers() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(opts(dir.path()));
    let recs: Vec<Value> = (0..300)
        .map(|i| json!({"id": format!("p{i}"), "vector": [i as f64, (i * 2) as f64, 1.0], "plain": [i, 1]}))
        .collect();
    put(&s, Value::Array(recs)).unwrap();
    let hits: Vec<Value> =
        serde_json::from_slice(&runtime().block_on(s.search_json("vector", &[42.2, 84.3, 1.0], 3)).unwrap()).unwrap();
    assert_eq!(hits[0]["id"], "p42");
    assert!(hits[0]["_distance"].as_f64().unwrap() <= hits[1]["_distance"].as_f64().unwrap());
    runtime().block_on(s.create_index("vector")).unwrap();
    let hits: Vec<Value> =
        serde_json::from_slice(&runtime().block_on(s.search_json("vector", &[100.0, 200.0, 1.0], 1)).unwrap()).unwrap();
    assert_eq!(hits[0]["id"], "p100");
    let e = runtime().block_on(s.search_json("id", &[1.0], 1)).unwrap_err();
    assert_eq!(e.code, ErrorCode::SchemaMismatch);
    // Only a field named `vector` is a vector column; other number arrays stay exact lists.
    let e = runtime().block_on(s.search_json("plain", &[1.0, 1.0], 1)).unwrap_err();
    assert_eq!(e.code, ErrorCode::SchemaMismatch);
    assert_eq!(read(&s, 7, Some(1))[0]["plain"], json!([7, 1]));
}

#[test]
fn numbers_keep_their_values_and_widen_even_on_a_fixed_schema() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(opts(dir.path()));
    let first = json!([{"id": "a", "n": 16777217, "ts": [16777217, 1700000000123i64], "x": [0.1, 1e300], "safe": 9007199254740991i64}]);
    put(&s, first.clone()).unwrap();
    flush(&s);
    assert_eq!(read(&s, 0, None), first.as_array().unwrap().clone());
    // An integer beyond i64 (what JSON.stringify writes for 1e19) and fractions widen the
    // stored Int64 columns instead of failing; stored rows keep their values.
    put(&s, json!([{"id": "b", "n": 10000000000000000000u64, "ts": [0.5]}])).unwrap();
    put(&s, json!([{"id": "c", "n": 2.5}])).unwrap();
    flush(&s);
    let check = |all: &[Value]| {
        assert_eq!(all[0]["n"].as_f64(), Some(16777217.0));
        assert_eq!(all[0]["ts"][1].as_f64(), Some(1700000000123.0));
        assert_eq!(all[0]["x"], json!([0.1, 1e300]));
        assert_eq!(all[0]["safe"].as_f64(), Some(9007199254740991.0));
        assert_eq!(all[1]["n"].as_f64(), Some(1e19));
        assert_eq!(all[1]["ts"], json!([0.5]));
        assert_eq!(all[2]["n"].as_f64(), Some(2.5));
    };
    check(&read(&s, 0, None));
    runtime().block_on(s.close()).unwrap();
    let s = open(opts(dir.path()));
    check(&read(&s, 0, None));
    // In a brand-new bucket, 1e19 is a float from the start.
    let dir2 = tempfile::tempdir().unwrap();
    let s2 = open(opts(dir2.path()));
    put(&s2, json!([{"n": 10000000000000000000u64}])).unwrap();
    flush(&s2);
    assert_eq!(read(&s2, 0, None)[0]["n"].as_f64(), Some(1e19));
}

#[test]
fn a_field_null_in_the_first_flush_takes_a_later_type_also_after_reopen() {
    for evolve in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let mut o = opts(dir.path());
        o.evolve_schema = evolve;
        let s = open(o.clone());
        put(&s, json!([{"id": "a", "maybe": null}, {"id": "b", "maybe": null}])).unwrap();
        flush(&s);
        assert_eq!(read(&s, 0, None)[0], json!({"id": "a", "maybe": null}));
        runtime().block_on(s.close()).unwrap();
        let s = open(o.clone());
        assert_eq!(read(&s, 0, None)[1], json!({"id": "b", "maybe": null}));
        put(&s, json!([{"id": "c", "maybe": 7}])).unwrap();
        assert_eq!(read(&s, 0, None)[0], json!({"id": "a", "maybe": null}), "evolve {evolve}");
        flush(&s);
        // Typed now: a string no longer fits.
        let e = put(&s, json!([{"id": "d", "maybe": "x"}])).unwrap_err();
        assert_eq!(e.code, ErrorCode::SchemaMismatch);
        runtime().block_on(s.close()).unwrap();
        let s = open(o);
        let all = read(&s, 0, None);
        assert_eq!(
            all,
            vec![json!({"id": "a", "maybe": null}), json!({"id": "b", "maybe": null}), json!({"id": "c", "maybe": 7})]
        );
    }
}

#[test]
fn an_evolving_bucket_remembers_a_later_all_null_field() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = opts(dir.path());
    o.evolve_schema = true;
    let s = open(o.clone());
    put(&s, json!([{"id": "a"}])).unwrap();
    flush(&s);
    put(&s, json!([{"id": "b", "later": null}])).unwrap();
    flush(&s);
    runtime().block_on(s.close()).unwrap();
    let s = open(o.clone());
    assert_eq!(read(&s, 0, None), vec![json!({"id": "a", "later": null}), json!({"id": "b", "later": null})]);
    put(&s, json!([{"id": "c", "later": [1, 2]}])).unwrap();
    flush(&s);
    runtime().block_on(s.close()).unwrap();
    let s = open(o);
    assert_eq!(read(&s, 2, None), vec![json!({"id": "c", "later": [1, 2]})]);
    assert_eq!(read(&s, 0, Some(1)), vec![json!({"id": "a", "later": null})]);
}

#[test]
fn compaction_reduces_fragments_and_keeps_rows_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(opts(dir.path()));
    for i in 0..6 {
        put(&s, rows(i * 10..i * 10 + 10)).unwrap();
        flush(&s);
    }
    let before = read(&s, 0, None);
    assert_eq!(s.stats().fragments, 6);
    runtime().block_on(s.compact()).unwrap();
    assert!(s.stats().fragments < 6);
    assert_eq!(read(&s, 0, None), before);
}

#[test]
fn automatic_flush_and_compaction_bound_fragments() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = opts(dir.path());
    o.flush_threshold = 10;
    o.compaction_threshold = 4;
    let s = open(o);
    for i in 0..20 {
        put(&s, rows(i * 10..i * 10 + 10)).unwrap();
        runtime().block_on(async { tokio::time::sleep(Duration::from_millis(5)).await });
    }
    flush(&s);
    assert_eq!(s.total_count(), 200);
    assert!(s.stats().fragments <= 5, "fragments {}", s.stats().fragments);
    let all = read(&s, 0, None);
    assert_eq!(all.iter().map(|r| r["n"].as_i64().unwrap()).collect::<Vec<_>>(), (0..200).collect::<Vec<_>>());
}

#[test]
fn wal_replays_unflushed_records_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    for c in [Compression::None, Compression::Zstd, Compression::Lz4, Compression::Snappy] {
        let sub = dir.path().join(format!("{c:?}"));
        let mut o = opts(&sub);
        o.evolve_schema = true;
        o.compression = c;
        o.wal = Some(WalOptions::new(Duration::ZERO, 1 << 20));
        let s = open(o.clone());
        put(&s, rows(0..5)).unwrap();
        flush(&s);
        if let PutAck::Sync(lsn) = put(&s, rows(5..9)).unwrap() {
            s.sync_wal_blocking(lsn).unwrap();
        } else {
            panic!("walSyncInterval 0 must ask for a sync");
        }
        // no flush, no close: the buffer dies with the store, the WAL keeps the records
        drop(s);
        let s2 = open(o.clone());
        assert_eq!(s2.total_count(), 9, "{c:?}");
        let all = read(&s2, 0, None);
        assert_eq!(all.iter().map(|r| r["n"].as_i64().unwrap()).collect::<Vec<_>>(), (0..9).collect::<Vec<_>>());
        runtime().block_on(s2.close()).unwrap();
        let s3 = open(o);
        assert_eq!(s3.total_count(), 9);
        assert_eq!(s3.stats().buffer_count, 0);
    }
}

#[test]
fn second_writer_on_a_bucket_gets_wal_locked() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = opts(dir.path());
    o.wal = Some(WalOptions::new(Duration::from_secs(1), 1 << 20));
    let _s = open(o.clone());
    let e = runtime().block_on(BucketStore::open(o)).err().unwrap();
    assert_eq!(e.code, ErrorCode::WalLocked);
}

#[test]
fn bad_input_is_rejected_with_codes() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(opts(dir.path()));
    put(&s, rows(0..2)).unwrap();
    assert_eq!(s.put_json(b"[1,2]".to_vec()).unwrap_err().code, ErrorCode::InvalidRecord);
    assert_eq!(s.put_json(b"[{\"id\":".to_vec()).unwrap_err().code, ErrorCode::InvalidRecord);
    assert_eq!(s.total_count(), 2);
    assert_eq!(read(&s, 0, None).len(), 2);
}

#[test]
fn buffered_rows_read_the_same_before_and_after_flush_across_schema_changes() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = opts(dir.path());
    o.evolve_schema = true;
    let s = open(o.clone());
    put(&s, rows(0..3)).unwrap(); // inferred
    for i in 3..50 {
        // flat rows that fit: accepted undecoded, appended to one raw chunk
        put(&s, rows(i..i + 1)).unwrap();
    }
    assert_eq!(read(&s, 10, Some(2)), vec![rows(10..11)[0].clone(), rows(11..12)[0].clone()]);
    put(&s, rows(50..52)).unwrap(); // after the read: a fresh chunk
    put(&s, json!([{"id": "k52", "n": 52, "x": 52.5, "extra": true}])).unwrap(); // new field
    put(&s, json!([{"id": "k53", "n": 53.25, "x": 53.5}])).unwrap(); // int -> float
    put(&s, rows(54..60)).unwrap(); // fits the widened schema: raw again
    s.put_json(br#"[{"id":"\u00e9k60","n":60,"x":60.5}]"#.to_vec()).unwrap(); // escape: decoded at once
    let before = read(&s, 0, None);
    assert_eq!(before.len(), 61);
    assert_eq!(before[20]["n"].as_f64(), Some(20.0));
    assert_eq!(before[53]["n"].as_f64(), Some(53.25));
    assert_eq!(before[52]["extra"], json!(true));
    assert_eq!(before[5]["extra"], Value::Null);
    assert_eq!(before[60]["id"], json!("ék60"));
    flush(&s);
    assert_eq!(read(&s, 0, None), before);
    runtime().block_on(s.close()).unwrap();
    let s2 = open(o);
    assert_eq!(read(&s2, 0, None), before);
}

/// Long reads of flushed rows scan the fragments that hold them; any window (mid-fragment to
/// mid-fragment, across a schema change, after compaction) holds exactly the rows a row-by-row
/// read does, and a reader alternating with single puts sees each one.
#[test]
fn long_reads_across_fragments_hold_the_same_rows_as_short_ones() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = opts(dir.path());
    o.evolve_schema = true;
    let s = open(o);
    // Fragments of 30k, 30k, 25k (+ a new field), 20k rows.
    for (from, to) in [(0, 30_000), (30_000, 60_000), (60_000, 85_000), (85_000, 105_000)] {
        if from == 60_000 {
            let v: Vec<Value> =
                (from..to).map(|i| json!({"id": format!("k{i}"), "n": i, "x": i as f64 + 0.5, "tag": i % 3})).collect();
            put(&s, Value::Array(v)).unwrap();
        } else {
            put(&s, rows(from..to)).unwrap();
        }
        flush(&s);
    }
    let check = |rows: &[Value], from: i64| {
        for (k, r) in rows.iter().enumerate() {
            let i = from + k as i64;
            assert_eq!(r["id"], json!(format!("k{i}")), "row {i}");
            assert_eq!(r["n"].as_i64(), Some(i), "row {i}");
            let tag = if (60_000..85_000).contains(&i) { json!(i % 3) } else { Value::Null };
            assert_eq!(r["tag"], tag, "row {i}");
        }
    };
    for (offset, limit) in
        [(0, None), (12_345, Some(70_000)), (29_999, Some(65_536)), (59_000, Some(46_000)), (100, Some(65_535))]
    {
        let got = read(&s, offset, limit);
        let want_len = limit.map_or(105_000 - offset, |l| l.min(105_000 - offset));
        assert_eq!(got.len() as u64, want_len, "read {offset} +{limit:?}");
        check(&got, offset as i64);
        // The same window in short reads (row offsets taken one range at a time).
        let short: Vec<Value> =
            (0..want_len).step_by(5_000).flat_map(|k| read(&s, offset + k, Some(5_000.min(want_len - k)))).collect();
        assert_eq!(short, got, "read {offset} +{limit:?}");
    }
    runtime().block_on(s.compact()).unwrap();
    check(&read(&s, 7, Some(100_000)), 7);
    // A tail reader alternating with single puts: each read sees exactly the new row.
    for i in 105_000..105_300 {
        put(&s, rows(i..i + 1)).unwrap();
        let got = read(&s, i as u64, Some(10));
        assert_eq!(got.len(), 1, "row {i}");
        check(&got, i);
    }
    check(&read(&s, 104_900, None), 104_900);
}

#[test]
fn a_lone_surrogate_is_either_rejected_or_kept() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(opts(dir.path()));
    put(&s, rows(0..2)).unwrap();
    let r = s.put_json(br#"[{"id":"\ud800","n":2,"x":2.5}]"#.to_vec());
    let expected = if r.is_ok() { 3 } else { 2 };
    assert_eq!(s.total_count(), expected);
    flush(&s);
    assert_eq!(read(&s, 0, None).len() as u64, expected);
    assert_eq!(s.stats().persisted_count, expected);
}

#[test]
fn buffered_bytes_stay_under_max_buffer_bytes_with_back_pressure() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = opts(dir.path());
    o.max_buffer_bytes = 1 << 20;
    let s = open(o);
    let pad = "x".repeat(64 * 1024);
    let mut waits = 0;
    let mut peak = 0;
    for i in 0..200 {
        let ack = put(&s, json!([{ "seq": i, "pad": pad }])).unwrap();
        peak = peak.max(s.stats().buffer_bytes);
        if ack == PutAck::Backpressure {
            waits += 1;
            runtime().block_on(s.relieve()).unwrap();
            assert!(s.stats().buffer_bytes < 1 << 20, "relieve returned with the buffer still over the limit");
        }
    }
    // 200 records of 64 KiB = 12.5 MiB went through a 1 MiB buffer: puts had to wait.
    assert!(waits > 0, "no back-pressure although the buffer passed maxBufferBytes");
    assert!(peak <= (1 << 20) + 70 * 1024, "buffer held {peak} bytes, over the 1 MiB limit plus one record");
    flush(&s);
    assert_eq!(s.stats().buffer_bytes, 0);
    assert_eq!(s.total_count(), 200);
    let seqs: Vec<u64> = read(&s, 0, None).iter().map(|v| v["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, (0..200).collect::<Vec<_>>());
}

#[test]
fn max_buffer_bytes_must_be_positive() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = opts(dir.path());
    o.max_buffer_bytes = 0;
    let e = runtime().block_on(BucketStore::open(o)).err().expect("0 must be refused");
    assert_eq!(e.code, ErrorCode::InvalidOption);
}

/// Lance resolves a column name as a path (`a.b` is a nested field, backticks quote, `_rowid` is
/// the row id), so such a top-level key could be stored but not read back: it is refused, typed,
/// before anything is stored. Keys with spaces or non-ASCII, and any nested key, reach their own
/// column on every path that names columns: read, a field typed after being null, a widened int,
/// compaction, reopen.
#[test]
fn keys_lance_cannot_name_are_refused_and_others_round_trip_everywhere() {
    let refused = ["a.b", "`", "a`b", "`q`", ".", "", "_rowid", "_rowaddr", "_rowoffset"];
    let kept = ["x y", " lead", "ü", "日本", "$x", "0", "rowid", "_row", "q"];
    for evolve in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let mut o = opts(dir.path());
        o.evolve_schema = evolve;
        let s = open(o.clone());
        let row = |i: i64, late: Value| {
            let mut m = serde_json::Map::new();
            for (k, key) in kept.iter().enumerate() {
                m.insert(key.to_string(), json!(i * 100 + k as i64));
            }
            m.insert("late v".into(), late);
            m.insert("n".into(), json!({"in.ner": i, "`": format!("s{i}"), "_rowid": i, "": true}));
            Value::Object(m)
        };
        put(&s, json!([row(0, Value::Null), row(1, Value::Null)])).unwrap();
        for key in refused {
            let mut r = row(9, Value::Null);
            r[key] = json!(1);
            let e = put(&s, json!([row(8, Value::Null), r])).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidRecord, "key {key:?}: {e}");
            assert!(e.message.contains(&format!("'{key}'")) || key.is_empty(), "key {key:?}: {e}");
        }
        flush(&s);
        put(&s, json!([row(2, json!("typed"))])).unwrap();
        flush(&s);
        let mut expected = vec![row(0, Value::Null), row(1, Value::Null), row(2, json!("typed"))];
        if evolve {
            // Widens the int column "x y" to float: a column rewrite by name.
            let mut r = row(3, json!("t3"));
            r["x y"] = json!(2.5);
            put(&s, json!([r.clone()])).unwrap();
            flush(&s);
            for e in &mut expected {
                let n = e["x y"].as_i64().unwrap();
                e["x y"] = json!(n as f64);
            }
            expected.push(r);
        }
        assert_eq!(s.total_count(), expected.len() as u64, "refused puts stored nothing");
        assert_eq!(read(&s, 0, None), expected, "evolve {evolve}");
        assert_eq!(read(&s, 1, Some(1)), expected[1..2], "evolve {evolve}");
        runtime().block_on(s.compact()).unwrap();
        assert_eq!(read(&s, 0, None), expected, "after compaction, evolve {evolve}");
        runtime().block_on(s.close()).unwrap();
        let s = open(o);
        assert_eq!(read(&s, 0, None), expected, "after reopen, evolve {evolve}");
    }
}

/// NDJSON is one call: stored whole (through the WAL) or, for a bad line, refused with the
/// line named and nothing of it kept.
#[test]
fn ndjson_is_stored_whole_or_refused_naming_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = opts(dir.path());
    o.wal = Some(WalOptions::new(Duration::ZERO, 1 << 30));
    let s = open(o.clone());
    let mut scratch = Vec::new();
    let text = "{\"id\":\"a\",\"n\":1}\r\n\n{\"id\":\"b\",\"n\":2.5,\"tags\":[\"x\"]}\n";
    let ack = s.put_ndjson(text.as_bytes(), 1 << 20, &mut scratch).unwrap();
    if let PutAck::Sync(lsn) = ack {
        s.sync_wal_blocking(lsn).unwrap();
    }
    for (bad, line) in [("{\"id\":\"c\",\"n\":3}\n{\"id\":tru}\n", 2), ("{\"id\":\"c\",\"n\":3}\n\n\n[1]", 4)] {
        let e = s.put_ndjson(bad.as_bytes(), 1 << 20, &mut scratch).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidRecord);
        assert!(e.message.starts_with(&format!("line {line}:")), "{e}");
    }
    let e = s.put_ndjson(b"{\"id\":\"c\",\"n\":\"text\"}", 1 << 20, &mut scratch).unwrap_err();
    assert_eq!(e.code, ErrorCode::SchemaMismatch, "{e}");
    let expected = vec![json!({"id": "a", "n": 1.0, "tags": null}), json!({"id": "b", "n": 2.5, "tags": ["x"]})];
    assert_eq!(read(&s, 0, None), expected);
    runtime().block_on(s.close()).unwrap();
    let s = open(o);
    assert_eq!(read(&s, 0, None), expected);
}

/// Arrow IPC out: the same rows as the JSON read, flushed and buffered alike, in the stored types.
#[test]
fn ipc_reads_hold_the_rows_json_reads_hold() {
    use arrow_array::{Array, Float64Array, Int64Array, StringArray};
    let dir = tempfile::tempdir().unwrap();
    let mut o = opts(dir.path());
    o.evolve_schema = true;
    let s = open(o);
    let ipc = |offset, limit| {
        let bytes = runtime().block_on(s.read_ipc(offset, limit)).unwrap();
        let reader = arrow_ipc::reader::StreamReader::try_new(std::io::Cursor::new(bytes), None).unwrap();
        let schema = reader.schema();
        let batches: Vec<_> = reader.map(|b| b.unwrap()).collect();
        arrow_select::concat::concat_batches(&schema, &batches).unwrap()
    };
    assert_eq!(ipc(0, None).num_rows(), 0);
    put(&s, rows(0..50)).unwrap();
    flush(&s);
    put(&s, json!([{"id": "k50", "n": 50, "x": 50.5, "tag": "late"}])).unwrap();
    put(&s, rows(51..60)).unwrap();
    let all = ipc(0, None);
    assert_eq!(all.num_rows(), 60);
    let ids = all.column_by_name("id").unwrap().as_any().downcast_ref::<StringArray>().unwrap();
    let n = all.column_by_name("n").unwrap().as_any().downcast_ref::<Int64Array>().unwrap();
    let x = all.column_by_name("x").unwrap().as_any().downcast_ref::<Float64Array>().unwrap();
    let tag = all.column_by_name("tag").unwrap().as_any().downcast_ref::<StringArray>().unwrap();
    for i in 0..60 {
        assert_eq!((ids.value(i), n.value(i), x.value(i)), (format!("k{i}").as_str(), i as i64, i as f64 + 0.5));
        assert_eq!(tag.is_null(i), i != 50, "row {i}");
    }
    let mid = ipc(45, Some(10));
    assert_eq!(mid.num_rows(), 10);
    let n = mid.column_by_name("n").unwrap().as_any().downcast_ref::<Int64Array>().unwrap();
    assert_eq!(n.values().to_vec(), (45..55).collect::<Vec<i64>>());
    assert_eq!(ipc(100, Some(5)).num_rows(), 0);
}

/// Arrow IPC in: what one store reads out as IPC, another stores through the NDJSON path with
/// its WAL (sync on every put, never flushed) and holds after a reopen, row for row.
#[test]
fn ipc_out_of_one_store_goes_into_another_through_its_wal() {
    let (a_dir, b_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut ao = opts(a_dir.path());
    ao.evolve_schema = true;
    let a = open(ao);
    put(&a, rows(0..40)).unwrap();
    flush(&a);
    put(&a, json!([{"id": "v", "n": 7, "x": 0.25, "vector": [0.1, -2.5, 3.0]}])).unwrap();
    let ipc = runtime().block_on(a.read_ipc(0, None)).unwrap();
    let mut lines = Vec::new();
    assert_eq!(persisting_core::json::ipc_to_ndjson(&ipc, &mut lines).unwrap(), 41);

    let mut o = opts(b_dir.path());
    o.wal = Some(WalOptions::new(Duration::ZERO, 1 << 30));
    let b = open(o.clone());
    if let PutAck::Sync(lsn) = b.put_ndjson(&lines, 1 << 20, &mut Vec::new()).unwrap() {
        b.sync_wal_blocking(lsn).unwrap();
    }
    drop(b); // no flush, no close: only the WAL holds the rows
    let b = open(o);
    assert_eq!(read(&b, 0, None), read(&a, 0, None));
}
