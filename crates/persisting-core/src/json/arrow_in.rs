//! Arrow IPC in: batches become NDJSON lines for the NDJSON put path, so Arrow input gets the
//! same schema inference, WAL frames, routing and all-or-nothing checks as JSON records.
//!
//! Only what the record path can hold is accepted; the rest is refused naming the column,
//! never rewritten: NaN/±Infinity (JSON would carry them as null), UInt64 values above
//! i64::MAX (they would turn into lossy floats), and types JSON has no value for (binary,
//! decimals, durations, intervals, unions). Dates and times become ISO-8601 strings, as a
//! JavaScript `Date` does through `JSON.stringify`.

use std::io::Cursor;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float16Type, Float32Type, Float64Type, UInt64Type};
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_ipc::reader::{FileReader, StreamReader};
use arrow_json::writer::LineDelimited;
use arrow_json::WriterBuilder;
use arrow_schema::{DataType, Field, SchemaRef};

use crate::error::{Error, ErrorCode, Result, ResultExt};

const FILE_MAGIC: &[u8] = b"ARROW1";

/// Reads an Arrow IPC stream or file from `ipc` and writes its rows as NDJSON into `out`
/// (cleared first). Returns the number of rows.
pub fn ipc_to_ndjson(ipc: &[u8], out: &mut Vec<u8>) -> Result<usize> {
    out.clear();
    let (_, batches) = read_checked(ipc)?;
    let mut rows = 0;
    // Explicit nulls: an Arrow row has every column, so a null is a value (as `k: null` in a
    // record: it routes like one and the memory backend keeps the key), not a missing key.
    let mut writer = WriterBuilder::new().with_explicit_nulls(true).build::<_, LineDelimited>(out);
    for batch in &batches {
        let batch = null_columns_as_text(batch)?;
        writer.write(&batch).code(ErrorCode::InvalidRecord, "writing Arrow rows as JSON")?;
        rows += batch.num_rows();
    }
    writer.finish().code(ErrorCode::InvalidRecord, "writing Arrow rows as JSON")?;
    Ok(rows)
}

/// An Arrow IPC stream or file as one batch in the record path's types (`record_types`), for
/// puts that keep Arrow all the way; refuses what a record cannot hold, as `ipc_to_ndjson` does.
pub fn ipc_to_batch(ipc: &[u8]) -> Result<RecordBatch> {
    let (schema, batches) = read_checked(ipc)?;
    let batch =
        arrow_select::concat::concat_batches(&schema, &batches).code(ErrorCode::Internal, "joining Arrow batches")?;
    super::record_types::record_types(&batch)
}

/// Every WAL payload the core writes for an Arrow put starts with the IPC continuation marker;
/// a JSON payload starts with `{` or whitespace, so the two can never be confused.
pub const IPC_PAYLOAD_MARK: [u8; 4] = [0xFF; 4];

pub fn is_ipc_payload(payload: &[u8]) -> bool {
    payload.starts_with(&IPC_PAYLOAD_MARK)
}

/// One batch as an IPC stream (a WAL payload).
pub fn batch_to_ipc(batch: &RecordBatch) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(batch.get_array_memory_size() + 1024);
    let mut w =
        arrow_ipc::writer::StreamWriter::try_new(&mut out, &batch.schema()).code(ErrorCode::Internal, "IPC writer")?;
    w.write(batch).code(ErrorCode::Internal, "IPC write")?;
    w.finish().code(ErrorCode::Internal, "IPC finish")?;
    drop(w);
    debug_assert!(is_ipc_payload(&out));
    Ok(out)
}

/// A WAL payload written by `batch_to_ipc`, back as one batch.
pub fn ipc_payload_to_batch(payload: &[u8]) -> Result<RecordBatch> {
    let (schema, batches) = read_ipc(payload)?;
    arrow_select::concat::concat_batches(&schema, &batches).code(ErrorCode::WalCorrupt, "joining WAL IPC batches")
}

fn read_checked(ipc: &[u8]) -> Result<(SchemaRef, Vec<RecordBatch>)> {
    let (schema, batches) = read_ipc(ipc)?;
    for field in schema.fields() {
        check_type(field.name(), field)?;
    }
    let mut rows = 0;
    for batch in &batches {
        for (field, column) in schema.fields().iter().zip(batch.columns()) {
            check_values(field.name(), column, rows)?;
        }
        rows += batch.num_rows();
    }
    Ok((schema, batches))
}

