//! Configuration of the bundled name server + broker pair, and the one place its defaults
//! are defined.
//!
//! What must stay true: every default is a named constant here, and `ServerConfig::default()`
//! is built from them; the `rocketmq-broker` program's options, the Python bindings (which
//! hand these constants to `LocalBroker` and `python -m rocketmq.broker`) and every other
//! caller take defaults from here and nowhere else.

use rocketmq_store::FlushMode;
use std::path::PathBuf;
use std::time::Duration;

/// Address to bind and advertise.
pub const DEFAULT_HOST: &str = "127.0.0.1";
/// Name server port (the Apache RocketMQ default).
pub const DEFAULT_NAMESRV_PORT: u16 = 9876;
/// Broker port (the Apache RocketMQ default).
pub const DEFAULT_BROKER_PORT: u16 = 10911;
/// The RocketMQ 5 gRPC port of the `rocketmq-broker` program (the Apache proxy's 8081).
pub const DEFAULT_GRPC_PORT: u16 = 8081;
/// Store directory of a `ServerConfig::default()` (relative to the working directory); the
/// programs use [`default_store_dir`] instead.
pub const DEFAULT_STORE_DIR: &str = "store";
/// Acknowledge a send once it is in the page cache; flushed in the background.
pub const DEFAULT_FLUSH: FlushMode = FlushMode::Async;
/// Largest accepted message body, in bytes (4 MiB, as Apache RocketMQ).
pub const DEFAULT_MAX_MESSAGE_SIZE: usize = 4 * 1024 * 1024;
/// The standard 18 delay levels of Apache RocketMQ (level n is the n-th entry).
pub const DEFAULT_DELAY_LEVELS: &str = "1s 5s 10s 30s 1m 2m 3m 4m 5m 6m 7m 8m 9m 10m 20m 30m 1h 2h";
/// Size of each commit-log segment file, in bytes (1 GiB, as Apache RocketMQ).
pub const DEFAULT_SEGMENT_SIZE: u64 = 1 << 30;
pub const DEFAULT_CLUSTER_NAME: &str = "DefaultCluster";
pub const DEFAULT_BROKER_NAME: &str = "broker-a";
/// How often the broker re-registers with the name server.
pub const DEFAULT_REGISTER_INTERVAL: Duration = Duration::from_secs(30);
/// How long the name server keeps a broker that stopped registering.
pub const DEFAULT_BROKER_EXPIRY: Duration = Duration::from_secs(120);
/// How long the broker keeps a client that stopped sending heartbeats.
pub const DEFAULT_CLIENT_EXPIRY: Duration = Duration::from_secs(120);
/// Java `transactionCheckInterval`.
pub const DEFAULT_TRANSACTION_CHECK_INTERVAL: Duration = Duration::from_secs(30);
/// Java `transactionTimeOut`.
pub const DEFAULT_TRANSACTION_TIMEOUT: Duration = Duration::from_secs(6);
/// Java `transactionCheckMax`.
pub const DEFAULT_TRANSACTION_CHECK_MAX: i32 = 15;
/// How far ahead a timer message may be scheduled (Java `timerMaxDelaySec`, 3 days).
pub const DEFAULT_TIMER_MAX_DELAY: Duration = Duration::from_secs(3 * 24 * 3600);
/// The message index is on unless turned off (Java `messageIndexEnable`, true).
pub const DEFAULT_MESSAGE_INDEX: bool = true;
/// SQL92 filtering is served unless turned off (Java `enablePropertyFilter`, false there).
pub const DEFAULT_ENABLE_PROPERTY_FILTER: bool = true;

