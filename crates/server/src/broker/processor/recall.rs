//! RecallMessageProcessor: RECALL_MESSAGE (370), a timer message cancelled before its time.

use super::answer::{bad_header, op_error};
use super::send::DEFAULT_REGION;
use crate::broker::services::Broker;
use rocketmq_protocol::header::{
    RecallMessageRequestHeader, RecallMessageResponseHeader, MSG_REGION,
};
use rocketmq_protocol::RemotingCommand;

pub(super) async fn recall(broker: &Broker, req: &RemotingCommand) -> RemotingCommand {
    let h: RecallMessageRequestHeader = match req.decode_header() {
        Ok(h) => h,
        Err(e) => return bad_header(req, e),
    };
    match broker
        .recall(&h.topic, &h.recall_handle, h.producer_group.as_deref())
        .await
    {
        Ok(msg_id) => RemotingCommand::response_to(req)
            .with_header(&RecallMessageResponseHeader { msg_id })
            .with_field(MSG_REGION, DEFAULT_REGION),
        Err(e) => op_error(req, e).with_field(MSG_REGION, DEFAULT_REGION),
    }
}
