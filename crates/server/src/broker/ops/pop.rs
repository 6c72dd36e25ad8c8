//! POP_MESSAGE (200050): hand out up to `maxMsgNums` messages of a topic's queues (and of
//! the group's POP retry topic) that stay invisible to the group until acked or until their
//! invisible time passes, with long polling.
//!
//! What must stay true:
//! - a queue is read and its delivery recorded under the POP lock, so two poppers of one
//!   group never get the same message;
//! - normal POP: the cursor moves past what was handed out (and past what the filter
//!   skipped) and is committed as the group's offset, as Java commits it; what is not acked
//!   in time comes back through the revive (`pop_revive`) from the POP retry topic;
//! - orderly POP: a queue with an invisible message in flight hands out nothing; once its
//!   time passed the same messages are handed out again (count + 1) before anything newer;
//!   the committed offset stays at the oldest unacked message;
//! - messages of the retry topic are answered under the topic's name and carry their
//!   `POP_CK` handle (Java's `popResponseReturnActualRetryTopic=false`); messages of the
//!   topic carry none (clients build it from the answer's summaries);
//! - under sync flush the delivery is in the fsynced journal before the answer leaves.

use crate::broker::error::OpError;
use crate::broker::message_filter::MessageFilter;
use crate::broker::pop::journal::{attempt_field, Record};
use crate::broker::pop::state::PopKey;
use crate::broker::pop::PopService;
use crate::broker::services::Broker;
use crate::broker::topic::validate_group_name;
use bytes::{Bytes, BytesMut};
use rocketmq_protocol::body::topic_config::attributes::{user_message_type, MESSAGE_TYPE};
use rocketmq_protocol::body::topic_config::perm;
use rocketmq_protocol::code::response_code as resp;
use rocketmq_protocol::header::{pop_init_mode, PopMessageRequestHeader, PopMessageResponseHeader};
use rocketmq_protocol::message::{decode_stored, encode_stored, view_record};
use rocketmq_protocol::now_millis;
use rocketmq_protocol::pop::{
    pop_retry_topic, MsgOffsetInfo, OrderCountInfo, ReceiptHandle, StartOffsetInfo, TopicKind,
    POP_ORDER_REVIVE_QUEUE, RETRY_TOPIC_V2_BY_DEFAULT,
};
use rocketmq_protocol::properties::{get_property, set_property, POP_CK};
use rocketmq_store::{GetRequest, GetStatus};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

/// Most messages one POP hands out (Java refuses more).
pub const MAX_POP_MSGS: i32 = 32;
/// Java's `reviveQueueNum`: normal POP answers carry a revive queue id below it.
pub const REVIVE_QUEUE_NUM: u64 = 8;
/// Upper bound on how long a POP or NOTIFICATION is held, whatever the client asks.
pub const MAX_POLL: Duration = Duration::from_secs(120);
/// How late (beyond its poll time) a POP may arrive before it is refused (Java's 500 ms).
pub const TIMEOUT_TOO_MUCH_MS: i64 = 500;
/// Every this many POPs reads the retry topic first (Java: `popFromRetryProbability` 20%).
const RETRY_FIRST_EVERY: u64 = 5;

/// The answer to a POP: the code (SUCCESS, POLLING_TIMEOUT or POLLING_FULL), its header and
/// the messages in the stored layout.
#[derive(Clone, Debug)]
pub struct PopOutcome {
    pub code: i32,
    pub remark: String,
    pub header: PopMessageResponseHeader,
    pub messages: Bytes,
    /// How many messages `messages` holds.
    pub count: usize,
}

/// The group's POP retry topic for `topic` (V1 naming, as Apache 5.5 by default).
pub fn pop_retry_topic_of(topic: &str, group: &str) -> String {
    pop_retry_topic(topic, group, RETRY_TOPIC_V2_BY_DEFAULT)
}

