//! What a gRPC request says about its client in its headers, as the 5.x clients send them:
//! `x-mq-client-id` (the client's id, one per client instance), `x-mq-language`,
//! `x-mq-namespace`, `x-mq-protocol`, `x-mq-client-version`; and the peer address.
//!
//! What must stay true: reading headers never fails a request by itself; an RPC that needs
//! the client id (Heartbeat, Telemetry, NotifyClientTermination) says so with
//! `CLIENT_ID_REQUIRED`, as the Apache proxy does.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use tonic::metadata::MetadataMap;

pub(crate) const CLIENT_ID: &str = "x-mq-client-id";
pub(crate) const LANGUAGE: &str = "x-mq-language";
pub(crate) const NAMESPACE: &str = "x-mq-namespace";
pub(crate) const CLIENT_VERSION: &str = "x-mq-client-version";

/// The client a request came from.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct ClientMeta {
    /// Empty when the request carried none.
    pub client_id: String,
    /// `JAVA`, `PYTHON`, `GOLANG`, ... as the client sent it.
    pub language: String,
    pub namespace: String,
    pub client_version: String,
}

impl ClientMeta {
    pub(crate) fn from_metadata(metadata: &MetadataMap) -> ClientMeta {
        let text = |key: &str| {
            metadata
                .get(key)
                .and_then(|v| v.to_str().ok())
                .map(|s| s.trim().to_string())
                .unwrap_or_default()
        };
        ClientMeta {
            client_id: text(CLIENT_ID),
            language: text(LANGUAGE),
            namespace: text(NAMESPACE),
            client_version: text(CLIENT_VERSION),
        }
    }

    /// The remoting language code closest to the client's language (for the client table).
    pub(crate) fn language_code(&self) -> rocketmq_protocol::code::LanguageCode {
        use rocketmq_protocol::code::LanguageCode;
        match self.language.to_ascii_uppercase().as_str() {
            // Not `Cpp`: that code makes the broker answer in the C client's body layouts.
            "CPP" => LanguageCode::Other,
            "GOLANG" => LanguageCode::Go,
            "PYTHON" => LanguageCode::Python,
            "DOTNET" | "DOT_NET" => LanguageCode::DotNet,
            "RUST" => LanguageCode::Rust,
            _ => LanguageCode::Java,
        }
    }
}

/// The address the request came from (unknown peers read as 0.0.0.0:0).
pub(crate) fn peer<T>(request: &tonic::Request<T>) -> SocketAddr {
    request
        .remote_addr()
        .unwrap_or_else(|| SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_read_and_missing_ones_are_empty() {
        let mut map = MetadataMap::new();
        map.insert(CLIENT_ID, "host@1@abc".parse().unwrap());
        map.insert(LANGUAGE, "PYTHON".parse().unwrap());
        let meta = ClientMeta::from_metadata(&map);
        assert_eq!(meta.client_id, "host@1@abc");
        assert_eq!(meta.language, "PYTHON");
        assert_eq!(meta.namespace, "");
        assert_eq!(
            meta.language_code(),
            rocketmq_protocol::code::LanguageCode::Python
        );
    }
}
