//! AckMessage, ChangeInvisibleDuration and ForwardMessageToDeadLetterQueue over the POP engine
//! (`pop_ack`, `pop_change_invisible`) and the send-back operation, as Apache's proxy maps
//! them (`AckMessageActivity`, `ChangeInvisibleDurationActivity`,
//! `ForwardMessageToDLQActivity`).
//!
//! Status codes, as the proxy answers them: a handle that does not decode or has expired is
//! INVALID_RECEIPT_HANDLE; a handle the broker no longer honours (acked already, popped
//! again, another group's) is INTERNAL_SERVER_ERROR ("ack failed: status is abnormal" /
//! "change invisible duration failed"), which is what the proxy makes of the broker's
//! refusal. An AckMessage answers per entry; its own status is the entries' one code, or
//! MULTIPLE_RESULTS when they differ.
//!
//! What must stay true: a handle is passed to the broker exactly as it was delivered (the
//! broker checks it is the current delivery), and the topic is the one the consumer names
//! (the broker reads the retry topic from the handle).

use super::consumer_args::{
    check_invisible, decoded_handle, group_name, refused_handle, topic_name,
};
use super::message_out::millis_of_duration;
use super::status::{ok, status};
use super::GrpcFront;
use rocketmq_grpc::v2;
use rocketmq_protocol::header::{
    AckMessageRequestHeader, ChangeInvisibleTimeRequestHeader, ConsumerSendMsgBackRequestHeader,
};
use rocketmq_protocol::pop::ReceiptHandle;
use std::collections::BTreeSet;
use tonic::{Request, Response, Status};

/// The status of a request whose entries answered `codes`.
fn overall(codes: &BTreeSet<i32>) -> v2::Status {
    match codes.len() {
        0 => status(v2::Code::InternalServerError, "ack message result is empty"),
        1 => {
            let code = v2::Code::try_from(*codes.first().unwrap_or(&0))
                .unwrap_or(v2::Code::InternalServerError);
            status(code, code.as_str_name())
        }
        _ => status(v2::Code::MultipleResults, "MULTIPLE_RESULTS"),
    }
}

/// Acks one entry; its status.
async fn ack_entry(
    front: &GrpcFront,
    group: &str,
    topic: &str,
    entry: &v2::AckMessageEntry,
) -> v2::Status {
    let handle = match decoded_handle(&entry.receipt_handle) {
        Ok(h) => h,
        Err(s) => return s,
    };
    let header = AckMessageRequestHeader {
        consumer_group: group.to_string(),
        topic: topic.to_string(),
        queue_id: handle.queue_id,
        extra_info: entry.receipt_handle.clone(),
        offset: handle.queue_offset.unwrap_or(-1),
        broker_name: None,
    };
    match front.broker.pop_ack(&header).await {
        Ok(()) => status(v2::Code::Ok, "OK"),
        Err(e) => refused_handle(
            &handle,
            status(
                v2::Code::InternalServerError,
                format!("ack failed: status is abnormal ({})", e.remark),
            ),
        ),
    }
}

pub(super) async fn ack_message(
    front: &GrpcFront,
    request: Request<v2::AckMessageRequest>,
) -> Result<Response<v2::AckMessageResponse>, Status> {
    let req = request.into_inner();
    let names =
        topic_name(req.topic.as_ref()).and_then(|t| Ok((t, group_name(req.group.as_ref())?)));
    let (topic, group) = match names {
        Ok(n) => n,
        Err(s) => {
            return Ok(Response::new(v2::AckMessageResponse {
                status: Some(s),
                entries: Vec::new(),
            }))
        }
    };
    let mut codes = BTreeSet::new();
    let mut entries = Vec::with_capacity(req.entries.len());
    for entry in &req.entries {
        let s = ack_entry(front, &group, &topic, entry).await;
        codes.insert(s.code);
        entries.push(v2::AckMessageResultEntry {
            message_id: entry.message_id.clone(),
            receipt_handle: entry.receipt_handle.clone(),
            status: Some(s),
        });
    }
    Ok(Response::new(v2::AckMessageResponse {
        status: Some(overall(&codes)),
        entries,
    }))
}

/// The new handle after a change: the old one with the broker's new times, and the old
/// text's fields after the POP handle's eight (the commit-log offset) kept.
fn changed(
    old_text: &str,
    old: &ReceiptHandle,
    pop_time: i64,
    invisible_time: i64,
    revive_qid: i32,
) -> String {
    let mut text = ReceiptHandle {
        pop_time,
        invisible_time,
        revive_qid,
        ..old.clone()
    }
    .encode();
    for extra in old_text.split(' ').skip(8).filter(|f| !f.is_empty()) {
        text.push(' ');
        text.push_str(extra);
    }
    text
}

