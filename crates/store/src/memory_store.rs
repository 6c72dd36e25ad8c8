//! An in-memory [`MessageStore`] with the same semantics as the file store (same record
//! bytes, statuses and limits; nothing survives the process). For tests of code above the
//! store; it passes the same contract suite.

use crate::error::StoreError;
use crate::message_store::CleanReport;
use crate::message_store::{
    GetRequest, GetResult, KeyQuery, KeyQueryResult, MessageStore, MessageToStore, PutOutcome,
    PutResult, QueueEntry,
};
use crate::queue_read;
use bytes::Bytes;
use rocketmq_protocol::body::topic_config::TopicConfig;
use rocketmq_protocol::message::{encode_record, peek_store_timestamp, RecordParts};
use rocketmq_protocol::now_millis;
use rocketmq_protocol::sysflag;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, RwLock};
use std::time::Duration;

#[derive(Default)]
struct State {
    /// Records by commit-log offset.
    records: BTreeMap<i64, Bytes>,
    next_offset: i64,
    last_store_timestamp: i64,
    queues: BTreeMap<(String, i32), Vec<QueueEntry>>,
    offsets: HashMap<(String, String, i32), i64>,
    topics: BTreeMap<String, TopicConfig>,
    configs: HashMap<String, String>,
    /// Retention: first readable offset of each queue (absent = 0).
    queue_mins: HashMap<(String, i32), i64>,
}

impl State {
    fn queue_min(&self, key: &(String, i32)) -> i64 {
        self.queue_mins.get(key).copied().unwrap_or(0)
    }
}

/// The in-memory store. `max_message_size` defaults to 4 MiB.
pub struct MemoryStore {
    state: RwLock<State>,
    max_message_size: usize,
    shut_down: AtomicBool,
    /// Records older than this go at [`MessageStore::clean_now`] (never the newest one, the
    /// twin of the file store's segment being written). `None`: never.
    file_reserved_time: Option<Duration>,
    /// Readers outside the store that hold retention back (`retain_commit_log_from`).
    floors: Mutex<Vec<crate::message_store::CommitLogFloor>>,
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryStore {
    pub fn new() -> MemoryStore {
        Self::with_max_message_size(4 * 1024 * 1024)
    }

    pub fn with_max_message_size(max_message_size: usize) -> MemoryStore {
        MemoryStore {
            state: RwLock::new(State::default()),
            max_message_size,
            shut_down: AtomicBool::new(false),
            file_reserved_time: Some(crate::config::DEFAULT_FILE_RESERVED_TIME),
            floors: Mutex::new(Vec::new()),
        }
    }

    /// The store with another reserved time for [`MessageStore::clean_now`].
    pub fn with_file_reserved_time(mut self, reserved: Option<Duration>) -> MemoryStore {
        self.file_reserved_time = reserved;
        self
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(|e| e.into_inner())
    }
}

fn record_of(st: &State, e: &QueueEntry) -> Option<Bytes> {
    st.records
        .get(&e.commit_log_offset)
        .filter(|r| r.len() == e.size as usize)
        .cloned()
}

impl MessageStore for MemoryStore {
    fn put_messages(&self, msgs: Vec<MessageToStore>) -> Result<PutOutcome, StoreError> {
        if self.shut_down.load(Ordering::Acquire) {
            return Err(StoreError::ShutDown);
        }
        for m in &msgs {
            if !crate::consume_queue::valid_queue_topic(&m.topic) {
                return Err(StoreError::MessageIllegal(format!(
                    "topic {:?} cannot be stored",
                    m.topic
                )));
            }
            if m.body.len() > self.max_message_size {
                return Err(StoreError::MessageIllegal(format!(
                    "message body of {} bytes exceeds the maximum of {} bytes",
                    m.body.len(),
                    self.max_message_size
                )));
            }
        }
        let mut st = self.write();
        let now = now_millis().max(st.last_store_timestamp);
        st.last_store_timestamp = now;
        // Encode everything first so an illegal message leaves the store untouched.
        let mut staged = Vec::with_capacity(msgs.len());
        let mut next = st.next_offset;
        let mut queue_next: HashMap<(String, i32), i64> = HashMap::new();
        for m in &msgs {
            let dispatched = sysflag::is_dispatched(m.sys_flag);
            let key = (m.topic.clone(), m.queue_id);
            let qo = if dispatched {
                let base = st.queues.get(&key).map(|q| q.len() as i64).unwrap_or(0);
                let slot = queue_next.entry(key).or_insert(base);
                let qo = *slot;
                *slot += 1;
                Some(qo)
            } else {
                None
            };
            let parts = RecordParts {
                queue_id: m.queue_id,
                flag: m.flag,
                queue_offset: qo.unwrap_or(0),
                physical_offset: next,
                sys_flag: m.sys_flag,
                born_timestamp: m.born_timestamp,
                born_host: m.born_host,
                store_timestamp: now,
                store_host: m.store_host,
                reconsume_times: m.reconsume_times,
                prepared_transaction_offset: m.prepared_transaction_offset,
                body: &m.body,
                topic: &m.topic,
                properties: &m.properties,
            };
            let mut buf = Vec::new();
            let len = encode_record(&parts, &mut buf)
                .map_err(|e| StoreError::MessageIllegal(e.to_string()))?;
            staged.push((next, Bytes::from(buf), qo, m.tags_code));
            next += len as i64;
        }
        let mut results = Vec::with_capacity(staged.len());
        for ((offset, rec, qo, tags_code), m) in staged.into_iter().zip(&msgs) {
            let size = rec.len() as i32;
            st.records.insert(offset, rec);
            if qo.is_some() {
                st.queues
                    .entry((m.topic.clone(), m.queue_id))
                    .or_default()
                    .push(QueueEntry {
                        commit_log_offset: offset,
                        size,
                        tags_code,
                    });
            }
            results.push(PutResult {
                commit_log_offset: offset,
                queue_offset: qo.unwrap_or(-1),
                size,
                store_timestamp: now,
            });
        }
        st.next_offset = next;
        Ok(PutOutcome {
            results,
            durable: None,
        })
    }