/// The filter of a POP: its tag expression or SQL92 selector (`expType`, `exp`), built as a
/// pull's is, so both refuse alike (an invalid selector, SQL92 switched off). The one place a
/// POP's filter is built.
pub fn pop_filter(
    broker: &Broker,
    h: &PopMessageRequestHeader,
) -> Result<Arc<MessageFilter>, OpError> {
    let expression = h.exp.as_deref().filter(|e| !e.is_empty()).unwrap_or("*");
    broker
        .build_message_filter(h.exp_type.as_deref(), expression)
        .map_err(|e| OpError::new(e.code, e.remark))
}

/// What one POP takes from one queue.
struct Taken {
    kind: TopicKind,
    queue_id: i32,
    /// (queue offset, record, orderly delivery count)
    messages: Vec<(i64, Bytes, i32)>,
}

/// Completes when any of `receivers` changes.
pub(crate) async fn any_changed(receivers: &mut [tokio::sync::watch::Receiver<u64>]) {
    let mut waits: Vec<Pin<Box<_>>> = receivers
        .iter_mut()
        .map(|r| Box::pin(r.changed()))
        .collect();
    std::future::poll_fn(|cx| {
        for w in waits.iter_mut() {
            if w.as_mut().poll(cx).is_ready() {
                return Poll::Ready(());
            }
        }
        Poll::Pending
    })
    .await
}

/// What a POP reads of its topic, from the topic's config.
#[derive(Clone, Copy, Debug)]
pub(crate) struct PopTarget {
    pub(crate) read_queues: i32,
    /// A `PRIORITY` topic: queues are read from the last (highest priority) down.
    pub(crate) by_priority: bool,
}

impl Broker {
    /// Checks a POP's group, topic and queue; returns what the POP reads of the topic.
    pub(crate) fn check_pop_target(
        &self,
        group: &str,
        topic: &str,
        queue_id: i32,
    ) -> Result<PopTarget, OpError> {
        validate_group_name(group).map_err(|r| OpError::new(r.code, r.remark))?;
        let Some(config) = self.topics.get(topic) else {
            return Err(OpError::new(
                resp::TOPIC_NOT_EXIST,
                format!("topic[{topic}] not exist, apply first please!"),
            ));
        };
        if config.perm & perm::READ == 0 {
            return Err(OpError::new(
                resp::NO_PERMISSION,
                format!("the topic[{topic}] peeking message is forbidden"),
            ));
        }
        if queue_id >= config.read_queue_nums {
            return Err(OpError::new(
                resp::INVALID_PARAMETER,
                format!(
                    "queueId[{queue_id}] is illegal, topic:[{topic}] topicConfig.readQueueNums:[{}]",
                    config.read_queue_nums
                ),
            ));
        }
        // The group's config, created on first use as Java's `autoCreateSubscriptionGroup`.
        let Some(group_config) = self.subscription_group_on_use(group) else {
            return Err(OpError::new(
                resp::SUBSCRIPTION_GROUP_NOT_EXIST,
                format!("subscription group [{group}] does not exist"),
            ));
        };
        if !group_config.consume_enable {
            return Err(OpError::new(
                resp::NO_PERMISSION,
                format!(
                    "subscription group no permission, {group} (consumeEnable is false: update the group to consume)"
                ),
            ));
        }
        let message_type = config.attributes.get(MESSAGE_TYPE);
        Ok(PopTarget {
            read_queues: config.read_queue_nums,
            by_priority: message_type.and_then(|t| user_message_type(t)) == Some("PRIORITY"),
        })
    }

