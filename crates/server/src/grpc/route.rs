//! QueryRoute: the topic's queues, all served by this endpoint.
//!
//! Each queue names this broker with the endpoints the client asked with, ports included (as
//! Apache's proxy in cluster mode with `useEndpointPortFromRequest`), so a client that reached
//! the endpoint through a load balancer, a TLS terminator or a forwarded port stays on that
//! address; else this endpoint's address (IPv4 or IPv6 scheme). Each queue also has its
//! permission from the topic's read/write queue counts and permission bits, and the message
//! types the topic takes (`message_in::accepted_types`). A topic that does not exist is
//! created from the auto-create template, as a remoting producer's first send creates it
//! (and the answer waits until the name server knows it); when the template does not allow
//! that, the answer is `TOPIC_NOT_FOUND`, as the Apache proxy answers for a topic without a
//! route.

use super::message_in::{accepted_types, check_topic};
use super::message_out::wrap_namespace;
use super::status::{ok, status};
use super::GrpcFront;
use crate::broker::topic::{AUTO_CREATE_TOPIC, AUTO_CREATE_TOPIC_QUEUES};
use rocketmq_grpc::v2;
use rocketmq_protocol::body::topic_config::perm;
use rocketmq_store::TopicConfig;
use std::net::SocketAddr;
use tonic::{Request, Response, Status};

/// Queues of a topic QueryRoute creates (the 5.x clients name no count; Java's default).
pub(crate) const CREATED_TOPIC_QUEUES: i32 = 4;

pub(super) async fn query_route(
    front: &GrpcFront,
    request: Request<v2::QueryRouteRequest>,
) -> Result<Response<v2::QueryRouteResponse>, Status> {
    let request = request.into_inner();
    let answer = |status, message_queues| {
        Ok(Response::new(v2::QueryRouteResponse {
            status: Some(status),
            message_queues,
        }))
    };
    let topic = wrap_namespace(request.topic.as_ref());
    if let Err(refused) = check_topic(&topic) {
        return answer(refused, vec![]);
    }
    match front.topic_for_send(&topic).await {
        Some(config) => {
            let endpoints = request
                .endpoints
                .filter(|e| !e.addresses.is_empty())
                .unwrap_or_else(|| front.endpoints());
            let queues =
                message_queues(front, request.topic.unwrap_or_default(), &config, endpoints);
            answer(ok(), queues)
        }
        None => answer(
            status(
                v2::Code::TopicNotFound,
                format!("No topic route info in name server for the topic: {topic}"),
            ),
            vec![],
        ),
    }
}

impl GrpcFront {
    /// The config of `topic`, created from the auto-create template when it does not exist
    /// (answering only once the name server knows it); `None` when it cannot be created.
    pub(crate) async fn topic_for_send(&self, topic: &str) -> Option<TopicConfig> {
        let created = self.broker.topics.get_or_create_on_send(
            topic,
            AUTO_CREATE_TOPIC,
            CREATED_TOPIC_QUEUES.min(AUTO_CREATE_TOPIC_QUEUES),
        );
        match created {
            Ok(Some((config, announce))) => {
                if let Some(version) = announce {
                    self.broker.announced(version).await;
                }
                Some(config)
            }
            Ok(None) => None,
            Err(e) => {
                tracing::warn!(topic, "creating the topic failed: {e}");
                None
            }
        }
    }

    /// This endpoint as a route names it.
    pub(crate) fn endpoints(&self) -> v2::Endpoints {
        endpoints_of(self.endpoint)
    }
}

pub(crate) fn endpoints_of(addr: SocketAddr) -> v2::Endpoints {
    let scheme = if addr.is_ipv4() {
        v2::AddressScheme::IPv4
    } else {
        v2::AddressScheme::IPv6
    };
    v2::Endpoints {
        scheme: scheme as i32,
        addresses: vec![v2::Address {
            host: addr.ip().to_string(),
            port: i32::from(addr.port()),
        }],
    }
}

/// The queues of `config` as QueryRoute lists them.
fn message_queues(
    front: &GrpcFront,
    topic: v2::Resource,
    config: &TopicConfig,
    endpoints: v2::Endpoints,
) -> Vec<v2::MessageQueue> {
    let broker = v2::Broker {
        name: front.broker.config.broker_name.clone(),
        id: 0,
        endpoints: Some(endpoints),
    };
    let types: Vec<i32> = accepted_types(&config.attributes)
        .into_iter()
        .map(|t| t as i32)
        .collect();
    let readable = config.perm & perm::READ != 0;
    let writable = config.perm & perm::WRITE != 0;
    let count = config.read_queue_nums.max(config.write_queue_nums).max(0);
    (0..count)
        .map(|id| {
            let read = readable && id < config.read_queue_nums;
            let write = writable && id < config.write_queue_nums;
            let permission = match (read, write) {
                (true, true) => v2::Permission::ReadWrite,
                (true, false) => v2::Permission::Read,
                (false, true) => v2::Permission::Write,
                (false, false) => v2::Permission::None,
            };
            v2::MessageQueue {
                topic: Some(topic.clone()),
                id,
                permission: permission as i32,
                broker: Some(broker.clone()),
                accept_message_types: types.clone(),
            }
        })
        .collect()
}