/// Java `fileReservedTime`: a commit-log segment is removed this long after its last write.
pub const DEFAULT_FILE_RESERVED_TIME: Duration = rocketmq_store::DEFAULT_FILE_RESERVED_TIME;
/// [`DEFAULT_FILE_RESERVED_TIME`] as the programs' options write it.
pub const DEFAULT_FILE_RESERVED_TIME_TEXT: &str = "72h";
/// Java `diskMaxUsedSpaceRatio`, percent. Only the Rust `rocketmq-broker` binary turns it on
/// by default; `ServerConfig::default()`, LocalBroker and the Python program (developer and
/// test machines) leave it off, so a disk other people filled never makes them lose
/// unexpired data.
pub const DEFAULT_DISK_MAX_USED_RATIO: u8 = 75;
/// Java's disk warning level, percent: sends are refused at or above it. On by default only
/// in the Rust `rocketmq-broker` binary (see [`DEFAULT_DISK_MAX_USED_RATIO`]).
pub const DEFAULT_DISK_REFUSE_RATIO: u8 = 90;

/// The per-user store directory of the programs: `$XDG_DATA_HOME/rocketmq`, else
/// `$HOME/.local/share/rocketmq`, else `./rocketmq`.
pub fn default_store_dir() -> PathBuf {
    let base = std::env::var_os("XDG_DATA_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local").join("share")))
        .unwrap_or_else(|| PathBuf::from("."));
    base.join("rocketmq")
}

/// Every knob of the bundled name server + broker pair; `Default` gives the constants above.
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
    /// Longest delay a timer message may ask for; a later one is refused (MESSAGE_ILLEGAL).
    pub timer_max_delay: Duration,
    /// Keep the message index of keys and unique keys (QUERY_MESSAGE answers from it);
    /// `false` saves its thread and files, and key queries then find nothing.
    pub message_index: bool,
    /// Retention: commit-log segments go this long after their last write, with what depends
    /// on them. `None`: never by age.
    pub file_reserved_time: Option<Duration>,
    /// Used percent of the store's disk at or above which the oldest segments go before they
    /// expire. `None` (the default here): off.
    pub disk_max_used_ratio: Option<u8>,
    /// Used percent at or above which sends are refused (SERVICE_NOT_AVAILABLE, "disk is
    /// full"). `None` (the default here): off.
    pub disk_refuse_ratio: Option<u8>,
    /// Serve SQL92 subscriptions (Java `enablePropertyFilter`). `false`: pulls and
    /// CHECK_CLIENT_CONFIG with SQL92 are refused (SYSTEM_ERROR), as Java refuses them.
    pub enable_property_filter: bool,
    /// Port of the RocketMQ 5 gRPC endpoint (`apache.rocketmq.v2.MessagingService`); 0 picks
    /// an ephemeral port. `None` (the default here; the program's default is
    /// [`DEFAULT_GRPC_PORT`]): no gRPC endpoint.
    pub grpc_port: Option<u16>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            host: DEFAULT_HOST.into(),
            namesrv_port: DEFAULT_NAMESRV_PORT,
            broker_port: DEFAULT_BROKER_PORT,
            store_dir: PathBuf::from(DEFAULT_STORE_DIR),
            flush: DEFAULT_FLUSH,
            max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
            delay_levels: DEFAULT_DELAY_LEVELS.into(),
            commit_log_segment_size: DEFAULT_SEGMENT_SIZE,
            cluster_name: DEFAULT_CLUSTER_NAME.into(),
            broker_name: DEFAULT_BROKER_NAME.into(),
            register_interval: DEFAULT_REGISTER_INTERVAL,
            broker_expiry: DEFAULT_BROKER_EXPIRY,
            client_expiry: DEFAULT_CLIENT_EXPIRY,
            advertised_host: None,
            namesrv_addr: None,
            transaction_check_interval: DEFAULT_TRANSACTION_CHECK_INTERVAL,
            transaction_timeout: DEFAULT_TRANSACTION_TIMEOUT,
            transaction_check_max: DEFAULT_TRANSACTION_CHECK_MAX,
            timer_max_delay: DEFAULT_TIMER_MAX_DELAY,
            message_index: DEFAULT_MESSAGE_INDEX,
            file_reserved_time: Some(DEFAULT_FILE_RESERVED_TIME),
            disk_max_used_ratio: None,
            disk_refuse_ratio: None,
            enable_property_filter: DEFAULT_ENABLE_PROPERTY_FILTER,
            grpc_port: None,
        }
    }
}
