//! HEART_BEAT body (spec 4.3): producer and consumer groups of one client.
//!
//! Read tolerantly for cpp 1.2.3: the arrays may be absent, enums arrive as ordinals,
//! `subVersion` as a string, and `codeSet` is garbage (it is never read back: the broker
//! must recompute tag hashes from `subString`).

use crate::lenient::{bool_any, i64_any};
use crate::name_or_ordinal_enum;
use serde::{Deserialize, Serialize};

name_or_ordinal_enum! {
    /// How a consumer gets messages.
    pub enum ConsumeType {
        /// Pull consumer.
        ConsumeActively = (0, "CONSUME_ACTIVELY"),
        /// Push consumer.
        #[default]
        ConsumePassively = (1, "CONSUME_PASSIVELY"),
        /// 5.x pop.
        ConsumePop = (2, "CONSUME_POP"),
    }
}

name_or_ordinal_enum! {
    /// Clustering (each message to one member of the group) or broadcasting (to all).
    pub enum MessageModel {
        Broadcasting = (0, "BROADCASTING"),
        #[default]
        Clustering = (1, "CLUSTERING"),
    }
}

name_or_ordinal_enum! {
    /// Where a group without a committed offset starts.
    pub enum ConsumeFromWhere {
        #[default]
        ConsumeFromLastOffset = (0, "CONSUME_FROM_LAST_OFFSET"),
        ConsumeFromLastOffsetAndFromMinWhenBootFirst = (1, "CONSUME_FROM_LAST_OFFSET_AND_FROM_MIN_WHEN_BOOT_FIRST"),
        ConsumeFromMinOffset = (2, "CONSUME_FROM_MIN_OFFSET"),
        ConsumeFromMaxOffset = (3, "CONSUME_FROM_MAX_OFFSET"),
        ConsumeFromFirstOffset = (4, "CONSUME_FROM_FIRST_OFFSET"),
        ConsumeFromTimestamp = (5, "CONSUME_FROM_TIMESTAMP"),
    }
}

/// `TAG` expression type.
pub const EXPRESSION_TYPE_TAG: &str = "TAG";
/// `SQL92` expression type.
pub const EXPRESSION_TYPE_SQL92: &str = "SQL92";
/// Subscription to every tag.
pub const SUB_ALL: &str = "*";

fn tag_expression() -> String {
    EXPRESSION_TYPE_TAG.to_string()
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeartbeatData {
    #[serde(rename = "clientID")]
    pub client_id: String,
    #[serde(rename = "consumerDataSet", default)]
    pub consumer_data_set: Vec<ConsumerData>,
    /// 5.x heartbeat v2; 0 = full heartbeat.
    #[serde(rename = "heartbeatFingerprint", default, deserialize_with = "i64_any")]
    pub heartbeat_fingerprint: i64,
    #[serde(rename = "producerDataSet", default)]
    pub producer_data_set: Vec<ProducerData>,
    /// 5.x heartbeat v2: subscriptions omitted because unchanged.
    #[serde(rename = "withoutSub", default, deserialize_with = "bool_any")]
    pub without_sub: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProducerData {
    pub group_name: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConsumerData {
    #[serde(default)]
    pub consume_from_where: ConsumeFromWhere,
    #[serde(default)]
    pub consume_type: ConsumeType,
    pub group_name: String,
    #[serde(default)]
    pub message_model: MessageModel,
    #[serde(default)]
    pub subscription_data_set: Vec<SubscriptionData>,
    #[serde(default, deserialize_with = "bool_any")]
    pub unit_mode: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionData {
    #[serde(default, deserialize_with = "bool_any")]
    pub class_filter_mode: bool,
    /// Java `String.hashCode` of each tag. Written for Java brokers (which filter with it);
    /// never read, because cpp 1.2.3 sends zeros here.
    #[serde(default, skip_deserializing)]
    pub code_set: Vec<i32>,
    /// `TAG` (default) or `SQL92`.
    #[serde(default = "tag_expression")]
    pub expression_type: String,
    /// `*`, `TagA || TagB`, or an SQL92 expression.
    #[serde(default)]
    pub sub_string: String,
    /// Subscription version (client ms timestamp); a string from cpp.
    #[serde(default, deserialize_with = "i64_any")]
    pub sub_version: i64,
    #[serde(default)]
    pub tags_set: Vec<String>,
    pub topic: String,
}

impl Default for SubscriptionData {
    fn default() -> Self {
        SubscriptionData {
            class_filter_mode: false,
            code_set: Vec::new(),
            expression_type: tag_expression(),
            sub_string: SUB_ALL.to_string(),
            sub_version: 0,
            tags_set: Vec::new(),
            topic: String::new(),
        }
    }
}

/// CHECK_CLIENT_CONFIG (46) body.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckClientRequestBody {
    #[serde(default)]
    pub client_id: String,
    #[serde(default)]
    pub group: String,
    #[serde(default)]
    pub subscription_data: Option<SubscriptionData>,
}