    /// The queues a POP or NOTIFICATION reads: (stored topic, kind, queue id).
    pub(crate) fn pop_queues(
        &self,
        group: &str,
        topic: &str,
        queue_id: i32,
        target: PopTarget,
        order: bool,
        rotation: u64,
    ) -> Vec<(String, TopicKind, i32)> {
        let read_queues = target.read_queues;
        // A PRIORITY topic's queues are read from the last (highest priority) down, and its
        // retry topic after them, as Apache's broker does with its default priority factor.
        let by_priority = target.by_priority && !order && queue_id < 0;
        let mut out: Vec<(String, TopicKind, i32)> = if queue_id >= 0 {
            vec![(topic.to_string(), TopicKind::Normal, queue_id)]
        } else if by_priority {
            (0..read_queues.max(0))
                .rev()
                .map(|q| (topic.to_string(), TopicKind::Normal, q))
                .collect()
        } else {
            let n = read_queues.max(0);
            (0..n)
                .map(|i| {
                    let q = ((rotation % n.max(1) as u64) as i32 + i) % n.max(1);
                    (topic.to_string(), TopicKind::Normal, q)
                })
                .collect()
        };
        if !order {
            let retry = pop_retry_topic_of(topic, group);
            if let Some(c) = self.topics.get(&retry) {
                let retry_queues =
                    (0..c.read_queue_nums).map(|q| (retry.clone(), TopicKind::of_topic(&retry), q));
                if rotation.is_multiple_of(RETRY_FIRST_EVERY) && !by_priority {
                    out.splice(0..0, retry_queues);
                } else {
                    out.extend(retry_queues);
                }
            }
        }
        out
    }

    /// Where a group that never popped a queue starts (Java's init modes; a retry topic
    /// always from its beginning; a committed offset, e.g. of a reset, first).
    fn pop_start_offset(&self, key: &PopKey, init_mode: i32) -> i64 {
        if let Some(c) = self
            .store
            .committed_offset(&key.group, &key.topic, key.queue_id)
        {
            return c;
        }
        let min = self.store.min_offset(&key.topic, key.queue_id);
        if init_mode == pop_init_mode::MIN || TopicKind::of_topic(&key.topic).is_retry() {
            return min;
        }
        // Java's MAX starts at the end unless the queue's first message is still in memory
        // (`initPopOffsetByCheckMsgInMem`): a queue that still holds its first message.
        if min <= 0 {
            0
        } else {
            self.store.max_offset(&key.topic, key.queue_id)
        }
    }

    /// One POP, held while it finds nothing and the request asks for long polling.
    pub async fn pop(
        &self,
        h: &PopMessageRequestHeader,
        caller_gone: impl Future<Output = ()>,
    ) -> Result<PopOutcome, OpError> {
        let now = now_millis();
        // Java's `isTimeoutTooMuch`: the request waited (in the client, the network) more
        // than half a second beyond its poll time.
        if now
            .saturating_sub(h.born_time)
            .saturating_sub(h.poll_time.max(0))
            > TIMEOUT_TOO_MUCH_MS
        {
            return Err(OpError::new(
                resp::POLLING_TIMEOUT,
                format!(
                    "the broker[{}] pop message is timeout too much (born {} ms ago, poll time {} ms)",
                    self.store_host.ip(),
                    now.saturating_sub(h.born_time),
                    h.poll_time
                ),
            ));
        }
        if h.max_msg_nums > MAX_POP_MSGS {
            return Err(OpError::new(
                resp::INVALID_PARAMETER,
                format!(
                    "the broker[{}] pop message's num is greater than {MAX_POP_MSGS}",
                    self.store_host.ip()
                ),
            ));
        }
        let target = self.check_pop_target(&h.consumer_group, &h.topic, h.queue_id)?;
        let filter = pop_filter(self, h)?;
        let first = self.pop_once(h, target, &filter).await;
        if first.count > 0 || h.poll_time <= 0 {
            return Ok(first);
        }
        let Some(_held) = self.pop.hold() else {
            return Ok(PopOutcome {
                code: resp::POLLING_FULL,
                remark: "the broker holds too many POP requests".into(),
                ..first
            });
        };
        let wait = Duration::from_millis(h.poll_time as u64).min(MAX_POLL);
        let deadline = tokio::time::Instant::now() + wait;
        let mut shutdown = self.shutdown.clone();
        let mut caller_gone = std::pin::pin!(caller_gone);
        loop {
            // Subscribe first, then re-read: an append between the two still wakes us.
            let mut receivers =
                self.pop_wakeups(&h.consumer_group, &h.topic, h.queue_id, target, h.order);
            let outcome = self.pop_once(h, target, &filter).await;
            if outcome.count > 0 || tokio::time::Instant::now() >= deadline {
                return Ok(outcome);
            }
            let wake_at = self
                .pop_next_visible(&h.consumer_group, &h.topic)
                .map(|at| {
                    let ms = at.saturating_sub(now_millis()).max(1) as u64;
                    (tokio::time::Instant::now() + Duration::from_millis(ms)).min(deadline)
                })
                .unwrap_or(deadline);
            tokio::select! {
                _ = any_changed(&mut receivers) => {}
                _ = tokio::time::sleep_until(wake_at) => {}
                _ = crate::util::until_true(&mut shutdown) => return Ok(outcome),
                _ = &mut caller_gone => return Ok(outcome),
            }
        }
    }

