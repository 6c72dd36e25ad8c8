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
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use std::borrow::Cow;
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
//
// The header is decoded in one pass by serde_json straight into the fields we need, with
// strings borrowed from the frame where they contain no escapes; no `serde_json::Value` tree
// is built except for the rare nested array/object value. The tolerance rules must stay those
// of a `Value`-based decoder (spec 1.2): a key given twice means its last value, unknown keys
// are skipped (still fully validated as JSON, with serde_json's nesting limit), extFields
// values that are numbers, bools or nested JSON become their compact JSON text, null drops
// the entry, and trailing whitespace after the object is allowed.

fn bad_json(msg: impl Into<String>) -> FrameError {
    FrameError::BadJsonHeader(msg.into())
}

/// A JSON string, borrowed from the header when it has no escapes.
struct JsonText<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for JsonText<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct TextVisitor;
        impl<'de> Visitor<'de> for TextVisitor {
            type Value = JsonText<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(JsonText(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(JsonText(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(JsonText(Cow::Owned(v)))
            }
        }
        d.deserialize_str(TextVisitor)
    }
}

/// Any JSON value of a header field. Scalars are kept as parsed (strings borrowed where
/// possible); arrays and objects, which no known field uses, become a `Value`.
enum JsonField<'a> {
    Null,
    Bool(bool),
    I64(i64),
    U64(u64),
    F64(f64),
    Str(Cow<'a, str>),
    Compound(Value),
}

struct JsonFieldVisitor;

impl<'de> Visitor<'de> for JsonFieldVisitor {
    type Value = JsonField<'de>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(JsonField::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(JsonField::Null)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(JsonField::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(JsonField::I64(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(JsonField::U64(v))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(JsonField::F64(v))
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(JsonField::Str(Cow::Borrowed(v)))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(JsonField::Str(Cow::Owned(v.to_owned())))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(JsonField::Str(Cow::Owned(v)))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::new();
        while let Some(v) = seq.next_element::<Value>()? {
            items.push(v);
        }
        Ok(JsonField::Compound(Value::Array(items)))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut object = serde_json::Map::new();
        while let Some((k, v)) = map.next_entry::<String, Value>()? {
            object.insert(k, v);
        }
        Ok(JsonField::Compound(Value::Object(object)))
    }
}

impl<'de> Deserialize<'de> for JsonField<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(JsonFieldVisitor)
    }
}

impl JsonField<'_> {
    /// An int field that may arrive as a JSON number or a numeric string.
    fn as_i64(&self) -> Option<i64> {
        match self {
            JsonField::I64(n) => Some(*n),
            JsonField::U64(n) => i64::try_from(*n).ok(),
            JsonField::Str(s) => s.trim().parse::<i64>().ok(),
            _ => None,
        }
    }

    /// The string fastjson would put in `HashMap<String,String>` for an extFields value;
    /// `None` for null (the entry is dropped).
    fn into_field(self) -> Option<String> {
        match self {
            JsonField::Null => None,
            JsonField::Str(s) => Some(s.into_owned()),
            JsonField::Bool(b) => Some(if b { "true" } else { "false" }.to_owned()),
            JsonField::I64(n) => Some(n.to_string()),
            JsonField::U64(n) => Some(n.to_string()),
            // serde_json's own formatting of a float, so the text is what a `Value` gave.
            JsonField::F64(f) => serde_json::Number::from_f64(f).map(|n| n.to_string()),
            JsonField::Compound(v) => Some(v.to_string()),
        }
    }
}

/// The `extFields` member: an object (pairs in input order, duplicates included), null, or
/// anything else (an error, unless a later `extFields` key replaces it).
enum JsonExtFields<'a> {
    Null,
    Object(Vec<(Cow<'a, str>, JsonField<'a>)>),
    NotObject,
}

impl<'de> Deserialize<'de> for JsonExtFields<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ExtVisitor;
        impl<'de> Visitor<'de> for ExtVisitor {
            type Value = JsonExtFields<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object or null")
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(JsonExtFields::Null)
            }
            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(JsonExtFields::Null)
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
                Ok(JsonExtFields::NotObject)
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
                Ok(JsonExtFields::NotObject)
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
                Ok(JsonExtFields::NotObject)
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
                Ok(JsonExtFields::NotObject)
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
                Ok(JsonExtFields::NotObject)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<JsonField>()?.is_some() {}
                Ok(JsonExtFields::NotObject)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut pairs = Vec::with_capacity(16);
                while let Some((k, v)) = map.next_entry::<JsonText, JsonField>()? {
                    pairs.push((k.0, v));
                }
                Ok(JsonExtFields::Object(pairs))
            }
        }
        d.deserialize_any(ExtVisitor)
    }
}

