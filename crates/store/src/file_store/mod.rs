//! The file store: commit log + consume queues + JSON configs on disk (see the crate docs).
//!
//! Files, by responsibility:
//! - `state.rs`: the parts (`Inner`, `FileStore`) and the consume-queue lookup;
//! - `open.rs`: opening, with the recovery wiring and the start of the threads;
//! - `append.rs`: the write path of `put_messages` (steps in its docs);
//! - `read.rs`: the read path;
//! - `maintenance.rs`: flushes, the checkpoint, shutdown and drop;
//! - `clean.rs`: retention (expired segments, disk watermarks, the `store-clean` thread),
//!   `retention_state.rs` the state it keeps;
//! - `interface.rs`: `MessageStore for FileStore`, handing each call to one of the above.
//!
//! Threads: `store-flush` (commit-log flushes, group commit) and `store-maintenance`
//! (consume-queue flushes + checkpoint every `flush_interval`, consumer offsets every 5 s),
//! `store-clean` (a retention pass every second) and, unless turned off, `store-index` (the
//! message index, see [`crate::index`]).
//!
//! Lock order: append lock -> (segment list / queue map) locks; the maintenance thread takes
//! the append lock only briefly to sample a consistent commit-log end for the checkpoint.

mod append;
mod clean;
mod interface;
mod maintenance;
mod open;
mod read;
mod retention_state;
mod state;

pub use state::FileStore;
