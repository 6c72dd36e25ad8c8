//! The POP requests of one broker: POP_MESSAGE (200050), ACK_MESSAGE (200051),
//! BATCH_ACK_MESSAGE (200151) and CHANGE_MESSAGE_INVISIBLETIME (200053), with the headers
//! Java's remoting client sends.
//!
//! What must stay true: a refusal keeps the broker's code and remark and adds what to do
//! about it; the socket timeout of a POP outlasts its long-poll time.

use super::answer::{popped_messages, PoppedMessage};
use crate::error::{ClientError, Result};
use crate::instance::ClientInstance;
use rocketmq_protocol::body::encode_json;
use rocketmq_protocol::code::{request_code, response_code};
use rocketmq_protocol::header::{
    AckMessageRequestHeader, ChangeInvisibleTimeRequestHeader, ChangeInvisibleTimeResponseHeader,
    PopMessageRequestHeader, PopMessageResponseHeader,
};
use rocketmq_protocol::pop::{BatchAckMessageRequestBody, ReceiptHandle};
use rocketmq_protocol::RemotingCommand;
use std::time::Duration;

/// A broker's refusal, with advice for the codes a consumer can cause.
fn refused(addr: &str, resp: RemotingCommand, what: &str) -> ClientError {
    let remark = resp.remark.unwrap_or_default();
    let advice = match resp.code {
        response_code::TOPIC_NOT_EXIST => "; create the topic (or check its name) first",
        response_code::SUBSCRIPTION_GROUP_NOT_EXIST => {
            "; create the consumer group on the broker first"
        }
        response_code::NO_PERMISSION => "; the broker or topic does not allow reading",
        response_code::NO_MESSAGE | response_code::INVALID_PARAMETER => {
            "; the receipt handle may be stale (acked, or its invisible time passed): receive the message again"
        }
        _ => "",
    };
    ClientError::Remote {
        addr: addr.to_string(),
        code: resp.code,
        remark: format!("{what} refused: {remark}{advice}"),
    }
}

impl ClientInstance {
    /// One POP of `header.topic` on the broker at `addr` (named `broker_name`); an empty list
    /// when the broker has nothing (after holding the request up to `header.poll_time`).
    pub(crate) async fn pop_message(
        &self,
        addr: &str,
        broker_name: &str,
        header: &PopMessageRequestHeader,
    ) -> Result<Vec<PoppedMessage>> {
        let cmd = ClientInstance::request(request_code::POP_MESSAGE).with_header(header);
        let held = Duration::from_millis(header.poll_time.max(0) as u64);
        let resp = self
            .pool
            .invoke(addr, cmd, self.config.request_timeout + held)
            .await?;
        match resp.code {
            response_code::SUCCESS => {
                let h: PopMessageResponseHeader = resp.decode_header().map_err(|e| {
                    ClientError::Protocol(format!("POP answer from {addr}: {e}"))
                })?;
                popped_messages(
                    &h,
                    &resp.body,
                    &header.topic,
                    broker_name,
                    header.order,
                    addr,
                )
            }
            response_code::PULL_NOT_FOUND
            | response_code::POLLING_TIMEOUT
            | response_code::NO_MESSAGE => Ok(Vec::new()),
            response_code::POLLING_FULL => Err(ClientError::Remote {
                addr: addr.to_string(),
                code: resp.code,
                remark: format!(
                    "POP refused: {}; too many receives are waiting on this broker, use fewer consumers or a shorter await duration",
                    resp.remark.unwrap_or_default()
                ),
            }),
            _ => Err(refused(addr, resp, "POP")),
        }
    }

    /// ACK_MESSAGE for one handle of `topic` (the stored topic the handle's kind names).
    pub(crate) async fn ack_message(
        &self,
        addr: &str,
        group: &str,
        topic: &str,
        handle: &ReceiptHandle,
        extra_info: &str,
    ) -> Result<()> {
        let header = AckMessageRequestHeader {
            consumer_group: group.to_string(),
            topic: topic.to_string(),
            queue_id: handle.queue_id,
            extra_info: extra_info.to_string(),
            offset: handle.queue_offset.unwrap_or(handle.ck_queue_offset),
            broker_name: Some(handle.broker_name.clone()),
        };
        let cmd = ClientInstance::request(request_code::ACK_MESSAGE).with_header(&header);
        let resp = self.invoke(addr, cmd).await?;
        if resp.code == response_code::SUCCESS {
            Ok(())
        } else {
            Err(refused(addr, resp, "ACK"))
        }
    }

    /// BATCH_ACK_MESSAGE: every ack of `body` in one request.
    pub(crate) async fn batch_ack_message(
        &self,
        addr: &str,
        body: &BatchAckMessageRequestBody,
    ) -> Result<()> {
        let cmd =
            ClientInstance::request(request_code::BATCH_ACK_MESSAGE).with_body(encode_json(body));
        let resp = self.invoke(addr, cmd).await?;
        if resp.code == response_code::SUCCESS {
            Ok(())
        } else {
            Err(refused(addr, resp, "batch ACK"))
        }
    }

    /// CHANGE_MESSAGE_INVISIBLETIME: the message stays invisible `invisible` from now; the
    /// answer's times make the new handle (the old one is spent).
    pub(crate) async fn change_invisible_time(
        &self,
        addr: &str,
        group: &str,
        topic: &str,
        handle: &ReceiptHandle,
        extra_info: &str,
        invisible: Duration,
    ) -> Result<ReceiptHandle> {
        let offset = handle.queue_offset.unwrap_or(handle.ck_queue_offset);
        let header = ChangeInvisibleTimeRequestHeader {
            consumer_group: group.to_string(),
            topic: topic.to_string(),
            queue_id: handle.queue_id,
            extra_info: extra_info.to_string(),
            offset,
            invisible_time: invisible.as_millis() as i64,
            broker_name: Some(handle.broker_name.clone()),
        };
        let cmd = ClientInstance::request(request_code::CHANGE_MESSAGE_INVISIBLETIME)
            .with_header(&header);
        let resp = self.invoke(addr, cmd).await?;
        if resp.code != response_code::SUCCESS {
            return Err(refused(addr, resp, "change of invisible time"));
        }
        let h: ChangeInvisibleTimeResponseHeader = resp.decode_header().map_err(|e| {
            ClientError::Protocol(format!("change-invisible answer from {addr}: {e}"))
        })?;
        // Java's client: the new handle's checkpoint is the message itself.
        Ok(ReceiptHandle {
            ck_queue_offset: offset,
            pop_time: h.pop_time,
            invisible_time: h.invisible_time,
            revive_qid: h.revive_qid,
            kind: handle.kind,
            broker_name: handle.broker_name.clone(),
            queue_id: handle.queue_id,
            queue_offset: Some(offset),
        })
    }
}
