//! Reshaping Arrow data to a wider schema: missing fields become nulls, integers widen to
//! floats, vectors relax to lists. Used when the buffer schema grows and before appends.

use std::sync::Arc;

use arrow_array::{new_null_array, Array, ArrayRef, FixedSizeListArray, ListArray, RecordBatch, StructArray};
use arrow_schema::{DataType, Field, Fields, Schema, SchemaRef};

use crate::error::{ErrorCode, Result, ResultExt};

pub fn conform_batch(batch: &RecordBatch, target: &SchemaRef) -> Result<RecordBatch> {
    if batch.schema().as_ref() == target.as_ref() {
        return Ok(batch.clone());
    }
    let src = batch.schema();
    let mut cols: Vec<ArrayRef> = Vec::with_capacity(target.fields().len());
    for f in target.fields() {
        let col = match src.index_of(f.name()) {
            Ok(i) => conform_array(batch.column(i), f.data_type())?,
            Err(_) => new_null_array(f.data_type(), batch.num_rows()),
        };
        cols.push(col);
    }
    RecordBatch::try_new_with_options(
        target.clone(),
        cols,
        &arrow_array::RecordBatchOptions::new().with_row_count(Some(batch.num_rows())),
    )
    .code(ErrorCode::Internal, "conforming batch to schema")
}

/// `batch` plus a null column for every field of `schema` it lacks (rows read from Lance lack
/// the fields that are still untyped or only in the buffer so far; they read as null).
pub fn fill_missing(batch: RecordBatch, schema: Option<&Schema>) -> Result<RecordBatch> {
    let Some(schema) = schema else {
        return Ok(batch);
    };
    let have = batch.schema();
    let missing: Vec<&Arc<Field>> =
        schema.fields().iter().filter(|f| have.field_with_name(f.name()).is_err()).collect();
    if missing.is_empty() {
        return Ok(batch);
    }
    let mut fields: Vec<Arc<Field>> = have.fields().iter().cloned().collect();
    let mut cols: Vec<ArrayRef> = batch.columns().to_vec();
    for f in missing {
        fields.push(f.clone());
        cols.push(new_null_array(f.data_type(), batch.num_rows()));
    }
    RecordBatch::try_new_with_options(
        Arc::new(Schema::new(fields)),
        cols,
        &arrow_array::RecordBatchOptions::new().with_row_count(Some(batch.num_rows())),
    )
    .code(ErrorCode::Internal, "adding missing fields as null")
}

pub fn conform_array(arr: &ArrayRef, target: &DataType) -> Result<ArrayRef> {
    if arr.data_type() == target {
        return Ok(arr.clone());
    }
    match (arr.data_type(), target) {
        (DataType::Null, _) => Ok(new_null_array(target, arr.len())),
        (DataType::Struct(_), DataType::Struct(tf)) => {
            let s = arr.as_any().downcast_ref::<StructArray>().expect("struct");
            let mut children = Vec::with_capacity(tf.len());
            for f in tf.iter() {
                children.push(match s.column_by_name(f.name()) {
                    Some(c) => conform_array(c, f.data_type())?,
                    None => new_null_array(f.data_type(), s.len()),
                });
            }
            let fields: Fields = tf.iter().map(|f| Arc::new(f.as_ref().clone().with_nullable(true))).collect();
            Ok(Arc::new(
                StructArray::try_new(fields, children, s.nulls().cloned())
                    .code(ErrorCode::Internal, "conforming struct")?,
            ))
        }
        (DataType::List(_), DataType::List(tf)) => {
            let l = arr.as_any().downcast_ref::<ListArray>().expect("list");
            let values = conform_array(l.values(), tf.data_type())?;
            Ok(Arc::new(
                ListArray::try_new(tf.clone(), l.offsets().clone(), values, l.nulls().cloned())
                    .code(ErrorCode::Internal, "conforming list")?,
            ))
        }
        (DataType::FixedSizeList(_, _), DataType::List(tf)) => {
            let l = arr.as_any().downcast_ref::<FixedSizeListArray>().expect("fsl");
            let as_list = arrow_cast::cast(l, &DataType::List(Arc::new(Field::new_list_field(l.value_type(), true))))
                .code(ErrorCode::Internal, "vector to list")?;
            conform_array(&as_list, &DataType::List(tf.clone()))
        }
        _ => arrow_cast::cast(arr, target).code(ErrorCode::SchemaMismatch, "casting column"),
    }
}

/// Adds Lance's per-column compression metadata to every field (recursively).
pub fn with_compression(schema: &Schema, codec: Option<&str>) -> Schema {
    let fields: Vec<Field> = schema.fields().iter().map(|f| field_with_compression(f, codec)).collect();
    Schema::new_with_metadata(fields, schema.metadata().clone())
}

/// Without a codec, string columns opt out of Lance's automatic FSST: no compression was asked
/// for, and FSST costs the flush about as much CPU as decoding the JSON in the first place.
fn field_with_compression(f: &Field, codec: Option<&str>) -> Field {
    let dt = match f.data_type() {
        DataType::Struct(children) => {
            DataType::Struct(children.iter().map(|c| Arc::new(field_with_compression(c, codec))).collect())
        }
        other => other.clone(),
    };
    let value = match (codec, f.data_type()) {
        (Some(c), _) => c,
        (None, DataType::Utf8 | DataType::LargeUtf8) => "none",
        (None, _) => return f.clone().with_data_type(dt),
    };
    let mut md = f.metadata().clone();
    md.insert("lance-encoding:compression".to_string(), value.to_string());
    f.clone().with_data_type(dt).with_metadata(md)
}

/// Schema without field metadata (codecs), for comparisons that must ignore them; a top-level
/// field keeps its typed-array mark, which is part of what the column is.
pub fn strip_metadata(schema: &Schema) -> Schema {
    Schema::new(
        schema
            .fields()
            .iter()
            .map(|f| {
                let stripped = strip_field(f);
                match f.metadata().get(crate::json::TYPED_ARRAY_KEY) {
                    Some(kind) => stripped.with_metadata(crate::json::typed_array_mark(kind)),
                    None => stripped,
                }
            })
            .collect::<Vec<_>>(),
    )
}

fn strip_field(f: &Field) -> Field {
    let dt = match f.data_type() {
        DataType::Struct(children) => DataType::Struct(children.iter().map(|c| Arc::new(strip_field(c))).collect()),
        DataType::List(c) => DataType::List(Arc::new(strip_field(c))),
        DataType::FixedSizeList(c, n) => DataType::FixedSizeList(Arc::new(strip_field(c)), *n),
        other => other.clone(),
    };
    Field::new(f.name(), dt, true)
}
