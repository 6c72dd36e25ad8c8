//! The ROCKETMQ binary header codec (spec 1.3).
//!
//! Invariant: every length inside a header is checked against the header length before use,
//! so no input makes the reader index out of bounds.

use super::error::FrameError;
use crate::code::LanguageCode;
use crate::command::RemotingCommand;
use bytes::{BufMut, BytesMut};

fn bad_bin(msg: impl Into<String>) -> FrameError {
    FrameError::BadBinaryHeader(msg.into())
}

/// Bounds-checked reader over the header bytes.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], FrameError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.buf.len())
            .ok_or_else(|| {
                bad_bin(format!(
                    "{what}: {n} bytes at offset {} exceed header length {}",
                    self.pos,
                    self.buf.len()
                ))
            })?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn u8(&mut self, what: &str) -> Result<u8, FrameError> {
        Ok(self.take(1, what)?[0])
    }
    fn i16(&mut self, what: &str) -> Result<i16, FrameError> {
        let b = self.take(2, what)?;
        Ok(i16::from_be_bytes([b[0], b[1]]))
    }
    fn u16(&mut self, what: &str) -> Result<u16, FrameError> {
        let b = self.take(2, what)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }
    fn i32(&mut self, what: &str) -> Result<i32, FrameError> {
        let b = self.take(4, what)?;
        Ok(i32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    /// A non-negative 4-byte length.
    fn len32(&mut self, what: &str) -> Result<usize, FrameError> {
        let n = self.i32(what)?;
        usize::try_from(n).map_err(|_| bad_bin(format!("{what}: negative length {n}")))
    }
}

/// Parses a ROCKETMQ binary header (spec 1.3). Strings are decoded leniently (invalid UTF-8
/// replaced, as Java's `new String(bytes, UTF_8)` does); a zero-length remark is none.
pub fn parse_binary_header(header: &[u8]) -> Result<RemotingCommand, FrameError> {
    let mut r = Reader {
        buf: header,
        pos: 0,
    };
    let mut cmd = RemotingCommand {
        code: i32::from(r.i16("code")?),
        language: LanguageCode::from_byte(r.u8("language")?),
        version: i32::from(r.i16("version")?),
        opaque: r.i32("opaque")?,
        flag: r.i32("flag")?,
        ..Default::default()
    };
    let remark_len = r.len32("remark length")?;
    if remark_len > 0 {
        let remark = r.take(remark_len, "remark")?;
        cmd.remark = Some(String::from_utf8_lossy(remark).into_owned());
    }
    let ext_len = r.len32("extFields length")?;
    let ext = r.take(ext_len, "extFields")?;
    let mut er = Reader { buf: ext, pos: 0 };
    while er.pos < ext.len() {
        let key_len = er.u16("extFields key length")? as usize;
        let key = er.take(key_len, "extFields key")?;
        let value_len = er.len32("extFields value length")?;
        let value = er.take(value_len, "extFields value")?;
        cmd.ext_fields.insert(
            String::from_utf8_lossy(key).into_owned(),
            String::from_utf8_lossy(value).into_owned(),
        );
    }
    Ok(cmd)
}

/// True if the command can be expressed in a ROCKETMQ binary header.
pub(super) fn fits_binary(cmd: &RemotingCommand) -> bool {
    i16::try_from(cmd.code).is_ok()
        && i16::try_from(cmd.version).is_ok()
        && cmd.ext_fields.keys().all(|k| k.len() <= u16::MAX as usize)
}

pub(super) fn write_binary_header(cmd: &RemotingCommand, dst: &mut BytesMut) {
    // fits_binary() was checked by the caller; the casts below cannot truncate.
    dst.put_i16(cmd.code as i16);
    dst.put_u8(cmd.language.to_byte());
    dst.put_i16(cmd.version as i16);
    dst.put_i32(cmd.opaque);
    dst.put_i32(cmd.flag);
    match &cmd.remark {
        Some(r) if !r.is_empty() => {
            dst.put_u32(r.len() as u32);
            dst.put_slice(r.as_bytes());
        }
        _ => dst.put_u32(0),
    }
    let ext_len: usize = cmd
        .ext_fields
        .iter()
        .map(|(k, v)| 2 + k.len() + 4 + v.len())
        .sum();
    dst.put_u32(ext_len as u32);
    for (k, v) in &cmd.ext_fields {
        dst.put_u16(k.len() as u16);
        dst.put_slice(k.as_bytes());
        dst.put_u32(v.len() as u32);
        dst.put_slice(v.as_bytes());
    }
}
