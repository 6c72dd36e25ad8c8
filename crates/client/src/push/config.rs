//! What a push consumer is told at start: [`PushConsumerConfig`] (group, model, threads,
//! flow-control limits, intervals) and its [`Subscription`]s.
//!
//! Defaults follow the Java client's (pull batch 32, 1000 messages or 100 MiB in flight per
//! queue, rebalance every 20 s, offsets committed every 5 s).

use crate::filter::MessageFilter;
use std::path::PathBuf;
use std::time::Duration;

/// Where a group without a committed offset starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConsumeFrom {
    LastOffset,
    FirstOffset,
    /// The first message stored at or after this time (epoch milliseconds), found with
    /// SEARCH_OFFSET_BY_TIMESTAMP per queue.
    Timestamp(i64),
}

#[derive(Clone, Debug)]
pub struct PushConsumerConfig {
    pub group: String,
    pub broadcasting: bool,
    pub orderly: bool,
    pub consume_from: ConsumeFrom,
    /// Dispatcher threads that run the listener.
    pub thread_count: usize,
    /// Messages handed to the listener per batch.
    pub batch_max_size: usize,
    pub pull_batch_size: i32,
    /// Pulled but unacknowledged messages per queue before pulling pauses.
    pub max_cached_per_queue: usize,
    /// Body bytes of pulled but unacknowledged messages per queue before pulling pauses
    /// (Java's `pullThresholdSizeForQueue`). A queue with nothing in flight always pulls,
    /// so one pull batch may pass the limit: a single huge message never stalls a queue.
    pub max_cached_bytes_per_queue: usize,
    pub max_reconsume_times: i32,
    pub long_poll: Duration,
    pub rebalance_interval: Duration,
    pub heartbeat_interval: Duration,
    pub persist_interval: Duration,
    /// Pause after a failed pull before the next one.
    pub pull_error_backoff: Duration,
    /// Pause before an orderly queue re-delivers a message that failed.
    pub orderly_retry_pause: Duration,
    /// Directory for broadcasting offsets (`<dir>/<group>/offsets.json`).
    pub local_offset_dir: PathBuf,
}

impl Default for PushConsumerConfig {
    fn default() -> Self {
        PushConsumerConfig {
            group: "DEFAULT_CONSUMER".into(),
            broadcasting: false,
            orderly: false,
            consume_from: ConsumeFrom::LastOffset,
            thread_count: 4,
            batch_max_size: 1,
            pull_batch_size: 32,
            max_cached_per_queue: 1000,
            max_cached_bytes_per_queue: 100 << 20,
            max_reconsume_times: 16,
            long_poll: Duration::from_secs(15),
            rebalance_interval: Duration::from_secs(20),
            heartbeat_interval: Duration::from_secs(30),
            persist_interval: Duration::from_secs(5),
            pull_error_backoff: Duration::from_secs(1),
            orderly_retry_pause: Duration::from_secs(1),
            local_offset_dir: default_offset_dir(),
        }
    }
}

fn default_offset_dir() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir)
        .join(".rocketmq_offsets")
}

/// One subscription: a topic and its filter (a tag or SQL92 expression).
#[derive(Clone, Debug)]
pub struct Subscription {
    pub topic: String,
    pub filter: MessageFilter,
}
