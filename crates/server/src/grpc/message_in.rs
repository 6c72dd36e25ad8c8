//! A `v2::Message` of SendMessage as the broker's send operation takes it: the checks the
//! Apache proxy makes before sending (its `GrpcValidator` and message-property rules, with its
//! codes and messages), then the remoting property string it builds: user properties, `TAGS`,
//! `KEYS`, `UNIQ_KEY` = the client's message id, `TRAN_MSG` and the check immunity of a
//! transactional message, `TIMER_DELIVER_MS` for a delivery timestamp, `__SHARDINGKEY` for a
//! message group, `PGROUP` = the topic (the producer group of a gRPC producer, so the
//! transaction check-back finds it), `TRACE_CONTEXT`, `__BORNHOST`.
//!
//! What must stay true: a message this module accepts is one the proxy accepts (and the same
//! refusals, same codes); the message's type is read from its properties as the proxy reads
//! it (transaction, else delay, else FIFO, else normal), and a typed topic (`message.type`
//! attribute) takes only its own type; a topic without the attribute, or `MIXED`, takes all.

use super::status::status;
use rocketmq_grpc::v2;
use rocketmq_protocol::properties::{self as p, encode_properties};
use rocketmq_protocol::sysflag::{COMPRESSED_FLAG, TRANSACTION_PREPARED_TYPE};

/// Most user properties of one message (proxy `userPropertyMaxNum`).
pub(crate) const MAX_USER_PROPERTIES: usize = 128;
/// Most bytes of user properties, tag and keys together (proxy `maxUserPropertySize`).
pub(crate) const MAX_USER_PROPERTY_SIZE: usize = 16 * 1024;
/// A message group must be shorter than this many bytes (proxy `maxMessageGroupSize`).
pub(crate) const MAX_MESSAGE_GROUP_SIZE: usize = 64;
/// Longest check immunity of a transactional message (proxy `maxTransactionRecoverySecond`).
pub(crate) const MAX_TRANSACTION_RECOVERY_SECONDS: i64 = 3600;
/// The topic attribute that types a topic.
pub(crate) const MESSAGE_TYPE_ATTRIBUTE: &str = "message.type";

/// The limits a message is checked against (from the broker's configuration).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    pub max_body_size: usize,
    /// Longest delay of a delivery timestamp, in milliseconds.
    pub max_delay_ms: i64,
}

/// One message, checked, as the send operation takes it.
#[derive(Clone, Debug)]
pub(crate) struct Incoming {
    /// The property string to store.
    pub properties: String,
    pub sys_flag: i32,
    pub born_timestamp: i64,
    pub reconsume_times: i32,
    /// The client's message id (stored as `UNIQ_KEY`).
    pub message_id: String,
    /// The type the message's properties give it.
    pub message_type: v2::MessageType,
    pub message_group: Option<String>,
}

/// The proxy's "is a control character" (Java `Character.isISOControl`).
fn has_control(s: &str) -> bool {
    s.chars().any(|c| c.is_control())
}

fn blank(s: &str) -> bool {
    s.trim().is_empty()
}

/// The topic checks of the proxy (`ILLEGAL_TOPIC`): the name rules of the broker, and no
/// system topic (the broker's send-forbidden topics, `TBW102`, the `rmq_sys_` prefix).
pub(crate) fn check_topic(topic: &str) -> Result<(), v2::Status> {
    use crate::broker::topic::{validate_topic_name, MAX_TOPIC_LEN};
    // The broker's rules, with the texts of the Java client's `Validators.checkTopic` (what
    // the proxy answers).
    if validate_topic_name(topic).is_err() {
        let text = if topic.trim().is_empty() {
            "The specified topic is blank.".to_string()
        } else if topic.len() > MAX_TOPIC_LEN {
            "The specified topic is longer than topic max length.".to_string()
        } else {
            format!(
                "The specified topic[{topic}] contains illegal characters, allowing only ^[%|a-zA-Z0-9_-]+$"
            )
        };
        return Err(status(v2::Code::IllegalTopic, text));
    }
    if crate::broker::topic::NOT_ALLOWED_SEND_TOPICS.contains(&topic)
        || topic.starts_with("rmq_sys_")
        || topic == crate::broker::topic::AUTO_CREATE_TOPIC
    {
        return Err(status(v2::Code::IllegalTopic, "cannot access system topic"));
    }
    Ok(())
}