    /// Receivers that change on an append to any queue a POP reads, including the retry
    /// topic's queue before that topic exists (the first revive creates it).
    pub(crate) fn pop_wakeups(
        &self,
        group: &str,
        topic: &str,
        queue_id: i32,
        target: PopTarget,
        order: bool,
    ) -> Vec<tokio::sync::watch::Receiver<u64>> {
        let mut receivers: Vec<_> = self
            .pop_queues(group, topic, queue_id, target, order, 0)
            .iter()
            .map(|(t, _, q)| self.notifier.subscribe(t, *q))
            .collect();
        if !order {
            receivers.push(
                self.notifier
                    .subscribe(&pop_retry_topic_of(topic, group), 0),
            );
        }
        receivers
    }

    /// When the next orderly in-flight message of the group on `topic` becomes visible.
    pub(crate) fn pop_next_visible(&self, group: &str, topic: &str) -> Option<i64> {
        self.pop.read(|s| {
            s.queues()
                .filter(|(k, _)| k.group == group && k.topic == topic)
                .flat_map(|(_, q)| q.in_flight.values())
                .filter(|e| e.order)
                .map(|e| e.visible_at())
                .min()
        })
    }

    /// One pass over the queues; never waits except for the journal's fsync.
    async fn pop_once(
        &self,
        h: &PopMessageRequestHeader,
        target: PopTarget,
        filter: &MessageFilter,
    ) -> PopOutcome {
        let rotation = self.pop.next_counter();
        let revive_qid = if h.order {
            POP_ORDER_REVIVE_QUEUE
        } else {
            (rotation % REVIVE_QUEUE_NUM) as i32
        };
        let max = if h.max_msg_nums <= 0 {
            1
        } else {
            h.max_msg_nums
        };
        let pop_time = now_millis();
        let mut left = max;
        let mut taken: Vec<Taken> = Vec::new();
        let mut rest: i64 = 0;
        let mut to_sync = None;
        let queues = self.pop_queues(
            &h.consumer_group,
            &h.topic,
            h.queue_id,
            target,
            h.order,
            rotation,
        );
        for (topic, kind, queue_id) in queues {
            let key = PopKey::new(&h.consumer_group, &topic, queue_id);
            if left <= 0 {
                let cursor = self.pop.read(|s| s.cursor(&key));
                if let Some(c) = cursor {
                    rest += (self.store.max_offset(&topic, queue_id) - c).max(0);
                }
                continue;
            }
            let attempt = attempt_field(h.attempt_id.as_deref());
            let ((got, queue_rest), sync) = self.pop.change(|state| {
                let mut records = Vec::new();
                let start = match state.cursor(&key) {
                    Some(c) => c,
                    None => {
                        let s = self.pop_start_offset(&key, h.init_mode);
                        state.advance(&key, s);
                        records.push(Record::Cursor {
                            key: key.clone(),
                            next: s,
                        });
                        s
                    }
                };
                let mut messages: Vec<(i64, Bytes)> = Vec::new();
                if h.order {
                    if state.order_blocked(&key, pop_time, attempt.as_deref()) {
                        return ((Vec::new(), 0), records);
                    }
                    for offset in state.order_redeliveries(&key, pop_time, attempt.as_deref()) {
                        if messages.len() as i32 >= left {
                            break;
                        }
                        if let Some(record) = self.read_one(&topic, queue_id, offset) {
                            messages.push((offset, record));
                        } else {
                            // Gone from the store (retention): nothing to hand out again.
                            state.remove(&key, offset);
                            records.push(Record::Remove {
                                key: key.clone(),
                                offset,
                            });
                        }
                    }
                }
                let mut next = None;
                let room = left - messages.len() as i32;
                if room > 0 {
                    let (found, n) = self.pop_read_matching(&topic, queue_id, start, room, filter);
                    messages.extend(found);
                    next = n;
                }
                let offsets: Vec<i64> = messages.iter().map(|(o, _)| *o).collect();
                let counts = state.record_pop(
                    &key,
                    &offsets,
                    pop_time,
                    h.invisible_time,
                    h.order,
                    attempt.as_deref(),
                );
                if let Some(n) = next {
                    state.advance(&key, n);
                }
                if !offsets.is_empty() || next.is_some_and(|n| n != start) {
                    records.push(Record::Pop {
                        key: key.clone(),
                        offsets,
                        pop_time,
                        invisible_time: h.invisible_time,
                        order: h.order,
                        next,
                        attempt: if h.order { attempt.clone() } else { None },
                    });
                }
                if let Some(commit) = state.commit_offset(&key) {
                    self.store
                        .commit_offset(&key.group, &key.topic, queue_id, commit);
                }
                let cursor = state.cursor(&key).unwrap_or(start);
                let queue_rest = (self.store.max_offset(&topic, queue_id) - cursor).max(0);
                let got: Vec<(i64, Bytes, i32)> = messages
                    .into_iter()
                    .zip(counts)
                    .map(|((o, r), c)| (o, r, c))
                    .collect();
                ((got, queue_rest), records)
            });
            rest += queue_rest;
            if sync.is_some() {
                to_sync = sync;
            }
            if !got.is_empty() {
                left -= got.len() as i32;
                taken.push(Taken {
                    kind,
                    queue_id,
                    messages: got,
                });
            }
        }
        PopService::make_durable(to_sync).await;
        if taken.iter().any(|t| !t.messages.is_empty()) {
            self.pop
                .wake_revive_for(pop_time.saturating_add(h.invisible_time));
        }
        self.pop_answer(h, taken, pop_time, revive_qid, rest)
    }

