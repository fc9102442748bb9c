//! Writing a dataset: appends, compaction and schema evolution.

use std::sync::Arc;

use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema};
use lance::dataset::index::DatasetIndexRemapperOptions;
use lance::dataset::optimize::{commit_compaction, plan_compaction, CompactionOptions};
use lance::dataset::transaction::{Operation, Transaction};
use lance::dataset::{BatchUDF, NewColumnTransform};
use lance::dataset::{CommitBuilder, Dataset, InsertBuilder, WriteDestination, WriteMode, WriteParams};
use lance_table::format::Fragment;

use crate::conform::{conform_array, strip_metadata};
use crate::error::{Error, Result};

use super::*;

/// Appends one batch as a new fragment (creating the dataset on first use): data files are
/// written uncommitted, made durable, then committed.
pub async fn append(
    ds: Option<Dataset>,
    uri: &str,
    storage: &StorageOptions,
    batch: RecordBatch,
    meta: Vec<(String, String)>,
    durability: &Durability,
) -> Result<Dataset> {
    let creating = ds.is_none();
    let params = WriteParams {
        mode: if creating { WriteMode::Create } else { WriteMode::Append },
        session: Some(session()),
        store_params: Some(store_params(storage)),
        ..Default::default()
    }
    .with_transaction_properties(meta.into_iter().collect());
    let dest: WriteDestination = match ds {
        Some(ds) => WriteDestination::Dataset(Arc::new(ds)),
        None => WriteDestination::Uri(uri),
    };
    let what = if creating { "creating Lance dataset" } else { "appending to Lance" };
    let txn = InsertBuilder::new(dest.clone())
        .with_params(&params)
        .execute_uncommitted(vec![batch])
        .await
        .map_err(lance_err(what))?;
    durability.before_commit(new_fragments(&txn.operation))?;
    crate::fault::point("after_lance_data_fsync")?;
    crate::fault::point("before_lance_commit")?;
    let mut commit = CommitBuilder::new(dest).with_session(session()).with_store_params(store_params(storage));
    if creating {
        commit = commit
            .enable_v2_manifest_paths(params.enable_v2_manifest_paths)
            .with_storage_format(params.data_storage_version.unwrap_or_default());
    }
    let ds = commit.execute(txn).await.map_err(lance_err(what))?;
    crate::fault::point("after_lance_commit")?;
    durability.after_commit(&ds).await?;
    Ok(ds)
}

pub async fn compact(ds: &mut Dataset, durability: &Durability) -> Result<(usize, usize)> {
    // One rewrite at a time with a modest read-ahead: compaction runs next to ingestion, and
    // its transient memory (not the buffers) would otherwise set the process's peak RSS.
    let opts =
        CompactionOptions { num_threads: Some(1), io_buffer_size: Some(32 << 20), ..CompactionOptions::default() };
    let plan = plan_compaction(ds, &opts).await.map_err(lance_err("planning compaction"))?;
    if plan.num_tasks() == 0 {
        return Ok((0, 0));
    }
    let mut done = Vec::with_capacity(plan.num_tasks());
    for task in plan.compaction_tasks() {
        done.push(task.execute(ds).await.map_err(lance_err("compacting"))?);
    }
    let added: Vec<Fragment> = done.iter().flat_map(|r| r.new_fragments.iter().cloned()).collect();
    durability.before_commit(&added)?;
    crate::fault::point("before_compaction_commit")?;
    let m = commit_compaction(ds, done, Arc::new(DatasetIndexRemapperOptions::default()), &opts)
        .await
        .map_err(lance_err("committing compaction"))?;
    crate::fault::point("after_compaction_commit")?;
    durability.after_commit(ds).await?;
    Ok((m.fragments_removed, m.fragments_added))
}

/// Brings the stored schema up to `target` (top-level fields): new nullable columns (and
/// untyped fields getting their first type) are added without touching data; a widened column
/// (int -> float) is rewritten. Fields still Null in `target` get no column. Each step is one
/// commit and leaves a consistent dataset, so a crash between steps only leaves evolution for
/// the next flush (whose buffer, replayed from the WAL, still needs it).
pub async fn evolve(ds: &mut Dataset, target: &Schema, codec: Option<&str>, durability: &Durability) -> Result<bool> {
    let current = strip_metadata(&Schema::from(ds.schema()));
    let mut added: Vec<Field> = Vec::new();
    let mut widened: Vec<Field> = Vec::new();
    for f in target.fields() {
        if f.data_type() == &DataType::Null {
            continue;
        }
        match current.field_with_name(f.name()) {
            Err(_) => added.push(f.as_ref().clone()),
            Ok(cf)
                if strip_metadata(&Schema::new(vec![cf.clone()]))
                    != strip_metadata(&Schema::new(vec![f.as_ref().clone()])) =>
            {
                widened.push(f.as_ref().clone())
            }
            Ok(_) => {}
        }
    }
    if added.is_empty() && widened.is_empty() {
        return Ok(false);
    }
    if !added.is_empty() {
        let s = crate::conform::with_compression(&Schema::new(added), codec);
        ds.add_columns(NewColumnTransform::AllNulls(Arc::new(s)), None, None)
            .await
            .map_err(lance_err("adding columns"))?;
        durability.after_commit(ds).await?;
    }
    for f in widened {
        widen_column(ds, &f, codec, durability).await?;
    }
    Ok(true)
}