fn millis(t: &rocketmq_grpc::Timestamp) -> i64 {
    t.seconds
        .saturating_mul(1000)
        .saturating_add(i64::from(t.nanos) / 1_000_000)
}

/// Checks one message and builds what the broker stores for it. `producer_group` is the
/// topic (as the proxy does); `now_ms` is the time the delivery timestamp is measured from.
pub(crate) fn incoming(
    message: &v2::Message,
    producer_group: &str,
    born_host: &str,
    limits: Limits,
    now_ms: i64,
) -> Result<Incoming, v2::Status> {
    let empty = v2::SystemProperties::default();
    let sys = message.system_properties.as_ref().unwrap_or(&empty);
    if message.body.is_empty() {
        return Err(status(
            v2::Code::MessageBodyEmpty,
            "message body cannot be empty",
        ));
    }
    if message.body.len() > limits.max_body_size {
        return Err(status(
            v2::Code::MessageBodyTooLarge,
            format!(
                "message body cannot exceed the max {}",
                limits.max_body_size
            ),
        ));
    }
    if message.user_properties.len() > MAX_USER_PROPERTIES {
        return Err(status(
            v2::Code::MessagePropertiesTooLarge,
            format!("too many user properties, max is {MAX_USER_PROPERTIES}"),
        ));
    }
    let mut user_size = 0usize;
    // Sorted, so the stored property string does not depend on the map's order.
    let mut user: Vec<(&String, &String)> = message.user_properties.iter().collect();
    user.sort();
    for (k, v) in &user {
        if rocketmq_protocol::properties::is_system_property(k) {
            return Err(status(
                v2::Code::IllegalMessagePropertyKey,
                format!("property is used by system: {k}"),
            ));
        }
        if has_control(k) {
            return Err(status(
                v2::Code::IllegalMessagePropertyKey,
                "the key of property cannot contain control character",
            ));
        }
        if has_control(v) {
            return Err(status(
                v2::Code::IllegalMessagePropertyKey,
                "the value of property cannot contain control character",
            ));
        }
        user_size += k.len() + v.len();
    }
    let tag = sys.tag.as_deref().unwrap_or("");
    if !tag.is_empty() {
        if blank(tag) {
            return Err(status(
                v2::Code::IllegalMessageTag,
                "tag cannot be the char sequence of whitespace",
            ));
        }
        if tag.contains('|') {
            return Err(status(
                v2::Code::IllegalMessageTag,
                "tag cannot contain '|'",
            ));
        }
        if has_control(tag) {
            return Err(status(
                v2::Code::IllegalMessageTag,
                "tag cannot contain control character",
            ));
        }
    }
    user_size += tag.len();
    for key in &sys.keys {
        if !key.is_empty() && blank(key) {
            return Err(status(
                v2::Code::IllegalMessageKey,
                "key cannot be the char sequence of whitespace",
            ));
        }
        if has_control(key) {
            return Err(status(
                v2::Code::IllegalMessageKey,
                "key cannot contain control character",
            ));
        }
        user_size += key.len();
    }
    if user_size > MAX_USER_PROPERTY_SIZE {
        return Err(status(
            v2::Code::MessagePropertiesTooLarge,
            format!(
                "the total size of user property is too large, max is {MAX_USER_PROPERTY_SIZE}"
            ),
        ));
    }
    if blank(&sys.message_id) {
        return Err(status(
            v2::Code::IllegalMessageId,
            "message id cannot be empty",
        ));
    }
    let mut props: Vec<(String, String)> = user
        .into_iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let mut push = |k: &str, v: String| props.push((k.to_string(), v));
    if !tag.is_empty() {
        push(p::TAGS, tag.to_string());
    }
    let keys: Vec<&str> = sys
        .keys
        .iter()
        .map(String::as_str)
        .filter(|k| !k.is_empty())
        .collect();
    if !keys.is_empty() {
        push(p::KEYS, keys.join(p::KEY_SEPARATOR));
    }
    push(p::UNIQ_KEY, sys.message_id.clone());
    let declared = v2::MessageType::try_from(sys.message_type).unwrap_or_default();
    let transactional = declared == v2::MessageType::Transaction;
    let mut sys_flag = 0;
    if transactional {
        sys_flag |= TRANSACTION_PREPARED_TYPE;
        push(p::TRAN_MSG, "true".to_string());
        if let Some(d) = &sys.orphaned_transaction_recovery_duration {
            if d.seconds > MAX_TRANSACTION_RECOVERY_SECONDS {
                return Err(status(
                    v2::Code::BadRequest,
                    format!(
                        "the max transaction recovery time of message is too large, max is {MAX_TRANSACTION_RECOVERY_SECONDS}"
                    ),
                ));
            }
            push(p::CHECK_IMMUNITY_TIME_IN_SECONDS, d.seconds.to_string());
        }
    }
    let delivery = sys.delivery_timestamp.as_ref().map(millis);
    if let Some(at) = delivery {
        if at.saturating_sub(now_ms) > limits.max_delay_ms {
            return Err(status(
                v2::Code::IllegalDeliveryTime,
                format!(
                    "the max delay time of message is too large, max is {}",
                    limits.max_delay_ms
                ),
            ));
        }
        push(p::TIMER_DELIVER_MS, at.to_string());
    }
    let reconsume_times = sys.delivery_attempt.unwrap_or(0).max(0);
    if reconsume_times > 0 {
        push(p::RECONSUME_TIME, reconsume_times.to_string());
    }
    push(p::PGROUP, producer_group.to_string());
    let group = sys.message_group.as_deref().unwrap_or("");
    if !group.is_empty() {
        if blank(group) {
            return Err(status(
                v2::Code::IllegalMessageGroup,
                "message group cannot be the char sequence of whitespace",
            ));
        }
        if group.len() >= MAX_MESSAGE_GROUP_SIZE {
            return Err(status(
                v2::Code::IllegalMessageGroup,
                format!("message group exceed the max size {MAX_MESSAGE_GROUP_SIZE}"),
            ));
        }
        if has_control(group) {
            return Err(status(
                v2::Code::IllegalMessageGroup,
                "message group cannot contain control character",
            ));
        }
        push(p::SHARDING_KEY, group.to_string());
    }
    let priority = sys.priority.filter(|p| *p >= 0);
    if let Some(p) = priority {
        push(p::PRIORITY, p.to_string());
    }
    if let Some(trace) = sys.trace_context.as_deref().filter(|t| !t.is_empty()) {
        push(p::TRACE_CONTEXT, trace.to_string());
    }
    let born_host = if blank(&sys.born_host) {
        born_host
    } else {
        sys.born_host.as_str()
    };
    if !blank(born_host) {
        push(p::BORN_HOST, born_host.to_string());
    }
    let born_timestamp = sys.born_timestamp.as_ref().map(millis).unwrap_or(now_ms);
    push(p::BORN_TIMESTAMP, born_timestamp.to_string());
    if v2::Encoding::try_from(sys.body_encoding) == Ok(v2::Encoding::Gzip) {
        sys_flag |= COMPRESSED_FLAG;
    }
    let message_type = if transactional {
        v2::MessageType::Transaction
    } else if delivery.is_some() {
        v2::MessageType::Delay
    } else if !group.is_empty() {
        v2::MessageType::Fifo
    } else if priority.is_some() {
        v2::MessageType::Priority
    } else {
        v2::MessageType::Normal
    };
    Ok(Incoming {
        properties: encode_properties(props.iter().map(|(k, v)| (k.as_str(), v.as_str()))),
        sys_flag,
        born_timestamp,
        reconsume_times,
        message_id: sys.message_id.clone(),
        message_type,
        message_group: (!group.is_empty()).then(|| group.to_string()),
    })
}

