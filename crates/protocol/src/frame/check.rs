//! The "check" half of check-then-parse: the frame limits, and whether a buffer starts with a
//! whole frame, decided from the two leading words alone.
//!
//! Invariant: a frame including its 4-byte length prefix never exceeds [`MAX_FRAME_LEN`];
//! [`check`] never panics and never allocates, whatever the input.

use super::error::FrameError;
use crate::command::SerializeType;

/// Largest frame, counting the 4-byte length prefix (Netty `LengthFieldBasedFrameDecoder`
/// with `maxFrameLength` 16 MiB).
pub const MAX_FRAME_LEN: usize = 16 * 1024 * 1024;

/// Largest header a 24-bit header-length field can describe.
pub const MAX_HEADER_LEN: usize = 0x00FF_FFFF;

/// Says whether `buf` starts with a whole frame.
///
/// `Ok(None)`: need more bytes. `Ok(Some(n))`: the first `n` bytes are one frame.
/// `Err`: the stream is garbage (bad length, oversize, unknown type, header length out of
/// range) and the connection should be closed. Errors are reported as soon as the first
/// 8 bytes are buffered, without waiting for the rest of the frame.
pub fn check(buf: &[u8]) -> Result<Option<usize>, FrameError> {
    let Some(prefix) = buf.get(..4) else {
        return Ok(None);
    };
    let len = u32::from_be_bytes([prefix[0], prefix[1], prefix[2], prefix[3]]);
    let total = u64::from(len) + 4;
    if total > MAX_FRAME_LEN as u64 {
        return Err(FrameError::TooLong {
            len: total,
            max: MAX_FRAME_LEN,
        });
    }
    if len < 4 {
        return Err(FrameError::LengthTooSmall(len));
    }
    // Bounded by MAX_FRAME_LEN above, so it fits in usize.
    let total = total as usize;
    if let Some(word) = buf.get(4..8) {
        let word = u32::from_be_bytes([word[0], word[1], word[2], word[3]]);
        let type_byte = (word >> 24) as u8;
        if SerializeType::from_byte(type_byte).is_none() {
            return Err(FrameError::UnknownSerializeType(type_byte));
        }
        let header_len = (word & 0x00FF_FFFF) as usize;
        let available = total - 8;
        if header_len > available {
            return Err(FrameError::HeaderLengthOutOfRange {
                header_len,
                available,
            });
        }
    }
    if buf.len() < total {
        Ok(None)
    } else {
        Ok(Some(total))
    }
}
