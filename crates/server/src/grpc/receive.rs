//! ReceiveMessage: a POP with long polling, answered as a stream (a status, the messages, the
//! delivery timestamp), as Apache's proxy maps it (`ReceiveMessageActivity`,
//! `ReceiveMessageResponseStreamWriter`).
//!
//! - queue -1 (any readable queue of the topic), batch size bounded to the broker's 32;
//! - invisible duration: the request's, within `[10 s, 12 h]` (ILLEGAL_INVISIBLE_TIME
//!   outside); with `auto_renew` (push consumers) the proxy's renew slice (60 s), renewed
//!   while the client is there ([`super::renew`]);
//! - long polling: the request's timeout (else what the call's deadline leaves) within
//!   `[5 s, 20 s]`, never past the deadline (ILLEGAL_POLLING_TIME when less than 5 s is left);
//! - filter: TAG or SQL92, refused up front with ILLEGAL_FILTER_EXPRESSION;
//! - FIFO when the group's config says `consumeMessageOrderly` (orderly POP, `attempt_id`
//!   passed on for the client's retries);
//! - answers: OK then one `message` per message; MESSAGE_NOT_FOUND when nothing came within
//!   the poll; TOO_MANY_REQUESTS when the broker holds too many polls; then, always, the
//!   `delivery_timestamp`;
//! - the POP is held by a task that writes the answer into the call's stream: it ends when
//!   the caller goes away, and messages the caller can no longer get are made visible again
//!   after a second (the proxy's NACK).
//!
//! What must stay true: every message carries the POP handle the broker honours
//! (`POP_CK`, Java's `ExtraInfoUtil` text) followed by the message's commit-log offset as
//! its receipt handle, as the proxy builds it (`ConsumerProcessor.createHandle`).

use super::consumer_args::{check_invisible, group_name, topic_name, MIN_INVISIBLE_MS_FOR_RECEIVE};
use super::message_out::{millis_of_duration, timestamp_of_millis, to_v2_message, Delivery};
use super::metadata::{peer, ClientMeta};
use super::renew::{keep_invisible, PROXY_RENEW_TIMING};
use super::status::{from_op_error, ok, status};
use super::{AnswerStream, GrpcFront};
use crate::broker::ops::pop::{PopOutcome, MAX_POP_MSGS};
use rocketmq_grpc::v2;
use rocketmq_grpc::v2::receive_message_response::Content;
use rocketmq_protocol::code::response_code as resp;
use rocketmq_protocol::header::{
    pop_init_mode, ChangeInvisibleTimeRequestHeader, PopMessageRequestHeader,
};
use rocketmq_protocol::message::decode_stored_all;
use rocketmq_protocol::now_millis;
use rocketmq_protocol::pop::{OrderCountInfo, QueueKey, ReceiptHandle, StartOffsetInfo, TopicKind};
use rocketmq_protocol::properties::{get_property, POP_CK};
use std::net::SocketAddr;
use tokio::sync::mpsc;
use tonic::codegen::tokio_stream;
use tonic::codegen::tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

/// `ProxyConfig.grpcClientConsumerMinLongPollingTimeoutMillis`.
pub(crate) const MIN_LONG_POLLING_MS: i64 = 5_000;
/// `ProxyConfig.grpcClientConsumerMaxLongPollingTimeoutMillis`.
pub(crate) const MAX_LONG_POLLING_MS: i64 = 20_000;
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
    // Who renews auto-renewed deliveries: the client, while it is there.
    let renewer = (
        ClientMeta::from_metadata(request.metadata()).client_id,
        peer(&request),
    );
    let req = request.into_inner();
    let renewer = (req.auto_renew && !renewer.0.is_empty()).then_some(renewer);
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
        PROXY_RENEW_TIMING.slice_ms
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
        consumer_group: group,
        topic,
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
    let resource = queue.topic.clone().unwrap_or_default();
    // Room for the status, a full batch and the timestamp: the writer never waits.
    let (tx, rx) = mpsc::channel(MAX_POP_MSGS as usize + 2);
    let front = front.clone();
    tokio::spawn(async move { pop_and_write(front, header, fifo, resource, renewer, tx).await });
    Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
}

