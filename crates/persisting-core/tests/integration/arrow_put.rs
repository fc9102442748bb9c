//! Arrow puts kept as Arrow (`put_ipc`, `put_json_vectors`): the rows the JSON path would
//! store, vectors exact, through the WAL (IPC payloads) across a crash, and after a flush.

use std::sync::Arc;
use std::time::Duration;

use arrow_array::{ArrayRef, Int32Array, RecordBatch, StringArray};
use persisting_core::json::{batch_to_ipc, RawVectors};
use persisting_core::{runtime, BucketStore, PutAck, WalOptions};
use serde_json::json;

use super::store::{flush, open, opts, read};

fn synced(s: &Arc<BucketStore>, ack: PutAck) {
    if let PutAck::Sync(lsn) = ack {
        s.sync_wal_blocking(lsn).unwrap();
    }
}

fn ipc(columns: Vec<(&str, ArrayRef)>) -> Vec<u8> {
    batch_to_ipc(&RecordBatch::try_from_iter(columns).unwrap()).unwrap()
}

#[test]
fn ipc_rows_equal_json_rows_and_survive_a_crash_through_the_wal() {
    let (a_dir, b_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let json_store = open(opts(a_dir.path()));
    json_store.put_json(serde_json::to_vec(&json!([{"id": 1, "s": "x"}, {"id": 2, "s": null}])).unwrap()).unwrap();

    let mut o = opts(b_dir.path());
    o.wal = Some(WalOptions::new(Duration::ZERO, 1 << 30));
    let s = open(o.clone());
    let bytes = ipc(vec![
        ("s", Arc::new(StringArray::from(vec![Some("x"), None])) as ArrayRef),
        ("id", Arc::new(Int32Array::from(vec![1, 2])) as ArrayRef),
    ]);
    synced(&s, s.put_ipc(&bytes).unwrap());
    assert_eq!(read(&s, 0, None), read(&json_store, 0, None));
    // A JSON put after an Arrow one shares the schema (Int32 was stored as Int64).
    synced(&s, s.put_json(br#"[{"id":3,"s":"z"}]"#.to_vec()).unwrap());
    drop(s); // crash: only the WAL holds the rows
    let s = open(o);
    assert_eq!(
        read(&s, 0, None),
        vec![json!({"id": 1, "s": "x"}), json!({"id": 2, "s": null}), json!({"id": 3, "s": "z"})]
    );
    flush(&s);
    assert_eq!(read(&s, 0, None).len(), 3);
}

#[test]
fn raw_vectors_stay_exact_through_the_wal_and_a_flush() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = opts(dir.path());
    o.wal = Some(WalOptions::new(Duration::ZERO, 1 << 30));
    let s = open(o.clone());
    let values: Vec<f32> = (0..8).map(|i| (i as f32).sin() / 7.0).collect();
    let data: Vec<u8> = values.iter().flat_map(|x| x.to_le_bytes()).collect();
    let v = RawVectors { name: "emb", dim: 4, f64: false, data: &data, present: None, plain: false };
    synced(&s, s.put_json_vectors(br#"[{"id":"a"},{"id":"b"}]"#, &[v]).unwrap());
    drop(s);
    let s = open(o);
    let batch = {
        let bytes = runtime().block_on(s.read_ipc(0, None)).unwrap();
        let mut r = arrow_ipc::reader::StreamReader::try_new(std::io::Cursor::new(bytes), None).unwrap();
        r.next().unwrap().unwrap()
    };
    use arrow_array::cast::AsArray;
    let emb = batch.column_by_name("emb").unwrap().as_fixed_size_list();
    let got: Vec<f32> = emb.values().as_primitive::<arrow_array::types::Float32Type>().values().to_vec();
    assert_eq!(got, values);
    flush(&s);
    let hits = runtime().block_on(s.search_json("emb", &values[4..8], 1)).unwrap();
    assert!(String::from_utf8_lossy(&hits).contains("\"id\":\"b\""));
}

#[test]
fn typed_vectors_read_back_raw_after_a_flush_and_a_reopen_and_plain_ones_stay_json() {
    let dir = tempfile::tempdir().unwrap();
    let o = opts(dir.path());
    let s = open(o.clone());
    let values: Vec<f64> = vec![std::f64::consts::PI, -0.0, 1e-300, 7.5, f64::MAX, 2.0];
    let data: Vec<u8> = values.iter().flat_map(|x| x.to_le_bytes()).collect();
    let present = [1u8, 0, 1];
    let v = RawVectors { name: "emb", dim: 2, f64: true, data: &data, present: Some(&present), plain: false };
    // The middle record had `emb: null` (its key stays in the JSON text).
    s.put_json_vectors(
        br#"[{"id":1,"vector":[1,2]},{"id":2,"emb":null,"vector":[3,4]},{"id":3,"vector":[5,6]}]"#,
        &[v],
    )
    .unwrap();
    let check = |s: &Arc<BucketStore>| {
        let (text, vectors) = runtime().block_on(s.read_rows(0, None)).unwrap();
        let rows: Vec<serde_json::Value> = serde_json::from_slice(&text).unwrap();
        // The typed column is left out of the text; the plain `vector` stays in it.
        assert!(rows[1].get("emb").is_none(), "{}", rows[1]);
        let plain: Vec<f64> = rows[1]["vector"].as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect();
        assert_eq!(plain, [3.0, 4.0]);
        assert_eq!(vectors.len(), 1);
        let emb = &vectors[0];
        assert_eq!((emb.name.as_str(), emb.dim, emb.f64), ("emb", 2, true));
        assert_eq!(emb.present.as_deref(), Some(&present[..]));
        let got: Vec<f64> = emb.data.chunks_exact(8).map(|b| f64::from_le_bytes(b.try_into().unwrap())).collect();
        assert_eq!((&got[..2], &got[4..]), (&values[..2], &values[4..]));
    };
    check(&s);
    flush(&s);
    check(&s);
    drop(s);
    let s = open(o);
    check(&s);
    // More typed rows after the reopen go into the same column.
    let more: Vec<u8> = [0.5f64, 0.25].iter().flat_map(|x| x.to_le_bytes()).collect();
    let v = RawVectors { name: "emb", dim: 2, f64: true, data: &more, present: None, plain: false };
    s.put_json_vectors(br#"[{"id":4,"vector":[7,8]}]"#, &[v]).unwrap();
    flush(&s);
    let (_, vectors) = runtime().block_on(s.read_rows(3, None)).unwrap();
    assert_eq!(vectors[0].data, more);
}

#[test]
fn declared_vector_columns_take_number_arrays_of_their_dimension_only() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = opts(dir.path());
    o.vector_columns.insert("emb".into(), 3);
    let s = open(o);
    s.put_json(br#"[{"id":1,"emb":[0.5,1,2]},{"id":2,"emb":null}]"#.to_vec()).unwrap();
    let e = s.put_json(br#"[{"id":3,"emb":[1,2]}]"#.to_vec()).unwrap_err();
    assert_eq!(e.code, persisting_core::ErrorCode::InvalidRecord);
    assert!(e.message.contains("record 0 holds 2 numbers at emb, which vectorColumns declares a vector of 3"), "{e}");
    let e = s.put_json(br#"[{"id":3,"emb":"x"}]"#.to_vec()).unwrap_err();
    assert!(e.message.contains("holds a string at emb"), "{e}");
    flush(&s);
    let hits = runtime().block_on(s.search_json("emb", &[0.5, 1.0, 2.0], 1)).unwrap();
    assert!(String::from_utf8_lossy(&hits).contains("\"id\":1"));
    let e = runtime().block_on(s.search_json("id", &[1.0], 1)).unwrap_err();
    assert!(e.message.contains("vectorColumns"), "{e}");
    assert_eq!(read(&s, 0, None).len(), 2);
}

#[test]
fn a_typed_vector_column_takes_only_typed_arrays_of_its_kind_and_length() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(opts(dir.path()));
    let f32s: Vec<u8> = [1.0f32, 2.0].iter().flat_map(|x| x.to_le_bytes()).collect();
    let v = RawVectors { name: "v", dim: 2, f64: false, data: &f32s, present: None, plain: false };
    s.put_json_vectors(br#"[{"id":1}]"#, &[v]).unwrap();
    // A number array, a vector of another length, another float kind: refused, in the buffer
    // and after the flush (where a list would otherwise have absorbed them).
    for when in ["buffered", "flushed"] {
        let e = s.put_json(br#"[{"id":2,"v":[1,2]}]"#.to_vec()).unwrap_err();
        assert_eq!(e.code, persisting_core::ErrorCode::SchemaMismatch, "{when}: {e}");
        assert!(e.message.contains("field 'v' holds Float32Array vectors of 2 values"), "{when}: {e}");
        let f64s: Vec<u8> = [1.0f64, 2.0].iter().flat_map(|x| x.to_le_bytes()).collect();
        let v = RawVectors { name: "v", dim: 2, f64: true, data: &f64s, present: None, plain: false };
        assert!(s.put_json_vectors(br#"[{"id":3}]"#, &[v]).is_err(), "{when}");
        let three: Vec<u8> = [1.0f32, 2.0, 3.0].iter().flat_map(|x| x.to_le_bytes()).collect();
        let v = RawVectors { name: "v", dim: 3, f64: false, data: &three, present: None, plain: false };
        assert!(s.put_json_vectors(br#"[{"id":4}]"#, &[v]).is_err(), "{when}");
        flush(&s);
    }
    assert_eq!(read(&s, 0, None).len(), 1);
}
