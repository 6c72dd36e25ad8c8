//! `rocketmq-broker`: a RocketMQ-compatible name server and broker in one process.
//!
//! Prints the listening addresses (name server, broker, and the gRPC endpoint unless
//! `--no-grpc`), runs until SIGINT/SIGTERM, then flushes and exits.
//! Every default shown by `--help` is one of `rocketmq_server::config`'s constants.

use clap::{Parser, ValueEnum};
use rocketmq_server::config::{self, default_store_dir};
use rocketmq_server::{
    check_timer_max_delay, disk_ratio, parse_duration, run_until_signal, FlushMode, ServerConfig,
};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Flush {
    /// Acknowledge once in the page cache; flushed in the background.
    Async,
    /// Acknowledge only after fsync (group commit).
    Sync,
}

impl From<FlushMode> for Flush {
    fn from(mode: FlushMode) -> Self {
        match mode {
            FlushMode::Async => Flush::Async,
            FlushMode::Sync => Flush::Sync,
        }
    }
}

impl From<Flush> for FlushMode {
    fn from(flush: Flush) -> Self {
        match flush {
            Flush::Async => FlushMode::Async,
            Flush::Sync => FlushMode::Sync,
        }
    }
}

#[derive(Parser, Debug)]
#[command(name = "rocketmq-broker", version, about)]
struct Args {
    /// Store directory (default: $XDG_DATA_HOME/rocketmq or ~/.local/share/rocketmq).
    #[arg(long)]
    store_dir: Option<PathBuf>,
    /// Address to bind and advertise.
    #[arg(long, default_value = config::DEFAULT_HOST)]
    host: String,
    /// Address clients use to reach the broker when it differs from --host (e.g. with
    /// --host 0.0.0.0). Stored in every message as its store host.
    #[arg(long)]
    advertised_host: Option<String>,
    /// Name server port (0 = ephemeral).
    #[arg(long, default_value_t = config::DEFAULT_NAMESRV_PORT)]
    namesrv_port: u16,
    /// Broker port (0 = ephemeral).
    #[arg(long, default_value_t = config::DEFAULT_BROKER_PORT)]
    broker_port: u16,
    /// Port of the RocketMQ 5 gRPC endpoint (apache.rocketmq.v2, what 5.x clients connect
    /// to; 0 = ephemeral). Default: 8081 (DEFAULT_GRPC_PORT) when --broker-port is the
    /// default, else an ephemeral port.
    #[arg(long)]
    grpc_port: Option<u16>,
    /// Serve no RocketMQ 5 gRPC endpoint (remoting only).
    #[arg(long, conflicts_with = "grpc_port")]
    no_grpc: bool,
    #[arg(long, value_enum, default_value_t = Flush::from(config::DEFAULT_FLUSH))]
    flush: Flush,
    /// Largest message body in bytes.
    #[arg(long, default_value_t = config::DEFAULT_MAX_MESSAGE_SIZE)]
    max_message_size: usize,
    /// Delay levels, e.g. "1s 5s 10s 30s 1m".
    #[arg(long, default_value = config::DEFAULT_DELAY_LEVELS)]
    delay_levels: String,
    /// Commit-log segment file size in bytes.
    #[arg(long, default_value_t = config::DEFAULT_SEGMENT_SIZE)]
    segment_size: u64,
    /// Milliseconds between two scans for undecided transactional (half) messages.
    #[arg(long, default_value_t = config::DEFAULT_TRANSACTION_CHECK_INTERVAL.as_millis() as u64)]
    transaction_check_interval_ms: u64,
    /// Milliseconds after which an undecided half message is checked back with its producer.
    #[arg(long, default_value_t = config::DEFAULT_TRANSACTION_TIMEOUT.as_millis() as u64)]
    transaction_timeout_ms: u64,
    /// Check-backs per half message before it is given up (TRANS_CHECK_MAX_TIME_TOPIC).
    #[arg(long, default_value_t = config::DEFAULT_TRANSACTION_CHECK_MAX)]
    transaction_check_max: i32,
    /// Keep the message index of keys and unique keys for key queries (true or false).
    #[arg(long, default_value_t = config::DEFAULT_MESSAGE_INDEX, action = clap::ArgAction::Set)]
    message_index: bool,
    /// Serve SQL92 (property) filters (true or false); false refuses SQL92 subscriptions.
    #[arg(long, default_value_t = config::DEFAULT_ENABLE_PROPERTY_FILTER, action = clap::ArgAction::Set)]
    enable_property_filter: bool,
    /// Longest delay a timer message (TIMER_DELIVER_MS, TIMER_DELAY_SEC, ...) may ask for,
    /// with a unit: ms, s, m, h or d (e.g. "3d"). Later ones are refused.
    #[arg(long, default_value_t = format!("{}s", config::DEFAULT_TIMER_MAX_DELAY.as_secs()), value_parser = timer_max_delay)]
    timer_max_delay: String,
    /// Remove commit-log files (and what depends on them) this long after their last write:
    /// a number and a unit (ms, s, m, h, d).
    #[arg(long, default_value = config::DEFAULT_FILE_RESERVED_TIME_TEXT)]
    file_reserved_time: String,
    /// Percent of the store's disk in use at or above which the oldest files are removed
    /// before they expire (0 = off).
    #[arg(long, default_value_t = config::DEFAULT_DISK_MAX_USED_RATIO)]
    disk_max_used_ratio: u8,
    /// Percent of the store's disk in use at or above which sends are refused with "disk
    /// full" until space is freed (0 = off).
    #[arg(long, default_value_t = config::DEFAULT_DISK_REFUSE_RATIO)]
    disk_refuse_ratio: u8,
}

