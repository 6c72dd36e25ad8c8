//! The append path (`MessageStore::put_messages`):
//! 1. validate and encode every record outside any lock (offsets and store time left 0);
//! 2. under the append lock: lay out the records and create any commit-log segment or
//!    consume-queue file they need (a full disk fails here, before anything is written);
//!    assign queue offsets and a non-decreasing store timestamp, patch them in, copy the
//!    records into the mapped segments, write the consume-queue entries, publish the
//!    commit-log end, then the consume-queue ends;
//! 3. under sync flush, register the end offset with the group commit and hand the waiter out.
//!
//! Invariant: dispatch happens under the same lock as the copy, so a reader never sees a
//! consume-queue entry whose record is not written.

use super::state::{check_topic, Inner, QueueKey};
use crate::config::FlushMode;
use crate::consume_queue::ConsumeQueue;
use crate::error::StoreError;
use crate::message_store::{MessageToStore, PutOutcome, PutResult, QueueEntry};
use rocketmq_protocol::message::{
    encode_record, pos_store_timestamp, RecordParts, POS_PHYSICAL_OFFSET, POS_QUEUE_OFFSET,
    POS_SYS_FLAG,
};
use rocketmq_protocol::now_millis;
use rocketmq_protocol::sysflag;
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;

struct Encoded {
    start: usize,
    len: usize,
    sys_flag: i32,
    dispatched: bool,
}

impl Inner {
    /// The write path of `MessageStore::put_messages` (steps in the module docs).
    pub(super) fn append(&self, msgs: Vec<MessageToStore>) -> Result<PutOutcome, StoreError> {
        let inner = self;
        if inner.shut_down.load(Ordering::Acquire) {
            return Err(StoreError::ShutDown);
        }
        inner.retention.disk.check_writable()?;
        if msgs.is_empty() {
            return Ok(PutOutcome {
                results: Vec::new(),
                durable: None,
            });
        }
        // 1. Validate and encode outside the lock.
        let mut buf = Vec::new();
        let mut encoded = Vec::with_capacity(msgs.len());
        for m in &msgs {
            check_topic(&m.topic)?;
            if m.body.len() > inner.config.max_message_size {
                return Err(StoreError::MessageIllegal(format!(
                    "message body of {} bytes exceeds the maximum of {} bytes",
                    m.body.len(),
                    inner.config.max_message_size
                )));
            }
            let parts = RecordParts {
                queue_id: m.queue_id,
                flag: m.flag,
                queue_offset: 0,
                physical_offset: 0,
                sys_flag: m.sys_flag,
                born_timestamp: m.born_timestamp,
                born_host: m.born_host,
                store_timestamp: 0,
                store_host: m.store_host,
                reconsume_times: m.reconsume_times,
                prepared_transaction_offset: m.prepared_transaction_offset,
                body: &m.body,
                topic: &m.topic,
                properties: &m.properties,
            };
            let start = buf.len();
            let len = encode_record(&parts, &mut buf)
                .map_err(|e| StoreError::MessageIllegal(e.to_string()))?;
            let sys_flag = i32::from_be_bytes(
                buf[start + POS_SYS_FLAG..start + POS_SYS_FLAG + 4]
                    .try_into()
                    .unwrap_or([0; 4]),
            );
            encoded.push(Encoded {
                start,
                len,
                sys_flag,
                dispatched: sysflag::is_dispatched(m.sys_flag),
            });
        }
        let sizes: Vec<usize> = encoded.iter().map(|e| e.len).collect();

        // 2. Under the append lock: plan, allocate, write, dispatch, publish.
        let mut results = Vec::with_capacity(msgs.len());
        let end = {
            let mut st = inner.append.lock().unwrap_or_else(|e| e.into_inner());
            if inner.shut_down.load(Ordering::Acquire) {
                return Err(StoreError::ShutDown);
            }
            let plan = inner.commit_log.plan(&sizes)?;
            let mut next_offsets: HashMap<QueueKey, (Arc<ConsumeQueue>, i64)> = HashMap::new();
            let mut queue_offsets = Vec::with_capacity(msgs.len());
            for (m, e) in msgs.iter().zip(&encoded) {
                if !e.dispatched {
                    queue_offsets.push(None);
                    continue;
                }
                let key = (m.topic.clone(), m.queue_id);
                let slot = match next_offsets.get_mut(&key) {
                    Some(s) => s,
                    None => {
                        let cq = inner.queue_or_create(&m.topic, m.queue_id)?;
                        let max = cq.max_offset();
                        next_offsets.entry(key).or_insert((cq, max))
                    }
                };
                let qo = slot.1;
                slot.0.ensure_capacity(qo)?;
                slot.1 += 1;
                queue_offsets.push(Some((slot.0.clone(), qo)));
            }
            let now = now_millis().max(st.last_store_timestamp);
            st.last_store_timestamp = now;
            for &(off, remaining) in &plan.blanks {
                inner.commit_log.write_blank_at(off, remaining);
            }
            for (((m, e), pos), qo) in msgs
                .iter()
                .zip(&encoded)
                .zip(&plan.positions)
                .zip(&queue_offsets)
            {
                let rec = &mut buf[e.start..e.start + e.len];
                let queue_offset = qo.as_ref().map(|(_, o)| *o).unwrap_or(0);
                rec[POS_QUEUE_OFFSET..POS_QUEUE_OFFSET + 8]
                    .copy_from_slice(&queue_offset.to_be_bytes());
                rec[POS_PHYSICAL_OFFSET..POS_PHYSICAL_OFFSET + 8]
                    .copy_from_slice(&(*pos as i64).to_be_bytes());
                let ts = pos_store_timestamp(e.sys_flag);
                rec[ts..ts + 8].copy_from_slice(&now.to_be_bytes());
                if !inner.commit_log.write_at(*pos, rec) {
                    // The plan created the segment; failing here means a broken invariant.
                    return Err(StoreError::Io(std::io::Error::other(
                        "commit log segment missing for a planned write",
                    )));
                }
                if let Some((cq, o)) = qo {
                    cq.write(
                        *o,
                        &QueueEntry {
                            commit_log_offset: *pos as i64,
                            size: e.len as i32,
                            tags_code: m.tags_code,
                        },
                    );
                }
                results.push(PutResult {
                    commit_log_offset: *pos as i64,
                    queue_offset: qo.as_ref().map(|(_, o)| *o).unwrap_or(-1),
                    size: e.len as i32,
                    store_timestamp: now,
                });
            }
            inner.commit_log.publish(plan.end);
            for (cq, next) in next_offsets.values() {
                cq.publish(*next);
            }
            plan.end
        };
        if let Some(index) = &inner.index {
            index.appended();
        }

        // 3. Group commit.
        let durable = match inner.config.flush {
            FlushMode::Sync => Some(inner.group_commit.register(end)),
            FlushMode::Async => None,
        };
        Ok(PutOutcome { results, durable })
    }
}
