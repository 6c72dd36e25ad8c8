//! AdminBrokerProcessor: UPDATE_AND_CREATE_TOPIC (17), GET_ALL_TOPIC_CONFIG (21), queue
//! bounds (GET_MAX_OFFSET 30, GET_MIN_OFFSET 31, GET_EARLIEST_MSG_STORETIME 32,
//! SEARCH_OFFSET_BY_TIMESTAMP 29), VIEW_MESSAGE_BY_ID (33) and the queue locks
//! (LOCK_BATCH_MQ 41, UNLOCK_BATCH_MQ 42).

use super::answer::{bad_header, done, error, op_error};
use crate::broker::services::Broker;
use rocketmq_protocol::body::{
    decode_json, encode_json, DataVersion, LockBatchRequestBody, TopicConfigSerializeWrapper,
};
use rocketmq_protocol::code::{request_code, response_code as resp};
use rocketmq_protocol::header::{
    CreateTopicRequestHeader, GetEarliestMsgStoretimeRequestHeader, GetMaxOffsetRequestHeader,
    GetMinOffsetRequestHeader, SearchOffsetRequestHeader,
};
use rocketmq_protocol::RemotingCommand;
use rocketmq_store::TopicConfig;
use std::collections::BTreeMap;

pub(super) async fn update_topic(broker: &Broker, req: &RemotingCommand) -> RemotingCommand {
    let h: CreateTopicRequestHeader = match req.decode_header() {
        Ok(h) => h,
        Err(e) => return bad_header(req, e),
    };
    done(req, broker.update_topic(&h).await)
}

pub(super) fn all_topic_config(broker: &Broker, req: &RemotingCommand) -> RemotingCommand {
    let table = broker.all_topic_configs();
    let topics: BTreeMap<String, TopicConfig> = table
        .topics
        .into_iter()
        .map(|t| (t.topic_name.clone(), t))
        .collect();
    let body = TopicConfigSerializeWrapper {
        data_version: DataVersion {
            counter: table.data_version,
            state_version: 0,
            timestamp: table.started_at_millis,
        },
        topic_config_table: topics,
    };
    RemotingCommand::response_to(req).with_body(encode_json(&body))
}

/// GET_MAX_OFFSET, GET_MIN_OFFSET, SEARCH_OFFSET_BY_TIMESTAMP and GET_EARLIEST_MSG_STORETIME.
pub(super) fn queue_bounds(broker: &Broker, req: &RemotingCommand) -> RemotingCommand {
    let answer = |offset: i64| RemotingCommand::response_to(req).with_field("offset", offset);
    match req.code {
        request_code::GET_MAX_OFFSET => match req.decode_header::<GetMaxOffsetRequestHeader>() {
            Ok(h) => answer(broker.max_offset(&h.topic, h.queue_id)),
            Err(e) => bad_header(req, e),
        },
        request_code::GET_MIN_OFFSET => match req.decode_header::<GetMinOffsetRequestHeader>() {
            Ok(h) => answer(broker.min_offset(&h.topic, h.queue_id)),
            Err(e) => bad_header(req, e),
        },
        request_code::SEARCH_OFFSET_BY_TIMESTAMP => {
            match req.decode_header::<SearchOffsetRequestHeader>() {
                Ok(h) => {
                    let upper = h
                        .boundary_type
                        .as_deref()
                        .is_some_and(|b| b.eq_ignore_ascii_case("UPPER"));
                    answer(broker.search_offset(&h.topic, h.queue_id, h.timestamp, upper))
                }
                Err(e) => bad_header(req, e),
            }
        }
        _ => match req.decode_header::<GetEarliestMsgStoretimeRequestHeader>() {
            Ok(h) => RemotingCommand::response_to(req).with_field(
                "timestamp",
                broker.earliest_store_time(&h.topic, h.queue_id),
            ),
            Err(e) => bad_header(req, e),
        },
    }
}

pub(super) fn view_message(broker: &Broker, req: &RemotingCommand) -> RemotingCommand {
    let Some(offset) = req.field_i64("offset") else {
        return error(req, resp::SYSTEM_ERROR, "the custom field <offset> is null");
    };
    match broker.view_message(offset) {
        Ok(record) => RemotingCommand::response_to(req).with_body(record),
        Err(e) => op_error(req, e),
    }
}

pub(super) fn lock_batch(broker: &Broker, req: &RemotingCommand) -> RemotingCommand {
    let body: LockBatchRequestBody = match decode_json(&req.body) {
        Ok(b) => b,
        Err(e) => return error(req, resp::SYSTEM_ERROR, format!("bad lock body: {e}")),
    };
    let granted = broker.lock_batch(body);
    RemotingCommand::response_to(req).with_body(encode_json(&granted))
}

pub(super) fn unlock_batch(broker: &Broker, req: &RemotingCommand) -> RemotingCommand {
    let body: LockBatchRequestBody = match decode_json(&req.body) {
        Ok(b) => b,
        Err(e) => return error(req, resp::SYSTEM_ERROR, format!("bad unlock body: {e}")),
    };
    broker.unlock_batch(body);
    RemotingCommand::response_to(req)
}
