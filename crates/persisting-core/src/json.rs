//! JSON rows <-> Arrow.
//!
//! Records cross from JavaScript as ONE `JSON.stringify` of the whole batch. arrow-json's
//! decoder wants concatenated objects, not an array, so a single byte pass (`split_rows`)
//! rewrites the array in place into newline-separated rows and, on the way, checks the
//! top-level keys and value kinds against the current schema. Only when that check fails
//! (first batch, new field, int -> float) do we pay for a full `serde_json` parse to infer
//! types (`infer_rows`).

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
    let fields: Vec<(&[u8], &DataType)> = schema
        .map(|s| s.fields().iter().map(|f| (f.name().as_bytes(), f.data_type())).collect())
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
    fields: &[(&[u8], &DataType)],
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
        let (kind, end, value_escaped) = scan_value(buf, i)?;
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
            } else if pos < fields.len() && fields[pos].0 == key {
                Some(fields[pos].1)
            } else {
                fields.iter().find(|(name, _)| *name == key).map(|(_, t)| *t)
            };
            pos += 1;
            *fits = match field {
                Some(dt) => kind_fits(kind, dt),
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

/// Returns the kind, the index after the value, and whether a string value had escapes.
fn scan_value(buf: &[u8], i: usize) -> Result<(Kind, usize, bool)> {
    if i >= buf.len() {
        return Err(Error::invalid_record("missing value"));
    }
    match buf[i] {
        b'"' => {
            let (end, escaped) = scan_string(buf, i)?;
            Ok((Kind::Str, end, escaped))
        }
        b'n' => Ok((Kind::Null, i + 4, false)),
        b't' => Ok((Kind::Bool, i + 4, false)),
        b'f' => Ok((Kind::Bool, i + 5, false)),
        b'{' | b'[' => {
            let kind = if buf[i] == b'{' { Kind::Obj } else { Kind::Arr };
            let mut depth = 0usize;
            let mut j = i;
            while j < buf.len() {
                match buf[j] {
                    b'"' => {
                        j = scan_string(buf, j)?.0;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Ok((kind, j + 1, false));
                        }
                    }
                    _ => {}
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
            Ok((if float { Kind::Float } else { Kind::Int }, j, false))
        }
    }
}

/// How an incoming type may combine with the one already known for a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MergeMode {
    /// Schema not fixed yet: anything compatible merges (new fields, int -> float, vector -> list).
    Loose,
    /// Schema fixed by stored data and not evolvable (LanceBackend).
    Fixed,
    /// Schema fixed by stored data but evolvable (PersistingBackend): new nullable fields, int -> float.
    Evolve,
}

/// Infers the Arrow schema of newline-separated JSON rows.
/// Integers at the top level are Int64; numbers inside objects/lists are Float64 (so a later
/// fractional value never truncates silently); top-level arrays of numbers with one length
/// in every row become FixedSizeList<Float32> vectors.
pub fn infer_rows(rows: &[u8]) -> Result<Schema> {
    let mut fields: Vec<Field> = Vec::new();
    for (idx, v) in serde_json::Deserializer::from_slice(rows).into_iter::<Value>().enumerate() {
        let v = v.code(ErrorCode::InvalidRecord, "invalid JSON")?;
        let Value::Object(map) = v else {
            return Err(Error::invalid_record(format!("record {idx} is not a JSON object")));
        };
        let mut row_fields: Vec<Field> = Vec::with_capacity(map.len());
        for (k, v) in map.iter() {
            row_fields.push(Field::new(k, infer_value(v, true), true));
        }
        fields = merge_field_lists(&fields, &row_fields, MergeMode::Loose, "")?;
    }
    Ok(Schema::new(fields))
}

fn infer_value(v: &Value, top: bool) -> DataType {
    match v {
        Value::Null => DataType::Null,
        Value::Bool(_) => DataType::Boolean,
        Value::Number(n) => {
            if top && (n.is_i64() || n.is_u64()) {
                DataType::Int64
            } else {
                DataType::Float64
            }
        }
        Value::String(_) => DataType::Utf8,
        Value::Array(items) => {
            if top && !items.is_empty() && items.iter().all(|x| x.is_number()) {
                return DataType::FixedSizeList(
                    Arc::new(Field::new_list_field(DataType::Float32, true)),
                    items.len() as i32,
                );
            }
            let mut elem = DataType::Null;
            for x in items {
                let t = infer_value(x, false);
                elem = merge_types(&elem, &t, MergeMode::Loose, "[]").unwrap_or(DataType::Utf8);
            }
            DataType::List(Arc::new(Field::new_list_field(elem, true)))
        }
        Value::Object(map) => DataType::Struct(Fields::from(
            map.iter().map(|(k, v)| Field::new(k, infer_value(v, false), true)).collect::<Vec<_>>(),
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
        (Null, _) => {
            if mode == MergeMode::Loose {
                new.clone()
            } else {
                // A stored all-null column cannot take values without a rewrite.
                return Err(mismatch());
            }
        }
        (Float64, Int64) => Float64,
        (Int64, Float64) => {
            if mode == MergeMode::Fixed {
                return Err(Error::schema(format!(
                    "field '{path}' is stored as integer but received a fractional number (the 'persisting' backend widens integers to floats)"
                )));
            }
            Float64
        }
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
            } else if matches!(old, List(_)) {
                // A numeric array into a list column: the decoder handles it if element types fit.
                let List(f) = old else { unreachable!() };
                merge_types(f.data_type(), &Float64, mode, path)?;
                old.clone()
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
        let (rows, _) = split(r#"[{"v":[1,2,3],"o":{"x":1},"l":["a"]},{"v":[0.5,1,2],"o":{"y":"s"}}]"#, None);
        let s = infer_rows(&rows).unwrap();
        assert!(matches!(s.field_with_name("v").unwrap().data_type(), DataType::FixedSizeList(_, 3)));
        let DataType::Struct(f) = s.field_with_name("o").unwrap().data_type() else { panic!() };
        assert_eq!(f.len(), 2);
        assert_eq!(f[0].data_type(), &DataType::Float64);
        let batch = decode_rows(&rows, &Arc::new(s), 2).unwrap();
        let json = String::from_utf8(encode_batches(&[batch]).unwrap()).unwrap();
        assert!(json.contains(r#""v":[1.0,2.0,3.0]"#) || json.contains(r#""v":[1,2,3]"#), "{json}");
    }

    #[test]
    fn merge_rules() {
        let int = DataType::Int64;
        let flt = DataType::Float64;
        assert_eq!(merge_types(&int, &flt, MergeMode::Evolve, "n").unwrap(), flt);
        let e = merge_types(&int, &flt, MergeMode::Fixed, "n").unwrap_err();
        assert_eq!(e.code, ErrorCode::SchemaMismatch);
        assert!(e.message.contains("'n'"));
        assert!(merge_types(&DataType::Utf8, &int, MergeMode::Evolve, "s").is_err());
        let old = Schema::new(vec![Field::new("a", int.clone(), true)]);
        let new = Schema::new(vec![Field::new("b", int.clone(), true)]);
        let e = merge_schemas(&old, &new, MergeMode::Fixed).unwrap_err();
        assert!(e.message.contains("'b'"));
        assert_eq!(merge_schemas(&old, &new, MergeMode::Evolve).unwrap().fields().len(), 2);
    }
}
