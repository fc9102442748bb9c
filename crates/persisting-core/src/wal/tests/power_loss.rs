//! Crashes and power losses on the simulated file system ([`FaultFs`]).

use super::*;
use crate::error::ErrorCode;
use crate::wal::fault_fs::{FaultFs, FsOp, LossMode};
use std::sync::Arc;

/// The WAL directory's parent already exists (the store creates it) and is durable.
pub(super) fn fault_cfg(fs: &FaultFs) -> WalConfig {
    fs.durable_dir(Path::new("/bucket"));
    WalConfig { dir: PathBuf::from("/bucket/wal"), fs: Arc::new(fs.clone()), ..WalConfig::default() }
}

/// The process dies with the WAL open: nothing of it runs (no close, no final sync).
pub(super) fn crash(wal: Wal, fs: &FaultFs) {
    std::mem::forget(wal);
    fs.crash();
}

/// Loss path A: frames replayed after a process crash were only in the page cache. The next
/// session acknowledges new records with fsyncs of its own segment only; unless recovery made
/// the replayed segment durable, a power loss then drops the older records and leaves the
/// acknowledged ones behind a gap.
#[test]
fn replayed_segments_are_durable_before_new_appends() {
    let fs = FaultFs::new(1);
    let (wal, _) = Wal::open(fault_cfg(&fs), 0).unwrap();
    for seq in 0..5 {
        wal.append(seq, 1, &payload_for(seq)).unwrap();
    }
    crash(wal, &fs);

    let (wal, rec) = Wal::open(fault_cfg(&fs), 0).unwrap();
    assert_eq!(rec.entries, (0..5).map(entry).collect::<Vec<_>>());
    let seg1 = PathBuf::from("/bucket/wal").join(segment_file_name(1));
    assert!(fs.is_durable(&seg1), "recovery kept segment 1 but did not make it durable");
    let mut lsn = 0;
    for seq in 5..10 {
        lsn = wal.append(seq, 1, &payload_for(seq)).unwrap();
    }
    wal.sync_blocking_to(lsn).unwrap();
    crash(wal, &fs);
    fs.power_loss(LossMode::DropAll);

    let (_wal, rec) = Wal::open(fault_cfg(&fs), 0).unwrap();
    assert_eq!(rec.entries, (0..10).map(entry).collect::<Vec<_>>());
}

/// xorshift64*: deterministic workloads without a dependency.
pub(super) struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn record(seq: u64, count: u32) -> Vec<u8> {
    let mut p = payload_for(seq);
    p.extend_from_slice(&count.to_le_bytes());
    p
}

/// What the workload was told so far.
struct Model {
    /// Next sequence number to append.
    next_seq: u64,
    /// Every record below this was acknowledged (a sync, rotate or close returned Ok, or it
    /// was replayed by an open, which makes it durable).
    acked: u64,
    /// Rows "in Lance": segments before the current one were removed after reaching it.
    lance_rows: u64,
    /// End of the records in sealed segments (all synced by the rotation that sealed them).
    sealed_end: u64,
    /// (lsn, end seq) of appends since the last acknowledgement.
    unacked: Vec<(u64, u64)>,
}

impl Model {
    fn ack_through(&mut self, lsn: u64) {
        for &(l, end) in &self.unacked {
            if l <= lsn {
                self.acked = self.acked.max(end);
            }
        }
        self.unacked.retain(|&(l, _)| l > lsn);
    }
}

/// Recovers a power-lost copy of `fs` in both modes and checks that every acknowledged record
/// is there exactly once, in order, with its payload, and that nothing is lost silently.
fn check_power_loss(fs: &FaultFs, m: &Model, seed: u64, step: usize) -> u64 {
    let mut checked = 0;
    for loss in [LossMode::DropAll, LossMode::KeepPrefix, LossMode::RandomSubset] {
        for mode in [RecoveryMode::Absolute, RecoveryMode::PointInTime] {
            let copy = fs.fork(seed ^ (step as u64) << 8 ^ loss as u64);
            copy.power_loss(loss);
            let c = WalConfig { recovery_mode: mode, ..fault_cfg(&copy) };
            let ctx = format!("seed {seed} step {step} {loss:?} {mode:?}");
            let (wal, rec) = match Wal::open(c, m.lance_rows) {
                Ok(r) => r,
                // Write-back in any order can leave a hole before surviving frames: not a
                // torn tail, so Absolute may refuse; PointInTime must then still recover all.
                Err(e) if mode == RecoveryMode::Absolute && loss == LossMode::RandomSubset => {
                    assert_eq!(e.code, ErrorCode::WalCorrupt, "{ctx}: {e}");
                    continue;
                }
                Err(e) => panic!("{ctx}: open failed: {e}"),
            };
            let mut expect = m.lance_rows;
            for e in &rec.entries {
                if e.first_seq < m.lance_rows {
                    assert_eq!(expect, m.lance_rows, "{ctx}: only the first entry may straddle min_seq");
                } else {
                    assert_eq!(e.first_seq, expect, "{ctx}: entries out of order or duplicated");
                }
                assert_eq!(e.payload, record(e.first_seq, e.count), "{ctx}");
                expect = e.first_seq + e.count as u64;
            }
            assert!(expect >= m.acked, "{ctx}: acknowledged records up to {} lost, recovered up to {expect}", m.acked);
            for q in &rec.quarantined {
                assert!(!q.moved_to.as_os_str().is_empty(), "{ctx}");
            }
            // Whatever was recovered is reachable again after appending more.
            let lsn = wal.append(expect, 1, &record(expect, 1)).unwrap();
            wal.sync_blocking_to(lsn).unwrap();
            crash(wal, &copy);
            copy.power_loss(LossMode::DropAll);
            let (_wal, again) = Wal::open(fault_cfg(&copy), m.lance_rows).unwrap();
            assert_eq!(again.entries.last().map(|e| e.first_seq), Some(expect), "{ctx}: append after recovery lost");
            assert_eq!(again.entries.len(), rec.entries.len() + 1, "{ctx}");
            checked += 1;
        }
    }
    checked
}

