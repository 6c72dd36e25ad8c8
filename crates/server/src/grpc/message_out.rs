//! A stored or popped message as the `v2::Message` a 5.x consumer receives, with its
//! `SystemProperties` filled as Apache's proxy fills them (`GrpcConverter.buildMessage`):
//! tag, keys, message id (`UNIQ_KEY`, else the offset message id), MD5 body digest, body
//! encoding, message type, born/store timestamps and hosts, delivery timestamp, message
//! group, receipt handle, queue id/offset, delivery attempt, trace context, dead-letter
//! origin; every property that is not a system one goes to `user_properties`.
//!
//! What must stay true: a compressed body is inflated here and sent with `IDENTITY`
//! encoding (a 5.x client cannot read the remoting compression), and the digest is of the
//! body as sent.

use super::body_digest::md5_hex_upper;
use rocketmq_grpc::v2;
use rocketmq_protocol::message::StoredMessage;
use rocketmq_protocol::message_id::create_offset_msg_id;
use rocketmq_protocol::message_priority::parse_priority;
use rocketmq_protocol::properties as prop;
use rocketmq_protocol::properties::iter_properties;
use rocketmq_protocol::sysflag;
use std::collections::HashMap;

/// Largest inflated body delivered (the broker's message size bound with room).
const MAX_INFLATED_BODY: usize = 64 * 1024 * 1024;

/// A protobuf timestamp of `ms` milliseconds since the epoch.
pub(crate) fn timestamp_of_millis(ms: i64) -> rocketmq_grpc::Timestamp {
    rocketmq_grpc::Timestamp {
        seconds: ms.div_euclid(1000),
        nanos: (ms.rem_euclid(1000) * 1_000_000) as i32,
    }
}

/// A protobuf duration of `ms` milliseconds.
pub(crate) fn duration_of_millis(ms: i64) -> rocketmq_grpc::Duration {
    rocketmq_grpc::Duration {
        seconds: ms.div_euclid(1000),
        nanos: (ms.rem_euclid(1000) * 1_000_000) as i32,
    }
}

/// Milliseconds of a protobuf duration (negative durations count as 0).
pub(crate) fn millis_of_duration(d: &rocketmq_grpc::Duration) -> i64 {
    d.seconds
        .saturating_mul(1000)
        .saturating_add(i64::from(d.nanos) / 1_000_000)
        .max(0)
}

/// A topic name with its namespace (`namespace%name`, Java's `NamespaceUtil.wrapNamespace`).
pub(crate) fn wrap_namespace(resource: Option<&v2::Resource>) -> String {
    match resource {
        Some(r) if !r.resource_namespace.is_empty() => {
            format!("{}%{}", r.resource_namespace, r.name)
        }
        Some(r) => r.name.clone(),
        None => String::new(),
    }
}

/// What a delivery adds to the stored message.
pub(crate) struct Delivery {
    /// The POP handle (`POP_CK`), when the message was popped.
    pub receipt_handle: Option<String>,
    /// 1 for a first delivery, then one more per redelivery.
    pub delivery_attempt: i32,
    /// How long the message stays invisible (POP deliveries).
    pub invisible_ms: Option<i64>,
    /// The resource the consumer asked for (its namespace is echoed).
    pub topic: v2::Resource,
}

