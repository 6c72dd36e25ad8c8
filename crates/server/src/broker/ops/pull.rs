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
//! - the offset commit (sysFlag bit 0) happens on the first read only.

use crate::broker::error::OpError;
use crate::broker::filter::SubscriptionExpression;
use crate::broker::services::Broker;
use crate::broker::topic::validate_group_name;
use bytes::{BufMut, Bytes, BytesMut};
use rocketmq_protocol::body::topic_config::perm;
use rocketmq_protocol::code::response_code as resp;
use rocketmq_protocol::header::PullMessageRequestHeader;
use rocketmq_protocol::message::view_record;
use rocketmq_protocol::properties::{get_property, TAGS};
use rocketmq_store::{GetRequest, GetStatus};
use std::future::Future;
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
        let first = self.pull_once(header, true);
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
        loop {
            let outcome = self.pull_once(header, false);
            if outcome.status != Ok(PullStatus::NoNewMessage) || Instant::now() >= deadline {
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
    /// group's last heartbeat.
    fn pull_filter(
        &self,
        header: &PullMessageRequestHeader,
    ) -> Result<SubscriptionExpression, PullOutcome> {
        let topic = header.topic.as_str();
        if header.has_subscription() {
            if header
                .expression_type
                .as_deref()
                .is_some_and(|t| !t.eq_ignore_ascii_case("TAG"))
            {
                return Err(self.pull_error(
                    header,
                    resp::SUBSCRIPTION_PARSE_FAILED,
                    "only TAG expressions are supported by this broker",
                ));
            }
            return Ok(SubscriptionExpression::parse(
                header.subscription.as_deref().unwrap_or("*"),
            ));
        }
        match self.clients.subscription(&header.consumer_group, topic) {
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
            Some(Some(sub)) => {
                if sub.sub_version < header.sub_version {
                    return Err(self.pull_error(
                        header,
                        resp::SUBSCRIPTION_NOT_LATEST,
                        "the consumer's subscription not latest",
                    ));
                }
                if !sub.expression_type.is_empty()
                    && !sub.expression_type.eq_ignore_ascii_case("TAG")
                {
                    return Err(self.pull_error(
                        header,
                        resp::SUBSCRIPTION_PARSE_FAILED,
                        "only TAG expressions are supported by this broker",
                    ));
                }
                Ok(SubscriptionExpression::parse(&sub.sub_string))
            }
        }
    }

    /// One read of the queue with every check; never waits.
    fn pull_once(&self, header: &PullMessageRequestHeader, first_processing: bool) -> PullOutcome {
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
        let expression = match self.pull_filter(header) {
            Ok(e) => e,
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
        let result = self.store.get_messages(
            &GetRequest {
                topic,
                queue_id: header.queue_id,
                offset: header.queue_offset,
                max_msgs,
                max_bytes,
            },
            &|code| expression.matches_code(code),
        );

        let offset = header.queue_offset;
        let (status, next) = match result.status {
            GetStatus::Found => (PullStatus::Found, result.next_begin_offset),
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
            // Exact re-check: hash collisions pass the consume-queue filter.
            let mut body = BytesMut::new();
            for record in &result.messages {
                let keep = expression.is_all()
                    || match view_record(record, false) {
                        Ok(view) => expression.matches_tag(get_property(view.properties, TAGS)),
                        Err(_) => true,
                    };
                if keep {
                    body.put_slice(record);
                }
            }
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
