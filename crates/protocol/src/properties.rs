//! The message property string (spec 4.6): `name 0x01 value 0x02` per pair, and the system
//! property names of spec 4.11 (Java `MessageConst`).
//!
//! What must stay true: decoding never panics and keeps a pair only when both name and value
//! are non-empty (as Java does); encoding then decoding gives back the same pairs in order.

use std::collections::BTreeMap;

/// Separates a name from its value.
pub const NAME_VALUE_SEPARATOR: char = '\u{1}';
/// Ends each pair.
pub const PROPERTY_SEPARATOR: char = '\u{2}';
/// Separates the keys inside the `KEYS` property.
pub const KEY_SEPARATOR: &str = " ";
/// Largest encoded property string the record layout can hold (signed 16-bit length).
pub const MAX_PROPERTIES_LEN: usize = i16::MAX as usize;

pub const KEYS: &str = "KEYS";
pub const TAGS: &str = "TAGS";
pub const WAIT: &str = "WAIT";
pub const DELAY: &str = "DELAY";
pub const RETRY_TOPIC: &str = "RETRY_TOPIC";
pub const REAL_TOPIC: &str = "REAL_TOPIC";
pub const REAL_QID: &str = "REAL_QID";
pub const TRAN_MSG: &str = "TRAN_MSG";
pub const PGROUP: &str = "PGROUP";
pub const MIN_OFFSET: &str = "MIN_OFFSET";
pub const MAX_OFFSET: &str = "MAX_OFFSET";
pub const BUYER_ID: &str = "BUYER_ID";
pub const ORIGIN_MESSAGE_ID: &str = "ORIGIN_MESSAGE_ID";
pub const TRANSFER_FLAG: &str = "TRANSFER_FLAG";
pub const CORRECTION_FLAG: &str = "CORRECTION_FLAG";
pub const MQ2_FLAG: &str = "MQ2_FLAG";
pub const RECONSUME_TIME: &str = "RECONSUME_TIME";
pub const MSG_REGION: &str = "MSG_REGION";
pub const TRACE_SWITCH: &str = "TRACE_ON";
pub const UNIQ_KEY: &str = "UNIQ_KEY";
pub const EXTEND_UNIQ_INFO: &str = "EXTEND_UNIQ_INFO";
pub const MAX_RECONSUME_TIMES: &str = "MAX_RECONSUME_TIMES";
pub const CONSUME_START_TIME: &str = "CONSUME_START_TIME";
pub const INNER_NUM: &str = "INNER_NUM";
pub const INNER_BASE: &str = "INNER_BASE";
pub const TRAN_PREPARED_QUEUE_OFFSET: &str = "TRAN_PREPARED_QUEUE_OFFSET";
pub const TRANSACTION_CHECK_TIMES: &str = "TRANSACTION_CHECK_TIMES";
pub const CHECK_IMMUNITY_TIME_IN_SECONDS: &str = "CHECK_IMMUNITY_TIME_IN_SECONDS";
pub const TRANSACTION_ID: &str = "__transactionId__";
pub const INSTANCE_ID: &str = "INSTANCE_ID";
pub const CORRELATION_ID: &str = "CORRELATION_ID";
pub const REPLY_TO_CLIENT: &str = "REPLY_TO_CLIENT";
pub const MESSAGE_TTL: &str = "TTL";
pub const ARRIVE_TIME: &str = "ARRIVE_TIME";
pub const PUSH_REPLY_TIME: &str = "PUSH_REPLY_TIME";
pub const MSG_TYPE: &str = "MSG_TYPE";
pub const CLUSTER: &str = "CLUSTER";
pub const DUP_INFO: &str = "DUP_INFO";
pub const POP_CK: &str = "POP_CK";
pub const POP_CK_OFFSET: &str = "POP_CK_OFFSET";
pub const FIRST_POP_TIME: &str = "1ST_POP_TIME";
/// The consumer group a POP message was revived for (set on its retry copy).
pub const ORIGIN_GROUP: &str = "ORIGIN_GROUP";
pub const SHARDING_KEY: &str = "__SHARDINGKEY";
pub const TIMER_DELIVER_MS: &str = "TIMER_DELIVER_MS";
pub const TIMER_DELAY_SEC: &str = "TIMER_DELAY_SEC";
pub const TIMER_DELAY_MS: &str = "TIMER_DELAY_MS";
pub const TIMER_OUT_MS: &str = "TIMER_OUT_MS";
pub const TIMER_ENQUEUE_MS: &str = "TIMER_ENQUEUE_MS";
pub const TIMER_DEQUEUE_MS: &str = "TIMER_DEQUEUE_MS";
pub const TIMER_ROLL_TIMES: &str = "TIMER_ROLL_TIMES";
pub const TIMER_DEL_UNIQKEY: &str = "TIMER_DEL_UNIQKEY";
pub const TIMER_DELAY_LEVEL: &str = "TIMER_DELAY_LEVEL";
pub const BORN_HOST: &str = "__BORNHOST";
pub const BORN_TIMESTAMP: &str = "BORN_TIMESTAMP";
pub const TRACE_CONTEXT: &str = "TRACE_CONTEXT";
pub const REDIRECT: &str = "REDIRECT";
/// A priority message's priority (a number >= 0; the higher, the sooner it is consumed).
pub const PRIORITY: &str = "_SYS_MSG_PRIORITY_";
pub const INNER_MULTI_DISPATCH: &str = "INNER_MULTI_DISPATCH";
pub const INNER_MULTI_QUEUE_OFFSET: &str = "INNER_MULTI_QUEUE_OFFSET";
pub const FORWARD_QUEUE_ID: &str = "PROPERTY_FORWARD_QUEUE_ID";
pub const CRC32: &str = "__CRC32#";
/// Prefix of client-local properties that are never stored.
pub const TRANSIENT_PREFIX: &str = "__RMQ.TRANSIENT.";
/// Aliyun/ONS start-delivery-time convention; stored but not acted on.
pub const START_DELIVER_TIME: &str = "__STARTDELIVERTIME";
/// The lite topic of a message of a LITE topic (RocketMQ 5.5; not served here).
pub const LITE_TOPIC: &str = "__LITE_TOPIC";

