//! PopMessageProcessor, AckMessageProcessor, ChangeInvisibleTimeProcessor and
//! NotificationProcessor: POP_MESSAGE (200050), ACK_MESSAGE (200051), BATCH_ACK_MESSAGE
//! (200151), CHANGE_MESSAGE_INVISIBLETIME (200053) and NOTIFICATION (200054).
//!
//! What must stay true: a POP answer carries `PopMessageResponseHeader` whatever its code,
//! refusals included (with zeros), as Java's does.

use super::answer;
use crate::broker::services::Broker;
use crate::remoting::ConnectionHandle;
use rocketmq_protocol::body::decode_json;
use rocketmq_protocol::header::{
    AckMessageRequestHeader, ChangeInvisibleTimeRequestHeader, NotificationRequestHeader,
    NotificationResponseHeader, PopMessageRequestHeader, PopMessageResponseHeader,
};
use rocketmq_protocol::pop::BatchAckMessageRequestBody;
use rocketmq_protocol::RemotingCommand;

pub(super) async fn pop(
    broker: &Broker,
    conn: &ConnectionHandle,
    req: &RemotingCommand,
) -> RemotingCommand {
    let header: PopMessageRequestHeader = match req.decode_header() {
        Ok(h) => h,
        Err(e) => return answer::bad_header(req, e),
    };
    match broker.pop(&header, conn.closed()).await {
        Ok(outcome) => {
            let mut answer = RemotingCommand::response_to(req)
                .with_code(outcome.code)
                .with_remark(outcome.remark)
                .with_header(&outcome.header);
            if !outcome.messages.is_empty() {
                answer.body = outcome.messages;
            }
            answer
        }
        // Java answers with the POP header (zeros) on refusals too.
        Err(e) => answer::op_error(req, e).with_header(&PopMessageResponseHeader {
            pop_time: 0,
            invisible_time: 0,
            revive_qid: 0,
            rest_num: 0,
            start_offset_info: None,
            msg_offset_info: None,
            order_count_info: None,
        }),
    }
}

pub(super) async fn ack(broker: &Broker, req: &RemotingCommand) -> RemotingCommand {
    match req.decode_header::<AckMessageRequestHeader>() {
        Ok(h) => answer::done(req, broker.pop_ack(&h).await),
        Err(e) => answer::bad_header(req, e),
    }
}

pub(super) async fn batch_ack(broker: &Broker, req: &RemotingCommand) -> RemotingCommand {
    match decode_json::<BatchAckMessageRequestBody>(&req.body) {
        Ok(body) => answer::done(req, broker.pop_batch_ack(&body).await),
        Err(e) => answer::error(
            req,
            rocketmq_protocol::code::response_code::MESSAGE_ILLEGAL,
            format!("the batch-ack body cannot be read: {e}"),
        ),
    }
}

pub(super) async fn change_invisible(broker: &Broker, req: &RemotingCommand) -> RemotingCommand {
    let header: ChangeInvisibleTimeRequestHeader = match req.decode_header() {
        Ok(h) => h,
        Err(e) => return answer::bad_header(req, e),
    };
    match broker.pop_change_invisible(&header).await {
        Ok(r) => RemotingCommand::response_to(req).with_header(&r),
        Err(e) => answer::op_error(req, e),
    }
}

pub(super) async fn notification(
    broker: &Broker,
    conn: &ConnectionHandle,
    req: &RemotingCommand,
) -> RemotingCommand {
    let header: NotificationRequestHeader = match req.decode_header() {
        Ok(h) => h,
        Err(e) => return answer::bad_header(req, e),
    };
    match broker.pop_notification(&header, conn.closed()).await {
        Ok((has_msg, polling_full)) => {
            RemotingCommand::response_to(req).with_header(&NotificationResponseHeader {
                has_msg,
                polling_full,
            })
        }
        Err(e) => answer::op_error(req, e),
    }
}
