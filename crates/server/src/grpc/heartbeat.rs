//! Heartbeat and NotifyClientTermination: who is connected, kept in the broker's client table
//! as the remoting heartbeat keeps it (`Broker::heartbeat`, `Broker::connection_gone`), with
//! the client's own handle (see `clients`).
//!
//! A producer is registered in one producer group per topic it publishes (its Telemetry
//! settings' topics, and every topic it sends to): the Apache proxy uses the topic as the
//! producer group of gRPC producers, and the transaction check-back asks a producer of the
//! half message's group. A push or simple consumer is registered in its group with the
//! subscriptions of its settings (POP consumption, clustering).

use super::metadata::{peer, ClientMeta};
use super::status::{ok, status};
use super::GrpcFront;
use crate::broker::ops::clients::HeartbeatSource;
use rocketmq_grpc::v2;
use rocketmq_protocol::body::{
    ConsumeFromWhere, ConsumeType, ConsumerData, HeartbeatData, MessageModel, ProducerData,
    SubscriptionData,
};
use std::net::SocketAddr;
use tonic::{Request, Response, Status};

/// The refusal of a request without `x-mq-client-id`.
pub(crate) fn client_id_required() -> v2::Status {
    status(
        v2::Code::ClientIdRequired,
        "the request has no client id: send the x-mq-client-id header, as RocketMQ 5 clients do",
    )
}

pub(super) async fn heartbeat(
    front: &GrpcFront,
    request: Request<v2::HeartbeatRequest>,
) -> Result<Response<v2::HeartbeatResponse>, Status> {
    let meta = ClientMeta::from_metadata(request.metadata());
    let from = peer(&request);
    let request = request.into_inner();
    let answer = |status| {
        Ok(Response::new(v2::HeartbeatResponse {
            status: Some(status),
        }))
    };
    if meta.client_id.is_empty() {
        return answer(client_id_required());
    }
    let settings = front.clients.settings(&meta.client_id);
    let client_type = match v2::ClientType::try_from(request.client_type) {
        Ok(v2::ClientType::Unspecified) | Err(_) => settings
            .as_ref()
            .and_then(|s| s.client_type)
            .and_then(|t| v2::ClientType::try_from(t).ok())
            .unwrap_or(v2::ClientType::Unspecified),
        Ok(t) => t,
    };
    let group = request
        .group
        .as_ref()
        .map(|g| super::message_out::wrap_namespace(Some(g)))
        .filter(|g| !g.is_empty());
    match front.register(&meta, from, client_type, group, settings.as_ref()) {
        Ok(()) => answer(ok()),
        Err(refused) => answer(refused),
    }
}

pub(super) async fn notify_client_termination(
    front: &GrpcFront,
    request: Request<v2::NotifyClientTerminationRequest>,
) -> Result<Response<v2::NotifyClientTerminationResponse>, Status> {
    let meta = ClientMeta::from_metadata(request.metadata());
    let status = if meta.client_id.is_empty() {
        client_id_required()
    } else {
        front.clients.terminated(&meta.client_id);
        ok()
    };
    Ok(Response::new(v2::NotifyClientTerminationResponse {
        status: Some(status),
    }))
}

