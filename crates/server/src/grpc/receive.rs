//! ReceiveMessage: a POP with long polling, answered as a stream (a status, the messages, the
//! delivery timestamp), as Apache's proxy maps it (`ReceiveMessageActivity`,
//! `ReceiveMessageResponseStreamWriter`).
//!
//! - queue -1 (any readable queue of the topic), batch size bounded to the broker's 32;
//! - invisible duration: the request's, within `[10 s, 12 h]` (ILLEGAL_INVISIBLE_TIME
//!   outside); with `auto_renew` (push consumers) the proxy's renew slice (60 s), not
//!   renewed here (the proxy renews it until acked: see docs/compatibility.md);
//! - long polling: the request's timeout (else what the call's deadline leaves) within
//!   `[5 s, 20 s]`, never past the deadline (ILLEGAL_POLLING_TIME when less than 5 s is left);
//! - filter: TAG or SQL92, refused up front with ILLEGAL_FILTER_EXPRESSION;
//! - FIFO when the group's config says `consumeMessageOrderly` (orderly POP, `attempt_id`
//!   passed on for the client's retries);
//! - answers: OK then one `message` per message; MESSAGE_NOT_FOUND when nothing came within
//!   the poll; TOO_MANY_REQUESTS when the broker holds too many polls; then, always, the
//!   `delivery_timestamp`.
//!
//! What must stay true: every message carries the POP handle the broker honours
//! (`POP_CK`, Java's `ExtraInfoUtil` text) as its receipt handle.

use super::consumer_args::{check_invisible, group_name, topic_name, MIN_INVISIBLE_MS_FOR_RECEIVE};
use super::message_out::{millis_of_duration, timestamp_of_millis, to_v2_message, Delivery};
use super::status::{ok, status};
use super::{op_status, AnswerStream, GrpcFront};
use crate::broker::ops::pop::{PopOutcome, MAX_POP_MSGS};
use rocketmq_grpc::v2;
use rocketmq_grpc::v2::receive_message_response::Content;
use rocketmq_protocol::code::response_code as resp;
use rocketmq_protocol::header::{pop_init_mode, PopMessageRequestHeader};
use rocketmq_protocol::message::decode_stored_all;
use rocketmq_protocol::now_millis;
use rocketmq_protocol::pop::{OrderCountInfo, QueueKey, ReceiptHandle, StartOffsetInfo, TopicKind};
use rocketmq_protocol::properties::{get_property, POP_CK};
use tonic::codegen::tokio_stream;
use tonic::{Request, Response, Status};

/// `ProxyConfig.grpcClientConsumerMinLongPollingTimeoutMillis`.
pub(crate) const MIN_LONG_POLLING_MS: i64 = 5_000;
/// `ProxyConfig.grpcClientConsumerMaxLongPollingTimeoutMillis`.
pub(crate) const MAX_LONG_POLLING_MS: i64 = 20_000;
/// `ProxyConfig.renewSliceTimeMillis`: the invisible time of an auto-renewed delivery.
pub(crate) const RENEW_SLICE_MS: i64 = 60_000;
/// `ProxyConfig.longPollingReserveTimeInMillis`: kept from the deadline for the answer.
const LONG_POLLING_RESERVE_MS: i64 = 100;
/// Half the 5.x clients' default request timeout (3 s): what the proxy keeps from the
/// deadline when the request names no polling timeout.
const HALF_REQUEST_TIMEOUT_MS: i64 = 1_500;

/// Milliseconds left before the call's deadline (`grpc-timeout`), if it has one.
pub(crate) fn deadline_left_ms<T>(request: &Request<T>) -> Option<i64> {
    let text = request.metadata().get("grpc-timeout")?.to_str().ok()?;
    let (digits, unit) = text.split_at(text.len().checked_sub(1)?);
    let n: i64 = digits.parse().ok()?;
    Some(match unit {
        "H" => n.saturating_mul(3_600_000),
        "M" => n.saturating_mul(60_000),
        "S" => n.saturating_mul(1_000),
        "m" => n,
        "u" => n / 1_000,
        "n" => n / 1_000_000,
        _ => return None,
    })
}

fn answer(items: Vec<Content>) -> Response<AnswerStream<v2::ReceiveMessageResponse>> {
    let mut all: Vec<Result<v2::ReceiveMessageResponse, Status>> = items
        .into_iter()
        .map(|c| Ok(v2::ReceiveMessageResponse { content: Some(c) }))
        .collect();
    all.push(Ok(v2::ReceiveMessageResponse {
        content: Some(Content::DeliveryTimestamp(
            timestamp_of_millis(now_millis()),
        )),
    }));
    Response::new(Box::pin(tokio_stream::iter(all)))
}

fn refused(s: v2::Status) -> Response<AnswerStream<v2::ReceiveMessageResponse>> {
    answer(vec![Content::Status(s)])
}

/// How long the POP may be held, or the status refusing the request.
pub(super) fn polling_ms<T>(request: &Request<T>, asked: Option<i64>) -> Result<i64, v2::Status> {
    let left = deadline_left_ms(request);
    let mut polling = match (asked, left) {
        (Some(ms), _) => ms,
        (None, Some(left)) => left - HALF_REQUEST_TIMEOUT_MS,
        (None, None) => MAX_LONG_POLLING_MS,
    };
    polling = polling.clamp(MIN_LONG_POLLING_MS, MAX_LONG_POLLING_MS);
    if let Some(left) = left {
        let usable = left - LONG_POLLING_RESERVE_MS;
        if polling > usable {
            if usable < MIN_LONG_POLLING_MS {
                return Err(status(
                    v2::Code::IllegalPollingTime,
                    "The deadline time remaining is not enough for polling, please check network condition",
                ));
            }
            polling = usable;
        }
    }
    Ok(polling)
}

