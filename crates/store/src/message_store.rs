//! The store interface: the [`MessageStore`] trait the broker calls, and the values it takes
//! and returns (messages to append, where they landed, reads of a consume queue, the waiter
//! of a sync-flush append).
//!
//! Both implementations (`FileStore`, `MemoryStore`) must pass the contract suite in
//! `tests/contract.rs`; what it checks is what this trait promises.

use crate::error::StoreError;
use bytes::Bytes;
use rocketmq_protocol::body::topic_config::TopicConfig;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// A message as the broker hands it to the store. The store assigns the queue offset,
/// commit-log offset and store timestamp while it holds the append lock.
#[derive(Clone, Debug)]
pub struct MessageToStore {
    pub topic: String,
    pub queue_id: i32,
    pub flag: i32,
    pub sys_flag: i32,
    pub born_timestamp: i64,
    pub born_host: SocketAddr,
    pub store_host: SocketAddr,
    pub reconsume_times: i32,
    pub prepared_transaction_offset: i64,
    /// Stored as-is (possibly compressed; the sys flag says so).
    pub body: Bytes,
    /// Encoded property string (`name\x01value\x02...`).
    pub properties: String,
    /// Written into the consume-queue entry: the tag hash, or a delivery time for
    /// `SCHEDULE_TOPIC_XXXX`. The broker decides; the store only records it.
    pub tags_code: i64,
}

/// Where one message landed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PutResult {
    /// Physical offset of the record in the commit log.
    pub commit_log_offset: i64,
    /// Logical offset in its consume queue (-1 when the record is not dispatched, e.g. a
    /// prepared or rolled-back transactional record).
    pub queue_offset: i64,
    /// Record size in bytes.
    pub size: i32,
    pub store_timestamp: i64,
}

/// The outcome of an append: where each message landed, and, under sync flush, a waiter
/// that completes once every byte of the append is durable (group commit).
pub struct PutOutcome {
    pub results: Vec<PutResult>,
    /// `None` under async flush (nothing to wait for).
    pub durable: Option<DurableWaiter>,
}

/// Completes when the append it came from has been fsynced, or with an error (flush failure,
/// or the store shut down first). Usable from async code (`.await` the receiver) and from
/// plain threads ([`DurableWaiter::wait`]).
pub struct DurableWaiter(pub tokio::sync::oneshot::Receiver<Result<(), StoreError>>);

impl DurableWaiter {
    /// Blocks the calling thread until durable or `timeout` passes.
    pub fn wait(self, timeout: Duration) -> Result<(), StoreError> {
        let deadline = std::time::Instant::now() + timeout;
        let mut rx = self.0;
        loop {
            match rx.try_recv() {
                Ok(r) => return r,
                Err(tokio::sync::oneshot::error::TryRecvError::Closed) => {
                    return Err(StoreError::ShutDown)
                }
                Err(tokio::sync::oneshot::error::TryRecvError::Empty) => {
                    if std::time::Instant::now() >= deadline {
                        return Err(StoreError::FlushTimeout);
                    }
                    std::thread::sleep(Duration::from_micros(200));
                }
            }
        }
    }
}

/// Outcome of reading a consume queue, mirroring the Java store's `GetMessageStatus`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GetStatus {
    Found,
    NoMatchedMessage,
    NoMatchedLogicQueue,
    NoMessageInQueue,
    OffsetTooSmall,
    OffsetOverflowOne,
    OffsetOverflowBadly,
    OffsetFoundNull,
}

/// One consume-queue entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueueEntry {
    pub commit_log_offset: i64,
    pub size: i32,
    pub tags_code: i64,
}

/// A read of up to `max_msgs` messages of one queue starting at a logical offset.
#[derive(Clone, Debug)]
pub struct GetRequest<'a> {
    pub topic: &'a str,
    pub queue_id: i32,
    pub offset: i64,
    pub max_msgs: i32,
    /// Stop adding messages once this many bytes of records (whole stored records, as they go
    /// on the wire) were collected; at least one message is always returned when one matches.
    pub max_bytes: usize,
}

#[derive(Clone, Debug)]
pub struct GetResult {
    pub status: GetStatus,
    pub next_begin_offset: i64,
    pub min_offset: i64,
    pub max_offset: i64,
    /// Raw stored records (the exact commit-log bytes), in queue order.
    pub messages: Vec<Bytes>,
    /// Logical queue offset of each returned record (same length as `messages`).
    pub queue_offsets: Vec<i64>,
}

/// Which property a key query matches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyKind {
    /// One of the space-separated words of `KEYS`.
    Keys,
    /// The message id the producer assigned (`UNIQ_KEY`).
    UniqueKey,
    /// Either of the two: what the Java broker answers for both kinds of QUERY_MESSAGE (its
    /// index holds keys and unique keys in one space; its clients filter the answer).
    Any,
}

/// A query for the messages of a topic stored under a key between two store times.
#[derive(Clone, Copy, Debug)]
pub struct KeyQuery<'a> {
    pub topic: &'a str,
    pub key: &'a str,
    pub kind: KeyKind,
    /// At most this many records are returned.
    pub max_num: usize,
    /// Inclusive bounds on the store timestamp, in ms.
    pub begin_timestamp: i64,
    pub end_timestamp: i64,
}

