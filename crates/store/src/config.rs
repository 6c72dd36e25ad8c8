//! Store configuration.

use std::path::PathBuf;
use std::time::Duration;

/// When appended bytes are forced to disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlushMode {
    /// A background thread flushes every `flush_interval`; an append is acknowledged once it
    /// is in the page cache. A crash of the machine (not of the process) may lose the tail.
    Async,
    /// Group commit: an append is acknowledged only after an fsync covering its bytes.
    Sync,
}

#[derive(Clone, Debug)]
pub struct StoreConfig {
    pub root: PathBuf,
    pub commit_log_segment_size: u64,
    /// Entries per consume-queue file (each entry is 20 bytes).
    pub consume_queue_entries_per_file: u64,
    pub flush: FlushMode,
    pub flush_interval: Duration,
    /// Largest accepted record body.
    pub max_message_size: usize,
}

impl StoreConfig {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        StoreConfig {
            root: root.into(),
            commit_log_segment_size: 1 << 30,
            consume_queue_entries_per_file: 300_000,
            flush: FlushMode::Async,
            flush_interval: Duration::from_millis(500),
            max_message_size: 4 * 1024 * 1024,
        }
    }
}
