//! Resource limits: many idle connections, a slow consumer over a large backlog, a disk that
//! fills up.
//!
//! What it proves:
//! - 1000 idle TCP clients connected at once do not stop the broker from serving a send and a
//!   pull, and idle connections picked at random are still answered;
//! - flow control: a push consumer whose listener is slower than the broker never holds more
//!   than `max_cached_per_queue` + one pull batch of messages per queue (measured as messages
//!   inside the listener at once, with more dispatcher threads than that bound needs), and
//!   still consumes the whole backlog exactly once;
//! - a full disk (a small tmpfs, mounted when this process may mount; otherwise the test says
//!   SKIPPED loudly): sends are refused promptly with an error that says the disk is full, the
//!   broker keeps running, a kill -9 and restart on the full disk serve every acknowledged
//!   message intact, and sends work again once space is freed.

use bytes::{Bytes, BytesMut};
use rand::Rng;
use rocketmq_client::{
    ClientConfig, ClientError, ClientInstance, ConsumeBatch, ConsumeFrom, ConsumeStatus, Message,
    MessageListener, Producer, ProducerConfig, PushConsumer, PushConsumerConfig, Subscription,
    TagFilter,
};
use rocketmq_fault_tests::*;
use rocketmq_protocol::code::{request_code, response_code};
use rocketmq_protocol::frame;
use rocketmq_protocol::RemotingCommand;
use rocketmq_server::{EmbeddedCluster, ServerConfig};
use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const BROKER: &str = env!("CARGO_BIN_EXE_fault-broker");

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

fn client_for(namesrv: &str) -> Arc<ClientInstance> {
    ClientInstance::new(
        ClientConfig {
            name_servers: vec![namesrv.to_string()],
            ..ClientConfig::default()
        },
        None,
    )
}

