//! `fault-broker`: a name server + broker in a process of its own, so that fault tests can
//! kill it with SIGKILL and restart it on the same store directory and ports.
//!
//! Usage: `fault-broker --store DIR [--namesrv-port N] [--broker-port N] [--flush sync|async]
//! [--segment-size BYTES] [--advertised-host HOST] [--max-message-size BYTES]`.
//!
//! Prints `namesrv HOST:PORT`, `broker HOST:PORT` and `ready` on stdout, then runs until its
//! stdin reaches end of file (the parent closed it, or died), and then shuts down cleanly.
//! Tying the lifetime to stdin means a crashed test run never leaves brokers behind.

use rocketmq_server::{EmbeddedCluster, FlushMode, ServerConfig};
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

fn parse(args: &[String]) -> Result<ServerConfig, String> {
    let mut config = ServerConfig {
        namesrv_port: 0,
        broker_port: 0,
        commit_log_segment_size: 8 << 20,
        delay_levels: "100ms 200ms 300ms".into(),
        ..ServerConfig::default()
    };
    let mut store = None;
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let value = it
            .next()
            .ok_or_else(|| format!("{flag} needs a value"))?
            .clone();
        let number = |v: &str| {
            v.parse::<u64>()
                .map_err(|e| format!("{flag} {v:?} is not a number: {e}"))
        };
        match flag.as_str() {
            "--store" => store = Some(PathBuf::from(value)),
            "--namesrv-port" => config.namesrv_port = number(&value)? as u16,
            "--broker-port" => config.broker_port = number(&value)? as u16,
            "--flush" => {
                config.flush = match value.as_str() {
                    "sync" => FlushMode::Sync,
                    "async" => FlushMode::Async,
                    other => return Err(format!("--flush {other:?}: expected sync or async")),
                }
            }
            "--segment-size" => config.commit_log_segment_size = number(&value)?,
            "--advertised-host" => config.advertised_host = Some(value),
            "--max-message-size" => config.max_message_size = number(&value)? as usize,
            other => return Err(format!("unknown option {other}")),
        }
    }
    config.store_dir = store.ok_or("--store is required")?;
    Ok(config)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let config = match parse(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("fault-broker: {e}");
            return ExitCode::from(2);
        }
    };
    let cluster = match EmbeddedCluster::start(config) {
        Ok(c) => c,
        Err(e) => {
            // The parent reads this line to tell "port still taken" from other failures.
            println!("error {e}");
            return ExitCode::from(1);
        }
    };
    {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "namesrv {}", cluster.namesrv_addr());
        let _ = writeln!(out, "broker {}", cluster.broker_addr());
        let _ = writeln!(out, "ready");
        let _ = out.flush();
    }
    let mut sink = [0u8; 256];
    let mut stdin = std::io::stdin().lock();
    while matches!(stdin.read(&mut sink), Ok(n) if n > 0) {}
    cluster.shutdown();
    ExitCode::SUCCESS
}
