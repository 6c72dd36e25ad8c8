//! Who is connected: HEART_BEAT (34), UNREGISTER_CLIENT (35) and
//! GET_CONSUMER_LIST_BY_GROUP (38).
//!
//! What must stay true: a heartbeat registers every named group of the body (groups without
//! a name are skipped) and creates each consumer group's retry topic; a membership change is
//! pushed to the group's connections (NOTIFY_CONSUMER_IDS_CHANGED) after the client table's
//! lock is released. A heartbeat with `withoutSub` and no subscriptions keeps the group's
//! last subscriptions (Java 5.x sends unchanged subscriptions that way).

use crate::broker::client::{ClientChannel, ConsumerGroupMeta, Subscription};
use crate::broker::error::OpError;
use crate::broker::services::Broker;
use crate::remoting::ConnectionHandle;
use rocketmq_protocol::body::HeartbeatData;
use std::time::Instant;

/// The connection a heartbeat came over.
pub struct HeartbeatSource<'a> {
    /// Server pushes (membership changes, transaction check-backs) go to this connection.
    pub conn: &'a ConnectionHandle,
    /// The language the heartbeat came with.
    pub language: rocketmq_protocol::code::LanguageCode,
}

impl Broker {
    /// Registers the producer and consumer groups of one heartbeat.
    pub fn heartbeat(
        &self,
        source: HeartbeatSource<'_>,
        data: HeartbeatData,
    ) -> Result<(), OpError> {
        let channel = ClientChannel {
            client_id: data.client_id.clone(),
            conn: source.conn.clone(),
            last_heartbeat: Instant::now(),
            language: source.language,
        };
        for consumer in data.consumer_data_set {
            let group = consumer.group_name;
            if group.is_empty() {
                continue;
            }
            self.subscription_group_on_use(&group);
            self.topics.get_or_create_retry(&group)?;
            let meta = ConsumerGroupMeta {
                consume_type: consumer.consume_type,
                message_model: consumer.message_model,
                consume_from_where: consumer.consume_from_where,
            };
            let keep_old = data.without_sub && consumer.subscription_data_set.is_empty();
            let subscriptions = (!keep_old).then(|| {
                consumer
                    .subscription_data_set
                    .into_iter()
                    .filter(|s| !s.topic.is_empty())
                    .map(|s| Subscription {
                        topic: s.topic,
                        sub_string: s.sub_string,
                        sub_version: s.sub_version,
                        expression_type: s.expression_type,
                    })
                    .collect()
            });
            if let Some(n) =
                self.clients
                    .register_consumer(&group, channel.clone(), meta, subscriptions)
            {
                tracing::info!(
                    group,
                    client_id = data.client_id,
                    "consumer group membership changed"
                );
                n.push();
            }
        }
        for producer in data.producer_data_set {
            if !producer.group_name.is_empty() {
                self.clients
                    .register_producer(&producer.group_name, channel.clone());
            }
        }
        Ok(())
    }

    /// Removes a client's registration in the named groups on one connection.
    pub fn unregister_client(
        &self,
        conn_id: u64,
        client_id: &str,
        producer_group: Option<&str>,
        consumer_group: Option<&str>,
    ) {
        if let Some(n) = self
            .clients
            .unregister(conn_id, client_id, producer_group, consumer_group)
        {
            n.push();
        }
    }

    /// The client ids of a consumer group's live members.
    pub fn consumer_list(&self, group: &str) -> Result<Vec<String>, OpError> {
        let ids = self.clients.consumer_ids(group);
        if ids.is_empty() {
            return Err(OpError::system(format!(
                "no consumer for this group, {group}"
            )));
        }
        Ok(ids)
    }

    /// Forgets every client registered over a connection that closed.
    pub fn connection_gone(&self, conn_id: u64) {
        for n in self.clients.connection_closed(conn_id) {
            n.push();
        }
    }
}
