//! `TopicConfig`: one topic's queue counts and permissions, as the Java broker serializes it
//! in `topics.json` and in the broker registration body.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// PermName bits.
pub mod perm {
    pub const PRIORITY: i32 = 0x8;
    pub const READ: i32 = 0x4;
    pub const WRITE: i32 = 0x2;
    pub const INHERIT: i32 = 0x1;
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TopicConfig {
    pub topic_name: String,
    pub read_queue_nums: i32,
    pub write_queue_nums: i32,
    pub perm: i32,
    /// `SINGLE_TAG` or `MULTI_TAG`.
    #[serde(default = "single_tag")]
    pub topic_filter_type: String,
    #[serde(default)]
    pub topic_sys_flag: i32,
    #[serde(default)]
    pub order: bool,
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
}

fn single_tag() -> String {
    "SINGLE_TAG".to_string()
}

impl TopicConfig {
    /// A read-write topic with `queues` read and write queues.
    pub fn new(name: impl Into<String>, queues: i32, perm: i32) -> Self {
        TopicConfig {
            topic_name: name.into(),
            read_queue_nums: queues,
            write_queue_nums: queues,
            perm,
            topic_filter_type: single_tag(),
            topic_sys_flag: 0,
            order: false,
            attributes: BTreeMap::new(),
        }
    }
}

impl TopicConfig {
    /// Java `TopicConfig.encode()`: `name readQ writeQ perm filterType attributesJson`,
    /// space separated (used inside the compressed broker registration body).
    pub fn encode_text(&self) -> String {
        let attributes = serde_json::to_string(&self.attributes).unwrap_or_default();
        format!(
            "{} {} {} {} {} {}",
            self.topic_name,
            self.read_queue_nums,
            self.write_queue_nums,
            self.perm,
            self.topic_filter_type,
            attributes
        )
    }

    /// Java `TopicConfig.decode(String)`: at least 5 space-separated fields; the optional
    /// sixth is the attributes JSON. `None` if a number does not parse.
    pub fn decode_text(text: &str) -> Option<TopicConfig> {
        let mut parts = text.splitn(6, ' ');
        let topic_name = parts.next()?.to_string();
        let read_queue_nums = parts.next()?.parse().ok()?;
        let write_queue_nums = parts.next()?.parse().ok()?;
        let perm = parts.next()?.parse().ok()?;
        let topic_filter_type = parts.next()?.to_string();
        let attributes = match parts.next() {
            Some(json) if !json.trim().is_empty() => serde_json::from_str(json).ok()?,
            _ => BTreeMap::new(),
        };
        Some(TopicConfig {
            topic_name,
            read_queue_nums,
            write_queue_nums,
            perm,
            topic_filter_type,
            topic_sys_flag: 0,
            order: false,
            attributes,
        })
    }
}

/// Topic attributes as RocketMQ 5 keeps them (Java `TopicAttributes`, `AttributeParser`,
/// `AttributeUtil`): a topic's `attributes` map holds plain keys (`message.type` ->
/// `FIFO`); UPDATE_AND_CREATE_TOPIC's `attributes` header field changes it with
/// `+key=value` (add or update) and `-key` (delete) items separated by commas.
///
/// What must stay true: a change is checked whole before anything is applied, with Java's
/// rules and remarks (unknown key, value not in the set, unchangeable key, delete on create);
/// keys a change does not name keep their values across updates.
pub mod attributes {
    use std::collections::BTreeMap;

    /// The message type a topic accepts (`TopicMessageType`).
    pub const MESSAGE_TYPE: &str = "message.type";
    /// Values of `message.type`, in the order Java's remark lists its set.
    pub const MESSAGE_TYPES: [&str; 7] = [
        "UNSPECIFIED",
        "MIXED",
        "TRANSACTION",
        "PRIORITY",
        "FIFO",
        "DELAY",
        "NORMAL",
    ];
    /// The message types a user creates a topic with (all of [`MESSAGE_TYPES`] but
    /// `UNSPECIFIED`), in the order admin tools list them.
    pub const USER_MESSAGE_TYPES: [&str; 6] = [
        "NORMAL",
        "FIFO",
        "DELAY",
        "TRANSACTION",
        "PRIORITY",
        "MIXED",
    ];

