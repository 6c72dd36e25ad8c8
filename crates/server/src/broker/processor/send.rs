//! SendMessageProcessor: SEND_MESSAGE (10), SEND_MESSAGE_V2 (310), SEND_BATCH_MESSAGE (320)
//! and CONSUMER_SEND_MSG_BACK (36).
//!
//! What must stay true: every answer to a send carries string extFields; a success carries
//! msgId, queueId, queueOffset, transactionId, MSG_REGION and TRACE_ON. A refused or failed
//! send is answered, as Java's is, with MSG_REGION and TRACE_ON only; an unreadable request
//! header with no `extFields` at all.

use super::answer::{bad_header, done, op_error};
use crate::broker::error::OpError;
use crate::broker::ops::send::{SendRequest, StoredSend};
use crate::broker::services::Broker;
use rocketmq_protocol::code::response_code as resp;
use rocketmq_protocol::header::{
    ConsumerSendMsgBackRequestHeader, SendMessageRequestHeader, SendMessageResponseHeader,
    MSG_REGION, TRACE_ON,
};
use rocketmq_protocol::RemotingCommand;
use std::net::SocketAddr;

/// Java's default `MSG_REGION`.
pub(super) const DEFAULT_REGION: &str = "DefaultRegion";

/// A send after phase 1: either answered already (refused or failed) or appended.
pub(super) enum SendPhase {
    Answered(RemotingCommand),
    Stored(Box<StoredSend>),
}

/// Phase 1, run in the connection's reader so that sends on one connection are appended in
/// arrival order.
pub(super) fn store(broker: &Broker, peer: SocketAddr, req: &RemotingCommand) -> SendPhase {
    let header = match SendMessageRequestHeader::from_command(req) {
        Ok(h) => h,
        Err(e) => return SendPhase::Answered(bad_header(req, e)),
    };
    let request = SendRequest {
        batch: header.is_batch(req.code),
        header,
        body: req.body.clone(),
        born_host: peer,
        client_version: req.version,
    };
    match broker.send_store(request) {
        Ok(stored) => SendPhase::Stored(Box::new(stored)),
        Err(e) => SendPhase::Answered(refused(req, e)),
    }
}

/// The answer to a send that was refused or failed: Java adds the broker's region and trace
/// switch before any check, so every send answer carries them.
fn refused(req: &RemotingCommand, e: OpError) -> RemotingCommand {
    op_error(req, e)
        .with_field(MSG_REGION, DEFAULT_REGION)
        .with_field(TRACE_ON, "true")
}

/// Phase 2: waits for durability (sync flush) and builds the answer.
pub(super) async fn finish(
    broker: &Broker,
    req: &RemotingCommand,
    phase: SendPhase,
) -> RemotingCommand {
    let stored = match phase {
        SendPhase::Answered(answer) => return answer,
        SendPhase::Stored(stored) => *stored,
    };
    let receipt = match broker.send_finish(stored).await {
        Ok(r) => r,
        Err(e) => return refused(req, e),
    };
    let (code, remark) = match receipt.flush_failure {
        None => (resp::SUCCESS, String::new()),
        Some(remark) => (resp::FLUSH_DISK_TIMEOUT, remark),
    };
    let response_header = SendMessageResponseHeader {
        msg_id: receipt.msg_id,
        queue_id: receipt.queue_id,
        queue_offset: receipt.queue_offset,
        transaction_id: receipt.transaction_id,
        batch_uniq_id: None,
        recall_handle: receipt.recall_handle,
    };
    RemotingCommand::response_to(req)
        .with_code(code)
        .with_remark(remark)
        .with_header(&response_header)
        .with_field(MSG_REGION, DEFAULT_REGION)
        .with_field(TRACE_ON, "true")
}

/// CONSUMER_SEND_MSG_BACK (36).
pub(super) async fn send_back(broker: &Broker, req: &RemotingCommand) -> RemotingCommand {
    let h: ConsumerSendMsgBackRequestHeader = match req.decode_header() {
        Ok(h) => h,
        Err(e) => return bad_header(req, e),
    };
    done(req, broker.consumer_send_back(&h, req.version).await)
}
