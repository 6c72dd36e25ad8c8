//! What the consumer RPCs check before they reach the broker, as Apache's proxy checks it:
//! the topic and group resources (`validateTopicAndConsumerGroup`), receipt handles
//! (decodable: `ReceiptHandle.decode`; an expired one is named so when the broker refuses
//! it: `isExpired`) and invisible durations (`validateInvisibleTime` with `ProxyConfig`'s
//! bounds).
//!
//! Every refusal is a `v2::Status` with the proxy's code and a message saying what to fix.

use super::message_out::wrap_namespace;
use super::status::status;
use rocketmq_grpc::v2;
use rocketmq_protocol::now_millis;
use rocketmq_protocol::pop::ReceiptHandle;

/// `ProxyConfig.minInvisibleTimeMillsForRecv`.
pub(crate) const MIN_INVISIBLE_MS_FOR_RECEIVE: i64 = 10_000;
/// `ProxyConfig.maxInvisibleTimeMills` (12 hours).
pub(crate) const MAX_INVISIBLE_MS: i64 = 12 * 3600 * 1000;

/// Longest topic name (Java's `Validators.TOPIC_MAX_LENGTH`).
const TOPIC_MAX_LENGTH: usize = 127;
/// Longest group name (Java's `Validators.CHARACTER_MAX_LENGTH`).
const GROUP_MAX_LENGTH: usize = 255;

/// Java's `Validators` pattern `^[%|a-zA-Z0-9_-]+$`.
fn legal_characters(name: &str) -> bool {
    name.bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'%' | b'|' | b'_' | b'-'))
}

/// A resource's full name (with its namespace), checked as the proxy checks names.
fn resource_name(
    resource: Option<&v2::Resource>,
    what: &str,
    max: usize,
    code: v2::Code,
) -> Result<String, v2::Status> {
    if resource.is_none_or(|r| r.name.trim().is_empty()) {
        return Err(status(
            code,
            format!("{what} name cannot be empty: set the request's {what}"),
        ));
    }
    let name = wrap_namespace(resource);
    if !legal_characters(&name) {
        return Err(status(
            code,
            format!("the specified {what} {name:?} contains illegal characters, allowing only ^[%|a-zA-Z0-9_-]+$"),
        ));
    }
    if name.len() > max {
        return Err(status(
            code,
            format!("the specified {what} {name:?} is longer than {what} max length {max}"),
        ));
    }
    Ok(name)
}

/// The topic's full name (with its namespace), or ILLEGAL_TOPIC.
pub(crate) fn topic_name(topic: Option<&v2::Resource>) -> Result<String, v2::Status> {
    resource_name(topic, "topic", TOPIC_MAX_LENGTH, v2::Code::IllegalTopic)
}

/// The group's full name (with its namespace), or ILLEGAL_CONSUMER_GROUP.
pub(crate) fn group_name(group: Option<&v2::Resource>) -> Result<String, v2::Status> {
    resource_name(
        group,
        "group",
        GROUP_MAX_LENGTH,
        v2::Code::IllegalConsumerGroup,
    )
}

/// A receipt handle that decodes and names its message's queue offset. Whether it is still
/// the message's delivery is the broker's to say (an auto-renewed delivery outlives the
/// invisible time its handle's text names); [`refused_handle`] words its refusal.
pub(crate) fn decoded_handle(text: &str) -> Result<ReceiptHandle, v2::Status> {
    let handle = ReceiptHandle::parse(text).map_err(|e| {
        status(
            v2::Code::InvalidReceiptHandle,
            format!("{e}: pass the receipt_handle of a received message"),
        )
    })?;
    if handle.queue_offset.is_none() {
        return Err(status(
            v2::Code::InvalidReceiptHandle,
            "receipt handle names no queue offset: pass the receipt_handle of a received message",
        ));
    }
    Ok(handle)
}

/// The status of a handle the broker refused: INVALID_RECEIPT_HANDLE "receipt handle is
/// expired" when its invisible time has passed (the proxy's check), else `otherwise`.
pub(crate) fn refused_handle(handle: &ReceiptHandle, otherwise: v2::Status) -> v2::Status {
    if handle.visible_at() <= now_millis() {
        status(v2::Code::InvalidReceiptHandle, "receipt handle is expired")
    } else {
        otherwise
    }
}

/// Checks an invisible duration against `[min, MAX_INVISIBLE_MS]`.
pub(crate) fn check_invisible(invisible_ms: i64, min: i64) -> Result<(), v2::Status> {
    if invisible_ms < min {
        return Err(status(
            v2::Code::IllegalInvisibleTime,
            format!("the invisibleTime is too small. min is {min} (got {invisible_ms} ms)"),
        ));
    }
    if invisible_ms > MAX_INVISIBLE_MS {
        return Err(status(
            v2::Code::IllegalInvisibleTime,
            format!(
                "the invisibleTime is too large. max is {MAX_INVISIBLE_MS} (got {invisible_ms} ms)"
            ),
        ));
    }
    Ok(())
}
