//! JSON rows <-> Arrow.
//!
//! Records cross from JavaScript as ONE `JSON.stringify` of the whole batch. arrow-json's
//! decoder wants concatenated objects, not an array, so a single byte pass (`split_rows`)
//! rewrites the array in place into newline-separated rows and, on the way, checks the
//! top-level keys and value kinds against the current schema. Only when that check fails
//! (first batch, new field, int -> float) do we pay for a full `serde_json` parse to infer
//! types (`infer_rows`).
//!
//! Typing keeps every JS value exactly: a number is Int64 while every value seen for that
//! place is integral and within i64, Float64 otherwise (a JS number is a double, so Float64
//! holds any of them exactly); arrays are lists of those. Only a top-level field named
//! `vector` holding numbers becomes a `FixedSizeList<Float32, dim>` (as in lancedb).

use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_json::ReaderBuilder;
use arrow_schema::{DataType, Field, Fields, Schema, SchemaRef};
use serde_json::Value;

use crate::error::{Error, ErrorCode, Result, ResultExt};

/// Kinds of a top-level value, as far as a byte scan can tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Null,
    Bool,
    Int,
    Float,
    Str,
    Obj,
    Arr,
}

pub struct SplitRows {
    pub rows: usize,
    /// True when every top-level key and value kind fits `schema`, so a strict decode is enough.
    pub fits_schema: bool,
    /// True when no row holds a nested value, a `\u` escape or an integer too long for Int64:
    /// then `fits_schema` alone guarantees that a strict decode succeeds, and decoding can be
    /// deferred (off the caller's thread) without a later error losing acknowledged rows.
    pub flat: bool,
}

/// Rewrites a JSON array of objects (`[{..},{..}]`) in place into rows separated by newlines
/// and counts them. Rejects anything that is not an array of objects.
pub fn split_rows(buf: &mut [u8], schema: Option<&Schema>) -> Result<SplitRows> {
    let n = buf.len();
    let mut i = skip_ws(buf, 0);
    if i >= n || buf[i] != b'[' {
        return Err(Error::invalid_record("expected a JSON array of records"));
    }
    buf[i] = b' ';
    i += 1;
    let mut rows = 0usize;
    let mut fits = schema.is_some();
    let mut flat = true;
    let fields: Vec<SchemaSlot> = schema
        .map(|s| {
            s.fields()
                .iter()
                .map(|f| SchemaSlot { name: f.name().as_bytes(), dt: f.data_type(), has_int: has_int(f.data_type()) })
                .collect()
        })
        .unwrap_or_default();
    loop {
        i = skip_ws(buf, i);
        if i >= n {
            return Err(Error::invalid_record("unterminated JSON array"));
        }
        match buf[i] {
            b']' => {
                buf[i] = b' ';
                let end = skip_ws(buf, i + 1);
                if end != n {
                    return Err(Error::invalid_record("trailing bytes after the JSON array"));
                }
                return Ok(SplitRows { rows, fits_schema: fits, flat });
            }
            b',' if rows > 0 => {
                buf[i] = b'\n';
                i += 1;
                continue;
            }
            b'{' => {
                rows += 1;
                i = scan_object_row(buf, i, &fields, &mut fits, &mut flat)?;
            }
            _ => {
                return Err(Error::invalid_record(format!(
                    "record {rows} is not a JSON object"
                )))
            }
        }
    }
}

/// One top-level field of the schema, as the scan needs it.
struct SchemaSlot<'a> {
    name: &'a [u8],
    dt: &'a DataType,
    /// Holds Int64 somewhere: a nested non-integer must then take the checked path, because
    /// arrow-json's strict decode truncates `2.5` into an Int64 slot instead of failing.
    has_int: bool,
}

fn has_int(dt: &DataType) -> bool {
    match dt {
        DataType::Int64 => true,
        DataType::Struct(f) => f.iter().any(|c| has_int(c.data_type())),
        DataType::List(c) | DataType::LargeList(c) | DataType::FixedSizeList(c, _) => has_int(c.data_type()),
        _ => false,
    }
}

