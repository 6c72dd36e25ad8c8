//! The RocketMQ client core: async (tokio), no Python.
//!
//! - [`remoting`]: multiplexed connections, responses matched by opaque;
//! - [`acl`]: request signing with session credentials;
//! - [`config`]: where the name servers are, timeouts, credentials;
//! - [`namesrv_domain`]: the name-server list fetched over HTTP;
//! - [`instance`]: what a process's clients share: connections, name servers, routes;
//! - [`producer`]: queue choice, retries across brokers, compression, batches;
//! - [`pull`]: pulling a queue from an offset, and queue offsets;
//! - [`transaction`]: half messages, END_TRANSACTION, answering the broker's check-back;
//! - [`message`]: outgoing and received messages.
//!
//! The Python bindings drive these futures on one runtime and release the GIL while they wait.
//!
//! Log events use targets `rocketmq.client.<module>`, so that once bridged to Python
//! `logging` (tracing's `log` feature + pyo3-log) they land under the `rocketmq` logger.

pub mod acl;
pub mod blocking;
pub mod config;
pub mod consumer_requests;
pub mod error;
pub mod instance;
pub mod message;
pub mod namesrv_domain;
pub mod producer;
pub mod pull;
pub mod push;
pub mod remoting;
pub mod route;
pub mod transaction;

pub use acl::SessionCredentials;
pub use config::ClientConfig;
pub use error::{ClientError, Result};
pub use instance::ClientInstance;
pub use message::{Message, MessageExt};
pub use producer::{Producer, ProducerConfig, SendResult, SendStatus};
pub use route::{MessageQueue, TopicRoute};
pub use transaction::{TransactionChecker, TransactionState};
