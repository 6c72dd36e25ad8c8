//! The durable message store of the bundled broker. It knows nothing of the network.
//!
//! One [`MessageStore`] interface, two implementations that pass one contract suite
//! (`tests/contract.rs`): [`FileStore`] (the real one) and [`MemoryStore`] (a twin for tests
//! of code above the store).
//!
//! The file store follows Apache RocketMQ's design:
//! - a single append-only **CommitLog** for every topic, cut into fixed-size memory-mapped
//!   segment files named by their 20-digit starting offset; a record never spans segments;
//! - one **ConsumeQueue** per topic/queue: 20-byte entries (commit-log offset 8, size 4,
//!   tags code 8), entry *n* = logical offset *n*, built from the commit log by a dispatcher;
//! - consumer offsets, topic configs and small named configs persisted as JSON files written
//!   atomically (write temp, fsync, rename);
//! - async flush (interval) or sync flush with group commit: many writers, one fsync, each
//!   writer acknowledged only once the bytes it wrote are durable;
//! - restart recovery that validates the commit-log tail record by record and truncates a torn
//!   tail, then rebuilds consume queues past what they already cover;
//! - a **message index** of every message's keys and unique key (`index/`), built off the
//!   send path by its own thread, for key queries.
//!
//! See ARCHITECTURE.md for the write path, the fsync order and what a crash may lose.

mod atomic_file;
mod commit_log;
mod config;
mod consume_queue;
mod disk_watermark;
mod error;
mod file_store;
mod flush;
mod index;
mod mapped_file;
mod memory_store;
mod message_store;
mod offsets;
mod platform;
mod queue_read;
mod recovery;
mod timer;
mod topics;

pub use config::DEFAULT_FILE_RESERVED_TIME;
pub use config::{FlushMode, StoreConfig, TagsCodeFn};
pub use error::StoreError;
pub use file_store::FileStore;
pub use index::{IndexConfig, IndexProgress};
pub use memory_store::MemoryStore;
pub use message_store::{CleanReport, CommitLogFloor};
pub use message_store::{
    DurableWaiter, GetRequest, GetResult, GetStatus, MessageStore, MessageToStore, PutOutcome,
    PutResult, QueueEntry,
};
pub use message_store::{KeyKind, KeyQuery, KeyQueryResult};
pub use queue_read::scan_limit;
pub use recovery::{default_tags_code_of, RecoveryStats};
/// Topic configs are protocol values; the store persists them as they are.
pub use rocketmq_protocol::body::topic_config::TopicConfig;
pub use timer::{CommitTicket, TimerCheckpoint, TimerEntry, TimerStore, TimerStoreConfig};