/// Java's `MessageConst.PROPERTY_DLQ_ORIGIN_TOPIC` / `..._MESSAGE_ID`.
pub const DLQ_ORIGIN_TOPIC: &str = "DLQ_ORIGIN_TOPIC";
pub const DLQ_ORIGIN_MESSAGE_ID: &str = "DLQ_ORIGIN_MESSAGE_ID";

/// Property names that are the system's, never a user property: Java's
/// `MessageConst.STRING_HASH_SET` of Apache RocketMQ 5.5.0, name for name. A 5.x delivery's
/// user properties are all the others (as the Apache proxy builds them: a FIFO message shows
/// `__SHARDINGKEY` there too), and a 5.x client's user property of one of these names is
/// refused; on the gRPC endpoint and in the 5.x API over remoting alike.
pub const SYSTEM_PROPERTY_NAMES: &[&str] = &[
    TRACE_SWITCH,
    MSG_REGION,
    KEYS,
    TAGS,
    WAIT,
    DELAY,
    RETRY_TOPIC,
    REAL_TOPIC,
    REAL_QID,
    TRAN_MSG,
    PGROUP,
    MIN_OFFSET,
    MAX_OFFSET,
    BUYER_ID,
    ORIGIN_MESSAGE_ID,
    TRANSFER_FLAG,
    CORRECTION_FLAG,
    MQ2_FLAG,
    RECONSUME_TIME,
    UNIQ_KEY,
    EXTEND_UNIQ_INFO,
    MAX_RECONSUME_TIMES,
    CONSUME_START_TIME,
    TRAN_PREPARED_QUEUE_OFFSET,
    INSTANCE_ID,
    CORRELATION_ID,
    REPLY_TO_CLIENT,
    MESSAGE_TTL,
    ARRIVE_TIME,
    PUSH_REPLY_TIME,
    MSG_TYPE,
    CLUSTER,
    DUP_INFO,
    POP_CK,
    POP_CK_OFFSET,
    FIRST_POP_TIME,
    ORIGIN_GROUP,
    TIMER_DELIVER_MS,
    TIMER_DELAY_SEC,
    TIMER_DELAY_MS,
    TIMER_OUT_MS,
    TIMER_ENQUEUE_MS,
    TIMER_DEQUEUE_MS,
    TIMER_ROLL_TIMES,
    TIMER_DEL_UNIQKEY,
    TIMER_DELAY_LEVEL,
    BORN_HOST,
    BORN_TIMESTAMP,
    PRIORITY,
    INNER_MULTI_QUEUE_OFFSET,
    CRC32,
    DLQ_ORIGIN_TOPIC,
    DLQ_ORIGIN_MESSAGE_ID,
    LITE_TOPIC,
];

/// Whether `name` is the system's (one of [`SYSTEM_PROPERTY_NAMES`] or transient), never a
/// user property.
pub fn is_system_property(name: &str) -> bool {
    SYSTEM_PROPERTY_NAMES.contains(&name) || name.starts_with(TRANSIENT_PREFIX)
}

/// Decodes a property string into its pairs, in order. Pairs with an empty name or an empty
/// value, and segments without a 0x01, are dropped (Java `string2messageProperties`).
pub fn decode_properties(s: &str) -> Vec<(String, String)> {
    iter_properties(s)
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Decodes into a sorted map; on duplicate names the last one wins (as a Java HashMap would).
pub fn decode_properties_map(s: &str) -> BTreeMap<String, String> {
    iter_properties(s)
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Borrowing iterator over the kept pairs of a property string.
pub fn iter_properties(s: &str) -> impl Iterator<Item = (&str, &str)> {
    s.split(PROPERTY_SEPARATOR).filter_map(|seg| {
        let (k, v) = seg.split_once(NAME_VALUE_SEPARATOR)?;
        (!k.is_empty() && !v.is_empty()).then_some((k, v))
    })
}

/// The value of one property without decoding the whole string (last occurrence wins).
pub fn get_property<'a>(s: &'a str, name: &str) -> Option<&'a str> {
    iter_properties(s)
        .filter(|(k, _)| *k == name)
        .map(|(_, v)| v)
        .last()
}

