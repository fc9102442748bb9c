//! Fault injection for tests, at named points of the write path:
//! - `PERSISTING_FAULT=<point>` aborts the process there (like `kill -9` at that instant);
//! - `PERSISTING_FAULT_ERROR=<point>` (or [`arm_error`]) makes the point fail once with an
//!   I/O error, like a disk reporting `EIO` once and then "succeeding" on a retry;
//! - `PERSISTING_FAULT_PANIC=<point>` panics there (the binding must turn it into `INTERNAL`).
//!
//! Unset in normal use, so each point costs one cached comparison and one atomic load.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};

use crate::error::{Error, ErrorCode, Result};

/// Every point the code calls, so crash tests can cover all of them.
pub const POINTS: &[&str] = &[
    "put",
    "after_lance_data_fsync",
    "before_lance_commit",
    "after_lance_commit",
    "after_lance_fsync",
    "after_buffer_drain",
    "after_wal_truncate",
    "after_evolve",
    "before_compaction_commit",
    "after_compaction_commit",
    "after_recovery_flush",
];

fn abort_at() -> Option<&'static str> {
    static AT: OnceLock<Option<String>> = OnceLock::new();
    AT.get_or_init(|| std::env::var("PERSISTING_FAULT").ok().filter(|s| !s.is_empty())).as_deref()
}

fn panic_at() -> Option<&'static str> {
    static AT: OnceLock<Option<String>> = OnceLock::new();
    AT.get_or_init(|| std::env::var("PERSISTING_FAULT_PANIC").ok().filter(|s| !s.is_empty())).as_deref()
}

static ERROR_ARMED: AtomicBool = AtomicBool::new(false);
static ERROR_AT: Mutex<Option<String>> = Mutex::new(None);

fn init_error_from_env() {
    static INIT: OnceLock<()> = OnceLock::new();
    INIT.get_or_init(|| {
        if let Some(p) = std::env::var("PERSISTING_FAULT_ERROR").ok().filter(|s| !s.is_empty()) {
            arm_error(Some(&p));
        }
    });
}

/// Makes the next pass through `point` fail once with an injected I/O error (`None` disarms).
pub fn arm_error(point: Option<&str>) {
    let mut at = ERROR_AT.lock().unwrap_or_else(|p| p.into_inner());
    *at = point.map(str::to_string);
    ERROR_ARMED.store(at.is_some(), Ordering::Release);
}

/// A named point on the write path: aborts or fails there when a test asks for it.
pub fn point(name: &str) -> Result<()> {
    debug_assert!(POINTS.contains(&name), "fault point {name} is not in POINTS");
    if abort_at() == Some(name) {
        eprintln!("persisting: fault injected at {name}, aborting");
        std::process::abort();
    }
    if panic_at() == Some(name) {
        panic!("fault injected at {name}");
    }
    init_error_from_env();
    if ERROR_ARMED.load(Ordering::Acquire) {
        let mut at = ERROR_AT.lock().unwrap_or_else(|p| p.into_inner());
        if at.as_deref() == Some(name) {
            *at = None;
            ERROR_ARMED.store(false, Ordering::Release);
            return Err(Error::new(ErrorCode::Io, format!("injected I/O error at {name}")));
        }
    }
    Ok(())
}
