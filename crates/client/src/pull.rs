//! Pulling: one PULL_MESSAGE against one queue, and the offset requests around it.
//!
//! The broker filters by tag hash; hash collisions pass that check, so received messages are
//! checked again here against the exact tag set (as the Java client does). Filtered messages
//! still advance the offset. SQL92 filters are the broker's alone: every pull carries the
//! subscription (sysFlag SUBSCRIPTION bit, `subscription` and `expressionType`, subVersion 0)
//! as Java's pull consumers send it, so a broker needs no heartbeat to apply it.

use crate::error::{ClientError, Result};
use crate::filter::MessageFilter;
use crate::instance::ClientInstance;
use crate::message::MessageExt;
use crate::route::MessageQueue;
use rocketmq_protocol::code::{request_code, response_code};
use rocketmq_protocol::header::{
    pull_sys_flag, GetMaxOffsetRequestHeader, GetMinOffsetRequestHeader, OffsetResponseHeader,
    PullMessageRequestHeader, PullMessageResponseHeader, QueryConsumerOffsetRequestHeader,
    SearchOffsetRequestHeader, UpdateConsumerOffsetRequestHeader,
};
use rocketmq_protocol::message::decode_stored_all;
use rocketmq_protocol::RemotingCommand;
use std::time::Duration;

/// How often Apache's broker looks at held pulls (its PullRequestHoldService period).
const APACHE_HOLD_CHECK_PERIOD: Duration = Duration::from_secs(5);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PullStatus {
    Found,
    NoNewMsg,
    NoMatchedMsg,
    OffsetIllegal,
}

#[derive(Clone, Debug)]
pub struct PullResult {
    pub status: PullStatus,
    pub next_begin_offset: i64,
    pub min_offset: i64,
    pub max_offset: i64,
    pub messages: Vec<MessageExt>,
}

/// One pull.
#[derive(Clone, Debug)]
pub struct PullRequest {
    pub group: String,
    pub queue: MessageQueue,
    pub offset: i64,
    pub max_msgs: i32,
    pub filter: MessageFilter,
    /// Long-poll budget: the broker holds the request up to this long when nothing is there.
    pub suspend: Option<Duration>,
    /// Commit this offset in the same request.
    pub commit_offset: Option<i64>,
}

/// Largest inflated body accepted from a broker.
const MAX_INFLATED_BODY: usize = 64 * 1024 * 1024;

impl ClientInstance {
    fn master_of(&self, mq: &MessageQueue) -> Result<String> {
        self.broker_addr(&mq.broker_name)
            .ok_or_else(|| ClientError::NoRoute {
                topic: mq.topic.clone(),
                name_servers: self.name_servers(),
                cause: format!("no address known for broker {}", mq.broker_name),
            })
    }

    pub async fn pull(&self, req: &PullRequest) -> Result<PullResult> {
        let addr = self.master_of(&req.queue)?;
        let mut sys_flag = pull_sys_flag::SUBSCRIPTION;
        if req.suspend.is_some() {
            sys_flag |= pull_sys_flag::SUSPEND;
        }
        if req.commit_offset.is_some() {
            sys_flag |= pull_sys_flag::COMMIT_OFFSET;
        }
        let suspend = req.suspend.unwrap_or_default();
        let header = PullMessageRequestHeader {
            consumer_group: req.group.clone(),
            topic: req.queue.topic.clone(),
            queue_id: req.queue.queue_id,
            queue_offset: req.offset,
            max_msg_nums: req.max_msgs,
            sys_flag,
            commit_offset: req.commit_offset.unwrap_or(0),
            suspend_timeout_millis: suspend.as_millis() as i64,
            subscription: Some(req.filter.expression.clone()),
            sub_version: 0,
            expression_type: Some(req.filter.expression_type.as_str().into()),
            max_msg_bytes: None,
            request_source: None,
            proxy_froward_client_id: None,
            broker_name: Some(req.queue.broker_name.clone()),
        };
        let cmd = ClientInstance::request(request_code::PULL_MESSAGE).with_header(&header);
        // The socket timeout must outlast the broker's hold: Apache's hold service looks at
        // held pulls every 5 s, so it answers up to 5 s after the suspend time. An answer
        // given up on is lost, and with it a one-time PULL_OFFSET_MOVED (Apache 5's
        // server-side offset reset is erased by the pull it answers).
        let held = if req.suspend.is_some() {
            suspend + APACHE_HOLD_CHECK_PERIOD
        } else {
            suspend
        };
        let timeout = self.config.request_timeout + held;
        let resp = self.pool.invoke(&addr, cmd, timeout).await?;
        let status = match resp.code {
            response_code::SUCCESS => PullStatus::Found,
            response_code::PULL_NOT_FOUND => PullStatus::NoNewMsg,
            response_code::PULL_RETRY_IMMEDIATELY => PullStatus::NoMatchedMsg,
            response_code::PULL_OFFSET_MOVED => PullStatus::OffsetIllegal,
            code => {
                return Err(ClientError::Remote {
                    addr,
                    code,
                    remark: resp.remark.unwrap_or_default(),
                })
            }
        };
        let h: PullMessageResponseHeader = resp
            .decode_header()
            .map_err(|e| ClientError::Protocol(format!("pull response from {addr}: {e}")))?;
        let mut messages = Vec::new();
        if status == PullStatus::Found {
            let stored = decode_stored_all(&resp.body).map_err(|e| {
                ClientError::Protocol(format!("undecodable messages from {addr}: {e}"))
            })?;
            for m in stored {
                let m = MessageExt::from_stored(m, MAX_INFLATED_BODY);
                if req.filter.matches(m.tags()) {
                    messages.push(m);
                }
            }
        }
        Ok(PullResult {
            status,
            next_begin_offset: h.next_begin_offset,
            min_offset: h.min_offset,
            max_offset: h.max_offset,
            messages,
        })
    }

