//! PullMessage, UpdateOffset, GetOffset and QueryOffset: the pull consumer's RPCs over the
//! pull and offset operations, as Apache's proxy maps them (`PullMessageActivity`,
//! `PullMessageResponseStreamWriter`, `OffsetActivity`).
//!
//! - PullMessage: a long-polled pull of one queue (suspend + subscription flags, no offset
//!   commit) with the receive's polling bounds; answered OK then the messages, or
//!   MESSAGE_NOT_FOUND / ILLEGAL_OFFSET, then always `next_offset`;
//! - UpdateOffset / GetOffset: the group's committed offset of one queue (GetOffset on a
//!   queue the group never committed: OFFSET_NOT_FOUND);
//! - QueryOffset: the queue's first offset (BEGINNING), its end (END), or the first message
//!   stored at or after a time (TIMESTAMP, which needs the timestamp: BAD_REQUEST without).
//!
//! Every RPC refuses an unknown topic (TOPIC_NOT_FOUND) and a queue id the topic does not
//! have (BAD_REQUEST).

use super::consumer_args::{group_name, topic_name};
use super::message_out::{millis_of_duration, to_v2_message, Delivery};
use super::receive::polling_ms;
use super::status::{from_op_error, ok, status};
use super::{AnswerStream, GrpcFront};
use crate::broker::ops::pull::{PullStatus, MAX_PULL_MSGS};
use rocketmq_grpc::v2;
use rocketmq_grpc::v2::pull_message_response::Content;
use rocketmq_protocol::code::response_code as resp;
use rocketmq_protocol::header::pull_sys_flag;
use rocketmq_protocol::header::{
    PullMessageRequestHeader, QueryConsumerOffsetRequestHeader, UpdateConsumerOffsetRequestHeader,
};
use rocketmq_protocol::message::decode_stored_all;
use tonic::codegen::tokio_stream;
use tonic::{Request, Response, Status};

/// The topic's full name and the queue id, checked against the topic's read queues.
fn queue_of(
    front: &GrpcFront,
    queue: Option<&v2::MessageQueue>,
) -> Result<(String, i32), v2::Status> {
    let queue = queue.cloned().unwrap_or_default();
    let topic = topic_name(queue.topic.as_ref())?;
    let Some(config) = front.broker.topics.get(&topic) else {
        return Err(status(
            v2::Code::TopicNotFound,
            format!("topic {topic} does not exist: create it first"),
        ));
    };
    if queue.id < 0 || queue.id >= config.read_queue_nums {
        return Err(status(
            v2::Code::BadRequest,
            format!(
                "queue {} is not a queue of topic {topic} (it has {} readable queues): name one of them",
                queue.id, config.read_queue_nums
            ),
        ));
    }
    Ok((topic, queue.id))
}

fn pull_answer(items: Vec<Content>) -> Response<AnswerStream<v2::PullMessageResponse>> {
    let all: Vec<Result<v2::PullMessageResponse, Status>> = items
        .into_iter()
        .map(|c| Ok(v2::PullMessageResponse { content: Some(c) }))
        .collect();
    Response::new(Box::pin(tokio_stream::iter(all)))
}

pub(super) async fn pull_message(
    front: &GrpcFront,
    request: Request<v2::PullMessageRequest>,
) -> Result<Response<AnswerStream<v2::PullMessageResponse>>, Status> {
    let asked = request
        .get_ref()
        .long_polling_timeout
        .as_ref()
        .map(millis_of_duration);
    let polling = polling_ms(&request, asked);
    let req = request.into_inner();
    let checked = polling.and_then(|p| {
        let (topic, queue_id) = queue_of(front, req.message_queue.as_ref())?;
        Ok((p, topic, queue_id, group_name(req.group.as_ref())?))
    });
    let (polling, topic, queue_id, group) = match checked {
        Ok(c) => c,
        Err(s) => return Ok(pull_answer(vec![Content::Status(s)])),
    };
    let filter = req.filter_expression.clone().unwrap_or_default();
    let sql = filter.r#type == v2::FilterType::Sql as i32;
    let expression = if filter.expression.trim().is_empty() {
        "*".to_string()
    } else {
        filter.expression.clone()
    };
    let header = PullMessageRequestHeader {
        consumer_group: group,
        topic: topic.clone(),
        queue_id,
        queue_offset: req.offset,
        max_msg_nums: req.batch_size.clamp(1, MAX_PULL_MSGS),
        sys_flag: pull_sys_flag::SUSPEND | pull_sys_flag::SUBSCRIPTION,
        commit_offset: 0,
        suspend_timeout_millis: polling,
        subscription: Some(expression),
        sub_version: 0,
        expression_type: Some(if sql { "SQL92" } else { "TAG" }.to_string()),
        ..Default::default()
    };
    let outcome = front.broker.pull(&header, std::future::pending()).await;
    let found = match outcome.status {
        Err(e) => {
            return Ok(pull_answer(vec![Content::Status(from_op_error(&e))]));
        }
        Ok(s) => s,
    };
    let mut items = Vec::new();
    match found {
        PullStatus::Found => {
            let stored = decode_stored_all(&outcome.messages).unwrap_or_default();
            items.push(Content::Status(ok()));
            let resource = req
                .message_queue
                .as_ref()
                .and_then(|q| q.topic.clone())
                .unwrap_or_default();
            items.extend(stored.into_iter().map(|m| {
                let attempt = m.reconsume_times.saturating_add(1);
                Content::Message(to_v2_message(
                    m,
                    Delivery {
                        receipt_handle: None,
                        delivery_attempt: attempt,
                        invisible_ms: None,
                        topic: resource.clone(),
                    },
                ))
            }));
        }
        PullStatus::OffsetIllegal => items.push(Content::Status(status(
            v2::Code::IllegalOffset,
            "ILLEGAL_OFFSET",
        ))),
        PullStatus::NoNewMessage | PullStatus::NoMatchedMessage => items.push(Content::Status(
            status(v2::Code::MessageNotFound, "no new message"),
        )),
    }
    items.push(Content::NextOffset(outcome.next_begin_offset));
    Ok(pull_answer(items))
}