    /// Reads the record at `offset` of a queue.
    fn read_one(&self, topic: &str, queue_id: i32, offset: i64) -> Option<Bytes> {
        let r = self.store.get_messages(
            &GetRequest {
                topic,
                queue_id,
                offset,
                max_msgs: 1,
                max_bytes: usize::MAX,
            },
            &|_| true,
        );
        (r.status == GetStatus::Found && r.queue_offsets.first() == Some(&offset))
            .then(|| r.messages.into_iter().next())
            .flatten()
    }

    /// Reads up to `max` matching messages from `start`; returns them and the cursor after
    /// the read (None: nothing to move).
    fn pop_read_matching(
        &self,
        topic: &str,
        queue_id: i32,
        start: i64,
        max: i32,
        filter: &MessageFilter,
    ) -> (Vec<(i64, Bytes)>, Option<i64>) {
        let mut offset = start;
        let mut found = Vec::new();
        // A few reads at most: each either finds, moves past non-matching entries, or stops.
        for _ in 0..4 {
            let r = self.store.get_messages(
                &GetRequest {
                    topic,
                    queue_id,
                    offset,
                    max_msgs: max - found.len() as i32,
                    max_bytes: super::pull::MAX_PULL_BYTES,
                },
                &|code| filter.matches_code(code),
            );
            match r.status {
                GetStatus::Found => {
                    for (record, o) in r.messages.into_iter().zip(r.queue_offsets) {
                        let keep = filter.is_all()
                            || view_record(&record, false)
                                .map(|v| filter.matches_properties(v.properties))
                                .unwrap_or(true);
                        if keep {
                            found.push((o, record));
                        }
                    }
                    offset = r.next_begin_offset;
                }
                GetStatus::NoMatchedMessage | GetStatus::OffsetFoundNull => {
                    if r.next_begin_offset <= offset {
                        break;
                    }
                    offset = r.next_begin_offset;
                }
                GetStatus::OffsetTooSmall => offset = r.min_offset,
                _ => break,
            }
            if found.len() as i32 >= max {
                break;
            }
        }
        (found, (offset != start).then_some(offset))
    }