impl GrpcFront {
    /// Registers a client in the broker's client table as what `client_type` says: a
    /// producer of each topic its settings publish to, or a consumer of `group` (from the
    /// request, else its settings).
    pub(crate) fn register(
        &self,
        meta: &ClientMeta,
        from: SocketAddr,
        client_type: v2::ClientType,
        group: Option<String>,
        settings: Option<&v2::Settings>,
    ) -> Result<(), v2::Status> {
        let mut data = HeartbeatData {
            client_id: meta.client_id.clone(),
            ..Default::default()
        };
        match client_type {
            v2::ClientType::Producer => {
                if let Some(v2::settings::PubSub::Publishing(p)) =
                    settings.and_then(|s| s.pub_sub.as_ref())
                {
                    data.producer_data_set = p
                        .topics
                        .iter()
                        .map(|t| ProducerData {
                            group_name: super::message_out::wrap_namespace(Some(t)),
                        })
                        .filter(|p| !p.group_name.is_empty())
                        .collect();
                }
            }
            v2::ClientType::PushConsumer
            | v2::ClientType::SimpleConsumer
            | v2::ClientType::PullConsumer => {
                let subscription = match settings.and_then(|s| s.pub_sub.as_ref()) {
                    Some(v2::settings::PubSub::Subscription(s)) => Some(s),
                    _ => None,
                };
                let group = group.or_else(|| {
                    subscription
                        .and_then(|s| s.group.as_ref())
                        .map(|g| super::message_out::wrap_namespace(Some(g)))
                });
                let Some(group) = group.filter(|g| !g.is_empty()) else {
                    return Err(status(
                        v2::Code::IllegalConsumerGroup,
                        "a consumer's heartbeat must name its consumer group",
                    ));
                };
                data.consumer_data_set.push(ConsumerData {
                    group_name: group,
                    consume_type: if client_type == v2::ClientType::PullConsumer {
                        ConsumeType::ConsumeActively
                    } else {
                        ConsumeType::ConsumePop
                    },
                    message_model: MessageModel::Clustering,
                    consume_from_where: ConsumeFromWhere::ConsumeFromLastOffset,
                    subscription_data_set: subscription
                        .map(|s| s.subscriptions.iter().map(subscription_data).collect())
                        .unwrap_or_default(),
                    unit_mode: false,
                });
                // No subscriptions known yet (no settings): keep the group's last ones.
                data.without_sub = subscription.is_none();
            }
            _ => {
                return Err(status(
                    v2::Code::UnrecognizedClientType,
                    format!(
                        "unrecognized client type {}: a heartbeat names PRODUCER, PUSH_CONSUMER, SIMPLE_CONSUMER or PULL_CONSUMER",
                        client_type.as_str_name()
                    ),
                ));
            }
        }
        let conn = self.clients.handle(&meta.client_id, from);
        self.broker
            .heartbeat(
                HeartbeatSource {
                    conn: &conn,
                    language: meta.language_code(),
                },
                data,
            )
            .map_err(|e| super::status::from_op_error(&e))
    }

    /// Registers the sender of a message as a producer of `topic` (its producer group), at
    /// most every `clients::PRODUCER_REFRESH`.
    pub(crate) fn register_producer(&self, meta: &ClientMeta, from: SocketAddr, topic: &str) {
        if meta.client_id.is_empty()
            || !self
                .clients
                .producer_registration_due(&meta.client_id, topic)
        {
            return;
        }
        let conn = self.clients.handle(&meta.client_id, from);
        let data = HeartbeatData {
            client_id: meta.client_id.clone(),
            producer_data_set: vec![ProducerData {
                group_name: topic.to_string(),
            }],
            ..Default::default()
        };
        let source = HeartbeatSource {
            conn: &conn,
            language: meta.language_code(),
        };
        if let Err(e) = self.broker.heartbeat(source, data) {
            tracing::debug!(topic, "registering a gRPC producer failed: {e}");
        }
    }
}

/// A subscription entry of the settings as the client table keeps it.
fn subscription_data(entry: &v2::SubscriptionEntry) -> SubscriptionData {
    let expression = entry.expression.clone().unwrap_or_default();
    let sql = v2::FilterType::try_from(expression.r#type) == Ok(v2::FilterType::Sql);
    SubscriptionData {
        topic: super::message_out::wrap_namespace(entry.topic.as_ref()),
        sub_string: if expression.expression.is_empty() {
            "*".to_string()
        } else {
            expression.expression
        },
        expression_type: if sql { "SQL92" } else { "TAG" }.to_string(),
        ..Default::default()
    }
}
