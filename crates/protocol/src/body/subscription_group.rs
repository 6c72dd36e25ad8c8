//! Subscription-group configs (Java `SubscriptionGroupConfig`) and the bodies and headers that
//! carry them: UPDATE_AND_CREATE_SUBSCRIPTIONGROUP (200, body = one config),
//! GET_ALL_SUBSCRIPTIONGROUP_CONFIG (201, body = [`SubscriptionGroupWrapper`], also the layout
//! of the broker's persisted `subscriptionGroup.json`), DELETE_SUBSCRIPTIONGROUP (207),
//! GET_SUBSCRIPTIONGROUP_CONFIG (352) and UPDATE_AND_CREATE_SUBSCRIPTIONGROUP_LIST (225).
//!
//! What must stay true: a config missing a field reads as Java's default for it; fields this
//! crate does not know are kept (in `extra`) and written back, never an error; fields are
//! written in fastjson's alphabetical order.

use super::register::DataVersion;
use crate::command_header;
use crate::lenient::{bool_any, i32_any, i64_any};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// Java `SubscriptionGroupConfig.retryMaxTimes` default.
pub const DEFAULT_RETRY_MAX_TIMES: i32 = 16;

/// Groups Java's `SubscriptionGroupManager` creates at start (`MixAll` names).
pub const SYSTEM_GROUPS: [&str; 8] = [
    "TOOLS_CONSUMER",
    "FILTERSRV_CONSUMER",
    "SELF_TEST_C_GROUP",
    "CID_ONS-HTTP-PROXY",
    "CID_ONSAPI_PULL",
    "CID_ONSAPI_PERMISSION",
    "CID_ONSAPI_OWNER",
    "CID_RMQ_SYS_TRANS",
];

/// One subscription of a group's `subscriptionDataSet` (Java `SimpleSubscriptionData`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SimpleSubscriptionData {
    #[serde(default)]
    pub expression: String,
    #[serde(default)]
    pub expression_type: String,
    #[serde(default)]
    pub topic: String,
    #[serde(default, deserialize_with = "i64_any")]
    pub version: i64,
}

/// A consumer group's config as the Java broker keeps it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionGroupConfig {
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
    #[serde(default, deserialize_with = "i64_any")]
    pub broker_id: i64,
    #[serde(default = "yes", deserialize_with = "bool_any")]
    pub consume_broadcast_enable: bool,
    #[serde(default = "yes", deserialize_with = "bool_any")]
    pub consume_enable: bool,
    #[serde(default = "yes", deserialize_with = "bool_any")]
    pub consume_from_min_enable: bool,
    /// What makes a 5.x group FIFO.
    #[serde(default, deserialize_with = "bool_any")]
    pub consume_message_orderly: bool,
    #[serde(default = "fifteen", deserialize_with = "i32_any")]
    pub consume_timeout_minute: i32,
    #[serde(default)]
    pub group_name: String,
    /// Java `GroupRetryPolicy`, kept as JSON (`{"type":"CUSTOMIZED"}` by default).
    #[serde(default = "default_retry_policy")]
    pub group_retry_policy: Value,
    #[serde(default, deserialize_with = "i32_any")]
    pub group_sys_flag: i32,
    #[serde(default = "yes", deserialize_with = "bool_any")]
    pub notify_consumer_ids_changed_enable: bool,
    /// Failures after which a message goes to `%DLQ%<group>`.
    #[serde(default = "sixteen", deserialize_with = "i32_any")]
    pub retry_max_times: i32,
    #[serde(default = "one_i32", deserialize_with = "i32_any")]
    pub retry_queue_nums: i32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscription_data_set: Option<Vec<SimpleSubscriptionData>>,
    #[serde(default = "one_i64", deserialize_with = "i64_any")]
    pub which_broker_when_consume_slowly: i64,
    /// Fields of newer brokers this crate does not know, kept as they came.
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

fn yes() -> bool {
    true
}
fn fifteen() -> i32 {
    15
}
fn sixteen() -> i32 {
    DEFAULT_RETRY_MAX_TIMES
}
fn one_i32() -> i32 {
    1
}
fn one_i64() -> i64 {
    1
}
fn default_retry_policy() -> Value {
    serde_json::json!({ "type": "CUSTOMIZED" })
}

