//! Flushing the buffer into Lance (schema evolution, commit, WAL truncation), compaction,
//! removal of old versions and vector indexes: everything that holds `flush_lock`.

use std::sync::Arc;
use std::time::Instant;

use arrow_array::RecordBatch;
use arrow_schema::{Schema, SchemaRef};
use lance::dataset::Dataset;

use super::BucketStore;
use crate::codec::Compression;
use crate::conform::{conform_batch, strip_metadata, with_compression};
use crate::error::{Error, ErrorCode, Result, ResultExt};
use crate::fault;
use crate::lance_io;

impl BucketStore {
    /// Writes the buffer to Lance as one appended fragment, makes it durable, then drops the
    /// WAL segments it covered. Concurrent puts keep going into a fresh WAL segment.
    pub async fn flush(self: &Arc<Self>) -> Result<()> {
        if self.follows {
            return Err(Error::new(ErrorCode::ReadOnly, "this bucket is open read-only; only its writer flushes"));
        }
        if self.read_only {
            return Ok(()); // a checkout of an old version has nothing to flush
        }
        let _guard = self.flush_lock.lock().await;
        let started = Instant::now();
        let (batches, rows, schema, stored, dataset, next_segment) = {
            let mut st = self.st();
            Self::check_failed(&st)?;
            if st.buffer_rows == 0 {
                return Ok(());
            }
            // Rotation fsyncs everything appended so far: only durable rows go to Lance.
            let next_segment = match &self.wal {
                Some(w) => match w.rotate() {
                    Ok(seg) => Some((seg, w.synced_lsn())),
                    Err(e) => {
                        drop(st);
                        self.fail_stop(&e);
                        return Err(e);
                    }
                },
                None => None,
            };
            st.flushing = true;
            (
                st.buffer.clone(),
                st.buffer_rows,
                st.schema.clone().unwrap(),
                st.stored.clone(),
                st.dataset.clone(),
                next_segment,
            )
        };
        if let Some((_, durable)) = next_segment {
            self.mark_durable(durable);
        }
        let k = batches.len();
        let result = match batches.iter().map(|c| c.decode(&schema)).collect::<Result<Vec<_>>>() {
            Ok(decoded) => self.write_to_lance(decoded, rows, &schema, stored, dataset).await,
            Err(e) => Err(e),
        };
        // Whether or not the commit landed, a retry could append the rows twice: stop, and
        // let a reopen reconcile (Lance's row count is the truth, the WAL fills in the rest).
        let r = self.finish_flush(result, k, rows);
        let (persisted, buffered) = self.stop_on_err(r)?;
        let r = fault::point("after_buffer_drain");
        self.stop_on_err(r)?;
        if let (Some(w), Some((seg, _))) = (&self.wal, next_segment) {
            let r = w.remove_segments_before(seg);
            self.stop_on_err(r)?;
        }
        let r = fault::point("after_wal_truncate");
        self.stop_on_err(r)?;
        if let Some(m) = &self.metrics {
            m.flush.observe(started.elapsed().as_secs_f64());
            m.buffer.set(buffered as i64);
            m.persisted.set(persisted as f64);
            if let Some(w) = &self.wal {
                m.wal.set(w.total_size() as i64);
            }
        }
        let r = self.maybe_compact().await;
        self.stop_on_err(r)
    }

    /// Swaps the flushed prefix of the buffer for the new dataset version, atomically for readers.
    pub(super) fn finish_flush(&self, result: Result<Dataset>, k: usize, rows: u64) -> Result<(u64, u64)> {
        let mut st = self.st();
        st.flushing = false;
        let ds = result?;
        // The flushed batches are exactly the buffer's prefix: puts only append, and schema
        // changes conform batches one for one.
        st.buffer.drain(..k);
        st.recount_buffer_bytes();
        st.buffer_rows -= rows;
        st.persisted += rows;
        // Fields still untyped stay Null in the buffer: they have no column yet (see
        // `lance_io::UNTYPED_KEY`), so there is no stored type to adopt.
        let stored = Arc::new(lance_io::stored_schema(&ds));
        st.stored = Some(stored);
        st.dataset = Some(Arc::new(ds));
        st.flush_error = None;
        Ok((st.persisted, st.buffer_rows))
    }