/// Pops (ending early when the caller goes away) and writes the answer; messages the
/// caller can no longer get are made visible again after a second, as the proxy does.
async fn pop_and_write(
    front: GrpcFront,
    header: PopMessageRequestHeader,
    fifo: bool,
    resource: v2::Resource,
    renewer: Option<(String, SocketAddr)>,
    tx: mpsc::Sender<Result<v2::ReceiveMessageResponse, Status>>,
) {
    let outcome = front.broker.pop(&header, tx.closed()).await;
    let mut items = Vec::new();
    match outcome {
        Err(e) => items.push(Content::Status(from_op_error(&e))),
        Ok(o) if o.code == resp::SUCCESS && o.count > 0 => {
            items.push(Content::Status(ok()));
            let messages = delivered(&front, &o, fifo, resource);
            if let Some((client_id, peer)) = renewer {
                let handles = messages
                    .iter()
                    .filter_map(|m| m.system_properties.as_ref()?.receipt_handle.clone())
                    .collect();
                keep_invisible(
                    front.clone(),
                    front.clients.handle(&client_id, peer),
                    header.consumer_group.clone(),
                    header.topic.clone(),
                    handles,
                    PROXY_RENEW_TIMING,
                );
            }
            items.extend(messages.into_iter().map(Content::Message));
        }
        Ok(o) if o.code == resp::POLLING_FULL => {
            items.push(Content::Status(status(
                v2::Code::TooManyRequests,
                "polling full",
            )));
        }
        Ok(_) => items.push(Content::Status(status(
            v2::Code::MessageNotFound,
            "no new message",
        ))),
    }
    items.push(Content::DeliveryTimestamp(
        timestamp_of_millis(now_millis()),
    ));
    let mut items = items.into_iter();
    while let Some(item) = items.next() {
        let unsent_message = match &item {
            Content::Message(m) => Some(m.clone()),
            _ => None,
        };
        if tx
            .send(Ok(v2::ReceiveMessageResponse {
                content: Some(item),
            }))
            .await
            .is_err()
        {
            let rest = unsent_message
                .into_iter()
                .chain(items.filter_map(|c| match c {
                    Content::Message(m) => Some(m),
                    _ => None,
                }));
            for m in rest {
                make_visible_soon(&front, &header, &m).await;
            }
            return;
        }
    }
}

/// `ReceiveMessageResponseStreamWriter.NACK_INVISIBLE_TIME`.
const NACK_INVISIBLE_MS: i64 = 1_000;

/// Makes a message that could not be written visible again after [`NACK_INVISIBLE_MS`].
async fn make_visible_soon(front: &GrpcFront, pop: &PopMessageRequestHeader, m: &v2::Message) {
    let Some(text) = m
        .system_properties
        .as_ref()
        .and_then(|s| s.receipt_handle.clone())
    else {
        return;
    };
    let Ok(handle) = ReceiptHandle::parse(&text) else {
        return;
    };
    let change = ChangeInvisibleTimeRequestHeader {
        consumer_group: pop.consumer_group.clone(),
        topic: pop.topic.clone(),
        queue_id: handle.queue_id,
        extra_info: text,
        offset: handle.queue_offset.unwrap_or(-1),
        invisible_time: NACK_INVISIBLE_MS,
        broker_name: None,
    };
    if let Err(e) = front.broker.pop_change_invisible(&change).await {
        tracing::debug!(
            "a message the caller did not get stays invisible: {}",
            e.remark
        );
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
            let pop_handle = match get_property(&m.properties, POP_CK) {
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
            // The proxy's `createHandle`: the POP handle, then the commit-log offset.
            let handle = format!("{pop_handle} {}", m.physical_offset);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn with_timeout(text: &str) -> Request<()> {
        let mut r = Request::new(());
        r.metadata_mut()
            .insert("grpc-timeout", text.parse().unwrap());
        r
    }

    #[test]
    fn grpc_timeout_units() {
        assert_eq!(deadline_left_ms(&with_timeout("2H")), Some(7_200_000));
        assert_eq!(deadline_left_ms(&with_timeout("1M")), Some(60_000));
        assert_eq!(deadline_left_ms(&with_timeout("23S")), Some(23_000));
        assert_eq!(deadline_left_ms(&with_timeout("1500m")), Some(1_500));
        assert_eq!(deadline_left_ms(&with_timeout("2999999u")), Some(2_999));
        assert_eq!(deadline_left_ms(&with_timeout("5000000000n")), Some(5_000));
        assert_eq!(deadline_left_ms(&with_timeout("5X")), None);
        assert_eq!(deadline_left_ms(&Request::new(())), None);
    }

    #[test]
    fn polling_within_the_proxy_bounds_and_the_deadline() {
        let none = Request::new(());
        assert_eq!(polling_ms(&none, Some(1_000)), Ok(MIN_LONG_POLLING_MS));
        assert_eq!(polling_ms(&none, Some(60_000)), Ok(MAX_LONG_POLLING_MS));
        assert_eq!(polling_ms(&none, None), Ok(MAX_LONG_POLLING_MS));
        // A 23 s deadline (3 s request timeout + 20 s poll): the asked 20 s fit.
        assert_eq!(polling_ms(&with_timeout("23S"), Some(20_000)), Ok(20_000));
        // Without a poll of its own: the deadline less half the request timeout.
        assert_eq!(polling_ms(&with_timeout("10S"), None), Ok(8_500));
        // Never past the deadline (less the reserve), never under the minimum.
        assert_eq!(polling_ms(&with_timeout("12S"), Some(20_000)), Ok(11_900));
        let short = polling_ms(&with_timeout("3S"), Some(20_000)).unwrap_err();
        assert_eq!(short.code, v2::Code::IllegalPollingTime as i32);
    }
}
