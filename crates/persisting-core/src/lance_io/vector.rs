//! Vector indexes and nearest-neighbour search.

use arrow_array::{Array, Float32Array, RecordBatch};
use arrow_schema::{DataType, Schema};
use futures::TryStreamExt;
use lance::dataset::Dataset;
use lance::index::vector::VectorIndexParams;
use lance::index::DatasetIndexExt;
use lance_index::IndexType;
use lance_linalg::distance::MetricType;

use crate::error::{Error, ErrorCode, Result, ResultExt};

use super::*;

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
            format!(
                "field '{column}' is not a vector column (it holds {other}); a vector column holds Float32Array or \
                 Float64Array values, or is named 'vector', or is declared with the vectorColumns option \
                 ({{ {column}: <dimension> }}) before its first record"
            ),
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
    let batches: Vec<RecordBatch> =
        scan.try_into_stream().await.map_err(lance_err("search"))?.try_collect().await.map_err(lance_err("search"))?;
    let schema = match batches.first() {
        Some(b) => b.schema(),
        None => return Ok(RecordBatch::new_empty(arrow_schema(ds))),
    };
    arrow_select::concat::concat_batches(&schema, &batches).code(ErrorCode::Internal, "search results")
}
