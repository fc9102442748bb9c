//! The `wal_decode` fuzz target's body over seeded inputs: real WALs (written by `Wal` on the
//! simulated file system) damaged in the ways storage and bugs damage files, plus noise.

use super::power_loss::Rng;
use super::*;
use crate::wal::fault_fs::FaultFs;
use crate::wal::fuzz::{check_recovery, FuzzInput};

/// Segments of a real WAL: contiguous entries from `first`, random counts, codecs and sizes.
fn real_segments(rng: &mut Rng, first: u64) -> Vec<Vec<u8>> {
    let fs = FaultFs::new(rng.next());
    let codecs = [Compression::None, Compression::Zstd, Compression::Lz4, Compression::Snappy];
    let c = WalConfig { compression: codecs[rng.below(4) as usize], ..super::power_loss::fault_cfg(&fs) };
    let dir = c.dir.clone();
    let (wal, _) = Wal::open(c, 0).unwrap();
    let mut seq = first;
    for _ in 0..rng.below(12) {
        if rng.below(4) == 0 {
            wal.rotate().unwrap();
        }
        let count = 1 + rng.below(4) as u32;
        let len = rng.below(200) as usize;
        wal.append(seq, count, &payload_for(seq)[..len.min(payload_for(seq).len())]).unwrap();
        seq += count as u64;
    }
    wal.close().unwrap();
    let mut ids: Vec<u64> =
        fs.list_dir(&dir).iter().filter_map(|n| super::super::format::parse_segment_name(n)).collect();
    ids.sort_unstable();
    ids.iter().filter_map(|id| fs.read_file(&dir.join(segment_file_name(*id)))).filter(|b| !b.is_empty()).collect()
}

fn mutate(rng: &mut Rng, segs: &mut Vec<Vec<u8>>) {
    if segs.is_empty() {
        segs.push(Vec::new());
    }
    let i = rng.below(segs.len() as u64) as usize;
    match rng.below(10) {
        0 => {
            for _ in 0..1 + rng.below(4) {
                if !segs[i].is_empty() {
                    let at = rng.below(segs[i].len() as u64) as usize;
                    segs[i][at] ^= 1 << rng.below(8);
                }
            }
        }
        1 => {
            let at = rng.below(segs[i].len() as u64 + 1) as usize;
            segs[i].truncate(at);
        }
        2 => {
            segs.remove(i);
        }
        3 => {
            let copy = segs[i].clone();
            segs.insert(i, copy);
        }
        4 => {
            let j = rng.below(segs.len() as u64) as usize;
            segs.swap(i, j);
        }
        5 => {
            for _ in 0..rng.below(64) {
                let b = rng.next() as u8;
                segs[i].push(b);
            }
        }
        6 => {
            let n = rng.below(100) as usize;
            segs[i].extend(std::iter::repeat_n(0u8, n));
        }
        7 => {
            if !segs[i].is_empty() {
                let at = rng.below(segs[i].len() as u64) as usize;
                let end = (at + 1 + rng.below(16) as usize).min(segs[i].len());
                for b in &mut segs[i][at..end] {
                    *b = rng.next() as u8;
                }
            }
        }
        8 => {
            // Splice: part of one segment glued to another.
            let j = rng.below(segs.len() as u64) as usize;
            let at = rng.below(segs[j].len() as u64 + 1) as usize;
            let tail = segs[j][at..].to_vec();
            segs[i].extend_from_slice(&tail);
        }
        _ => {
            let noise: Vec<u8> = (0..rng.below(300)).map(|_| rng.next() as u8).collect();
            segs.insert(i, noise);
        }
    }
}

#[test]
fn decode_input_round_trips() {
    let input =
        FuzzInput { mode: RecoveryMode::Absolute, min_seq: 7, segments: vec![vec![1, 2, 3], vec![], vec![9; 300]] };
    assert_eq!(FuzzInput::decode(&input.encode()), input);
    // Any bytes decode.
    let mut rng = Rng(5);
    for _ in 0..1000 {
        let data: Vec<u8> = (0..rng.below(64)).map(|_| rng.next() as u8).collect();
        FuzzInput::decode(&data);
    }
}

#[test]
fn recovery_survives_seeded_damaged_inputs() {
    let mut rng = Rng(0x5eed_f00d);
    let mut inputs = 0;
    for round in 0..3000u64 {
        let first = rng.below(20);
        let mut segments = if round % 10 == 9 { Vec::new() } else { real_segments(&mut rng, first) };
        let mutations = if round % 5 == 0 { 0 } else { 1 + rng.below(3) };
        for _ in 0..mutations {
            mutate(&mut rng, &mut segments);
        }
        let end = first + 40;
        let mode = if rng.below(2) == 0 { RecoveryMode::Absolute } else { RecoveryMode::PointInTime };
        let input = FuzzInput { mode, min_seq: rng.below(end), segments };
        check_recovery(&input.encode());
        inputs += 1;
    }
    // And raw noise, as the fuzzer starts with.
    for _ in 0..1000 {
        let data: Vec<u8> = (0..rng.below(400)).map(|_| rng.next() as u8).collect();
        check_recovery(&data);
        inputs += 1;
    }
    eprintln!("fuzz body: {inputs} seeded inputs");
}
