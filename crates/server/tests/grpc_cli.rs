//! The `rocketmq-broker` program's gRPC endpoint: `--grpc-port` is printed as
//! `gRPC endpoint listening on HOST:PORT` and answers QueryRoute; `--no-grpc` prints none.

mod common;

use common::WAIT;
use rocketmq_grpc::{v2, MessagingServiceClient};
use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::Instant;

/// The running program; killed on drop if a test fails before it exits.
struct Program(Child);

impl Drop for Program {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

type Output = std::io::Lines<BufReader<ChildStdout>>;

/// Starts the program on ephemeral ports with `extra` options; returns it, its first `lines`
/// lines of output and the rest of its output.
fn launch(store: &std::path::Path, extra: &[&str], lines: usize) -> (Program, Vec<String>, Output) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_rocketmq-broker"))
        .args(["--store-dir", store.to_str().unwrap()])
        .args(["--namesrv-port", "0", "--broker-port", "0"])
        .args(["--disk-max-used-ratio", "0", "--disk-refuse-ratio", "0"])
        .args(["--segment-size", "1048576"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the program starts");
    let stdout = child.stdout.take().unwrap();
    let program = Program(child);
    let mut output = BufReader::new(stdout).lines();
    let read: Vec<String> = output
        .by_ref()
        .take(lines)
        .map(|l| l.expect("utf-8"))
        .collect();
    (program, read, output)
}

/// Sends SIGTERM and waits (bounded) for a clean exit.
fn terminate(mut program: Program) {
    let id = program.0.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &id])
        .status()
        .unwrap()
        .success());
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(status) = program.0.try_wait().unwrap() {
            assert!(status.success(), "clean exit on SIGTERM, got {status}");
            return;
        }
        assert!(Instant::now() < deadline, "no exit after SIGTERM");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[test]
fn grpc_port_is_printed_and_serves_query_route() {
    let dir = tempfile::tempdir().unwrap();
    let (program, lines, _) = launch(dir.path(), &["--grpc-port", "0"], 3);
    let endpoint = lines[2]
        .strip_prefix("gRPC endpoint listening on 127.0.0.1:")
        .unwrap_or_else(|| panic!("no gRPC line in {lines:?}"));
    let port: u16 = endpoint.parse().expect("a port");
    let route = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async {
            let mut c = MessagingServiceClient::connect(format!("http://127.0.0.1:{port}"))
                .await
                .expect("connect");
            c.query_route(v2::QueryRouteRequest {
                topic: Some(v2::Resource {
                    resource_namespace: String::new(),
                    name: "CliGrpc".into(),
                }),
                endpoints: None,
            })
            .await
            .expect("QueryRoute answers")
            .into_inner()
        });
    assert_eq!(route.status.unwrap().code, v2::Code::Ok as i32);
    assert!(!route.message_queues.is_empty());
    terminate(program);
}

#[test]
fn no_grpc_prints_no_endpoint() {
    let dir = tempfile::tempdir().unwrap();
    let (program, lines, rest) = launch(dir.path(), &["--no-grpc"], 2);
    assert!(
        lines[0].starts_with("name server listening on "),
        "{lines:?}"
    );
    assert!(lines[1].starts_with("broker listening on "), "{lines:?}");
    terminate(program);
    // Everything else it printed, up to its exit.
    let rest: Vec<String> = rest.map(|l| l.expect("utf-8")).collect();
    assert!(rest.iter().all(|l| !l.contains("gRPC")), "{rest:?}");
}
