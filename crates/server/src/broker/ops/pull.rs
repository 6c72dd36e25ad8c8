//! The pull operation: PULL_MESSAGE (11) and LITE_PULL_MESSAGE (361), with long polling.
//!
//! What must stay true:
//! - every outcome carries `next_begin_offset`, `min_offset` and `max_offset`, errors included
//!   (cpp throws on answers without them);
//! - store status -> outcome and next offset follow spec 3.3 ("Store status -> response code
//!   and nextBeginOffset");
//! - a pull with the suspend bit that finds nothing is held: it subscribes to its queue
//!   before re-reading, re-runs on every append to the queue, and ends as soon as something is
//!   found, when `suspendTimeoutMillis` has passed, at shutdown or when the caller goes away;
//! - errors of suspend-flagged pulls are delayed about a second: cpp re-pulls at once after
//!   any answer and would otherwise spin;
//! - the offset commit (sysFlag bit 0) happens on the first read only;
//! - the filter (tag set or SQL92, [`MessageFilter`]) comes from the header when it carries
//!   the subscription, else from the group's heartbeat; an SQL92 pull reads on past messages
//!   that do not match until it has `maxMsgNums` matches or has looked at
//!   [`rocketmq_store::scan_limit`] entries, as Java's store counts only matches;
//!   the offsets of skipped messages are passed over (`nextBeginOffset` after them);
//! - a held pull wakes only for a message that matches: appended messages that do not are
//!   passed over while it waits; at the timeout it answers PULL_RETRY_IMMEDIATELY with the
//!   offset after them when it passed any, else PULL_NOT_FOUND.

use crate::broker::error::OpError;
use crate::broker::message_filter::MessageFilter;
use crate::broker::services::Broker;
use crate::broker::topic::validate_group_name;
use bytes::{BufMut, Bytes, BytesMut};
use rocketmq_protocol::body::topic_config::perm;
use rocketmq_protocol::code::response_code as resp;
use rocketmq_protocol::header::PullMessageRequestHeader;
use rocketmq_protocol::message::view_record;
use rocketmq_store::{GetRequest, GetResult, GetStatus};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// Most messages one pull returns (Java's in-memory limit).
pub const MAX_PULL_MSGS: i32 = 32;
/// Most bytes one pull returns (Java's in-memory limit).
pub const MAX_PULL_BYTES: usize = 256 * 1024;
/// Upper bound on how long a pull is held, whatever the client asks.
pub const MAX_SUSPEND: Duration = Duration::from_secs(120);
/// Delay of error answers to suspend-flagged pulls.
pub const ERROR_ANSWER_DELAY: Duration = Duration::from_secs(1);

/// What a pull found (the non-error outcomes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PullStatus {
    /// Messages are in [`PullOutcome::messages`] (SUCCESS).
    Found,
    /// Nothing new at the offset (PULL_NOT_FOUND).
    NoNewMessage,
    /// Entries were there but none matched the filter (PULL_RETRY_IMMEDIATELY).
    NoMatchedMessage,
    /// The offset is outside the queue; start again at the next offset (PULL_OFFSET_MOVED).
    OffsetIllegal,
}

/// The result of one pull. Errors carry the queue bounds too.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PullOutcome {
    pub status: Result<PullStatus, OpError>,
    /// The store's status name (`FOUND`, `OFFSET_OVERFLOW_ONE`, ...) for non-errors.
    pub store_status: &'static str,
    pub next_begin_offset: i64,
    pub min_offset: i64,
    pub max_offset: i64,
    /// The matching records, back to back in the stored layout.
    pub messages: Bytes,
}

fn status_name(s: GetStatus) -> &'static str {
    match s {
        GetStatus::Found => "FOUND",
        GetStatus::NoMatchedMessage => "NO_MATCHED_MESSAGE",
        GetStatus::NoMatchedLogicQueue => "NO_MATCHED_LOGIC_QUEUE",
        GetStatus::NoMessageInQueue => "NO_MESSAGE_IN_QUEUE",
        GetStatus::OffsetTooSmall => "OFFSET_TOO_SMALL",
        GetStatus::OffsetOverflowOne => "OFFSET_OVERFLOW_ONE",
        GetStatus::OffsetOverflowBadly => "OFFSET_OVERFLOW_BADLY",
        GetStatus::OffsetFoundNull => "OFFSET_FOUND_NULL",
    }
}

