//! The bundled RocketMQ-compatible name server and broker (tokio), over `rocketmq-store`.
//!
//! Public entry points (used by the `rocketmq-broker` binary and the Python bindings):
//! - [`ServerConfig`]: every knob of the bundled name server + broker pair;
//! - [`EmbeddedCluster`]: starts a name server and a broker in this process on their own
//!   tokio runtime thread, reports the bound addresses, and shuts down cleanly (flushing the
//!   store) on [`EmbeddedCluster::shutdown`] or drop.

pub mod config;

pub use config::ServerConfig;
pub use rocketmq_store::FlushMode;
