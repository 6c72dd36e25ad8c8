//! RESET_CONSUMER_CLIENT_OFFSET (220) bodies (spec 3.4): the broker tells a client where
//! each queue of a topic should restart.
//!
//! Java clients get `ResetOffsetBody`, a map keyed by the MessageQueue *object*, which
//! fastjson writes as a non-standard object key (`{{"brokerName":..}:12}`); cpp clients
//! (language CPP) get `ResetOffsetBodyForC`, a plain array. The Java form is written by
//! hand here because no JSON library produces object keys.

use super::lock::MessageQueue;
use crate::lenient::{i32_any, i64_any};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One queue's reset target in the cpp form.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageQueueOffset {
    pub broker_name: String,
    #[serde(deserialize_with = "i64_any")]
    pub offset: i64,
    #[serde(deserialize_with = "i32_any")]
    pub queue_id: i32,
    pub topic: String,
}

/// `ResetOffsetBodyForC`: what the broker sends to cpp clients.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResetOffsetBodyForC {
    #[serde(default)]
    pub offset_table: Vec<MessageQueueOffset>,
}

impl ResetOffsetBodyForC {
    pub fn from_table(table: &BTreeMap<MessageQueue, i64>) -> Self {
        ResetOffsetBodyForC {
            offset_table: table
                .iter()
                .map(|(mq, &offset)| MessageQueueOffset {
                    broker_name: mq.broker_name.clone(),
                    offset,
                    queue_id: mq.queue_id,
                    topic: mq.topic.clone(),
                })
                .collect(),
        }
    }
}

/// Writes Java's `ResetOffsetBody` exactly as fastjson does:
/// `{"offsetTable":{{"brokerName":"b","queueId":0,"topic":"T"}:12}}`.
pub fn encode_reset_offset_body_java(table: &BTreeMap<MessageQueue, i64>) -> bytes::Bytes {
    let mut out = String::from("{\"offsetTable\":{");
    for (i, (mq, offset)) in table.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&serde_json::to_string(mq).unwrap_or_default());
        out.push(':');
        out.push_str(&offset.to_string());
    }
    out.push_str("}}");
    bytes::Bytes::from(out)
}