/// arrow-json leaves out a column of type Null even with explicit nulls; as all-null text it
/// prints `"k":null` in every row, as a record with `k: null` would.
fn null_columns_as_text(batch: &RecordBatch) -> Result<std::borrow::Cow<'_, RecordBatch>> {
    let schema = batch.schema();
    if !schema.fields().iter().any(|f| f.data_type() == &DataType::Null) {
        return Ok(std::borrow::Cow::Borrowed(batch));
    }
    let (fields, columns): (Vec<Field>, Vec<ArrayRef>) = schema
        .fields()
        .iter()
        .zip(batch.columns())
        .map(|(f, c)| match f.data_type() {
            DataType::Null => {
                (Field::new(f.name(), DataType::Utf8, true), arrow_array::new_null_array(&DataType::Utf8, c.len()))
            }
            _ => (f.as_ref().clone(), c.clone()),
        })
        .unzip();
    RecordBatch::try_new(std::sync::Arc::new(arrow_schema::Schema::new(fields)), columns)
        .map(std::borrow::Cow::Owned)
        .code(ErrorCode::Internal, "retyping null columns")
}

fn read_ipc(ipc: &[u8]) -> Result<(SchemaRef, Vec<RecordBatch>)> {
    let bad = |e: arrow_schema::ArrowError| {
        Error::invalid_record(format!("not an Arrow IPC stream or file: {e}; nothing of this call was stored"))
    };
    if ipc.starts_with(FILE_MAGIC) {
        let reader = FileReader::try_new(Cursor::new(ipc), None).map_err(bad)?;
        let schema = reader.schema();
        let batches = reader.collect::<std::result::Result<Vec<_>, _>>().map_err(bad)?;
        Ok((schema, batches))
    } else {
        let reader = StreamReader::try_new(Cursor::new(ipc), None).map_err(bad)?;
        let schema = reader.schema();
        let batches = reader.collect::<std::result::Result<Vec<_>, _>>().map_err(bad)?;
        Ok((schema, batches))
    }
}

fn refused(path: &str, why: &str) -> Error {
    Error::invalid_record(format!("Arrow column '{path}' {why}; nothing of this call was stored"))
}

fn check_type(path: &str, field: &Field) -> Result<()> {
    use DataType::*;
    match field.data_type() {
        Null
        | Boolean
        | Int8
        | Int16
        | Int32
        | Int64
        | UInt8
        | UInt16
        | UInt32
        | UInt64
        | Float16
        | Float32
        | Float64
        | Utf8
        | LargeUtf8
        | Utf8View
        | Date32
        | Date64
        | Timestamp(_, _)
        | Time32(_)
        | Time64(_) => Ok(()),
        List(item) | LargeList(item) | ListView(item) | LargeListView(item) | FixedSizeList(item, _) => {
            check_type(&format!("{path}[]"), item)
        }
        Struct(fields) => fields.iter().try_for_each(|f| check_type(&format!("{path}.{}", f.name()), f)),
        Dictionary(_, values) => check_type(path, &Field::new(path, (**values).clone(), true)),
        other => Err(refused(
            path,
            &format!("has type {other}, which a record cannot hold; cast it to a number, string or list first"),
        )),
    }
}

