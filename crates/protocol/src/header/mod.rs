//! Typed request/response headers carried in a command's `extFields` (spec sec 3).
//!
//! Each header is declared with [`command_header!`](crate::command_header): one line per field giving the Rust
//! field, its type and its wire key. Decoding rules (spec 3.0), which every header shares:
//! - a plain-typed field is required: missing or unparseable -> [`HeaderError`] naming it;
//! - `Option<T>` is optional: missing, empty or unparseable -> `None` (Java logs and skips);
//! - a field with `=> default` falls back to the default when missing or unparseable;
//! - booleans read `true` (any case) or `1` as true, anything else false; written
//!   `"true"`/`"false"`; numbers accept surrounding whitespace.
//!
//! Encoding writes every present field as a string and never fails.

pub mod admin;
mod codec;
pub mod consumer;
pub mod namesrv;
pub mod offset;
pub mod pop;
pub mod pull;
pub mod send;
pub mod transaction;

pub use codec::{CommandHeader, HeaderError, HeaderField, HeaderValue};

pub use admin::*;
pub use consumer::*;
pub use namesrv::*;
pub use offset::*;
pub use pop::*;
pub use pull::*;
pub use send::*;
pub use transaction::*;
