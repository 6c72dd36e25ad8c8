//! The "parse" half of check-then-parse: decodes one whole frame into a `RemotingCommand`,
//! choosing the header codec by the frame's type byte.

use super::binary_header::parse_binary_header;
use super::check::check;
use super::error::FrameError;
use super::json_header::parse_json_header;
use crate::command::{RemotingCommand, SerializeType};
use bytes::{Bytes, BytesMut};

/// Decodes exactly one frame (`frame.len()` must equal the declared length + 4).
/// The body is copied; see [`parse_bytes`] for the zero-copy variant.
pub fn parse(frame: &[u8]) -> Result<RemotingCommand, FrameError> {
    let (serialize_type, header_range, body_start) = split(frame)?;
    let mut cmd = parse_header(serialize_type, &frame[header_range])?;
    cmd.body = Bytes::copy_from_slice(&frame[body_start..]);
    Ok(cmd)
}

/// Like [`parse`], but the body shares `frame`'s allocation.
pub fn parse_bytes(frame: Bytes) -> Result<RemotingCommand, FrameError> {
    let (serialize_type, header_range, body_start) = split(&frame)?;
    let mut cmd = parse_header(serialize_type, &frame[header_range])?;
    cmd.body = frame.slice(body_start..);
    Ok(cmd)
}

/// Splits a whole frame off the front of `buf` and decodes it. `Ok(None)` leaves `buf`
/// untouched (need more bytes). On `Err` the contents of `buf` are unspecified and the
/// connection should be closed.
pub fn decode(buf: &mut BytesMut) -> Result<Option<RemotingCommand>, FrameError> {
    match check(buf)? {
        None => Ok(None),
        Some(n) => parse_bytes(buf.split_to(n).freeze()).map(Some),
    }
}

/// Validates the frame and returns (type, header range, body start).
fn split(frame: &[u8]) -> Result<(SerializeType, std::ops::Range<usize>, usize), FrameError> {
    let total = match check(frame)? {
        None => {
            let needed = frame
                .get(..4)
                .map(|p| u32::from_be_bytes([p[0], p[1], p[2], p[3]]) as usize + 4)
                .unwrap_or(4);
            return Err(FrameError::Incomplete {
                needed,
                got: frame.len(),
            });
        }
        Some(n) => n,
    };
    if total != frame.len() {
        return Err(FrameError::TrailingBytes {
            frame_len: total,
            got: frame.len(),
        });
    }
    // check() returned Some, so at least 8 bytes exist and type/header length are valid.
    let word = u32::from_be_bytes([frame[4], frame[5], frame[6], frame[7]]);
    let serialize_type = SerializeType::from_byte((word >> 24) as u8)
        .ok_or(FrameError::UnknownSerializeType((word >> 24) as u8))?;
    let header_end = 8 + (word & 0x00FF_FFFF) as usize;
    Ok((serialize_type, 8..header_end, header_end))
}

fn parse_header(
    serialize_type: SerializeType,
    header: &[u8],
) -> Result<RemotingCommand, FrameError> {
    let mut cmd = match serialize_type {
        SerializeType::Json => parse_json_header(header)?,
        SerializeType::RocketMq => parse_binary_header(header)?,
    };
    cmd.serialize_type = serialize_type;
    Ok(cmd)
}
