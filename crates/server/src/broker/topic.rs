//! Topic configs of the broker (Java `TopicConfigManager`), kept in the store.
//!
//! What must stay true:
//! - `TBW102` (8 queues, perm 7) exists from start so that clients can auto-create topics, and
//!   auto-created topics take min(requested, TBW102 write queues) queues with TBW102's perm minus
//!   INHERIT;
//! - every change bumps the data version and wakes the name-server registration task, so a new
//!   topic has a route before the client's next route refresh;
//! - creation is serialized by one mutex so two concurrent first sends create one config;
//! - a topic's attributes (`message.type`, ...) change only as an UPDATE_AND_CREATE_TOPIC's
//!   `attributes` field says, checked with Java's rules; other updates keep them.

use rocketmq_protocol::body::topic_config::perm;
use rocketmq_store::{MessageStore, StoreError, TopicConfig};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;

/// Template topic for auto-creation on send.
pub const AUTO_CREATE_TOPIC: &str = "TBW102";
/// Queues of `TBW102` (Java `defaultTopicQueueNums`).
pub const AUTO_CREATE_TOPIC_QUEUES: i32 = 8;
pub use super::retry::{
    dlq_topic, retry_topic, DLQ_GROUP_TOPIC_PREFIX as DLQ_PREFIX,
    RETRY_GROUP_TOPIC_PREFIX as RETRY_PREFIX,
};
/// Holds delayed messages: queue n-1 = delay level n.
pub use super::schedule::SCHEDULE_TOPIC;
/// Longest ordinary topic name; retry/DLQ names may be longer.
pub const MAX_TOPIC_LEN: usize = 127;
pub const MAX_RETRY_TOPIC_LEN: usize = 255;

/// Topics users may not send to (Java `TopicValidator.NOT_ALLOWED_SEND_TOPIC_SET`).
pub const NOT_ALLOWED_SEND_TOPICS: [&str; 6] = [
    SCHEDULE_TOPIC,
    "RMQ_SYS_TRANS_HALF_TOPIC",
    "RMQ_SYS_TRANS_OP_HALF_TOPIC",
    "TRANS_CHECK_MAX_TIME_TOPIC",
    "SELF_TEST_TOPIC",
    "OFFSET_MOVED_EVENT",
];

/// Why a topic name is refused: response code and remark.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicRefusal {
    pub code: i32,
    pub remark: String,
}

/// Checks the characters and length of a topic name (INVALID_PARAMETER, 29, when bad).
pub fn validate_topic_name(topic: &str) -> Result<(), TopicRefusal> {
    use rocketmq_protocol::code::response_code::INVALID_PARAMETER;
    if topic.is_empty() {
        return Err(TopicRefusal {
            code: INVALID_PARAMETER,
            remark: "The specified topic is blank.".into(),
        });
    }
    let limit = if topic.starts_with(RETRY_PREFIX) || topic.starts_with(DLQ_PREFIX) {
        MAX_RETRY_TOPIC_LEN
    } else {
        MAX_TOPIC_LEN
    };
    if topic.len() > limit {
        return Err(TopicRefusal {
            code: INVALID_PARAMETER,
            remark: format!(
                "The specified topic: {topic}, is longer than topic max length: {limit} (it has {} characters)",
                topic.len()
            ),
        });
    }
    if let Some(bad) = topic
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '%' | '|' | '_' | '-')))
    {
        return Err(TopicRefusal {
            code: INVALID_PARAMETER,
            remark: format!(
                "The specified topic: {topic}, contains illegal characters, allowing only ^[%|a-zA-Z0-9_-]+$ (the first is {bad:?})"
            ),
        });
    }
    Ok(())
}

/// Longest consumer group name Java's broker creates a subscription group for: its retry
/// topic `%RETRY%<group>` must be a legal topic name of at most [`MAX_TOPIC_LEN`] characters
/// (seen on Apache 5.5.0: 120 characters are served, 121 are not).
pub const MAX_GROUP_LEN: usize = MAX_TOPIC_LEN - RETRY_PREFIX.len();

/// Whether a consumer group with this name can exist: Java creates subscription groups on
/// first use only for names of at most [`MAX_GROUP_LEN`] characters of `[%|a-zA-Z0-9_-]`, and
/// answers requests of any other group SUBSCRIPTION_GROUP_NOT_EXIST (26).
pub fn validate_group_name(group: &str) -> Result<(), TopicRefusal> {
    let legal = !group.is_empty()
        && group.len() <= MAX_GROUP_LEN
        && group
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '%' | '|' | '_' | '-'));
    if legal {
        return Ok(());
    }
    Err(TopicRefusal {
        code: rocketmq_protocol::code::response_code::SUBSCRIPTION_GROUP_NOT_EXIST,
        remark: format!(
            "subscription group [{group}] does not exist: a group name has 1 to {MAX_GROUP_LEN} characters of [%|a-zA-Z0-9_-]"
        ),
    })
}

