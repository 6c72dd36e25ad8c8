//! INVOKE_BROKER_TO_RESET_OFFSET (222): moves a consumer group's offsets on every queue of a
//! topic to the first message stored at or after a time (the max offset for a negative
//! time), commits them, and tells the group's live consumers with
//! RESET_CONSUMER_CLIENT_OFFSET (220, one-way; Java's `ResetOffsetBody`, or
//! `ResetOffsetBodyForC` for a client whose heartbeat said language CPP).
//!
//! Java 5.x (server-side reset, its default) commits the offsets and answers the table
//! whether or not a consumer is online; Java 4.x only tells online consumers and answers
//! CONSUMER_NOT_ONLINE otherwise. This broker does both halves: it commits, tells whoever is
//! online, and answers the table in either case (docs/compatibility.md).
//!
//! With Java 5.x's optional `queueId` (0 or more) only that queue is reset, to `offset` when
//! it is given (and within the queue's bounds), else by time.
//!
//! What must stay true: the offsets are committed before any consumer is told, so a consumer
//! that asks the broker for its offset after the push gets the new one; `isForce` is not
//! needed to move a group forward (as Java 5.x).

use crate::broker::error::OpError;
use crate::broker::services::Broker;
use crate::broker::topic::validate_group_name;
use rocketmq_protocol::body::{
    encode_json, encode_reset_offset_body_java, MessageQueue, ResetOffsetBodyForC,
};
use rocketmq_protocol::code::{request_code, response_code as resp, LanguageCode};
use rocketmq_protocol::header::ResetOffsetRequestHeader;
use rocketmq_protocol::RemotingCommand;
use std::collections::BTreeMap;

impl Broker {
    /// Resets `group`'s offsets on `topic` (see the module doc): every queue by time, or
    /// (Java 5.x's `queueId` and `offset` fields) one queue, by time or to an offset within
    /// its bounds. Returns the new offset of each queue reset.
    pub fn reset_offset(
        &self,
        topic: &str,
        group: &str,
        timestamp: i64,
        one_queue: Option<(i32, Option<i64>)>,
    ) -> Result<BTreeMap<MessageQueue, i64>, OpError> {
        let Some(config) = self.topics.get(topic) else {
            return Err(OpError::new(
                resp::TOPIC_NOT_EXIST,
                format!("Topic {topic} does not exist"),
            ));
        };
        if let Err(refusal) = validate_group_name(group) {
            return Err(OpError::new(
                resp::SUBSCRIPTION_GROUP_NOT_EXIST,
                format!("Group {group} does not exist ({})", refusal.remark),
            ));
        }
        let by_time = |queue_id: i32| {
            if timestamp < 0 {
                self.store.max_offset(topic, queue_id)
            } else {
                self.store.offset_by_time(topic, queue_id, timestamp, false)
            }
            .max(0)
        };
        let targets: Vec<(i32, i64)> = match one_queue {
            None => (0..config.read_queue_nums)
                .map(|q| (q, by_time(q)))
                .collect(),
            Some((queue_id, Some(offset))) if offset != -1 => {
                let (min, max) = (
                    self.store.min_offset(topic, queue_id),
                    self.store.max_offset(topic, queue_id),
                );
                // Java's bound, one past the max offset included.
                if offset < min || offset > max + 1 {
                    return Err(OpError::new(
                        resp::SYSTEM_ERROR,
                        format!("Target offset {offset} not in consume queue range [{min}-{max}]"),
                    ));
                }
                vec![(queue_id, offset)]
            }
            Some((queue_id, _)) => vec![(queue_id, by_time(queue_id))],
        };
        let mut table = BTreeMap::new();
        for (queue_id, offset) in targets {
            self.store.commit_offset(group, topic, queue_id, offset);
            table.insert(
                MessageQueue::new(topic, &self.config.broker_name, queue_id),
                offset,
            );
        }
        let told = self.tell_consumers_to_reset(topic, group, timestamp, &table);
        tracing::info!(
            topic,
            group,
            timestamp,
            consumers_told = told,
            "consumer offsets reset by time"
        );
        Ok(table)
    }

    /// Pushes RESET_CONSUMER_CLIENT_OFFSET to every live connection of the group; returns
    /// how many took it.
    fn tell_consumers_to_reset(
        &self,
        topic: &str,
        group: &str,
        timestamp: i64,
        table: &BTreeMap<MessageQueue, i64>,
    ) -> usize {
        let header = ResetOffsetRequestHeader {
            topic: topic.to_string(),
            group: group.to_string(),
            timestamp,
            is_force: false,
            queue_id: None,
            offset: None,
        };
        let java_body = encode_reset_offset_body_java(table);
        let c_body = encode_json(&ResetOffsetBodyForC::from_table(table));
        let mut told = 0;
        for channel in self.clients.consumer_channels(group) {
            let body = if matches!(channel.language, LanguageCode::Cpp) {
                c_body.clone()
            } else {
                java_body.clone()
            };
            let cmd = RemotingCommand::new_request(request_code::RESET_CONSUMER_CLIENT_OFFSET)
                .with_header(&header)
                .with_body(body);
            if channel.conn.send_oneway_request(cmd) {
                told += 1;
            } else {
                tracing::info!(
                    group,
                    client = channel.client_id,
                    "reset offset not delivered: connection busy or gone"
                );
            }
        }
        told
    }
}
