//! Arbitrary bytes through the JSON -> Arrow path of a put: `split_rows` (the byte scan that
//! turns `[{..},{..}]` into rows and checks them against a schema), `infer_rows` and
//! `decode_rows`. Nothing may panic, and:
//! - a valid JSON array of objects always splits, into as many rows as it has elements;
//! - when split and infer both succeed they agree on the row count, and a decode that
//!   succeeds returns exactly that many rows;
//! - on valid JSON, rows the scan calls `fits_schema && flat` must decode strictly: the store
//!   acknowledges such rows before decoding them.
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use persisting_core::json::{decode_rows, infer_rows, split_rows};

fuzz_target!(|data: &[u8]| {
    let valid = serde_json::from_slice::<serde_json::Value>(data).ok();
    let elements = match &valid {
        Some(serde_json::Value::Array(items)) if items.iter().all(|v| v.is_object()) => Some(items.len()),
        _ => None,
    };
    let mut rows = data.to_vec();
    let split = match split_rows(&mut rows, None) {
        Ok(s) => s,
        Err(e) => {
            assert!(elements.is_none(), "valid array of {elements:?} objects rejected by split_rows: {e}");
            return;
        }
    };
    if let Some(n) = elements {
        assert_eq!(split.rows, n, "split_rows row count differs from the JSON array length");
    }
    let Ok(schema) = infer_rows(&rows) else { return };
    let parsed = serde_json::Deserializer::from_slice(&rows).into_iter::<serde_json::Value>().count();
    assert_eq!(parsed, split.rows, "infer_rows accepted a different number of rows than split_rows found");
    let schema = Arc::new(schema);
    if let Ok(batch) = decode_rows(&rows, &schema, split.rows) {
        assert_eq!(batch.num_rows(), split.rows);
    }
    // Second pass against the inferred schema, as a later put of the same shape would run.
    let mut again = data.to_vec();
    if let Ok(s2) = split_rows(&mut again, Some(&schema)) {
        assert_eq!(s2.rows, split.rows);
        if valid.is_some() && s2.fits_schema && s2.flat {
            if let Err(e) = decode_rows(&again, &schema, s2.rows) {
                panic!("rows that fit the schema and are flat failed a strict decode: {e}");
            }
        }
    }
});