impl Broker {
    /// One pull, held while the header asks for long polling and nothing is there.
    /// `caller_gone` completes when whoever asked is no longer there to answer (its
    /// connection closed); the pull then ends at once.
    pub async fn pull(
        &self,
        header: &PullMessageRequestHeader,
        caller_gone: impl Future<Output = ()>,
    ) -> PullOutcome {
        let first = self.pull_once(header, header.queue_offset, true);
        let suspend = header.has_suspend();
        match first.status {
            Ok(PullStatus::NoNewMessage) if suspend && header.suspend_timeout_millis > 0 => {
                self.hold_pull(header, caller_gone).await
            }
            Ok(_) => first,
            Err(_) => {
                if suspend {
                    self.pause_before_pull_error(caller_gone).await;
                }
                first
            }
        }
    }

    /// Waits [`ERROR_ANSWER_DELAY`] (less at shutdown or when the caller goes away) before a
    /// suspend-flagged pull is told it failed.
    pub async fn pause_before_pull_error(&self, caller_gone: impl Future<Output = ()>) {
        let mut shutdown = self.shutdown.clone();
        tokio::select! {
            _ = tokio::time::sleep(ERROR_ANSWER_DELAY) => {}
            _ = crate::util::until_true(&mut shutdown) => {}
            _ = caller_gone => {}
        }
    }

    async fn hold_pull(
        &self,
        header: &PullMessageRequestHeader,
        caller_gone: impl Future<Output = ()>,
    ) -> PullOutcome {
        let timeout =
            Duration::from_millis(header.suspend_timeout_millis.max(0) as u64).min(MAX_SUSPEND);
        let deadline = Instant::now() + timeout;
        // Subscribe first, then re-read: an append between the two still wakes us.
        let mut appended = self.notifier.subscribe(&header.topic, header.queue_id);
        let mut shutdown = self.shutdown.clone();
        let mut caller_gone = std::pin::pin!(caller_gone);
        // Where the next read starts: past appended messages that did not match.
        let mut offset = header.queue_offset;
        // The answer for "only non-matching messages arrived": retry after them.
        let mut passed_over: Option<PullOutcome> = None;
        loop {
            let mut outcome = self.pull_once(header, offset, false);
            if outcome.status == Ok(PullStatus::NoMatchedMessage) {
                // More entries than one read looks at may have arrived: read on at once.
                let read_on = outcome.next_begin_offset > offset
                    && outcome.next_begin_offset < outcome.max_offset;
                offset = outcome.next_begin_offset;
                passed_over = Some(outcome.clone());
                if read_on && Instant::now() < deadline {
                    tokio::task::yield_now().await;
                    continue;
                }
                outcome.status = Ok(PullStatus::NoNewMessage);
            }
            if outcome.status != Ok(PullStatus::NoNewMessage) {
                return outcome;
            }
            let outcome = passed_over.clone().unwrap_or(outcome);
            if Instant::now() >= deadline {
                return outcome;
            }
            tokio::select! {
                changed = appended.changed() => {
                    if changed.is_err() {
                        return outcome;
                    }
                }
                _ = tokio::time::sleep_until(deadline) => {}
                _ = crate::util::until_true(&mut shutdown) => return outcome,
                _ = &mut caller_gone => return outcome,
            }
        }
    }

    /// An error outcome with the queue's current bounds.
    fn pull_error(
        &self,
        header: &PullMessageRequestHeader,
        code: i32,
        remark: impl Into<String>,
    ) -> PullOutcome {
        let (min_offset, max_offset) = if header.queue_id >= 0 {
            (
                self.store.min_offset(&header.topic, header.queue_id),
                self.store.max_offset(&header.topic, header.queue_id),
            )
        } else {
            (0, 0)
        };
        PullOutcome {
            status: Err(OpError::new(code, remark)),
            store_status: "",
            next_begin_offset: header.queue_offset,
            min_offset,
            max_offset,
            messages: Bytes::new(),
        }
    }

