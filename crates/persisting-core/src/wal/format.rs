//! Segment names and the frame codec (see the module docs for the layout).

use std::io::Read;

use super::{WalEntry, FORMAT_VERSION, FRAME_HEADER_LEN, MAX_ENTRY_LEN, MAX_FRAME_LEN, PAYLOAD_HEADER_LEN};
use crate::codec::Compression;
use crate::error::{Error, Result};

const SEGMENT_PREFIX: &str = "wal-";
const SEGMENT_SUFFIX: &str = ".log";
const SEGMENT_ID_DIGITS: usize = 20;

pub fn segment_file_name(id: u64) -> String {
    format!("{SEGMENT_PREFIX}{id:0width$}{SEGMENT_SUFFIX}", width = SEGMENT_ID_DIGITS)
}

pub(super) fn parse_segment_name(name: &str) -> Option<u64> {
    let digits = name.strip_prefix(SEGMENT_PREFIX)?.strip_suffix(SEGMENT_SUFFIX)?;
    if digits.len() != SEGMENT_ID_DIGITS || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Builds one complete frame. Only the frame buffer is allocated (plus the codec's output
/// when compressing).
pub(super) fn encode_frame(compression: Compression, first_seq: u64, count: u32, data: &[u8]) -> Result<Vec<u8>> {
    if data.len() > MAX_ENTRY_LEN {
        return Err(Error::invalid_record(format!(
            "WAL entry of {} bytes exceeds the {MAX_ENTRY_LEN}-byte limit",
            data.len()
        )));
    }
    let compressed;
    let body: &[u8] = match compression {
        Compression::None => data,
        c => {
            compressed = c.compress(data)?;
            &compressed
        }
    };
    let payload_len = PAYLOAD_HEADER_LEN + body.len();
    if payload_len > MAX_FRAME_LEN {
        return Err(Error::invalid_record(format!(
            "WAL frame of {payload_len} bytes exceeds the {MAX_FRAME_LEN}-byte limit"
        )));
    }
    let mut frame = Vec::with_capacity(FRAME_HEADER_LEN + payload_len);
    frame.extend_from_slice(&(payload_len as u32).to_le_bytes());
    frame.extend_from_slice(&[0u8; 4]); // crc, filled below
    frame.push(FORMAT_VERSION);
    frame.push(compression.tag());
    frame.extend_from_slice(&first_seq.to_le_bytes());
    frame.extend_from_slice(&count.to_le_bytes());
    frame.extend_from_slice(body);
    let crc = crc32fast::hash(&frame[FRAME_HEADER_LEN..]);
    frame[4..8].copy_from_slice(&crc.to_le_bytes());
    Ok(frame)
}

/// Decodes a CRC-checked frame payload. `Err` carries the reason the frame is unusable.
pub(super) fn decode_payload(payload: &[u8]) -> std::result::Result<WalEntry, String> {
    if payload.len() < PAYLOAD_HEADER_LEN {
        return Err(format!("frame payload of {} bytes is shorter than its header", payload.len()));
    }
    let version = payload[0];
    if version != FORMAT_VERSION {
        return Err(format!("unsupported frame format version {version}"));
    }
    let codec = Compression::from_tag(payload[1]).map_err(|e| e.message)?;
    let first_seq = u64::from_le_bytes(payload[2..10].try_into().unwrap());
    let count = u32::from_le_bytes(payload[10..14].try_into().unwrap());
    let body = &payload[PAYLOAD_HEADER_LEN..];
    let data = decompress_bounded(codec, body)?;
    Ok(WalEntry { first_seq, count, payload: data })
}

/// Decompresses with a bound on the output so a frame can never make recovery allocate
/// absurd amounts of memory (the declared sizes of lz4/snappy are checked before allocating).
fn decompress_bounded(codec: Compression, body: &[u8]) -> std::result::Result<Vec<u8>, String> {
    let too_big = |n: usize| format!("{codec:?} body declares {n} decoded bytes, more than it can hold");
    match codec {
        Compression::None => Ok(body.to_vec()),
        Compression::Lz4 => {
            if body.len() < 4 {
                return Err("lz4 body shorter than its size prefix".into());
            }
            let declared = u32::from_le_bytes(body[..4].try_into().unwrap()) as usize;
            // LZ4 cannot expand more than ~255x.
            if declared > MAX_ENTRY_LEN || declared > (body.len() - 4).saturating_mul(255) + 64 {
                return Err(too_big(declared));
            }
            codec.decompress(body).map_err(|e| e.full_message())
        }
        Compression::Snappy => {
            let declared = snap::raw::decompress_len(body).map_err(|e| format!("snappy: {e}"))?;
            // Snappy cannot expand more than ~22x.
            if declared > MAX_ENTRY_LEN || declared > body.len().saturating_mul(32) + 64 {
                return Err(too_big(declared));
            }
            codec.decompress(body).map_err(|e| e.full_message())
        }
        Compression::Zstd => {
            let decoder = zstd::stream::read::Decoder::with_buffer(body).map_err(|e| format!("zstd: {e}"))?;
            let mut out = Vec::new();
            decoder
                .take(MAX_ENTRY_LEN as u64 + 1)
                .read_to_end(&mut out)
                .map_err(|e| format!("zstd decompress: {e}"))?;
            if out.len() > MAX_ENTRY_LEN {
                return Err(too_big(out.len()));
            }
            Ok(out)
        }
    }
}
