//! Arbitrary bytes as a set of WAL segment files (see `wal::fuzz::FuzzInput`), recovered in
//! both recovery modes on the simulated file system. Recovery must not panic, must keep only
//! CRC-valid frames of the input in order and without gaps, and must be idempotent.
//! `cargo test -p persisting-core fuzz_inputs` runs the same body over seeded inputs.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    persisting_core::wal::fuzz::check_recovery(data);
});