/// The gRPC port to serve: `None` with `--no-grpc`; when not given, the default port next to
/// a broker on its default port, an ephemeral one next to any other (so a broker started on
/// chosen or ephemeral ports never collides on 8081).
fn grpc_port(args: &Args) -> Option<u16> {
    if args.no_grpc {
        return None;
    }
    Some(
        args.grpc_port
            .unwrap_or(if args.broker_port == config::DEFAULT_BROKER_PORT {
                config::DEFAULT_GRPC_PORT
            } else {
                0
            }),
    )
}

fn timer_max_delay(text: &str) -> Result<String, String> {
    parse_duration(text)
        .and_then(check_timer_max_delay)
        .map(|_| text.to_string())
}

/// The retention options as `ServerConfig` values, or what is wrong with them.
fn retention_options(args: &Args) -> Result<(Duration, Option<u8>, Option<u8>), String> {
    let reserved = parse_duration(&args.file_reserved_time)
        .map_err(|e| format!("--file-reserved-time: {e}"))?;
    let max_used = disk_ratio("--disk-max-used-ratio", args.disk_max_used_ratio.into())?;
    let refuse = disk_ratio("--disk-refuse-ratio", args.disk_refuse_ratio.into())?;
    Ok((reserved, max_used, refuse))
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let args = Args::parse();
    let (file_reserved_time, disk_max_used_ratio, disk_refuse_ratio) =
        match retention_options(&args) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("rocketmq-broker: {e}");
                return ExitCode::FAILURE;
            }
        };
    let grpc_port = grpc_port(&args);
    let config = ServerConfig {
        host: args.host,
        namesrv_port: args.namesrv_port,
        broker_port: args.broker_port,
        grpc_port,
        store_dir: args.store_dir.unwrap_or_else(default_store_dir),
        flush: args.flush.into(),
        max_message_size: args.max_message_size,
        delay_levels: args.delay_levels,
        commit_log_segment_size: args.segment_size,
        advertised_host: args.advertised_host,
        transaction_check_interval: Duration::from_millis(args.transaction_check_interval_ms),
        transaction_timeout: Duration::from_millis(args.transaction_timeout_ms),
        transaction_check_max: args.transaction_check_max,
        timer_max_delay: parse_duration(&args.timer_max_delay).unwrap_or_default(),
        message_index: args.message_index,
        enable_property_filter: args.enable_property_filter,
        file_reserved_time: Some(file_reserved_time),
        disk_max_used_ratio,
        disk_refuse_ratio,
        ..ServerConfig::default()
    };
    if let Err(e) = std::fs::create_dir_all(&config.store_dir) {
        eprintln!(
            "cannot create the store directory {}: {e}",
            config.store_dir.display()
        );
        return ExitCode::FAILURE;
    }
    match run_until_signal(config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rocketmq-broker: {e}");
            ExitCode::FAILURE
        }
    }
}
