//! The RocketMQ remoting protocol as pure data: no sockets, no threads, no runtime.
//!
//! Everything here turns bytes into values and values into bytes, and must never panic on
//! any input (partial frames, garbage, hostile lengths). Decoders follow the mini-redis
//! "check, then parse" shape: [`frame::check`] says whether a buffer holds a whole frame
//! without allocating; only then is it parsed.
//!
//! The public face: [`RemotingCommand`] (with [`SerializeType`] and the flag bits) and
//! [`now_millis`] at the root, and the vocabularies as namespaces:
//! - [`code`]: request/response codes, language codes, version ordinals.
//! - [`frame`]: the length-prefixed frame that carries a `RemotingCommand` (JSON and
//!   ROCKETMQ binary headers).
//! - [`header`]: typed request/response headers carried in `extFields`.
//! - [`body`]: JSON bodies (route data, heartbeat, locks, broker registration, running info).
//! - [`message`], [`properties`], [`tag`], [`sysflag`]: the stored/pulled message layout.
//! - [`batch`], [`compression`], [`message_id`]: batch bodies, zlib bodies, message ids.
//! - [`pop`]: POP receipt handles, POP answer summaries, POP retry topic names, batch acks.
//!
//! Private: `command` (the command value), `clock` (milliseconds since the epoch, the one
//! clock every timestamp is read from) and `lenient` (the one place where non-standard input
//! is made readable: fastjson's unquoted numeric keys, numbers as strings, enum ordinals).

pub mod batch;
pub mod body;
mod clock;
pub mod code;
mod command;
pub mod compression;
pub mod frame;
pub mod header;
mod lenient;
pub mod message;
pub mod message_group;
pub mod message_id;
pub mod message_priority;
pub mod pop;
pub mod properties;
pub mod recall;
pub mod sysflag;
pub mod tag;

pub use clock::now_millis;
pub use command::{RemotingCommand, SerializeType, DEFAULT_LANGUAGE, FLAG_ONEWAY, FLAG_RESPONSE};