/// The members of a JSON header we read, each as its last occurrence.
#[derive(Default)]
struct JsonHeader<'a> {
    code: Option<JsonField<'a>>,
    language: Option<JsonField<'a>>,
    version: Option<JsonField<'a>>,
    opaque: Option<JsonField<'a>>,
    flag: Option<JsonField<'a>>,
    remark: Option<JsonField<'a>>,
    ext_fields: Option<JsonExtFields<'a>>,
}

impl<'de> Deserialize<'de> for JsonHeader<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct HeaderVisitor;
        impl<'de> Visitor<'de> for HeaderVisitor {
            type Value = JsonHeader<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut h = JsonHeader::default();
                while let Some(key) = map.next_key::<JsonText>()? {
                    let slot = match key.0.as_ref() {
                        "code" => &mut h.code,
                        "language" => &mut h.language,
                        "version" => &mut h.version,
                        "opaque" => &mut h.opaque,
                        "flag" => &mut h.flag,
                        "remark" => &mut h.remark,
                        "extFields" => {
                            h.ext_fields = Some(map.next_value()?);
                            continue;
                        }
                        _ => {
                            // Unknown key: validated and dropped.
                            map.next_value::<JsonField>()?;
                            continue;
                        }
                    };
                    *slot = Some(map.next_value()?);
                }
                Ok(h)
            }
        }
        d.deserialize_map(HeaderVisitor)
    }
}

/// An int member that may arrive as a JSON number or a numeric string; must fit in i32.
fn json_i32(v: &JsonField<'_>, key: &str) -> Result<i32, FrameError> {
    v.as_i64()
        .and_then(|n| i32::try_from(n).ok())
        .ok_or_else(|| bad_json(format!("`{key}` is not a 32-bit integer")))
}

