//! Heartbeats of a push consumer: its group, model and subscriptions (tag or SQL92, written
//! as Java's client writes them), sent to every broker of its topics (at start, to brokers
//! that appear later, after a subscription changes, and every `heartbeat_interval`).
//!
//! What must stay true: a broker is asked for the group's members only after it has
//! acknowledged a heartbeat (`heartbeat_acked`), so the rebalance sees this consumer listed.

use super::config::ConsumeFrom;
use super::consumer_core::{ConsumerCore, LOG};
use rocketmq_protocol::body::heartbeat::{
    ConsumeFromWhere, ConsumeType, ConsumerData, HeartbeatData, MessageModel,
};
use std::sync::Arc;

impl ConsumerCore {
    /// This consumer's heartbeat; each subscription's version is the time of the call.
    pub(super) fn heartbeat(&self) -> HeartbeatData {
        let now = rocketmq_protocol::now_millis();
        let subscription_data_set = self
            .subscriptions()
            .iter()
            .map(|s| s.filter.subscription_data(&s.topic, now))
            .collect();
        HeartbeatData {
            client_id: self.client.client_id.clone(),
            consumer_data_set: vec![ConsumerData {
                group_name: self.config.group.clone(),
                consume_type: ConsumeType::ConsumePassively,
                message_model: if self.config.broadcasting {
                    MessageModel::Broadcasting
                } else {
                    MessageModel::Clustering
                },
                consume_from_where: match self.config.consume_from {
                    ConsumeFrom::LastOffset => ConsumeFromWhere::ConsumeFromLastOffset,
                    ConsumeFrom::FirstOffset => ConsumeFromWhere::ConsumeFromFirstOffset,
                    ConsumeFrom::Timestamp(_) => ConsumeFromWhere::ConsumeFromTimestamp,
                },
                subscription_data_set,
                unit_mode: false,
            }],
            ..HeartbeatData::default()
        }
    }

    /// Refreshes the routes of every subscription and heartbeats to their brokers: all of
    /// them when `all`, else only those that have not acknowledged one yet.
    pub(super) async fn refresh_routes_and_heartbeat(&self, all: bool) {
        for s in &self.subscriptions() {
            if let Err(e) = self.client.fetch_route(&s.topic).await {
                tracing::debug!(target: LOG, topic = %s.topic, error = %e, "route lookup failed");
            }
        }
        let targets: Vec<String> = {
            let acked = self.heartbeat_acked.lock().unwrap();
            self.broker_addrs()
                .into_iter()
                .filter(|a| all || !acked.contains(a))
                .collect()
        };
        if targets.is_empty() {
            return;
        }
        let hb = self.heartbeat();
        for addr in targets {
            match self.client.send_heartbeat(&addr, &hb).await {
                Ok(()) => {
                    self.heartbeat_acked.lock().unwrap().insert(addr);
                }
                Err(e) => {
                    tracing::warn!(target: LOG, broker = %addr, error = %e, "heartbeat failed");
                    self.heartbeat_acked.lock().unwrap().remove(&addr);
                }
            }
        }
    }

    pub(super) async fn heartbeat_loop(self: Arc<Self>) {
        loop {
            if self.pause(self.config.heartbeat_interval).await {
                return;
            }
            self.refresh_routes_and_heartbeat(true).await;
        }
    }
}
