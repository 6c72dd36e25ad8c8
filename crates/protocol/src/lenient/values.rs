//! Values that peers send in more than one shape: integers as strings (cpp `subVersion`),
//! booleans as 0/1 or strings, enums as names or ordinals. serde helpers for JSON bodies, and
//! the one boolean rule that headers, `extFields` and bodies share.

use serde::de::Error as _;
use serde::{Deserialize, Deserializer};
use serde_json::Value;

fn value_to_i64(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64)),
        Value::String(s) => s.trim().parse().ok(),
        Value::Bool(b) => Some(i64::from(*b)),
        _ => None,
    }
}

/// The protocol's boolean rule: `true` in any case or `1` is true, everything else false
/// (cpp sends `"1"`/`"0"`, Java `"true"`/`"false"`). Surrounding whitespace is ignored.
pub fn parse_bool(v: &str) -> bool {
    let v = v.trim();
    v.eq_ignore_ascii_case("true") || v == "1"
}

/// An i64 from a number or numeric string; null becomes 0.
pub fn i64_any<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    let v = Value::deserialize(d)?;
    if v.is_null() {
        return Ok(0);
    }
    value_to_i64(&v).ok_or_else(|| D::Error::custom(format!("expected an integer, got {v}")))
}

/// An i32 from a number or numeric string; null becomes 0.
pub fn i32_any<'de, D: Deserializer<'de>>(d: D) -> Result<i32, D::Error> {
    let n = i64_any(d)?;
    i32::try_from(n).map_err(|_| D::Error::custom(format!("{n} does not fit in i32")))
}

/// A bool from true/false, 0/1 or their string forms; null becomes false.
pub fn bool_any<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    match Value::deserialize(d)? {
        Value::Bool(b) => Ok(b),
        Value::Null => Ok(false),
        Value::String(s) => Ok(parse_bool(&s)),
        Value::Number(n) => Ok(n.as_i64().is_some_and(|i| i != 0)),
        v => Err(D::Error::custom(format!("expected a boolean, got {v}"))),
    }
}

/// Declares an enum written by name and read by name or ordinal (fastjson accepts both;
/// cpp sends ordinals). Exactly one variant must carry `#[default]`.
#[macro_export]
macro_rules! name_or_ordinal_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident { $( $(#[$vmeta:meta])* $variant:ident = ($ord:literal, $wire:literal) ),* $(,)? }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name { $( $(#[$vmeta])* $variant ),* }

        impl $name {
            /// The Java enum constant name.
            pub fn name(self) -> &'static str {
                match self { $( $name::$variant => $wire ),* }
            }
            /// The Java ordinal.
            pub fn ordinal(self) -> i64 {
                match self { $( $name::$variant => $ord ),* }
            }
            pub fn from_name(name: &str) -> Option<Self> {
                match name.trim() { $( $wire => Some($name::$variant), )* _ => None }
            }
            pub fn from_ordinal(ord: i64) -> Option<Self> {
                match ord { $( $ord => Some($name::$variant), )* _ => None }
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.name())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                use ::serde::de::Error as _;
                let v = ::serde_json::Value::deserialize(d)?;
                let found = match &v {
                    ::serde_json::Value::String(s) => $name::from_name(s)
                        .or_else(|| s.trim().parse::<i64>().ok().and_then($name::from_ordinal)),
                    ::serde_json::Value::Number(n) => n.as_i64().and_then($name::from_ordinal),
                    _ => None,
                };
                found.ok_or_else(|| {
                    D::Error::custom(format!(concat!("unknown ", stringify!($name), " {}"), v))
                })
            }
        }
    };
}
