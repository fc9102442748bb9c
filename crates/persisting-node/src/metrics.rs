//! Binding for src/metrics.ts.

use napi_derive::napi;

/// Prometheus text exposition of every bucket that has metrics enabled.
#[napi]
pub fn metrics_text() -> String {
    persisting_core::metrics::render()
}
