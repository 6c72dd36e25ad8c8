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
