//! Messages of the RocketMQ 5 client: what a producer sends ([`OutgoingMessage`] and the
//! protobuf `Message` it becomes) and what a consumer or a transaction check receives
//! ([`ReceivedMessage`], decoded from the protobuf `Message`).
//!
//! What must stay true: a received body is checked against its digest (CRC32 and SHA1; a
//! mismatch sets `corrupted`, as the official clients do) and un-gzipped when the server says
//! so; timestamps are milliseconds since the epoch.

use super::signing;
use rocketmq_grpc::v2::{DigestType, Encoding, Message, MessageType, Resource, SystemProperties};
use rocketmq_grpc::Timestamp;
use std::collections::HashMap;
use std::io::Read;
use std::time::{SystemTime, UNIX_EPOCH};

/// A message to send.
#[derive(Clone, Debug, Default)]
pub struct OutgoingMessage {
    pub topic: String,
    pub body: Vec<u8>,
    pub tag: Option<String>,
    pub keys: Vec<String>,
    pub properties: HashMap<String, String>,
    /// Makes it a FIFO message.
    pub message_group: Option<String>,
    /// Makes it a delay (timer) message: when to deliver, ms since the epoch.
    pub delivery_timestamp_ms: Option<i64>,
    /// Makes it a transactional half message.
    pub transactional: bool,
    /// Makes it a priority message (>= 0; the higher, the sooner consumed on a PRIORITY topic).
    pub priority: Option<i32>,
}

impl OutgoingMessage {
    /// The message type the proxy checks against the topic's, or an error for combinations
    /// no message type allows.
    pub fn message_type(&self) -> Result<MessageType, String> {
        if self.priority.is_some_and(|p| p < 0) {
            return Err("priority must be greater than or equal to 0".into());
        }
        match (
            self.message_group.is_some(),
            self.delivery_timestamp_ms.is_some(),
            self.transactional,
            self.priority.is_some(),
        ) {
            (false, false, false, false) => Ok(MessageType::Normal),
            (true, false, false, false) => Ok(MessageType::Fifo),
            (false, true, false, false) => Ok(MessageType::Delay),
            (false, false, true, false) => Ok(MessageType::Transaction),
            (false, false, false, true) => Ok(MessageType::Priority),
            _ => Err(
                "a message takes at most one of message_group, delivery_timestamp, priority \
                      and a transaction; a transactional message sets none of them"
                    .into(),
            ),
        }
    }
}

fn timestamp_of_ms(ms: i64) -> Timestamp {
    Timestamp {
        seconds: ms.div_euclid(1000),
        nanos: (ms.rem_euclid(1000) * 1_000_000) as i32,
    }
}

fn ms_of(ts: Option<&Timestamp>) -> Option<i64> {
    ts.map(|t| t.seconds * 1000 + i64::from(t.nanos) / 1_000_000)
}

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// The protobuf message for `msg`, with a new message id (returned too).
pub fn to_proto(
    msg: &OutgoingMessage,
    topic: Resource,
    message_type: MessageType,
    born_host: &str,
) -> (String, Message) {
    let message_id = signing::new_message_id();
    let system_properties = SystemProperties {
        tag: msg.tag.clone(),
        keys: msg.keys.clone(),
        message_id: message_id.clone(),
        body_encoding: Encoding::Identity as i32,
        message_type: message_type as i32,
        born_timestamp: Some(timestamp_of_ms(now_ms())),
        born_host: born_host.to_string(),
        message_group: msg.message_group.clone(),
        delivery_timestamp: msg.delivery_timestamp_ms.map(timestamp_of_ms),
        priority: msg.priority,
        ..Default::default()
    };
    (
        message_id,
        Message {
            topic: Some(topic),
            user_properties: msg.properties.clone(),
            system_properties: Some(system_properties),
            body: msg.body.clone(),
        },
    )
}