    /// The filter of a pull: from the header when it carries the subscription, else from the
    /// group's last heartbeat (Java's codes: SUBSCRIPTION_PARSE_FAILED for a header expression
    /// that does not build, FILTER_DATA_NOT_EXIST for a heartbeat one, SYSTEM_ERROR for SQL92
    /// while it is off).
    fn pull_filter(
        &self,
        header: &PullMessageRequestHeader,
    ) -> Result<Arc<MessageFilter>, PullOutcome> {
        let topic = header.topic.as_str();
        if header.has_subscription() {
            return self
                .build_message_filter(
                    header.expression_type.as_deref(),
                    header.subscription.as_deref().unwrap_or("*"),
                )
                .map_err(|e| {
                    let remark = if e.code == resp::SUBSCRIPTION_PARSE_FAILED {
                        format!("parse the consumer's subscription failed: {}", e.remark)
                    } else {
                        e.remark
                    };
                    self.pull_error(header, e.code, remark)
                });
        }
        match self.clients.subscription_filter(&header.consumer_group, topic) {
            None => Err(self.pull_error(
                header,
                resp::SUBSCRIPTION_NOT_EXIST,
                format!(
                    "the consumer's group info not exist: group {} has no live consumer (send a heartbeat first)",
                    header.consumer_group
                ),
            )),
            Some(None) => Err(self.pull_error(
                header,
                resp::SUBSCRIPTION_NOT_EXIST,
                format!(
                    "the consumer's subscription not exist: group {} does not subscribe to {topic}",
                    header.consumer_group
                ),
            )),
            Some(Some((sub, filter))) => {
                if sub.sub_version < header.sub_version {
                    return Err(self.pull_error(
                        header,
                        resp::SUBSCRIPTION_NOT_LATEST,
                        "the consumer's subscription not latest",
                    ));
                }
                let filter = filter.map_err(|e| {
                    self.pull_error(
                        header,
                        resp::FILTER_DATA_NOT_EXIST,
                        format!(
                            "The broker's consumer filter data is not exist!Your expression may be wrong! {}",
                            e.remark
                        ),
                    )
                })?;
                self.allows_filter(&filter)
                    .map_err(|e| self.pull_error(header, e.code, e.remark))?;
                Ok(filter)
            }
        }
    }

    /// Reads up to `max_msgs` matching records from `offset`: one store read filtered by tags
    /// code, then (SQL92, or a tag set whose hash codes collide) each record checked on its
    /// properties; an SQL92 read goes on past non-matching records within the scan limit.
    /// Returns the first read's result (for status and bounds), the records kept and the
    /// offset after the last record looked at.
    fn read_matching(
        &self,
        request: &GetRequest<'_>,
        filter: &MessageFilter,
    ) -> (GetResult, BytesMut, usize, i64) {
        let code_filter = |code: i64| filter.matches_code(code);
        let first = self.store.get_messages(request, &code_filter);
        let mut body = BytesMut::new();
        let mut kept = 0usize;
        let mut next = first.next_begin_offset;
        if first.status != GetStatus::Found {
            return (first, body, kept, next);
        }
        let max_msgs = request.max_msgs.max(1) as usize;
        let scan_end = request
            .offset
            .saturating_add(rocketmq_store::scan_limit(request.max_msgs));
        let keep = |records: &[Bytes], body: &mut BytesMut, kept: &mut usize| {
            for record in records {
                let matches = filter.is_all()
                    || match view_record(record, false) {
                        Ok(view) => filter.matches_properties(view.properties),
                        Err(_) => true,
                    };
                if matches {
                    body.put_slice(record);
                    *kept += 1;
                }
            }
        };
        keep(&first.messages, &mut body, &mut kept);
        while filter.is_sql92()
            && kept < max_msgs
            && body.len() < request.max_bytes
            && next < scan_end.min(first.max_offset)
        {
            let more = self.store.get_messages(
                &GetRequest {
                    offset: next,
                    max_msgs: (max_msgs - kept) as i32,
                    max_bytes: request.max_bytes - body.len(),
                    ..*request
                },
                &code_filter,
            );
            if !matches!(more.status, GetStatus::Found | GetStatus::NoMatchedMessage)
                || more.next_begin_offset <= next
            {
                break;
            }
            keep(&more.messages, &mut body, &mut kept);
            next = more.next_begin_offset;
        }
        (first, body, kept, next)
    }

