//! HEART_BEAT body (spec 4.3): producer and consumer groups of one client.
//!
//! Read tolerantly for cpp 1.2.3: the arrays may be absent, enums arrive as ordinals,
//! `subVersion` as a string, and `codeSet` is garbage (it is never read back: the broker
//! must recompute tag hashes from `subString`).

use crate::lenient::{bool_any, i64_any};
use crate::name_or_ordinal_enum;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

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
    /// Read as empty when missing (CHECK_CLIENT_CONFIG bodies may name no topic).
    #[serde(default)]
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

/// Reads a HEART_BEAT body from any client, as leniently as a broker must: where the typed
/// reading of [`HeartbeatData`] would refuse the whole body over one field, this keeps the
/// rest. On top of what the serde reading accepts:
/// - a body that is JSON but not an object counts as an empty heartbeat;
/// - `clientID`, `groupName`, `topic`, `subString` and `expressionType` may be null (empty)
///   or numbers/booleans (their JSON text);
/// - a data set that is not an array is empty; an entry that is not an object is dropped;
/// - an enum value that names no constant (an unknown ordinal or name) reads as the default;
/// - a `subVersion` or `heartbeatFingerprint` that is not an integer reads as 0;
/// - `withoutSub` counts only as a JSON `true`; `unitMode`, `classFilterMode` and `tagsSet`
///   of another shape read as their defaults.
///
/// A missing `clientID`, `groupName` or `topic` reads as empty: the broker skips what it
/// cannot use (groups without a name, subscriptions without a topic).
pub fn decode_heartbeat_leniently(body: &[u8]) -> Result<HeartbeatData, super::BodyError> {
    let mut value: Value = super::decode_json(body)?;
    if !value.is_object() {
        value = Value::Object(Map::new());
    }
    let top = value.as_object_mut().expect("made an object above");
    required_text_field(top, "clientID");
    integer_field(top, "heartbeatFingerprint");
    let without_sub = top.get("withoutSub").and_then(Value::as_bool) == Some(true);
    top.insert("withoutSub".into(), Value::Bool(without_sub));
    objects_field(top, "producerDataSet", |producer| {
        required_text_field(producer, "groupName")
    });
    objects_field(top, "consumerDataSet", |consumer| {
        required_text_field(consumer, "groupName");
        enum_field::<ConsumeType>(consumer, "consumeType");
        enum_field::<MessageModel>(consumer, "messageModel");
        enum_field::<ConsumeFromWhere>(consumer, "consumeFromWhere");
        typed_field::<bool>(consumer, "unitMode", bool_any);
        objects_field(consumer, "subscriptionDataSet", |sub| {
            required_text_field(sub, "topic");
            for name in ["subString", "expressionType"] {
                text_field(sub, name);
            }
            integer_field(sub, "subVersion");
            typed_field::<bool>(sub, "classFilterMode", bool_any);
            if !sub.get("tagsSet").is_none_or(|t| {
                t.as_array()
                    .is_some_and(|tags| tags.iter().all(Value::is_string))
            }) {
                sub.remove("tagsSet");
            }
        });
    });
    serde_json::from_value(value).map_err(|e| super::BodyError::Json(e.to_string()))
}

/// A text field that is present is made a string: null -> "", other values -> their JSON.
fn text_field(object: &mut Map<String, Value>, name: &str) {
    let text = match object.get(name) {
        None | Some(Value::String(_)) => return,
        Some(Value::Null) => String::new(),
        Some(other) => other.to_string(),
    };
    object.insert(name.into(), Value::String(text));
}

/// A text field the typed reading requires: as [`text_field`], and "" when missing.
fn required_text_field(object: &mut Map<String, Value>, name: &str) {
    let text = match object.get(name) {
        Some(Value::String(_)) => return,
        None | Some(Value::Null) => String::new(),
        Some(other) => other.to_string(),
    };
    object.insert(name.into(), Value::String(text));
}

/// An integer field that `i64_any` cannot read is removed (it reads as 0).
fn integer_field(object: &mut Map<String, Value>, name: &str) {
    typed_field::<i64>(object, name, i64_any);
}

/// Removes a field `read` refuses, so that the field's default applies.
fn typed_field<T>(
    object: &mut Map<String, Value>,
    name: &str,
    read: fn(Value) -> Result<T, serde_json::Error>,
) {
    if let Some(v) = object.get(name) {
        if read(v.clone()).is_err() {
            object.remove(name);
        }
    }
}