fn skip_ws(buf: &[u8], mut i: usize) -> usize {
    while i < buf.len() && matches!(buf[i], b' ' | b'\n' | b'\r' | b'\t') {
        i += 1;
    }
    i
}

/// Scans one `{...}` row starting at `start`; returns the index after it.
fn scan_object_row(
    buf: &[u8],
    start: usize,
    fields: &[SchemaSlot],
    fits: &mut bool,
    flat: &mut bool,
) -> Result<usize> {
    let mut i = start + 1;
    let mut pos = 0usize;
    loop {
        i = skip_ws(buf, i);
        if i >= buf.len() {
            return Err(Error::invalid_record("unterminated record"));
        }
        match buf[i] {
            b'}' => return Ok(i + 1),
            b',' => {
                i += 1;
                continue;
            }
            b'"' => {}
            _ => return Err(Error::invalid_record("malformed record: expected a key")),
        }
        let key_start = i + 1;
        let (key_end, escaped) = scan_string(buf, i)?;
        let key = &buf[key_start..key_end - 1];
        i = skip_ws(buf, key_end);
        if i >= buf.len() || buf[i] != b':' {
            return Err(Error::invalid_record("malformed record: expected ':'"));
        }
        i = skip_ws(buf, i + 1);
        let (kind, end, value_escaped, wide) = scan_value(buf, i)?;
        if *flat {
            *flat = match kind {
                Kind::Obj | Kind::Arr => false,
                // Lone surrogates (`\ud800`) fail a strict decode: such rows decode at once.
                Kind::Str => !value_escaped || !buf[i..end].windows(2).any(|w| w == b"\\u"),
                // i64 holds every 18-digit integer; longer ones take the checked path.
                Kind::Int => end - i <= 18,
                _ => true,
            };
        }
        i = end;
        if *fits {
            // Rows usually repeat the schema's key order, so try the expected slot first.
            let field = if escaped {
                None
            } else if pos < fields.len() && fields[pos].name == key {
                Some(&fields[pos])
            } else {
                fields.iter().find(|f| f.name == key)
            };
            pos += 1;
            *fits = match field {
                Some(f) => kind_fits(kind, f.dt) && !(wide && f.has_int),
                None => false,
            };
        }
    }
}

fn kind_fits(kind: Kind, dt: &DataType) -> bool {
    match kind {
        Kind::Null => true,
        Kind::Bool => matches!(dt, DataType::Boolean),
        Kind::Int => matches!(dt, DataType::Int64 | DataType::Float64),
        Kind::Float => matches!(dt, DataType::Float64),
        Kind::Str => matches!(dt, DataType::Utf8 | DataType::LargeUtf8),
        Kind::Obj => matches!(dt, DataType::Struct(_)),
        Kind::Arr => matches!(dt, DataType::List(_) | DataType::LargeList(_) | DataType::FixedSizeList(_, _)),
    }
}

/// Returns (index after the closing quote, whether the string had escapes).
fn scan_string(buf: &[u8], start: usize) -> Result<(usize, bool)> {
    let mut i = start + 1;
    let mut escaped = false;
    // Strings are most of the bytes of a typical record: jump between quotes and backslashes.
    while i < buf.len() {
        match memchr::memchr2(b'"', b'\\', &buf[i..]) {
            Some(k) if buf[i + k] == b'"' => return Ok((i + k + 1, escaped)),
            Some(k) => {
                escaped = true;
                i += k + 2;
            }
            None => break,
        }
    }
    Err(Error::invalid_record("unterminated string"))
}

