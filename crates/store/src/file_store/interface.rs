//! `MessageStore` for `FileStore`: each operation handed to the path that implements it
//! (append, read, maintenance), or answered here when it is a lookup.

use super::state::FileStore;
use crate::atomic_file::{read_optional, valid_config_name, write_atomic};
use crate::error::StoreError;
use crate::message_store::CleanReport;
use crate::message_store::{
    GetRequest, GetResult, KeyQuery, KeyQueryResult, MessageStore, MessageToStore, PutOutcome,
    QueueEntry,
};
use bytes::Bytes;
use rocketmq_protocol::body::topic_config::TopicConfig;
use std::path::PathBuf;

impl MessageStore for FileStore {
    fn put_messages(&self, msgs: Vec<MessageToStore>) -> Result<PutOutcome, StoreError> {
        self.inner.append(msgs)
    }

    fn get_messages(&self, req: &GetRequest<'_>, filter: &dyn Fn(i64) -> bool) -> GetResult {
        self.inner.get_messages(req, filter)
    }

    fn queue_entry(&self, topic: &str, queue_id: i32, offset: i64) -> Option<QueueEntry> {
        self.inner.queue(topic, queue_id)?.get(offset)
    }

    fn read_record(&self, commit_log_offset: i64) -> Option<Bytes> {
        if commit_log_offset < 0 {
            return None;
        }
        self.inner.commit_log.read_record(commit_log_offset as u64)
    }

    fn max_offset(&self, topic: &str, queue_id: i32) -> i64 {
        self.inner
            .queue(topic, queue_id)
            .map(|q| q.max_offset())
            .unwrap_or(0)
    }

    fn min_offset(&self, topic: &str, queue_id: i32) -> i64 {
        self.inner
            .queue(topic, queue_id)
            .map(|q| q.min_offset())
            .unwrap_or(0)
    }

    fn earliest_store_time(&self, topic: &str, queue_id: i32) -> Option<i64> {
        self.inner.earliest_store_time(topic, queue_id)
    }

    fn offset_by_time(&self, topic: &str, queue_id: i32, timestamp: i64, upper: bool) -> i64 {
        self.inner.offset_by_time(topic, queue_id, timestamp, upper)
    }

    fn max_commit_log_offset(&self) -> i64 {
        self.inner.commit_log.max_offset() as i64
    }

    fn queues(&self) -> Vec<(String, i32)> {
        self.inner
            .queues
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .keys()
            .cloned()
            .collect()
    }

    fn query_by_key(&self, q: &KeyQuery<'_>) -> KeyQueryResult {
        let Some(index) = &self.inner.index else {
            return KeyQueryResult::default();
        };
        let log = &self.inner.commit_log;
        index.query(q, log.max_offset(), |off| {
            u64::try_from(off).ok().and_then(|o| log.read_record(o))
        })
    }

    fn commit_offset(&self, group: &str, topic: &str, queue_id: i32, offset: i64) {
        self.inner.offsets.commit(group, topic, queue_id, offset);
    }

    fn committed_offset(&self, group: &str, topic: &str, queue_id: i32) -> Option<i64> {
        self.inner.offsets.get(group, topic, queue_id)
    }

    fn topic_config(&self, topic: &str) -> Option<TopicConfig> {
        self.inner.topics.get(topic)
    }

    fn put_topic_config(&self, config: TopicConfig) -> Result<(), StoreError> {
        self.inner.topics.put(config)
    }

    fn topic_configs(&self) -> Vec<TopicConfig> {
        self.inner.topics.all()
    }

    fn load_config(&self, name: &str) -> Option<String> {
        if !valid_config_name(name) {
            return None;
        }
        let path = self
            .inner
            .config
            .root
            .join("config")
            .join(format!("{name}.json"));
        read_optional(&path).ok().flatten()
    }

    fn save_config(&self, name: &str, json: &str) -> Result<(), StoreError> {
        if !valid_config_name(name) {
            return Err(StoreError::MessageIllegal(format!(
                "bad config name {name:?}"
            )));
        }
        let path: PathBuf = self
            .inner
            .config
            .root
            .join("config")
            .join(format!("{name}.json"));
        write_atomic(&path, json.as_bytes())
    }

    fn clean_now(&self) -> Result<CleanReport, StoreError> {
        // Only flushed segments may go: flush first so that "now" means now.
        self.inner.flush_commit_log_counted()?;
        self.inner.clean_pass()
    }

    fn min_commit_log_offset(&self) -> i64 {
        self.inner.commit_log.min_offset() as i64
    }

    fn retain_commit_log_from(&self, floor: crate::message_store::CommitLogFloor) {
        self.inner
            .retention
            .floors
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(floor);
    }

    fn flush(&self) -> Result<(), StoreError> {
        self.inner.flush_all()
    }

    fn shutdown(&self) {
        self.close_cleanly();
    }
}
