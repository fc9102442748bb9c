use std::sync::Arc;

use arrow_schema::{DataType, Field, Schema};
use serde_json::Value;

use super::*;

fn split(s: &str, schema: Option<&Schema>) -> (Vec<u8>, SplitRows) {
    let mut b = s.as_bytes().to_vec();
    let r = split_rows(&mut b, schema).unwrap();
    (b, r)
}

#[test]
fn splits_array_into_rows_and_checks_kinds() {
    let (rows, r) = split(r#"[{"id":"a,}","n":1},{"id":"b\"","n":2.5}]"#, None);
    assert_eq!(r.rows, 2);
    assert!(!r.fits_schema);
    let schema = Arc::new(infer_rows(&rows).unwrap());
    assert_eq!(schema.field_with_name("n").unwrap().data_type(), &DataType::Float64);
    let batch = decode_rows(&rows, &schema, 2).unwrap();
    assert_eq!(batch.num_rows(), 2);
    let (_, r2) = split(r#"[{"id":"c","n":3}]"#, Some(&schema));
    assert!(r2.fits_schema);
    let (_, r3) = split(r#"[{"id":"c","n":3,"new":1}]"#, Some(&schema));
    assert!(!r3.fits_schema);
}

#[test]
fn rejects_non_objects() {
    let mut b = b"[1,2]".to_vec();
    assert!(split_rows(&mut b, None).is_err());
    let mut b = b"{\"a\":1}".to_vec();
    assert!(split_rows(&mut b, None).is_err());
}

#[test]
fn infers_vectors_and_nested() {
    let (rows, _) = split(r#"[{"vector":[1,2,3],"o":{"x":1},"l":["a"]},{"vector":[0.5,1,2],"o":{"y":"s"}}]"#, None);
    let s = infer_rows(&rows).unwrap();
    let DataType::FixedSizeList(item, 3) = s.field_with_name("vector").unwrap().data_type() else { panic!() };
    assert_eq!(item.data_type(), &DataType::Float32);
    let DataType::Struct(f) = s.field_with_name("o").unwrap().data_type() else { panic!() };
    assert_eq!(f.len(), 2);
    assert_eq!(f[0].data_type(), &DataType::Int64);
    let batch = decode_rows(&rows, &Arc::new(s), 2).unwrap();
    let json = String::from_utf8(encode_batches(&[batch]).unwrap()).unwrap();
    assert!(json.contains(r#""vector":[1.0,2.0,3.0]"#) || json.contains(r#""vector":[1,2,3]"#), "{json}");
}

fn infer(s: &str) -> (Vec<u8>, Schema) {
    let (rows, _) = split(s, None);
    let schema = infer_rows(&rows).unwrap();
    (rows, schema)
}

fn dt<'a>(s: &'a Schema, name: &str) -> &'a DataType {
    s.field_with_name(name).unwrap().data_type()
}

fn list_of(t: DataType) -> DataType {
    DataType::List(Arc::new(Field::new_list_field(t, true)))
}

/// Decodes `rows` with `schema` and returns them re-encoded, parsed.
fn round_trip(rows: &[u8], schema: Schema, n: usize) -> Vec<Value> {
    let batch = decode_rows(rows, &Arc::new(schema), n).unwrap();
    serde_json::from_slice(&encode_batches(&[batch]).unwrap()).unwrap()
}

#[test]
fn numbers_are_int64_only_while_integral_and_within_i64() {
    // What JSON.stringify writes for 16777217, 2**53-1, 1e19, 2**63, -(2**63), 0.1, 1e300.
    let (rows, s) = infer(
        r#"[{"a":16777217,"b":9007199254740991,"c":10000000000000000000,"d":9223372036854775808,"e":-9223372036854775808,"f":0.1,"g":1e+300}]"#,
    );
    for (name, want) in [
        ("a", DataType::Int64),
        ("b", DataType::Int64),
        ("c", DataType::Float64),
        ("d", DataType::Float64),
        ("e", DataType::Int64),
        ("f", DataType::Float64),
        ("g", DataType::Float64),
    ] {
        assert_eq!(dt(&s, name), &want, "{name}");
    }
    let out = round_trip(&rows, s, 1);
    assert_eq!(out[0]["a"].as_i64(), Some(16777217));
    assert_eq!(out[0]["b"].as_i64(), Some(9007199254740991));
    assert_eq!(out[0]["c"].as_f64(), Some(1e19));
    assert_eq!(out[0]["d"].as_f64(), Some(9223372036854775808.0));
    assert_eq!(out[0]["e"].as_i64(), Some(i64::MIN));
    assert_eq!(out[0]["f"].as_f64(), Some(0.1));
    assert_eq!(out[0]["g"].as_f64(), Some(1e300));
    // A fraction in a later row of the same batch widens the column instead of failing.
    let (_, s) = infer(r#"[{"n":1},{"n":2.5},{"n":10000000000000000000}]"#);
    assert_eq!(dt(&s, "n"), &DataType::Float64);
}

#[test]
fn number_arrays_are_exact_lists_and_only_vector_is_float32() {
    let (rows, s) = infer(
        r#"[{"ts":[16777217,1700000000123],"x":[0.1,1e+300],"mixed":[1,2.5],"deep":[[1],[2]],"vector":[16777217,2]}]"#,
    );
    assert_eq!(dt(&s, "ts"), &list_of(DataType::Int64));
    assert_eq!(dt(&s, "x"), &list_of(DataType::Float64));
    assert_eq!(dt(&s, "mixed"), &list_of(DataType::Float64));
    assert_eq!(dt(&s, "deep"), &list_of(list_of(DataType::Int64)));
    assert!(matches!(dt(&s, "vector"), DataType::FixedSizeList(f, 2) if f.data_type() == &DataType::Float32));
    let out = round_trip(&rows, s, 1);
    assert_eq!(out[0]["ts"], serde_json::json!([16777217, 1700000000123i64]));
    assert_eq!(out[0]["x"], serde_json::json!([0.1, 1e300]));
    assert_eq!(out[0]["mixed"], serde_json::json!([1.0, 2.5]));
    // Float32 by design: the vector keeps float32 precision (2^24 + 1 is not a float32).
    assert_eq!(out[0]["vector"][0].as_f64(), Some(16777216.0));
}

#[test]
fn scan_sends_non_integers_into_int_slots_down_the_checked_path() {
    // arrow-json would truncate 1.5 into an Int64 list; the scan must not call that a fit.
    let (_, s) = infer(r#"[{"ts":[1,2],"o":{"k":1},"tags":["a"],"vector":[1,2]}]"#);
    let fits = |row: &str| split(row, Some(&s)).1.fits_schema;
    assert!(fits(r#"[{"ts":[3,4],"o":{"k":2},"tags":["b.e"],"vector":[0.5,1e-3]}]"#));
    assert!(fits(r#"[{"ts":[-3],"o":{"k":true},"tags":["1e5"]}]"#));
    assert!(!fits(r#"[{"ts":[3,4.5]}]"#));
    assert!(!fits(r#"[{"ts":[1e+21]}]"#));
    assert!(!fits(r#"[{"ts":[10000000000000000000]}]"#));
    assert!(!fits(r#"[{"o":{"k":0.5}}]"#));
    // A top-level integer too long for the byte scan's guarantee is decoded at once.
    let (_, r) = split(r#"[{"n":10000000000000000000}]"#, Some(&s));
    assert!(!r.flat);
}

#[test]
fn merge_rules() {
    let int = DataType::Int64;
    let flt = DataType::Float64;
    for mode in [MergeMode::Loose, MergeMode::Evolve, MergeMode::Fixed] {
        // Widening is never a type error, and an untyped (all-null) field takes any type.
        assert_eq!(merge_types(&int, &flt, mode, "n").unwrap(), flt);
        assert_eq!(merge_types(&flt, &int, mode, "n").unwrap(), flt);
        assert_eq!(merge_types(&DataType::Null, &int, mode, "n").unwrap(), int);
        assert_eq!(merge_types(&list_of(int.clone()), &list_of(flt.clone()), mode, "l").unwrap(), list_of(flt.clone()));
    }
    let e = merge_types(&DataType::Utf8, &int, MergeMode::Evolve, "s").unwrap_err();
    assert_eq!(e.code, ErrorCode::SchemaMismatch);
    assert!(e.message.contains("'s'"));
    assert!(merge_types(&int, &DataType::Utf8, MergeMode::Fixed, "n").is_err());
    let old = Schema::new(vec![Field::new("a", int.clone(), true)]);
    let new = Schema::new(vec![Field::new("b", int.clone(), true)]);
    let e = merge_schemas(&old, &new, MergeMode::Fixed).unwrap_err();
    assert!(e.message.contains("'b'"));
    assert_eq!(merge_schemas(&old, &new, MergeMode::Evolve).unwrap().fields().len(), 2);
}

#[test]
fn scan_refuses_json_that_is_only_almost_right() {
    // What a strict decoder refuses must not pass the scan: rows that pass it flat and fitting
    // are decoded only at flush time, after the put was acknowledged.
    let (rows, _) = split(r#"[{"id":"a","n":1,"x":1.5}]"#, None);
    let schema = infer_rows(&rows).unwrap();
    for bad in [
        r#"{"id":"b","n":nope}"#,
        r#"{"id":"b","n":nulll}"#,
        r#"{"id":"b","n":tru}"#,
        r#"{"id":"b","n":1-2}"#,
        r#"{"id":"b","n":-}"#,
        r#"{"id":"b","n":+5}"#,
        r#"{"id":"b","x":.5}"#,
        r#"{"id":"b","x":5.}"#,
        r#"{"id":"b","n":01}"#,
        r#"{"id":"b","x":1e}"#,
        r#"{"id":"b","x":1e400}"#,
        r#"{"id":"b","x":-1e999}"#,
        r#"{"id":"\x41","n":1}"#,
        r#"{"id":"\u12","n":1}"#,
        r#"{"id":"b" "n":1}"#,
        r#"{"id":"b",,"n":1}"#,
        r#"{"id":"b","n":1,}"#,
        r#"{,"id":"b"}"#,
        r#"{"id":"b","n":1}{"id":"c"}"#,
        r#"{"id":"b","n":1},,{"id":"c"}"#,
    ] {
        let mut b = format!("[{bad}]").into_bytes();
        assert!(split_rows(&mut b, Some(&schema)).is_err(), "{bad}");
        assert!(serde_json::from_str::<Value>(&format!("[{bad}]")).is_err(), "serde_json accepts {bad}");
    }
    for good in [
        r#"{ "id" : "b" , "n" : -0 , "x" : 0.5e-3 }"#,
        r#"{"id":"\"\\\/\b\f\n\r\t\u00e9","n":12,"x":1E+2}"#,
        r#"{}"#,
        "{\"id\":\"b\",\r\n\t\"x\":-1.0e308}",
    ] {
        let mut b = format!("[{good}, {good}]").into_bytes();
        let r = split_rows(&mut b, Some(&schema)).unwrap_or_else(|e| panic!("{good}: {e}"));
        assert_eq!(r.rows, 2, "{good}");
    }
    let mut b = b"[]".to_vec();
    assert_eq!(split_rows(&mut b, None).unwrap().rows, 0);
}
