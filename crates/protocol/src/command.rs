//! `RemotingCommand`: the unit every request and response travels in.
//!
//! A command is a small fixed header (code, language, version, opaque, flag, remark), a
//! string map `ext_fields` (the "custom header", see [`crate::header`]) and an opaque body.
//! This file only holds the value and its accessors; the layers built on it add their
//! methods where they live: typed headers in [`crate::header`], frame encoding in
//! [`crate::frame`]. It uses neither of them, so the dependencies run one way.
//!
//! Invariants: a command built by [`RemotingCommand::response_to`] always carries the
//! request's `opaque` and the response bit, so the peer can match it. `extFields` is on the
//! wire exactly when Java's would be non-null: when there is a field, or when the command
//! carries a custom header (Java writes `"extFields":{}` for a header whose fields are all
//! null); equality compares that, not how it was reached.

use crate::code::{response_code, version, LanguageCode};
use crate::lenient::parse_bool;
use bytes::Bytes;
use std::collections::BTreeMap;

/// Flag bit 0: the command is a response.
pub const FLAG_RESPONSE: i32 = 1;
/// Flag bit 1: one-way request, no response will be written.
pub const FLAG_ONEWAY: i32 = 1 << 1;

/// How the header is serialized (high byte of the header-length word).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum SerializeType {
    /// fastjson-compatible JSON text (type byte 0). The only type cpp 1.2.3 can read.
    #[default]
    Json,
    /// `RocketMQSerializable` binary header (type byte 1).
    RocketMq,
}

impl SerializeType {
    pub fn to_byte(self) -> u8 {
        match self {
            SerializeType::Json => 0,
            SerializeType::RocketMq => 1,
        }
    }

    pub fn from_byte(b: u8) -> Option<SerializeType> {
        match b {
            0 => Some(SerializeType::Json),
            1 => Some(SerializeType::RocketMq),
            _ => None,
        }
    }
}

/// Language we put in commands we originate. `JAVA` rather than `RUST` because older Java
/// peers deserialize the name into their enum and would reject names they do not know.
pub const DEFAULT_LANGUAGE: LanguageCode = LanguageCode::Java;

/// One request or response.
#[derive(Clone, Debug, Eq)]
pub struct RemotingCommand {
    /// Request code (requests) or response code (responses).
    pub code: i32,
    pub language: LanguageCode,
    /// Sender's `MQVersion` ordinal.
    pub version: i32,
    /// Request id; responses carry the request's value.
    pub opaque: i32,
    /// Bit 0 response, bit 1 one-way.
    pub flag: i32,
    /// Human-readable text; `None` is written as absent.
    pub remark: Option<String>,
    /// The custom header, every value a string.
    pub ext_fields: BTreeMap<String, String>,
    /// Write `"extFields":{}` even when `ext_fields` is empty, as Java does for a command
    /// built with a custom header object. Set by [`RemotingCommand::set_header`] and
    /// [`RemotingCommand::mark_custom_header`], and on decode when the frame had `extFields`.
    pub keep_empty_ext_fields: bool,
    pub body: Bytes,
    /// Serialization used by [`RemotingCommand::encode`]; set from the frame on decode.
    pub serialize_type: SerializeType,
}

impl Default for RemotingCommand {
    fn default() -> Self {
        RemotingCommand {
            code: 0,
            language: DEFAULT_LANGUAGE,
            version: version::CURRENT,
            opaque: 0,
            flag: 0,
            remark: None,
            ext_fields: BTreeMap::new(),
            keep_empty_ext_fields: false,
            body: Bytes::new(),
            serialize_type: SerializeType::Json,
        }
    }
}

impl PartialEq for RemotingCommand {
    fn eq(&self, other: &Self) -> bool {
        self.code == other.code
            && self.language == other.language
            && self.version == other.version
            && self.opaque == other.opaque
            && self.flag == other.flag
            && self.remark == other.remark
            && self.ext_fields == other.ext_fields
            && self.writes_ext_fields() == other.writes_ext_fields()
            && self.body == other.body
            && self.serialize_type == other.serialize_type
    }
}

impl RemotingCommand {
    /// A request with `code`, opaque 0 (the sender assigns it), JSON header.
    pub fn new_request(code: i32) -> Self {
        RemotingCommand {
            code,
            ..Default::default()
        }
    }

    /// A response with `code` and `remark` (an empty remark means none). The caller sets
    /// `opaque`; prefer [`RemotingCommand::response_to`].
    pub fn new_response(code: i32, remark: impl Into<String>) -> Self {
        let remark = remark.into();
        RemotingCommand {
            code,
            flag: FLAG_RESPONSE,
            remark: if remark.is_empty() {
                None
            } else {
                Some(remark)
            },
            ..Default::default()
        }
    }

    /// A SUCCESS response to `request`: same opaque, response bit set, JSON header
    /// (the one serialization every client reads). Change `code`/`remark` as needed.
    pub fn response_to(request: &RemotingCommand) -> Self {
        RemotingCommand {
            code: response_code::SUCCESS,
            opaque: request.opaque,
            flag: FLAG_RESPONSE,
            ..Default::default()
        }
    }

    /// Builder: replace the code.
    pub fn with_code(mut self, code: i32) -> Self {
        self.code = code;
        self
    }

    /// Builder: set the remark (empty means none).
    pub fn with_remark(mut self, remark: impl Into<String>) -> Self {
        self.set_remark(remark);
        self
    }

