//! The `rocketmq-broker` program: prints both addresses, serves, exits cleanly on SIGTERM and
//! keeps what it stored; its option defaults are the server configuration's.

mod common;

use common::*;
use rocketmq_protocol::RemotingCommand;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The running program; killed on drop if a test fails before terminating it.
struct Program(Option<Child>);

impl Drop for Program {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn launch(store: &std::path::Path) -> (Program, SocketAddr, SocketAddr) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_rocketmq-broker"))
        .args(["--store-dir", store.to_str().unwrap()])
        .args([
            "--host",
            "127.0.0.1",
            "--namesrv-port",
            "0",
            "--broker-port",
            "0",
        ])
        // The machine's disk is shared: the test must not depend on how full others made it.
        .args(["--disk-max-used-ratio", "0", "--disk-refuse-ratio", "0"])
        .args([
            "--flush",
            "sync",
            "--segment-size",
            "1048576",
            "--delay-levels",
            "1s 2s",
            "--transaction-check-interval-ms",
            "500",
            "--transaction-timeout-ms",
            "1000",
            "--transaction-check-max",
            "3",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the program starts");
    let stdout = child.stdout.take().unwrap();
    let program = Program(Some(child));
    let mut lines = BufReader::new(stdout).lines();
    let mut next = |prefix: &str| -> SocketAddr {
        let line = lines.next().expect("a line").expect("utf-8");
        line.strip_prefix(prefix)
            .unwrap_or_else(|| panic!("{line:?} should start with {prefix:?}"))
            .parse()
            .unwrap()
    };
    let namesrv = next("name server listening on ");
    let broker = next("broker listening on ");
    (program, namesrv, broker)
}

fn terminate(mut program: Program) {
    let child = program.0.as_mut().unwrap();
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            program.0 = None;
            assert!(status.success(), "clean exit on SIGTERM, got {status}");
            return;
        }
        assert!(Instant::now() < deadline, "no exit after SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn prints_addresses_serves_and_exits_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let (child, namesrv, broker) = launch(&store);
    let mut ns = Client::connect(namesrv);
    let route = ns.call(RemotingCommand::new_request(105).with_field("topic", "TBW102"));
    assert!(String::from_utf8_lossy(&route.body).contains(&broker.to_string()));
    let mut c = Client::connect(broker);
    assert_eq!(c.call(send_v1("Cli", 0, b"kept", "")).code, 0);
    terminate(child);

    let (child, _, broker) = launch(&store);
    let mut c = Client::connect(broker);
    let r = c.call(pull("G", "Cli", 0, 0, 4, "*", 0));
    assert_eq!(r.code, 0, "{:?}", r.remark);
    let m = rocketmq_protocol::message::decode_stored_all(&r.body).unwrap();
    assert_eq!(&m[0].body[..], b"kept");
    terminate(child);
}

#[test]
fn help_shows_the_server_configuration_defaults() {
    use rocketmq_server::config;
    let out = Command::new(env!("CARGO_BIN_EXE_rocketmq-broker"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    // `--help` puts each option's `[default: ...]` after its description.
    let default_of = |option: &str| -> String {
        let at = help
            .find(&format!("--{option} <"))
            .unwrap_or_else(|| panic!("--{option} missing from:\n{help}"));
        let rest = &help[at..];
        let start = rest.find("[default: ").expect("a default") + "[default: ".len();
        let end = start + rest[start..].find(']').unwrap();
        rest[start..end].trim_matches('"').to_string()
    };
    let millis = |d: Duration| d.as_millis().to_string();
    for (option, expected) in [
        ("host", config::DEFAULT_HOST.to_string()),
        ("namesrv-port", config::DEFAULT_NAMESRV_PORT.to_string()),
        ("broker-port", config::DEFAULT_BROKER_PORT.to_string()),
        ("flush", "async".to_string()),
        (
            "max-message-size",
            config::DEFAULT_MAX_MESSAGE_SIZE.to_string(),
        ),
        ("delay-levels", config::DEFAULT_DELAY_LEVELS.to_string()),
        ("segment-size", config::DEFAULT_SEGMENT_SIZE.to_string()),
        (
            "transaction-check-interval-ms",
            millis(config::DEFAULT_TRANSACTION_CHECK_INTERVAL),
        ),
        (
            "transaction-timeout-ms",
            millis(config::DEFAULT_TRANSACTION_TIMEOUT),
        ),
        (
            "transaction-check-max",
            config::DEFAULT_TRANSACTION_CHECK_MAX.to_string(),
        ),
    ] {
        assert_eq!(default_of(option), expected, "--{option}");
    }
    assert_eq!(config::DEFAULT_FLUSH, rocketmq_server::FlushMode::Async);
}