    /// The group's committed offset of a queue; `None` when the broker has none.
    pub async fn query_consumer_offset(
        &self,
        group: &str,
        mq: &MessageQueue,
    ) -> Result<Option<i64>> {
        self.query_committed_offset(group, mq, None).await
    }

    /// QUERY_CONSUMER_OFFSET with the header's `setZeroIfNotFound`: brokers answer 0 for a
    /// group without an offset on a young queue unless it is `Some(false)`, which asks for
    /// QUERY_NOT_FOUND (`Ok(None)`) instead.
    pub async fn query_committed_offset(
        &self,
        group: &str,
        mq: &MessageQueue,
        set_zero_if_not_found: Option<bool>,
    ) -> Result<Option<i64>> {
        let addr = self.master_of(mq)?;
        let cmd = ClientInstance::request(request_code::QUERY_CONSUMER_OFFSET).with_header(
            &QueryConsumerOffsetRequestHeader {
                consumer_group: group.to_string(),
                topic: mq.topic.clone(),
                queue_id: mq.queue_id,
                set_zero_if_not_found,
                broker_name: Some(mq.broker_name.clone()),
            },
        );
        let resp = self.invoke(&addr, cmd).await?;
        match resp.code {
            response_code::SUCCESS => {
                let h: OffsetResponseHeader = resp
                    .decode_header()
                    .map_err(|e| ClientError::Protocol(e.to_string()))?;
                Ok(Some(h.offset))
            }
            response_code::QUERY_NOT_FOUND => Ok(None),
            code => Err(ClientError::Remote {
                addr,
                code,
                remark: resp.remark.unwrap_or_default(),
            }),
        }
    }

    pub async fn update_consumer_offset(
        &self,
        group: &str,
        mq: &MessageQueue,
        offset: i64,
    ) -> Result<()> {
        let addr = self.master_of(mq)?;
        let cmd = ClientInstance::request(request_code::UPDATE_CONSUMER_OFFSET).with_header(
            &UpdateConsumerOffsetRequestHeader {
                consumer_group: group.to_string(),
                topic: mq.topic.clone(),
                queue_id: mq.queue_id,
                commit_offset: offset,
                broker_name: Some(mq.broker_name.clone()),
            },
        );
        let resp = self.invoke(&addr, cmd).await?;
        if resp.code != response_code::SUCCESS {
            return Err(ClientError::Remote {
                addr,
                code: resp.code,
                remark: resp.remark.unwrap_or_default(),
            });
        }
        Ok(())
    }

    async fn queue_offset(&self, mq: &MessageQueue, max: bool) -> Result<i64> {
        let addr = self.master_of(mq)?;
        let cmd = if max {
            ClientInstance::request(request_code::GET_MAX_OFFSET).with_header(
                &GetMaxOffsetRequestHeader {
                    topic: mq.topic.clone(),
                    queue_id: mq.queue_id,
                    committed: true,
                    broker_name: Some(mq.broker_name.clone()),
                },
            )
        } else {
            ClientInstance::request(request_code::GET_MIN_OFFSET).with_header(
                &GetMinOffsetRequestHeader {
                    topic: mq.topic.clone(),
                    queue_id: mq.queue_id,
                    broker_name: Some(mq.broker_name.clone()),
                },
            )
        };
        self.offset_answer(addr, cmd).await
    }

    /// Sends a request answered with one offset (GET_MAX_OFFSET, GET_MIN_OFFSET,
    /// SEARCH_OFFSET_BY_TIMESTAMP) and reads it.
    async fn offset_answer(&self, addr: String, cmd: RemotingCommand) -> Result<i64> {
        let resp = self.invoke(&addr, cmd).await?;
        if resp.code != response_code::SUCCESS {
            return Err(ClientError::Remote {
                addr,
                code: resp.code,
                remark: resp.remark.unwrap_or_default(),
            });
        }
        let h: OffsetResponseHeader = resp
            .decode_header()
            .map_err(|e| ClientError::Protocol(e.to_string()))?;
        Ok(h.offset)
    }

    /// SEARCH_OFFSET_BY_TIMESTAMP: the offset of the queue's first message stored at or after
    /// `timestamp_ms` (the queue's end when there is none).
    pub async fn search_offset(&self, mq: &MessageQueue, timestamp_ms: i64) -> Result<i64> {
        let addr = self.master_of(mq)?;
        let cmd = ClientInstance::request(request_code::SEARCH_OFFSET_BY_TIMESTAMP).with_header(
            &SearchOffsetRequestHeader {
                topic: mq.topic.clone(),
                queue_id: mq.queue_id,
                timestamp: timestamp_ms,
                boundary_type: None,
            },
        );
        self.offset_answer(addr, cmd).await
    }

    pub async fn max_offset(&self, mq: &MessageQueue) -> Result<i64> {
        self.queue_offset(mq, true).await
    }

    pub async fn min_offset(&self, mq: &MessageQueue) -> Result<i64> {
        self.queue_offset(mq, false).await
    }
}