    /// Builder: set the body.
    pub fn with_body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = body.into();
        self
    }

    /// Builder: set the opaque.
    pub fn with_opaque(mut self, opaque: i32) -> Self {
        self.opaque = opaque;
        self
    }

    /// Builder: add one ext field.
    pub fn with_field(mut self, key: impl Into<String>, value: impl ToString) -> Self {
        self.set_field(key, value);
        self
    }

    /// Sets the remark; an empty string clears it.
    pub fn set_remark(&mut self, remark: impl Into<String>) {
        let remark = remark.into();
        self.remark = if remark.is_empty() {
            None
        } else {
            Some(remark)
        };
    }

    /// Inserts one ext field (values are always strings on the wire).
    pub fn set_field(&mut self, key: impl Into<String>, value: impl ToString) {
        self.ext_fields.insert(key.into(), value.to_string());
    }

    /// Marks the command as carrying a custom header, so `extFields` is written even when
    /// no field is set: what Java does for `createRequestCommand(code, new XHeader())` or
    /// `createResponseCommand(XHeader.class)` whatever the header's values.
    pub fn mark_custom_header(&mut self) {
        self.keep_empty_ext_fields = true;
    }

    /// Builder form of [`RemotingCommand::mark_custom_header`].
    pub fn with_custom_header(mut self) -> Self {
        self.mark_custom_header();
        self
    }

    /// Whether the JSON header has an `extFields` member (Java: `extFields != null`).
    pub fn writes_ext_fields(&self) -> bool {
        self.keep_empty_ext_fields || !self.ext_fields.is_empty()
    }

    /// True if the response bit (flag bit 0) is set.
    pub fn is_response(&self) -> bool {
        self.flag & FLAG_RESPONSE != 0
    }

    /// True if the one-way bit (flag bit 1) is set. cpp 1.2.3 never sets it on the wire.
    pub fn is_oneway(&self) -> bool {
        self.flag & FLAG_ONEWAY != 0
    }

    pub fn set_oneway(&mut self, oneway: bool) {
        if oneway {
            self.flag |= FLAG_ONEWAY;
        } else {
            self.flag &= !FLAG_ONEWAY;
        }
    }

    pub fn set_response(&mut self, response: bool) {
        if response {
            self.flag |= FLAG_RESPONSE;
        } else {
            self.flag &= !FLAG_RESPONSE;
        }
    }

    /// The raw ext field value.
    pub fn field(&self, key: &str) -> Option<&str> {
        self.ext_fields.get(key).map(String::as_str)
    }

    /// The ext field parsed as i32 (surrounding whitespace allowed); `None` if absent or not
    /// a number.
    pub fn field_i32(&self, key: &str) -> Option<i32> {
        self.field(key).and_then(|v| v.trim().parse().ok())
    }

    /// The ext field parsed as i64; `None` if absent or not a number.
    pub fn field_i64(&self, key: &str) -> Option<i64> {
        self.field(key).and_then(|v| v.trim().parse().ok())
    }

    /// The ext field as a boolean: `true` (any case) or `1` are true, anything else false
    /// (cpp sends `"1"`/`"0"`, Java `"true"`/`"false"`). `None` if absent.
    pub fn field_bool(&self, key: &str) -> Option<bool> {
        self.field(key).map(parse_bool)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn response_copies_opaque_and_sets_flag() {
        let mut req = RemotingCommand::new_request(105).with_opaque(42);
        req.set_oneway(true);
        assert!(req.is_oneway());
        assert!(!req.is_response());
        let resp = RemotingCommand::response_to(&req);
        assert_eq!(resp.opaque, 42);
        assert!(resp.is_response());
        assert!(!resp.is_oneway());
        assert_eq!(resp.code, 0);
        req.set_oneway(false);
        assert_eq!(req.flag, 0);
    }

    #[test]
    fn new_response_empty_remark_is_none() {
        assert_eq!(RemotingCommand::new_response(1, "").remark, None);
        let r = RemotingCommand::new_response(17, "no route");
        assert_eq!(r.remark.as_deref(), Some("no route"));
        assert!(r.is_response());
    }

    #[test]
    fn field_coercions() {
        let cmd = RemotingCommand::new_request(11)
            .with_field("queueId", 3)
            .with_field("big", "1795666361944")
            .with_field("neg", " -7 ")
            .with_field("t1", "TRUE")
            .with_field("t2", "1")
            .with_field("f1", "0")
            .with_field("f2", "false")
            .with_field("junk", "x1");
        assert_eq!(cmd.field("queueId"), Some("3"));
        assert_eq!(cmd.field_i32("queueId"), Some(3));
        assert_eq!(cmd.field_i64("big"), Some(1795666361944));
        assert_eq!(cmd.field_i32("big"), None);
        assert_eq!(cmd.field_i32("neg"), Some(-7));
        assert_eq!(cmd.field_i32("junk"), None);
        assert_eq!(cmd.field_i32("absent"), None);
        assert_eq!(cmd.field_bool("t1"), Some(true));
        assert_eq!(cmd.field_bool("t2"), Some(true));
        assert_eq!(cmd.field_bool("f1"), Some(false));
        assert_eq!(cmd.field_bool("f2"), Some(false));
        assert_eq!(cmd.field_bool("absent"), None);
    }
}