/// Sends GET_MAX_OFFSET on a blocking socket and waits for the answer.
fn ask_max_offset(
    stream: &mut std::net::TcpStream,
    topic: &str,
    opaque: i32,
) -> Result<i64, String> {
    let mut req = RemotingCommand::new_request(request_code::GET_MAX_OFFSET)
        .with_field("topic", topic)
        .with_field("queueId", 0);
    req.opaque = opaque;
    stream
        .write_all(&req.to_frame())
        .map_err(|e| format!("write: {e}"))?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| e.to_string())?;
    let mut buf = BytesMut::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(n) = frame::check(&buf).map_err(|e| e.to_string())? {
            let resp = frame::parse(&buf[..n]).map_err(|e| e.to_string())?;
            if resp.opaque != opaque || resp.code != response_code::SUCCESS {
                return Err(format!("unexpected answer {resp:?}"));
            }
            return resp
                .ext_fields
                .get("offset")
                .and_then(|o| o.parse().ok())
                .ok_or_else(|| "no offset in the answer".into());
        }
        let n = stream.read(&mut chunk).map_err(|e| format!("read: {e}"))?;
        if n == 0 {
            return Err("closed".into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

#[test]
fn a_thousand_idle_connections_do_not_stop_the_broker() {
    const IDLE: usize = 1000;
    let limit = raise_fd_limit();
    if limit < (IDLE as u64) + 200 {
        eprintln!("SKIPPED a_thousand_idle_connections: the open-file limit is {limit} and cannot be raised above {IDLE} + 200");
        return;
    }
    let mut rng = rng(seed("idle_connections"));
    let dir = tempfile::tempdir().expect("temp dir");
    // The child inherits the raised limit.
    let mut broker =
        BrokerProcess::start(BROKER, BrokerOptions::new(&dir.path().join("store"), false));
    let rt = runtime();
    let client = client_for(&broker.namesrv_string());
    let topic = "IdleConnections";
    rt.block_on(create_topic(&client, &broker.broker.to_string(), topic, 1));

    let started = Instant::now();
    let mut idle = Vec::with_capacity(IDLE);
    for i in 0..IDLE {
        let s = std::net::TcpStream::connect_timeout(&broker.broker, Duration::from_secs(5))
            .unwrap_or_else(|e| panic!("idle connection {i}: {e}"));
        idle.push(s);
    }
    let connected_in = started.elapsed();

    let producer = Producer::new(client.clone(), ProducerConfig::default());
    let sent = rt
        .block_on(producer.send(&Message::new(
            topic,
            Bytes::from_static(b"with 1000 idle clients"),
        )))
        .expect("send with 1000 idle connections open");
    let pulled = rt
        .block_on(pull_all_verified(
            &client,
            &broker.broker.to_string(),
            topic,
            1,
            Duration::from_secs(30),
        ))
        .expect("pull with 1000 idle connections open");
    assert!(
        pulled.iter().any(|m| m.uniq_key == sent.msg_id),
        "the message sent with 1000 idle connections open was not read back"
    );
    // Idle connections are still served.
    for k in 0..20 {
        let i = rng.random_range(0..IDLE);
        let offset = ask_max_offset(&mut idle[i], topic, 1000 + k)
            .unwrap_or_else(|e| panic!("idle connection {i} not served: {e}"));
        assert_eq!(offset, 1, "max offset seen on idle connection {i}");
    }
    assert!(broker.process.alive(), "the broker died");
    drop(idle);
    assert!(broker.stop(), "the broker did not shut down cleanly");
    eprintln!(
        "{IDLE} idle connections opened in {connected_in:?}; send, pull and idle requests served"
    );
}

/// Counts messages inside the listener at once; each message takes `per_message`.
struct SlowListener {
    inside: AtomicUsize,
    max_inside: AtomicUsize,
    per_message: Duration,
    seen: Mutex<HashMap<String, usize>>,
}

impl MessageListener for SlowListener {
    fn consume(&self, batches: &mut [ConsumeBatch]) {
        let n: usize = batches.iter().map(|b| b.messages.len()).sum();
        let now = self.inside.fetch_add(n, Ordering::AcqRel) + n;
        self.max_inside.fetch_max(now, Ordering::AcqRel);
        std::thread::sleep(self.per_message * n as u32);
        {
            let mut seen = self.seen.lock().unwrap();
            for b in batches.iter_mut() {
                for m in &b.messages {
                    *seen.entry(m.msg_id.clone()).or_insert(0) += 1;
                }
                b.status = ConsumeStatus::Success;
            }
        }
        self.inside.fetch_sub(n, Ordering::AcqRel);
    }
}

#[test]
fn a_slow_consumer_with_a_large_backlog_holds_a_bounded_number_of_messages() {
    const QUEUES: usize = 4;
    const BACKLOG: usize = 4000;
    const MAX_CACHED: usize = 40;
    const PULL_BATCH: usize = 16;
    let dir = tempfile::tempdir().expect("temp dir");
    let cluster = EmbeddedCluster::start(ServerConfig {
        namesrv_port: 0,
        broker_port: 0,
        store_dir: dir.path().join("store"),
        commit_log_segment_size: 32 << 20,
        ..ServerConfig::default()
    })
    .expect("cluster starts");
    let rt = runtime();
    let namesrv = cluster.namesrv_addr().to_string();
    let client = client_for(&namesrv);
    let topic = "SlowConsumerBacklog";
    rt.block_on(create_topic(
        &client,
        &cluster.broker_addr().to_string(),
        topic,
        QUEUES as i32,
    ));
    wait_until("the topic's route", Duration::from_secs(10), || {
        rt.block_on(client.fetch_route(topic)).is_ok()
    });
    let producer = Producer::new(client.clone(), ProducerConfig::default());
    let mut sent = Vec::new();
    rt.block_on(async {
        for b in 0..BACKLOG / 50 {
            let msgs: Vec<Message> = (0..50)
                .map(|i| {
                    Message::new(
                        topic,
                        Bytes::from(format!("backlog {b} {i} {}", "y".repeat(1000))),
                    )
                })
                .collect();
            let r = producer.send_batch(&msgs).await.expect("batch send");
            sent.extend(r.msg_id.split(',').map(str::to_string));
        }
    });
    assert_eq!(sent.len(), BACKLOG);

    let listener = Arc::new(SlowListener {
        inside: AtomicUsize::new(0),
        max_inside: AtomicUsize::new(0),
        per_message: Duration::from_millis(3),
        seen: Mutex::new(HashMap::new()),
    });
    let consumer = PushConsumer::start(
        rt.handle().clone(),
        ClientConfig {
            name_servers: vec![namesrv],
            ..ClientConfig::default()
        },
        PushConsumerConfig {
            group: "SLOW_CG".into(),
            consume_from: ConsumeFrom::FirstOffset,
            // Far more dispatcher threads than the bound needs: without flow control they
            // would hold hundreds of messages at once.
            thread_count: 24,
            batch_max_size: 1,
            pull_batch_size: PULL_BATCH as i32,
            max_cached_per_queue: MAX_CACHED,
            rebalance_interval: Duration::from_millis(500),
            persist_interval: Duration::from_millis(500),
            long_poll: Duration::from_secs(1),
            ..PushConsumerConfig::default()
        },
        vec![Subscription {
            topic: topic.into(),
            filter: TagFilter::parse("*"),
        }],
        listener.clone(),
    )
    .expect("consumer starts");
    let started = Instant::now();
    wait_until(
        "the whole backlog consumed",
        Duration::from_secs(90),
        || listener.seen.lock().unwrap().len() >= BACKLOG,
    );
    let took = started.elapsed();
    consumer.shutdown(Duration::from_secs(5));
    let max_inside = listener.max_inside.load(Ordering::Acquire);
    let bound = QUEUES * (MAX_CACHED + PULL_BATCH);
    assert!(
        max_inside <= bound,
        "{max_inside} messages were delivered and unacknowledged at once; flow control allows {bound}"
    );
    assert!(
        max_inside > PULL_BATCH * QUEUES,
        "only {max_inside} messages were ever inside the listener at once: the consumer was never under pressure"
    );
    let seen = listener.seen.lock().unwrap();
    for id in &sent {
        assert_eq!(
            seen.get(id),
            Some(&1),
            "message {id} consumed {:?} times",
            seen.get(id)
        );
    }
    eprintln!("slow consumer: {BACKLOG} messages in {took:?}; at most {max_inside} inside the listener at once (bound {bound})");
}

/// A tmpfs mounted for the test, unmounted on drop.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Result<Tmpfs, String> {
        let out = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .output()
            .map_err(|e| e.to_string())?;
        if out.status.success() {
            Ok(Tmpfs(dir.to_path_buf()))
        } else {
            Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
        }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let ok = std::process::Command::new("umount")
            .arg(&self.0)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            let _ = std::process::Command::new("umount")
                .arg("-l")
                .arg(&self.0)
                .status();
        }
    }
}

