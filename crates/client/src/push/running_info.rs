//! What the consumer reports on GET_CONSUMER_RUNNING_INFO: its configuration as Java's
//! property names, its subscriptions (as in its heartbeat), and per owned queue the
//! in-flight count, bytes and offsets and the offset it would commit.

use super::config::ConsumeFrom;
use super::consumer_core::ConsumerCore;
use rocketmq_protocol::body::running_info::ConsumerRunningInfo;
use std::collections::BTreeMap;

impl ConsumerCore {
    /// This consumer's state now. Takes each queue's lock briefly.
    pub(super) fn running_info(&self) -> ConsumerRunningInfo {
        let c = &self.config;
        let heartbeat = self.heartbeat();
        let data = heartbeat.consumer_data_set.into_iter().next();
        let mut properties = BTreeMap::new();
        let mut prop = |k: &str, v: String| {
            properties.insert(k.to_string(), v);
        };
        prop("clientId", self.client.client_id.clone());
        prop("consumerGroup", c.group.clone());
        prop("instanceName", self.client.config.instance_name.clone());
        prop(
            "messageModel",
            if c.broadcasting {
                "BROADCASTING"
            } else {
                "CLUSTERING"
            }
            .into(),
        );
        prop(
            "consumeFromWhere",
            match c.consume_from {
                ConsumeFrom::LastOffset => "CONSUME_FROM_LAST_OFFSET",
                ConsumeFrom::FirstOffset => "CONSUME_FROM_FIRST_OFFSET",
                ConsumeFrom::Timestamp(_) => "CONSUME_FROM_TIMESTAMP",
            }
            .into(),
        );
        prop("consumeMessageBatchMaxSize", c.batch_max_size.to_string());
        prop("maxReconsumeTimes", c.max_reconsume_times.to_string());
        prop("pullBatchSize", c.pull_batch_size.to_string());
        prop("pullThresholdForQueue", c.max_cached_per_queue.to_string());
        prop(
            "pullThresholdSizeForQueue",
            (c.max_cached_bytes_per_queue >> 20).to_string(),
        );
        prop("PROP_CONSUME_ORDERLY", c.orderly.to_string());
        prop("PROP_CONSUME_TYPE", "CONSUME_PASSIVELY".into());
        prop("PROP_THREADPOOL_CORE_SIZE", c.thread_count.to_string());
        prop(
            "PROP_NAMESERVER_ADDR",
            self.client.config.name_servers.join(";"),
        );
        let mq_table = self
            .queue_list()
            .iter()
            .map(|pq| (pq.mq.clone(), pq.info()))
            .collect();
        ConsumerRunningInfo {
            mq_table,
            properties,
            subscription_set: data.map(|d| d.subscription_data_set).unwrap_or_default(),
        }
    }
}
