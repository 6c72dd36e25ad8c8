//! The typed-header codec: the [`CommandHeader`] trait, its error, how one scalar field is
//! read and written ([`HeaderValue`], [`HeaderField`]), the [`command_header!`] macro that
//! declares a header, and the `RemotingCommand` methods that decode and set headers.
//!
//! The decoding rules every header shares are in the [`crate::header`] module docs. Encoding
//! writes every present field as a string and never fails.

use crate::command::RemotingCommand;
use std::collections::BTreeMap;
use std::fmt;

/// A header that lives in `extFields`.
pub trait CommandHeader: Sized {
    /// Reads the header from `extFields`.
    fn decode(fields: &BTreeMap<String, String>) -> Result<Self, HeaderError>;
    /// Writes every present field into `fields` (existing other keys are kept).
    fn encode(&self, fields: &mut BTreeMap<String, String>);
}

/// Why a header could not be decoded. Carries the wire key of the offending field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HeaderError {
    /// A required field is absent.
    Missing(&'static str),
    /// A required field is present but not of its type.
    Invalid { field: &'static str, value: String },
}

impl HeaderError {
    /// The wire key of the field at fault.
    pub fn field(&self) -> &'static str {
        match self {
            HeaderError::Missing(f) => f,
            HeaderError::Invalid { field, .. } => field,
        }
    }
}

impl fmt::Display for HeaderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HeaderError::Missing(field) => write!(f, "the custom field <{field}> is null"),
            HeaderError::Invalid { field, value } => {
                write!(
                    f,
                    "the custom field <{field}> has an invalid value {value:?}"
                )
            }
        }
    }
}

impl std::error::Error for HeaderError {}

impl RemotingCommand {
    /// Decodes the typed header `H` from `ext_fields`.
    pub fn decode_header<H: CommandHeader>(&self) -> Result<H, HeaderError> {
        H::decode(&self.ext_fields)
    }

    /// Writes the fields of `header` into `ext_fields` (other keys are kept) and marks the
    /// command as carrying a custom header, so `extFields` is written even if every field of
    /// the header is absent (as Java does).
    pub fn set_header<H: CommandHeader>(&mut self, header: &H) {
        header.encode(&mut self.ext_fields);
        self.mark_custom_header();
    }

    /// Builder form of [`RemotingCommand::set_header`].
    pub fn with_header<H: CommandHeader>(mut self, header: &H) -> Self {
        self.set_header(header);
        self
    }
}

/// A scalar that can travel as one `extFields` value.
pub trait HeaderValue: Sized {
    /// Parses the wire text; `None` if it is not of this type.
    fn parse_field(text: &str) -> Option<Self>;
    /// The wire text.
    fn render_field(&self) -> String;
}

impl HeaderValue for String {
    fn parse_field(text: &str) -> Option<Self> {
        Some(text.to_string())
    }
    fn render_field(&self) -> String {
        self.clone()
    }
}

impl HeaderValue for i32 {
    fn parse_field(text: &str) -> Option<Self> {
        text.trim().parse().ok()
    }
    fn render_field(&self) -> String {
        self.to_string()
    }
}

impl HeaderValue for i64 {
    fn parse_field(text: &str) -> Option<Self> {
        text.trim().parse().ok()
    }
    fn render_field(&self) -> String {
        self.to_string()
    }
}

impl HeaderValue for bool {
    fn parse_field(text: &str) -> Option<Self> {
        Some(crate::lenient::parse_bool(text))
    }
    fn render_field(&self) -> String {
        if *self { "true" } else { "false" }.to_string()
    }
}

