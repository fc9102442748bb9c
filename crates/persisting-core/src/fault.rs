//! Crash injection for tests: when `PERSISTING_FAULT` names a point, the process aborts
//! there (like `kill -9` at exactly that instant). Unset in normal use, so each point costs
//! one cached comparison.

use std::sync::OnceLock;

fn armed() -> Option<&'static str> {
    static ARMED: OnceLock<Option<String>> = OnceLock::new();
    ARMED.get_or_init(|| std::env::var("PERSISTING_FAULT").ok().filter(|s| !s.is_empty())).as_deref()
}

/// Named points: before_lance_commit, after_lance_commit, after_lance_fsync,
/// after_buffer_drain, after_wal_truncate, after_evolve.
pub fn point(name: &str) {
    if armed() == Some(name) {
        eprintln!("persisting: fault injected at {name}, aborting");
        std::process::abort();
    }
}
