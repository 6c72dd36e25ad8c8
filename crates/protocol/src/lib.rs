//! The RocketMQ remoting protocol as pure data: no sockets, no threads, no runtime.
//!
//! Everything here turns bytes into values and values into bytes, and must never panic on
//! any input (partial frames, garbage, hostile lengths). Decoders follow the mini-redis
//! "check, then parse" shape: [`frame::check`] says whether a buffer holds a whole frame
//! without allocating; only then is it parsed.
//!
//! Layout:
//! - [`code`]: request/response codes, language codes, version ordinals.
//! - [`frame`] and [`command`]: the length-prefixed frame and the `RemotingCommand` it carries
//!   (JSON and ROCKETMQ binary headers).
//! - [`header`]: typed request/response headers carried in `extFields`.
//! - [`body`]: JSON bodies (route data, heartbeat, locks, broker registration, ...).
//! - [`lenient`]: how non-standard input (fastjson keys, numbers as strings, ordinals) is
//!   read.
//! - [`message`], [`properties`], [`tag`], [`sysflag`]: the stored/pulled message layout.
//! - [`batch`], [`compression`], [`message_id`]: batch bodies, zlib bodies, message ids.
//! - [`clock`]: milliseconds since the epoch, the one clock every timestamp is read from.

pub mod batch;
pub mod body;
pub mod clock;
pub mod code;
pub mod command;
pub mod compression;
pub mod frame;
pub mod header;
pub mod lenient;
pub mod message;
pub mod message_id;
pub mod properties;
pub mod sysflag;
pub mod tag;