/// How a struct field maps to an optional or required `extFields` entry.
pub trait HeaderField: Sized {
    fn from_field(key: &'static str, value: Option<&str>) -> Result<Self, HeaderError>;
    fn to_field(&self) -> Option<String>;
}

impl<T: HeaderValue> HeaderField for T {
    fn from_field(key: &'static str, value: Option<&str>) -> Result<Self, HeaderError> {
        let text = value.ok_or(HeaderError::Missing(key))?;
        T::parse_field(text).ok_or_else(|| HeaderError::Invalid {
            field: key,
            value: text.to_string(),
        })
    }
    fn to_field(&self) -> Option<String> {
        Some(self.render_field())
    }
}

impl<T: HeaderValue> HeaderField for Option<T> {
    fn from_field(_key: &'static str, value: Option<&str>) -> Result<Self, HeaderError> {
        // cpp sends unused optional fields as "": treat empty as absent.
        Ok(value.filter(|v| !v.is_empty()).and_then(T::parse_field))
    }
    fn to_field(&self) -> Option<String> {
        self.as_ref().map(T::render_field)
    }
}

/// Declares a header struct and its [`CommandHeader`] impl.
///
/// ```
/// use rocketmq_protocol::command_header;
/// use rocketmq_protocol::header::CommandHeader;
///
/// command_header! {
///     /// GET_MAX_OFFSET-like header.
///     pub struct MaxOffsetQuery {
///         topic: String = "topic",
///         queue_id: i32 = "queueId",
///         committed: bool = "committed" => true,
///     }
/// }
///
/// let mut fields = std::collections::BTreeMap::new();
/// fields.insert("topic".to_string(), "T".to_string());
/// fields.insert("queueId".to_string(), "3".to_string());
/// let h = MaxOffsetQuery::decode(&fields).unwrap();
/// assert_eq!((h.queue_id, h.committed), (3, true));
/// ```
#[macro_export]
macro_rules! command_header {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $( $(#[$fmeta:meta])* $field:ident : $ty:ty = $key:literal $(=> $default:expr)? ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Debug, Default, PartialEq, Eq)]
        pub struct $name {
            $( $(#[$fmeta])* pub $field: $ty, )*
        }

        impl $crate::header::CommandHeader for $name {
            #[allow(unused_variables)]
            fn decode(
                fields: &::std::collections::BTreeMap<String, String>,
            ) -> Result<Self, $crate::header::HeaderError> {
                Ok($name {
                    $( $field: $crate::command_header!(@get fields, $key, $ty $(, $default)?), )*
                })
            }

            #[allow(unused_variables)]
            fn encode(&self, fields: &mut ::std::collections::BTreeMap<String, String>) {
                $(
                    if let Some(v) = $crate::header::HeaderField::to_field(&self.$field) {
                        fields.insert($key.to_string(), v);
                    }
                )*
            }
        }
    };
    (@get $fields:ident, $key:literal, $ty:ty) => {
        <$ty as $crate::header::HeaderField>::from_field(
            $key,
            $fields.get($key).map(String::as_str),
        )?
    };
    (@get $fields:ident, $key:literal, $ty:ty, $default:expr) => {
        $fields
            .get($key)
            .and_then(|v| <$ty as $crate::header::HeaderValue>::parse_field(v))
            .unwrap_or($default)
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    command_header! {
        /// Exercises every field kind.
        pub struct SampleHeader {
            name: String = "name",
            count: i32 = "count",
            big: i64 = "big",
            on: bool = "on",
            maybe: Option<String> = "maybe",
            maybe_num: Option<i64> = "maybeNum",
            with_default: bool = "withDefault" => true,
        }
    }

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn decode_required_optional_default() {
        let h = SampleHeader::decode(&map(&[
            ("name", "n"),
            ("count", " 5"),
            ("big", "1795666361944"),
            ("on", "1"),
            ("maybe", ""),
            ("maybeNum", "x"),
            ("extra", "ignored"),
        ]))
        .unwrap();
        assert_eq!(
            h,
            SampleHeader {
                name: "n".into(),
                count: 5,
                big: 1795666361944,
                on: true,
                maybe: None,
                maybe_num: None,
                with_default: true,
            }
        );
        let h2 = SampleHeader::decode(&map(&[
            ("name", ""),
            ("count", "0"),
            ("big", "-1"),
            ("on", "false"),
            ("maybe", "m"),
            ("maybeNum", "7"),
            ("withDefault", "0"),
        ]))
        .unwrap();
        assert_eq!(h2.maybe.as_deref(), Some("m"));
        assert_eq!(h2.maybe_num, Some(7));
        assert!(!h2.on);
        assert!(!h2.with_default);
    }

    #[test]
    fn errors_name_the_field() {
        let e =
            SampleHeader::decode(&map(&[("name", "n"), ("big", "1"), ("on", "1")])).unwrap_err();
        assert_eq!(e, HeaderError::Missing("count"));
        assert_eq!(e.field(), "count");
        assert!(e.to_string().contains("count"));
        let e = SampleHeader::decode(&map(&[
            ("name", "n"),
            ("count", "99999999999"),
            ("big", "1"),
            ("on", "1"),
        ]))
        .unwrap_err();
        assert_eq!(
            e,
            HeaderError::Invalid {
                field: "count",
                value: "99999999999".into()
            }
        );
    }

    #[test]
    fn encode_writes_strings_and_skips_none() {
        let h = SampleHeader {
            name: "n".into(),
            count: -3,
            big: 10,
            on: true,
            maybe: None,
            maybe_num: Some(4),
            with_default: false,
        };
        let mut fields = map(&[("keep", "me")]);
        h.encode(&mut fields);
        assert_eq!(
            fields,
            map(&[
                ("keep", "me"),
                ("name", "n"),
                ("count", "-3"),
                ("big", "10"),
                ("on", "true"),
                ("maybeNum", "4"),
                ("withDefault", "false"),
            ])
        );
        assert_eq!(SampleHeader::decode(&fields).unwrap(), h);
    }
}
