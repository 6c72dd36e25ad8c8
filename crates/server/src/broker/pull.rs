//! PULL_MESSAGE (11) and LITE_PULL_MESSAGE (361), with long polling.
//!
//! What must stay true:
//! - every answer carries `suggestWhichBrokerId`, `nextBeginOffset`, `minOffset` and
//!   `maxOffset` as strings, error answers included (cpp throws without them);
//! - store status -> code and nextBeginOffset follow spec 3.3 ("Store status -> response
//!   code and nextBeginOffset");
//! - a pull with the suspend bit that finds nothing is held: it subscribes to its queue
//!   before re-reading, re-runs on every append to the queue, and is answered (0, 19 or 20)
//!   as soon as something is found or when `suspendTimeoutMillis` has passed;
//! - error answers to suspend-flagged pulls are delayed about a second: cpp re-pulls at once
//!   after any answer and would otherwise spin;
//! - the offset commit (sysFlag bit 0) happens on first processing only.

use super::filter::SubscriptionExpression;
use super::Broker;
use bytes::{BufMut, BytesMut};
use rocketmq_protocol::body::topic_config::perm;
use rocketmq_protocol::code::response_code as resp;
use rocketmq_protocol::command::RemotingCommand;
use rocketmq_protocol::header::{PullMessageRequestHeader, PullMessageResponseHeader};
use rocketmq_protocol::message::view_record;
use rocketmq_protocol::properties::{get_property, TAGS};
use rocketmq_store::{GetRequest, GetStatus};
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
    fn pull_answer(
        &self,
        req: &RemotingCommand,
        code: i32,
        remark: impl Into<String>,
        next_begin_offset: i64,
        min_offset: i64,
        max_offset: i64,
    ) -> RemotingCommand {
        RemotingCommand::response_to(req)
            .with_code(code)
            .with_remark(remark)
            .with_header(&PullMessageResponseHeader {
                suggest_which_broker_id: 0,
                next_begin_offset,
                min_offset,
                max_offset,
                offset_delta: None,
                topic_sys_flag: None,
                group_sys_flag: None,
                forbidden_type: None,
            })
    }

    /// An error answer with the queue's current bounds in the four header fields.
    fn pull_error(
        &self,
        req: &RemotingCommand,
        header: &PullMessageRequestHeader,
        code: i32,
        remark: impl Into<String>,
    ) -> RemotingCommand {
        let (min, max) = if header.queue_id >= 0 {
            (
                self.store.min_offset(&header.topic, header.queue_id),
                self.store.max_offset(&header.topic, header.queue_id),
            )
        } else {
            (0, 0)
        };
        self.pull_answer(req, code, remark, header.queue_offset, min, max)
    }

    pub(crate) async fn pull_message(
        &self,
        conn: &crate::remoting::ConnectionHandle,
        req: &RemotingCommand,
    ) -> RemotingCommand {
        let header: PullMessageRequestHeader = match req.decode_header() {
            Ok(h) => h,
            Err(e) => {
                let suspend = req
                    .field_i32("sysFlag")
                    .is_some_and(|f| f & rocketmq_protocol::header::pull_sys_flag::SUSPEND != 0);
                let answer = self.pull_answer(req, resp::SYSTEM_ERROR, e.to_string(), 0, 0, 0);
                if suspend {
                    self.delay_error_answer(conn).await;
                }
                return answer;
            }
        };
        let first = self.pull_once(req, &header, true);
        let suspend = header.has_suspend();
        match first.code {
            resp::PULL_NOT_FOUND if suspend && header.suspend_timeout_millis > 0 => {
                self.hold_pull(conn, req, &header).await
            }
            resp::SUCCESS
            | resp::PULL_NOT_FOUND
            | resp::PULL_RETRY_IMMEDIATELY
            | resp::PULL_OFFSET_MOVED => first,
            _ => {
                if suspend {
                    self.delay_error_answer(conn).await;
                }
                first
            }
        }
    }

    async fn delay_error_answer(&self, conn: &crate::remoting::ConnectionHandle) {
        let mut shutdown = self.shutdown.clone();
        tokio::select! {
            _ = tokio::time::sleep(ERROR_ANSWER_DELAY) => {}
            _ = crate::util::until_true(&mut shutdown) => {}
            _ = conn.closed() => {}
        }
    }

    async fn hold_pull(
        &self,
        conn: &crate::remoting::ConnectionHandle,
        req: &RemotingCommand,
        header: &PullMessageRequestHeader,
    ) -> RemotingCommand {
        let timeout =
            Duration::from_millis(header.suspend_timeout_millis.max(0) as u64).min(MAX_SUSPEND);
        let deadline = Instant::now() + timeout;
        // Subscribe first, then re-read: an append between the two still wakes us.
        let mut appended = self.notifier.subscribe(&header.topic, header.queue_id);
        let mut shutdown = self.shutdown.clone();
        loop {
            let answer = self.pull_once(req, header, false);
            if answer.code != resp::PULL_NOT_FOUND || Instant::now() >= deadline {
                return answer;
            }
            tokio::select! {
                changed = appended.changed() => {
                    if changed.is_err() {
                        return answer;
                    }
                }
                _ = tokio::time::sleep_until(deadline) => {}
                _ = crate::util::until_true(&mut shutdown) => return answer,
                _ = conn.closed() => return answer,
            }
        }
    }

    /// One read of the queue with every check; never waits.
    fn pull_once(
        &self,
        req: &RemotingCommand,
        header: &PullMessageRequestHeader,
        first_processing: bool,
    ) -> RemotingCommand {
        let topic = header.topic.as_str();
        let Some(config) = self.topics.get(topic) else {
            return self.pull_error(
                req,
                header,
                resp::TOPIC_NOT_EXIST,
                format!("topic[{topic}] not exist, apply first please!"),
            );
        };
        if config.perm & perm::READ == 0 {
            return self.pull_error(
                req,
                header,
                resp::NO_PERMISSION,
                format!("the topic[{topic}] pulling message is forbidden"),
            );
        }
        if header.queue_id < 0 || header.queue_id >= config.read_queue_nums {
            return self.pull_error(
                req,
                header,
                resp::INVALID_PARAMETER,
                format!(
                    "queueId[{}] is illegal, topic:[{topic}] topicConfig.readQueueNums:[{}]",
                    header.queue_id, config.read_queue_nums
                ),
            );
        }

        let expression = if header.has_subscription() {
            if header
                .expression_type
                .as_deref()
                .is_some_and(|t| !t.eq_ignore_ascii_case("TAG"))
            {
                return self.pull_error(
                    req,
                    header,
                    resp::SUBSCRIPTION_PARSE_FAILED,
                    "only TAG expressions are supported by this broker",
                );
            }
            SubscriptionExpression::parse(header.subscription.as_deref().unwrap_or("*"))
        } else {
            match self.clients.subscription(&header.consumer_group, topic) {
                None => {
                    return self.pull_error(
                        req,
                        header,
                        resp::SUBSCRIPTION_NOT_EXIST,
                        format!(
                            "the consumer's group info not exist: group {} has no live consumer (send a heartbeat first)",
                            header.consumer_group
                        ),
                    )
                }
                Some(None) => {
                    return self.pull_error(
                        req,
                        header,
                        resp::SUBSCRIPTION_NOT_EXIST,
                        format!(
                            "the consumer's subscription not exist: group {} does not subscribe to {topic}",
                            header.consumer_group
                        ),
                    )
                }
                Some(Some(sub)) => {
                    if sub.sub_version < header.sub_version {
                        return self.pull_error(
                            req,
                            header,
                            resp::SUBSCRIPTION_NOT_LATEST,
                            "the consumer's subscription not latest",
                        );
                    }
                    if !sub.expression_type.is_empty()
                        && !sub.expression_type.eq_ignore_ascii_case("TAG")
                    {
                        return self.pull_error(
                            req,
                            header,
                            resp::SUBSCRIPTION_PARSE_FAILED,
                            "only TAG expressions are supported by this broker",
                        );
                    }
                    SubscriptionExpression::parse(&sub.sub_string)
                }
            }
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
        let (code, next) = match result.status {
            GetStatus::Found => (resp::SUCCESS, result.next_begin_offset),
            GetStatus::NoMatchedMessage => (resp::PULL_RETRY_IMMEDIATELY, result.next_begin_offset),
            GetStatus::NoMatchedLogicQueue | GetStatus::NoMessageInQueue => {
                let code = if offset != 0 {
                    resp::PULL_OFFSET_MOVED
                } else {
                    resp::PULL_NOT_FOUND
                };
                (code, 0)
            }
            GetStatus::OffsetTooSmall => (resp::PULL_OFFSET_MOVED, result.min_offset),
            GetStatus::OffsetOverflowOne => (resp::PULL_NOT_FOUND, offset),
            GetStatus::OffsetOverflowBadly => (resp::PULL_OFFSET_MOVED, result.max_offset),
            GetStatus::OffsetFoundNull => (resp::PULL_NOT_FOUND, result.next_begin_offset),
        };
        let mut answer = self.pull_answer(
            req,
            code,
            status_name(result.status),
            next,
            result.min_offset,
            result.max_offset,
        );
        if code == resp::SUCCESS {
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
                answer.code = resp::PULL_RETRY_IMMEDIATELY;
                answer.set_remark(status_name(GetStatus::NoMatchedMessage));
            } else {
                answer.body = body.freeze();
            }
        }
        answer
    }
}