/// Returns the kind, the index after the value, whether a string value had escapes, and
/// whether a nested value holds a number that may not be an Int64 (fraction, exponent, or
/// more than 18 digits).
fn scan_value(buf: &[u8], i: usize) -> Result<(Kind, usize, bool, bool)> {
    if i >= buf.len() {
        return Err(Error::invalid_record("missing value"));
    }
    match buf[i] {
        b'"' => {
            let (end, escaped) = scan_string(buf, i)?;
            Ok((Kind::Str, end, escaped, false))
        }
        b'n' => Ok((Kind::Null, i + 4, false, false)),
        b't' => Ok((Kind::Bool, i + 4, false, false)),
        b'f' => Ok((Kind::Bool, i + 5, false, false)),
        b'{' | b'[' => {
            let kind = if buf[i] == b'{' { Kind::Obj } else { Kind::Arr };
            let mut depth = 0usize;
            let mut digits = 0usize;
            let mut wide = false;
            let mut j = i;
            while j < buf.len() {
                match buf[j] {
                    b'"' => {
                        digits = 0;
                        j = scan_string(buf, j)?.0;
                        continue;
                    }
                    b'0'..=b'9' => {
                        digits += 1;
                        wide |= digits > 18;
                    }
                    // Outside strings, `.` only occurs in numbers, and `e` follows a digit only
                    // in an exponent (`true`/`false` put a letter before it).
                    b'.' => wide = true,
                    b'e' | b'E' if digits > 0 => wide = true,
                    b'{' | b'[' => {
                        depth += 1;
                        digits = 0;
                    }
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Ok((kind, j + 1, false, wide));
                        }
                        digits = 0;
                    }
                    _ => digits = 0,
                }
                j += 1;
            }
            Err(Error::invalid_record("unterminated nested value"))
        }
        _ => {
            let mut j = i;
            let mut float = false;
            while j < buf.len() {
                match buf[j] {
                    b'0'..=b'9' | b'-' | b'+' => {}
                    b'.' | b'e' | b'E' => float = true,
                    _ => break,
                }
                j += 1;
            }
            if j == i {
                return Err(Error::invalid_record("malformed value"));
            }
            Ok((if float { Kind::Float } else { Kind::Int }, j, false, false))
        }
    }
}

/// How an incoming type may combine with the one already known for a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MergeMode {
    /// Schema not fixed yet: anything compatible merges (new fields, int -> float, vector -> list).
    Loose,
    /// Schema fixed by stored data and not evolvable (LanceBackend): no new fields and no type
    /// changes, except the two a JS value can force without a change of kind: int -> float
    /// (a later fraction or an integer beyond i64) and a still untyped (all-null) field
    /// getting its first type.
    Fixed,
    /// Schema fixed by stored data but evolvable (PersistingBackend): also new nullable fields.
    Evolve,
}

/// Top-level field whose number arrays are float32 vectors (the lancedb convention).
pub const VECTOR_FIELD: &str = "vector";

/// Infers the Arrow schema of newline-separated JSON rows (see the module doc for the rules).
pub fn infer_rows(rows: &[u8]) -> Result<Schema> {
    let mut fields: Vec<Field> = Vec::new();
    for (idx, v) in serde_json::Deserializer::from_slice(rows).into_iter::<Value>().enumerate() {
        let v = v.code(ErrorCode::InvalidRecord, "invalid JSON")?;
        let Value::Object(map) = v else {
            return Err(Error::invalid_record(format!("record {idx} is not a JSON object")));
        };
        let mut row_fields: Vec<Field> = Vec::with_capacity(map.len());
        for (k, v) in map.iter() {
            row_fields.push(Field::new(k, infer_top(k, v), true));
        }
        fields = merge_field_lists(&fields, &row_fields, MergeMode::Loose, "")?;
    }
    Ok(Schema::new(fields))
}

fn infer_top(name: &str, v: &Value) -> DataType {
    match v {
        Value::Array(items) if name == VECTOR_FIELD && !items.is_empty() && items.iter().all(|x| x.is_number()) => {
            DataType::FixedSizeList(Arc::new(Field::new_list_field(DataType::Float32, true)), items.len() as i32)
        }
        _ => infer_value(v),
    }
}