    /// `text` as one of [`USER_MESSAGE_TYPES`], in any case; `None` when it is none of them.
    pub fn user_message_type(text: &str) -> Option<&'static str> {
        USER_MESSAGE_TYPES
            .iter()
            .find(|t| t.eq_ignore_ascii_case(text.trim()))
            .copied()
    }

    /// The `attributes` text of UPDATE_AND_CREATE_TOPIC that sets the message type.
    pub fn set_message_type(message_type: &str) -> String {
        format!("+{MESSAGE_TYPE}={message_type}")
    }

    /// The consume-queue type (Java: `BatchCQ` or `SimpleCQ`, fixed at creation).
    pub const QUEUE_TYPE: &str = "queue.type";
    /// Java: `DELETE` or `COMPACTION`, fixed at creation.
    pub const CLEANUP_POLICY: &str = "cleanup.policy";
    /// Tiered-storage retention; Java refuses it without a tiered store.
    pub const RESERVE_TIME: &str = "reserve.time";

    /// One item of a change: `Some(value)` adds or updates, `None` deletes.
    pub type Change = BTreeMap<String, Option<String>>;

    /// Parses `+k=v,-k` text into keys and changes (Java `AttributeParser.parseToMap` plus
    /// the key checks of `AttributeUtil`). Empty text is no change.
    pub fn parse_change(text: &str) -> Result<Change, String> {
        let mut change = Change::new();
        if text.is_empty() {
            return Ok(change);
        }
        for item in text.split(',').filter(|i| !i.is_empty()) {
            let (key, value) = match item.split_once('=') {
                Some((key, value)) => {
                    if !key.contains('+') {
                        return Err(format!("add/alter attribute format is wrong: {key}"));
                    }
                    let value = value.split('=').next().unwrap_or_default();
                    if value.is_empty() {
                        return Err(format!("add/alter attribute format is wrong: {key}"));
                    }
                    (key, Some(value.to_string()))
                }
                None => {
                    if !item.contains('-') {
                        return Err(format!("delete attribute format is wrong: {item}"));
                    }
                    (item, None)
                }
            };
            let sign_ok = match value {
                Some(_) => key.starts_with('+'),
                None => key.starts_with('-'),
            };
            let real = key.get(1..).unwrap_or_default();
            if real.is_empty() || real.contains('+') || real.contains('-') {
                return Err("kv string format wrong.".to_string());
            }
            if !sign_ok {
                return Err(format!("wrong format key: {real}"));
            }
            if change.insert(real.to_string(), value).is_some() {
                return Err(format!("alter duplication key. key: {real}"));
            }
        }
        Ok(change)
    }