/// A message received from the server.
#[derive(Clone, Debug, Default)]
pub struct ReceivedMessage {
    pub topic: String,
    pub namespace: String,
    pub body: Vec<u8>,
    pub tag: Option<String>,
    pub keys: Vec<String>,
    pub properties: HashMap<String, String>,
    pub message_id: String,
    pub message_group: Option<String>,
    pub message_type: i32,
    pub delivery_timestamp_ms: Option<i64>,
    pub born_host: String,
    pub born_timestamp_ms: Option<i64>,
    pub store_timestamp_ms: Option<i64>,
    pub delivery_attempt: Option<i32>,
    pub receipt_handle: Option<String>,
    /// A priority message's priority.
    pub priority: Option<i32>,
    /// The `host:port` it came from; acks and invisible-duration changes go there.
    pub endpoint: String,
    pub corrupted: bool,
}

fn hex_upper(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

fn digest_matches(kind: i32, expected: &str, body: &[u8]) -> bool {
    if kind == DigestType::Crc32 as i32 {
        let sum = crc32fast::hash(body);
        // Java writes it unpadded, Python zero-padded: compare the numbers.
        u32::from_str_radix(expected, 16).ok() == Some(sum)
    } else if kind == DigestType::Sha1 as i32 {
        use sha1::Digest;
        expected.eq_ignore_ascii_case(&hex_upper(&sha1::Sha1::digest(body)))
    } else {
        // MD5 and unknown kinds are not verified.
        true
    }
}

impl ReceivedMessage {
    pub fn from_proto(msg: Message, endpoint: &str) -> Self {
        let sp = msg.system_properties.unwrap_or_default();
        let topic = msg.topic.unwrap_or_default();
        let mut corrupted = false;
        if let Some(d) = &sp.body_digest {
            corrupted = !digest_matches(d.r#type, &d.checksum, &msg.body);
        }
        let body = if sp.body_encoding == Encoding::Gzip as i32 {
            let mut out = Vec::new();
            match flate2::read::GzDecoder::new(&msg.body[..]).read_to_end(&mut out) {
                Ok(_) => out,
                Err(_) => {
                    corrupted = true;
                    msg.body
                }
            }
        } else {
            msg.body
        };
        ReceivedMessage {
            topic: topic.name,
            namespace: topic.resource_namespace,
            body,
            tag: sp.tag,
            keys: sp.keys,
            properties: msg.user_properties,
            message_id: sp.message_id,
            message_group: sp.message_group,
            message_type: sp.message_type,
            delivery_timestamp_ms: ms_of(sp.delivery_timestamp.as_ref()),
            born_host: sp.born_host,
            born_timestamp_ms: ms_of(sp.born_timestamp.as_ref()),
            store_timestamp_ms: ms_of(sp.store_timestamp.as_ref()),
            delivery_attempt: sp.delivery_attempt,
            receipt_handle: sp.receipt_handle,
            priority: sp.priority,
            endpoint: endpoint.to_string(),
            corrupted,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rocketmq_grpc::v2::Digest;

    #[test]
    fn a_body_that_does_not_match_its_digest_is_corrupted() {
        let good = format!("{:08X}", crc32fast::hash(b"hello"));
        let mut m = Message {
            body: b"hello".to_vec(),
            system_properties: Some(SystemProperties {
                body_digest: Some(Digest {
                    r#type: DigestType::Crc32 as i32,
                    checksum: good,
                }),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert!(!ReceivedMessage::from_proto(m.clone(), "a:1").corrupted);
        m.body = b"hellp".to_vec();
        assert!(ReceivedMessage::from_proto(m, "a:1").corrupted);
    }

    #[test]
    fn message_types_follow_the_set_fields() {
        let mut m = OutgoingMessage::default();
        assert_eq!(m.message_type(), Ok(MessageType::Normal));
        m.message_group = Some("g".into());
        assert_eq!(m.message_type(), Ok(MessageType::Fifo));
        m.transactional = true;
        assert!(m.message_type().is_err());
    }
}
