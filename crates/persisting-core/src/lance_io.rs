//! Everything that touches the Lance dataset: open, append, take by row offset, versions,
//! compaction, schema evolution, vector search, and making local commits durable.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use arrow_array::{Array, ArrayRef, Float32Array, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use futures::TryStreamExt;
use lance::dataset::index::DatasetIndexRemapperOptions;
use lance::dataset::optimize::{commit_compaction, plan_compaction, CompactionOptions};
use lance::dataset::transaction::{Operation, Transaction};
use lance::dataset::{BatchUDF, NewColumnTransform};
use lance::dataset::{CommitBuilder, Dataset, InsertBuilder, WriteDestination, WriteMode, WriteParams};
use lance::dataset::builder::DatasetBuilder;
use lance::index::vector::VectorIndexParams;
use lance::io::ObjectStoreRegistry;
use lance::session::Session;
use lance::index::DatasetIndexExt;
use lance_index::IndexType;
use lance_linalg::distance::MetricType;

use crate::conform::{conform_array, strip_metadata};
use crate::error::{Error, ErrorCode, Result, ResultExt};

/// Joins a dataset name onto a storage path that may be a local directory or an object-store URI.
pub fn dataset_uri(storage_path: &str) -> String {
    if storage_path.contains("://") {
        format!("{}/data.lance", storage_path.trim_end_matches('/'))
    } else {
        Path::new(storage_path).join("data.lance").to_string_lossy().into_owned()
    }
}

/// Local filesystem path of a URI, when it has one (fsync and disk usage only apply there).
pub fn local_path(uri: &str) -> Option<PathBuf> {
    if let Some(rest) = uri.strip_prefix("file://") {
        return Some(PathBuf::from(rest));
    }
    if uri.contains("://") {
        return None;
    }
    Some(PathBuf::from(uri))
}

fn lance_err(context: &str) -> impl FnOnce(lance::Error) -> Error + '_ {
    move |e| {
        let code = match &e {
            lance::Error::DatasetNotFound { .. } | lance::Error::NotFound { .. } => ErrorCode::NotFound,
            lance::Error::SchemaMismatch { .. } => ErrorCode::SchemaMismatch,
            lance::Error::IO { .. } => ErrorCode::Io,
            _ => ErrorCode::Lance,
        };
        Error::with_source(code, context.to_string(), e)
    }
}

/// Lance caches metadata and indexes per session, by default up to 1 GiB and 6 GiB. Every
/// bucket shares this one session, whose bounds keep memory set by the buffers, not by how
/// many versions and files were written.
fn session() -> Arc<Session> {
    static SESSION: std::sync::OnceLock<Arc<Session>> = std::sync::OnceLock::new();
    SESSION
        .get_or_init(|| Arc::new(Session::new(256 << 20, 32 << 20, Arc::new(ObjectStoreRegistry::default()))))
        .clone()
}

pub async fn open_if_exists(uri: &str) -> Result<Option<Dataset>> {
    if let Some(p) = local_path(uri) {
        if !p.join("_versions").exists() {
            return Ok(None);
        }
    }
    match DatasetBuilder::from_uri(uri).with_session(session()).load().await {
        Ok(ds) => Ok(Some(ds)),
        Err(lance::Error::DatasetNotFound { .. }) => Ok(None),
        Err(e) => {
            let what = format!("opening Lance dataset {uri} (newest manifest: {})", newest_manifest(uri));
            Err(lance_err(&what)(e))
        }
    }
}

