//! [`ClientConfig`]: what a client instance is told at start: where the name servers are
//! (addresses, or an HTTP domain answering them), timeouts, credentials, refresh intervals.
//!
//! A leaf: it names no other part of the client but the credentials type.

use crate::acl::SessionCredentials;
use std::time::Duration;

#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// `host:port` of each name server.
    pub name_servers: Vec<String>,
    pub instance_name: String,
    /// Timeout of each request to a name server or broker.
    pub request_timeout: Duration,
    pub connect_timeout: Duration,
    /// ACL credentials; when set every request is signed (spec 5.12).
    pub credentials: Option<SessionCredentials>,
    /// `http://host[:port]/path` answering the name-server list (`set_namesrv_domain`).
    pub namesrv_domain: Option<String>,
    /// How often the maintenance task re-fetches every cached route.
    pub route_refresh_interval: Duration,
    /// How often the maintenance task re-fetches the list from `namesrv_domain`.
    pub namesrv_refresh_interval: Duration,
}

impl ClientConfig {
    /// Parses `"host:port;host2:port2"`; a leading `http://` is stripped, blanks ignored.
    pub fn parse_name_servers(list: &str) -> Vec<String> {
        list.split(';')
            .map(|s| s.trim())
            .map(|s| s.strip_prefix("http://").unwrap_or(s))
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect()
    }
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            name_servers: Vec::new(),
            instance_name: "DEFAULT".into(),
            request_timeout: Duration::from_secs(3),
            connect_timeout: Duration::from_secs(3),
            credentials: None,
            namesrv_domain: None,
            route_refresh_interval: Duration::from_secs(30),
            namesrv_refresh_interval: Duration::from_secs(120),
        }
    }
}
