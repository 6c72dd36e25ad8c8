//! GET_CONSUME_STATS (208): how far a consumer group got in each queue of its topics, as
//! Java's `AdminBrokerProcessor#getConsumeStats` answers it, and the pull observations it
//! draws on (pull offsets, messages got per second).
//!
//! What must stay true: the topics are the one asked for, else every topic the group has a
//! committed offset in; while the group has live consumers with subscriptions, topics they do
//! not subscribe are left out (as Java). Each queue up to the topic's read queue count gets
//! a line: broker offset = max offset, consumer offset = committed (0 if none), pull offset =
//! at least the consumer offset, last timestamp = store time of the message before the
//! consumer offset (0 if none).

use crate::broker::error::OpError;
use crate::broker::services::Broker;
use rocketmq_protocol::body::{ConsumeStats, MessageQueue, OffsetWrapper};
use rocketmq_protocol::code::response_code as resp;
use rocketmq_protocol::message::peek_store_timestamp;
use std::collections::BTreeSet;

impl Broker {
    /// The consume stats of `group` on `topic`, or on every topic it has offsets in.
    pub fn consume_stats(&self, group: &str, topic: Option<&str>) -> Result<ConsumeStats, OpError> {
        if group.is_empty() {
            return Err(OpError::new(
                resp::SYSTEM_ERROR,
                "the custom field <consumerGroup> is null",
            ));
        }
        let mut topics: BTreeSet<String> = match topic.filter(|t| !t.trim().is_empty()) {
            Some(t) => BTreeSet::from([t.to_string()]),
            None => self
                .store
                .queues()
                .into_iter()
                .filter(|(t, q)| self.store.committed_offset(group, t, *q).is_some())
                .map(|(t, _)| t)
                .collect(),
        };
        if self.clients.subscription_count(group) > 0 {
            topics.retain(|t| matches!(self.clients.subscription(group, t), Some(Some(_))));
        }
        let now = rocketmq_protocol::now_millis();
        let mut stats = ConsumeStats::default();
        for topic in topics {
            let Some(config) = self.topics.get(&topic) else {
                continue;
            };
            for queue_id in 0..config.read_queue_nums {
                let consumer_offset = self
                    .store
                    .committed_offset(group, &topic, queue_id)
                    .unwrap_or(0)
                    .max(0);
                let pull_offset = self
                    .pull_stats
                    .pull_offset(group, &topic, queue_id)
                    .unwrap_or(consumer_offset)
                    .max(consumer_offset);
                let last_timestamp = (consumer_offset > 0)
                    .then(|| self.store_time_at(&topic, queue_id, consumer_offset - 1))
                    .flatten()
                    .filter(|t| *t > 0)
                    .unwrap_or(0);
                stats.offset_table.insert(
                    MessageQueue::new(&topic, &self.config.broker_name, queue_id),
                    OffsetWrapper {
                        broker_offset: self.store.max_offset(&topic, queue_id).max(0),
                        consumer_offset,
                        last_timestamp,
                        pull_offset,
                    },
                );
            }
            stats.consume_tps += self.pull_stats.tps(group, &topic, now);
        }
        Ok(stats)
    }

    /// Store time of the message at a queue offset, if it is still stored.
    pub(crate) fn store_time_at(&self, topic: &str, queue_id: i32, offset: i64) -> Option<i64> {
        let entry = self.store.queue_entry(topic, queue_id, offset)?;
        let record = self.store.read_record(entry.commit_log_offset)?;
        peek_store_timestamp(&record)
    }

    /// Takes note of one pull answer for the consume stats: the next offset it gave and how
    /// many messages it carried.
    pub fn observe_pull(
        &self,
        group: &str,
        topic: &str,
        queue_id: i32,
        next_offset: i64,
        messages: u64,
    ) {
        self.pull_stats.record(
            group,
            topic,
            queue_id,
            next_offset,
            messages,
            rocketmq_protocol::now_millis(),
        );
    }
}
