//! Decoding rows into the buffer's schema: inference, merging by backend mode (fixed or
//! evolving), and the checks that keep unstorable records out at put time.

use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_schema::Schema;

use super::state::State;
use super::BucketStore;
use crate::error::{Error, Result};
use crate::json::{self, MergeMode};

impl BucketStore {
    pub(super) fn mode_for(&self, st: &State) -> MergeMode {
        match (&st.stored, self.opts.evolve_schema) {
            (None, _) => MergeMode::Loose,
            (Some(_), true) => MergeMode::Evolve,
            (Some(_), false) => MergeMode::Fixed,
        }
    }

    /// Decodes rows already split by `split_rows` (or WAL payload rows when `split` is None),
    /// evolving the buffer schema when allowed. Nothing is appended here.
    pub(super) fn decode_locked(
        &self,
        st: &mut State,
        bytes: &[u8],
        split: Option<&json::SplitRows>,
    ) -> Result<RecordBatch> {
        // WAL payloads: count rows by decoding; schema check via the slow path when needed.
        let (rows, fits) = match split {
            Some(s) => (Some(s.rows), s.fits_schema),
            None => (None, false),
        };
        if let Some(0) = rows {
            return Ok(RecordBatch::new_empty(st.schema.clone().unwrap_or_else(|| Arc::new(Schema::empty()))));
        }
        let mode = self.mode_for(st);
        if fits {
            let schema = st.schema.clone().unwrap();
            // On failure: a type change (named there), or an integer beyond i64 that widens in any mode.
            if let Ok(b) = json::decode_rows(bytes, &schema, rows.unwrap()) {
                return Ok(b);
            }
        }
        let inferred = json::infer_rows_with(bytes, &self.opts.vector_columns)?;
        let n = match rows {
            Some(n) => n,
            None => count_rows(bytes),
        };
        let merged = match &st.schema {
            None => inferred,
            Some(cur) => {
                let stored = st.stored.clone();
                merge_by_field(cur, &inferred, mode, stored.as_deref())?
            }
        };
        check_storable(&merged, st.stored.is_some())?;
        let merged = Arc::new(merged);
        let batch = json::decode_rows(bytes, &merged, n)?;
        Self::adopt_schema(st, merged)?;
        Ok(batch)
    }

    /// An Arrow batch (already in the record path's types) in the buffer's schema, evolving it
    /// by the same rules as decoded JSON rows. Nothing is appended here.
    pub(super) fn merge_batch_locked(&self, st: &mut State, batch: &RecordBatch) -> Result<RecordBatch> {
        let mode = self.mode_for(st);
        let incoming = batch.schema();
        let merged = match &st.schema {
            None => incoming.as_ref().clone(),
            Some(cur) => {
                let stored = st.stored.clone();
                merge_by_field(cur, &incoming, mode, stored.as_deref())?
            }
        };
        check_storable(&merged, st.stored.is_some())?;
        let merged = Arc::new(merged);
        let batch = crate::conform::conform_batch(batch, &merged)?;
        Self::adopt_schema(st, merged)?;
        Ok(batch)
    }

    /// The buffer follows the widest schema so reads and flushes see one shape.
    fn adopt_schema(st: &mut State, merged: Arc<Schema>) -> Result<()> {
        if st.schema.as_deref() != Some(merged.as_ref()) {
            let mut conformed = Vec::with_capacity(st.buffer.len());
            for c in &st.buffer {
                conformed.push(c.conform(&merged)?);
            }
            st.buffer = conformed;
            st.schema = Some(merged);
        }
        Ok(())
    }
}

