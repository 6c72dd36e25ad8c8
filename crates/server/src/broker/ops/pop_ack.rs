//! ACK_MESSAGE (200051), BATCH_ACK_MESSAGE (200151), CHANGE_MESSAGE_INVISIBLETIME (200053)
//! and NOTIFICATION (200054): what a POP consumer does with its handles, and the long-polled
//! "is there something to pop".
//!
//! What must stay true:
//! - a handle is honoured only while it is the current delivery of an in-flight message of
//!   that group, topic and queue (`PopState::check`); anything else (garbage, acked already,
//!   expired, popped again since, another group's or queue's) is refused and changes
//!   nothing: garbage with SYSTEM_ERROR (what Java's parse failure answers), an offset
//!   outside the queue or a stale handle with NO_MESSAGE;
//! - a batch ack is checked whole before anything is removed;
//! - an ack or change is in the journal (fsynced under sync flush) before it is answered.

use super::pop::PopTarget;
use crate::broker::error::OpError;
use crate::broker::pop::journal::Record;
use crate::broker::pop::state::{HandleRefusal, PopKey};
use crate::broker::pop::PopService;
use crate::broker::services::Broker;
use rocketmq_protocol::code::response_code as resp;
use rocketmq_protocol::header::{
    AckMessageRequestHeader, ChangeInvisibleTimeRequestHeader, ChangeInvisibleTimeResponseHeader,
    NotificationRequestHeader,
};
use rocketmq_protocol::now_millis;
use rocketmq_protocol::pop::{BatchAckMessageRequestBody, ReceiptHandle, TopicKind};
use std::future::Future;
use std::time::Duration;

/// One handle to check: the queue key, the message's offset and the handle's pop time.
struct HandleRef {
    key: PopKey,
    offset: i64,
    pop_time: i64,
}

fn refused(r: HandleRefusal, key: &PopKey, offset: i64) -> OpError {
    OpError::new(
        resp::NO_MESSAGE,
        format!(
            "handle refused for group {} topic {} queue {} offset {offset}: {}",
            key.group,
            key.topic,
            key.queue_id,
            r.reason()
        ),
    )
}

impl Broker {
    /// Parses a handle and checks the request names an existing topic and an offset inside
    /// the handle's queue.
    fn handle_ref(
        &self,
        group: &str,
        topic: &str,
        queue_id: i32,
        extra_info: &str,
        offset: i64,
    ) -> Result<(HandleRef, ReceiptHandle), OpError> {
        let handle = ReceiptHandle::parse(extra_info).map_err(|e| {
            OpError::new(
                resp::SYSTEM_ERROR,
                format!("{e}; pass the message's POP_CK property as extraInfo"),
            )
        })?;
        let Some(config) = self.topics.get(topic) else {
            return Err(OpError::new(
                resp::TOPIC_NOT_EXIST,
                format!("topic[{topic}] not exist, apply first please!"),
            ));
        };
        if queue_id < 0 || queue_id >= config.read_queue_nums {
            return Err(OpError::new(
                resp::MESSAGE_ILLEGAL,
                format!(
                    "queueId[{queue_id}] is illegal, topic:[{topic}] topicConfig.readQueueNums:[{}]",
                    config.read_queue_nums
                ),
            ));
        }
        // Java's clients name the stored topic (the retry topic for a retried message); the
        // topic's own name with a retry handle is read the same way.
        let real = if TopicKind::of_topic(topic).is_retry() {
            topic.to_string()
        } else {
            handle.kind.real_topic(topic, group)
        };
        let min = self.store.min_offset(&real, queue_id);
        let max = self.store.max_offset(&real, queue_id);
        if offset < min || offset >= max {
            return Err(OpError::new(
                resp::NO_MESSAGE,
                format!(
                    "offset is illegal, key:{real}@{queue_id}, commit:{offset}, store:{min}~{max}"
                ),
            ));
        }
        Ok((
            HandleRef {
                key: PopKey::new(group, &real, queue_id),
                offset,
                pop_time: handle.pop_time,
            },
            handle,
        ))
    }

    /// Removes acked entries after checking every one; commits orderly progress. `refs` are
    /// grouped by queue (each a key and its (offset, pop time) handles): the acks of one
    /// queue are one journal line, one offset commit and one wake-up.
    async fn ack_refs(&self, refs: Vec<(PopKey, Vec<(i64, i64)>)>) -> Result<(), OpError> {
        let now = now_millis();
        let (result, sync) = self.pop.change(|state| {
            for (key, handles) in &refs {
                for &(offset, pop_time) in handles {
                    if let Err(e) = state.check(key, offset, pop_time, now) {
                        return (Err(refused(e, key, offset)), Vec::new());
                    }
                }
            }
            let mut records = Vec::with_capacity(refs.len());
            for (key, handles) in &refs {
                for &(offset, _) in handles {
                    state.remove(key, offset);
                }
                if let Some(c) = state.commit_offset(key) {
                    self.store
                        .commit_offset(&key.group, &key.topic, key.queue_id, c);
                }
                records.push(match handles.as_slice() {
                    [(offset, _)] => Record::Remove {
                        key: key.clone(),
                        offset: *offset,
                    },
                    _ => Record::RemoveMany {
                        key: key.clone(),
                        offsets: handles.iter().map(|h| h.0).collect(),
                    },
                });
            }
            (Ok(()), records)
        });
        PopService::make_durable(sync).await;
        if result.is_ok() {
            // An orderly queue may be free now: wake its held POPs.
            for (key, _) in &refs {
                self.notifier.notify(&key.topic, key.queue_id);
            }
        }
        result
    }

