//! Vectors as raw bytes, both ways. In: the JSON text holds every other field, each vector
//! column comes as one contiguous little-endian float buffer (row-major, `dim` values a row)
//! with an optional presence byte per row; the result is one batch in the record path's types,
//! each vector a `FixedSizeList<Float32|Float64, dim>` marked `TYPED_ARRAY_KEY`, every value
//! exact (no text on the way). Out: the marked columns of read batches, as the same buffers.

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::{Array, ArrayRef, FixedSizeListArray, Float32Array, Float64Array, RecordBatch, RecordBatchOptions};
use arrow_buffer::{NullBuffer, ScalarBuffer};
use arrow_schema::{DataType, Field, Schema};

use super::{
    decode_rows, infer_rows_with, record_types, split_rows, typed_array_metadata, VectorColumns, TYPED_ARRAY_KEY,
};
use crate::error::{Error, ErrorCode, Result, ResultExt};

/// One vector column of a batch, as raw bytes.
pub struct RawVectors<'a> {
    pub name: &'a str,
    pub dim: usize,
    /// Float64 values (8 bytes each) instead of Float32 (4 bytes).
    pub f64: bool,
    pub data: &'a [u8],
    /// One byte a row, 0 = no vector in that record (null); None = every row has one.
    pub present: Option<&'a [u8]>,
    /// Number arrays, not typed arrays: a float32 vector without the typed-array mark (reads give
    /// number arrays back), or float64 list values where the field is already a list column.
    pub plain: bool,
}

