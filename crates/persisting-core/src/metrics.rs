//! Prometheus metrics, one process-wide registry; each bucket with metrics enabled gets
//! its own label set (`topic`, `bucket`).

use std::sync::OnceLock;

use prometheus::{
    Encoder, GaugeVec, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder,
};

struct Families {
    registry: Registry,
    records: IntCounterVec,
    buffer: IntGaugeVec,
    flush: HistogramVec,
    wal: IntGaugeVec,
    fsyncs: IntCounterVec,
    fsync_seconds: HistogramVec,
    flush_errors: IntCounterVec,
    compactions: IntCounterVec,
    flushed_records: GaugeVec,
}

fn families() -> &'static Families {
    static F: OnceLock<Families> = OnceLock::new();
    F.get_or_init(|| {
        let registry = Registry::new();
        let labels = &["topic", "bucket"];
        let records =
            IntCounterVec::new(Opts::new("persisting_records_total", "Records acknowledged by the backend"), labels)
                .unwrap();
        let buffer = IntGaugeVec::new(
            Opts::new("persisting_buffer_size", "Records buffered in memory, not yet flushed to Lance"),
            labels,
        )
        .unwrap();
        let flush = HistogramVec::new(
            HistogramOpts::new(
                "persisting_flush_duration_seconds",
                "Time to flush the buffer to Lance (append, fsync, WAL truncation)",
            )
            .buckets(vec![0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0]),
            labels,
        )
        .unwrap();
        let wal = IntGaugeVec::new(
            Opts::new("persisting_wal_size_bytes", "Bytes in the live write-ahead log segments"),
            labels,
        )
        .unwrap();
        let fsyncs = IntCounterVec::new(
            Opts::new("persisting_wal_fsyncs_total", "fdatasync calls made by the write-ahead log"),
            labels,
        )
        .unwrap();
        let fsync_seconds = HistogramVec::new(
            HistogramOpts::new("persisting_wal_fsync_duration_seconds", "Time of one fdatasync of the write-ahead log")
                .buckets(vec![0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0]),
            labels,
        )
        .unwrap();
        let flush_errors = IntCounterVec::new(
            Opts::new(
                "persisting_flush_errors_total",
                "Flushes, compactions and WAL writes that failed; each stops its bucket until reopened",
            ),
            labels,
        )
        .unwrap();
        let compactions =
            IntCounterVec::new(Opts::new("persisting_compactions_total", "Compactions committed"), labels).unwrap();
        let flushed_records =
            GaugeVec::new(Opts::new("persisting_persisted_records", "Records stored in the Lance dataset"), labels)
                .unwrap();
        registry.register(Box::new(records.clone())).unwrap();
        registry.register(Box::new(buffer.clone())).unwrap();
        registry.register(Box::new(flush.clone())).unwrap();
        registry.register(Box::new(wal.clone())).unwrap();
        registry.register(Box::new(fsyncs.clone())).unwrap();
        registry.register(Box::new(flushed_records.clone())).unwrap();
        registry.register(Box::new(fsync_seconds.clone())).unwrap();
        registry.register(Box::new(flush_errors.clone())).unwrap();
        registry.register(Box::new(compactions.clone())).unwrap();
        Families {
            registry,
            records,
            buffer,
            flush,
            wal,
            fsyncs,
            fsync_seconds,
            flush_errors,
            compactions,
            flushed_records,
        }
    })
}

/// Handles for one bucket; cheap to clone and update.
#[derive(Clone)]
pub struct BucketMetrics {
    pub records: prometheus::IntCounter,
    pub buffer: prometheus::IntGauge,
    pub flush: prometheus::Histogram,
    pub wal: prometheus::IntGauge,
    pub fsyncs: prometheus::IntCounter,
    pub fsync_seconds: prometheus::Histogram,
    pub flush_errors: prometheus::IntCounter,
    pub compactions: prometheus::IntCounter,
    pub persisted: prometheus::Gauge,
}

impl BucketMetrics {
    pub fn new(topic: &str, bucket: &str) -> Self {
        let f = families();
        let l = &[topic, bucket];
        BucketMetrics {
            records: f.records.with_label_values(l),
            buffer: f.buffer.with_label_values(l),
            flush: f.flush.with_label_values(l),
            wal: f.wal.with_label_values(l),
            fsyncs: f.fsyncs.with_label_values(l),
            fsync_seconds: f.fsync_seconds.with_label_values(l),
            flush_errors: f.flush_errors.with_label_values(l),
            compactions: f.compactions.with_label_values(l),
            persisted: f.flushed_records.with_label_values(l),
        }
    }
}

/// The whole registry in Prometheus text exposition format.
pub fn render() -> String {
    let f = families();
    let mut out = Vec::new();
    TextEncoder::new().encode(&f.registry.gather(), &mut out).expect("text encoding cannot fail");
    String::from_utf8(out).expect("prometheus text is UTF-8")
}