pub(super) async fn change_invisible_duration(
    front: &GrpcFront,
    request: Request<v2::ChangeInvisibleDurationRequest>,
) -> Result<Response<v2::ChangeInvisibleDurationResponse>, Status> {
    let req = request.into_inner();
    let refuse = |s: v2::Status| {
        Ok(Response::new(v2::ChangeInvisibleDurationResponse {
            status: Some(s),
            receipt_handle: String::new(),
        }))
    };
    let (topic, group) = match topic_name(req.topic.as_ref())
        .and_then(|t| Ok((t, group_name(req.group.as_ref())?)))
    {
        Ok(n) => n,
        Err(s) => return refuse(s),
    };
    let invisible_ms = req
        .invisible_duration
        .as_ref()
        .map(millis_of_duration)
        .unwrap_or(0);
    if let Err(s) = check_invisible(invisible_ms, 0) {
        return refuse(s);
    }
    let handle = match decoded_handle(&req.receipt_handle) {
        Ok(h) => h,
        Err(s) => return refuse(s),
    };
    let header = ChangeInvisibleTimeRequestHeader {
        consumer_group: group,
        topic,
        queue_id: handle.queue_id,
        extra_info: req.receipt_handle.clone(),
        offset: handle.queue_offset.unwrap_or(-1),
        invisible_time: invisible_ms,
        broker_name: None,
    };
    match front.broker.pop_change_invisible(&header).await {
        Ok(r) => Ok(Response::new(v2::ChangeInvisibleDurationResponse {
            status: Some(ok()),
            receipt_handle: changed(
                &req.receipt_handle,
                &handle,
                r.pop_time,
                r.invisible_time,
                r.revive_qid,
            ),
        })),
        Err(e) => refuse(refused_handle(
            &handle,
            status(
                v2::Code::InternalServerError,
                format!("change invisible duration failed: {}", e.remark),
            ),
        )),
    }
}

pub(super) async fn forward_message_to_dead_letter_queue(
    front: &GrpcFront,
    request: Request<v2::ForwardMessageToDeadLetterQueueRequest>,
) -> Result<Response<v2::ForwardMessageToDeadLetterQueueResponse>, Status> {
    let req = request.into_inner();
    let answer = |s: v2::Status| {
        Ok(Response::new(v2::ForwardMessageToDeadLetterQueueResponse {
            status: Some(s),
        }))
    };
    let (topic, group) = match topic_name(req.topic.as_ref())
        .and_then(|t| Ok((t, group_name(req.group.as_ref())?)))
    {
        Ok(n) => n,
        Err(s) => return answer(s),
    };
    let handle = match decoded_handle(&req.receipt_handle) {
        Ok(h) => h,
        Err(s) => return answer(s),
    };
    let broker = &front.broker;
    if !broker.pop_delivery_is_current(&group, &topic, &handle) {
        return answer(refused_handle(
            &handle,
            status(
                v2::Code::InternalServerError,
                "forward failed: this delivery is over (acked or delivered again)",
            ),
        ));
    }
    let real_topic = handle.kind.real_topic(&topic, &group);
    let offset = handle.queue_offset.unwrap_or(-1);
    let Some(entry) = broker
        .store
        .queue_entry(&real_topic, handle.queue_id, offset)
    else {
        return answer(status(
            v2::Code::InvalidReceiptHandle,
            format!(
                "the message of this receipt handle ({real_topic} queue {} offset {offset}) is no longer stored",
                handle.queue_id
            ),
        ));
    };
    let header = ConsumerSendMsgBackRequestHeader {
        offset: entry.commit_log_offset,
        group: group.clone(),
        delay_level: -1,
        origin_msg_id: Some(req.message_id.clone()).filter(|m| !m.is_empty()),
        origin_topic: Some(real_topic),
        unit_mode: false,
        // A negative delay level is the dead-letter topic whatever the maximum.
        max_reconsume_times: None,
    };
    if let Err(e) = broker.consumer_send_back(&header, 0).await {
        return answer(super::status::from_op_error(&e));
    }
    // In the dead-letter topic now: the delivery is done with (a handle popped again in the
    // meantime is the broker's to refuse, and the message then stays where it is).
    let ack = AckMessageRequestHeader {
        consumer_group: group,
        topic,
        queue_id: handle.queue_id,
        extra_info: req.receipt_handle.clone(),
        offset,
        broker_name: None,
    };
    if let Err(e) = broker.pop_ack(&ack).await {
        tracing::warn!(
            "forwarded to the dead-letter topic but not acked: {}",
            e.remark
        );
    }
    answer(ok())
}