    fn pop_answer(
        &self,
        h: &PopMessageRequestHeader,
        taken: Vec<Taken>,
        pop_time: i64,
        revive_qid: i32,
        rest: i64,
    ) -> PopOutcome {
        let mut start_info = StartOffsetInfo::default();
        let mut msg_info = MsgOffsetInfo::default();
        let mut order_info = OrderCountInfo::default();
        let size: usize = taken
            .iter()
            .flat_map(|t| t.messages.iter())
            .map(|m| m.1.len())
            .sum();
        // Retry-topic records grow by their handle when re-encoded.
        let mut body = BytesMut::with_capacity(size + 256);
        let mut count = 0;
        for t in taken {
            let first = t.messages.first().map_or(0, |m| m.0);
            start_info.push(t.kind, t.queue_id, first);
            msg_info.push(t.kind, t.queue_id, t.messages.iter().map(|m| m.0).collect());
            if h.order {
                // Java's `ConsumerOrderInfoManager.update`: one entry per message handed out
                // before, then the queue's smallest count (0 when anything is new).
                for (offset, _, c) in t.messages.iter().filter(|m| m.2 > 0) {
                    order_info.push_message(t.kind, t.queue_id, *offset, *c);
                }
                let min = t.messages.iter().map(|m| m.2).min().unwrap_or(0);
                order_info.push_queue(t.kind, t.queue_id, min);
            }
            for (offset, record, _) in t.messages {
                count += 1;
                if t.kind == TopicKind::Normal {
                    body.extend_from_slice(&record);
                    continue;
                }
                let handle = ReceiptHandle {
                    ck_queue_offset: first,
                    pop_time,
                    invisible_time: h.invisible_time,
                    revive_qid,
                    kind: t.kind,
                    broker_name: self.config.broker_name.clone(),
                    queue_id: t.queue_id,
                    queue_offset: Some(offset),
                };
                match self.as_topic(&record, &h.topic, &handle) {
                    Some(r) => body.extend_from_slice(&r),
                    None => body.extend_from_slice(&record),
                }
            }
        }
        let found = count > 0;
        PopOutcome {
            code: if found {
                resp::SUCCESS
            } else {
                resp::POLLING_TIMEOUT
            },
            remark: if found {
                "FOUND"
            } else {
                "NO_MESSAGE_IN_QUEUE"
            }
            .into(),
            header: PopMessageResponseHeader {
                pop_time,
                invisible_time: h.invisible_time,
                revive_qid,
                rest_num: rest,
                start_offset_info: Some(start_info.encode()),
                msg_offset_info: Some(msg_info.encode()),
                order_count_info: h.order.then(|| order_info.encode()),
            },
            messages: body.freeze(),
            count,
        }
    }

    /// A retry-topic record re-encoded under the topic's name with its `POP_CK` handle.
    fn as_topic(&self, record: &[u8], topic: &str, handle: &ReceiptHandle) -> Option<Vec<u8>> {
        let (mut m, _) = decode_stored(record).ok()?;
        if get_property(&m.properties, POP_CK).is_none() {
            m.properties = set_property(&m.properties, POP_CK, &handle.encode());
        }
        m.topic = topic.to_string();
        encode_stored(&m).ok()
    }
}