    fn get_messages(&self, req: &GetRequest<'_>, filter: &dyn Fn(i64) -> bool) -> GetResult {
        let st = self.read();
        let key = (req.topic.to_string(), req.queue_id);
        let Some(q) = st.queues.get(&key) else {
            return queue_read::no_queue();
        };
        queue_read::get_messages(
            req,
            filter,
            st.queue_min(&key),
            q.len() as i64,
            |n| q.get(usize::try_from(n).ok()?).copied(),
            |e| record_of(&st, e),
        )
    }

    fn queue_entry(&self, topic: &str, queue_id: i32, offset: i64) -> Option<QueueEntry> {
        let st = self.read();
        let key = (topic.to_string(), queue_id);
        if offset < st.queue_min(&key) {
            return None;
        }
        st.queues
            .get(&key)?
            .get(usize::try_from(offset).ok()?)
            .copied()
    }

    fn read_record(&self, commit_log_offset: i64) -> Option<Bytes> {
        self.read().records.get(&commit_log_offset).cloned()
    }

    fn max_offset(&self, topic: &str, queue_id: i32) -> i64 {
        self.read()
            .queues
            .get(&(topic.to_string(), queue_id))
            .map(|q| q.len() as i64)
            .unwrap_or(0)
    }

    fn min_offset(&self, topic: &str, queue_id: i32) -> i64 {
        self.read().queue_min(&(topic.to_string(), queue_id))
    }

    fn earliest_store_time(&self, topic: &str, queue_id: i32) -> Option<i64> {
        let st = self.read();
        let key = (topic.to_string(), queue_id);
        let min = usize::try_from(st.queue_min(&key)).ok()?;
        let e = st.queues.get(&key)?.get(min)?;
        record_of(&st, e).and_then(|r| peek_store_timestamp(&r))
    }

    fn offset_by_time(&self, topic: &str, queue_id: i32, timestamp: i64, upper: bool) -> i64 {
        let st = self.read();
        let key = (topic.to_string(), queue_id);
        let Some(q) = st.queues.get(&key) else {
            return 0;
        };
        queue_read::offset_by_time(st.queue_min(&key), q.len() as i64, timestamp, upper, |n| {
            let e = q.get(usize::try_from(n).ok()?)?;
            record_of(&st, e).and_then(|r| peek_store_timestamp(&r))
        })
    }

