//! Helpers of the gRPC endpoint tests: a cluster with its gRPC endpoint on an ephemeral
//! loopback port, a runtime and a connected tonic client of `rocketmq_grpc`, requests and
//! messages as a 5.x client builds them, and a remoting pull to see what was stored.
#![allow(dead_code)]

use crate::common::{config, pull_all, Client, WAIT};
use rocketmq_grpc::v2;
use rocketmq_grpc::MessagingServiceClient;
use rocketmq_protocol::message::StoredMessage;
use rocketmq_protocol::properties::get_property;
use rocketmq_server::EmbeddedCluster;
use std::future::Future;
use std::time::{Duration, Instant};
use tonic::transport::Channel;

pub type Grpc = MessagingServiceClient<Channel>;

pub fn start_grpc(dir: &std::path::Path) -> EmbeddedCluster {
    let mut config = config(dir);
    config.grpc_port = Some(0);
    config.enable_property_filter = true;
    EmbeddedCluster::start(config).expect("cluster starts")
}

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

pub async fn connect(cluster: &EmbeddedCluster) -> Grpc {
    let addr = cluster.grpc_addr().expect("the gRPC endpoint is served");
    MessagingServiceClient::connect(format!("http://{addr}"))
        .await
        .expect("gRPC connect")
}

pub fn resource(name: &str) -> Option<v2::Resource> {
    Some(v2::Resource {
        resource_namespace: String::new(),
        name: name.into(),
    })
}

pub fn millis(ms: i64) -> Option<rocketmq_grpc::Duration> {
    Some(rocketmq_grpc::Duration {
        seconds: ms / 1000,
        nanos: ((ms % 1000) * 1_000_000) as i32,
    })
}

/// The client id [`req`] sends.
pub const CLIENT_ID: &str = "127.0.0.1@4242@0@grpc-test";

/// Runs `f` on a runtime of its own (the cluster runs on its own threads).
pub fn run<F: Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

/// A request with the headers a 5.x client sends.
pub fn req<T>(message: T) -> tonic::Request<T> {
    let mut r = tonic::Request::new(message);
    r.metadata_mut()
        .insert("x-mq-client-id", CLIENT_ID.parse().unwrap());
    r.metadata_mut()
        .insert("x-mq-language", "RUST".parse().unwrap());
    r
}

/// The code of a response's status (which must be there).
pub fn code(status: &Option<v2::Status>) -> v2::Code {
    v2::Code::try_from(status.as_ref().expect("a status").code).expect("a known code")
}

/// A gRPC message of `topic` with message id `id`, a user property and system properties
/// set by `f` (NORMAL unless `f` says otherwise).
pub fn message(
    topic: &str,
    id: &str,
    body: &[u8],
    f: impl FnOnce(&mut v2::SystemProperties),
) -> v2::Message {
    let mut sys = v2::SystemProperties {
        message_id: id.into(),
        message_type: v2::MessageType::Normal as i32,
        born_host: "test-host".into(),
        ..Default::default()
    };
    f(&mut sys);
    v2::Message {
        topic: resource(topic),
        user_properties: [("color".to_string(), "blue".to_string())].into(),
        system_properties: Some(sys),
        body: body.to_vec(),
    }
}

/// Sends `m` alone; a request refused before sending answers its status as the entry.
pub async fn send_one(c: &mut Grpc, m: v2::Message) -> v2::SendResultEntry {
    let r = c
        .send_message(req(v2::SendMessageRequest { messages: vec![m] }))
        .await
        .expect("SendMessage answers")
        .into_inner();
    match r.entries.len() {
        1 => r.entries.into_iter().next().unwrap(),
        // Refused before sending: the response's status alone, as the proxy answers.
        0 => v2::SendResultEntry {
            status: r.status,
            ..Default::default()
        },
        n => panic!("{n} entries for one message"),
    }
}

/// Every message of `topic` (all queues) as a remoting consumer pulls them.
pub fn pulled(cluster: &EmbeddedCluster, topic: &str, queues: i32) -> Vec<StoredMessage> {
    let mut c = Client::connect(cluster.broker_addr());
    (0..queues)
        .flat_map(|q| pull_all(&mut c, topic, q))
        .collect()
}

/// Pulls until a message with `UNIQ_KEY` = `id` is there, at most [`WAIT`].
pub fn wait_pulled(cluster: &EmbeddedCluster, topic: &str, queues: i32, id: &str) -> StoredMessage {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(m) = pulled(cluster, topic, queues)
            .into_iter()
            .find(|m| get_property(&m.properties, "UNIQ_KEY") == Some(id))
        {
            return m;
        }
        assert!(
            Instant::now() < deadline,
            "message {id} never became visible in {topic}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Whether a remoting pull of `topic` finds the message with `UNIQ_KEY` = `id`.
pub fn has(cluster: &EmbeddedCluster, topic: &str, queues: i32, id: &str) -> bool {
    pulled(cluster, topic, queues)
        .iter()
        .any(|m| get_property(&m.properties, "UNIQ_KEY") == Some(id))
}
