//! The bundled RocketMQ-compatible name server and broker (tokio), over `rocketmq-store`.
//!
//! Public face (used by the `rocketmq-broker` program, the Python bindings and the tests):
//! - [`ServerConfig`] and its named defaults: every knob of the bundled name server + broker
//!   pair, each default defined once, in [`config`];
//! - [`EmbeddedCluster`]: starts a name server and a broker in this process on their own
//!   tokio runtime thread, reports the bound addresses, and shuts down cleanly (flushing the
//!   store) on [`EmbeddedCluster::shutdown`] or drop;
//! - [`run_until_signal`]: the same, printing the addresses and running until SIGINT/SIGTERM;
//! - [`DelayLevels`]: the delay-level parser, so callers can check a level string up front;
//! - [`parse_duration`], [`disk_ratio`]: the retention options' text forms, checked once.
//!
//! Layout (every module but [`config`] private): `cluster` (the composition root: start, run,
//! shutdown), `net` (binding and resolving addresses), `namesrv` (the route table and its
//! remoting front end), `broker` (the broker's services, its typed operations and their
//! remoting processors), `remoting` (connections, framing, a small client), `grpc` (the
//! RocketMQ 5 gRPC front end over the same operations), `util`.

mod broker;
mod cluster;
pub mod config;
mod grpc;
mod namesrv;
mod net;
mod remoting;
mod retention_options;
mod util;

pub use broker::schedule::DelayLevels;
pub use broker::timer::check_timer_max_delay;
pub use cluster::{run_until_signal, EmbeddedCluster};
pub use config::ServerConfig;
pub use retention_options::{disk_ratio, parse_duration, MIN_DISK_RATIO};
pub use rocketmq_store::FlushMode;