pub(super) async fn receive_message(
    front: &GrpcFront,
    request: Request<v2::ReceiveMessageRequest>,
) -> Result<Response<AnswerStream<v2::ReceiveMessageResponse>>, Status> {
    let asked_polling = request
        .get_ref()
        .long_polling_timeout
        .as_ref()
        .map(millis_of_duration);
    let polling = match polling_ms(&request, asked_polling) {
        Ok(p) => p,
        Err(s) => return Ok(refused(s)),
    };
    let req = request.into_inner();
    let queue = req.message_queue.clone().unwrap_or_default();
    let topic = match topic_name(queue.topic.as_ref()) {
        Ok(t) => t,
        Err(s) => return Ok(refused(s)),
    };
    let group = match group_name(req.group.as_ref()) {
        Ok(g) => g,
        Err(s) => return Ok(refused(s)),
    };
    let invisible_ms = if req.auto_renew {
        RENEW_SLICE_MS
    } else {
        let ms = req
            .invisible_duration
            .as_ref()
            .map(millis_of_duration)
            .unwrap_or(0);
        if let Err(s) = check_invisible(ms, MIN_INVISIBLE_MS_FOR_RECEIVE) {
            return Ok(refused(s));
        }
        ms
    };
    let filter = req.filter_expression.clone().unwrap_or_default();
    let exp_type = if filter.r#type == v2::FilterType::Sql as i32 {
        "SQL92"
    } else {
        "TAG"
    };
    let expression = if filter.expression.trim().is_empty() {
        "*".to_string()
    } else {
        filter.expression.clone()
    };
    let broker = &front.broker;
    if let Err(e) = broker.build_message_filter(Some(exp_type), &expression) {
        return Ok(refused(status(
            v2::Code::IllegalFilterExpression,
            format!("{}: fix the filter expression", e.remark),
        )));
    }
    let fifo = broker.subscription_group(&group).consume_message_orderly;
    let header = PopMessageRequestHeader {
        consumer_group: group.clone(),
        topic: topic.clone(),
        queue_id: -1,
        max_msg_nums: req.batch_size.clamp(1, MAX_POP_MSGS),
        invisible_time: invisible_ms,
        poll_time: polling,
        born_time: now_millis(),
        init_mode: pop_init_mode::MAX,
        exp_type: Some(exp_type.to_string()),
        exp: Some(expression),
        order: fifo,
        attempt_id: req.attempt_id.clone().filter(|a| !a.is_empty()),
        broker_name: None,
    };
    let outcome = match broker.pop(&header, std::future::pending()).await {
        Ok(o) => o,
        Err(e) => return Ok(refused(op_status::of_op_error(&e))),
    };
    let resource = queue.topic.clone().unwrap_or_default();
    match outcome.code {
        resp::SUCCESS if outcome.count > 0 => {
            let messages = delivered(front, &outcome, fifo, resource);
            let mut items = vec![Content::Status(ok())];
            items.extend(messages.into_iter().map(Content::Message));
            Ok(answer(items))
        }
        resp::POLLING_FULL => Ok(refused(status(v2::Code::TooManyRequests, "polling full"))),
        _ => Ok(refused(status(v2::Code::MessageNotFound, "no new message"))),
    }
}

/// The messages of a POP answer as delivered, each with its receipt handle: the one the
/// broker put on it (retried messages) or the one built from the answer's summaries, as
/// Java's `processPopResponse` builds it.
fn delivered(
    front: &GrpcFront,
    outcome: &PopOutcome,
    fifo: bool,
    topic: v2::Resource,
) -> Vec<v2::Message> {
    let h = &outcome.header;
    let stored = match decode_stored_all(&outcome.messages) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!("undecodable POP answer of the broker: {e}");
            return Vec::new();
        }
    };
    let starts = h
        .start_offset_info
        .as_deref()
        .and_then(|t| StartOffsetInfo::parse(t).ok());
    let counts = h
        .order_count_info
        .as_deref()
        .and_then(|t| OrderCountInfo::parse(t).ok());
    let broker_name = &front.broker.config.broker_name;
    stored
        .into_iter()
        .map(|m| {
            let key = QueueKey {
                kind: TopicKind::Normal,
                queue_id: m.queue_id,
            };
            let handle = match get_property(&m.properties, POP_CK) {
                Some(given) => given.to_string(),
                None => ReceiptHandle {
                    ck_queue_offset: starts
                        .as_ref()
                        .and_then(|s| s.get(key))
                        .unwrap_or(m.queue_offset),
                    pop_time: h.pop_time,
                    invisible_time: h.invisible_time,
                    revive_qid: h.revive_qid,
                    kind: TopicKind::Normal,
                    broker_name: broker_name.clone(),
                    queue_id: m.queue_id,
                    queue_offset: Some(m.queue_offset),
                }
                .encode(),
            };
            let reconsume = if fifo {
                counts
                    .as_ref()
                    .and_then(|c| c.count_for(key, m.queue_offset))
                    .filter(|c| *c > 0)
                    .unwrap_or(m.reconsume_times)
            } else {
                m.reconsume_times
            };
            to_v2_message(
                m,
                Delivery {
                    receipt_handle: Some(handle),
                    delivery_attempt: reconsume.saturating_add(1),
                    invisible_ms: Some(h.invisible_time),
                    topic: topic.clone(),
                },
            )
        })
        .collect()
}
