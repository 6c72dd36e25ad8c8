//! Store configuration.

use crate::index::IndexConfig;
use rocketmq_protocol::message::StoredMessage;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Computes the consume-queue tags code of a record that recovery re-dispatches. The broker
/// installs one because for `SCHEDULE_TOPIC_XXXX` the code is a delivery time, not a tag hash.
/// Called for every re-dispatched record; use
/// [`crate::recovery::default_tags_code_of`] for records it does not special-case.
pub type TagsCodeFn = Arc<dyn Fn(&StoredMessage) -> i64 + Send + Sync>;

/// How long a commit-log segment is kept after its last write (Java `fileReservedTime`).
pub const DEFAULT_FILE_RESERVED_TIME: Duration = Duration::from_secs(72 * 3600);

/// When appended bytes are forced to disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlushMode {
    /// A background thread flushes every `flush_interval`; an append is acknowledged once it
    /// is in the page cache. A crash of the machine (not of the process) may lose the tail.
    Async,
    /// Group commit: an append is acknowledged only after an fsync covering its bytes.
    Sync,
}

/// Where and how the file store keeps its data. `MemoryStore` ignores it.
#[derive(Clone)]
pub struct StoreConfig {
    /// Root directory: `commitlog/`, `consumequeue/`, `config/`, `checkpoint`, `abort`, `lock`.
    pub root: PathBuf,
    pub commit_log_segment_size: u64,
    /// Entries per consume-queue file (each entry is 20 bytes).
    pub consume_queue_entries_per_file: u64,
    pub flush: FlushMode,
    pub flush_interval: Duration,
    /// Largest accepted record body.
    pub max_message_size: usize,
    /// Tags code for re-dispatched records; `None` = hash of the TAGS property.
    pub tags_code_for_recovery: Option<TagsCodeFn>,
    /// Verify body CRCs while validating the commit log at startup.
    pub check_crc_on_recovery: bool,
    /// Sync flush: how long one group-commit round may wait for the number of writers the
    /// previous rounds served before it fsyncs (bounded extra latency for bigger batches).
    pub group_commit_gather: Duration,
    /// The message index of keys and unique keys (`index/`); `None` turns it off (key
    /// queries then find nothing).
    pub index: Option<IndexConfig>,
    /// Retention (see `retention/`): a commit-log segment whose last write is older than this
    /// is removed with what depends on it (Java `fileReservedTime`, 72 h). `None`: never by
    /// age.
    pub file_reserved_time: Option<Duration>,
    /// Used percent of the store's file system at or above which the oldest segments are
    /// removed before they expire (Java `diskMaxUsedSpaceRatio`, 75). `None`: off.
    pub disk_max_used_ratio: Option<u8>,
    /// Used percent at or above which appends are refused with [`crate::StoreError::DiskFull`]
    /// until usage falls below it again (Java's 90% warning level). `None`: off.
    pub disk_refuse_ratio: Option<u8>,
}

impl fmt::Debug for StoreConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoreConfig")
            .field("root", &self.root)
            .field("commit_log_segment_size", &self.commit_log_segment_size)
            .field(
                "consume_queue_entries_per_file",
                &self.consume_queue_entries_per_file,
            )
            .field("flush", &self.flush)
            .field("flush_interval", &self.flush_interval)
            .field("max_message_size", &self.max_message_size)
            .field(
                "tags_code_for_recovery",
                &self.tags_code_for_recovery.is_some(),
            )
            .field("check_crc_on_recovery", &self.check_crc_on_recovery)
            .field("group_commit_gather", &self.group_commit_gather)
            .field("index", &self.index)
            .field("file_reserved_time", &self.file_reserved_time)
            .field("disk_max_used_ratio", &self.disk_max_used_ratio)
            .field("disk_refuse_ratio", &self.disk_refuse_ratio)
            .finish()
    }
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
            tags_code_for_recovery: None,
            check_crc_on_recovery: true,
            group_commit_gather: Duration::from_millis(1),
            index: Some(IndexConfig::default()),
            file_reserved_time: Some(DEFAULT_FILE_RESERVED_TIME),
            // Off in the library: on a shared disk other people's files would otherwise make
            // a store drop unexpired data or refuse sends. The broker program turns them on.
            disk_max_used_ratio: None,
            disk_refuse_ratio: None,
        }
    }
}