/// Name check plus the system-topic rule applied to sends (NO_PERMISSION, 16).
pub fn validate_send_topic(topic: &str) -> Result<(), TopicRefusal> {
    validate_topic_name(topic)?;
    if NOT_ALLOWED_SEND_TOPICS.contains(&topic) {
        return Err(TopicRefusal {
            code: rocketmq_protocol::code::response_code::NO_PERMISSION,
            remark: format!("Sending message to topic[{topic}] is forbidden."),
        });
    }
    Ok(())
}

pub struct TopicConfigManager {
    store: Arc<dyn MessageStore>,
    create_lock: Mutex<()>,
    data_version: AtomicI64,
    /// Woken on every change; the registration task listens.
    changed: Arc<Notify>,
}

impl TopicConfigManager {
    /// Creates the system topics that must exist from start.
    pub fn new(store: Arc<dyn MessageStore>, changed: Arc<Notify>) -> Result<Self, StoreError> {
        let manager = TopicConfigManager {
            store,
            create_lock: Mutex::new(()),
            data_version: AtomicI64::new(0),
            changed,
        };
        let system = [
            TopicConfig::new(
                AUTO_CREATE_TOPIC,
                AUTO_CREATE_TOPIC_QUEUES,
                perm::READ | perm::WRITE | perm::INHERIT,
            ),
            TopicConfig::new(SCHEDULE_TOPIC, 18, perm::READ | perm::WRITE),
            // Timer messages wait here (Apache registers it at start too).
            TopicConfig::new(super::timer::TIMER_TOPIC, 1, perm::READ | perm::WRITE),
        ];
        for config in system {
            let existing = manager.store.topic_config(&config.topic_name);
            let keep = existing
                .as_ref()
                .is_some_and(|e| e.write_queue_nums >= config.write_queue_nums);
            if !keep {
                manager.store.put_topic_config(config)?;
            }
        }
        Ok(manager)
    }

    pub fn get(&self, topic: &str) -> Option<TopicConfig> {
        self.store.topic_config(topic)
    }

    pub fn all(&self) -> Vec<TopicConfig> {
        self.store.topic_configs()
    }

    /// Counter for the registration body's `dataVersion`.
    pub fn data_version(&self) -> i64 {
        self.data_version.load(Ordering::SeqCst)
    }

    fn touched(&self) {
        // SeqCst with the load in `data_version`: a registration that reads version V then
        // reads a topic table holding every change up to V.
        self.data_version.fetch_add(1, Ordering::SeqCst);
        self.changed.notify_one();
    }

    /// Stores a config from UPDATE_AND_CREATE_TOPIC whose attributes are the topic's current
    /// ones changed by `attributes` (`+k=v,-k` text, see
    /// [`rocketmq_protocol::body::topic_config::attributes`]): keys the change does not name
    /// keep their values across updates. A refused change (SYSTEM_ERROR with Java's reason,
    /// as Java answers it) stores nothing. Returns the data version announcing the change.
    pub fn put_with_attributes(
        &self,
        mut config: TopicConfig,
        attributes: Option<&str>,
    ) -> Result<Result<i64, TopicRefusal>, StoreError> {
        use rocketmq_protocol::body::topic_config::attributes::{apply_change, parse_change};
        let refusal = |remark: String| TopicRefusal {
            code: rocketmq_protocol::code::response_code::SYSTEM_ERROR,
            remark,
        };
        let change = match parse_change(attributes.unwrap_or_default()) {
            Ok(change) => change,
            Err(remark) => return Ok(Err(refusal(remark))),
        };
        let _guard = self.create_lock.lock().unwrap_or_else(|p| p.into_inner());
        let current = self.get(&config.topic_name);
        let create = current.is_none();
        let current = current.map(|c| c.attributes).unwrap_or_default();
        config.attributes = match apply_change(create, &current, &change) {
            Ok(attributes) => attributes,
            Err(remark) => return Ok(Err(refusal(remark))),
        };
        self.store.put_topic_config(config)?;
        self.touched();
        Ok(Ok(self.data_version()))
    }

