//! The length-prefixed frame and its two header serializations (spec 1.1-1.3).
//!
//! Frame: `u32 length` (bytes after itself) | `u32 type<<24 | headerLength` | header | body.
//! Reading is "check, then parse": [`check`] looks only at the two leading words to say
//! whether a whole frame is buffered (or that the stream is garbage), [`parse`] decodes one
//! whole frame. Neither panics nor allocates more than the frame itself, whatever the input.
//!
//! Invariants kept here: a frame including its 4-byte length prefix never exceeds
//! [`MAX_FRAME_LEN`]; every length inside a ROCKETMQ header is checked against the header
//! length before use; JSON headers are written compactly with every extFields value as a
//! string and control characters escaped as `\u00hh` (what cpp 1.2.3 and Go can read).

use crate::code::LanguageCode;
use crate::command::{RemotingCommand, SerializeType};
use bytes::{BufMut, Bytes, BytesMut};
use serde_json::Value;
use std::fmt;
use std::fmt::Write as _;

/// Largest frame, counting the 4-byte length prefix (Netty `LengthFieldBasedFrameDecoder`
/// with `maxFrameLength` 16 MiB).
pub const MAX_FRAME_LEN: usize = 16 * 1024 * 1024;

/// Largest header a 24-bit header-length field can describe.
pub const MAX_HEADER_LEN: usize = 0x00FF_FFFF;

/// Why bytes are not a valid frame. Every variant except [`FrameError::Incomplete`] means
/// the stream is unusable and the connection should be closed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FrameError {
    /// The length prefix is smaller than the 4-byte header-length word it must cover.
    LengthTooSmall(u32),
    /// The frame (prefix included) is larger than [`MAX_FRAME_LEN`].
    TooLong { len: u64, max: usize },
    /// The type byte is neither 0 (JSON) nor 1 (ROCKETMQ).
    UnknownSerializeType(u8),
    /// The header length exceeds the bytes the frame has after the header-length word.
    HeaderLengthOutOfRange { header_len: usize, available: usize },
    /// [`parse`] was given fewer bytes than the frame declares.
    Incomplete { needed: usize, got: usize },
    /// [`parse`] was given more bytes than the frame declares.
    TrailingBytes { frame_len: usize, got: usize },
    /// The JSON header is not valid JSON or lacks a usable field.
    BadJsonHeader(String),
    /// The ROCKETMQ binary header is malformed.
    BadBinaryHeader(String),
    /// Encoding: the command does not fit in a frame.
    CommandTooLarge { len: usize },
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::LengthTooSmall(n) => {
                write!(
                    f,
                    "frame length {n} is smaller than the 4-byte header-length word"
                )
            }
            FrameError::TooLong { len, max } => {
                write!(f, "frame of {len} bytes exceeds the maximum of {max} bytes")
            }
            FrameError::UnknownSerializeType(t) => write!(f, "unknown serialize type byte {t}"),
            FrameError::HeaderLengthOutOfRange {
                header_len,
                available,
            } => write!(
                f,
                "header length {header_len} exceeds the {available} bytes left in the frame"
            ),
            FrameError::Incomplete { needed, got } => {
                write!(f, "incomplete frame: need {needed} bytes, have {got}")
            }
            FrameError::TrailingBytes { frame_len, got } => {
                write!(f, "frame is {frame_len} bytes but {got} bytes were given")
            }
            FrameError::BadJsonHeader(e) => write!(f, "bad JSON header: {e}"),
            FrameError::BadBinaryHeader(e) => write!(f, "bad ROCKETMQ header: {e}"),
            FrameError::CommandTooLarge { len } => {
                write!(f, "command needs {len} bytes, more than a frame can hold")
            }
        }
    }
}

impl std::error::Error for FrameError {}

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

// ---------------------------------------------------------------------------------------
// JSON header

fn bad_json(msg: impl Into<String>) -> FrameError {
    FrameError::BadJsonHeader(msg.into())
}

/// An int field that may arrive as a JSON number or a numeric string; must fit in i32.
fn json_i32(v: &Value, key: &str) -> Result<i32, FrameError> {
    let n = match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse::<i64>().ok(),
        _ => None,
    };
    n.and_then(|n| i32::try_from(n).ok())
        .ok_or_else(|| bad_json(format!("`{key}` is not a 32-bit integer")))
}

/// Coerces an extFields value to the string fastjson would put in `HashMap<String,String>`.
/// `None` for null (the entry is dropped).
fn json_value_to_field(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        other => Some(other.to_string()),
    }
}

