//! Criterion benches of the core paths. Run (from the repo root):
//! `cargo bench -p persisting-core --profile dev --target x86_64-unknown-linux-gnu`
//! (the dev profile is optimised; with the addon's --target it reuses the compiled Lance).

use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use persisting_core::json::{decode_rows, infer_rows, split_rows};
use persisting_core::wal::{Wal, WalConfig};
use persisting_core::{runtime, BucketStore, Compression, StoreOptions, WalOptions};

/// ~140-byte records: id, integer, float, 64-char text, timestamp.
fn records_json(start: usize, n: usize) -> Vec<u8> {
    let mut s = String::with_capacity(n * 150 + 2);
    s.push('[');
    for i in start..start + n {
        if i > start {
            s.push(',');
        }
        s.push_str(&format!(
            r#"{{"id":"user-{:06}","n":{},"x":{:.3},"text":"{}","ts":"2026-11-22T01:{:02}:{:02}.000Z"}}"#,
            i % 100_000,
            i,
            i as f64 * 0.25 + 0.125,
            &"abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ-_"[..64],
            (i / 60) % 60,
            i % 60
        ));
    }
    s.push(']');
    s.into_bytes()
}

fn store(dir: &std::path::Path, wal: Option<WalOptions>) -> Arc<BucketStore> {
    let mut o = StoreOptions::new(dir.to_string_lossy());
    o.flush_threshold = usize::MAX / 2;
    o.compaction_threshold = 0;
    o.evolve_schema = true;
    o.wal = wal;
    runtime().block_on(BucketStore::open(o)).unwrap()
}

fn json_decode(c: &mut Criterion) {
    let mut g = c.benchmark_group("json_to_arrow");
    for n in [100usize, 1000, 10_000] {
        let json = records_json(0, n);
        let mut probe = json.clone();
        split_rows(&mut probe, None).unwrap();
        let schema = Arc::new(infer_rows(&probe).unwrap());
        g.throughput(Throughput::Elements(n as u64));
        g.bench_with_input(BenchmarkId::from_parameter(n), &json, |b, json| {
            b.iter_batched(
                || json.clone(),
                |mut buf| {
                    let r = split_rows(&mut buf, Some(&schema)).unwrap();
                    decode_rows(&buf, &schema, r.rows).unwrap()
                },
                BatchSize::SmallInput,
            )
        });
    }
    g.finish();
}

fn wal_append(c: &mut Criterion) {
    let mut g = c.benchmark_group("wal_append_1k_records");
    g.sample_size(20);
    let payload = records_json(0, 1000);
    for (name, interval) in [("sync_each", Duration::ZERO), ("interval_1s", Duration::from_secs(1))] {
        for codec in [Compression::None, Compression::Zstd] {
            let dir = tempfile::tempdir().unwrap();
            let (wal, _) = Wal::open(
                WalConfig {
                    dir: dir.path().join("wal"),
                    sync_interval: interval,
                    max_size: u64::MAX,
                    compression: codec,
                    defer_writes: true, // as the store configures it (only applies to interval 0)
                    ..WalConfig::default()
                },
                0,
            )
            .unwrap();
            let mut seq = 0u64;
            g.throughput(Throughput::Elements(1000));
            g.bench_function(format!("{name}/{codec:?}"), |b| {
                b.iter(|| {
                    let lsn = wal.append(seq, 1000, &payload).unwrap();
                    seq += 1000;
                    if interval.is_zero() {
                        wal.sync_blocking_to(lsn).unwrap();
                    }
                })
            });
        }
    }
    g.finish();
}

/// Flush cost must not grow with the dataset: append 10k records to an empty dataset and to
/// one that already holds 1M rows.
fn lance_append(c: &mut Criterion) {
    let mut g = c.benchmark_group("lance_append_10k");
    g.sample_size(10);
    g.throughput(Throughput::Elements(10_000));
    for existing in [0usize, 1_000_000] {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path(), None);
        let mut next = 0usize;
        while next < existing {
            s.put_json(records_json(next, 100_000)).unwrap();
            runtime().block_on(s.flush()).unwrap();
            next += 100_000;
        }
        if existing > 0 {
            runtime().block_on(s.compact()).unwrap();
        }
        g.bench_function(BenchmarkId::new("existing_rows", existing), |b| {
            b.iter_batched(
                || {
                    let j = records_json(next, 10_000);
                    next += 10_000;
                    j
                },
                |j| {
                    s.put_json(j).unwrap();
                    runtime().block_on(s.flush()).unwrap();
                },
                BatchSize::PerIteration,
            )
        });
    }
    g.finish();
}

fn read_by_offset(c: &mut Criterion) {
    let mut g = c.benchmark_group("read_json_1k");
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path(), None);
    for i in 0..10 {
        s.put_json(records_json(i * 50_000, 50_000)).unwrap();
        runtime().block_on(s.flush()).unwrap();
    }
    g.throughput(Throughput::Elements(1000));
    for offset in [0u64, 250_000, 499_000] {
        g.bench_function(BenchmarkId::new("offset", offset), |b| {
            b.iter(|| runtime().block_on(s.read_json(offset, Some(1000))).unwrap())
        });
    }
    g.finish();
}

fn wal_recovery(c: &mut Criterion) {
    let mut g = c.benchmark_group("wal_recovery");
    g.sample_size(10);
    for records in [10_000usize, 100_000] {
        let dir = tempfile::tempdir().unwrap();
        {
            let s = store(dir.path(), Some(WalOptions::new(Duration::from_secs(1), u64::MAX)));
            for i in (0..records).step_by(1000) {
                s.put_json(records_json(i, 1000)).unwrap();
            }
            // dropped without flush: everything is in the WAL only
        }
        g.throughput(Throughput::Elements(records as u64));
        g.bench_function(BenchmarkId::new("records", records), |b| {
            b.iter(|| {
                let s = store(dir.path(), Some(WalOptions::new(Duration::from_secs(1), u64::MAX)));
                assert_eq!(s.total_count(), records as u64);
            })
        });
    }
    g.finish();
}

criterion_group!(benches, json_decode, wal_append, lance_append, read_by_offset, wal_recovery);
criterion_main!(benches);
