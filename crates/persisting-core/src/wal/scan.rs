//! Reading one segment during recovery: frames are checked in order until the first damage,
//! which is classified as a torn tail (what a crash in the middle of writing leaves) or not.

use std::io::{self, BufReader, Read};

use super::format::decode_payload;
use super::fs::{ReadAt, WalFile};
use super::{WalEntry, FRAME_HEADER_LEN, MAX_FRAME_LEN, PAYLOAD_HEADER_LEN};

/// The first frame recovery cannot use.
#[derive(Debug, Clone)]
pub(super) struct Damage {
    /// Start of the frame; everything before it is good.
    pub offset: u64,
    pub reason: String,
    /// A torn tail: an incomplete last frame, a checksum failure of the frame that ends the
    /// file, or nothing but zero bytes from `offset` on. Never a sequence gap.
    pub torn: bool,
}

/// Checks that kept entries (`first_seq + count > min_seq`) are contiguous and that the first
/// one starts at or below `min_seq`, so nothing between Lance's rows and the WAL is missing.
pub(super) struct SeqCheck {
    min_seq: u64,
    /// Sequence number the next kept entry must start at, once one was kept.
    next: Option<u64>,
}

impl SeqCheck {
    pub fn new(min_seq: u64) -> Self {
        SeqCheck { min_seq, next: None }
    }

    /// `Ok(true)`: keep the entry; `Ok(false)`: already in Lance; `Err`: a gap or overlap.
    fn admit(&mut self, first_seq: u64, count: u32) -> Result<bool, String> {
        let end = first_seq.saturating_add(count as u64);
        match self.next {
            None if end <= self.min_seq => Ok(false),
            None if first_seq > self.min_seq => Err(format!(
                "sequence gap: records {}..{first_seq} are neither in the table (it ends at {}) nor in the WAL",
                self.min_seq, self.min_seq
            )),
            Some(next) if first_seq != next => {
                Err(format!("sequence gap: entry starts at {first_seq}, the previous one ended at {next}"))
            }
            _ => {
                self.next = Some(end);
                Ok(true)
            }
        }
    }
}

/// Reads frames from the start of `file` (of length `len`) until the end or the first damage,
/// pushing kept entries. Only real read errors are `Err`.
pub(super) fn scan_segment(
    file: &dyn WalFile,
    len: u64,
    check: &mut SeqCheck,
    entries: &mut Vec<WalEntry>,
) -> io::Result<Option<Damage>> {
    let mut reader = BufReader::with_capacity(256 * 1024, ReadAt { file, pos: 0 });
    let mut pos = 0u64;
    // (reason, frame ends at or past the end of the file)
    let bad: (String, bool) = loop {
        if pos >= len {
            return Ok(None);
        }
        let remaining = len - pos;
        if remaining < FRAME_HEADER_LEN as u64 {
            break (format!("torn frame header ({remaining} of {FRAME_HEADER_LEN} bytes)"), true);
        }
        let mut header = [0u8; FRAME_HEADER_LEN];
        if !read_exact(&mut reader, &mut header)? {
            break ("segment shrank while being read".into(), true);
        }
        let frame_len = u32::from_le_bytes(header[..4].try_into().unwrap()) as usize;
        let crc = u32::from_le_bytes(header[4..].try_into().unwrap());
        if !(PAYLOAD_HEADER_LEN..=MAX_FRAME_LEN).contains(&frame_len) {
            break (format!("absurd frame length {frame_len}"), false);
        }
        let available = remaining - FRAME_HEADER_LEN as u64;
        if frame_len as u64 > available {
            break (
                format!("frame length {frame_len} runs past the end of the segment ({available} bytes left)"),
                true,
            );
        }
        let mut payload = vec![0u8; frame_len];
        if !read_exact(&mut reader, &mut payload)? {
            break ("segment shrank while being read".into(), true);
        }
        let last = frame_len as u64 == available;
        let actual = crc32fast::hash(&payload);
        if actual != crc {
            break (format!("checksum mismatch (stored {crc:#010x}, computed {actual:#010x})"), last);
        }
        let entry = match decode_payload(&payload) {
            Ok(entry) => entry,
            // The checksum matched, so these bytes were written like this: not a torn write.
            Err(reason) => break (format!("undecodable frame: {reason}"), false),
        };
        match check.admit(entry.first_seq, entry.count) {
            Ok(true) => entries.push(entry),
            Ok(false) => {}
            Err(reason) => return Ok(Some(Damage { offset: pos, reason, torn: false })),
        }
        pos += (FRAME_HEADER_LEN + frame_len) as u64;
    };
    drop(reader);
    let (reason, at_end) = bad;
    let torn = at_end || zeros_from(file, pos, len)?;
    Ok(Some(Damage { offset: pos, reason, torn }))
}

/// Maps a short read to `false` (the file shrank) and keeps real I/O errors.
fn read_exact(r: &mut impl Read, buf: &mut [u8]) -> io::Result<bool> {
    match r.read_exact(buf) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(false),
        Err(e) => Err(e),
    }
}

/// True when every byte of `file` in `from..len` is zero (space the file system allocated but
/// whose data never reached the disk).
fn zeros_from(file: &dyn WalFile, from: u64, len: u64) -> io::Result<bool> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut pos = from;
    while pos < len {
        let want = buf.len().min((len - pos) as usize);
        let n = file.read_at(&mut buf[..want], pos)?;
        if n == 0 {
            break;
        }
        if buf[..n].iter().any(|&b| b != 0) {
            return Ok(false);
        }
        pos += n as u64;
    }
    Ok(true)
}