    pub(super) async fn write_to_lance(
        &self,
        batches: Vec<RecordBatch>,
        rows: u64,
        schema: &SchemaRef,
        stored: Option<SchemaRef>,
        dataset: Option<Arc<Dataset>>,
    ) -> Result<Dataset> {
        let codec = lance_codec(self.opts.compression);
        let mut ds = dataset.map(|d| d.as_ref().clone());
        if let (Some(d), Some(stored)) = (ds.as_mut(), stored.as_ref()) {
            // In every mode (merge_by_field let through only what the mode allows): widened
            // numbers, untyped fields that got a type, and (evolving) new fields.
            if stored.as_ref() != &strip_metadata(schema) {
                if lance_io::evolve(d, schema, codec, &self.durability).await? {
                    fault::point("after_evolve")?;
                }
                self.durability.ensure_owner()?;
                lance_io::record_untyped(d, schema).await?;
                self.durability.after_commit(d).await?;
            }
        }
        // Lance orders columns as stored; new columns come last.
        let target: SchemaRef = match &ds {
            Some(d) => Arc::new(with_compression(&strip_metadata(&lance_io::arrow_schema(d)), codec)),
            None => Arc::new(with_compression(&storage_schema(schema), codec)),
        };
        let conformed: Vec<RecordBatch> = batches.iter().map(|b| conform_batch(b, &target)).collect::<Result<_>>()?;
        let batch = arrow_select::concat::concat_batches(&target, &conformed).code(ErrorCode::Internal, "concat")?;
        debug_assert_eq!(batch.num_rows() as u64, rows);
        let last_seq = {
            let st = self.st();
            st.persisted + rows
        };
        let meta = vec![("persisting.next_seq".into(), last_seq.to_string())];
        let ds = lance_io::append(ds, &self.uri, &self.opts.storage_options, batch, meta, &self.durability).await?;
        fault::point("after_lance_fsync")?;
        Ok(ds)
    }

    /// Caller holds `flush_lock`.
    pub(super) async fn maybe_compact(&self) -> Result<()> {
        let th = self.opts.compaction_threshold;
        if th == 0 {
            return Ok(());
        }
        let frags = self.st().dataset.as_ref().map(|d| d.get_fragments().len()).unwrap_or(0);
        if frags > th {
            self.compact_locked().await?;
        }
        Ok(())
    }

    /// Merges small fragments into large ones, keeping row order.
    pub async fn compact(self: &Arc<Self>) -> Result<(usize, usize)> {
        if self.read_only {
            return Err(Error::new(ErrorCode::ReadOnly, "cannot compact a read-only view"));
        }
        let _guard = self.flush_lock.lock().await;
        self.ensure_usable()?;
        let r = self.compact_locked().await;
        self.stop_on_err(r)
    }

    /// Caller holds `flush_lock`.
    pub(super) async fn compact_locked(&self) -> Result<(usize, usize)> {
        let ds = self.st().dataset.clone();
        let Some(ds) = ds else { return Ok((0, 0)) };
        let mut ds = ds.as_ref().clone();
        let r = lance_io::compact(&mut ds, &self.durability).await?;
        if let (Some(m), true) = (&self.metrics, r.0 > 0) {
            m.compactions.inc();
        }
        crate::memory::release_free_memory();
        self.st().dataset = Some(Arc::new(ds));
        Ok(r)
    }

    /// Removes the versions committed more than `older_than` ago (never the latest) and the
    /// files only they name; `checkout()` of a removed version fails with `NOT_FOUND` after.
    pub async fn cleanup_old_versions(self: &Arc<Self>, older_than: std::time::Duration) -> Result<lance_io::Cleanup> {
        if self.read_only || self.follows {
            return Err(Error::new(ErrorCode::ReadOnly, "only the bucket's writer removes old versions"));
        }
        let _guard = self.flush_lock.lock().await;
        self.ensure_usable()?;
        let ds = self.st().dataset.clone();
        match ds {
            Some(ds) => lance_io::cleanup_old_versions(&ds, older_than).await,
            None => Ok(lance_io::Cleanup::default()),
        }
    }

    pub async fn create_index(self: &Arc<Self>, column: &str) -> Result<()> {
        if self.read_only {
            return Err(Error::new(ErrorCode::ReadOnly, "cannot index a read-only view"));
        }
        self.flush().await?;
        let _guard = self.flush_lock.lock().await;
        self.ensure_usable()?;
        let ds = self.st().dataset.clone();
        let Some(ds) = ds else {
            return Err(Error::new(ErrorCode::NotFound, "cannot index an empty dataset; put records first"));
        };
        let mut ds = ds.as_ref().clone();
        self.durability.ensure_owner()?;
        let r = lance_io::create_vector_index(&mut ds, column).await;
        self.stop_on_err(r)?;
        self.durability.after_index_commit(&ds).await?;
        self.st().dataset = Some(Arc::new(ds));
        Ok(())
    }
}

/// The schema a new dataset is created with. Lance cannot store the Arrow Null type, and a
/// field null in every record so far has no type yet: it gets no column, and the schema
/// metadata names it, so it stays known (and typable, even on a fixed schema) after a reopen.
fn storage_schema(schema: &Schema) -> Schema {
    let (untyped, typed): (Vec<_>, Vec<_>) =
        schema.fields().iter().partition(|f| f.data_type() == &arrow_schema::DataType::Null);
    let names: Vec<String> = untyped.iter().map(|f| f.name().clone()).collect();
    Schema::new_with_metadata(
        typed.into_iter().map(|f| f.as_ref().clone()).collect::<Vec<arrow_schema::Field>>(),
        lance_io::untyped_metadata(&names),
    )
}

/// Lance's page codecs: zstd and lz4 natively; Lance has no snappy, so snappy data pages use
/// lz4 (the closest speed/ratio trade-off) while the WAL uses real snappy.
fn lance_codec(c: Compression) -> Option<&'static str> {
    match c {
        Compression::None => None,
        Compression::Zstd => Some("zstd"),
        Compression::Lz4 | Compression::Snappy => Some("lz4"),
    }
}