/// Encodes pairs, in iteration order. Works with `&BTreeMap<String, String>`, `&HashMap`,
/// `Vec<(&str, &str)>`, ... Pairs with an empty name or value are skipped (decoding would
/// drop them anyway). Callers must not pass names or values containing 0x01 or 0x02; see
/// [`is_valid_property_text`].
pub fn encode_properties<I, K, V>(pairs: I) -> String
where
    I: IntoIterator<Item = (K, V)>,
    K: AsRef<str>,
    V: AsRef<str>,
{
    let mut out = String::new();
    for (k, v) in pairs {
        let (k, v) = (k.as_ref(), v.as_ref());
        if k.is_empty() || v.is_empty() {
            continue;
        }
        out.push_str(k);
        out.push(NAME_VALUE_SEPARATOR);
        out.push_str(v);
        out.push(PROPERTY_SEPARATOR);
    }
    out
}

/// Encodes a slice of borrowed pairs (convenience over [`encode_properties`]).
pub fn encode_pairs(pairs: &[(&str, &str)]) -> String {
    encode_properties(pairs.iter().copied())
}

/// Whether a name or value can be stored: it must not contain the separators.
pub fn is_valid_property_text(s: &str) -> bool {
    !s.contains([NAME_VALUE_SEPARATOR, PROPERTY_SEPARATOR])
}

/// A property string with `name` set to `value` (replacing every earlier occurrence, appended
/// at the end). Other pairs keep their order.
pub fn set_property(s: &str, name: &str, value: &str) -> String {
    let mut pairs: Vec<(&str, &str)> = iter_properties(s).filter(|(k, _)| *k != name).collect();
    pairs.push((name, value));
    encode_properties(pairs)
}

/// A property string without `name`.
pub fn remove_property(s: &str, name: &str) -> String {
    encode_properties(iter_properties(s).filter(|(k, _)| *k != name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_names_are_the_java_set_and_the_rest_is_the_users() {
        let mut names = SYSTEM_PROPERTY_NAMES.to_vec();
        names.sort_unstable();
        names.dedup();
        assert_eq!(
            names.len(),
            SYSTEM_PROPERTY_NAMES.len(),
            "a name listed twice"
        );
        for name in [
            TAGS,
            KEYS,
            UNIQ_KEY,
            TRAN_MSG,
            PRIORITY,
            DLQ_ORIGIN_TOPIC,
            LITE_TOPIC,
        ] {
            assert!(is_system_property(name), "{name}");
        }
        assert!(is_system_property("__RMQ.TRANSIENT.anything"));
        // Not in Java's set, so a 5.x delivery shows them as the Apache proxy does.
        for name in [SHARDING_KEY, TRANSACTION_ID, TRACE_CONTEXT, "color", "tags"] {
            assert!(!is_system_property(name), "{name}");
        }
    }

    #[test]
    fn decodes_cpp_capture() {
        let s = "KEYS\u{1}k1 k2\u{2}TAGS\u{1}TagA\u{2}UNIQ_KEY\u{1}0123456789ABCDEF0123456789ABCDEF\u{2}WAIT\u{1}true\u{2}p1\u{1}v1\u{2}";
        let pairs = decode_properties(s);
        assert_eq!(pairs.len(), 5);
        assert_eq!(pairs[0], ("KEYS".to_string(), "k1 k2".to_string()));
        assert_eq!(get_property(s, TAGS), Some("TagA"));
        assert_eq!(get_property(s, "missing"), None);
        assert_eq!(encode_properties(&decode_properties_map(s)).len(), s.len());
        assert_eq!(encode_properties(pairs.iter().map(|(k, v)| (k, v))), s);
    }

    #[test]
    fn drops_empty_and_malformed() {
        let s = "a\u{1}\u{2}\u{1}b\u{2}novalue\u{2}\u{2}c\u{1}d\u{1}e\u{2}tail\u{1}x";
        let pairs = decode_properties(s);
        assert_eq!(
            pairs,
            vec![
                ("c".to_string(), "d\u{1}e".to_string()),
                ("tail".to_string(), "x".to_string())
            ]
        );
        assert!(decode_properties("").is_empty());
    }

    #[test]
    fn encode_roundtrip_and_edit() {
        let s = encode_pairs(&[("TAGS", "A"), ("", "x"), ("y", ""), ("KEYS", "k")]);
        assert_eq!(s, "TAGS\u{1}A\u{2}KEYS\u{1}k\u{2}");
        let s2 = set_property(&s, TAGS, "B");
        assert_eq!(s2, "KEYS\u{1}k\u{2}TAGS\u{1}B\u{2}");
        assert_eq!(remove_property(&s2, KEYS), "TAGS\u{1}B\u{2}");
        assert!(is_valid_property_text("abc"));
        assert!(!is_valid_property_text("a\u{2}"));
    }
}
