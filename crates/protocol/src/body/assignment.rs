//! Server-side load balancing bodies: QUERY_ASSIGNMENT (400) and SET_MESSAGE_REQUEST_MODE
//! (401), as Java's `QueryAssignmentRequestBody`, `QueryAssignmentResponseBody`,
//! `MessageQueueAssignment` and `SetMessageRequestModeRequestBody` write them.
//!
//! A Java push consumer with `clientRebalance=false` asks a broker for its queues (400)
//! instead of allocating them itself; each assignment names the request mode (PULL, or POP
//! with queue id -1 when every member pops every queue). An administrator switches a
//! topic/group pair to POP with 401.
//!
//! What must stay true: field names and enum constants are Java's (`messageQueueAssignments`,
//! `mode`, `popShareQueueNum`, `PULL`/`POP`), so the Java client and `mqadmin` read them.

use super::heartbeat::MessageModel;
use super::lock::MessageQueue;
use crate::lenient::i32_any;
use crate::name_or_ordinal_enum;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

name_or_ordinal_enum! {
    /// How a consumer group takes messages from a topic's queues.
    pub enum MessageRequestMode {
        #[default]
        Pull = (0, "PULL"),
        /// Members share queues and pop (the broker tracks what is in flight).
        Pop = (1, "POP"),
    }
}

/// QUERY_ASSIGNMENT request body.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QueryAssignmentRequestBody {
    #[serde(default)]
    pub client_id: String,
    #[serde(default)]
    pub consumer_group: String,
    #[serde(default)]
    pub message_model: MessageModel,
    /// The allocation strategy's name (`AVG`, `AVG_BY_CIRCLE`).
    #[serde(default)]
    pub strategy_name: String,
    #[serde(default)]
    pub topic: String,
}

/// One queue given to a consumer, and how it is to be read.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageQueueAssignment {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attachments: Option<BTreeMap<String, String>>,
    pub message_queue: MessageQueue,
    #[serde(default)]
    pub mode: MessageRequestMode,
}

/// QUERY_ASSIGNMENT response body. `None` (JSON without the field) tells the client the
/// broker could not decide, so it keeps what it has; an empty list takes everything away.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QueryAssignmentResponseBody {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_queue_assignments: Option<Vec<MessageQueueAssignment>>,
}

/// SET_MESSAGE_REQUEST_MODE request body (also what the broker keeps per topic and group).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SetMessageRequestModeRequestBody {
    #[serde(default)]
    pub consumer_group: String,
    #[serde(default)]
    pub mode: MessageRequestMode,
    /// In POP mode: how many following members' queues each member pops too; 0 or less (or
    /// at least the member count - 1) means every member pops every queue.
    #[serde(default, deserialize_with = "i32_any")]
    pub pop_share_queue_num: i32,
    #[serde(default)]
    pub topic: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::body::{decode_json, encode_json};

    #[test]
    fn java_bodies_read_and_write_with_java_names() {
        let req: QueryAssignmentRequestBody = decode_json(
            br#"{"clientId":"c1","consumerGroup":"g","messageModel":"CLUSTERING","strategyName":"AVG","topic":"t"}"#,
        )
        .unwrap();
        assert_eq!(req.message_model, MessageModel::Clustering);
        assert_eq!(req.strategy_name, "AVG");
        let mode: SetMessageRequestModeRequestBody =
            decode_json(br#"{"consumerGroup":"g","mode":"POP","popShareQueueNum":-1,"topic":"t"}"#)
                .unwrap();
        assert_eq!(mode.mode, MessageRequestMode::Pop);
        assert_eq!(mode.pop_share_queue_num, -1);
        let answer = QueryAssignmentResponseBody {
            message_queue_assignments: Some(vec![MessageQueueAssignment {
                attachments: None,
                message_queue: MessageQueue::new("t", "b", -1),
                mode: MessageRequestMode::Pop,
            }]),
        };
        let text = String::from_utf8(encode_json(&answer).to_vec()).unwrap();
        assert_eq!(
            text,
            r#"{"messageQueueAssignments":[{"messageQueue":{"brokerName":"b","queueId":-1,"topic":"t"},"mode":"POP"}]}"#
        );
        let none = String::from_utf8(encode_json(&QueryAssignmentResponseBody::default()).to_vec());
        assert_eq!(none.unwrap(), "{}");
    }
}
