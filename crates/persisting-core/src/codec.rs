//! Byte codecs shared by the WAL payloads; Lance data pages use Lance's own per-column codecs.

use crate::error::{Error, ErrorCode, Result, ResultExt};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Compression {
    #[default]
    None,
    Zstd,
    Lz4,
    Snappy,
}

impl Compression {
    pub fn parse(name: Option<&str>) -> Result<Self> {
        match name {
            None | Some("none") | Some("") => Ok(Compression::None),
            Some("zstd") => Ok(Compression::Zstd),
            Some("lz4") => Ok(Compression::Lz4),
            Some("snappy") => Ok(Compression::Snappy),
            Some(other) => Err(Error::invalid_option(format!(
                "unknown compression '{other}'; expected one of 'zstd', 'lz4', 'snappy' or null"
            ))),
        }
    }

    pub fn name(self) -> Option<&'static str> {
        match self {
            Compression::None => None,
            Compression::Zstd => Some("zstd"),
            Compression::Lz4 => Some("lz4"),
            Compression::Snappy => Some("snappy"),
        }
    }

    /// Stable tag written in each WAL frame so a reader can decode frames written under any setting.
    pub fn tag(self) -> u8 {
        match self {
            Compression::None => 0,
            Compression::Zstd => 1,
            Compression::Lz4 => 2,
            Compression::Snappy => 3,
        }
    }

    pub fn from_tag(tag: u8) -> Result<Self> {
        match tag {
            0 => Ok(Compression::None),
            1 => Ok(Compression::Zstd),
            2 => Ok(Compression::Lz4),
            3 => Ok(Compression::Snappy),
            t => Err(Error::new(ErrorCode::WalCorrupt, format!("unknown codec tag {t}"))),
        }
    }

    pub fn compress(self, data: &[u8]) -> Result<Vec<u8>> {
        match self {
            Compression::None => Ok(data.to_vec()),
            // Level 1: the WAL sits on the acknowledgement path, speed matters more than ratio.
            Compression::Zstd => zstd::bulk::compress(data, 1).code(ErrorCode::Internal, "zstd compress"),
            Compression::Lz4 => Ok(lz4_flex::compress_prepend_size(data)),
            Compression::Snappy => {
                snap::raw::Encoder::new().compress_vec(data).code(ErrorCode::Internal, "snappy compress")
            }
        }
    }

    pub fn decompress(self, data: &[u8]) -> Result<Vec<u8>> {
        match self {
            Compression::None => Ok(data.to_vec()),
            Compression::Zstd => zstd::stream::decode_all(data).code(ErrorCode::WalCorrupt, "zstd decompress"),
            Compression::Lz4 => lz4_flex::decompress_size_prepended(data).code(ErrorCode::WalCorrupt, "lz4 decompress"),
            Compression::Snappy => {
                snap::raw::Decoder::new().decompress_vec(data).code(ErrorCode::WalCorrupt, "snappy decompress")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_changes_bytes() {
        let data =
            b"{\"id\":\"a\",\"text\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}\n".repeat(50);
        for c in [Compression::None, Compression::Zstd, Compression::Lz4, Compression::Snappy] {
            let packed = c.compress(&data).unwrap();
            if c != Compression::None {
                assert!(packed.len() < data.len(), "{c:?} did not shrink compressible data");
            }
            assert_eq!(c.decompress(&packed).unwrap(), data);
            assert_eq!(Compression::from_tag(c.tag()).unwrap(), c);
        }
        assert!(Compression::parse(Some("gzip")).is_err());
    }
}
