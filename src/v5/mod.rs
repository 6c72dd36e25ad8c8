//! Bindings of the RocketMQ 5 (gRPC) client (`rocketmq_client::v5`): `GrpcProducer` and
//! `GrpcConsumer`, thin classes the pure-Python `rocketmq.v5` package wraps into the
//! official 5.x API, and `GrpcClientError`, the exception they raise.
//!
//! Dependencies run one way: `producer` and `consumer` use the leaf modules (`completion`,
//! `convert`, `runtime`), never the reverse; this file only re-exports.

mod completion;
mod consumer;
mod convert;
mod producer;
mod runtime;

pub use consumer::GrpcConsumer;
pub use producer::GrpcProducer;
pub use runtime::GrpcClientError;
