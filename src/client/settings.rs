//! The settings every native client takes: name servers (a list, and/or an HTTP URL that
//! answers one), instance name and ACL credentials, turned into a
//! `rocketmq_client::ClientConfig`.
//!
//! What must stay true: a name-server domain that cannot be used (https, bad port) is a
//! `ValueError` at construction, saying why; it is never found out later by a failing fetch.

use pyo3::prelude::*;

/// `(access_key, secret_key, channel)` as given to `set_session_credentials`.
pub type Credentials = (String, String, String);

/// Name servers from `"host:port;host:port"`.
pub fn name_servers(list: &str) -> Vec<String> {
    rocketmq_client::ClientConfig::parse_name_servers(list)
}

/// The client configuration from the settings every native client takes.
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