impl SubscriptionGroupConfig {
    /// Java's defaults for a group called `group`.
    pub fn new(group: impl Into<String>) -> Self {
        SubscriptionGroupConfig {
            attributes: BTreeMap::new(),
            broker_id: 0,
            consume_broadcast_enable: true,
            consume_enable: true,
            consume_from_min_enable: true,
            consume_message_orderly: false,
            consume_timeout_minute: 15,
            group_name: group.into(),
            group_retry_policy: default_retry_policy(),
            group_sys_flag: 0,
            notify_consumer_ids_changed_enable: true,
            retry_max_times: DEFAULT_RETRY_MAX_TIMES,
            retry_queue_nums: 1,
            subscription_data_set: None,
            which_broker_when_consume_slowly: 1,
            extra: BTreeMap::new(),
        }
    }
}

/// GET_ALL_SUBSCRIPTIONGROUP_CONFIG's body and the persisted table (Java
/// `SubscriptionGroupWrapper`; the broker's file adds nothing it needs).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionGroupWrapper {
    #[serde(default)]
    pub data_version: DataVersion,
    /// group -> topic -> forbidden bits (kept, not applied by this broker).
    #[serde(default)]
    pub forbidden_table: BTreeMap<String, BTreeMap<String, i32>>,
    #[serde(default)]
    pub subscription_group_table: BTreeMap<String, SubscriptionGroupConfig>,
}

/// UPDATE_AND_CREATE_SUBSCRIPTIONGROUP_LIST's body (Java `SubscriptionGroupList`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionGroupList {
    #[serde(default)]
    pub group_config_list: Vec<SubscriptionGroupConfig>,
}

command_header! {
    /// DELETE_SUBSCRIPTIONGROUP (207).
    pub struct DeleteSubscriptionGroupRequestHeader {
        group_name: String = "groupName",
        /// Also remove the group's committed offsets.
        clean_offset: bool = "cleanOffset" => false,
    }
}

command_header! {
    /// GET_SUBSCRIPTIONGROUP_CONFIG (352).
    pub struct GetSubscriptionGroupConfigRequestHeader {
        group: String = "group",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::body::{decode_json, encode_json};

    #[test]
    fn missing_fields_read_as_javas_defaults() {
        let c: SubscriptionGroupConfig = decode_json(br#"{"groupName":"G"}"#).unwrap();
        assert_eq!(c, SubscriptionGroupConfig::new("G"));
        assert_eq!(c.retry_max_times, 16);
        assert!(c.consume_enable && c.consume_broadcast_enable && !c.consume_message_orderly);
    }

    #[test]
    fn written_like_fastjson_and_unknown_fields_kept() {
        let text = br#"{"groupName":"G","retryMaxTimes":"3","consumeMessageOrderly":true,
            "futureField":{"a":1},"subscriptionDataSet":[{"topic":"T","expression":"*",
            "expressionType":"TAG","version":7}]}"#;
        let c: SubscriptionGroupConfig = decode_json(text).unwrap();
        assert_eq!((c.retry_max_times, c.consume_message_orderly), (3, true));
        assert_eq!(c.subscription_data_set.as_ref().unwrap()[0].version, 7);
        let json = String::from_utf8(encode_json(&c).to_vec()).unwrap();
        assert!(json.starts_with(r#"{"attributes":{},"brokerId":0,"consumeBroadcastEnable":true"#));
        assert!(
            json.contains(r#""groupRetryPolicy":{"type":"CUSTOMIZED"}"#),
            "{json}"
        );
        assert!(json.contains(r#""futureField":{"a":1}"#), "{json}");
        let again: SubscriptionGroupConfig = decode_json(json.as_bytes()).unwrap();
        assert_eq!(again, c);
    }

    #[test]
    fn wrapper_reads_javas_table() {
        let text = br#"{"subscriptionGroupTable":{"G":{"groupName":"G","consumeEnable":false}},
            "forbiddenTable":{},"dataVersion":{"counter":2,"stateVersion":0,"timestamp":5}}"#;
        let w: SubscriptionGroupWrapper = decode_json(text).unwrap();
        assert!(!w.subscription_group_table["G"].consume_enable);
        assert_eq!(w.data_version.counter, 2);
    }
}