fn enum_field<T: serde::de::DeserializeOwned>(object: &mut Map<String, Value>, name: &str) {
    typed_field::<T>(object, name, serde_json::from_value::<T>);
}

/// An array-of-objects field: anything but an array becomes empty, entries that are not
/// objects are dropped, and each object entry is passed to `fix`.
fn objects_field(
    object: &mut Map<String, Value>,
    name: &str,
    mut fix: impl FnMut(&mut Map<String, Value>),
) {
    let Some(field) = object.get_mut(name) else {
        return;
    };
    let entries = match field.take() {
        Value::Array(entries) => entries,
        _ => Vec::new(),
    };
    *field = Value::Array(
        entries
            .into_iter()
            .filter_map(|entry| match entry {
                Value::Object(mut map) => {
                    fix(&mut map);
                    Some(Value::Object(map))
                }
                _ => None,
            })
            .collect(),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lenient_reading_keeps_what_the_typed_reading_refuses() {
        let body = concat!(
            r#"{"clientID":42,"withoutSub":"true","heartbeatFingerprint":"x","#,
            r#""producerDataSet":[{"groupName":null},7,{"groupName":"PG"}],"#,
            r#""consumerDataSet":[{"groupName":"CG","consumeType":9,"messageModel":"NOPE","#,
            r#""consumeFromWhere":"CONSUME_FROM_FIRST_OFFSET","unitMode":[1],"#,
            r#""subscriptionDataSet":[{"topic":"T","subString":null,"subVersion":"soon","#,
            r#""tagsSet":[1],"classFilterMode":{}},"junk",{"subString":"*"}]},"#,
            r#"{"consumeType":0}]}"#
        );
        assert!(super::super::decode_json::<HeartbeatData>(body.as_bytes()).is_err());
        let hb = decode_heartbeat_leniently(body.as_bytes()).unwrap();
        assert_eq!(hb.client_id, "42");
        assert!(!hb.without_sub, "only a JSON true counts");
        assert_eq!(hb.heartbeat_fingerprint, 0);
        let producers: Vec<&str> = hb
            .producer_data_set
            .iter()
            .map(|p| p.group_name.as_str())
            .collect();
        assert_eq!(producers, ["", "PG"]);
        let c = &hb.consumer_data_set[0];
        assert_eq!(c.group_name, "CG");
        assert_eq!(c.consume_type, ConsumeType::default());
        assert_eq!(c.message_model, MessageModel::default());
        assert_eq!(
            c.consume_from_where,
            ConsumeFromWhere::ConsumeFromFirstOffset
        );
        assert!(!c.unit_mode);
        assert_eq!(c.subscription_data_set.len(), 2);
        let s = &c.subscription_data_set[0];
        assert_eq!((s.topic.as_str(), s.sub_string.as_str()), ("T", ""));
        assert_eq!(s.sub_version, 0);
        assert!(s.tags_set.is_empty());
        assert_eq!(c.subscription_data_set[1].topic, "");
        assert_eq!(hb.consumer_data_set[1].group_name, "");
        assert_eq!(
            hb.consumer_data_set[1].consume_type,
            ConsumeType::ConsumeActively
        );
    }

    #[test]
    fn lenient_reading_of_odd_shapes() {
        let hb = decode_heartbeat_leniently(b"[1,2]").unwrap();
        assert_eq!(hb, HeartbeatData::default());
        let hb =
            decode_heartbeat_leniently(br#"{"consumerDataSet":null,"withoutSub":true}"#).unwrap();
        assert!(hb.consumer_data_set.is_empty());
        assert!(hb.without_sub);
        assert!(decode_heartbeat_leniently(b"{not json").is_err());
        // cpp 1.2.3: ordinals, string subVersion, garbage codeSet.
        let cpp = concat!(
            r#"{"clientID":"c","consumerDataSet":[{"consumeFromWhere":0,"consumeType":1,"#,
            r#""groupName":"CG1","messageModel":0,"subscriptionDataSet":[{"codeSet":[0],"#,
            r#""subString":"A || B","subVersion":"1795666361944","topic":"T"}]}]}"#
        );
        let hb = decode_heartbeat_leniently(cpp.as_bytes()).unwrap();
        let c = &hb.consumer_data_set[0];
        assert_eq!(c.message_model, MessageModel::Broadcasting);
        assert_eq!(c.subscription_data_set[0].sub_version, 1795666361944);
        assert!(c.subscription_data_set[0].code_set.is_empty());
        assert_eq!(c.subscription_data_set[0].expression_type, "TAG");
    }
}
