//! Arrow input in the record path's types, so rows put as Arrow land in the same Lance schema
//! as the same rows put as JSON: integers Int64, other numbers Float64, text Utf8 (dictionaries
//! decoded; dates and times as their ISO-8601 text), lists and structs recursively with fields
//! in name order, and a top-level fixed-size list of floats kept as a vector (float32, or float64
//! for float64 values). A top-level `vector` list of numbers whose rows all have one length
//! becomes a float32 vector, as the JSON path makes it.

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::{Array, ArrayRef, RecordBatch, RecordBatchOptions};
use arrow_schema::{DataType, Field, Schema};

use super::{TYPED_ARRAY_KEY, VECTOR_FIELD};
use crate::conform::conform_array;
use crate::error::{ErrorCode, Result, ResultExt};

pub fn record_types(batch: &RecordBatch) -> Result<RecordBatch> {
    let schema = batch.schema();
    let mut cols = Vec::with_capacity(schema.fields().len());
    for (f, c) in schema.fields().iter().zip(batch.columns()) {
        let target = match vector_dim(f.name(), c) {
            Some(dim) => DataType::FixedSizeList(Arc::new(Field::new_list_field(DataType::Float32, true)), dim),
            None => record_type(f.data_type(), true),
        };
        let column = if matches!(target, DataType::FixedSizeList(_, _))
            && !matches!(c.data_type(), DataType::FixedSizeList(_, _))
        {
            arrow_cast::cast(c, &target)
                .code(ErrorCode::InvalidRecord, &format!("column '{}' as a vector", f.name()))?
        } else {
            conform_array(c, &target)?
        };
        // Only the typed-array mark survives (on a vector), so getArrow -> putArrow keeps it.
        let mut field = Field::new(f.name(), target, true);
        if let (Some(kind), DataType::FixedSizeList(_, _)) = (f.metadata().get(TYPED_ARRAY_KEY), field.data_type()) {
            field = field.with_metadata(super::typed_array_mark(kind));
        }
        cols.push((field, column));
    }
    cols.sort_by(|a, b| a.0.name().cmp(b.0.name()));
    let (fields, arrays): (Vec<Field>, Vec<ArrayRef>) = cols.into_iter().unzip();
    RecordBatch::try_new_with_options(
        Arc::new(Schema::new(fields)),
        arrays,
        &RecordBatchOptions::new().with_row_count(Some(batch.num_rows())),
    )
    .code(ErrorCode::Internal, "Arrow input in record types")
}

fn record_type(t: &DataType, top: bool) -> DataType {
    use DataType::*;
    let item = |t: DataType| Arc::new(Field::new_list_field(t, true));
    match t {
        Null => Null,
        Boolean => Boolean,
        Int8 | Int16 | Int32 | Int64 | UInt8 | UInt16 | UInt32 | UInt64 => Int64,
        Float16 | Float32 | Float64 => Float64,
        FixedSizeList(f, n) if top && matches!(f.data_type(), Float16 | Float32) => FixedSizeList(item(Float32), *n),
        FixedSizeList(f, n) if top && f.data_type() == &Float64 => FixedSizeList(item(Float64), *n),
        List(f) | LargeList(f) | ListView(f) | LargeListView(f) | FixedSizeList(f, _) => {
            List(item(record_type(f.data_type(), false)))
        }
        Struct(fields) => {
            let mut fs: Vec<Field> =
                fields.iter().map(|f| Field::new(f.name(), record_type(f.data_type(), false), true)).collect();
            fs.sort_by(|a, b| a.name().cmp(b.name()));
            Struct(fs.into())
        }
        Dictionary(_, values) => record_type(values, top),
        // Strings of every kind, dates, times and timestamps.
        _ => Utf8,
    }
}

/// The dimension a top-level `vector` list column gets as a float32 vector: every non-null row
/// has that many numbers (the JSON path's rule), else None.
fn vector_dim(name: &str, column: &ArrayRef) -> Option<i32> {
    if name != VECTOR_FIELD {
        return None;
    }
    let numeric = |t: &DataType| t.is_numeric();
    let lengths: Vec<usize> = match column.data_type() {
        DataType::List(f) if numeric(f.data_type()) => {
            let l = column.as_list::<i32>();
            (0..l.len()).filter(|&i| l.is_valid(i)).map(|i| l.value_length(i) as usize).collect()
        }
        DataType::LargeList(f) if numeric(f.data_type()) => {
            let l = column.as_list::<i64>();
            (0..l.len()).filter(|&i| l.is_valid(i)).map(|i| l.value_length(i) as usize).collect()
        }
        _ => return None,
    };
    let first = *lengths.first()?;
    (first > 0 && lengths.iter().all(|&n| n == first)).then_some(first as i32)
}

#[cfg(test)]
mod tests {
    use arrow_array::builder::{FixedSizeListBuilder, Float32Builder, Int32Builder, ListBuilder};
    use arrow_array::{types::Int8Type, DictionaryArray, Int32Array, StringArray};

    use super::*;

    #[test]
    fn inputs_take_the_types_json_records_get() {
        let dict: DictionaryArray<Int8Type> = vec!["a", "b", "a"].into_iter().collect();
        let mut vectors = FixedSizeListBuilder::new(Float32Builder::new(), 2);
        for v in [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]] {
            vectors.values().append_slice(&v);
            vectors.append(true);
        }
        let mut lists = ListBuilder::new(Int32Builder::new());
        for v in [&[1, 2][..], &[], &[3]] {
            lists.values().append_slice(v);
            lists.append(true);
        }
        let batch = RecordBatch::try_from_iter(vec![
            ("z", Arc::new(Int32Array::from(vec![1, 2, 3])) as ArrayRef),
            ("tag", Arc::new(dict) as ArrayRef),
            ("emb", Arc::new(vectors.finish()) as ArrayRef),
            ("ints", Arc::new(lists.finish()) as ArrayRef),
            ("s", Arc::new(StringArray::from(vec!["x", "y", "z"])) as ArrayRef),
        ])
        .unwrap();
        let out = record_types(&batch).unwrap();
        let names: Vec<_> = out.schema().fields().iter().map(|f| f.name().clone()).collect();
        assert_eq!(names, ["emb", "ints", "s", "tag", "z"]);
        let types: Vec<DataType> = out.schema().fields().iter().map(|f| f.data_type().clone()).collect();
        assert!(matches!(&types[0], DataType::FixedSizeList(f, 2) if f.data_type() == &DataType::Float32));
        assert!(matches!(&types[1], DataType::List(f) if f.data_type() == &DataType::Int64));
        assert_eq!(&types[2..], [DataType::Utf8, DataType::Utf8, DataType::Int64]);
        assert_eq!(out.column(3).as_string::<i32>().value(2), "a");
    }

    #[test]
    fn a_vector_list_of_one_length_becomes_a_float32_vector() {
        let mut lists = ListBuilder::new(Int32Builder::new());
        for v in [&[1, 2][..], &[3, 4]] {
            lists.values().append_slice(v);
            lists.append(true);
        }
        let b = RecordBatch::try_from_iter(vec![("vector", Arc::new(lists.finish()) as ArrayRef)]).unwrap();
        let out = record_types(&b).unwrap();
        assert!(
            matches!(out.schema().field(0).data_type(), DataType::FixedSizeList(f, 2) if f.data_type() == &DataType::Float32)
        );
    }
}
