//! The RocketMQ client core: async (tokio), no Python. Everything a user names is
//! re-exported here; the modules are private.
//!
//! - `remoting`: multiplexed connections, responses matched by opaque; `blocking`: the
//!   per-thread blocking connections the Python bindings' synchronous calls use;
//! - `admin`: cluster administration (cluster info, topic creation) as `mqadmin` does it;
//!   `admin_query`: its message lookups (by key, by unique or offset message id);
//!   `admin_offsets`: a group's consume stats and resetting its offsets by time;
//! - `acl`: request signing with session credentials;
//! - `config`, `instance`, `namesrv_domain`, `route`: what a process's clients share:
//!   connections, name servers (listed, or fetched over HTTP), routes;
//! - `producer`: queue choice, retries across brokers, compression, batches;
//! - `pull`: pulling a queue from an offset, and queue offsets; `consumer_requests`: the
//!   consumer's other broker requests (heartbeat, members, send-back, locks, client config
//!   checks); `filter`: subscription expressions (TAG or SQL92);
//! - `push`: the push consumer (rebalance, pull loops, listener threads, offsets);
//! - `pop`: the POP consumer (receive, ack, change invisible duration; RocketMQ 5 style);
//! - `transaction`: half messages, END_TRANSACTION, answering the broker's check-back;
//!   `recall`: a timer message cancelled before its time (RECALL_MESSAGE);
//! - `message`: outgoing and received messages; `error`: the client's errors.
//!
//! What must stay true: files inside the crate name each other by module path
//! (`crate::error::Result`), never through the re-exports below, so that no file depends
//! on this one; no two modules use each other.
//!
//! The Python bindings drive these futures on one runtime and release the GIL while they wait.
//!
//! Log events use targets `rocketmq.client.<module>`, so that once bridged to Python
//! `logging` (tracing's `log` feature + pyo3-log) they land under the `rocketmq` logger.

mod acl;
mod admin;
mod admin_groups;
mod admin_offsets;
mod admin_query;
mod blocking;
mod config;
mod consumer_requests;
mod error;
mod filter;
mod instance;
mod message;
mod namesrv_domain;
mod pop;
mod producer;
mod pull;
mod push;
mod recall;
mod remoting;
mod route;
mod socket_io;
mod transaction;
/// The RocketMQ 5 client over gRPC (its own vocabulary, so a module of its own).
pub mod v5;

pub use acl::{request_signature, SessionCredentials, ACCESS_KEY, ONS_CHANNEL, SIGNATURE};
pub use admin::{Admin, TopicSpec, PERM_READ, PERM_WRITE};
pub use admin_query::looks_like_offset_msg_id;
pub use blocking::with_blocking_requests;
pub use config::ClientConfig;
pub use error::{ClientError, ExpressionRefusal, Result};
pub use filter::{ExpressionType, MessageFilter, TagFilter};
pub use instance::ClientInstance;
pub use message::{Message, MessageExt};
pub use namesrv_domain::{fetch_name_servers, HttpUrl};
pub use pop::{PopConsumer, PopConsumerConfig, PoppedMessage};
pub use producer::{Producer, ProducerConfig, SendResult, SendStatus};
pub use pull::{PullRequest, PullResult, PullStatus};
pub use push::{
    ConsumeBatch, ConsumeFrom, ConsumeStatus, MessageListener, PushConsumer, PushConsumerConfig,
    Subscription,
};
pub use remoting::{Connection, ConnectionPool, RequestHandler};
/// The message types `TopicSpec::message_type` takes (RocketMQ 5's `message.type`).
pub use rocketmq_protocol::body::topic_config::attributes::USER_MESSAGE_TYPES as MESSAGE_TYPES;
pub use route::{MessageQueue, TopicRoute};
pub use transaction::{TransactionCheckHandler, TransactionChecker, TransactionState};