fn infer_value(v: &Value) -> DataType {
    match v {
        Value::Null => DataType::Null,
        Value::Bool(_) => DataType::Boolean,
        // serde_json keeps an integer as i64 or u64 only when the text has no fraction or
        // exponent and fits; 2^63..2^64 (a u64) does not fit Int64.
        Value::Number(n) => {
            if n.is_i64() {
                DataType::Int64
            } else {
                DataType::Float64
            }
        }
        Value::String(_) => DataType::Utf8,
        Value::Array(items) => {
            let mut elem = DataType::Null;
            for x in items {
                let t = infer_value(x);
                elem = merge_types(&elem, &t, MergeMode::Loose, "[]").unwrap_or(DataType::Utf8);
            }
            DataType::List(Arc::new(Field::new_list_field(elem, true)))
        }
        Value::Object(map) => DataType::Struct(Fields::from(
            map.iter().map(|(k, v)| Field::new(k, infer_value(v), true)).collect::<Vec<_>>(),
        )),
    }
}

pub fn merge_schemas(old: &Schema, new: &Schema, mode: MergeMode) -> Result<Schema> {
    let fields = merge_field_lists(
        &old.fields().iter().map(|f| f.as_ref().clone()).collect::<Vec<_>>(),
        &new.fields().iter().map(|f| f.as_ref().clone()).collect::<Vec<_>>(),
        mode,
        "",
    )?;
    Ok(Schema::new_with_metadata(fields, old.metadata().clone()))
}

fn merge_field_lists(old: &[Field], new: &[Field], mode: MergeMode, prefix: &str) -> Result<Vec<Field>> {
    let mut out: Vec<Field> = old.to_vec();
    for nf in new {
        let path = format!("{prefix}{}", nf.name());
        match out.iter_mut().find(|f| f.name() == nf.name()) {
            Some(of) => {
                let merged = merge_types(of.data_type(), nf.data_type(), mode, &path)?;
                if &merged != of.data_type() {
                    *of = of.clone().with_data_type(merged);
                }
            }
            None => {
                if mode == MergeMode::Fixed {
                    return Err(Error::schema(format!(
                        "field '{path}' is not in the stored schema; this backend's schema is fixed by its first flush (use the 'persisting' backend for schema evolution)"
                    )));
                }
                out.push(Field::new(nf.name(), nf.data_type().clone(), true));
            }
        }
    }
    Ok(out)
}

fn type_name(t: &DataType) -> String {
    match t {
        DataType::Int64 => "integer".into(),
        DataType::Float64 | DataType::Float32 => "float".into(),
        DataType::Utf8 | DataType::LargeUtf8 => "string".into(),
        DataType::Boolean => "boolean".into(),
        DataType::Struct(_) => "object".into(),
        DataType::FixedSizeList(_, n) => format!("vector[{n}]"),
        DataType::List(_) | DataType::LargeList(_) => "list".into(),
        DataType::Null => "null".into(),
        other => other.to_string(),
    }
}