    /// ACK_MESSAGE.
    pub async fn pop_ack(&self, h: &AckMessageRequestHeader) -> Result<(), OpError> {
        let (r, _) = self.handle_ref(
            &h.consumer_group,
            &h.topic,
            h.queue_id,
            &h.extra_info,
            h.offset,
        )?;
        self.ack_refs(vec![(r.key, vec![(r.offset, r.pop_time)])])
            .await
    }

    /// BATCH_ACK_MESSAGE: every ack of the body, or none.
    pub async fn pop_batch_ack(&self, body: &BatchAckMessageRequestBody) -> Result<(), OpError> {
        let mut refs = Vec::new();
        for ack in &body.acks {
            let kind = TopicKind::parse(&ack.retry).ok_or_else(|| {
                OpError::new(
                    resp::MESSAGE_ILLEGAL,
                    format!("bad retry mark {:?} in a batch ack", ack.retry),
                )
            })?;
            if self.topics.get(&ack.topic).is_none() {
                return Err(OpError::new(
                    resp::TOPIC_NOT_EXIST,
                    format!("topic[{}] not exist, apply first please!", ack.topic),
                ));
            }
            let real = kind.real_topic(&ack.topic, &ack.consumer_group);
            let handles: Vec<(i64, i64)> = ack
                .acked_offsets()
                .into_iter()
                .map(|offset| (offset, ack.pop_time))
                .collect();
            if handles.is_empty() {
                continue;
            }
            refs.push((
                PopKey::new(&ack.consumer_group, &real, ack.queue_id),
                handles,
            ));
        }
        self.ack_refs(refs).await
    }

    /// CHANGE_MESSAGE_INVISIBLETIME: the message stays invisible `invisibleTime` ms from now
    /// (longer or shorter than before); the old handle is stale from then on.
    pub async fn pop_change_invisible(
        &self,
        h: &ChangeInvisibleTimeRequestHeader,
    ) -> Result<ChangeInvisibleTimeResponseHeader, OpError> {
        if h.invisible_time < 0 {
            return Err(OpError::new(
                resp::INVALID_PARAMETER,
                format!(
                    "invisibleTime must not be negative, got {}",
                    h.invisible_time
                ),
            ));
        }
        let (r, handle) = self.handle_ref(
            &h.consumer_group,
            &h.topic,
            h.queue_id,
            &h.extra_info,
            h.offset,
        )?;
        let now = now_millis();
        let (result, sync) = self.pop.change(|state| {
            if let Err(e) = state.check(&r.key, r.offset, r.pop_time, now) {
                return (Err(refused(e, &r.key, r.offset)), Vec::new());
            }
            let pop_time = state.fresh_pop_time(&r.key, r.offset, now);
            state.change(&r.key, r.offset, pop_time, h.invisible_time);
            let record = Record::Change {
                key: r.key.clone(),
                offset: r.offset,
                pop_time,
                invisible_time: h.invisible_time,
            };
            (Ok(pop_time), vec![record])
        });
        PopService::make_durable(sync).await;
        let pop_time = result?;
        self.pop
            .wake_revive_for(pop_time.saturating_add(h.invisible_time));
        Ok(ChangeInvisibleTimeResponseHeader {
            pop_time,
            invisible_time: h.invisible_time,
            revive_qid: handle.revive_qid,
        })
    }

    /// Whether a POP of the group would find something now (ignoring filters).
    fn pop_has_message(
        &self,
        group: &str,
        topic: &str,
        queue_id: i32,
        target: PopTarget,
        order: bool,
    ) -> bool {
        let now = now_millis();
        self.pop_queues(group, topic, queue_id, target, order, 0)
            .into_iter()
            .any(|(t, _, q)| {
                let key = PopKey::new(group, &t, q);
                let max = self.store.max_offset(&t, q);
                self.pop.read(|s| {
                    if order && s.order_blocked(&key, now, None) {
                        return false;
                    }
                    if order && !s.order_redeliveries(&key, now, None).is_empty() {
                        return true;
                    }
                    s.cursor(&key)
                        .map_or(max > self.store.min_offset(&t, q), |c| c < max)
                })
            })
    }

    /// NOTIFICATION: answers at once when the group has something to pop, else holds until
    /// it has, the poll time passes, shutdown or the caller goes away. Returns
    /// (has message, polling full).
    pub async fn pop_notification(
        &self,
        h: &NotificationRequestHeader,
        caller_gone: impl Future<Output = ()>,
    ) -> Result<(bool, bool), OpError> {
        let target = self.check_pop_target(&h.consumer_group, &h.topic, h.queue_id)?;
        let has = || self.pop_has_message(&h.consumer_group, &h.topic, h.queue_id, target, h.order);
        if has() || h.poll_time <= 0 {
            return Ok((has(), false));
        }
        let Some(_held) = self.pop.hold() else {
            return Ok((false, true));
        };
        let deadline = tokio::time::Instant::now()
            + Duration::from_millis(h.poll_time as u64).min(super::pop::MAX_POLL);
        let mut shutdown = self.shutdown.clone();
        let mut caller_gone = std::pin::pin!(caller_gone);
        loop {
            let mut receivers =
                self.pop_wakeups(&h.consumer_group, &h.topic, h.queue_id, target, h.order);
            if has() {
                return Ok((true, false));
            }
            if tokio::time::Instant::now() >= deadline {
                return Ok((false, false));
            }
            tokio::select! {
                _ = super::pop::any_changed(&mut receivers) => {}
                _ = tokio::time::sleep_until(deadline) => {}
                _ = crate::util::until_true(&mut shutdown) => return Ok((false, false)),
                _ = &mut caller_gone => return Ok((false, false)),
            }
        }
    }
}
