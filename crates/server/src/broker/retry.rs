//! CONSUMER_SEND_MSG_BACK (spec 3.3, 5.4, Java `AbstractSendMessageProcessor.consumerSendMsgBack`)
//! as a pure decision: given the failed message as stored, build the message to append to
//! `%RETRY%<group>` (delayed) or `%DLQ%<group>`.
//!
//! What must stay true:
//! - retry *n* (the message's `reconsume_times` is n-1) is delayed by level `3 + n - 1` unless
//!   the request names a level > 0, clamped to the last level; once `reconsume_times` reaches
//!   the maximum (16 by default, so the 17th failure) or the request's level is < 0, the
//!   message goes to the dead-letter topic without delay;
//! - the new message keeps body, flag, sys flag, born host/time, store host and every
//!   property of the original; it adds `RETRY_TOPIC` (the original topic) and
//!   `ORIGIN_MESSAGE_ID` (the first delivery's offset message id, as Java's broker writes it:
//!   not the `UNIQ_KEY`) only when they are not already set, so both survive any number of
//!   retries; `reconsume_times` goes up by one; `WAIT` becomes `false` (Java's broker does not
//!   wait for the flush of a sent-back message);
//! - a retry message carries `DELAY` = its level and must be stored through
//!   [`super::schedule::to_scheduled`] (the caller's job, the same path as a user's delayed
//!   send); a dead-letter message carries `DELAY=0` (not delayed), as Java's broker writes it.

use rocketmq_protocol::body::topic_config::{perm, TopicConfig};
use rocketmq_protocol::message::StoredMessage;
use rocketmq_protocol::properties::{
    get_property, set_property, DELAY, ORIGIN_MESSAGE_ID, RETRY_TOPIC, TAGS, WAIT,
};
use rocketmq_protocol::tag::tags_code;
use rocketmq_store::MessageToStore;

/// Prefix of a consumer group's retry topic.
pub const RETRY_GROUP_TOPIC_PREFIX: &str = "%RETRY%";
/// Prefix of a consumer group's dead-letter topic.
pub const DLQ_GROUP_TOPIC_PREFIX: &str = "%DLQ%";
/// Subscription-group `retryMaxTimes` default, for the tests (the value in use is the group
/// config's, see `Broker::subscription_group`).
#[cfg(test)]
pub use rocketmq_protocol::body::subscription_group::DEFAULT_RETRY_MAX_TIMES as DEFAULT_MAX_RECONSUME_TIMES;
/// Request `version` ordinal (V3_4_9) from which the header's `maxReconsumeTimes` is honoured.
pub const MAX_RECONSUME_TIMES_MIN_VERSION: i32 = 121;
/// Queues of a retry topic (`retryQueueNums`) and of a dead-letter topic.
pub const RETRY_QUEUE_NUMS: i32 = 1;
pub const DLQ_QUEUE_NUMS: i32 = 1;
/// Level used when the request leaves the choice to the broker: `3 + reconsume_times`.
pub const FIRST_RETRY_DELAY_LEVEL: i32 = 3;

/// `%RETRY%<group>`.
pub fn retry_topic(group: &str) -> String {
    format!("{RETRY_GROUP_TOPIC_PREFIX}{group}")
}

/// `%DLQ%<group>`.
pub fn dlq_topic(group: &str) -> String {
    format!("{DLQ_GROUP_TOPIC_PREFIX}{group}")
}

#[cfg(test)]
pub fn is_retry_topic(topic: &str) -> bool {
    topic.starts_with(RETRY_GROUP_TOPIC_PREFIX)
}

#[cfg(test)]
pub fn is_dlq_topic(topic: &str) -> bool {
    topic.starts_with(DLQ_GROUP_TOPIC_PREFIX)
}

/// The header fields of CONSUMER_SEND_MSG_BACK that decide the outcome, plus the group's
/// configured maximum.
#[derive(Clone, Debug)]
pub struct SendBackRequest<'a> {
    pub group: &'a str,
    /// 0 = broker chooses, < 0 = straight to the dead-letter topic, > 0 = this level.
    pub delay_level: i32,
    /// Header `maxReconsumeTimes`; used only when `request_version` >= 121.
    pub max_reconsume_times: Option<i32>,
    /// The request's `version` ordinal.
    pub request_version: i32,
    /// The subscription group's `retryMaxTimes` ([`DEFAULT_MAX_RECONSUME_TIMES`]).
    pub group_max_reconsume_times: i32,
}

