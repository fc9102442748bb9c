//! Everything that touches the Lance dataset: open, append, take by row offset, versions,
//! compaction, removal of old versions, schema evolution, vector search, and making local commits durable.
//!
//! `durability` makes local commits durable (Lance never fsyncs), `write` appends, compacts and
//! evolves the schema, `vector` builds indexes and searches.

mod durability;
mod vector;
mod write;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use lance::dataset::builder::DatasetBuilder;
use lance::dataset::Dataset;
use lance::io::{ObjectStoreParams, ObjectStoreRegistry, StorageOptionsAccessor};
use lance::session::Session;

use crate::conform::strip_metadata;
use crate::error::{Error, ErrorCode, Result};

pub use durability::{disk_usage, Durability};
pub use vector::{create_vector_index, search};
pub use write::{append, cleanup_old_versions, compact, evolve, Cleanup};

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

/// Object-store settings (`aws_endpoint`, `aws_region`, `aws_allow_http`, credentials, ...)
/// passed through to Lance; the standard AWS environment variables fill what is not given.
pub type StorageOptions = std::collections::HashMap<String, String>;

/// One registry of object stores for the whole process, so buckets on the same store share
/// their connections.
pub fn registry() -> Arc<ObjectStoreRegistry> {
    static REGISTRY: std::sync::OnceLock<Arc<ObjectStoreRegistry>> = std::sync::OnceLock::new();
    REGISTRY.get_or_init(|| Arc::new(ObjectStoreRegistry::default())).clone()
}

/// Lance caches metadata and indexes per session, by default up to 1 GiB and 6 GiB. Every
/// bucket shares this one session, whose bounds keep memory set by the buffers, not by how
/// many versions and files were written.
fn session() -> Arc<Session> {
    static SESSION: std::sync::OnceLock<Arc<Session>> = std::sync::OnceLock::new();
    SESSION.get_or_init(|| Arc::new(Session::new(256 << 20, 32 << 20, registry()))).clone()
}

pub fn store_params(options: &StorageOptions) -> ObjectStoreParams {
    ObjectStoreParams {
        storage_options_accessor: (!options.is_empty())
            .then(|| Arc::new(StorageOptionsAccessor::with_static_options(options.clone()))),
        ..Default::default()
    }
}

pub async fn open_if_exists(uri: &str, options: &StorageOptions) -> Result<Option<Dataset>> {
    if let Some(p) = local_path(uri) {
        if !p.join("_versions").exists() {
            return Ok(None);
        }
    }
    let builder = DatasetBuilder::from_uri(uri).with_session(session()).with_storage_options(options.clone());
    match builder.load().await {
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
    let Some(dir) = local_path(uri).map(|p| p.join("_versions")) else {
        return "unknown".into();
    };
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
    schema.metadata().get(UNTYPED_KEY).and_then(|v| serde_json::from_str::<Vec<String>>(v).ok()).unwrap_or_default()
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
    ds.update_schema_metadata([(UNTYPED_KEY, value.as_str())]).await.map_err(lance_err("recording untyped fields"))?;
    Ok(())
}

pub async fn count_rows(ds: &Dataset) -> Result<u64> {
    Ok(ds.count_rows(None).await.map_err(lance_err("counting rows"))? as u64)
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

/// Rows `[start, end)` by scanning the fragments that hold them, in order: for long ranges a
/// scan (read-ahead, decode on every core) is much faster than `take` of each row offset.
/// `None` when a fragment has deleted rows (offsets then do not map onto fragments this way).
pub async fn scan_range(ds: &Dataset, start: u64, end: u64) -> Result<Option<Vec<RecordBatch>>> {
    use futures::TryStreamExt;
    let mut pos = 0u64;
    let mut skip = 0u64;
    let mut fragments = Vec::new();
    for f in ds.get_fragments() {
        let meta = f.metadata();
        if meta.deletion_file.is_some() {
            return Ok(None);
        }
        let rows = meta.physical_rows.unwrap_or(0) as u64;
        if pos + rows > start && pos < end {
            if fragments.is_empty() {
                skip = start - pos;
            }
            fragments.push(meta.clone());
        }
        pos += rows;
        if pos >= end {
            break;
        }
    }
    let what = || format!("reading rows {start}..{end} from {}", data_files_of(ds, start, end));
    let mut scan = ds.scan();
    scan.with_fragments(fragments).scan_in_order(true).batch_size(65_536);
    let mut stream = scan.try_into_stream().await.map_err(|e| lance_err(&what())(e))?;
    let mut want = end - start;
    let mut out = Vec::new();
    while want > 0 {
        let Some(b) = stream.try_next().await.map_err(|e| lance_err(&what())(e))? else {
            break;
        };
        let n = b.num_rows() as u64;
        if skip >= n {
            skip -= n;
            continue;
        }
        let take = (n - skip).min(want);
        out.push(b.slice(skip as usize, take as usize));
        want -= take;
        skip = 0;
    }
    if want > 0 {
        return Err(Error::new(ErrorCode::Internal, format!("{}: {want} rows missing", what())));
    }
    Ok(Some(out))
}

pub async fn versions(ds: &Dataset) -> Result<Vec<(u64, i64)>> {
    let v = ds.versions().await.map_err(lance_err("listing versions"))?;
    Ok(v.into_iter().map(|v| (v.version, v.timestamp.timestamp_millis())).collect())
}

pub async fn checkout(ds: &Dataset, version: u64) -> Result<Dataset> {
    ds.checkout_version(version)
        .await
        .map_err(|e| Error::with_source(ErrorCode::NotFound, format!("version {version} does not exist"), e))
}
