//! Type inference from parsed rows, and merging an inferred schema into a known one.

use std::sync::Arc;

use arrow_schema::{DataType, Field, Fields, Schema};
use serde_json::Value;

use crate::error::{Error, ErrorCode, Result, ResultExt};

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

/// Top-level fields declared float32 vectors of a dimension (the `vectorColumns` option).
pub type VectorColumns = std::collections::BTreeMap<String, i32>;

/// Infers the Arrow schema of newline-separated JSON rows (see the module doc for the rules).
pub fn infer_rows(rows: &[u8]) -> Result<Schema> {
    infer_rows_with(rows, &VectorColumns::new())
}

/// `infer_rows` where the `declared` fields are float32 vectors: a number array of the declared
/// length, or null; anything else there is refused naming the record.
pub fn infer_rows_with(rows: &[u8], declared: &VectorColumns) -> Result<Schema> {
    let mut fields: Vec<Field> = Vec::new();
    for (idx, v) in serde_json::Deserializer::from_slice(rows).into_iter::<Value>().enumerate() {
        let v = v.code(ErrorCode::InvalidRecord, "invalid JSON")?;
        let Value::Object(map) = v else {
            return Err(Error::invalid_record(format!("record {idx} is not a JSON object")));
        };
        let mut row_fields: Vec<Field> = Vec::with_capacity(map.len());
        for (k, v) in map.iter() {
            let t = match declared.get(k) {
                Some(&dim) => declared_vector(k, v, dim, idx)?,
                None => infer_top(k, v),
            };
            row_fields.push(Field::new(k, t, true));
        }
        fields = merge_field_lists(&fields, &row_fields, MergeMode::Loose, "")?;
    }
    Ok(Schema::new(fields))
}

fn declared_vector(name: &str, v: &Value, dim: i32, idx: usize) -> Result<DataType> {
    match v {
        Value::Null => Ok(DataType::Null),
        Value::Array(items) if items.len() == dim as usize && items.iter().all(|x| x.is_number()) => {
            Ok(DataType::FixedSizeList(Arc::new(Field::new_list_field(DataType::Float32, true)), dim))
        }
        other => {
            let held = match other {
                Value::Array(items) if items.iter().all(|x| x.is_number()) => format!("{} numbers", items.len()),
                Value::Array(_) => "an array with non-numbers".to_string(),
                Value::Object(_) => "an object".to_string(),
                Value::String(_) => "a string".to_string(),
                Value::Bool(_) => "a boolean".to_string(),
                _ => "a number".to_string(),
            };
            Err(Error::invalid_record(format!(
                "record {idx} holds {held} at {name}, which vectorColumns declares a vector of {dim} numbers"
            )))
        }
    }
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
                check_typed_join(of, nf, &path)?;
                let merged = merge_types(of.data_type(), nf.data_type(), mode, &path)?;
                if of.data_type() == &DataType::Null {
                    // A field that had no type takes the new one with its marks (typed vectors).
                    *of = nf.clone().with_data_type(merged).with_nullable(true);
                } else if &merged != of.data_type() {
                    *of = of.clone().with_data_type(merged);
                }
            }
            None => {
                if mode == MergeMode::Fixed {
                    return Err(Error::schema(format!(
                        "field '{path}' is not in the stored schema; this backend's schema is fixed by its first flush (use the 'persisting' backend for schema evolution)"
                    )));
                }
                out.push(nf.clone().with_nullable(true));
            }
        }
    }
    Ok(out)
}

/// A column of typed-array vectors takes only typed arrays of its kind and length, and typed
/// arrays go only into such a column (or a new one): reads give back what was put, so neither
/// side may become a list or a plain array column. Nulls join anything.
pub fn check_typed_join(old: &Field, new: &Field, path: &str) -> Result<()> {
    let kind = |f: &Field| f.metadata().get(super::TYPED_ARRAY_KEY).cloned();
    let (ok, nk) = (kind(old), kind(new));
    if (ok.is_none() && nk.is_none()) || old.data_type() == &DataType::Null || new.data_type() == &DataType::Null {
        return Ok(());
    }
    if ok == nk && old.data_type() == new.data_type() {
        return Ok(());
    }
    let describe = |f: &Field, k: &Option<String>| match (k, f.data_type()) {
        (Some(k), DataType::FixedSizeList(_, n)) => format!("{k} vectors of {n} values"),
        (_, t) => format!("{} values", type_name(t)),
    };
    Err(Error::schema(format!(
        "field '{path}' holds {}, so {} cannot go there (a field keeps one kind of value, so reads give back what was put)",
        describe(old, &ok),
        describe(new, &nk)
    )))
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
    let mismatch =
        || Error::schema(format!("field '{path}' changed type from {} to {}", type_name(old), type_name(new)));
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