/// Where the sent-back message goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SendBackTarget {
    /// `%RETRY%<group>` queue 0, delivered after this delay level.
    Retry { delay_level: i32 },
    /// `%DLQ%<group>` queue 0, immediately.
    DeadLetter,
}

/// The outcome of a send-back: the message to append and the topic that must exist first.
#[derive(Clone, Debug)]
pub struct SendBack {
    pub target: SendBackTarget,
    /// For [`SendBackTarget::Retry`] pass this through [`super::schedule::to_scheduled`]
    /// with `delay_level` before appending.
    pub message: MessageToStore,
    /// Create this topic if it does not exist (1 queue, perm read|write).
    pub topic_config: TopicConfig,
}

/// The effective retry cap of a request.
pub fn max_reconsume_times(req: &SendBackRequest<'_>) -> i32 {
    match req.max_reconsume_times {
        Some(m) if req.request_version >= MAX_RECONSUME_TIMES_MIN_VERSION => m,
        _ => req.group_max_reconsume_times,
    }
}

/// Decides what to store for a failed message.
///
/// `original` is the record read back at the request's `offset`; `offset_msg_id` is its
/// offset message id (spec 4.10), used as `ORIGIN_MESSAGE_ID` when the message does not carry
/// that property yet; `delay_level_count` is how many delay levels the broker
/// has (levels above it are clamped to it).
pub fn decide_send_back(
    original: &StoredMessage,
    offset_msg_id: &str,
    req: &SendBackRequest<'_>,
    delay_level_count: i32,
) -> SendBack {
    let max_times = max_reconsume_times(req);
    let mut props = original.properties.clone();
    if get_property(&props, RETRY_TOPIC).is_none() {
        props = set_property(&props, RETRY_TOPIC, &original.topic);
    }
    if get_property(&props, ORIGIN_MESSAGE_ID).is_none_or(|v| v.trim().is_empty()) {
        props = set_property(&props, ORIGIN_MESSAGE_ID, offset_msg_id);
    }
    props = set_property(&props, WAIT, "false");

    let (target, topic) = if original.reconsume_times >= max_times || req.delay_level < 0 {
        // Java's broker writes level 0 (no delay) into the dead letter.
        props = set_property(&props, DELAY, "0");
        (SendBackTarget::DeadLetter, dlq_topic(req.group))
    } else {
        let wanted = if req.delay_level > 0 {
            req.delay_level
        } else {
            FIRST_RETRY_DELAY_LEVEL.saturating_add(original.reconsume_times.max(0))
        };
        let level = wanted.min(delay_level_count.max(1));
        props = set_property(&props, DELAY, &level.to_string());
        (
            SendBackTarget::Retry { delay_level: level },
            retry_topic(req.group),
        )
    };

    let queues = match target {
        SendBackTarget::Retry { .. } => RETRY_QUEUE_NUMS,
        SendBackTarget::DeadLetter => DLQ_QUEUE_NUMS,
    };
    let topic_config = TopicConfig::new(topic.clone(), queues, perm::READ | perm::WRITE);
    let message = MessageToStore {
        topic,
        queue_id: 0,
        flag: original.flag,
        sys_flag: original.sys_flag,
        born_timestamp: original.born_timestamp,
        born_host: original.born_host,
        store_host: original.store_host,
        reconsume_times: original.reconsume_times.saturating_add(1),
        prepared_transaction_offset: 0,
        body: original.body.clone(),
        tags_code: tags_code(get_property(&props, TAGS)),
        properties: props,
    };
    SendBack {
        target,
        message,
        topic_config,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use rocketmq_protocol::properties::{decode_properties_map, encode_pairs, KEYS, UNIQ_KEY};
    use std::net::SocketAddr;

    fn stored(reconsume_times: i32, properties: String) -> StoredMessage {
        let mut m = StoredMessage {
            total_size: 0,
            magic_code: 0,
            body_crc: 0,
            queue_id: 2,
            flag: 7,
            queue_offset: 11,
            physical_offset: 4096,
            sys_flag: 0,
            born_timestamp: 1_700_000_000_123,
            born_host: "10.0.0.5:50000".parse::<SocketAddr>().unwrap(),
            store_timestamp: 1_700_000_000_456,
            store_host: "127.0.0.1:10911".parse::<SocketAddr>().unwrap(),
            reconsume_times,
            prepared_transaction_offset: 0,
            body: Bytes::from_static(b"payload\0bytes"),
            topic: "OrderTopic".to_string(),
            properties,
        };
        m.normalize();
        m
    }

    fn req(delay_level: i32) -> SendBackRequest<'static> {
        SendBackRequest {
            group: "G1",
            delay_level,
            max_reconsume_times: None,
            request_version: 63,
            group_max_reconsume_times: DEFAULT_MAX_RECONSUME_TIMES,
        }
    }

    const OFFSET_ID: &str = "7F00000100002A9F0000000000001000";

    #[test]
    fn topic_names() {
        assert_eq!(retry_topic("G"), "%RETRY%G");
        assert_eq!(dlq_topic("G"), "%DLQ%G");
        assert!(is_retry_topic("%RETRY%G"));
        assert!(!is_retry_topic("G"));
        assert!(is_dlq_topic("%DLQ%G"));
        assert!(!is_dlq_topic("%RETRY%G"));
    }

    #[test]
    fn first_failure_goes_to_retry_with_level_3() {
        let props = encode_pairs(&[
            (TAGS, "TagA"),
            (KEYS, "k1 k2"),
            (UNIQ_KEY, "ABCDEF"),
            ("p1", "v1"),
        ]);
        let orig = stored(0, props);
        let sb = decide_send_back(&orig, OFFSET_ID, &req(0), 18);
        assert_eq!(sb.target, SendBackTarget::Retry { delay_level: 3 });
        let m = &sb.message;
        assert_eq!(m.topic, "%RETRY%G1");
        assert_eq!(m.queue_id, 0);
        assert_eq!(m.reconsume_times, 1);
        assert_eq!(m.body, orig.body);
        assert_eq!(m.flag, 7);
        assert_eq!(m.sys_flag, orig.sys_flag);
        assert_eq!(m.born_timestamp, orig.born_timestamp);
        assert_eq!(m.born_host, orig.born_host);
        assert_eq!(m.store_host, orig.store_host);
        assert_eq!(m.tags_code, 2598919);
        let p = decode_properties_map(&m.properties);
        assert_eq!(p[RETRY_TOPIC], "OrderTopic");
        // Java's broker names the first delivery by its offset id, not by its UNIQ_KEY.
        assert_eq!(p[ORIGIN_MESSAGE_ID], OFFSET_ID);
        assert_eq!(p[UNIQ_KEY], "ABCDEF");
        assert_eq!(p[WAIT], "false");
        assert_eq!(p[DELAY], "3");
        assert_eq!(p[TAGS], "TagA");
        assert_eq!(p[KEYS], "k1 k2");
        assert_eq!(p["p1"], "v1");
        assert_eq!(sb.topic_config.topic_name, "%RETRY%G1");
        assert_eq!(sb.topic_config.read_queue_nums, 1);
        assert_eq!(sb.topic_config.write_queue_nums, 1);
        assert_eq!(sb.topic_config.perm, 6);
    }

    #[test]
    fn offset_id_is_origin_without_uniq_key() {
        let sb = decide_send_back(
            &stored(0, encode_pairs(&[(TAGS, "T")])),
            OFFSET_ID,
            &req(0),
            18,
        );
        let p = decode_properties_map(&sb.message.properties);
        assert_eq!(p[ORIGIN_MESSAGE_ID], OFFSET_ID);
    }

    #[test]
    fn later_retries_keep_first_ids_and_grow_the_level() {
        // A message already retried 4 times: came back through %RETRY%G1.
        let props = encode_pairs(&[
            (RETRY_TOPIC, "OrderTopic"),
            (ORIGIN_MESSAGE_ID, "FIRST"),
            (UNIQ_KEY, "ABCDEF"),
        ]);
        let mut orig = stored(4, props);
        orig.topic = "%RETRY%G1".into();
        let sb = decide_send_back(&orig, OFFSET_ID, &req(0), 18);
        assert_eq!(sb.target, SendBackTarget::Retry { delay_level: 7 });
        let p = decode_properties_map(&sb.message.properties);
        assert_eq!(p[RETRY_TOPIC], "OrderTopic");
        assert_eq!(p[ORIGIN_MESSAGE_ID], "FIRST");
        assert_eq!(p[DELAY], "7");
        assert_eq!(sb.message.reconsume_times, 5);
        assert_eq!(sb.message.tags_code, 0);
    }

    #[test]
    fn sixteenth_retry_then_dlq_on_seventeenth_failure() {
        // 16th failure: reconsume_times 15 -> level 18 (the last), still a retry.
        let sb = decide_send_back(&stored(15, String::new()), OFFSET_ID, &req(0), 18);
        assert_eq!(sb.target, SendBackTarget::Retry { delay_level: 18 });
        assert_eq!(sb.message.reconsume_times, 16);
        // 17th failure: reconsume_times 16 >= 16 -> DLQ, no delay.
        let orig = stored(16, encode_pairs(&[(DELAY, "18"), (TAGS, "TagA")]));
        let sb = decide_send_back(&orig, OFFSET_ID, &req(0), 18);
        assert_eq!(sb.target, SendBackTarget::DeadLetter);
        assert_eq!(sb.message.topic, "%DLQ%G1");
        assert_eq!(sb.message.queue_id, 0);
        assert_eq!(sb.message.reconsume_times, 17);
        let p = decode_properties_map(&sb.message.properties);
        assert_eq!(p[DELAY], "0", "a dead letter is not delayed");
        assert_eq!(p[TAGS], "TagA");
        assert_eq!(p[RETRY_TOPIC], "OrderTopic");
        assert_eq!(sb.topic_config.topic_name, "%DLQ%G1");
        assert_eq!(sb.topic_config.write_queue_nums, 1);
        assert_eq!(sb.topic_config.perm, 6);
    }

    #[test]
    fn level_clamps_to_configured_levels() {
        // With only 2 levels (test config), the first retry wants level 3: clamped to 2.
        let sb = decide_send_back(&stored(0, String::new()), OFFSET_ID, &req(0), 2);
        assert_eq!(sb.target, SendBackTarget::Retry { delay_level: 2 });
        let p = decode_properties_map(&sb.message.properties);
        assert_eq!(p[DELAY], "2");
    }

    #[test]
    fn negative_level_goes_straight_to_dlq() {
        let sb = decide_send_back(&stored(0, String::new()), OFFSET_ID, &req(-1), 18);
        assert_eq!(sb.target, SendBackTarget::DeadLetter);
        assert_eq!(sb.message.topic, "%DLQ%G1");
        assert_eq!(sb.message.reconsume_times, 1);
    }

    #[test]
    fn explicit_level_is_used() {
        let sb = decide_send_back(&stored(5, String::new()), OFFSET_ID, &req(1), 18);
        assert_eq!(sb.target, SendBackTarget::Retry { delay_level: 1 });
        let sb = decide_send_back(&stored(0, String::new()), OFFSET_ID, &req(40), 18);
        assert_eq!(sb.target, SendBackTarget::Retry { delay_level: 18 });
    }

    #[test]
    fn header_max_honoured_only_from_version_121() {
        let mut r = req(0);
        r.max_reconsume_times = Some(2);
        // Old client (cpp 1.2.3 sends 63): group default 16 applies.
        assert!(matches!(
            decide_send_back(&stored(2, String::new()), OFFSET_ID, &r, 18).target,
            SendBackTarget::Retry { .. }
        ));
        r.request_version = 121;
        assert_eq!(max_reconsume_times(&r), 2);
        assert_eq!(
            decide_send_back(&stored(2, String::new()), OFFSET_ID, &r, 18).target,
            SendBackTarget::DeadLetter
        );
        assert!(matches!(
            decide_send_back(&stored(1, String::new()), OFFSET_ID, &r, 18).target,
            SendBackTarget::Retry { delay_level: 4 }
        ));
        // Absent header value: group default even for new clients.
        r.max_reconsume_times = None;
        assert_eq!(max_reconsume_times(&r), DEFAULT_MAX_RECONSUME_TIMES);
    }
}