/// Rewrites one column with a wider type in a single commit: the cast values go to new data
/// files (made durable first), and one Merge swaps the field for the new one in place, so no
/// crash can leave the old values hidden or the column half-renamed.
async fn widen_column(ds: &mut Dataset, f: &Field, codec: Option<&str>, durability: &Durability) -> Result<()> {
    let name = f.name().clone();
    let tmp = format!("__persisting_widen_{name}");
    let target_type = f.data_type().clone();
    let out_schema = Arc::new(crate::conform::with_compression(
        &Schema::new(vec![Field::new(&tmp, target_type.clone(), true)]),
        codec,
    ));
    let mut fragments = Vec::new();
    let mut merged: Option<lance::datatypes::Schema> = None;
    for frag in ds.get_fragments() {
        let out = out_schema.clone();
        let src = name.clone();
        let ty = target_type.clone();
        let udf = BatchUDF {
            mapper: Box::new(move |b: &RecordBatch| {
                let col = b
                    .column_by_name(&src)
                    .cloned()
                    .unwrap_or_else(|| arrow_array::new_null_array(&DataType::Null, b.num_rows()));
                let cast: ArrayRef =
                    conform_array(&col, &ty).map_err(|e| lance::Error::invalid_input(e.to_string()))?;
                RecordBatch::try_new(out.clone(), vec![cast]).map_err(|e| lance::Error::invalid_input(e.to_string()))
            }),
            output_schema: out_schema.clone(),
            result_checkpoint: None,
        };
        let (fragment, schema) = frag
            .add_columns(NewColumnTransform::BatchUDF(udf), Some(vec![name.clone()]), None)
            .await
            .map_err(lance_err("rewriting widened column"))?;
        fragments.push(fragment);
        merged = Some(schema);
    }
    let Some(mut schema) = merged else {
        return Ok(());
    };
    let old_pos = schema.fields.iter().position(|x| x.name == name);
    let new_pos = schema.fields.iter().position(|x| x.name == tmp);
    let (Some(old_pos), Some(new_pos)) = (old_pos, new_pos) else {
        return Err(Error::internal(format!("widening '{name}': rewritten schema lacks the column")));
    };
    let mut field = schema.fields.remove(new_pos);
    field.name = name.clone();
    schema.fields[old_pos] = field;
    durability.before_commit(&fragments)?;
    let txn = Transaction::new(
        ds.version().version,
        Operation::Merge { fragments, schema, preserves_nullability: false },
        None,
    );
    let committed = CommitBuilder::new(WriteDestination::Dataset(Arc::new(ds.clone())))
        .with_session(session())
        .execute(txn)
        .await
        .map_err(lance_err("committing widened column"))?;
    *ds = committed;
    durability.after_commit(ds).await?;
    Ok(())
}

/// The fragments a create or append transaction adds.
fn new_fragments(op: &Operation) -> &[Fragment] {
    match op {
        Operation::Append { fragments } | Operation::Overwrite { fragments, .. } => fragments,
        _ => &[],
    }
}

/// What removing old versions freed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Cleanup {
    pub versions_removed: u64,
    pub bytes_removed: u64,
}

/// Past this age nothing can be older; chrono would overflow computing the cut-off.
const OLDEST: std::time::Duration = std::time::Duration::from_secs(100 * 365 * 24 * 3600);

/// Removes the versions committed more than `older_than` ago (never the latest) and the files
/// only they name. Files that no manifest names are kept: they may belong to a commit in
/// progress, and Lance removes those only once they are a week old. Deletions need no fsync: a
/// power loss that undoes one brings back an old version, which the next cleanup removes again.
pub async fn cleanup_old_versions(ds: &Dataset, older_than: std::time::Duration) -> Result<Cleanup> {
    if older_than >= OLDEST {
        return Ok(Cleanup::default());
    }
    let age = chrono::Duration::from_std(older_than)
        .map_err(|e| Error::with_source(ErrorCode::InvalidOption, "olderThan is out of range".to_string(), e))?;
    let s = ds.cleanup_old_versions(age, Some(false), Some(false)).await.map_err(lance_err("removing old versions"))?;
    Ok(Cleanup { versions_removed: s.old_versions, bytes_removed: s.bytes_removed })
}