/// The `v2::Message` of `m` as delivered.
pub(crate) fn to_v2_message(m: StoredMessage, delivery: Delivery) -> v2::Message {
    let props: HashMap<&str, &str> = iter_properties(&m.properties).collect();
    let get = |name: &str| props.get(name).copied();
    let body: Vec<u8> = if sysflag::is_compressed(m.sys_flag) {
        rocketmq_protocol::compression::inflate(&m.body, MAX_INFLATED_BODY)
            .unwrap_or_else(|_| m.body.to_vec())
    } else {
        m.body.to_vec()
    };
    let priority = get(prop::PRIORITY).and_then(parse_priority);
    let message_type = if get(prop::TRAN_MSG) == Some("true") {
        v2::MessageType::Transaction
    } else if get(prop::DELAY).is_some()
        || get(prop::TIMER_DELIVER_MS).is_some()
        || get(prop::TIMER_DELAY_SEC).is_some()
    {
        v2::MessageType::Delay
    } else if get(prop::SHARDING_KEY).is_some() {
        v2::MessageType::Fifo
    } else if priority.is_some() {
        v2::MessageType::Priority
    } else {
        v2::MessageType::Normal
    };
    let delivery_timestamp = if let Some(sec) = get(prop::TIMER_DELAY_SEC) {
        sec.parse::<i64>()
            .ok()
            .map(|s| rocketmq_protocol::now_millis().saturating_add(s.saturating_mul(1000)))
    } else {
        get(prop::TIMER_DELIVER_MS).and_then(|ms| ms.parse::<i64>().ok())
    };
    let message_id = get(prop::UNIQ_KEY)
        .map(str::to_string)
        .unwrap_or_else(|| create_offset_msg_id(m.store_host, m.physical_offset));
    let born_host = get(prop::BORN_HOST)
        .filter(|h| !h.trim().is_empty())
        .map(str::to_string)
        .unwrap_or_else(|| m.born_host.ip().to_string());
    let dead_letter_queue = match (
        get(prop::DLQ_ORIGIN_TOPIC),
        get(prop::DLQ_ORIGIN_MESSAGE_ID),
    ) {
        (Some(topic), Some(id)) => Some(v2::DeadLetterQueue {
            topic: topic.to_string(),
            message_id: id.to_string(),
        }),
        _ => None,
    };
    let system = v2::SystemProperties {
        tag: get(prop::TAGS).map(str::to_string),
        keys: get(prop::KEYS)
            .map(|k| {
                k.split(prop::KEY_SEPARATOR)
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default(),
        message_id,
        body_digest: Some(v2::Digest {
            r#type: v2::DigestType::Md5 as i32,
            checksum: md5_hex_upper(&body),
        }),
        body_encoding: v2::Encoding::Identity as i32,
        message_type: message_type as i32,
        born_timestamp: Some(timestamp_of_millis(m.born_timestamp)),
        born_host,
        store_timestamp: Some(timestamp_of_millis(m.store_timestamp)),
        store_host: m.store_host.to_string(),
        delivery_timestamp: delivery_timestamp.map(timestamp_of_millis),
        receipt_handle: delivery.receipt_handle,
        queue_id: m.queue_id,
        queue_offset: Some(m.queue_offset),
        invisible_duration: delivery.invisible_ms.map(duration_of_millis),
        delivery_attempt: Some(delivery.delivery_attempt),
        message_group: get(prop::SHARDING_KEY).map(str::to_string),
        trace_context: get(prop::TRACE_CONTEXT).map(str::to_string),
        orphaned_transaction_recovery_duration: None,
        dead_letter_queue,
        lite_topic: None,
        priority,
    };
    let user_properties = props
        .iter()
        .filter(|(k, _)| !prop::is_system_property(k))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    v2::Message {
        topic: Some(delivery.topic),
        user_properties,
        system_properties: Some(system),
        body,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use rocketmq_protocol::properties::encode_pairs;

    fn stored(properties: &str, body: &[u8]) -> StoredMessage {
        StoredMessage {
            total_size: 0,
            magic_code: 0,
            body_crc: 0,
            queue_id: 3,
            flag: 0,
            queue_offset: 7,
            physical_offset: 1234,
            sys_flag: 0,
            born_timestamp: 1_700_000_000_123,
            born_host: "10.1.2.3:5555".parse().unwrap(),
            store_timestamp: 1_700_000_000_456,
            store_host: "127.0.0.1:10911".parse().unwrap(),
            reconsume_times: 0,
            prepared_transaction_offset: 0,
            body: Bytes::copy_from_slice(body),
            topic: "T".into(),
            properties: properties.into(),
        }
    }

    fn delivery() -> Delivery {
        Delivery {
            receipt_handle: Some("0 1 2 3 0 b 3 7".into()),
            delivery_attempt: 2,
            invisible_ms: Some(30_000),
            topic: v2::Resource {
                resource_namespace: String::new(),
                name: "T".into(),
            },
        }
    }

    #[test]
    fn system_and_user_properties_split_as_the_proxy_does() {
        let props = encode_pairs(&[
            (prop::TAGS, "TagA"),
            (prop::KEYS, "k1 k2"),
            (prop::UNIQ_KEY, "ABCDEF"),
            (prop::SHARDING_KEY, "g1"),
            ("color", "red"),
        ]);
        let m = to_v2_message(stored(&props, b"hello"), delivery());
        let s = m.system_properties.unwrap();
        assert_eq!(s.tag.as_deref(), Some("TagA"));
        assert_eq!(s.keys, vec!["k1", "k2"]);
        assert_eq!(s.message_id, "ABCDEF");
        assert_eq!(s.message_group.as_deref(), Some("g1"));
        assert_eq!(s.message_type, v2::MessageType::Fifo as i32);
        assert_eq!(s.body_digest.unwrap().checksum, md5_hex_upper(b"hello"));
        assert_eq!(s.born_host, "10.1.2.3");
        assert_eq!(s.store_host, "127.0.0.1:10911");
        assert_eq!(s.born_timestamp.unwrap().nanos, 123_000_000);
        assert_eq!(s.queue_id, 3);
        assert_eq!(s.queue_offset, Some(7));
        assert_eq!(s.delivery_attempt, Some(2));
        assert_eq!(s.receipt_handle.as_deref(), Some("0 1 2 3 0 b 3 7"));
        assert_eq!(s.invisible_duration.unwrap().seconds, 30);
        // The proxy keeps out of the user properties only Java's system names: the message
        // group's `__SHARDINGKEY` stays there too.
        assert_eq!(
            m.user_properties,
            HashMap::from([
                ("color".to_string(), "red".to_string()),
                (prop::SHARDING_KEY.to_string(), "g1".to_string())
            ])
        );
    }

    #[test]
    fn without_uniq_key_the_offset_id_and_timer_messages_are_delay() {
        let props = encode_pairs(&[(prop::TIMER_DELIVER_MS, "1700000009000")]);
        let m = to_v2_message(stored(&props, b""), delivery());
        let s = m.system_properties.unwrap();
        assert_eq!(
            s.message_id,
            create_offset_msg_id("127.0.0.1:10911".parse().unwrap(), 1234)
        );
        assert_eq!(s.message_type, v2::MessageType::Delay as i32);
        assert_eq!(s.delivery_timestamp.unwrap().seconds, 1_700_000_009);
        assert!(m.user_properties.is_empty());
    }
}