fn random_body(rng: &mut rand::rngs::StdRng, len: usize) -> Bytes {
    // Random bytes do not compress, so every message takes its full size on disk.
    Bytes::from((0..len).map(|_| rng.random::<u8>()).collect::<Vec<u8>>())
}

#[test]
fn a_full_disk_refuses_sends_clearly_keeps_data_and_recovers() {
    let mut rng = rng(seed("disk_full"));
    let dir = tempfile::tempdir().expect("temp dir");
    let mount_point = dir.path().join("small-disk");
    std::fs::create_dir(&mount_point).expect("mount point");
    let _fs = match Tmpfs::mount(&mount_point, "48m") {
        Ok(fs) => fs,
        Err(e) => {
            eprintln!("SKIPPED a_full_disk: cannot mount a 48 MiB tmpfs here ({e}); run as root (or with CAP_SYS_ADMIN) to test a full disk");
            return;
        }
    };
    // Ballast that is deleted later to "free space".
    let ballast = mount_point.join("ballast");
    std::fs::write(&ballast, vec![1u8; 20 << 20]).expect("ballast file");
    let mut options = BrokerOptions::new(&mount_point.join("store"), true);
    options.segment_size = 2 << 20;
    let mut broker = BrokerProcess::start(BROKER, options);
    let rt = runtime();
    let client = client_for(&broker.namesrv_string());
    let broker_addr = broker.broker.to_string();
    let topic = "DiskFull";
    rt.block_on(create_topic(&client, &broker_addr, topic, 1));
    let producer = Producer::new(
        client.clone(),
        ProducerConfig {
            retry_times: 0,
            send_timeout: Duration::from_secs(3),
            ..ProducerConfig::default()
        },
    );

    let mut acked = Vec::new();
    let refusal = rt.block_on(async {
        for _ in 0..2000 {
            let started = Instant::now();
            let r = producer
                .send(&Message::new(topic, random_body(&mut rng, 64 * 1024)))
                .await;
            assert!(
                started.elapsed() < Duration::from_secs(5),
                "a send took {:?}",
                started.elapsed()
            );
            match r {
                Ok(r) => acked.push(r.msg_id),
                Err(e) => return Some(e),
            }
        }
        None
    });
    let refusal = refusal.expect("48 MiB filled up without a refused send");
    match &refusal {
        ClientError::Remote { remark, .. } if remark.to_lowercase().contains("disk") => {}
        other => {
            panic!("a full disk should be refused with an error naming the disk, got: {other}")
        }
    }
    assert!(
        acked.len() > 50,
        "only {} sends fitted before the disk was full",
        acked.len()
    );
    // Further sends keep failing promptly, and the broker keeps running.
    for _ in 0..5 {
        let started = Instant::now();
        let r = rt.block_on(producer.send(&Message::new(topic, random_body(&mut rng, 64 * 1024))));
        assert!(r.is_err(), "a send succeeded on the full disk");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "a refused send took {:?}",
            started.elapsed()
        );
    }
    // A queue that has no file yet cannot get one either: refused the same way, at once.
    let fresh_topic = "DiskFullFresh";
    rt.block_on(create_topic(&client, &broker_addr, fresh_topic, 1));
    let started = Instant::now();
    let r = rt.block_on(producer.send(&Message::new(fresh_topic, random_body(&mut rng, 1024))));
    match &r {
        Err(ClientError::Remote { remark, .. }) if remark.to_lowercase().contains("disk") => {}
        Err(other) => panic!("a send to a new queue on a full disk failed unclearly: {other}"),
        Ok(_) => {}
    }
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "a send to a new queue on a full disk took {:?}",
        started.elapsed()
    );
    let fresh_acked: Vec<String> = r.iter().map(|r| r.msg_id.clone()).collect();
    assert!(broker.process.alive(), "the broker died on a full disk");

    // Crash and restart on the full disk: every acknowledged message is intact.
    broker.kill9();
    broker.restart();
    let stored = rt
        .block_on(pull_all_verified(
            &client,
            &broker_addr,
            topic,
            1,
            Duration::from_secs(60),
        ))
        .unwrap_or_else(|e| panic!("after restart on a full disk: {e}"));
    let counts = count_keys(stored.iter().map(|m| m.uniq_key.as_str()));
    for id in &acked {
        assert_eq!(
            counts.get(id.as_str()),
            Some(&1),
            "acknowledged message {id} after restart"
        );
    }
    if !fresh_acked.is_empty() {
        let fresh = rt
            .block_on(pull_all_verified(
                &client,
                &broker_addr,
                fresh_topic,
                1,
                Duration::from_secs(30),
            ))
            .unwrap_or_else(|e| panic!("{fresh_topic} after restart: {e}"));
        assert!(
            fresh.iter().any(|m| m.uniq_key == fresh_acked[0]),
            "the acknowledged send to {fresh_topic} is missing after the restart"
        );
    }

    // Space returns: sends work again.
    std::fs::remove_file(&ballast).expect("remove ballast");
    let mut after = Vec::new();
    wait_until(
        "a send succeeding once space was freed",
        Duration::from_secs(20),
        || match rt.block_on(producer.send(&Message::new(topic, random_body(&mut rng, 64 * 1024))))
        {
            Ok(r) => {
                after.push(r.msg_id);
                true
            }
            Err(_) => false,
        },
    );
    for _ in 0..20 {
        let r = rt
            .block_on(producer.send(&Message::new(topic, random_body(&mut rng, 64 * 1024))))
            .expect("send after space was freed");
        after.push(r.msg_id);
    }
    let stored = rt
        .block_on(pull_all_verified(
            &client,
            &broker_addr,
            topic,
            1,
            Duration::from_secs(60),
        ))
        .unwrap_or_else(|e| panic!("after space was freed: {e}"));
    let counts = count_keys(stored.iter().map(|m| m.uniq_key.as_str()));
    for id in acked.iter().chain(&after) {
        assert!(
            counts.contains_key(id.as_str()),
            "acknowledged message {id} missing at the end"
        );
    }
    assert!(broker.stop(), "the broker did not shut down cleanly");
    eprintln!(
        "disk full: {} messages fitted, refusal: {refusal}; new queue on the full disk: {}; {} more after freeing space",
        acked.len(),
        if fresh_acked.is_empty() { "refused" } else { "accepted" },
        after.len()
    );
}