    /// One read of the queue with every check; never waits.
    fn pull_once(
        &self,
        header: &PullMessageRequestHeader,
        offset: i64,
        first_processing: bool,
    ) -> PullOutcome {
        let topic = header.topic.as_str();
        // Java checks the subscription group first; a name it could not auto-create means the
        // group does not exist.
        if let Err(refusal) = validate_group_name(&header.consumer_group) {
            return self.pull_error(header, refusal.code, refusal.remark);
        }
        let group = match self.pull_group_check(header) {
            Ok(group) => group,
            Err((code, remark)) => return self.pull_error(header, code, remark),
        };
        let Some(config) = self.topics.get(topic) else {
            return self.pull_error(
                header,
                resp::TOPIC_NOT_EXIST,
                format!("topic[{topic}] not exist, apply first please!"),
            );
        };
        if config.perm & perm::READ == 0 {
            return self.pull_error(
                header,
                resp::NO_PERMISSION,
                format!("the topic[{topic}] pulling message is forbidden"),
            );
        }
        if header.queue_id < 0 || header.queue_id >= config.read_queue_nums {
            return self.pull_error(
                header,
                resp::INVALID_PARAMETER,
                format!(
                    "queueId[{}] is illegal, topic:[{topic}] topicConfig.readQueueNums:[{}]",
                    header.queue_id, config.read_queue_nums
                ),
            );
        }
        if let Err((code, remark)) = self.pull_broadcast_check(header, &group) {
            return self.pull_error(header, code, remark);
        }
        let filter = match self.pull_filter(header) {
            Ok(f) => f,
            Err(outcome) => return outcome,
        };

        if first_processing && header.has_commit_offset() && header.commit_offset >= 0 {
            self.store.commit_offset(
                &header.consumer_group,
                topic,
                header.queue_id,
                header.commit_offset,
            );
        }

        let max_msgs = if header.max_msg_nums <= 0 {
            MAX_PULL_MSGS
        } else {
            header.max_msg_nums.min(MAX_PULL_MSGS)
        };
        let max_bytes = header
            .max_msg_bytes
            .filter(|b| *b > 0)
            .map_or(MAX_PULL_BYTES, |b| (b as usize).min(MAX_PULL_BYTES));
        let (result, body, _kept, read_to) = self.read_matching(
            &GetRequest {
                topic,
                queue_id: header.queue_id,
                offset,
                max_msgs,
                max_bytes,
            },
            &filter,
        );

        let (status, next) = match result.status {
            GetStatus::Found => (PullStatus::Found, read_to),
            GetStatus::NoMatchedMessage => (PullStatus::NoMatchedMessage, result.next_begin_offset),
            GetStatus::NoMatchedLogicQueue | GetStatus::NoMessageInQueue => {
                let status = if offset != 0 {
                    PullStatus::OffsetIllegal
                } else {
                    PullStatus::NoNewMessage
                };
                (status, 0)
            }
            GetStatus::OffsetTooSmall => (PullStatus::OffsetIllegal, result.min_offset),
            GetStatus::OffsetOverflowOne => (PullStatus::NoNewMessage, offset),
            GetStatus::OffsetOverflowBadly => (PullStatus::OffsetIllegal, result.max_offset),
            GetStatus::OffsetFoundNull => (PullStatus::NoNewMessage, result.next_begin_offset),
        };
        // The topic exists, so its queues do: a queue nothing was written to yet is an empty
        // queue, as Java (which creates consume queues on first look) calls it.
        let store_status = match result.status {
            GetStatus::NoMatchedLogicQueue => status_name(GetStatus::NoMessageInQueue),
            other => status_name(other),
        };
        let mut outcome = PullOutcome {
            status: Ok(status),
            store_status,
            next_begin_offset: next,
            min_offset: result.min_offset,
            max_offset: result.max_offset,
            messages: Bytes::new(),
        };
        if status == PullStatus::Found {
            if body.is_empty() {
                outcome.status = Ok(PullStatus::NoMatchedMessage);
                outcome.store_status = status_name(GetStatus::NoMatchedMessage);
            } else {
                outcome.messages = body.freeze();
            }
        }
        outcome
    }
}
