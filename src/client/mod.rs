//! Bindings of the Rust client (`rocketmq-client`): thin wrappers that convert arguments,
//! release the GIL around every blocking call, and hand back plain tuples that the
//! pure-Python layer (`rocketmq.client`) turns into its public classes. Received messages are
//! the exception: `ReceivedMessage` is native and public (see `message.rs`).

pub mod completion;
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

/// Runs `fut` on the client runtime with the GIL released. Its requests wait for their
/// answers on this thread's own blocking connections (see `rocketmq_client::blocking`): the
/// thread waits anyway, and the answer then wakes it directly.
pub fn block_on<F, T>(py: Python<'_>, fut: F) -> PyResult<T>
where
    F: Future<Output = rocketmq_client::Result<T>> + Send,
    T: Send,
{
    let rt = runtime::runtime();
    py.detach(|| rocketmq_client::with_blocking_requests(|| rt.block_on(fut)))
        .map_err(|e| ClientError::new_err(e.to_string()))
}

/// Name servers from `"host:port;host:port"`.
pub fn name_servers(list: &str) -> Vec<String> {
    rocketmq_client::ClientConfig::parse_name_servers(list)
}

/// `(access_key, secret_key, channel)` as given to `set_session_credentials`.
pub type Credentials = (String, String, String);

/// The client settings every native client takes: name servers (a list, and/or an HTTP URL
/// that answers one), instance name, ACL credentials. A domain that cannot be used (https,
/// bad port) is a ValueError saying why.
pub fn client_config(
    name_servers_list: &str,
    instance_name: &str,
    credentials: Option<Credentials>,
    namesrv_domain: Option<String>,
) -> PyResult<rocketmq_client::ClientConfig> {
    if let Some(url) = &namesrv_domain {
        rocketmq_client::HttpUrl::parse(url)
            .map_err(|e| pyo3::exceptions::PyValueError::new_err(e.to_string()))?;
    }
    Ok(rocketmq_client::ClientConfig {
        name_servers: name_servers(name_servers_list),
        instance_name: instance_name.to_string(),
        credentials: credentials
            .map(|(ak, sk, channel)| rocketmq_client::SessionCredentials::new(&ak, &sk, &channel)),
        namesrv_domain,
        ..rocketmq_client::ClientConfig::default()
    })
}
