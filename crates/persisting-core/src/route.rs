//! Bucket routing of NDJSON lines, the same as the TypeScript queue routes records
//! (`src/routing.ts`): md5 of the key's JavaScript `String(value)` (null -> ''), read as a
//! 128-bit big-endian integer, modulo the bucket count. Lets a queue split raw NDJSON by bucket
//! without building a JavaScript object per line.

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type};
use arrow_array::{Array, RecordBatch, UInt32Array};
use arrow_schema::DataType;
use md5::{Digest, Md5};
use serde_json::Value;

use crate::error::{Error, ErrorCode, Result};
use crate::json::ndjson_lines;

/// One bucket's share of a call: its lines as NDJSON, in input order.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct BucketPart {
    pub bucket: u32,
    pub ndjson: Vec<u8>,
    pub rows: u32,
}

/// Routes every line of `input` by its top-level `column`. All or nothing: a line that is not
/// a JSON object, lacks the column, holds an object or array there, or is longer than
/// `max_line_bytes` refuses the call, naming the line. Parts come out in bucket order.
pub fn route_ndjson(input: &[u8], column: &str, buckets: u32, max_line_bytes: usize) -> Result<Vec<BucketPart>> {
    if buckets == 0 {
        return Err(Error::new(ErrorCode::InvalidOption, "numBuckets must be at least 1"));
    }
    let mut parts: Vec<BucketPart> = Vec::new();
    let mut slot: Vec<Option<usize>> = vec![None; buckets.min(1 << 16) as usize];
    for (no, line) in ndjson_lines(input) {
        if line.len() > max_line_bytes {
            return Err(Error::invalid_record(format!(
                "line {no} is {} bytes of JSON, over maxRecordBytes {max_line_bytes} bytes; nothing of this call was stored",
                line.len()
            )));
        }
        let value: Value =
            serde_json::from_slice(line).map_err(|e| line_error(ErrorCode::InvalidRecord, no, &e.to_string()))?;
        let Value::Object(map) = value else {
            return Err(line_error(ErrorCode::InvalidRecord, no, "a line must hold one JSON object"));
        };
        let key = match map.get(column) {
            None => {
                return Err(line_error(
                    ErrorCode::MissingBucketColumn,
                    no,
                    &format!("the record is missing the bucket column '{column}'"),
                ))
            }
            Some(Value::Object(_) | Value::Array(_)) => {
                return Err(line_error(
                    ErrorCode::InvalidRecord,
                    no,
                    &format!("the record has a non-scalar value in bucket column '{column}'; use a string or number"),
                ))
            }
            Some(v) => key_text(v),
        };
        let bucket = bucket_for(&key, buckets);
        let i = match slot.get(bucket as usize).copied().flatten() {
            Some(i) => i,
            None => match parts.iter().position(|p| p.bucket == bucket) {
                Some(i) => i,
                None => {
                    parts.push(BucketPart { bucket, ..Default::default() });
                    if let Some(s) = slot.get_mut(bucket as usize) {
                        *s = Some(parts.len() - 1);
                    }
                    parts.len() - 1
                }
            },
        };
        let part = &mut parts[i];
        part.ndjson.extend_from_slice(line);
        part.ndjson.push(b'\n');
        part.rows += 1;
    }
    parts.sort_by_key(|p| p.bucket);
    Ok(parts)
}

/// Routes the rows of a batch in the record path's types (`json::record_types`) by its
/// `column`, as `route_ndjson` routes lines: one batch per bucket, rows in input order, parts in
/// bucket order. A missing column or a list/struct key refuses the whole call.
pub fn route_batch(batch: &RecordBatch, column: &str, buckets: u32) -> Result<Vec<(u32, RecordBatch)>> {
    let refuse = |code, why: String| Error::new(code, format!("{why}; nothing of this call was stored"));
    let Some(keys) = batch.column_by_name(column) else {
        return Err(refuse(
            ErrorCode::MissingBucketColumn,
            format!("row 1: the Arrow input has no bucket column '{column}'"),
        ));
    };
    let text = |i: usize| -> Result<String> {
        if keys.is_null(i) {
            return Ok(String::new());
        }
        Ok(match keys.data_type() {
            DataType::Utf8 => keys.as_string::<i32>().value(i).to_string(),
            DataType::Int64 => js_number_text(keys.as_primitive::<Int64Type>().value(i) as f64),
            DataType::Float64 => js_number_text(keys.as_primitive::<Float64Type>().value(i)),
            DataType::Boolean => keys.as_boolean().value(i).to_string(),
            _ => {
                return Err(refuse(
                    ErrorCode::InvalidRecord,
                    format!(
                        "row {}: the bucket column '{column}' holds a list or struct; use a string or number",
                        i + 1
                    ),
                ))
            }
        })
    };
    let mut rows: Vec<Vec<u32>> = vec![Vec::new(); buckets.max(1) as usize];
    for i in 0..batch.num_rows() {
        rows[bucket_for(&text(i)?, buckets) as usize].push(i as u32);
    }
    let mut parts = Vec::new();
    for (bucket, idx) in rows.into_iter().enumerate() {
        if idx.is_empty() {
            continue;
        }
        let part = arrow_select::take::take_record_batch(batch, &UInt32Array::from(idx))
            .map_err(|e| Error::new(ErrorCode::Internal, format!("splitting rows by bucket: {e}")))?;
        parts.push((bucket as u32, part));
    }
    Ok(parts)
}

fn line_error(code: ErrorCode, no: usize, why: &str) -> Error {
    Error::new(code, format!("line {no}: {why}; nothing of this call was stored"))
}