    fn max_commit_log_offset(&self) -> i64 {
        self.read().next_offset
    }

    fn queues(&self) -> Vec<(String, i32)> {
        self.read().queues.keys().cloned().collect()
    }

    /// A scan of every record, newest first (the twin has no index; the same matching rules).
    fn query_by_key(&self, q: &KeyQuery<'_>) -> KeyQueryResult {
        let st = self.read();
        let mut out = KeyQueryResult::default();
        if let Some((&off, rec)) = st.records.iter().next_back() {
            out.index_last_update_phy_offset = off;
            out.index_last_update_timestamp = peek_store_timestamp(rec).unwrap_or(0);
        }
        for rec in st.records.values().rev() {
            if out.records.len() >= q.max_num {
                break;
            }
            let matches = rocketmq_protocol::message::view_record(rec, false).is_ok_and(|v| {
                crate::index::keys::record_matches(
                    &v,
                    q.topic,
                    q.key,
                    q.kind,
                    q.begin_timestamp,
                    q.end_timestamp,
                )
            });
            if matches {
                out.records.push(rec.clone());
            }
        }
        out
    }

    fn commit_offset(&self, group: &str, topic: &str, queue_id: i32, offset: i64) {
        self.write()
            .offsets
            .insert((group.to_string(), topic.to_string(), queue_id), offset);
    }

    fn committed_offset(&self, group: &str, topic: &str, queue_id: i32) -> Option<i64> {
        self.read()
            .offsets
            .get(&(group.to_string(), topic.to_string(), queue_id))
            .copied()
    }

    fn topic_config(&self, topic: &str) -> Option<TopicConfig> {
        self.read().topics.get(topic).cloned()
    }

    fn put_topic_config(&self, config: TopicConfig) -> Result<(), StoreError> {
        self.write()
            .topics
            .insert(config.topic_name.clone(), config);
        Ok(())
    }

    fn topic_configs(&self) -> Vec<TopicConfig> {
        self.read().topics.values().cloned().collect()
    }

    fn load_config(&self, name: &str) -> Option<String> {
        self.read().configs.get(name).cloned()
    }

    fn save_config(&self, name: &str, json: &str) -> Result<(), StoreError> {
        if !crate::atomic_file::valid_config_name(name) {
            return Err(StoreError::MessageIllegal(format!(
                "bad config name {name:?}"
            )));
        }
        self.write()
            .configs
            .insert(name.to_string(), json.to_string());
        Ok(())
    }

    fn clean_now(&self) -> Result<CleanReport, StoreError> {
        // The floors may call the store: ask them before taking its lock.
        let floors = self
            .floors
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let needed = floors.iter().filter_map(|floor| floor()).min();
        let mut st = self.write();
        let mut report = CleanReport::default();
        if let Some(keep) = self.file_reserved_time {
            let cutoff = now_millis().saturating_sub(keep.as_millis() as i64);
            while st.records.len() > 1 {
                let Some((&offset, record)) = st.records.first_key_value() else {
                    break;
                };
                if peek_store_timestamp(record).is_none_or(|t| t > cutoff)
                    || needed.is_some_and(|n| offset >= n)
                {
                    break;
                }
                st.records.remove(&offset);
                report.segments_removed += 1;
            }
        }
        let min = st.records.keys().next().copied().unwrap_or(st.next_offset);
        let mins: Vec<_> = st
            .queues
            .iter()
            .map(|(key, q)| {
                let first = q.partition_point(|e| e.commit_log_offset < min) as i64;
                (key.clone(), first)
            })
            .collect();
        for (key, first) in mins {
            let slot = st.queue_mins.entry(key).or_insert(0);
            *slot = (*slot).max(first);
        }
        report.min_commit_log_offset = min;
        Ok(report)
    }

    fn min_commit_log_offset(&self) -> i64 {
        let st = self.read();
        st.records.keys().next().copied().unwrap_or(st.next_offset)
    }

    fn retain_commit_log_from(&self, floor: crate::message_store::CommitLogFloor) {
        self.floors
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(floor);
    }

    fn flush(&self) -> Result<(), StoreError> {
        Ok(())
    }

    fn shutdown(&self) {
        self.shut_down.store(true, Ordering::Release);
    }
}