/// The message types a topic takes, from its `message.type` attribute: NORMAL, FIFO, DELAY
/// and TRANSACTION when it has none (or `MIXED`, or a value this broker does not know), as
/// Apache 5.5's proxy lists them; priority messages need a `PRIORITY` topic.
pub(crate) fn accepted_types(
    attributes: &std::collections::BTreeMap<String, String>,
) -> Vec<v2::MessageType> {
    let one = match attributes
        .get(MESSAGE_TYPE_ATTRIBUTE)
        .map(|t| t.trim().to_ascii_uppercase())
        .as_deref()
    {
        Some("NORMAL") => Some(v2::MessageType::Normal),
        Some("FIFO") => Some(v2::MessageType::Fifo),
        Some("DELAY") => Some(v2::MessageType::Delay),
        Some("TRANSACTION") => Some(v2::MessageType::Transaction),
        Some("PRIORITY") => Some(v2::MessageType::Priority),
        _ => None,
    };
    match one {
        Some(t) => vec![t],
        None => vec![
            v2::MessageType::Normal,
            v2::MessageType::Fifo,
            v2::MessageType::Delay,
            v2::MessageType::Transaction,
        ],
    }
}

/// Refuses a message whose type the topic does not take, with the proxy's code and message.
pub(crate) fn check_type(
    attributes: &std::collections::BTreeMap<String, String>,
    actual: v2::MessageType,
) -> Result<(), v2::Status> {
    let accepted = accepted_types(attributes);
    if accepted.contains(&actual) {
        return Ok(());
    }
    let expected = attributes
        .get(MESSAGE_TYPE_ATTRIBUTE)
        .map(|t| t.trim().to_ascii_uppercase())
        .unwrap_or_default();
    Err(status(
        v2::Code::MessagePropertyConflictWithType,
        format!(
            "TopicMessageType validate failed, the expected type is {expected}, but actual type is {}",
            actual.as_str_name()
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rocketmq_protocol::properties::get_property;

    const LIMITS: Limits = Limits {
        max_body_size: 16,
        max_delay_ms: 1000,
    };

    fn message(f: impl FnOnce(&mut v2::SystemProperties)) -> v2::Message {
        let mut sys = v2::SystemProperties {
            message_id: "ID1".into(),
            ..Default::default()
        };
        f(&mut sys);
        v2::Message {
            topic: Some(v2::Resource {
                name: "T".into(),
                ..Default::default()
            }),
            user_properties: [("k".to_string(), "v".to_string())].into(),
            system_properties: Some(sys),
            body: b"hello".to_vec(),
        }
    }

    fn code(r: Result<Incoming, v2::Status>) -> v2::Code {
        v2::Code::try_from(r.expect_err("refused").code).unwrap()
    }

    #[test]
    fn properties_are_mapped_as_the_proxy_maps_them() {
        let m = message(|s| {
            s.tag = Some("TagA".into());
            s.keys = vec!["k1".into(), "k2".into()];
            s.message_group = Some("g1".into());
        });
        let inc = incoming(&m, "T", "1.2.3.4", LIMITS, 0).unwrap();
        let props = &inc.properties;
        assert_eq!(get_property(props, p::TAGS), Some("TagA"));
        assert_eq!(get_property(props, p::KEYS), Some("k1 k2"));
        assert_eq!(get_property(props, p::UNIQ_KEY), Some("ID1"));
        assert_eq!(get_property(props, p::SHARDING_KEY), Some("g1"));
        assert_eq!(get_property(props, p::PGROUP), Some("T"));
        assert_eq!(get_property(props, "k"), Some("v"));
        assert_eq!(inc.message_type, v2::MessageType::Fifo);

        let m = message(|s| {
            s.message_type = v2::MessageType::Transaction as i32;
            s.orphaned_transaction_recovery_duration = Some(rocketmq_grpc::Duration {
                seconds: 30,
                nanos: 0,
            });
        });
        let inc = incoming(&m, "T", "", LIMITS, 0).unwrap();
        assert_eq!(get_property(&inc.properties, p::TRAN_MSG), Some("true"));
        assert_eq!(
            get_property(&inc.properties, p::CHECK_IMMUNITY_TIME_IN_SECONDS),
            Some("30")
        );
        assert_eq!(
            inc.sys_flag & TRANSACTION_PREPARED_TYPE,
            TRANSACTION_PREPARED_TYPE
        );
        assert_eq!(inc.message_type, v2::MessageType::Transaction);

        let m = message(|s| {
            s.delivery_timestamp = Some(rocketmq_grpc::Timestamp {
                seconds: 1,
                nanos: 500_000_000,
            })
        });
        let inc = incoming(&m, "T", "", LIMITS, 1000).unwrap();
        assert_eq!(
            get_property(&inc.properties, p::TIMER_DELIVER_MS),
            Some("1500")
        );
        assert_eq!(inc.message_type, v2::MessageType::Delay);
    }

    #[test]
    fn refusals_carry_the_proxy_codes() {
        let mut m = message(|_| {});
        m.body = Default::default();
        assert_eq!(
            code(incoming(&m, "T", "", LIMITS, 0)),
            v2::Code::MessageBodyEmpty
        );
        m.body = vec![0u8; 17];
        assert_eq!(
            code(incoming(&m, "T", "", LIMITS, 0)),
            v2::Code::MessageBodyTooLarge
        );
        let m = message(|s| s.tag = Some("a|b".into()));
        assert_eq!(
            code(incoming(&m, "T", "", LIMITS, 0)),
            v2::Code::IllegalMessageTag
        );
        let m = message(|s| s.tag = Some("  ".into()));
        assert_eq!(
            code(incoming(&m, "T", "", LIMITS, 0)),
            v2::Code::IllegalMessageTag
        );
        let m = message(|s| s.keys = vec![" ".into()]);
        assert_eq!(
            code(incoming(&m, "T", "", LIMITS, 0)),
            v2::Code::IllegalMessageKey
        );
        let m = message(|s| s.message_id = String::new());
        assert_eq!(
            code(incoming(&m, "T", "", LIMITS, 0)),
            v2::Code::IllegalMessageId
        );
        let m = message(|s| s.message_group = Some("g".repeat(64)));
        assert_eq!(
            code(incoming(&m, "T", "", LIMITS, 0)),
            v2::Code::IllegalMessageGroup
        );
        let m = message(|s| {
            s.delivery_timestamp = Some(rocketmq_grpc::Timestamp {
                seconds: 10,
                nanos: 0,
            })
        });
        assert_eq!(
            code(incoming(&m, "T", "", LIMITS, 0)),
            v2::Code::IllegalDeliveryTime
        );
        let mut m = message(|_| {});
        m.user_properties.insert("TAGS".into(), "x".into());
        assert_eq!(
            code(incoming(&m, "T", "", LIMITS, 0)),
            v2::Code::IllegalMessagePropertyKey
        );
    }

    #[test]
    fn typed_topics_take_only_their_type() {
        let none = Default::default();
        for t in [
            v2::MessageType::Normal,
            v2::MessageType::Fifo,
            v2::MessageType::Delay,
            v2::MessageType::Transaction,
        ] {
            assert!(check_type(&none, t).is_ok());
        }
        let fifo = [(MESSAGE_TYPE_ATTRIBUTE.to_string(), "FIFO".to_string())].into();
        assert!(check_type(&fifo, v2::MessageType::Fifo).is_ok());
        let refused = check_type(&fifo, v2::MessageType::Normal).unwrap_err();
        assert_eq!(
            refused.code,
            v2::Code::MessagePropertyConflictWithType as i32
        );
        assert!(
            refused.message.contains("expected type is FIFO"),
            "{refused:?}"
        );
        assert_eq!(accepted_types(&fifo), vec![v2::MessageType::Fifo]);
    }

    #[test]
    fn system_topics_and_bad_names_are_illegal() {
        for t in [
            "",
            "a b",
            "RMQ_SYS_TRANS_HALF_TOPIC",
            "TBW102",
            "SCHEDULE_TOPIC_XXXX",
        ] {
            let e = check_topic(t).unwrap_err();
            assert_eq!(e.code, v2::Code::IllegalTopic as i32, "{t:?}");
        }
        assert!(check_topic("ok_topic-1").is_ok());
    }
}