/// The bucket of a key text: md5, big-endian, modulo `buckets`.
pub fn bucket_for(key: &str, buckets: u32) -> u32 {
    if buckets <= 1 {
        return 0;
    }
    let mut be = [0u8; 16];
    be.copy_from_slice(&Md5::digest(key.as_bytes()));
    let n = u128::from_be_bytes(be);
    (n % buckets as u128) as u32
}

/// JavaScript's `String(value)` of a JSON scalar; null is ''.
fn key_text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::Bool(b) => b.to_string(),
        Value::String(s) => s.clone(),
        Value::Number(n) => js_number_text(n.as_f64().unwrap_or(f64::NAN)),
        Value::Object(_) | Value::Array(_) => unreachable!("refused before"),
    }
}

/// ECMAScript Number::toString(10): the shortest round-trip digits, placed as JavaScript does
/// (plain up to 21 integer digits, `0.000001` down to 1e-6, exponent form beyond).
pub fn js_number_text(x: f64) -> String {
    if x == 0.0 {
        return "0".into();
    }
    if !x.is_finite() {
        return if x.is_nan() {
            "NaN".into()
        } else if x > 0.0 {
            "Infinity".into()
        } else {
            "-Infinity".into()
        };
    }
    let sign = if x < 0.0 { "-" } else { "" };
    // Rust's `{:e}` is the shortest representation that round-trips: d[.ddd]e<exp>.
    let sci = format!("{:e}", x.abs());
    let (mantissa, exp) = sci.split_once('e').expect("{:e} has an exponent");
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let k = digits.len() as i32;
    let n = exp.parse::<i32>().expect("{:e} exponent is an integer") + 1;
    let body = if n > 21 || n <= -6 {
        let e = n - 1;
        let esign = if e < 0 { '-' } else { '+' };
        if k == 1 {
            format!("{digits}e{esign}{}", e.abs())
        } else {
            format!("{}.{}e{esign}{}", &digits[..1], &digits[1..], e.abs())
        }
    } else if k <= n {
        format!("{digits}{}", "0".repeat((n - k) as usize))
    } else if n > 0 {
        format!("{}.{}", &digits[..n as usize], &digits[n as usize..])
    } else {
        format!("0.{}{digits}", "0".repeat((-n) as usize))
    };
    format!("{sign}{body}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_print_as_javascript_prints_them() {
        for (x, js) in [
            (1.0, "1"),
            (-0.0, "0"),
            (100.0, "100"),
            (1.5, "1.5"),
            (-2.25, "-2.25"),
            (0.1, "0.1"),
            (0.000001, "0.000001"),
            (0.0000001, "1e-7"),
            (1.5e-7, "1.5e-7"),
            (1e21, "1e+21"),
            (1e20, "100000000000000000000"),
            (123456789012345680000.0, "123456789012345680000"),
            (1.2345e22, "1.2345e+22"),
            (9007199254740993.0, "9007199254740992"),
            (0.1 + 0.2, "0.30000000000000004"),
            (5e-324, "5e-324"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
        ] {
            assert_eq!(js_number_text(x), js, "{x:?}");
        }
    }

    #[test]
    fn keys_route_as_the_typescript_queue_routes_them() {
        // The pairs test/queue/routing.test.ts pins (Python's int(md5(str(v)), 16) % n).
        assert_eq!(bucket_for("test_value", 8), 7);
        assert_eq!(bucket_for("consistent_key", 32), 20);
        assert_eq!(bucket_for("", 7), 1);
        assert_eq!(bucket_for("héllo", 1000003), 424193);
        assert_eq!(bucket_for("日本語", 13), 11);
        assert_eq!(bucket_for(&js_number_text(1.0), 4), 3);
        assert_eq!(bucket_for(&js_number_text(12345678901234.0), 1000), 929);
        assert_eq!(bucket_for(&js_number_text(-5.0), 97), 51);
        assert_eq!(bucket_for("anything", 1), 0);
    }

    #[test]
    fn splits_lines_by_bucket_and_names_bad_ones() {
        let input = b"{\"k\":\"a\",\"v\":1}\n\n{\"k\":\"b\",\"v\":2}\r\n{\"k\":\"a\",\"v\":3}\n";
        let parts = route_ndjson(input, "k", 4, 1 << 20).unwrap();
        let rows: u32 = parts.iter().map(|p| p.rows).sum();
        assert_eq!(rows, 3);
        let a = parts.iter().find(|p| p.bucket == bucket_for("a", 4)).unwrap();
        assert!(a.ndjson.starts_with(b"{\"k\":\"a\",\"v\":1}\n"));
        assert!(a.ndjson.ends_with(b"{\"k\":\"a\",\"v\":3}\n"));
        let e = route_ndjson(b"{\"k\":1}\n{\"v\":2}", "k", 4, 1 << 20).unwrap_err();
        assert_eq!((e.code, e.message.starts_with("line 2:")), (ErrorCode::MissingBucketColumn, true), "{e}");
        let e = route_ndjson(b"{\"k\":[1]}", "k", 4, 1 << 20).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidRecord);
        let e = route_ndjson(b"{\"k\":1}\n{\"k\":", "k", 4, 1 << 20).unwrap_err();
        assert!(e.message.starts_with("line 2:"), "{e}");
        assert_eq!(
            route_ndjson(b"{\"k\":1}\n{\"k\":2,\"v\":\"xxxxxxxx\"}", "k", 4, 10).unwrap_err().code,
            ErrorCode::InvalidRecord
        );
        // Numbers route by their JavaScript text: 1.0 and 1 are one key.
        assert_eq!(route_ndjson(b"{\"k\":1.0}\n{\"k\":1}", "k", 64, 1 << 20).unwrap().len(), 1);
    }
}