    /// The values a key accepts; `None` for a key Java does not know.
    fn allowed(key: &str) -> Option<(&'static [&'static str], bool)> {
        match key {
            MESSAGE_TYPE => Some((&MESSAGE_TYPES, true)),
            QUEUE_TYPE => Some((&["SimpleCQ"], false)),
            CLEANUP_POLICY => Some((&["DELETE"], false)),
            _ => None,
        }
    }

    /// Applies `change` to `current` (a topic's attributes; `create` when the topic does not
    /// exist yet) and returns the new attributes, or Java's reason for refusing. This broker
    /// keeps only the simple consume queue and the DELETE cleanup policy, so `queue.type`
    /// and `cleanup.policy` accept those values alone; `reserve.time` is refused as Java
    /// refuses it without tiered storage.
    pub fn apply_change(
        create: bool,
        current: &BTreeMap<String, String>,
        change: &Change,
    ) -> Result<BTreeMap<String, String>, String> {
        let mut next = current.clone();
        for (key, value) in change {
            if key == RESERVE_TIME {
                return Err("Update topic reserveTime not supported".to_string());
            }
            let Some((values, changeable)) = allowed(key) else {
                return Err(format!("unsupported key: {key}"));
            };
            match value {
                Some(value) => {
                    if !create && !changeable {
                        return Err(format!(
                            "attempt to update an unchangeable attribute. key: {key}"
                        ));
                    }
                    if !values.contains(&value.as_str()) {
                        return Err(format!("value is not in set: [{}]", values.join(", ")));
                    }
                    next.insert(key.clone(), value.clone());
                }
                None if create => {
                    return Err(format!(
                        "only add attribute is supported while creating topic. key: {key}"
                    ));
                }
                None => {
                    if !current.contains_key(key) {
                        return Err(format!("attempt to delete a nonexistent key: {key}"));
                    }
                    if !changeable {
                        return Err(format!(
                            "attempt to update an unchangeable attribute. key: {key}"
                        ));
                    }
                    next.remove(key);
                }
            }
        }
        Ok(next)
    }

    /// `+k=v,...` text for `attributes` (what an admin sends to set them all).
    pub fn change_text(attributes: &BTreeMap<String, String>) -> String {
        attributes
            .iter()
            .map(|(k, v)| format!("+{k}={v}"))
            .collect::<Vec<_>>()
            .join(",")
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        }

        #[test]
        fn set_on_create_and_kept_or_changed_on_update() {
            let change = parse_change("+message.type=FIFO").unwrap();
            let created = apply_change(true, &BTreeMap::new(), &change).unwrap();
            assert_eq!(created, map(&[("message.type", "FIFO")]));
            // An update that names nothing keeps what is there.
            let kept = apply_change(false, &created, &parse_change("").unwrap()).unwrap();
            assert_eq!(kept, created);
            let changed = apply_change(
                false,
                &created,
                &parse_change("+message.type=DELAY").unwrap(),
            )
            .unwrap();
            assert_eq!(changed, map(&[("message.type", "DELAY")]));
            let deleted =
                apply_change(false, &changed, &parse_change("-message.type").unwrap()).unwrap();
            assert!(deleted.is_empty());
            assert_eq!(change_text(&created), "+message.type=FIFO");
            assert_eq!(set_message_type("FIFO"), "+message.type=FIFO");
            assert_eq!(user_message_type(" fifo "), Some("FIFO"));
            assert_eq!(user_message_type("Mixed"), Some("MIXED"));
            assert_eq!(user_message_type("UNSPECIFIED"), None);
        }

        #[test]
        fn refusals_say_what_java_says() {
            let none = BTreeMap::new();
            let refuse = |create: bool, text: &str| {
                parse_change(text)
                    .and_then(|c| apply_change(create, &none, &c))
                    .unwrap_err()
            };
            assert_eq!(refuse(true, "+foo=bar"), "unsupported key: foo");
            assert_eq!(
                refuse(true, "+message.type=FIFOX"),
                "value is not in set: [UNSPECIFIED, MIXED, TRANSACTION, PRIORITY, FIFO, DELAY, NORMAL]"
            );
            assert_eq!(
                refuse(true, "message.type=FIFO"),
                "add/alter attribute format is wrong: message.type"
            );
            assert_eq!(
                refuse(true, "-message.type"),
                "only add attribute is supported while creating topic. key: message.type"
            );
            assert_eq!(
                refuse(false, "-message.type"),
                "attempt to delete a nonexistent key: message.type"
            );
            assert_eq!(
                refuse(false, "+queue.type=SimpleCQ"),
                "attempt to update an unchangeable attribute. key: queue.type"
            );
            assert_eq!(
                refuse(true, "+message.type=FIFO,+message.type=NORMAL"),
                "alter duplication key. key: message.type"
            );
            assert!(refuse(true, "+reserve.time=5").contains("reserveTime not supported"));
        }
    }
}
