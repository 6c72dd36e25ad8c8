//! The RocketMQ 5 client over gRPC (`apache.rocketmq.v2.MessagingService`), for any 5.x
//! endpoint: Apache's proxy, managed services, the bundled broker's gRPC front end.
//!
//! - `signing`: request metadata and the HMAC-SHA1 signature, client and message ids;
//! - `transport`: configuration, one channel per endpoint, stamped requests;
//! - `session`: routes, telemetry (transaction check-back, server commands),
//!   heartbeats, termination; `settings`: what the server pushes, and defaults;
//! - `producer`: sends, transactions, recall; `sender`: queue choice and retries;
//!   `send_batch`: pipelined normal sends share requests; `consumer`: receive, ack, invisible
//!   duration, dead-letter forwarding, push assignments;
//! - `message`: outgoing and received messages; `error`: status and transport errors.
//!
//! What must stay true: nothing here knows Python; the bindings drive these futures on their
//! runtime with the GIL released.

mod consumer;
mod error;
mod message;
mod producer;
mod send_batch;
mod sender;
mod session;
mod settings;
mod signing;
mod transport;

pub use consumer::{Consumer, ReceiptRef};
pub use error::{GrpcError, GrpcResult};
pub use message::{OutgoingMessage, ReceivedMessage};
pub use producer::{Producer, SendReceipt};
pub use send_batch::SendCallback;
pub use session::{Filter, TransactionCheck};
pub use settings::ServerSettings;
pub use signing::{new_message_id, Credentials};
pub use transport::ClientOptions;