/// `first_row` numbers rows across batches in messages.
fn check_values(path: &str, column: &ArrayRef, first_row: usize) -> Result<()> {
    let non_finite = |row: usize, v: f64| {
        let v = if v.is_nan() {
            "NaN"
        } else if v > 0.0 {
            "Infinity"
        } else {
            "-Infinity"
        };
        refused(
            path,
            &format!("has {v} at row {}, which JSON cannot carry (it would be stored as null)", first_row + row),
        )
    };
    match column.data_type() {
        DataType::Float16 => {
            let a = column.as_primitive::<Float16Type>();
            if let Some(i) = (0..a.len()).find(|&i| a.is_valid(i) && !a.value(i).is_finite()) {
                return Err(non_finite(i, a.value(i).to_f64()));
            }
        }
        DataType::Float32 => {
            let a = column.as_primitive::<Float32Type>();
            if let Some(i) = (0..a.len()).find(|&i| a.is_valid(i) && !a.value(i).is_finite()) {
                return Err(non_finite(i, a.value(i) as f64));
            }
        }
        DataType::Float64 => {
            let a = column.as_primitive::<Float64Type>();
            if let Some(i) = (0..a.len()).find(|&i| a.is_valid(i) && !a.value(i).is_finite()) {
                return Err(non_finite(i, a.value(i)));
            }
        }
        DataType::UInt64 => {
            let a = column.as_primitive::<UInt64Type>();
            if let Some(i) = (0..a.len()).find(|&i| a.is_valid(i) && a.value(i) > i64::MAX as u64) {
                return Err(refused(
                    path,
                    &format!("has {} at row {}, above the int64 range records keep exactly", a.value(i), first_row + i),
                ));
            }
        }
        // Nested values are checked whole (rows are not tracked below the top level).
        DataType::List(_) => check_values(&format!("{path}[]"), column.as_list::<i32>().values(), 0)?,
        DataType::LargeList(_) => check_values(&format!("{path}[]"), column.as_list::<i64>().values(), 0)?,
        DataType::FixedSizeList(_, _) => check_values(&format!("{path}[]"), column.as_fixed_size_list().values(), 0)?,
        DataType::Struct(fields) => {
            let s = column.as_struct();
            for (f, c) in fields.iter().zip(s.columns()) {
                check_values(&format!("{path}.{}", f.name()), c, first_row)?;
            }
        }
        DataType::Dictionary(_, _) => check_values(path, column.as_any_dictionary().values(), 0)?,
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::{
        builder::{FixedSizeListBuilder, Float32Builder},
        Float64Array, Int64Array, StringArray, UInt64Array,
    };
    use arrow_ipc::writer::{FileWriter, StreamWriter};
    use arrow_schema::Schema;

    use super::*;

    fn stream(batches: &[RecordBatch]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut w = StreamWriter::try_new(&mut out, &batches[0].schema()).unwrap();
        for b in batches {
            w.write(b).unwrap();
        }
        w.finish().unwrap();
        drop(w);
        out
    }

    fn ndjson(ipc: &[u8]) -> Result<(usize, String)> {
        let mut out = Vec::new();
        let n = ipc_to_ndjson(ipc, &mut out)?;
        Ok((n, String::from_utf8(out).unwrap()))
    }

    fn batch(columns: Vec<(&str, ArrayRef)>) -> RecordBatch {
        RecordBatch::try_from_iter_with_nullable(columns.into_iter().map(|(n, a)| (n, a, true))).unwrap()
    }

    #[test]
    fn rows_of_every_batch_become_lines_with_explicit_nulls() {
        let a = batch(vec![
            ("id", Arc::new(Int64Array::from(vec![Some(1), None])) as ArrayRef),
            ("name", Arc::new(StringArray::from(vec![Some("x"), Some("y\"z")])) as ArrayRef),
        ]);
        let b = batch(vec![
            ("id", Arc::new(Int64Array::from(vec![i64::MAX])) as ArrayRef),
            ("name", Arc::new(StringArray::from(vec![None::<&str>])) as ArrayRef),
        ]);
        let (n, text) = ndjson(&stream(&[a.clone(), b])).unwrap();
        assert_eq!(n, 3);
        assert_eq!(
            text,
            "{\"id\":1,\"name\":\"x\"}\n{\"id\":null,\"name\":\"y\\\"z\"}\n{\"id\":9223372036854775807,\"name\":null}\n"
        );

        let mut file = Vec::new();
        let mut w = FileWriter::try_new(&mut file, &a.schema()).unwrap();
        w.write(&a).unwrap();
        w.finish().unwrap();
        drop(w);
        assert_eq!(ndjson(&file).unwrap().0, 2);
    }

    #[test]
    fn float32_vectors_keep_their_shortest_text() {
        let mut vectors = FixedSizeListBuilder::new(Float32Builder::new(), 2);
        vectors.values().append_slice(&[0.1, -3.5]);
        vectors.append(true);
        let (_, text) = ndjson(&stream(&[batch(vec![("vector", Arc::new(vectors.finish()) as ArrayRef)])])).unwrap();
        assert_eq!(text, "{\"vector\":[0.1,-3.5]}\n");
    }

    #[test]
    fn values_json_cannot_keep_are_refused_naming_column_and_row() {
        let nan = batch(vec![("x", Arc::new(Float64Array::from(vec![1.0, f64::NAN])) as ArrayRef)]);
        let e = ndjson(&stream(&[nan])).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidRecord);
        assert!(e.to_string().contains("'x' has NaN at row 1"), "{e}");
        let inf = batch(vec![("x", Arc::new(Float64Array::from(vec![f64::NEG_INFINITY])) as ArrayRef)]);
        assert!(ndjson(&stream(&[inf])).unwrap_err().to_string().contains("'x' has -Infinity at row 0"));

        let big = batch(vec![("n", Arc::new(UInt64Array::from(vec![u64::MAX])) as ArrayRef)]);
        assert!(ndjson(&stream(&[big])).unwrap_err().to_string().contains("'n' has 18446744073709551615 at row 0"));

        let bytes = RecordBatch::try_new(
            Arc::new(Schema::new(vec![Field::new("b", DataType::Binary, true)])),
            vec![Arc::new(arrow_array::BinaryArray::from(vec![&b"ab"[..]]))],
        )
        .unwrap();
        assert!(ndjson(&stream(&[bytes])).unwrap_err().to_string().contains("'b' has type Binary"));

        let nulls = RecordBatch::try_new(
            Arc::new(Schema::new(vec![Field::new("k", DataType::Null, true), Field::new("v", DataType::Int64, true)])),
            vec![Arc::new(arrow_array::NullArray::new(1)), Arc::new(Int64Array::from(vec![5]))],
        )
        .unwrap();
        assert_eq!(ndjson(&stream(&[nulls])).unwrap().1, "{\"k\":null,\"v\":5}\n");

        let e = ndjson(b"not arrow").unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidRecord);
        assert!(e.to_string().contains("not an Arrow IPC"), "{e}");
    }
}
