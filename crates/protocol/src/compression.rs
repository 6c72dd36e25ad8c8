//! zlib (RFC 1950) bodies: inflate with a hard output limit, deflate at a level.
//!
//! Message bodies >= 4 KiB are zlib-compressed by clients (sysFlag bit 0) and cpp 1.2.3
//! compresses whole batches. Inflation is bounded: output beyond `limit` bytes is an error,
//! so a small hostile body can never expand into unbounded memory.

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};
use std::fmt;

/// A reasonable inflate limit for message bodies: the largest frame.
pub const DEFAULT_INFLATE_LIMIT: usize = crate::frame::MAX_FRAME_LEN;

/// Compression level clients use for message bodies (Java and cpp: 5).
pub const DEFAULT_LEVEL: u32 = 5;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CompressionError {
    /// The inflated data would exceed the limit.
    TooLarge { limit: usize },
    /// The input ends before the zlib stream does.
    Truncated,
    /// The input is not a valid zlib stream.
    Corrupt(String),
}

impl fmt::Display for CompressionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CompressionError::TooLarge { limit } => {
                write!(f, "inflated data exceeds the limit of {limit} bytes")
            }
            CompressionError::Truncated => f.write_str("zlib stream is truncated"),
            CompressionError::Corrupt(e) => write!(f, "corrupt zlib stream: {e}"),
        }
    }
}

impl std::error::Error for CompressionError {}

/// Inflates one zlib stream. Bytes after the end of the stream are ignored (as Java's
/// `InflaterInputStream` does). Memory use is bounded by about `limit` bytes.
pub fn inflate(data: &[u8], limit: usize) -> Result<Vec<u8>, CompressionError> {
    let mut d = Decompress::new(true);
    let cap_limit = limit.saturating_add(1);
    let mut out: Vec<u8> = Vec::with_capacity(data.len().saturating_mul(4).max(64).min(cap_limit));
    loop {
        if out.len() == out.capacity() {
            let room = cap_limit.saturating_sub(out.len());
            out.reserve_exact(out.len().max(4096).min(room).max(1));
        }
        let consumed = usize::try_from(d.total_in()).unwrap_or(usize::MAX);
        let input = data.get(consumed..).unwrap_or(&[]);
        let before = (d.total_in(), d.total_out());
        let status = d
            .decompress_vec(input, &mut out, FlushDecompress::None)
            .map_err(|e| CompressionError::Corrupt(e.to_string()))?;
        if out.len() > limit {
            return Err(CompressionError::TooLarge { limit });
        }
        if status == Status::StreamEnd {
            return Ok(out);
        }
        let progressed = before != (d.total_in(), d.total_out());
        if !progressed && out.len() < out.capacity() {
            // Output space was available and nothing moved: the input is exhausted.
            return Err(CompressionError::Truncated);
        }
    }
}

/// Deflates `data` into a zlib stream at `level` (0..=9, clamped).
pub fn deflate(data: &[u8], level: u32) -> Vec<u8> {
    let mut c = Compress::new(Compression::new(level.min(9)), true);
    let mut out = Vec::with_capacity(data.len() / 2 + 64);
    loop {
        if out.len() == out.capacity() {
            out.reserve(out.capacity().max(64));
        }
        let consumed = usize::try_from(c.total_in()).unwrap_or(usize::MAX);
        let input = data.get(consumed..).unwrap_or(&[]);
        match c.compress_vec(input, &mut out, FlushCompress::Finish) {
            Ok(Status::StreamEnd) => return out,
            Ok(_) => {}
            // Compress cannot fail on in-memory buffers with Finish; stop rather than spin.
            Err(_) => return out,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_and_header() {
        let data: Vec<u8> = (0..20_000u32).map(|i| (i % 251) as u8).collect();
        let z = deflate(&data, DEFAULT_LEVEL);
        assert_eq!(z[0], 0x78, "zlib header");
        assert!(z.len() < data.len());
        assert_eq!(inflate(&z, data.len()).unwrap(), data);
        assert_eq!(inflate(&deflate(b"", 9), 0).unwrap(), b"");
    }

    #[test]
    fn limit_is_enforced() {
        let bomb = deflate(&vec![0u8; 1 << 20], 9);
        assert!(bomb.len() < 2048);
        assert_eq!(
            inflate(&bomb, 1000),
            Err(CompressionError::TooLarge { limit: 1000 })
        );
        assert_eq!(inflate(&bomb, 1 << 20).unwrap().len(), 1 << 20);
        assert!(inflate(&bomb, (1 << 20) - 1).is_err());
    }

    #[test]
    fn truncated_and_corrupt() {
        let z = deflate(b"hello hello hello hello", 5);
        for cut in 0..z.len() {
            assert!(inflate(&z[..cut], 1000).is_err(), "cut {cut}");
        }
        assert!(matches!(
            inflate(b"not zlib at all", 1000),
            Err(CompressionError::Corrupt(_))
        ));
        let mut trailing = z.clone();
        trailing.extend_from_slice(b"junk");
        assert_eq!(
            inflate(&trailing, 1000).unwrap(),
            b"hello hello hello hello"
        );
    }
}