/// Parses a JSON header (spec 1.2): trailing whitespace allowed, unknown keys ignored,
/// `language` as name or integer, `remark` absent/null/"" all mean none.
pub fn parse_json_header(header: &[u8]) -> Result<RemotingCommand, FrameError> {
    let h: JsonHeader<'_> = serde_json::from_slice(header).map_err(|e| bad_json(e.to_string()))?;
    let mut cmd = RemotingCommand::default();
    match &h.code {
        Some(v) => cmd.code = json_i32(v, "code")?,
        None => return Err(bad_json("missing `code`")),
    }
    cmd.language = match &h.language {
        Some(JsonField::Str(s)) => LanguageCode::from_name(s),
        Some(JsonField::I64(n)) => LanguageCode::from_i64(*n),
        Some(JsonField::U64(n)) => i64::try_from(*n)
            .map(LanguageCode::from_i64)
            .unwrap_or(LanguageCode::Other),
        _ => LanguageCode::Other,
    };
    for (key, field, slot) in [
        ("version", &h.version, &mut cmd.version),
        ("opaque", &h.opaque, &mut cmd.opaque),
        ("flag", &h.flag, &mut cmd.flag),
    ] {
        *slot = match field {
            None | Some(JsonField::Null) => 0,
            Some(v) => json_i32(v, key)?,
        };
    }
    cmd.remark = match h.remark {
        Some(JsonField::Str(s)) if !s.is_empty() => Some(s.into_owned()),
        _ => None,
    };
    match h.ext_fields {
        None | Some(JsonExtFields::Null) => {}
        Some(JsonExtFields::Object(pairs)) => {
            for (k, v) in pairs {
                // A repeated key means its last value; a last value of null drops it.
                match v.into_field() {
                    Some(s) => {
                        cmd.ext_fields.insert(k.into_owned(), s);
                    }
                    None => {
                        cmd.ext_fields.remove(k.as_ref());
                    }
                }
            }
        }
        Some(JsonExtFields::NotObject) => return Err(bad_json("`extFields` is not an object")),
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

#[cfg(test)]
mod tests {
    //! The one-pass JSON header decoder against the `serde_json::Value` decoder it replaced,
    //! kept here as the reference: same command for every accepted header, and an error for
    //! the same inputs.
    use super::*;
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    fn reference_i32(v: &Value) -> Option<i32> {
        let n = match v {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => s.trim().parse::<i64>().ok(),
            _ => None,
        };
        n.and_then(|n| i32::try_from(n).ok())
    }

    fn reference_parse(header: &[u8]) -> Option<RemotingCommand> {
        let Value::Object(map) = serde_json::from_slice(header).ok()? else {
            return None;
        };
        let mut cmd = RemotingCommand {
            code: reference_i32(map.get("code")?)?,
            ..Default::default()
        };
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
                Some(v) => reference_i32(v)?,
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
                    let s = match v {
                        Value::Null => continue,
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    cmd.ext_fields.insert(k.clone(), s);
                }
            }
            Some(_) => return None,
        }
        Some(cmd)
    }

    const KEYS: &[&str] = &[
        "code",
        "language",
        "version",
        "opaque",
        "flag",
        "remark",
        "extFields",
        "serializeTypeCurrentRPC",
        "topic",
        "a\\u0062c",
    ];

    const SCALARS: &[&str] = &[
        "0",
        "1",
        "-1",
        "105",
        "2147483648",
        "-2147483649",
        "9223372036854775808",
        "18446744073709551615",
        "1.5",
        "1e3",
        "-0.0",
        "1E+2",
        "true",
        "false",
        "null",
        "\"\"",
        "\"CPP\"",
        "\"JAVA\"",
        "\" 42 \"",
        "\"7\"",
        "\"x\\\"y\\\\z\\/\"",
        "\"\\u00e9\\uD83D\\uDE00\\n\\t\"",
        "\"caf\u{e9}\"",
        "[]",
        "[1,\"a\",null,{\"k\":[true]}]",
        "{}",
        "{\"n\":{\"m\":1.25},\"b\":false}",
    ];

    fn random_value(rng: &mut StdRng, out: &mut String, depth: u32) {
        if depth > 0 && rng.random_bool(0.3) {
            random_object(rng, out, depth - 1);
        } else {
            out.push_str(SCALARS[rng.random_range(0..SCALARS.len())]);
        }
    }

    fn random_object(rng: &mut StdRng, out: &mut String, depth: u32) {
        out.push('{');
        for i in 0..rng.random_range(0..8) {
            if i > 0 {
                out.push(',');
            }
            out.push('"');
            out.push_str(KEYS[rng.random_range(0..KEYS.len())]);
            out.push_str("\":");
            random_value(rng, out, depth);
        }
        out.push('}');
    }

    fn assert_same(header: &[u8]) {
        let ours = parse_json_header(header).ok();
        let reference = reference_parse(header);
        assert_eq!(ours, reference, "{}", String::from_utf8_lossy(header));
    }

    #[test]
    fn one_pass_decoder_matches_the_value_decoder() {
        let fixed: &[&str] = &[
            "{\"code\":1}",
            "{\"code\":1} \n\t",
            "{\"code\":1}x",
            "{\"code\":\"12\",\"code\":13}",
            "{\"code\":true,\"code\":13}",
            "{\"code\":13,\"code\":null}",
            "{\"code\":1,\"extFields\":{\"a\":\"x\",\"a\":null}}",
            "{\"code\":1,\"extFields\":{\"a\":null,\"a\":\"y\"}}",
            "{\"code\":1,\"extFields\":[1],\"extFields\":{\"k\":2}}",
            "{\"code\":1,\"extFields\":{\"k\":2},\"extFields\":\"s\"}",
            "{\"code\":1,\"extFields\":{\"f\":1.0e2,\"g\":-7,\"h\":true,\"i\":[1,{}]}}",
            "{\"code\":1,\"language\":1,\"remark\":null,\"version\":\"\"}",
            "{\"code\":1,\"language\":1.0,\"remark\":5}",
            "{\"code\":1,\"extFields\":{\"s\":\"\\ud800\"}}",
            "{\"code\":1,\"extFields\":{\"s\":\"\\uD83D\\uDE00\"}}",
            "[1]",
            "\"code\"",
            "",
        ];
        for h in fixed {
            assert_same(h.as_bytes());
        }
        let mut rng = StdRng::seed_from_u64(0x6a73_6f6e);
        let mut text = String::new();
        for _ in 0..20_000 {
            text.clear();
            random_object(&mut rng, &mut text, 2);
            assert_same(text.as_bytes());
            // The same header damaged at one byte.
            let mut damaged = text.clone().into_bytes();
            if !damaged.is_empty() {
                let i = rng.random_range(0..damaged.len());
                damaged[i] = b"{}[]:,\"\\ 0a"[rng.random_range(0..11)];
                assert_same(&damaged);
            }
        }
    }
}
