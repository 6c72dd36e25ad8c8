//! The JSON header codec (spec 1.2): what fastjson writes and reads.
//!
//! The header is decoded in one pass by serde_json straight into the fields we need, with
//! strings borrowed from the frame where they contain no escapes; no `serde_json::Value` tree
//! is built except for the rare nested array/object value. The tolerance rules must stay those
//! of a `Value`-based decoder (spec 1.2): a key given twice means its last value, unknown keys
//! are skipped (still fully validated as JSON, with serde_json's nesting limit), extFields
//! values that are numbers, bools or nested JSON become their compact JSON text, null drops
//! the entry, and trailing whitespace after the object is allowed.
//!
//! Written as Java's `RemotingCommand` is by fastjson: compactly, keys in alphabetical order,
//! the members `code`, `extFields` (when Java's would be non-null, see
//! [`RemotingCommand::writes_ext_fields`]), `flag`, `language` (the name), `opaque`, `remark`
//! (absent when none), `serializeTypeCurrentRPC` (always `"JSON"` in a JSON header; strict
//! peers such as rocketmq-rust refuse a header without it) and `version`; every extFields
//! value a string, control characters escaped as `\u00hh` (what cpp 1.2.3 and Go can read).
//! `serializeTypeCurrentRPC` is read as nothing: the frame's type byte says how it was
//! serialized.

use super::error::FrameError;
use crate::code::LanguageCode;
use crate::command::RemotingCommand;
use bytes::{BufMut, BytesMut};
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use std::borrow::Cow;
use std::fmt;
use std::fmt::Write as _;

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
            cmd.keep_empty_ext_fields = true;
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

/// Writes the compact JSON header, members and keys in fastjson's alphabetical order.
pub(super) fn write_json_header(cmd: &RemotingCommand, dst: &mut BytesMut) {
    dst.put_slice(b"{\"code\":");
    write_json_int(dst, cmd.code);
    if cmd.writes_ext_fields() {
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
    dst.put_slice(b",\"serializeTypeCurrentRPC\":\"JSON\",\"version\":");
    write_json_int(dst, cmd.version);
    dst.put_u8(b'}');
}

#[cfg(test)]
mod tests;
