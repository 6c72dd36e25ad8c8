//! The on-disk structures of timer messages (RocketMQ 5 `TIMER_DELIVER_MS` and friends): a
//! timer log and a time wheel, pure storage with no broker and no clock of its own.
//!
//! - `log`: the timer log, append-only segment files of 32-byte entries (deliver time,
//!   commit-log offset and size of the stored timer message, and the position of the previous
//!   entry of the same wheel slot), named by their 20-digit starting byte position;
//! - `wheel`: the time wheel, one file of fixed-size slots, one slot per `precision_ms` of
//!   deliver time modulo the slot count; a slot holds its slot time, the position of the last
//!   entry linked into it, and how many entries it holds;
//! - `store`: [`TimerStore`], which keeps both consistent with a checkpoint (how far the
//!   broker's timer queue was taken in, how long the timer log is, which slots are delivered).
//!
//! What must stay true:
//! - the checkpoint is written (atomically) only after the timer log bytes it covers are
//!   fsynced, so after a crash the log is cut back to the checkpoint's length and the caller
//!   takes its timer queue in again from the checkpoint's offset: nothing is lost, nothing is
//!   linked twice;
//! - the wheel is rebuilt from the timer log at every open, so it never needs an fsync and a
//!   torn wheel write cannot lose an entry;
//! - reading a slot costs one read per entry of that slot: memory follows what is read (what
//!   is due soon), never how many entries are scheduled;
//! - a timer-log file is removed only when every entry in it is due before the checkpointed
//!   read time (delivered), and [`TimerStore::lowest_needed_commit_log_offset`] never exceeds
//!   the commit-log offset of an undelivered entry.

mod log;
mod store;
#[cfg(test)]
mod tests;
mod wheel;

pub use log::TimerEntry;
pub use store::{CommitTicket, TimerCheckpoint, TimerStore, TimerStoreConfig};
