//! Consumer offsets and queue bounds: QUERY_CONSUMER_OFFSET (14), UPDATE_CONSUMER_OFFSET (15),
//! GET_MAX_OFFSET (30), GET_MIN_OFFSET (31), GET_EARLIEST_MSG_STORETIME (32) and
//! SEARCH_OFFSET_BY_TIMESTAMP (29).
//!
//! What must stay true: a group without a committed offset on a queue that never lost a
//! message starts at 0 (unless the client asked not to), otherwise it is told "not found" and
//! decides itself; a negative committed offset is never stored.

use crate::broker::error::OpError;
use crate::broker::services::Broker;
use crate::broker::topic::validate_group_name;
use rocketmq_protocol::code::response_code as resp;
use rocketmq_protocol::header::{
    QueryConsumerOffsetRequestHeader, UpdateConsumerOffsetRequestHeader,
};

impl Broker {
    /// The offset a consumer group resumes a queue from.
    pub fn query_consumer_offset(
        &self,
        h: &QueryConsumerOffsetRequestHeader,
    ) -> Result<i64, OpError> {
        let offset = match self
            .store
            .committed_offset(&h.consumer_group, &h.topic, h.queue_id)
        {
            Some(o) if o >= 0 => Some(o),
            _ => {
                // Java answers "not found" for an empty queue too; 0 there means a consumer
                // that starts before the first message is sent never skips it
                // (docs/compatibility.md, differential tests).
                let young = self.store.min_offset(&h.topic, h.queue_id) <= 0;
                (young && h.set_zero_if_not_found != Some(false)).then_some(0)
            }
        };
        offset.ok_or_else(|| {
            let remark = if h.set_zero_if_not_found == Some(false) {
                "Not found, do not set to zero, maybe this group boot first"
            } else {
                "Not found, V3_0_6_SNAPSHOT maybe this group consumer boot first"
            };
            OpError::new(resp::QUERY_NOT_FOUND, remark)
        })
    }

    /// Commits a consumer group's offset on a queue of an existing topic.
    pub fn update_consumer_offset(
        &self,
        h: &UpdateConsumerOffsetRequestHeader,
    ) -> Result<(), OpError> {
        if let Err(refusal) = validate_group_name(&h.consumer_group) {
            return Err(OpError::new(
                refusal.code,
                format!("Group {} not exist! ({})", h.consumer_group, refusal.remark),
            ));
        }
        if self.topics.get(&h.topic).is_none() {
            return Err(OpError::new(
                resp::TOPIC_NOT_EXIST,
                format!("Topic {} not exist!", h.topic),
            ));
        }
        if h.commit_offset >= 0 {
            self.store
                .commit_offset(&h.consumer_group, &h.topic, h.queue_id, h.commit_offset);
        }
        Ok(())
    }

    /// The offset after the last message of a queue.
    pub fn max_offset(&self, topic: &str, queue_id: i32) -> i64 {
        self.store.max_offset(topic, queue_id)
    }

    /// The offset of the first message still stored in a queue.
    pub fn min_offset(&self, topic: &str, queue_id: i32) -> i64 {
        self.store.min_offset(topic, queue_id)
    }

    /// The offset of the first message stored at or after `timestamp` (the last one at or
    /// before it when `upper`).
    pub fn search_offset(&self, topic: &str, queue_id: i32, timestamp: i64, upper: bool) -> i64 {
        self.store.offset_by_time(topic, queue_id, timestamp, upper)
    }

    /// When the first message still stored in a queue was stored; -1 for an empty or unknown
    /// queue (Java answers SUCCESS with -1 there).
    pub fn earliest_store_time(&self, topic: &str, queue_id: i32) -> i64 {
        self.store
            .earliest_store_time(topic, queue_id)
            .unwrap_or(-1)
    }
}