/// The manifest an open reads, for error messages: with Lance's v2 naming the newest version
/// has the smallest file name.
fn newest_manifest(uri: &str) -> String {
    let Some(dir) = local_path(uri).map(|p| p.join("_versions")) else { return "unknown".into() };
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .map(|rd| rd.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    names.retain(|n| n.ends_with(".manifest"));
    names.sort();
    match names.first() {
        Some(n) => dir.join(n).display().to_string(),
        None => format!("none in {}", dir.display()),
    }
}

/// The data files holding rows `[start, end)`, for error messages.
fn data_files_of(ds: &Dataset, start: u64, end: u64) -> String {
    let mut pos = 0u64;
    let mut files = Vec::new();
    for f in ds.get_fragments() {
        let rows = f.metadata().physical_rows.unwrap_or(0) as u64;
        if pos < end && pos + rows > start {
            for df in &f.metadata().files {
                let dir = if df.path.contains('/') { "" } else { "data/" };
                files.push(format!("{}/{dir}{}", ds.uri().trim_end_matches('/'), df.path));
            }
        }
        pos += rows;
    }
    if files.is_empty() {
        "none found".into()
    } else {
        files.join(", ")
    }
}

pub fn arrow_schema(ds: &Dataset) -> SchemaRef {
    Arc::new(Schema::from(ds.schema()))
}

/// Schema-metadata key of the dataset: a JSON array naming the top-level fields that were null
/// in every record stored so far. Lance cannot store Arrow's Null type, and storing them as
/// some placeholder type would fix a type nobody asked for (a later integer would then be
/// "changed type from string"). So such a field has no Lance column at all; this list keeps it
/// known across reopen (LanceBackend accepts it later even though its schema is fixed), and
/// its first typed value adds the column with `add_columns(AllNulls)`: one commit, no data
/// rewrite, and older rows read as null. A name that also has a column is typed (the column
/// wins), so the list is only ever added to, and a crash between any two commits leaves a
/// state that opens: list first, then rows; column first, then rows.
pub const UNTYPED_KEY: &str = "persisting:untyped";

pub fn untyped_names(schema: &Schema) -> Vec<String> {
    schema
        .metadata()
        .get(UNTYPED_KEY)
        .and_then(|v| serde_json::from_str::<Vec<String>>(v).ok())
        .unwrap_or_default()
}

/// Schema metadata listing `names` as untyped (empty when there are none).
pub fn untyped_metadata(names: &[String]) -> std::collections::HashMap<String, String> {
    let mut md = std::collections::HashMap::new();
    if !names.is_empty() {
        md.insert(UNTYPED_KEY.to_string(), serde_json::to_string(names).expect("names serialise"));
    }
    md
}

/// The bucket's schema as stored: Lance's columns (without codec metadata), then the fields
/// still untyped, as Null.
pub fn stored_schema(ds: &Dataset) -> Schema {
    let full = arrow_schema(ds);
    let mut fields: Vec<Field> = strip_metadata(&full).fields().iter().map(|f| f.as_ref().clone()).collect();
    for name in untyped_names(&full) {
        if !fields.iter().any(|f| f.name() == &name) {
            fields.push(Field::new(name, DataType::Null, true));
        }
    }
    Schema::new(fields)
}

/// Adds to the untyped list every Null field of `schema` that has no column (one metadata
/// commit, only when the list grows). Called before the rows that carry those fields are
/// appended, so a crash in between leaves a name with no rows, which is harmless.
pub async fn record_untyped(ds: &mut Dataset, schema: &Schema) -> Result<()> {
    let full = arrow_schema(ds);
    let mut names = untyped_names(&full);
    let before = names.len();
    for f in schema.fields() {
        if f.data_type() == &DataType::Null && full.field_with_name(f.name()).is_err() && !names.contains(f.name()) {
            names.push(f.name().clone());
        }
    }
    if names.len() == before {
        return Ok(());
    }
    let value = serde_json::to_string(&names).expect("names serialise");
    ds.update_schema_metadata([(UNTYPED_KEY, value.as_str())])
        .await
        .map_err(lance_err("recording untyped fields"))?;
    Ok(())
}

pub async fn count_rows(ds: &Dataset) -> Result<u64> {
    Ok(ds.count_rows(None).await.map_err(lance_err("counting rows"))? as u64)
}

/// Makes local Lance files durable in commit order: Lance itself never fsyncs, so without this
/// a power loss could keep a manifest whose data files are gone. New data files are synced
/// before the commit that names them ([`Durability::before_commit`]) and the manifest,
/// transaction file and directories after it ([`Durability::after_commit`]).
pub struct Durability {
    root: Option<PathBuf>,
    synced: Mutex<HashSet<PathBuf>>,
}

impl Durability {
    /// `uri` is the dataset URI; object stores need nothing (their puts are durable).
    pub fn new(uri: &str) -> Self {
        Durability { root: local_path(uri), synced: Mutex::new(HashSet::new()) }
    }

    pub fn before_commit(&self) -> Result<()> {
        match &self.root {
            Some(root) => fsync_tree(&root.join("data"), &mut self.synced.lock().unwrap()),
            None => Ok(()),
        }
    }

    pub fn after_commit(&self) -> Result<()> {
        match &self.root {
            Some(root) => fsync_tree(root, &mut self.synced.lock().unwrap()),
            None => Ok(()),
        }
    }
}

/// Appends one batch as a new fragment (creating the dataset on first use): data files are
/// written uncommitted, made durable, then committed.
pub async fn append(
    ds: Option<Dataset>,
    uri: &str,
    batch: RecordBatch,
    meta: Vec<(String, String)>,
    durability: &Durability,
) -> Result<Dataset> {
    let creating = ds.is_none();
    let params = WriteParams {
        mode: if creating { WriteMode::Create } else { WriteMode::Append },
        session: Some(session()),
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
    durability.before_commit()?;
    crate::fault::point("after_lance_data_fsync")?;
    crate::fault::point("before_lance_commit")?;
    let mut commit = CommitBuilder::new(dest).with_session(session());
    if creating {
        commit = commit
            .enable_v2_manifest_paths(params.enable_v2_manifest_paths)
            .with_storage_format(params.data_storage_version.unwrap_or_default());
    }
    let ds = commit.execute(txn).await.map_err(lance_err(what))?;
    crate::fault::point("after_lance_commit")?;
    durability.after_commit()?;
    Ok(ds)
}

pub async fn take_range(ds: &Dataset, start: u64, end: u64) -> Result<RecordBatch> {
    let idx: Vec<u64> = (start..end).collect();
    let schema = ds.schema().clone();
    match ds.take(&idx, schema).await {
        Ok(b) => Ok(b),
        Err(e) => {
            let what = format!("reading rows {start}..{end} from {}", data_files_of(ds, start, end));
            Err(lance_err(&what)(e))
        }
    }
}

pub async fn versions(ds: &Dataset) -> Result<Vec<(u64, i64)>> {
    let v = ds.versions().await.map_err(lance_err("listing versions"))?;
    Ok(v.into_iter().map(|v| (v.version, v.timestamp.timestamp_millis())).collect())
}

pub async fn checkout(ds: &Dataset, version: u64) -> Result<Dataset> {
    ds.checkout_version(version).await.map_err(|e| {
        Error::with_source(ErrorCode::NotFound, format!("version {version} does not exist"), e)
    })
}

pub async fn compact(ds: &mut Dataset, durability: &Durability) -> Result<(usize, usize)> {
    // One rewrite at a time with a modest read-ahead: compaction runs next to ingestion, and
    // its transient memory (not the buffers) would otherwise set the process's peak RSS.
    let opts = CompactionOptions {
        num_threads: Some(1),
        io_buffer_size: Some(32 << 20),
        ..CompactionOptions::default()
    };
    let plan = plan_compaction(ds, &opts).await.map_err(lance_err("planning compaction"))?;
    if plan.num_tasks() == 0 {
        return Ok((0, 0));
    }
    let mut done = Vec::with_capacity(plan.num_tasks());
    for task in plan.compaction_tasks() {
        done.push(task.execute(ds).await.map_err(lance_err("compacting"))?);
    }
    durability.before_commit()?;
    crate::fault::point("before_compaction_commit")?;
    let m = commit_compaction(ds, done, Arc::new(DatasetIndexRemapperOptions::default()), &opts)
        .await
        .map_err(lance_err("committing compaction"))?;
    crate::fault::point("after_compaction_commit")?;
    durability.after_commit()?;
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
            Ok(cf) if strip_metadata(&Schema::new(vec![cf.clone()])) != strip_metadata(&Schema::new(vec![f.as_ref().clone()])) => {
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
        durability.after_commit()?;
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
                let cast: ArrayRef = conform_array(&col, &ty).map_err(|e| lance::Error::invalid_input(e.to_string()))?;
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
    let Some(mut schema) = merged else { return Ok(()) };
    let old_pos = schema.fields.iter().position(|x| x.name == name);
    let new_pos = schema.fields.iter().position(|x| x.name == tmp);
    let (Some(old_pos), Some(new_pos)) = (old_pos, new_pos) else {
        return Err(Error::internal(format!("widening '{name}': rewritten schema lacks the column")));
    };
    let mut field = schema.fields.remove(new_pos);
    field.name = name.clone();
    schema.fields[old_pos] = field;
    durability.before_commit()?;
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
    durability.after_commit()?;
    Ok(())
}

pub async fn create_vector_index(ds: &mut Dataset, column: &str) -> Result<()> {
    check_vector_column(ds, column)?;
    let rows = count_rows(ds).await? as usize;
    if rows == 0 {
        return Err(Error::new(ErrorCode::NotFound, "cannot index an empty dataset; flush records first"));
    }
    let partitions = ((rows as f64).sqrt() as usize).clamp(1, 256);
    let params = VectorIndexParams::ivf_flat(partitions, MetricType::L2);
    ds.create_index(&[column], IndexType::Vector, None, &params, true)
        .await
        .map_err(lance_err("creating vector index"))?;
    Ok(())
}

fn check_vector_column(ds: &Dataset, column: &str) -> Result<usize> {
    let schema = Schema::from(ds.schema());
    let f = schema
        .field_with_name(column)
        .map_err(|_| Error::new(ErrorCode::NotFound, format!("no field '{column}' in the stored schema")))?;
    match f.data_type() {
        DataType::FixedSizeList(_, n) => Ok(*n as usize),
        other => Err(Error::new(
            ErrorCode::SchemaMismatch,
            format!("field '{column}' is not a vector of numbers (fixed-length array) but {other}"),
        )),
    }
}

pub async fn search(ds: &Dataset, column: &str, vector: &[f32], k: usize) -> Result<RecordBatch> {
    let dim = check_vector_column(ds, column)?;
    if vector.len() != dim {
        return Err(Error::invalid_option(format!(
            "query vector has {} dimensions, field '{column}' has {dim}",
            vector.len()
        )));
    }
    let q = Float32Array::from(vector.to_vec());
    let mut scan = ds.scan();
    scan.nearest(column, &q as &dyn Array, k).map_err(lance_err("search"))?;
    let batches: Vec<RecordBatch> = scan
        .try_into_stream()
        .await
        .map_err(lance_err("search"))?
        .try_collect()
        .await
        .map_err(lance_err("search"))?;
    let schema = match batches.first() {
        Some(b) => b.schema(),
        None => return Ok(RecordBatch::new_empty(arrow_schema(ds))),
    };
    arrow_select::concat::concat_batches(&schema, &batches).code(ErrorCode::Internal, "search results")
}

/// Lance writes and renames without fsync on local disk; before the WAL is dropped the new
/// data, transaction and manifest files and their directories must be on stable storage.
pub fn fsync_tree(root: &Path, synced: &mut HashSet<PathBuf>) -> Result<()> {
    fn walk(dir: &Path, synced: &mut HashSet<PathBuf>) -> std::io::Result<()> {
        let mut touched = false;
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            let path = entry.path();
            let ft = entry.file_type()?;
            if ft.is_dir() {
                walk(&path, synced)?;
            } else if ft.is_file() && !synced.contains(&path) {
                std::fs::File::open(&path)?.sync_all()?;
                synced.insert(path);
                touched = true;
            }
        }
        if touched || !synced.contains(dir) {
            std::fs::File::open(dir)?.sync_all()?;
            synced.insert(dir.to_path_buf());
        }
        Ok(())
    }
    if !root.exists() {
        return Ok(());
    }
    walk(root, synced).code(ErrorCode::Io, "fsync of Lance files")?;
    if let Some(parent) = root.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::File::open(parent)
            .and_then(|f| f.sync_all())
            .code(ErrorCode::Io, &format!("fsync directory {}", parent.display()))?;
    }
    Ok(())
}

pub fn disk_usage(root: &Path) -> u64 {
    fn walk(dir: &Path) -> u64 {
        let Ok(rd) = std::fs::read_dir(dir) else { return 0 };
        rd.flatten()
            .map(|e| match e.file_type() {
                Ok(t) if t.is_dir() => walk(&e.path()),
                Ok(_) => e.metadata().map(|m| m.len()).unwrap_or(0),
                Err(_) => 0,
            })
            .sum()
    }
    walk(root)
}
