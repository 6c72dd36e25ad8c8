//! Configuration of the bundled name server + broker pair.

use rocketmq_store::FlushMode;
use std::path::PathBuf;
use std::time::Duration;

/// The standard 18 delay levels of Apache RocketMQ (level n is the n-th entry).
pub const DEFAULT_DELAY_LEVELS: &str = "1s 5s 10s 30s 1m 2m 3m 4m 5m 6m 7m 8m 9m 10m 20m 30m 1h 2h";

#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// Address to bind and to advertise to clients (stored as each message's store host).
    pub host: String,
    /// Name server port; 0 picks an ephemeral port.
    pub namesrv_port: u16,
    /// Broker port; 0 picks an ephemeral port.
    pub broker_port: u16,
    pub store_dir: PathBuf,
    pub flush: FlushMode,
    /// Largest accepted message body (after decompression for batches), in bytes.
    pub max_message_size: usize,
    /// Delay levels, e.g. `"1s 5s 10s"` (units ms, s, m, h, d).
    pub delay_levels: String,
    /// Size of each commit-log segment file.
    pub commit_log_segment_size: u64,
    pub cluster_name: String,
    pub broker_name: String,
    /// How often the broker re-registers with the name server.
    pub register_interval: Duration,
    /// How long the name server keeps a broker that stopped registering.
    pub broker_expiry: Duration,
    /// How long the broker keeps a client that stopped sending heartbeats.
    pub client_expiry: Duration,
    /// Address (IPv4 literal or host name) clients should use to reach the broker, when it
    /// differs from `host` (e.g. binding `0.0.0.0`). `None`: the bound address, with an
    /// unspecified address replaced by 127.0.0.1. The broker port is always the bound one.
    pub advertised_host: Option<String>,
    /// Broker-only mode: `Some("host:port")` of an existing name server to register with; no
    /// name server is started here (`namesrv_port` is ignored). `None` (the default): start a
    /// name server alongside the broker and register with it.
    pub namesrv_addr: Option<String>,
    /// How often the transaction check-back service scans undecided half messages (Java
    /// `transactionCheckInterval`, 30 s).
    pub transaction_check_interval: Duration,
    /// Age (since it was stored) after which an undecided half message is checked back with
    /// its producer group (Java `transactionTimeOut`, 6 s). A message's own
    /// `CHECK_IMMUNITY_TIME_IN_SECONDS` delays its first check further.
    pub transaction_timeout: Duration,
    /// Check-backs per half message before it is given up and moved to
    /// `TRANS_CHECK_MAX_TIME_TOPIC` (Java `transactionCheckMax`, 15).
    pub transaction_check_max: i32,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            host: "127.0.0.1".into(),
            namesrv_port: 9876,
            broker_port: 10911,
            store_dir: PathBuf::from("store"),
            flush: FlushMode::Async,
            max_message_size: 4 * 1024 * 1024,
            delay_levels: DEFAULT_DELAY_LEVELS.into(),
            commit_log_segment_size: 1 << 30,
            cluster_name: "DefaultCluster".into(),
            broker_name: "broker-a".into(),
            register_interval: Duration::from_secs(30),
            broker_expiry: Duration::from_secs(120),
            client_expiry: Duration::from_secs(120),
            advertised_host: None,
            namesrv_addr: None,
            transaction_check_interval: Duration::from_secs(30),
            transaction_timeout: Duration::from_secs(6),
            transaction_check_max: 15,
        }
    }
}
