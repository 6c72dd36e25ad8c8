//! The RocketMQ 5 gRPC protocol as data: the `apache.rocketmq.v2` messages (prost) and the
//! `MessagingService` client and server stubs (tonic), generated at build time from the
//! `.proto` files pinned under `proto/` (apache/rocketmq-apis v2.1.2).
//!
//! The broker's gRPC front end and the client's gRPC transport both use these types, so the
//! two sides share one vocabulary, as the remoting side shares `rocketmq-protocol`.
//! Well-known types (`Timestamp`, `Duration`) come from `prost-types`.

/// The generated `apache.rocketmq.v2` package.
pub mod v2 {
    #![allow(clippy::all, clippy::pedantic, missing_docs)]
    tonic::include_proto!("apache.rocketmq.v2");
}

pub use prost_types::{Duration, Timestamp};
pub use v2::messaging_service_client::MessagingServiceClient;
pub use v2::messaging_service_server::{MessagingService, MessagingServiceServer};
