//! ConsumerManageProcessor: GET_CONSUMER_LIST_BY_GROUP (38), QUERY_CONSUMER_OFFSET (14) and
//! UPDATE_CONSUMER_OFFSET (15).

use super::answer::{bad_header, done, op_error};
use crate::broker::services::Broker;
use rocketmq_protocol::body::{encode_json, ConsumerListBody};
use rocketmq_protocol::header::{
    GetConsumerListByGroupRequestHeader, QueryConsumerOffsetRequestHeader,
    UpdateConsumerOffsetRequestHeader,
};
use rocketmq_protocol::RemotingCommand;

pub(super) fn consumer_list(broker: &Broker, req: &RemotingCommand) -> RemotingCommand {
    let h: GetConsumerListByGroupRequestHeader = match req.decode_header() {
        Ok(h) => h,
        Err(e) => return bad_header(req, e),
    };
    // Java answers with its (empty) response header attached: `"extFields":{}`.
    match broker.consumer_list(&h.consumer_group) {
        Ok(ids) => RemotingCommand::response_to(req).with_body(encode_json(&ConsumerListBody {
            consumer_id_list: ids,
        })),
        Err(e) => op_error(req, e),
    }
    .with_custom_header()
}

pub(super) fn query_offset(broker: &Broker, req: &RemotingCommand) -> RemotingCommand {
    let h: QueryConsumerOffsetRequestHeader = match req.decode_header() {
        Ok(h) => h,
        Err(e) => return bad_header(req, e),
    };
    match broker.query_consumer_offset(&h) {
        Ok(offset) => RemotingCommand::response_to(req).with_field("offset", offset),
        // Java answers QUERY_NOT_FOUND with its (empty) response header attached.
        Err(e) => op_error(req, e).with_custom_header(),
    }
}

pub(super) fn update_offset(broker: &Broker, req: &RemotingCommand) -> RemotingCommand {
    let h: UpdateConsumerOffsetRequestHeader = match req.decode_header() {
        Ok(h) => h,
        Err(e) => return bad_header(req, e),
    };
    // Java's answer carries an (empty) UpdateConsumerOffsetResponseHeader: `"extFields":{}`.
    done(req, broker.update_consumer_offset(&h)).with_custom_header()
}
