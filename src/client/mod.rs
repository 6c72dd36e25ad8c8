//! Bindings of the Rust client (`rocketmq-client`): thin wrappers that convert arguments,
//! release the GIL around every blocking call, and hand back plain tuples that the
//! pure-Python layer (`rocketmq.client`) turns into its public classes. Received messages are
//! the exception: `ReceivedMessage` is native and public (see `message.rs`).
//!
//! The submodules are private; the classes the Python module exports are re-exported here.
//! Dependencies run one way: the class modules (`admin`, `pop`, `producer`, `pull`, `push`) use the leaf
//! modules (`completion`, `send_result`, `settings`, `runtime`, `error`, `message`), never
//! the reverse, and this file uses no submodule except to re-export it.

mod admin;
mod completion;
mod error;
mod message;
mod pop;
mod producer;
mod pull;
mod push;
mod runtime;
mod send_result;
mod settings;

pub use admin::NativeAdmin;
pub use error::ClientError;
pub use error::FilterExpressionRefused;
pub use message::ReceivedMessage;
pub use pop::{PopConsumer, PoppedMessage};
pub use producer::NativeProducer;
pub use pull::NativePullClient;
pub use push::NativePushConsumer;

use pyo3::prelude::*;
use pyo3::types::PyTuple;

/// The client side's module constants: `SYSTEM_PROPERTY_NAMES`, the property names that are
/// never a user property (the protocol crate's one list, which the broker's gRPC endpoint
/// uses too; the 5.x API over remoting keeps the others as a message's properties).
pub fn add_constants(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let names = rocketmq_protocol::properties::SYSTEM_PROPERTY_NAMES;
    m.add("SYSTEM_PROPERTY_NAMES", PyTuple::new(m.py(), names)?)
}
