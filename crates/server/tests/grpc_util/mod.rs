//! Helpers of the gRPC endpoint tests: a cluster with its gRPC endpoint on an ephemeral
//! loopback port, a runtime and a connected tonic client of `rocketmq_grpc`.
#![allow(dead_code)]

use crate::common::config;
use rocketmq_grpc::v2;
use rocketmq_grpc::MessagingServiceClient;
use rocketmq_server::EmbeddedCluster;
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