/// What a key query found: whole stored records, newest first, each once.
#[derive(Clone, Debug, Default)]
pub struct KeyQueryResult {
    pub records: Vec<Bytes>,
    /// Store timestamp of the last message the index covers (0 before the first).
    pub index_last_update_timestamp: i64,
    /// Commit-log offset of the last message the index covers.
    pub index_last_update_phy_offset: i64,
}

/// The lowest commit-log offset a reader outside the store still needs (`None`: nothing at
/// the moment); see [`MessageStore::retain_commit_log_from`].
pub type CommitLogFloor = Arc<dyn Fn() -> Option<i64> + Send + Sync>;

/// What one retention pass ([`MessageStore::clean_now`]) did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CleanReport {
    /// Commit-log segments (or, in the memory store, records) removed.
    pub segments_removed: usize,
    /// Consume-queue files removed because every entry in them pointed below the new minimum.
    pub queue_files_removed: usize,
    /// The lowest commit-log offset still stored after the pass.
    pub min_commit_log_offset: i64,
}

/// The store interface the broker uses. Every method is safe to call from many threads.
/// Implementations must pass the contract suite in `tests/contract.rs`.
pub trait MessageStore: Send + Sync {
    /// Appends messages contiguously and atomically with respect to other appends: a batch
    /// gets consecutive queue offsets in its queue. Messages are visible to
    /// [`MessageStore::get_messages`] when this returns (dispatch is part of the append).
    fn put_messages(&self, msgs: Vec<MessageToStore>) -> Result<PutOutcome, StoreError>;

    /// Reads from a consume queue. `filter(tags_code)` decides which entries match (tag
    /// filtering by hash); non-matching entries are skipped but still advance
    /// `next_begin_offset`. Never returns more than `max_msgs` messages and scans a bounded
    /// number of entries per call.
    fn get_messages(&self, req: &GetRequest<'_>, filter: &dyn Fn(i64) -> bool) -> GetResult;

    /// The consume-queue entry at a logical offset, if present.
    fn queue_entry(&self, topic: &str, queue_id: i32, offset: i64) -> Option<QueueEntry>;

    /// The raw record at a commit-log offset (validated: it must start a record there).
    fn read_record(&self, commit_log_offset: i64) -> Option<Bytes>;

    /// One past the last logical offset of the queue (0 for an unknown queue).
    fn max_offset(&self, topic: &str, queue_id: i32) -> i64;
    /// First logical offset still readable (0 for an unknown queue).
    fn min_offset(&self, topic: &str, queue_id: i32) -> i64;
    /// Store timestamp of the message at the queue's min offset.
    fn earliest_store_time(&self, topic: &str, queue_id: i32) -> Option<i64>;
    /// LOWER (`upper == false`): first offset whose store time >= `timestamp` (max offset if
    /// all are older). UPPER: last offset whose store time <= `timestamp`.
    fn offset_by_time(&self, topic: &str, queue_id: i32, timestamp: i64, upper: bool) -> i64;
    /// The commit-log offset one past the last written byte.
    fn max_commit_log_offset(&self) -> i64;
    /// Every (topic, queue id) that has a consume queue.
    fn queues(&self) -> Vec<(String, i32)>;

    /// The messages of `q.topic` stored under `q.key` (a `KEYS` word or the `UNIQ_KEY`, as
    /// `q.kind` says) within the time bounds, newest first. Everything stored before the call
    /// is found (the file store waits a bounded time for its index to cover it); records are
    /// checked, so a hash collision never returns a message with another key.
    fn query_by_key(&self, q: &KeyQuery<'_>) -> KeyQueryResult;

    /// Consumer offsets: the next offset to consume, per group/topic/queue.
    fn commit_offset(&self, group: &str, topic: &str, queue_id: i32, offset: i64);
    fn committed_offset(&self, group: &str, topic: &str, queue_id: i32) -> Option<i64>;

    /// Topic configs, persisted.
    fn topic_config(&self, topic: &str) -> Option<TopicConfig>;
    fn put_topic_config(&self, config: TopicConfig) -> Result<(), StoreError>;
    fn topic_configs(&self) -> Vec<TopicConfig>;

    /// Small named JSON documents the broker persists (delay offsets, subscription groups).
    fn load_config(&self, name: &str) -> Option<String>;
    fn save_config(&self, name: &str, json: &str) -> Result<(), StoreError>;

    /// One retention pass now (the broker's DELETE_EXPIRED_COMMITLOG and
    /// CLEAN_EXPIRED_CONSUMEQUEUE): removes the oldest commit-log data whose last write is
    /// older than the reserved time (or, while the disk is above its watermark, even younger
    /// data), never the segment being written; then raises each queue's min offset to its
    /// first entry still stored and re-checks the refusal watermark. The file store also runs
    /// this by itself every second.
    fn clean_now(&self) -> Result<CleanReport, StoreError>;
    /// The lowest commit-log offset still stored.
    fn min_commit_log_offset(&self) -> i64;
    /// Registers a reader outside the store (the broker's timer: an undelivered timer
    /// message lives in the commit log) that still needs every record from the offset
    /// `floor` returns: retention never removes them. Each pass calls `floor` with no store
    /// lock held, so it may call the store.
    fn retain_commit_log_from(&self, floor: CommitLogFloor);

    /// Makes everything written so far durable (commit log, consume queues, offsets, configs).
    fn flush(&self) -> Result<(), StoreError>;
    /// Flushes and stops background threads; later puts fail with [`StoreError::ShutDown`].
    fn shutdown(&self);
}
