//! Wake-ups for long polling: a per-queue version counter bumped after every append.
//!
//! [`NotifyingStore`] wraps the real store so that *every* writer (sends, the delay service
//! redelivering, send-back) wakes the pulls held on the queues it wrote to; nobody has to
//! remember to call it.
//!
//! What must stay true: a held pull subscribes to its queue *before* re-reading the store, so
//! an append that lands between the read and the wait is never missed.

use bytes::Bytes;
use rocketmq_store::CleanReport;
use rocketmq_store::{
    GetRequest, GetResult, KeyQuery, KeyQueryResult, MessageStore, MessageToStore, PutOutcome,
    QueueEntry, StoreError, TopicConfig,
};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::watch;

#[derive(Default)]
pub struct QueueNotifier {
    queues: Mutex<HashMap<(String, i32), watch::Sender<u64>>>,
}

impl QueueNotifier {
    /// A receiver that changes whenever something is appended to the queue.
    pub fn subscribe(&self, topic: &str, queue_id: i32) -> watch::Receiver<u64> {
        let mut map = self.queues.lock().unwrap_or_else(|p| p.into_inner());
        map.entry((topic.to_string(), queue_id))
            .or_insert_with(|| watch::channel(0).0)
            .subscribe()
    }

    /// Wakes every pull held on the queue (no-op when nobody ever waited on it).
    pub fn notify(&self, topic: &str, queue_id: i32) {
        let map = self.queues.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(tx) = map.get(&(topic.to_string(), queue_id)) {
            tx.send_modify(|v| *v = v.wrapping_add(1));
        }
    }
}

/// A [`MessageStore`] that wakes held pulls after each successful append.
pub struct NotifyingStore {
    inner: Arc<dyn MessageStore>,
    notifier: Arc<QueueNotifier>,
}

impl NotifyingStore {
    pub fn new(inner: Arc<dyn MessageStore>, notifier: Arc<QueueNotifier>) -> Self {
        NotifyingStore { inner, notifier }
    }
}

impl MessageStore for NotifyingStore {
    fn put_messages(&self, msgs: Vec<MessageToStore>) -> Result<PutOutcome, StoreError> {
        let mut touched: Vec<(String, i32)> = Vec::with_capacity(1);
        for m in &msgs {
            if !touched
                .iter()
                .any(|(t, q)| *t == m.topic && *q == m.queue_id)
            {
                touched.push((m.topic.clone(), m.queue_id));
            }
        }
        let outcome = self.inner.put_messages(msgs)?;
        for (topic, queue_id) in touched {
            self.notifier.notify(&topic, queue_id);
        }
        Ok(outcome)
    }
    fn get_messages(&self, req: &GetRequest<'_>, filter: &dyn Fn(i64) -> bool) -> GetResult {
        self.inner.get_messages(req, filter)
    }
    fn queue_entry(&self, topic: &str, queue_id: i32, offset: i64) -> Option<QueueEntry> {
        self.inner.queue_entry(topic, queue_id, offset)
    }
    fn read_record(&self, commit_log_offset: i64) -> Option<Bytes> {
        self.inner.read_record(commit_log_offset)
    }
    fn max_offset(&self, topic: &str, queue_id: i32) -> i64 {
        self.inner.max_offset(topic, queue_id)
    }
    fn min_offset(&self, topic: &str, queue_id: i32) -> i64 {
        self.inner.min_offset(topic, queue_id)
    }
    fn earliest_store_time(&self, topic: &str, queue_id: i32) -> Option<i64> {
        self.inner.earliest_store_time(topic, queue_id)
    }
    fn offset_by_time(&self, topic: &str, queue_id: i32, timestamp: i64, upper: bool) -> i64 {
        self.inner.offset_by_time(topic, queue_id, timestamp, upper)
    }
    fn max_commit_log_offset(&self) -> i64 {
        self.inner.max_commit_log_offset()
    }
    fn queues(&self) -> Vec<(String, i32)> {
        self.inner.queues()
    }
    fn query_by_key(&self, q: &KeyQuery<'_>) -> KeyQueryResult {
        self.inner.query_by_key(q)
    }
    fn commit_offset(&self, group: &str, topic: &str, queue_id: i32, offset: i64) {
        self.inner.commit_offset(group, topic, queue_id, offset)
    }
    fn committed_offset(&self, group: &str, topic: &str, queue_id: i32) -> Option<i64> {
        self.inner.committed_offset(group, topic, queue_id)
    }
    fn topic_config(&self, topic: &str) -> Option<TopicConfig> {
        self.inner.topic_config(topic)
    }
    fn put_topic_config(&self, config: TopicConfig) -> Result<(), StoreError> {
        self.inner.put_topic_config(config)
    }
    fn topic_configs(&self) -> Vec<TopicConfig> {
        self.inner.topic_configs()
    }
    fn load_config(&self, name: &str) -> Option<String> {
        self.inner.load_config(name)
    }
    fn save_config(&self, name: &str, json: &str) -> Result<(), StoreError> {
        self.inner.save_config(name, json)
    }
    fn clean_now(&self) -> Result<CleanReport, StoreError> {
        self.inner.clean_now()
    }
    fn min_commit_log_offset(&self) -> i64 {
        self.inner.min_commit_log_offset()
    }
    fn retain_commit_log_from(&self, floor: rocketmq_store::CommitLogFloor) {
        self.inner.retain_commit_log_from(floor)
    }
    fn flush(&self) -> Result<(), StoreError> {
        self.inner.flush()
    }
    fn shutdown(&self) {
        self.inner.shutdown()
    }
}
