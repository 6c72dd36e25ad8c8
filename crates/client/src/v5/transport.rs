//! The gRPC transport: one lazily connected channel per endpoint (`host:port`), and requests
//! stamped with the metadata and signature of `signing` and the caller's deadline.
//!
//! What must stay true: a channel is created once per endpoint and shared by every call (h2
//! multiplexes them); creating one never blocks (the connection is made on first use and
//! remade by tonic after a failure); every call has a deadline except the telemetry stream, which lives as long as the client.

use super::error::{GrpcError, GrpcResult};
use super::signing::{self, Credentials};
use rocketmq_grpc::v2::{Address, AddressScheme, Endpoints, Resource};
use rocketmq_grpc::MessagingServiceClient;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tonic::metadata::MetadataValue;
use tonic::transport::{Channel, Endpoint};

/// What a 5.x client is configured with (the Python `ClientConfiguration`).
#[derive(Clone, Debug)]
pub struct ClientOptions {
    /// `host:port[;host:port...]`, optionally prefixed with `http://` or `https://`.
    pub endpoints: String,
    pub credentials: Credentials,
    pub namespace: String,
    pub request_timeout: Duration,
    /// Whether the channels use TLS (https).
    pub tls: bool,
}

/// The `host:port` addresses of a configured endpoints string, in order.
pub fn parse_endpoints(endpoints: &str) -> GrpcResult<Vec<String>> {
    let mut out = Vec::new();
    for part in endpoints.split(';') {
        let part = part.trim();
        let part = part
            .strip_prefix("http://")
            .or_else(|| part.strip_prefix("https://"))
            .unwrap_or(part);
        if part.is_empty() {
            continue;
        }
        match part.rsplit_once(':') {
            Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok() => {
                out.push(part.to_string())
            }
            _ => {
                return Err(GrpcError::IllegalArgument(format!(
                    "endpoint {part:?} is not host:port; pass e.g. \"127.0.0.1:8081\""
                )))
            }
        }
    }
    if out.is_empty() {
        return Err(GrpcError::IllegalArgument(
            "no endpoint configured; pass e.g. ClientConfiguration(\"127.0.0.1:8081\", Credentials())"
                .into(),
        ));
    }
    Ok(out)
}

/// The protobuf `Endpoints` of `host:port` addresses (scheme from the first host).
pub fn to_proto_endpoints(addresses: &[String]) -> Endpoints {
    let scheme = match addresses.first().and_then(|a| a.rsplit_once(':')) {
        Some((host, _)) if host.parse::<std::net::Ipv4Addr>().is_ok() => AddressScheme::IPv4,
        Some((host, _))
            if host
                .trim_matches(['[', ']'])
                .parse::<std::net::Ipv6Addr>()
                .is_ok() =>
        {
            AddressScheme::IPv6
        }
        _ => AddressScheme::DomainName,
    };
    Endpoints {
        scheme: scheme as i32,
        addresses: addresses
            .iter()
            .filter_map(|a| a.rsplit_once(':'))
            .map(|(host, port)| Address {
                host: host.to_string(),
                port: port.parse().unwrap_or(0),
            })
            .collect(),
    }
}

/// The first `host:port` of protobuf `Endpoints` (where requests for it go).
pub fn first_address(endpoints: Option<&Endpoints>) -> Option<String> {
    let a = endpoints?.addresses.first()?;
    Some(format!("{}:{}", a.host, a.port))
}

pub type Stub = MessagingServiceClient<Channel>;

/// Channels per endpoint and request stamping for one client.
pub struct Transport {
    pub options: ClientOptions,
    pub client_id: String,
    /// The configured endpoints (the access point), parsed.
    pub access_points: Vec<String>,
    channels: Mutex<HashMap<String, Stub>>,
}

impl Transport {
    pub fn new(options: ClientOptions) -> GrpcResult<Self> {
        let access_points = parse_endpoints(&options.endpoints)?;
        Ok(Transport {
            options,
            client_id: signing::new_client_id(),
            access_points,
            channels: Mutex::new(HashMap::new()),
        })
    }

    /// The address the client reaches first (routes, settings).
    pub fn access_point(&self) -> &str {
        &self.access_points[0]
    }

    /// A resource (topic or group) in the configured namespace.
    pub fn resource(&self, name: &str) -> Resource {
        Resource {
            resource_namespace: self.options.namespace.clone(),
            name: name.to_string(),
        }
    }

    /// The stub of `addr`'s channel, made on first use.
    pub fn stub(&self, addr: &str) -> GrpcResult<Stub> {
        let mut channels = self.channels.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(stub) = channels.get(addr) {
            return Ok(stub.clone());
        }
        let scheme = if self.options.tls { "https" } else { "http" };
        let endpoint = Endpoint::from_shared(format!("{scheme}://{addr}"))
            .map_err(|e| GrpcError::IllegalArgument(format!("bad endpoint {addr:?}: {e}")))?
            .connect_timeout(self.options.request_timeout)
            .tcp_nodelay(true)
            .http2_keep_alive_interval(Duration::from_secs(30))
            .keep_alive_while_idle(true);
        let stub = MessagingServiceClient::new(endpoint.connect_lazy())
            .max_decoding_message_size(usize::MAX);
        channels.insert(addr.to_string(), stub.clone());
        Ok(stub)
    }

    /// `body` as a request with this client's metadata and `timeout` as its deadline.
    pub fn request<T>(&self, body: T, timeout: Duration) -> tonic::Request<T> {
        let mut req = self.stream_request(body);
        req.set_timeout(timeout);
        req
    }

    /// `body` as a request with this client's metadata and no deadline: for the telemetry
    /// stream, which lives as long as the client.
    pub fn stream_request<T>(&self, body: T) -> tonic::Request<T> {
        let mut req = tonic::Request::new(body);
        let date_time = signing::format_date_time(
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
        );
        let credentials = &self.options.credentials;
        let md = req.metadata_mut();
        let mut put = |key: &'static str, value: &str| {
            if let Ok(v) = MetadataValue::try_from(value) {
                md.insert(key, v);
            }
        };
        put("x-mq-language", signing::LANGUAGE);
        put("x-mq-protocol", signing::PROTOCOL);
        put("x-mq-client-version", signing::CLIENT_VERSION);
        put("x-mq-date-time", &date_time);
        put("x-mq-request-id", &signing::request_id());
        put("x-mq-client-id", &self.client_id);
        put("x-mq-namespace", &self.options.namespace);
        if !credentials.access_key.is_empty() {
            put(
                "authorization",
                &signing::authorization(credentials, &date_time),
            );
        }
        req
    }

    /// A request with the configured request timeout as its deadline.
    pub fn unary<T>(&self, body: T) -> tonic::Request<T> {
        self.request(body, self.options.request_timeout)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_parse_as_the_official_client_does() {
        assert_eq!(
            parse_endpoints("http://a:1;b:2;").unwrap(),
            vec!["a:1".to_string(), "b:2".to_string()]
        );
        assert!(parse_endpoints("").is_err());
        assert!(parse_endpoints("nohost").is_err());
        let e = to_proto_endpoints(&["127.0.0.1:8081".into()]);
        assert_eq!(e.scheme, AddressScheme::IPv4 as i32);
        assert_eq!(first_address(Some(&e)).as_deref(), Some("127.0.0.1:8081"));
    }
}