pub(super) async fn update_offset(
    front: &GrpcFront,
    request: Request<v2::UpdateOffsetRequest>,
) -> Result<Response<v2::UpdateOffsetResponse>, Status> {
    let req = request.into_inner();
    let answer = |s: v2::Status| Ok(Response::new(v2::UpdateOffsetResponse { status: Some(s) }));
    let (topic, queue_id, group) = match queue_of(front, req.message_queue.as_ref())
        .and_then(|(t, q)| Ok((t, q, group_name(req.group.as_ref())?)))
    {
        Ok(c) => c,
        Err(s) => return answer(s),
    };
    let header = UpdateConsumerOffsetRequestHeader {
        consumer_group: group,
        topic,
        queue_id,
        commit_offset: req.offset,
        broker_name: None,
    };
    match front.broker.update_consumer_offset(&header) {
        Ok(()) => answer(ok()),
        Err(e) => answer(from_op_error(&e)),
    }
}

pub(super) async fn get_offset(
    front: &GrpcFront,
    request: Request<v2::GetOffsetRequest>,
) -> Result<Response<v2::GetOffsetResponse>, Status> {
    let req = request.into_inner();
    let answer = |s: v2::Status, offset: i64| {
        Ok(Response::new(v2::GetOffsetResponse {
            status: Some(s),
            offset,
        }))
    };
    let (topic, queue_id, group) = match queue_of(front, req.message_queue.as_ref())
        .and_then(|(t, q)| Ok((t, q, group_name(req.group.as_ref())?)))
    {
        Ok(c) => c,
        Err(s) => return answer(s, 0),
    };
    let header = QueryConsumerOffsetRequestHeader {
        consumer_group: group,
        topic,
        queue_id,
        set_zero_if_not_found: Some(false),
        broker_name: None,
    };
    match front.broker.query_consumer_offset(&header) {
        Ok(offset) => answer(ok(), offset),
        Err(e) if e.code == resp::QUERY_NOT_FOUND => answer(
            status(
                v2::Code::OffsetNotFound,
                format!(
                    "{}: the group has committed no offset on this queue yet",
                    e.remark
                ),
            ),
            0,
        ),
        Err(e) => answer(from_op_error(&e), 0),
    }
}

pub(super) async fn query_offset(
    front: &GrpcFront,
    request: Request<v2::QueryOffsetRequest>,
) -> Result<Response<v2::QueryOffsetResponse>, Status> {
    let req = request.into_inner();
    let answer = |s: v2::Status, offset: i64| {
        Ok(Response::new(v2::QueryOffsetResponse {
            status: Some(s),
            offset,
        }))
    };
    let (topic, queue_id) = match queue_of(front, req.message_queue.as_ref()) {
        Ok(c) => c,
        Err(s) => return answer(s, 0),
    };
    let broker = &front.broker;
    let offset = match v2::QueryOffsetPolicy::try_from(req.query_offset_policy) {
        Ok(v2::QueryOffsetPolicy::Beginning) => broker.min_offset(&topic, queue_id),
        Ok(v2::QueryOffsetPolicy::End) => broker.max_offset(&topic, queue_id),
        Ok(v2::QueryOffsetPolicy::Timestamp) => match &req.timestamp {
            Some(t) => {
                let ms = t
                    .seconds
                    .saturating_mul(1000)
                    .saturating_add(i64::from(t.nanos) / 1_000_000);
                broker.search_offset(&topic, queue_id, ms, false)
            }
            None => {
                return answer(
                    status(
                        v2::Code::BadRequest,
                        "timestamp is required for TIMESTAMP query offset policy",
                    ),
                    0,
                )
            }
        },
        Err(_) => {
            return answer(
                status(
                    v2::Code::BadRequest,
                    format!(
                        "unsupported query offset policy: {} (use BEGINNING, END or TIMESTAMP)",
                        req.query_offset_policy
                    ),
                ),
                0,
            )
        }
    };
    answer(ok(), offset)
}
