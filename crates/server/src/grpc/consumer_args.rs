//! What the consumer RPCs check before they reach the broker, as Apache's proxy checks it:
//! the topic and group resources (`validateTopicAndConsumerGroup`), receipt handles
//! (decodable, not expired: `ReceiptHandle.decode` / `isExpired`) and invisible durations
//! (`validateInvisibleTime` with `ProxyConfig`'s bounds).
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

/// The topic's full name (with its namespace), or ILLEGAL_TOPIC.
pub(crate) fn topic_name(topic: Option<&v2::Resource>) -> Result<String, v2::Status> {
    let name = wrap_namespace(topic);
    if topic.is_none_or(|t| t.name.trim().is_empty()) {
        return Err(status(
            v2::Code::IllegalTopic,
            "topic name cannot be empty: set the request's topic",
        ));
    }
    Ok(name)
}

/// The group's full name (with its namespace), or ILLEGAL_CONSUMER_GROUP.
pub(crate) fn group_name(group: Option<&v2::Resource>) -> Result<String, v2::Status> {
    let name = wrap_namespace(group);
    if group.is_none_or(|g| g.name.trim().is_empty()) {
        return Err(status(
            v2::Code::IllegalConsumerGroup,
            "consumer group cannot be empty: set the request's group",
        ));
    }
    Ok(name)
}

/// A receipt handle that decodes, names its message's queue offset and has not expired.
pub(crate) fn live_handle(text: &str) -> Result<ReceiptHandle, v2::Status> {
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
    if handle.visible_at() <= now_millis() {
        return Err(status(
            v2::Code::InvalidReceiptHandle,
            "receipt handle is expired",
        ));
    }
    Ok(handle)
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