/// Runs one random workload with a simulated power loss (forked) after every step. Returns the
/// number of recoveries checked.
fn run_workload(seed: u64, steps: usize, inject_errors: bool) -> u64 {
    let mut rng = Rng(seed | 1);
    let fs = FaultFs::new(seed);
    let defer_writes = rng.below(2) == 0;
    let cfg_of = |fs: &FaultFs| WalConfig { defer_writes, ..fault_cfg(fs) };
    let (mut wal, _) = Wal::open(cfg_of(&fs), 0).unwrap();
    let mut m = Model { next_seq: 0, acked: 0, lance_rows: 0, sealed_end: 0, unacked: Vec::new() };
    let mut failed = false;
    let mut checked = 0;
    for step in 0..steps {
        if inject_errors && rng.below(8) == 0 {
            let ops = [FsOp::Write, FsOp::SyncData, FsOp::SyncAll, FsOp::SyncDir, FsOp::Create, FsOp::Remove];
            let op = ops[rng.below(ops.len() as u64) as usize];
            let errno = if rng.below(2) == 0 { libc::EIO } else { libc::ENOSPC };
            fs.fail(op, 1 + rng.below(3), errno);
        }
        match rng.below(20) {
            0..=8 => {
                let count = 1 + rng.below(3) as u32;
                match wal.append(m.next_seq, count, &record(m.next_seq, count)) {
                    Ok(lsn) => {
                        assert!(!failed, "seed {seed} step {step}: append accepted after a failed fsync");
                        m.next_seq += count as u64;
                        m.unacked.push((lsn, m.next_seq));
                    }
                    Err(e) => assert_eq!(e.code, ErrorCode::WalIo),
                }
            }
            9..=13 => {
                let lsn = m.unacked.last().map_or(0, |u| u.0);
                match wal.sync_blocking_to(lsn) {
                    Ok(()) => {
                        assert!(wal.synced_lsn() >= lsn, "seed {seed} step {step}");
                        m.ack_through(lsn);
                    }
                    Err(e) => {
                        assert_eq!(e.code, ErrorCode::WalIo);
                        failed = true;
                    }
                }
            }
            14 | 15 => match wal.rotate() {
                Ok(_) => {
                    assert!(!failed, "seed {seed} step {step}: rotate Ok after a failed fsync");
                    m.ack_through(u64::MAX);
                    m.sealed_end = m.next_seq;
                }
                // A failed creation leaves the WAL usable; a failed fsync stops it (seen by the next sync).
                Err(e) => assert_eq!(e.code, ErrorCode::WalIo),
            },
            16 => {
                // The sealed segments' records reached Lance; their segments go.
                m.lance_rows = m.sealed_end;
                let _ = wal.remove_segments_before(wal.current_segment_id());
            }
            _ => {
                // Close (or crash) and reopen, as a new process would.
                if rng.below(2) == 0 && wal.close().is_ok() {
                    m.ack_through(u64::MAX);
                }
                crash(wal, &fs);
                fs.clear_faults();
                let (w, rec) = Wal::open(cfg_of(&fs), m.lance_rows).unwrap();
                let end = rec.entries.last().map_or(m.lance_rows, |e| e.first_seq + e.count as u64);
                assert!(end >= m.acked, "seed {seed} step {step}: reopen lost acknowledged records");
                // Replayed records are durable now and new ones follow them.
                m.next_seq = end;
                m.acked = end;
                m.sealed_end = end;
                m.unacked.clear();
                failed = false;
                wal = w;
            }
        }
        checked += check_power_loss(&fs, &m, seed, step);
    }
    checked
}

#[test]
fn every_acknowledged_record_survives_a_power_loss_at_every_step() {
    let mut checked = 0;
    for seed in 1..=40u64 {
        checked += run_workload(seed * 0x9e37_79b9, 40, false);
    }
    eprintln!("power loss: {checked} recoveries checked");
    assert!(checked > 40 * 40 * 5);
}

#[test]
fn injected_io_errors_never_lose_an_acknowledged_record() {
    let mut checked = 0;
    for seed in 1..=40u64 {
        checked += run_workload(seed * 0x51_7cc1_b727, 40, true);
    }
    eprintln!("power loss with I/O errors: {checked} recoveries checked");
    assert!(checked > 40 * 40 * 5);
}
