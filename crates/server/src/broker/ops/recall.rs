//! The recall operation (RECALL_MESSAGE 370, and the gRPC RecallMessage over it): cancels a
//! timer message before its time by storing a marker the timer service matches.
//!
//! The checks, in the order of Apache's `RecallMessageProcessor`: the topic exists
//! (TOPIC_NOT_EXIST), the handle decodes, names this topic and this broker, and its time is
//! still ahead and within the timer's range (ILLEGAL_OPERATION with Apache's remarks). Then the
//! marker (real topic, `TIMER_DEL_UNIQKEY` = `<topic>+<message id>`, `UNIQ_KEY` = the id,
//! `TIMER_DELIVER_MS` = the handle's time, body `"0"`, tag `_RECALL_TAG_`) goes through the
//! timer rewrite like any timer message and is appended.
//!
//! What must stay true: the marker lands due at the same millisecond as the message it
//! cancels (this broker's handles carry the exact deliver time), so the timer service sees
//! both in one delivery group whichever was appended first; an accepted recall is durable
//! before the answer under sync flush; a recall that arrives after its message was delivered
//! is refused ("timestamp invalid"), or, within the last milliseconds, accepted and without
//! effect, as on Apache's broker.

use crate::broker::error::OpError;
use crate::broker::ops::send::SYNC_FLUSH_TIMEOUT;
use crate::broker::services::Broker;
use bytes::Bytes;
use rocketmq_protocol::code::response_code as resp;
use rocketmq_protocol::now_millis;
use rocketmq_protocol::properties::{
    encode_properties, PGROUP, TAGS, TIMER_DELIVER_MS, TIMER_DEL_UNIQKEY, UNIQ_KEY,
};
use rocketmq_protocol::recall::{delete_key, RecallHandle};
use rocketmq_protocol::tag::tags_code;
use rocketmq_store::MessageToStore;

/// The tag of a recall marker (Apache's `_RECALL_TAG_`).
pub const RECALL_TAG: &str = "_RECALL_TAG_";

fn illegal(remark: impl Into<String>) -> OpError {
    OpError::new(resp::ILLEGAL_OPERATION, remark)
}

impl Broker {
    /// Cancels the timer message `recall_handle` names; returns its message id (`UNIQ_KEY`).
    pub async fn recall(
        &self,
        topic: &str,
        recall_handle: &str,
        producer_group: Option<&str>,
    ) -> Result<String, OpError> {
        if self.topics.get(topic).is_none() {
            return Err(OpError::new(
                resp::TOPIC_NOT_EXIST,
                format!("recall failed, the topic[{topic}] not exist"),
            ));
        }
        let handle = RecallHandle::decode(recall_handle).map_err(|e| illegal(e.to_string()))?;
        if handle.topic != topic {
            return Err(illegal("recall failed, topic not match"));
        }
        if handle.broker_name != self.config.broker_name {
            return Err(illegal("recall failed, broker service not available"));
        }
        let now = now_millis();
        let max = self.config.timer_max_delay.as_millis() as i64;
        let left = handle.timestamp_ms().map_or(-1, |at| at - now);
        if left <= 0 || left >= max {
            return Err(illegal("recall failed, timestamp invalid"));
        }
        let mut properties = vec![
            (TAGS, RECALL_TAG.to_string()),
            (
                TIMER_DEL_UNIQKEY,
                delete_key(&handle.topic, &handle.message_id),
            ),
            (UNIQ_KEY, handle.message_id.clone()),
            (TIMER_DELIVER_MS, handle.timestamp.clone()),
        ];
        if let Some(group) = producer_group.filter(|g| !g.is_empty()) {
            properties.push((PGROUP, group.to_string()));
        }
        let marker = MessageToStore {
            topic: handle.topic.clone(),
            queue_id: 0,
            flag: 0,
            sys_flag: 0,
            born_timestamp: now,
            born_host: self.store_host,
            store_host: self.store_host,
            reconsume_times: 0,
            prepared_transaction_offset: 0,
            body: Bytes::from_static(b"0"),
            properties: encode_properties(properties.iter().map(|(k, v)| (*k, v.as_str()))),
            tags_code: tags_code(Some(RECALL_TAG)),
        };
        let Some(timed) = self.timer_rewrite(&marker, now)? else {
            return Err(illegal("recall failed, timestamp invalid"));
        };
        let outcome = self.store.put_messages(vec![timed]).map_err(|e| {
            OpError::new(
                resp::SYSTEM_ERROR,
                format!("recall failed, execute error: {e}"),
            )
        })?;
        if let Some(waiter) = outcome.durable {
            match tokio::time::timeout(SYNC_FLUSH_TIMEOUT, waiter.0).await {
                Ok(Ok(Ok(()))) => {}
                _ => {
                    return Err(OpError::new(
                        resp::SYSTEM_ERROR,
                        "recall failed, execute error: the recall was written but not flushed",
                    ))
                }
            }
        }
        Ok(handle.message_id)
    }
}
