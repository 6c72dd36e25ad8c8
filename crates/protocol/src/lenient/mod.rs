//! Lenient reading: everything this crate accepts beyond strict JSON and strict types, in
//! one place.
//!
//! Peers (fastjson, the cpp client) write things serde_json would reject or mistype. Reading
//! them is split by where the quirk sits:
//! - `keys`: object keys, i.e. fastjson's unquoted numeric map keys
//!   ([`quote_numeric_keys`]), applied to every JSON body before parsing;
//! - `values`: field values, i.e. numbers as strings, booleans as `0`/`1` or strings
//!   ([`parse_bool`], the one boolean rule of headers and bodies), enums as names or ordinals
//!   (the [`name_or_ordinal_enum!`](crate::name_or_ordinal_enum) macro).
//!
//! What must stay true: leniency is for reading only; everything we write is standard JSON
//! and canonical values. None of these functions panics on any input.

mod keys;
mod values;

pub use keys::quote_numeric_keys;
pub use values::{bool_any, i32_any, i64_any, parse_bool};