    /// The config of `topic`, created from `default_topic` when it does not exist yet
    /// (Java `createTopicInSendMessageMethod`). `Ok(None)` when it cannot be created
    /// (no such template, or the template does not allow inheriting). With the config comes,
    /// for a topic created by this call, the data version whose registration announces it.
    pub fn get_or_create_on_send(
        &self,
        topic: &str,
        default_topic: &str,
        requested_queues: i32,
    ) -> Result<Option<(TopicConfig, Option<i64>)>, StoreError> {
        if let Some(c) = self.get(topic) {
            return Ok(Some((c, None)));
        }
        let _guard = self.create_lock.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = self.get(topic) {
            return Ok(Some((c, None)));
        }
        let template = match self.get(default_topic) {
            Some(t) if t.perm & perm::INHERIT != 0 => t,
            _ => return Ok(None),
        };
        let queues = requested_queues.clamp(1, template.write_queue_nums.max(1));
        let mut config = TopicConfig::new(topic, queues, template.perm & !perm::INHERIT);
        config.topic_filter_type = template.topic_filter_type.clone();
        self.store.put_topic_config(config.clone())?;
        self.touched();
        tracing::info!(topic, queues, "auto-created topic from {default_topic}");
        Ok(Some((config, Some(self.data_version()))))
    }

    /// Creates `topic` with `queues` queues and `perm` unless it exists; returns the config.
    pub fn get_or_create(
        &self,
        topic: &str,
        queues: i32,
        perm: i32,
    ) -> Result<TopicConfig, StoreError> {
        if let Some(c) = self.get(topic) {
            return Ok(c);
        }
        let _guard = self.create_lock.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = self.get(topic) {
            return Ok(c);
        }
        let config = TopicConfig::new(topic, queues, perm);
        self.store.put_topic_config(config.clone())?;
        self.touched();
        tracing::info!(topic, queues, perm, "created topic");
        Ok(config)
    }

    /// `%RETRY%<group>`: 1 queue, read + write.
    pub fn get_or_create_retry(&self, group: &str) -> Result<TopicConfig, StoreError> {
        self.get_or_create(&retry_topic(group), 1, perm::READ | perm::WRITE)
    }

    /// `%DLQ%<group>`: 1 queue, read + write.
    pub fn get_or_create_dlq(&self, group: &str) -> Result<TopicConfig, StoreError> {
        self.get_or_create(&dlq_topic(group), 1, perm::READ | perm::WRITE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_names() {
        assert!(validate_topic_name("TopicA_1-x|%").is_ok());
        assert_eq!(validate_topic_name("bad topic").unwrap_err().code, 29);
        assert_eq!(validate_topic_name(&"a".repeat(128)).unwrap_err().code, 29);
        assert!(validate_topic_name(&format!("%RETRY%{}", "a".repeat(200))).is_ok());
        let refusal = validate_send_topic(SCHEDULE_TOPIC).unwrap_err();
        assert_eq!(refusal.code, 16);
        assert!(refusal.remark.contains(SCHEDULE_TOPIC));
        assert!(validate_topic_name("").is_err());
    }

    #[test]
    fn topic_refusals_use_javas_key_phrases() {
        let too_long = validate_topic_name(&"a".repeat(128)).unwrap_err().remark;
        assert!(
            too_long.contains("is longer than topic max length: 127"),
            "{too_long}"
        );
        let bad = validate_topic_name("bad topic").unwrap_err().remark;
        assert!(
            bad.contains("contains illegal characters, allowing only ^[%|a-zA-Z0-9_-]+$"),
            "{bad}"
        );
        assert_eq!(
            validate_topic_name("").unwrap_err().remark,
            "The specified topic is blank."
        );
        let system = validate_send_topic(SCHEDULE_TOPIC).unwrap_err().remark;
        assert!(system.contains("Sending message to topic[SCHEDULE_TOPIC_XXXX] is forbidden"));
    }

    #[test]
    fn group_names() {
        assert!(validate_group_name("Group_1-x|%").is_ok());
        assert_eq!(MAX_GROUP_LEN, 120);
        assert!(validate_group_name(&"g".repeat(MAX_GROUP_LEN)).is_ok());
        for bad in ["", "bad group", "a.b", &"g".repeat(MAX_GROUP_LEN + 1)] {
            let refusal = validate_group_name(bad).unwrap_err();
            assert_eq!(refusal.code, 26, "{bad:?}");
            assert!(
                refusal.remark.contains("does not exist"),
                "{}",
                refusal.remark
            );
        }
    }
}
