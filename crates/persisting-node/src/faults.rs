//! Binding for src/faults.ts.

use napi_derive::napi;

/// Every crash-injection point of the core (`PERSISTING_FAULT=<name>` aborts the process
/// there), so crash tests can cover all of them.
#[napi]
pub fn fault_points() -> Vec<String> {
    persisting_core::fault::POINTS.iter().map(|s| s.to_string()).collect()
}
