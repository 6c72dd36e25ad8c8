//! Bindings of the Rust client (`rocketmq-client`): thin wrappers that convert arguments,
//! release the GIL around every blocking call, and hand back plain tuples that the
//! pure-Python layer (`rocketmq.client`) turns into its public classes.

pub mod message;
pub mod producer;
pub mod pull;
pub mod push;
pub mod runtime;

use pyo3::prelude::*;
use std::future::Future;

pyo3::create_exception!(
    _rocketmq,
    ClientError,
    pyo3::exceptions::PyException,
    "A client operation failed; the message says what and where."
);

/// Runs `fut` on the client runtime with the GIL released.
pub fn block_on<F, T>(py: Python<'_>, fut: F) -> PyResult<T>
where
    F: Future<Output = rocketmq_client::Result<T>> + Send,
    T: Send,
{
    let rt = runtime::runtime();
    py.detach(|| rt.block_on(fut))
        .map_err(|e| ClientError::new_err(e.to_string()))
}

/// Name servers from `"host:port;host:port"`.
pub fn name_servers(list: &str) -> Vec<String> {
    rocketmq_client::ClientConfig::parse_name_servers(list)
}
