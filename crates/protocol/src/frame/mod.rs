//! The length-prefixed frame and its two header serializations (spec 1.1-1.3).
//!
//! Frame: `u32 length` (bytes after itself) | `u32 type<<24 | headerLength` | header | body.
//! Reading is "check, then parse": [`check`] looks only at the two leading words to say
//! whether a whole frame is buffered (or that the stream is garbage), [`parse`] decodes one
//! whole frame. Neither panics nor allocates more than the frame itself, whatever the input.
//!
//! Invariants kept here: a frame including its 4-byte length prefix never exceeds
//! [`MAX_FRAME_LEN`]; every length inside a ROCKETMQ header is checked against the header
//! length before use; JSON headers are written as Java writes them (every member Java's
//! fastjson writes, `serializeTypeCurrentRPC` included, in its alphabetical order and JSON
//! types), compactly, with every extFields value as a string and control characters escaped
//! as `\u00hh` (what cpp 1.2.3 and Go can read). `tests/java_wire.rs` holds this against
//! Apache's own encoder.
//!
//! Files, each depending only on those above it:
//! - `error.rs`: [`FrameError`];
//! - `check.rs`: the limits and [`check`];
//! - `json_header.rs`, `binary_header.rs`: the two header codecs, both directions;
//! - `parse.rs`: [`parse`], [`parse_bytes`], [`decode`];
//! - `encode.rs`: [`try_encode`] and `RemotingCommand::{encode, encode_without_body,
//!   to_frame}`.
//!
//! The frame layer sits above the command value ([`crate::RemotingCommand`]): it uses the command, never the reverse.

mod binary_header;
mod check;
mod encode;
mod error;
mod json_header;
mod parse;

pub use binary_header::parse_binary_header;
pub use check::{check, MAX_FRAME_LEN, MAX_HEADER_LEN};
pub use encode::try_encode;
pub use error::FrameError;
pub use json_header::{parse_json_header, write_json_string};
pub use parse::{decode, parse, parse_bytes};
