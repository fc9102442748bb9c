//! Tests of the WAL on real files in temp dirs.

mod damage;
mod failures;
mod fault_fs;
mod fuzz_inputs;
mod group_commit;
mod lifecycle;
mod modes;
mod power_loss;

use super::format::parse_segment_name;
use super::*;
use std::collections::BTreeSet;
use std::fs;
use std::path::PathBuf;

pub(super) fn cfg(dir: &Path) -> WalConfig {
    WalConfig {
        dir: dir.to_path_buf(),
        sync_interval: Duration::ZERO,
        max_size: 64 * 1024 * 1024,
        compression: Compression::None,
        defer_writes: false,
        ..WalConfig::default()
    }
}

pub(super) fn payload_for(seq: u64) -> Vec<u8> {
    // Varying sizes, including empty, and compressible content.
    let n = (seq * 37 % 300) as usize;
    let mut p = format!("{{\"seq\":{seq},\"text\":\"").into_bytes();
    p.extend(std::iter::repeat_n(b'a' + (seq % 26) as u8, n));
    p.extend_from_slice(b"\"}\n");
    if seq % 50 == 7 {
        p.clear();
    }
    p
}

pub(super) fn entry(seq: u64) -> WalEntry {
    WalEntry { first_seq: seq, count: 1, payload: payload_for(seq) }
}

pub(super) fn segment_ids(dir: &Path) -> BTreeSet<u64> {
    fs::read_dir(dir).unwrap().filter_map(|e| e.unwrap().file_name().to_str().and_then(parse_segment_name)).collect()
}

pub(super) fn dir_segment_bytes(dir: &Path) -> u64 {
    segment_ids(dir).iter().map(|id| fs::metadata(dir.join(segment_file_name(*id))).unwrap().len()).sum()
}

/// A temp dir on tmpfs where there is one: real files, but fsyncs that cost nothing, for the
/// tests that recover thousands of damaged segments.
pub(super) fn ram_tempdir() -> tempfile::TempDir {
    let shm = Path::new("/dev/shm");
    if shm.is_dir() {
        if let Ok(t) = tempfile::tempdir_in(shm) {
            return t;
        }
    }
    tempfile::tempdir().unwrap()
}
