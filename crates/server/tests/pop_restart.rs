//! POP state across a restart of the `rocketmq-broker` program with sync flush, graceful
//! (SIGTERM) and abrupt (SIGKILL): nothing acked (one by one or in a batch ack) comes back,
//! nothing un-acked is lost, and handles given out before the restart still ack; and
//! retention keeps what is in flight.

mod common;
mod pop_util;

use common::*;
use pop_util::*;
use rocketmq_protocol::pop::{BatchAck, BatchAckMessageRequestBody};
use rocketmq_protocol::RemotingCommand;
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The running program; killed on drop if a test fails first.
struct Program(Option<Child>);

impl Drop for Program {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn launch(store: &Path) -> (Program, SocketAddr) {
    use std::io::{BufRead, BufReader};
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
        .args(["--disk-max-used-ratio", "0", "--disk-refuse-ratio", "0"])
        .args(["--flush", "sync", "--segment-size", "1048576"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the program starts");
    let stdout = child.stdout.take().unwrap();
    let program = Program(Some(child));
    let mut lines = BufReader::new(stdout).lines();
    let mut broker = None;
    for _ in 0..2 {
        let line = lines.next().expect("a line").expect("utf-8");
        if let Some(addr) = line.strip_prefix("broker listening on ") {
            broker = Some(addr.parse().unwrap());
        }
    }
    (program, broker.expect("the broker's address"))
}

fn stop(mut program: Program, abrupt: bool) {
    let mut child = program.0.take().unwrap();
    if abrupt {
        child.kill().unwrap();
        child.wait().unwrap();
        return;
    }
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "clean exit on SIGTERM, got {status}");
            return;
        }
        assert!(Instant::now() < deadline, "no exit after SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// BATCH_ACK_MESSAGE of messages of one POP batch of one queue (one bit set).
fn batch_ack(c: &mut Client, group: &str, topic: &str, ps: &[Popped]) -> RemotingCommand {
    let h = &ps[0].handle;
    let body = BatchAckMessageRequestBody {
        broker_name: BROKER_NAME.into(),
        acks: vec![BatchAck {
            consumer_group: group.into(),
            topic: topic.into(),
            retry: h.kind.mark().into(),
            start_offset: h.ck_queue_offset,
            queue_id: h.queue_id,
            revive_queue_id: h.revive_qid,
            pop_time: h.pop_time,
            invisible_time: h.invisible_time,
            acked: ps
                .iter()
                .map(|p| (p.msg.queue_offset - h.ck_queue_offset) as u32)
                .collect(),
        }],
    };
    c.call(
        RemotingCommand::new_request(200151)
            .with_body(rocketmq_protocol::body::encode_json(&body).to_vec()),
    )
}

fn bodies(ps: &[Popped]) -> BTreeSet<String> {
    ps.iter().map(Popped::body).collect()
}

fn survives_restart(abrupt: bool) {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let (program, addr) = launch(&store);
    let mut c = Client::connect(addr);
    create_topic(&mut c, "RT", 2);
    for i in 0..10 {
        send(&mut c, "RT", i % 2, &format!("m{i}"), "");
    }
    // Queue 0 stays invisible far longer than the test; queue 1 only briefly.
    let long = read_pop(c.call(pop_request("RG", "RT", 0, 32, 60_000, 0, false))).messages;
    let short = read_pop(c.call(pop_request("RG", "RT", 1, 32, 4_000, 0, false))).messages;
    assert_eq!((long.len(), short.len()), (5, 5));
    for p in &long[..2] {
        assert_eq!(ack(&mut c, "RG", "RT", p).code, 0);
    }
    // Queue 1's two acks travel as one batch ack (one journal record for both).
    let r = batch_ack(&mut c, "RG", "RT", &short[..2]);
    assert_eq!(r.code, 0, "{:?}", r.remark);
    drop(c);
    stop(program, abrupt);

    let (program, addr) = launch(&store);
    let mut c = Client::connect(addr);
    // Handles given out before the restart still ack.
    for p in &long[2..] {
        let r = ack(&mut c, "RG", "RT", p);
        assert_eq!(r.code, 0, "{:?}", r.remark);
    }
    // The un-acked of queue 1 come back once, with one more attempt; nothing acked does.
    let back = pop_until(&mut c, "RG", "RT", 3, 1_000, WAIT);
    assert_eq!(bodies(&back), bodies(&short[2..]));
    assert!(back.iter().all(|p| p.msg.reconsume_times == 1));
    for p in &back {
        assert_eq!(ack(&mut c, "RG", "RT", p).code, 0);
    }
    let later = pop_until(&mut c, "RG", "RT", 1, 1_000, Duration::from_millis(3_000));
    assert!(later.is_empty(), "came back: {:?}", bodies(&later));
    drop(c);
    stop(program, abrupt);
}

#[test]
fn pop_state_survives_a_graceful_restart() {
    survives_restart(false);
}

#[test]
fn pop_state_survives_kill_9() {
    survives_restart(true);
}

#[test]
fn retention_keeps_what_a_pop_group_has_in_flight() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(dir.path());
    config.commit_log_segment_size = 64 * 1024;
    config.file_reserved_time = Some(Duration::ZERO);
    let cluster = rocketmq_server::EmbeddedCluster::start(config).expect("cluster starts");
    let mut c = Client::connect(cluster.broker_addr());
    create_topic(&mut c, "KT", 1);
    let body = "k".repeat(8 * 1024);
    send(&mut c, "KT", 0, &format!("first{body}"), "");
    let held = read_pop(c.call(pop_request("KG", "KT", 0, 1, 60_000, 0, false))).messages;
    assert_eq!(held.len(), 1);
    for _ in 0..40 {
        send(&mut c, "KT", 0, &body, "");
    }
    let r = c.call(rocketmq_protocol::RemotingCommand::new_request(329));
    assert_eq!(r.code, 0, "{:?}", r.remark);
    // The in-flight message's segment stayed: made visible now, it comes back.
    let r = change_invisible(&mut c, "KG", "KT", &held[0], 0);
    assert_eq!(r.code, 0, "{:?}", r.remark);
    let deadline = Instant::now() + WAIT;
    let back = loop {
        let a = read_pop(c.call(pop_request("KG", "KT", -1, 1, 60_000, 2_000, false)));
        if let Some(p) = a
            .messages
            .into_iter()
            .find(|p| p.body().starts_with("first"))
        {
            break p;
        }
        assert!(
            Instant::now() < deadline,
            "the in-flight message was lost to retention"
        );
    };
    assert_eq!(back.msg.reconsume_times, 1);
    cluster.shutdown();
}
