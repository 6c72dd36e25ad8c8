//! The gRPC transport: one lazily connected channel per endpoint (`host:port`), and requests
//! stamped with the metadata and signature of `signing` and the caller's deadline.
//!
//! What must stay true: a channel is created once per endpoint and shared by every call (h2
//! multiplexes them); creating one never blocks (the connection is made on first use and
//! remade by tonic after a failure); every call has a deadline except the telemetry stream, which lives as long as the client;
//! the fixed headers are parsed once per client, and the date header and its signature once
//! per second (a request always carries the date of the second it was stamped in).

use super::error::{GrpcError, GrpcResult};
use super::signing::{self, Credentials};
use rocketmq_grpc::v2::{Address, AddressScheme, Endpoints, Resource};
use rocketmq_grpc::MessagingServiceClient;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tonic::metadata::{Ascii, MetadataValue};
use tonic::transport::{Channel, ClientTlsConfig, Endpoint};

/// What a 5.x client is configured with (the Python `ClientConfiguration`).
#[derive(Clone, Debug)]
pub struct ClientOptions {
    /// `host:port[;host:port...]`, optionally prefixed with `http://` or `https://`.
    pub endpoints: String,
    pub credentials: Credentials,
    pub namespace: String,
    pub request_timeout: Duration,
    /// Whether the channels use TLS (https): the server's certificate is verified against the
    /// system's roots (or `SSL_CERT_FILE` / `SSL_CERT_DIR`) and the Mozilla roots, for the
    /// host of the endpoint (a name, or an IP address in the certificate's IP names).
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
    /// The headers every request carries unchanged, parsed once.
    fixed_headers: Vec<(&'static str, MetadataValue<Ascii>)>,
    /// The date header and signature of the current second, reused within it.
    signed_second: Mutex<Option<SignedSecond>>,
}

/// `x-mq-date-time` and the `authorization` signed for it, for one second.
#[derive(Clone)]
struct SignedSecond {
    second: u64,
    date_time: MetadataValue<Ascii>,
    authorization: Option<MetadataValue<Ascii>>,
}

impl Transport {
    pub fn new(options: ClientOptions) -> GrpcResult<Self> {
        let access_points = parse_endpoints(&options.endpoints)?;
        let client_id = signing::new_client_id();
        let fixed_headers = [
            ("x-mq-language", signing::LANGUAGE),
            ("x-mq-protocol", signing::PROTOCOL),
            ("x-mq-client-version", signing::CLIENT_VERSION),
            ("x-mq-client-id", client_id.as_str()),
            ("x-mq-namespace", options.namespace.as_str()),
        ]
        .into_iter()
        .filter_map(|(key, value)| Some((key, MetadataValue::try_from(value).ok()?)))
        .collect();
        Ok(Transport {
            options,
            client_id,
            access_points,
            channels: Mutex::new(HashMap::new()),
            fixed_headers,
            signed_second: Mutex::new(None),
        })
    }

    /// The date header and signature of the current second (computed once per second).
    fn signed_second(&self) -> SignedSecond {
        let second = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let mut slot = self.signed_second.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(signed) = slot.as_ref().filter(|s| s.second == second) {
            return signed.clone();
        }
        let date_time = signing::format_date_time(second);
        let credentials = &self.options.credentials;
        let authorization = if credentials.access_key.is_empty() {
            None
        } else {
            MetadataValue::try_from(signing::authorization(credentials, &date_time)).ok()
        };
        let signed = SignedSecond {
            second,
            date_time: MetadataValue::try_from(date_time.as_str())
                .unwrap_or_else(|_| MetadataValue::from_static("")),
            authorization,
        };
        *slot = Some(signed.clone());
        signed
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
        let mut endpoint = Endpoint::from_shared(format!("{scheme}://{addr}"))
            .map_err(|e| GrpcError::IllegalArgument(format!("bad endpoint {addr:?}: {e}")))?
            .connect_timeout(self.options.request_timeout)
            .tcp_nodelay(true)
            .http2_keep_alive_interval(Duration::from_secs(30))
            .keep_alive_while_idle(true);
        if self.options.tls {
            let tls = ClientTlsConfig::new()
                .with_native_roots()
                .with_webpki_roots();
            endpoint = endpoint.tls_config(tls).map_err(|e| {
                GrpcError::IllegalArgument(format!("TLS for endpoint {addr:?}: {e}"))
            })?;
        }
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
        let signed = self.signed_second();
        let md = req.metadata_mut();
        for (key, value) in &self.fixed_headers {
            md.insert(*key, value.clone());
        }
        md.insert("x-mq-date-time", signed.date_time);
        if let Ok(id) = MetadataValue::try_from(signing::request_id()) {
            md.insert("x-mq-request-id", id);
        }
        if let Some(authorization) = signed.authorization {
            md.insert("authorization", authorization);
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

    #[test]
    fn requests_carry_the_headers_and_the_signature_of_their_date() {
        let options = |access_key: &str| ClientOptions {
            endpoints: "127.0.0.1:8081".into(),
            credentials: Credentials {
                access_key: access_key.into(),
                secret_key: "sk".into(),
            },
            namespace: "ns".into(),
            request_timeout: Duration::from_secs(3),
            tls: false,
        };
        let signed = Transport::new(options("ak")).unwrap();
        let req = signed.unary(());
        let md = req.metadata();
        let header = |name: &str| md.get(name).and_then(|v| v.to_str().ok()).unwrap_or("");
        assert_eq!(header("x-mq-client-id"), signed.client_id);
        assert_eq!(header("x-mq-namespace"), "ns");
        assert_eq!(header("x-mq-language"), signing::LANGUAGE);
        assert_eq!(header("x-mq-request-id").len(), 36);
        let date = header("x-mq-date-time");
        assert_eq!(
            header("authorization"),
            signing::authorization(&signed.options.credentials, date)
        );
        let again = signed.unary(());
        assert_ne!(
            again.metadata().get("x-mq-request-id"),
            md.get("x-mq-request-id")
        );
        let anonymous = Transport::new(options("")).unwrap().unary(());
        assert!(anonymous.metadata().get("authorization").is_none());
        assert!(anonymous.metadata().get("x-mq-date-time").is_some());
    }
}
