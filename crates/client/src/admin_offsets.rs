//! The admin calls about a consumer group's offsets, as Java's `DefaultMQAdminExt` makes
//! them: `reset_offset_by_time` (INVOKE_BROKER_TO_RESET_OFFSET, 222, to every master broker
//! of the topic) and `consume_stats` (GET_CONSUME_STATS, 208, from every master broker,
//! merged).
//!
//! A 4.x broker resets only groups with a consumer online (it answers CONSUMER_NOT_ONLINE
//! otherwise); then, as `mqadmin resetOffsetByTime` does, each queue's offset is looked up
//! (SEARCH_OFFSET_BY_TIMESTAMP) and committed (UPDATE_CONSUMER_OFFSET) one by one.
//!
//! What must stay true: every broker that holds the topic is asked; a failure names the
//! broker address and what it answered.

use crate::admin::Admin;
use crate::error::{ClientError, Result};
use crate::instance::ClientInstance;
use crate::route::MessageQueue;
use rocketmq_protocol::body::{decode_reset_offset_body, ConsumeStats};
use rocketmq_protocol::code::{request_code, response_code};
use rocketmq_protocol::header::{GetConsumeStatsRequestHeader, ResetOffsetRequestHeader};
use std::collections::BTreeMap;

impl Admin {
    /// Moves `group`'s offsets on every queue of `topic` to the first message stored at or
    /// after `timestamp_ms` (a negative time: the end of each queue); returns each queue's
    /// new offset. Live consumers of the group continue from there.
    pub async fn reset_offset_by_time(
        &self,
        topic: &str,
        group: &str,
        timestamp_ms: i64,
    ) -> Result<BTreeMap<MessageQueue, i64>> {
        if topic.trim().is_empty() || group.trim().is_empty() {
            return Err(ClientError::IllegalArgument(
                "topic and group must not be blank: pass the topic and the consumer group to reset"
                    .into(),
            ));
        }
        let route = self.client.fetch_route(topic).await?;
        if route.masters.is_empty() {
            return Err(ClientError::IllegalArgument(format!(
                "no master broker holds topic {topic:?}: create it first"
            )));
        }
        let mut table = BTreeMap::new();
        for (broker, addr) in &route.masters {
            let request = ClientInstance::request(request_code::INVOKE_BROKER_TO_RESET_OFFSET)
                .with_header(&ResetOffsetRequestHeader {
                    topic: topic.to_string(),
                    group: group.to_string(),
                    timestamp: timestamp_ms,
                    is_force: true,
                    queue_id: None,
                    offset: None,
                });
            let answer = self.client.invoke(addr, request).await?;
            match answer.code {
                response_code::SUCCESS => {
                    let reset = decode_reset_offset_body(&answer.body).map_err(|e| {
                        ClientError::Protocol(format!("bad reset offset answer from {addr}: {e}"))
                    })?;
                    table.extend(reset);
                }
                response_code::CONSUMER_NOT_ONLINE => {
                    let queues: Vec<&MessageQueue> = route
                        .subscribe
                        .iter()
                        .filter(|q| &q.broker_name == broker)
                        .collect();
                    for mq in queues {
                        let offset = if timestamp_ms < 0 {
                            self.client.max_offset(mq).await?
                        } else {
                            self.client.search_offset(mq, timestamp_ms).await?
                        };
                        self.client
                            .update_consumer_offset(group, mq, offset)
                            .await?;
                        table.insert(mq.clone(), offset);
                    }
                }
                code => {
                    return Err(ClientError::Remote {
                        addr: addr.clone(),
                        code,
                        remark: format!(
                            "broker {broker} refused to reset the offsets of group {group:?} on \
                             topic {topic:?}: {}",
                            answer.remark.unwrap_or_default()
                        ),
                    })
                }
            }
        }
        Ok(table)
    }

    /// How far `group` got in each queue (of `topic`, else of every topic it has offsets
    /// in) on every master broker, merged; `consume_tps` is the sum over the brokers.
    pub async fn consume_stats(&self, group: &str, topic: Option<&str>) -> Result<ConsumeStats> {
        if group.trim().is_empty() {
            return Err(ClientError::IllegalArgument(
                "group must not be blank: pass the consumer group to look at".into(),
            ));
        }
        let masters = self.master_brokers().await?;
        let mut merged = ConsumeStats::default();
        for (broker, addr) in &masters {
            let request = ClientInstance::request(request_code::GET_CONSUME_STATS).with_header(
                &GetConsumeStatsRequestHeader {
                    consumer_group: group.to_string(),
                    topic: topic.map(str::to_string),
                },
            );
            let answer = self.client.invoke(addr, request).await?;
            if answer.code != response_code::SUCCESS {
                return Err(ClientError::Remote {
                    addr: addr.clone(),
                    code: answer.code,
                    remark: format!(
                        "broker {broker} gave no consume stats for group {group:?}: {}",
                        answer.remark.unwrap_or_default()
                    ),
                });
            }
            let stats = ConsumeStats::decode(&answer.body).map_err(|e| {
                ClientError::Protocol(format!("bad consume stats from {addr}: {e}"))
            })?;
            merged.offset_table.extend(stats.offset_table);
            merged.consume_tps += stats.consume_tps;
        }
        Ok(merged)
    }
}
