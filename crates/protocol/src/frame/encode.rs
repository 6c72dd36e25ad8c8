//! Writing a command as a frame, and the `RemotingCommand` methods that do it.
//!
//! The header is written in the command's serialize type when it can hold the command,
//! otherwise as JSON; a command too large for any frame is not written at all.

use super::binary_header::{fits_binary, write_binary_header};
use super::check::{MAX_FRAME_LEN, MAX_HEADER_LEN};
use super::error::FrameError;
use super::json_header::write_json_header;
use crate::command::{RemotingCommand, SerializeType};
use bytes::{BufMut, Bytes, BytesMut};

/// Appends the frame of `cmd` to `dst` (with or without the body bytes; the length prefix
/// always counts the body). On error nothing is appended.
pub fn try_encode(
    cmd: &RemotingCommand,
    dst: &mut BytesMut,
    with_body: bool,
) -> Result<(), FrameError> {
    let start = dst.len();
    dst.put_u64(0); // length + type/header-length, patched below
    let serialize_type = if cmd.serialize_type == SerializeType::RocketMq && fits_binary(cmd) {
        write_binary_header(cmd, dst);
        SerializeType::RocketMq
    } else {
        write_json_header(cmd, dst);
        SerializeType::Json
    };
    let header_len = dst.len() - start - 8;
    let total = 8 + header_len + cmd.body.len();
    if header_len > MAX_HEADER_LEN || total > MAX_FRAME_LEN {
        dst.truncate(start);
        return Err(FrameError::CommandTooLarge { len: total });
    }
    let word = (u32::from(serialize_type.to_byte()) << 24) | header_len as u32;
    dst[start..start + 4].copy_from_slice(&((total - 4) as u32).to_be_bytes());
    dst[start + 4..start + 8].copy_from_slice(&word.to_be_bytes());
    if with_body {
        dst.put_slice(&cmd.body);
    }
    Ok(())
}

impl RemotingCommand {
    /// Writes the whole frame (length prefix, header, body) in `serialize_type`.
    ///
    /// A ROCKETMQ binary header cannot hold a code outside `i16` or a key longer than
    /// 65535 bytes; such commands are written as JSON instead. A command too large for any
    /// frame (over [`MAX_FRAME_LEN`]) is not written at all, since no peer could read it.
    pub fn encode(&self, dst: &mut BytesMut) {
        let _ = try_encode(self, dst, true);
    }

    /// Writes the frame without the body bytes (the length prefix still counts the body), so
    /// a large body can be written separately without copying it.
    pub fn encode_without_body(&self, dst: &mut BytesMut) {
        let _ = try_encode(self, dst, false);
    }

    /// The whole frame as one buffer.
    pub fn to_frame(&self) -> Bytes {
        let mut dst = BytesMut::new();
        self.encode(&mut dst);
        dst.freeze()
    }
}