/// Refuses, at put time, what Lance could not store at flush time (an acknowledged record must
/// never fail its flush or its read): a top-level name with a dot or a backtick or one of Lance's
/// system column names (`_rowid`, ...), an empty nested object (a struct
/// without fields), or a bucket's first records without a single typed value (no column).
fn check_storable(schema: &Schema, has_columns: bool) -> Result<()> {
    use arrow_schema::DataType;
    fn empty_struct(path: &str, t: &DataType) -> Option<String> {
        match t {
            DataType::Struct(fs) if fs.is_empty() => Some(path.to_string()),
            DataType::Struct(fs) => {
                fs.iter().find_map(|f| empty_struct(&format!("{path}.{}", f.name()), f.data_type()))
            }
            DataType::List(f) | DataType::LargeList(f) | DataType::FixedSizeList(f, _) => {
                empty_struct(&format!("{path}[]"), f.data_type())
            }
            _ => None,
        }
    }
    for f in schema.fields() {
        if f.name().is_empty() {
            return Err(Error::invalid_record(
                "a field name is empty, which a stored column name cannot be; rename the field",
            ));
        }
        if let Some(c) = f.name().chars().find(|c| matches!(c, '.' | '`')) {
            return Err(Error::invalid_record(format!(
                "field name '{}' contains '{c}', which a stored column name cannot (Lance reads a column \
                 name as a path); rename the field",
                f.name()
            )));
        }
        if lance_core::is_system_column(f.name()) {
            return Err(Error::invalid_record(format!(
                "field name '{}' is reserved by Lance for a row address column; rename the field",
                f.name()
            )));
        }
        if f.data_type() != &DataType::Null && has_null(f.data_type()) {
            return Err(Error::invalid_record(format!(
                "field '{}' holds only empty arrays or nulls inside it so far, so its element type is unknown \
                 and it cannot be stored; give it at least one typed value (or leave the field out)",
                f.name()
            )));
        }
        if let Some(path) = empty_struct(f.name(), f.data_type()) {
            return Err(Error::invalid_record(format!(
                "field '{path}' is an empty object in every record so far; a stored object needs at least one field (use null instead)"
            )));
        }
    }
    fn has_null(t: &DataType) -> bool {
        match t {
            DataType::Null => true,
            DataType::Struct(fs) => fs.iter().any(|f| has_null(f.data_type())),
            DataType::List(f) | DataType::LargeList(f) | DataType::FixedSizeList(f, _) => has_null(f.data_type()),
            _ => false,
        }
    }
    if !has_columns && !schema.fields().iter().any(|f| f.data_type() != &DataType::Null) {
        return Err(Error::invalid_record(
            "records without a single non-null value cannot start a bucket: it has no column to store them in yet",
        ));
    }
    Ok(())
}

fn count_rows(rows: &[u8]) -> usize {
    serde_json::Deserializer::from_slice(rows).into_iter::<serde::de::IgnoredAny>().count()
}

/// Merge where fields already in Lance follow `mode` and fields only in the buffer stay loose.
fn merge_by_field(cur: &Schema, new: &Schema, mode: MergeMode, stored: Option<&Schema>) -> Result<Schema> {
    if mode == MergeMode::Loose {
        return json::merge_schemas(cur, new, mode);
    }
    let mut fields: Vec<arrow_schema::Field> = cur.fields().iter().map(|f| f.as_ref().clone()).collect();
    for nf in new.fields() {
        let in_stored = stored.map(|s| s.field_with_name(nf.name()).is_ok()).unwrap_or(false);
        let m = if in_stored {
            mode
        } else if mode == MergeMode::Fixed {
            MergeMode::Fixed
        } else {
            MergeMode::Loose
        };
        match fields.iter_mut().find(|f| f.name() == nf.name()) {
            Some(f) => {
                json::check_typed_join(f, nf, nf.name())?;
                let t = json::merge_types(f.data_type(), nf.data_type(), m, nf.name())?;
                *f = if f.data_type() == &arrow_schema::DataType::Null {
                    nf.as_ref().clone().with_data_type(t).with_nullable(true)
                } else {
                    f.clone().with_data_type(t)
                };
            }
            None => {
                if m == MergeMode::Fixed {
                    return Err(Error::schema(format!(
                        "field '{}' is not in the stored schema; this backend's schema is fixed by its first flush (use the 'persisting' backend for schema evolution)",
                        nf.name()
                    )));
                }
                fields.push(nf.as_ref().clone().with_nullable(true));
            }
        }
    }
    Ok(Schema::new(fields))
}