pub fn merge_types(old: &DataType, new: &DataType, mode: MergeMode, path: &str) -> Result<DataType> {
    use DataType::*;
    if old == new {
        return Ok(old.clone());
    }
    let mismatch = || {
        Error::schema(format!(
            "field '{path}' changed type from {} to {}",
            type_name(old),
            type_name(new)
        ))
    };
    Ok(match (old, new) {
        (_, Null) => old.clone(),
        // An all-null field has no type yet (it is not in Lance, see `lance_io::stored_schema`).
        (Null, _) => new.clone(),
        // Integers widen in every mode: JS has one number type, so a fraction or an integer
        // beyond i64 is not a change of kind.
        (Float64, Int64) | (Int64, Float64) => Float64,
        (Struct(a), Struct(b)) => {
            let a: Vec<Field> = a.iter().map(|f| f.as_ref().clone()).collect();
            let b: Vec<Field> = b.iter().map(|f| f.as_ref().clone()).collect();
            // Nested fields cannot be added to stored data by Lance's add_columns.
            let nested_mode = if mode == MergeMode::Evolve { MergeMode::Fixed } else { mode };
            Struct(Fields::from(merge_field_lists(&a, &b, nested_mode, &format!("{path}."))?))
        }
        (FixedSizeList(_, n), FixedSizeList(_, m)) => {
            if mode == MergeMode::Loose {
                List(Arc::new(Field::new_list_field(Float64, true)))
            } else {
                return Err(Error::schema(format!(
                    "field '{path}' is a vector of length {n} but received an array of length {m}"
                )));
            }
        }
        (FixedSizeList(_, _), List(_)) | (List(_), FixedSizeList(_, _)) => {
            if mode == MergeMode::Loose {
                let elem = match (old, new) {
                    (List(f), _) | (_, List(f)) => merge_types(f.data_type(), &Float64, mode, path)?,
                    _ => Float64,
                };
                List(Arc::new(Field::new_list_field(elem, true)))
            } else if let List(f) = old {
                // Numbers into a list column: its elements may have to widen to float.
                let elem = merge_types(f.data_type(), &Float64, mode, &format!("{path}[]"))?;
                List(Arc::new(Field::new_list_field(elem, true)))
            } else {
                return Err(mismatch());
            }
        }
        (List(a), List(b)) => {
            let elem = merge_types(a.data_type(), b.data_type(), mode, &format!("{path}[]"))?;
            List(Arc::new(Field::new_list_field(elem, true)))
        }
        _ => return Err(mismatch()),
    })
}

/// Decodes newline-separated rows with a known schema; unknown fields are errors.
pub fn decode_rows(rows: &[u8], schema: &SchemaRef, expected_rows: usize) -> Result<RecordBatch> {
    let mut decoder = ReaderBuilder::new(schema.clone())
        .with_batch_size(expected_rows.max(1))
        .with_strict_mode(true)
        .build_decoder()
        .code(ErrorCode::Internal, "building JSON decoder")?;
    let mut consumed = 0;
    let mut batches = Vec::with_capacity(1);
    while consumed < rows.len() {
        let n = decoder.decode(&rows[consumed..]).map_err(decode_error)?;
        consumed += n;
        if let Some(b) = decoder.flush().map_err(decode_error)? {
            batches.push(b);
        }
        if n == 0 {
            break;
        }
    }
    if let Some(b) = decoder.flush().map_err(decode_error)? {
        batches.push(b);
    }
    let batch = match batches.len() {
        0 => RecordBatch::new_empty(schema.clone()),
        1 => batches.pop().unwrap(),
        _ => arrow_select::concat::concat_batches(schema, &batches).code(ErrorCode::Internal, "concat")?,
    };
    if batch.num_rows() != expected_rows {
        return Err(Error::invalid_record(format!(
            "decoded {} rows, expected {expected_rows}",
            batch.num_rows()
        )));
    }
    Ok(batch)
}

fn decode_error(e: arrow_schema::ArrowError) -> Error {
    let msg = e.to_string();
    let msg = msg.strip_prefix("Json error: ").unwrap_or(&msg).to_string();
    Error::with_source(ErrorCode::SchemaMismatch, format!("record does not fit the schema: {msg}"), e)
}

/// Encodes batches as one JSON array text; nulls are written explicitly so every record
/// has every field of the schema.
pub fn encode_batches(batches: &[RecordBatch]) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(batches.iter().map(|b| b.get_array_memory_size()).sum::<usize>() + 2);
    {
        let mut w = arrow_json::WriterBuilder::new()
            .with_explicit_nulls(true)
            .build::<_, arrow_json::writer::JsonArray>(&mut out);
        for b in batches {
            w.write(b).code(ErrorCode::Internal, "encoding JSON")?;
        }
        w.finish().code(ErrorCode::Internal, "encoding JSON")?;
    }
    if out.is_empty() {
        out.extend_from_slice(b"[]");
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
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
        for (name, want) in [("a", DataType::Int64), ("b", DataType::Int64), ("c", DataType::Float64), ("d", DataType::Float64), ("e", DataType::Int64), ("f", DataType::Float64), ("g", DataType::Float64)] {
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
}