/// Parses a JSON header (spec 1.2): trailing whitespace allowed, unknown keys ignored,
/// `language` as name or integer, `remark` absent/null/"" all mean none.
pub fn parse_json_header(header: &[u8]) -> Result<RemotingCommand, FrameError> {
    let value: Value = serde_json::from_slice(header).map_err(|e| bad_json(e.to_string()))?;
    let Value::Object(map) = value else {
        return Err(bad_json("header is not a JSON object"));
    };
    let mut cmd = RemotingCommand::default();
    match map.get("code") {
        Some(v) => cmd.code = json_i32(v, "code")?,
        None => return Err(bad_json("missing `code`")),
    }
    cmd.language = match map.get("language") {
        Some(Value::String(s)) => LanguageCode::from_name(s),
        Some(Value::Number(n)) => n
            .as_i64()
            .map(LanguageCode::from_i64)
            .unwrap_or(LanguageCode::Other),
        _ => LanguageCode::Other,
    };
    for (key, slot) in [
        ("version", &mut cmd.version),
        ("opaque", &mut cmd.opaque),
        ("flag", &mut cmd.flag),
    ] {
        *slot = match map.get(key) {
            None | Some(Value::Null) => 0,
            Some(v) => json_i32(v, key)?,
        };
    }
    cmd.remark = match map.get("remark") {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        _ => None,
    };
    match map.get("extFields") {
        None | Some(Value::Null) => {}
        Some(Value::Object(fields)) => {
            for (k, v) in fields {
                if let Some(s) = json_value_to_field(v) {
                    cmd.ext_fields.insert(k.clone(), s);
                }
            }
        }
        Some(_) => return Err(bad_json("`extFields` is not an object")),
    }
    Ok(cmd)
}

/// Appends `s` as a JSON string literal: `"` and `\` escaped, control characters (and DEL)
/// as `\u00XX`, everything else raw UTF-8 (as fastjson writes it).
pub fn write_json_string(dst: &mut BytesMut, s: &str) {
    dst.put_u8(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let needs_escape = b == b'"' || b == b'\\' || b < 0x20 || b == 0x7F;
        if needs_escape {
            dst.put_slice(&bytes[start..i]);
            match b {
                b'"' => dst.put_slice(b"\\\""),
                b'\\' => dst.put_slice(b"\\\\"),
                _ => {
                    const HEX: &[u8; 16] = b"0123456789abcdef";
                    dst.put_slice(b"\\u00");
                    dst.put_u8(HEX[(b >> 4) as usize]);
                    dst.put_u8(HEX[(b & 0xF) as usize]);
                }
            }
            start = i + 1;
        }
    }
    dst.put_slice(&bytes[start..]);
    dst.put_u8(b'"');
}

fn write_json_int(dst: &mut BytesMut, n: i32) {
    // fmt::Write for BytesMut cannot fail.
    let _ = write!(dst, "{n}");
}

/// Writes the compact JSON header, keys in fastjson's alphabetical order.
fn write_json_header(cmd: &RemotingCommand, dst: &mut BytesMut) {
    dst.put_slice(b"{\"code\":");
    write_json_int(dst, cmd.code);
    if !cmd.ext_fields.is_empty() {
        dst.put_slice(b",\"extFields\":{");
        for (i, (k, v)) in cmd.ext_fields.iter().enumerate() {
            if i > 0 {
                dst.put_u8(b',');
            }
            write_json_string(dst, k);
            dst.put_u8(b':');
            write_json_string(dst, v);
        }
        dst.put_u8(b'}');
    }
    dst.put_slice(b",\"flag\":");
    write_json_int(dst, cmd.flag);
    dst.put_slice(b",\"language\":");
    write_json_string(dst, cmd.language.name());
    dst.put_slice(b",\"opaque\":");
    write_json_int(dst, cmd.opaque);
    if let Some(remark) = &cmd.remark {
        dst.put_slice(b",\"remark\":");
        write_json_string(dst, remark);
    }
    dst.put_slice(b",\"version\":");
    write_json_int(dst, cmd.version);
    dst.put_u8(b'}');
}

// ---------------------------------------------------------------------------------------
// ROCKETMQ binary header

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
fn fits_binary(cmd: &RemotingCommand) -> bool {
    i16::try_from(cmd.code).is_ok()
        && i16::try_from(cmd.version).is_ok()
        && cmd.ext_fields.keys().all(|k| k.len() <= u16::MAX as usize)
}

fn write_binary_header(cmd: &RemotingCommand, dst: &mut BytesMut) {
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

// ---------------------------------------------------------------------------------------
// Encoding

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

/// Infallible wrapper used by [`RemotingCommand::encode`]: a command too large for any frame
/// (over [`MAX_FRAME_LEN`]) is not written at all, since no peer could read it.
pub(crate) fn encode_frame(cmd: &RemotingCommand, dst: &mut BytesMut, with_body: bool) {
    let _ = try_encode(cmd, dst, with_body);
}