/// Decodes `json` (an array of records without the vector fields) and adds `vectors`. `current`
/// is the bucket's schema: a plain vector field it holds as a list stays a list (exact values).
pub fn rows_with_vectors(
    json: &[u8],
    vectors: &[RawVectors<'_>],
    declared: &VectorColumns,
    current: Option<&Schema>,
) -> Result<RecordBatch> {
    let mut rows_text = json.to_vec();
    // The bucket's schema without the vector fields: when the scan finds the rows fit it, they
    // decode with it directly, without parsing every row a second time to infer types.
    let known = current.map(|c| {
        Schema::new(
            c.fields().iter().filter(|f| !vectors.iter().any(|v| v.name == f.name())).cloned().collect::<Vec<_>>(),
        )
    });
    let split = split_rows(&mut rows_text, known.as_ref())?;
    let n = split.rows;
    let mut fields: Vec<Field> = Vec::new();
    let mut columns: Vec<ArrayRef> = Vec::new();
    // On failure (a type change, an integer beyond i64), inference below names the problem.
    let fitting = known
        .filter(|k| split.fits_schema && !k.fields().is_empty())
        .and_then(|k| decode_rows(&rows_text, &Arc::new(k), n).ok());
    let decoded = match fitting {
        Some(b) => Some(b),
        None => {
            let schema = infer_rows_with(&rows_text, declared)?;
            if schema.fields().is_empty() {
                None
            } else {
                Some(decode_rows(&rows_text, &Arc::new(schema), n)?)
            }
        }
    };
    if let Some(batch) = decoded {
        fields.extend(batch.schema().fields().iter().map(|f| f.as_ref().clone()));
        columns.extend(batch.columns().iter().cloned());
    }
    for v in vectors {
        // Records with `null` there kept the key in the JSON text: an all-null column, dropped
        // (the vector column's presence bytes say which rows have none).
        if let Some(i) = fields.iter().position(|f| f.name() == v.name && f.data_type() == &DataType::Null) {
            fields.remove(i);
            columns.remove(i);
        }
        if fields.iter().any(|f| f.name() == v.name) {
            return Err(Error::invalid_record(format!(
                "field '{}' holds typed-array vectors in some records and other values in others",
                v.name
            )));
        }
        let as_list = v.plain
            && current
                .and_then(|c| c.field_with_name(v.name).ok())
                .is_some_and(|f| matches!(f.data_type(), DataType::List(_)));
        let (field, column) = vector_column(v, n, as_list)?;
        fields.push(field);
        columns.push(column);
    }
    let batch = RecordBatch::try_new_with_options(
        Arc::new(Schema::new(fields)),
        columns,
        &RecordBatchOptions::new().with_row_count(Some(n)),
    )
    .code(ErrorCode::Internal, "records with vectors")?;
    record_types(&batch)
}

fn vector_column(v: &RawVectors<'_>, rows: usize, as_list: bool) -> Result<(Field, ArrayRef)> {
    let width = if v.f64 { 8 } else { 4 };
    if v.dim == 0 || v.dim > i32::MAX as usize || v.data.len() != rows * v.dim * width {
        return Err(Error::invalid_record(format!(
            "vector field '{}': {} bytes for {rows} rows of {} values",
            v.name,
            v.data.len(),
            v.dim
        )));
    }
    if let Some(p) = v.present {
        if p.len() != rows {
            return Err(Error::invalid_record(format!(
                "vector field '{}': presence for {} of {rows} rows",
                v.name,
                p.len()
            )));
        }
    }
    let present = |row: usize| v.present.is_none_or(|p| p[row] != 0);
    let f64_at = |b: &[u8]| f64::from_le_bytes(b.try_into().unwrap());
    let (item, values): (DataType, ArrayRef) = if v.f64 {
        let vals: Vec<f64> = v.data.chunks_exact(8).map(f64_at).collect();
        check_finite(v, &vals, &present)?;
        if v.plain && !as_list {
            // Number arrays become float32 vectors directly (a float64 vector column cast
            // afterwards cost two more full copies), rounding as that cast did.
            let vals: Vec<f32> = vals.iter().map(|&x| x as f32).collect();
            (DataType::Float32, Arc::new(Float32Array::new(ScalarBuffer::from(vals), None)))
        } else {
            (DataType::Float64, Arc::new(Float64Array::new(ScalarBuffer::from(vals), None)))
        }
    } else {
        let vals: Vec<f32> = v.data.chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect();
        check_finite(v, &vals, &present)?;
        (DataType::Float32, Arc::new(Float32Array::new(ScalarBuffer::from(vals), None)))
    };
    let nulls = v.present.map(|p| NullBuffer::from(p.iter().map(|&b| b != 0).collect::<Vec<bool>>()));
    let item_field = Arc::new(Field::new_list_field(item, true));
    let list = FixedSizeListArray::try_new(item_field.clone(), v.dim as i32, values, nulls)
        .code(ErrorCode::InvalidRecord, &format!("vector field '{}'", v.name))?;
    if v.plain && as_list {
        // A field already stored as a list keeps exact float64 list values, as on the JSON path.
        let target = DataType::List(Arc::new(Field::new_list_field(DataType::Float64, true)));
        let column =
            arrow_cast::cast(&list, &target).code(ErrorCode::Internal, &format!("vector field '{}'", v.name))?;
        return Ok((Field::new(v.name, target, true), column));
    }
    let mut field = Field::new(v.name, DataType::FixedSizeList(item_field, v.dim as i32), true);
    if !v.plain {
        // Number arrays read back as number arrays: only typed arrays carry the mark.
        field = field.with_metadata(typed_array_metadata(v.f64));
    }
    Ok((field, Arc::new(list)))
}

/// The columns of `batch` that `declared` names, as float32 vectors of the declared dimension:
/// a vector of another float kind is cast, a list whose rows all have that many numbers too;
/// anything else there is refused naming the field.
pub fn apply_declared(batch: RecordBatch, declared: &VectorColumns) -> Result<RecordBatch> {
    if declared.is_empty() || !batch.schema().fields().iter().any(|f| declared.contains_key(f.name())) {
        return Ok(batch);
    }
    let schema = batch.schema();
    let mut fields = Vec::with_capacity(schema.fields().len());
    let mut columns = Vec::with_capacity(schema.fields().len());
    for (f, c) in schema.fields().iter().zip(batch.columns()) {
        let Some(&dim) = declared.get(f.name()) else {
            fields.push(f.as_ref().clone());
            columns.push(c.clone());
            continue;
        };
        let target = DataType::FixedSizeList(Arc::new(Field::new_list_field(DataType::Float32, true)), dim);
        let fits = match c.data_type() {
            DataType::Null => true,
            DataType::FixedSizeList(item, n) => *n == dim && item.data_type().is_floating(),
            DataType::List(item) if item.data_type().is_numeric() => {
                let l = c.as_list::<i32>();
                (0..l.len()).all(|i| l.is_null(i) || l.value_length(i) == dim)
            }
            _ => false,
        };
        if !fits {
            return Err(Error::invalid_record(format!(
                "field '{}' holds {}, which vectorColumns declares a vector of {dim} numbers",
                f.name(),
                c.data_type()
            )));
        }
        if c.data_type() == &DataType::Null {
            fields.push(f.as_ref().clone());
            columns.push(c.clone());
            continue;
        }
        let column = arrow_cast::cast(c, &target)
            .code(ErrorCode::InvalidRecord, &format!("field '{}' as a vector", f.name()))?;
        let mut field = Field::new(f.name(), target, true);
        if f.metadata().contains_key(TYPED_ARRAY_KEY) {
            field = field.with_metadata(typed_array_metadata(false));
        }
        fields.push(field);
        columns.push(column);
    }
    RecordBatch::try_new_with_options(
        Arc::new(Schema::new(fields)),
        columns,
        &RecordBatchOptions::new().with_row_count(Some(batch.num_rows())),
    )
    .code(ErrorCode::Internal, "declared vector columns")
}

/// One vector column of read rows, as raw bytes (the layout `RawVectors` takes in).
#[derive(Debug)]
pub struct OwnedVectors {
    pub name: String,
    pub dim: usize,
    pub f64: bool,
    pub data: Vec<u8>,
    /// One byte a row, 0 = null; None = every row has a vector.
    pub present: Option<Vec<u8>>,
}

/// Splits the columns marked `TYPED_ARRAY_KEY` in `schema` out of `batches` (all in that
/// schema) as raw bytes; the rest stay for the JSON text. A marked column holding a null
/// inside a vector (possible only through a JSON or Arrow put) stays in the JSON instead.
pub fn vector_columns_out(batches: Vec<RecordBatch>, schema: &Schema) -> (Vec<RecordBatch>, Vec<OwnedVectors>) {
    let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
    let mut out = Vec::new();
    for f in schema.fields() {
        let Some(kind) = f.metadata().get(TYPED_ARRAY_KEY) else {
            continue;
        };
        let (dim, item) = match f.data_type() {
            DataType::FixedSizeList(item, dim) if *dim > 0 => (*dim as usize, item.data_type().clone()),
            _ => continue,
        };
        let f64 = match item {
            DataType::Float64 => true,
            DataType::Float32 => false,
            _ => continue,
        };
        debug_assert_eq!(kind == "Float64Array", f64);
        let width = if f64 { 8 } else { 4 };
        let mut data = Vec::with_capacity(rows * dim * width);
        let mut present: Vec<u8> = Vec::with_capacity(rows);
        let mut clean = true;
        for b in &batches {
            let Some(col) = b.column_by_name(f.name()) else {
                clean = false;
                break;
            };
            let Some(list) = col.as_fixed_size_list_opt() else {
                clean = false;
                break;
            };
            let values = list.values();
            // A null row's slots may be null (they are never read); a null inside a vector is not
            // something a typed array holds.
            let null_inside = values.null_count() > 0
                && (0..list.len()).any(|i| list.is_valid(i) && (i * dim..(i + 1) * dim).any(|j| values.is_null(j)));
            if null_inside || values.len() != list.len() * dim {
                clean = false;
                break;
            }
            if f64 {
                data.extend(
                    values
                        .as_primitive::<arrow_array::types::Float64Type>()
                        .values()
                        .iter()
                        .flat_map(|x| x.to_le_bytes()),
                );
            } else {
                data.extend(
                    values
                        .as_primitive::<arrow_array::types::Float32Type>()
                        .values()
                        .iter()
                        .flat_map(|x| x.to_le_bytes()),
                );
            }
            present.extend((0..list.len()).map(|i| list.is_valid(i) as u8));
        }
        if !clean {
            continue;
        }
        let present = if present.iter().all(|&p| p == 1) { None } else { Some(present) };
        out.push(OwnedVectors { name: f.name().clone(), dim, f64, data, present });
    }
    if out.is_empty() {
        return (batches, out);
    }
    let rest = batches
        .into_iter()
        .map(|b| {
            let keep: Vec<usize> =
                (0..b.num_columns()).filter(|&i| !out.iter().any(|v| &v.name == b.schema().field(i).name())).collect();
            b.project(&keep).expect("projecting existing columns")
        })
        .collect();
    (rest, out)
}

/// NaN and ±Infinity are refused as the record path refuses them, naming record and field.
/// Refuses the first non-finite value of a present row, naming the record and position.
fn check_finite<T: Copy + Into<f64>>(v: &RawVectors<'_>, vals: &[T], present: &dyn Fn(usize) -> bool) -> Result<()> {
    // Row by row: the common case (all finite) is one tight loop per row, no per-value division.
    for (row, values) in vals.chunks_exact(v.dim).enumerate() {
        if values.iter().all(|&x| x.into().is_finite()) || !present(row) {
            continue;
        }
        let j = values.iter().position(|&x| !x.into().is_finite()).unwrap_or(0);
        return Err(Error::invalid_record(format!(
            "record {row} has a non-finite value at {}[{j}], which a record cannot hold",
            v.name
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use arrow_array::cast::AsArray;
    use arrow_array::types::Float32Type;
    use arrow_array::Array;

    use super::*;

    fn f32_bytes(v: &[f32]) -> Vec<u8> {
        v.iter().flat_map(|x| x.to_le_bytes()).collect()
    }

    #[test]
    fn vectors_join_the_json_fields_exactly() {
        let data = f32_bytes(&[0.1, 0.2, 0.3, f32::MAX, -0.0, 1e-40]);
        let present = [1u8, 1];
        let v = RawVectors { name: "emb", dim: 3, f64: false, data: &data, present: Some(&present), plain: false };
        let b = rows_with_vectors(br#"[{"id":1,"t":"a"},{"id":2}]"#, &[v], &VectorColumns::new(), None).unwrap();
        let names: Vec<_> = b.schema().fields().iter().map(|f| f.name().clone()).collect();
        assert_eq!(names, ["emb", "id", "t"]);
        let emb = b.column(0).as_fixed_size_list();
        let row1 = emb.value(1);
        let vals = row1.as_primitive::<Float32Type>().values();
        assert_eq!(vals.to_vec(), vec![f32::MAX, -0.0, 1e-40]);
    }

    #[test]
    fn null_rows_with_null_slots_still_come_out_raw() {
        use arrow_array::builder::{FixedSizeListBuilder, Float32Builder};
        let mut b = FixedSizeListBuilder::new(Float32Builder::new(), 2)
            .with_field(Arc::new(Field::new_list_field(DataType::Float32, true)));
        b.values().append_slice(&[1.0, 2.0]);
        b.append(true);
        b.values().append_null();
        b.values().append_null();
        b.append(false); // what a JSON row without the field decodes to
        let field =
            Field::new("v", DataType::FixedSizeList(Arc::new(Field::new_list_field(DataType::Float32, true)), 2), true)
                .with_metadata(typed_array_metadata(false));
        let schema = Schema::new(vec![field]);
        let batch = RecordBatch::try_new(Arc::new(schema.clone()), vec![Arc::new(b.finish()) as ArrayRef]).unwrap();
        let (_, out) = vector_columns_out(vec![batch], &schema);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].present.as_deref(), Some(&[1u8, 0][..]));
        assert_eq!(&out[0].data[..8], &f32_bytes(&[1.0, 2.0])[..]);
    }

    #[test]
    fn missing_vectors_are_null_and_bad_ones_refused() {
        let data = f32_bytes(&[1.0, 2.0, 0.0, 0.0]);
        let present = [1u8, 0];
        let v = RawVectors { name: "v", dim: 2, f64: false, data: &data, present: Some(&present), plain: false };
        let b = rows_with_vectors(b"[{},{}]", &[v], &VectorColumns::new(), None).unwrap();
        assert_eq!(b.num_rows(), 2);
        assert!(b.column(0).is_null(1));

        let nan = f32_bytes(&[1.0, f32::NAN]);
        let v = RawVectors { name: "v", dim: 2, f64: false, data: &nan, present: None, plain: false };
        let e = rows_with_vectors(b"[{}]", &[v], &VectorColumns::new(), None).unwrap_err();
        assert!(e.message.contains("record 0 has a non-finite value at v[1]"), "{e}");

        let short = f32_bytes(&[1.0]);
        let v = RawVectors { name: "v", dim: 2, f64: false, data: &short, present: None, plain: false };
        assert_eq!(
            rows_with_vectors(b"[{}]", &[v], &VectorColumns::new(), None).unwrap_err().code,
            ErrorCode::InvalidRecord
        );

        let data = f32_bytes(&[1.0, 2.0]);
        let v = RawVectors { name: "v", dim: 2, f64: false, data: &data, present: None, plain: false };
        assert!(rows_with_vectors(br#"[{"v":[1,2]}]"#, &[v], &VectorColumns::new(), None)
            .unwrap_err()
            .message
            .contains("typed-array vectors"));
    }
}
