//! The file store's parts: [`Inner`], shared by the handle and the two background threads,
//! and [`FileStore`], the handle the broker holds. Also the consume-queue lookup every path
//! uses.
//!
//! What guards what: `append` serializes appends (layout, offsets, dispatch, publish) and is
//! the outermost lock; `queues` (the consume-queue map) is taken inside it or alone, never
//! around it; `last_checkpoint` is taken alone by whoever writes the checkpoint.

use crate::commit_log::CommitLog;
use crate::config::StoreConfig;
use crate::consume_queue::{queue_dir, valid_queue_topic, ConsumeQueue};
use crate::error::StoreError;
use crate::flush::{GroupCommit, Maintenance};
use crate::index::{IndexProgress, MessageIndex};
use crate::offsets::ConsumerOffsets;
use crate::recovery::{Checkpoint, RecoveryStats};
use crate::topics::TopicConfigs;
use std::collections::BTreeMap;
use std::fs::File;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;

pub(super) type QueueKey = (String, i32);

pub(super) struct AppendState {
    /// Store timestamps never go backwards, so offset-by-time can binary-search.
    pub(super) last_store_timestamp: i64,
}

pub(super) struct Inner {
    pub(super) config: StoreConfig,
    pub(super) commit_log: CommitLog,
    pub(super) queues: RwLock<BTreeMap<QueueKey, Arc<ConsumeQueue>>>,
    pub(super) append: Mutex<AppendState>,
    pub(super) group_commit: Arc<GroupCommit>,
    pub(super) offsets: ConsumerOffsets,
    pub(super) topics: TopicConfigs,
    pub(super) last_checkpoint: Mutex<Checkpoint>,
    pub(super) shut_down: AtomicBool,
    pub(super) retention: super::retention_state::Retention,
    pub(super) _lock_file: File,
    /// The message index and its `store-index` thread's work (`None`: turned off).
    pub(super) index: Option<Arc<MessageIndex>>,
}

/// The durable store. Open with [`FileStore::open`]; call
/// [`MessageStore::shutdown`](crate::MessageStore::shutdown) for a clean close. Dropping it
/// without shutdown stops its threads but leaves the `abort` marker, as a crash would.
pub struct FileStore {
    pub(super) inner: Arc<Inner>,
    pub(super) maintenance: Arc<Maintenance>,
    /// The group-commit thread and the maintenance thread.
    pub(super) threads: Mutex<Vec<JoinHandle<()>>>,
    pub(super) recovery: RecoveryStats,
}

/// A topic name usable as a consume-queue directory name.
pub(super) fn check_topic(topic: &str) -> Result<(), StoreError> {
    if valid_queue_topic(topic) {
        Ok(())
    } else {
        Err(StoreError::MessageIllegal(format!(
            "topic {topic:?} cannot be stored"
        )))
    }
}

impl Inner {
    pub(super) fn queue(&self, topic: &str, queue_id: i32) -> Option<Arc<ConsumeQueue>> {
        self.queues
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&(topic.to_string(), queue_id))
            .cloned()
    }

    /// Caller holds the append lock.
    pub(super) fn queue_or_create(
        &self,
        topic: &str,
        queue_id: i32,
    ) -> Result<Arc<ConsumeQueue>, StoreError> {
        if let Some(q) = self.queue(topic, queue_id) {
            return Ok(q);
        }
        let dir = queue_dir(&self.config.root.join("consumequeue"), topic, queue_id);
        let cq = Arc::new(ConsumeQueue::open(
            dir,
            topic,
            queue_id,
            self.config.consume_queue_entries_per_file,
        )?);
        self.queues
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert((topic.to_string(), queue_id), cq.clone());
        Ok(cq)
    }
}

impl FileStore {
    /// Commit-log flushes (fsyncs) performed so far.
    pub fn commit_log_fsync_count(&self) -> u64 {
        self.inner.group_commit.fsync_count()
    }

    /// Commit-log offset known durable.
    pub fn flushed_offset(&self) -> i64 {
        self.inner.group_commit.flushed_offset() as i64
    }

    /// What recovery found when this store was opened.
    pub fn recovery_stats(&self) -> RecoveryStats {
        self.recovery
    }

    /// Whether the run before this open shut down cleanly.
    pub fn last_shutdown_clean(&self) -> bool {
        self.recovery.clean_shutdown
    }

    pub fn root(&self) -> &Path {
        &self.inner.config.root
    }

    /// Where the message index stands (`None` when it is turned off).
    pub fn index_progress(&self) -> Option<IndexProgress> {
        self.inner.index.as_ref().map(|i| i.progress())
    }

    /// Removes the index files all of whose entries point below commit-log offset `offset`
    /// (retention calls it after deleting the commit-log segments below `offset`). Returns
    /// how many files were removed.
    pub fn remove_index_files_below(&self, offset: i64) -> Result<usize, StoreError> {
        match &self.inner.index {
            Some(i) => i.remove_files_below(offset.max(0) as u64),
            None => Ok(0),
        }
    }

    /// Removes the index files whose newest entry was stored before `timestamp` (ms), the
    /// current file excepted. Returns how many files were removed.
    pub fn remove_index_files_before(&self, timestamp: i64) -> Result<usize, StoreError> {
        match &self.inner.index {
            Some(i) => i.remove_files_before(timestamp),
            None => Ok(0),
        }
    }
}
