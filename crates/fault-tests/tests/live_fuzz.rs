//! Fuzzing a live broker (and its name server) over TCP with mutated valid frames.
//!
//! Complements `crates/server/tests/robustness.rs` (well-formed frames with random codes and
//! fields): here the frames are real requests (sends, batches, pulls, heartbeats, offsets,
//! locks, admin; JSON and ROCKETMQ binary headers) with bit flips, overwritten bytes, changed
//! serialize types and header lengths, garbage splices, and connections that end in a
//! truncated frame, an oversized or undersized length prefix, or random bytes. The stream is
//! written in random chunk sizes, over many concurrent connections.
//!
//! What it proves: for each connection the server either answers (a sentinel request sent
//! after the fuzz frames gets its response) or closes the connection, within a bound — it
//! never hangs a connection, also not after the client half-closes in the middle of a frame;
//! everything it writes is well-formed frames; the process survives (no panic in its log),
//! still serves a send and a pull afterwards, and shuts down cleanly.
//!
//! `FAULT_TESTS_FUZZ_FRAMES` sets the number of frames (default 20000) for long sessions.

use bytes::{Bytes, BytesMut};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rocketmq_client::{ClientConfig, ClientInstance, Message, Producer, ProducerConfig};
use rocketmq_fault_tests::*;
use rocketmq_protocol::batch::{encode_batch, BatchEntry};
use rocketmq_protocol::code::request_code as rc;
use rocketmq_protocol::frame;
use rocketmq_protocol::header::{
    pull_sys_flag, PullMessageRequestHeader, SendMessageRequestHeader, SendMessageRequestHeaderV2,
};
use rocketmq_protocol::{RemotingCommand, SerializeType};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const BROKER: &str = env!("CARGO_BIN_EXE_fault-broker");
const SENTINEL_OPAQUE: i32 = 0x7ABC_0001;
/// How long a connection may stay silent before it counts as hung.
const ANSWER_LIMIT: Duration = Duration::from_secs(10);

fn send_header(topic: &str, queue_id: i32, batch: bool) -> SendMessageRequestHeader {
    SendMessageRequestHeader {
        producer_group: "FUZZ_PG".into(),
        topic: topic.into(),
        default_topic: "TBW102".into(),
        default_topic_queue_nums: 4,
        queue_id,
        sys_flag: 0,
        born_timestamp: 1_700_000_000_000,
        flag: 0,
        properties: Some("TAGS\u{1}a\u{2}UNIQ_KEY\u{1}0A0B0C0D0E0F\u{2}".into()),
        reconsume_times: Some(0),
        unit_mode: Some(false),
        max_reconsume_times: None,
        batch: Some(batch),
        broker_name: None,
    }
}

fn pull(topic: &str, queue_id: i32, offset: i64, suspend: bool) -> RemotingCommand {
    let mut sys_flag = pull_sys_flag::SUBSCRIPTION;
    if suspend {
        sys_flag |= pull_sys_flag::SUSPEND;
    }
    RemotingCommand::new_request(rc::PULL_MESSAGE).with_header(&PullMessageRequestHeader {
        consumer_group: "FUZZ_CG".into(),
        topic: topic.into(),
        queue_id,
        queue_offset: offset,
        max_msg_nums: 32,
        sys_flag,
        commit_offset: 0,
        suspend_timeout_millis: 200,
        subscription: Some("*".into()),
        sub_version: 0,
        expression_type: Some("TAG".into()),
        max_msg_bytes: None,
        request_source: None,
        proxy_froward_client_id: None,
        broker_name: None,
    })
}

/// Valid requests for the broker, each as a JSON-header and a binary-header frame.
fn broker_corpus() -> Vec<Bytes> {
    let topic = "FuzzTopic";
    let batch = encode_batch(&[
        BatchEntry {
            flag: 0,
            body: Bytes::from_static(b"batch one"),
            properties: "UNIQ_KEY\u{1}01\u{2}".into(),
        },
        BatchEntry {
            flag: 3,
            body: Bytes::from_static(b"batch two"),
            properties: String::new(),
        },
    ])
    .expect("batch encodes");
    let heartbeat = r#"{"clientID":"fuzz@1","producerDataSet":[{"groupName":"FUZZ_PG"}],"consumerDataSet":[{"groupName":"FUZZ_CG","consumeType":"CONSUME_PASSIVELY","messageModel":"CLUSTERING","consumeFromWhere":"CONSUME_FROM_FIRST_OFFSET","subscriptionDataSet":[{"topic":"FuzzTopic","subString":"*","tagsSet":[],"codeSet":[],"subVersion":1,"classFilterMode":false}],"unitMode":false}]}"#;
    let lock = r#"{"consumerGroup":"FUZZ_CG","clientId":"fuzz@1","mqSet":[{"topic":"FuzzTopic","brokerName":"broker-a","queueId":0}]}"#;
    let commands = vec![
        RemotingCommand::new_request(rc::SEND_MESSAGE_V2)
            .with_header(&SendMessageRequestHeaderV2::from(send_header(
                topic, 0, false,
            )))
            .with_body(Bytes::from_static(b"hello fuzz v2")),
        RemotingCommand::new_request(rc::SEND_MESSAGE)
            .with_header(&send_header(topic, 1, false))
            .with_body(Bytes::from(vec![b'x'; 3000])),
        RemotingCommand::new_request(rc::SEND_BATCH_MESSAGE)
            .with_header(&SendMessageRequestHeaderV2::from(send_header(
                topic, 2, true,
            )))
            .with_body(batch),
        pull(topic, 0, 0, false),
        pull(topic, 3, 1 << 40, true),
        RemotingCommand::new_request(rc::HEART_BEAT)
            .with_body(Bytes::from_static(heartbeat.as_bytes())),
        RemotingCommand::new_request(rc::LOCK_BATCH_MQ)
            .with_body(Bytes::from_static(lock.as_bytes())),
        RemotingCommand::new_request(rc::UNLOCK_BATCH_MQ)
            .with_body(Bytes::from_static(lock.as_bytes())),
        RemotingCommand::new_request(rc::QUERY_CONSUMER_OFFSET)
            .with_field("consumerGroup", "FUZZ_CG")
            .with_field("topic", topic)
            .with_field("queueId", 0),
        RemotingCommand::new_request(rc::UPDATE_CONSUMER_OFFSET)
            .with_field("consumerGroup", "FUZZ_CG")
            .with_field("topic", topic)
            .with_field("queueId", 1)
            .with_field("commitOffset", 1),
        RemotingCommand::new_request(rc::GET_MAX_OFFSET)
            .with_field("topic", topic)
            .with_field("queueId", 2),
        RemotingCommand::new_request(rc::GET_MIN_OFFSET)
            .with_field("topic", topic)
            .with_field("queueId", 2),
        RemotingCommand::new_request(rc::SEARCH_OFFSET_BY_TIMESTAMP)
            .with_field("topic", topic)
            .with_field("queueId", 0)
            .with_field("timestamp", 1_700_000_000_000i64),
        RemotingCommand::new_request(rc::GET_CONSUMER_LIST_BY_GROUP)
            .with_field("consumerGroup", "FUZZ_CG"),
        RemotingCommand::new_request(rc::CONSUMER_SEND_MSG_BACK)
            .with_field("offset", 0)
            .with_field("group", "FUZZ_CG")
            .with_field("delayLevel", 1)
            .with_field("originMsgId", "0A0B")
            .with_field("originTopic", topic),
        RemotingCommand::new_request(rc::VIEW_MESSAGE_BY_ID).with_field("offset", 0),
        RemotingCommand::new_request(rc::QUERY_MESSAGE)
            .with_field("topic", topic)
            .with_field("key", "k")
            .with_field("maxNum", 32)
            .with_field("beginTimestamp", 0)
            .with_field("endTimestamp", i64::MAX),
        RemotingCommand::new_request(rc::UPDATE_AND_CREATE_TOPIC)
            .with_field("topic", "FuzzCreated")
            .with_field("defaultTopic", "TBW102")
            .with_field("readQueueNums", 2)
            .with_field("writeQueueNums", 2)
            .with_field("perm", 6)
            .with_field("topicFilterType", "SINGLE_TAG"),
        RemotingCommand::new_request(rc::GET_ALL_TOPIC_CONFIG),
        RemotingCommand::new_request(rc::UNREGISTER_CLIENT)
            .with_field("clientID", "fuzz@1")
            .with_field("consumerGroup", "FUZZ_CG"),
        RemotingCommand::new_request(9999).with_field("what", "unknown code"),
    ];
    both_encodings(commands)
}

/// Valid requests for the name server.
fn namesrv_corpus() -> Vec<Bytes> {
    let register = r#"{"topicConfigSerializeWrapper":{"topicConfigTable":{"FuzzNs":{"topicName":"FuzzNs","readQueueNums":1,"writeQueueNums":1,"perm":6}},"dataVersion":{"timestamp":1,"counter":1}},"filterServerList":[]}"#;
    let commands = vec![
        RemotingCommand::new_request(rc::GET_ROUTEINFO_BY_TOPIC).with_field("topic", "FuzzTopic"),
        RemotingCommand::new_request(rc::GET_ROUTEINFO_BY_TOPIC).with_field("topic", "TBW102"),
        RemotingCommand::new_request(rc::GET_BROKER_CLUSTER_INFO),
        RemotingCommand::new_request(rc::GET_ALL_TOPIC_LIST_FROM_NAMESERVER),
        RemotingCommand::new_request(rc::REGISTER_BROKER)
            .with_field("brokerName", "fuzz-broker")
            .with_field("brokerAddr", "127.0.0.1:1")
            .with_field("clusterName", "FuzzCluster")
            .with_field("haServerAddr", "127.0.0.1:2")
            .with_field("brokerId", 0)
            .with_field("compressed", false)
            .with_body(Bytes::from_static(register.as_bytes())),
        RemotingCommand::new_request(rc::UNREGISTER_BROKER)
            .with_field("brokerName", "fuzz-broker")
            .with_field("brokerAddr", "127.0.0.1:1")
            .with_field("clusterName", "FuzzCluster")
            .with_field("brokerId", 0),
    ];
    both_encodings(commands)
}

fn both_encodings(commands: Vec<RemotingCommand>) -> Vec<Bytes> {
    let mut out = Vec::new();
    for (i, mut c) in commands.into_iter().enumerate() {
        c.opaque = i as i32 + 1;
        out.push(c.to_frame());
        c.serialize_type = SerializeType::RocketMq;
        out.push(c.to_frame());
    }
    out
}

const INTERESTING: [u8; 12] = [
    0, 0xff, 0x7f, 0x80, b'"', b'{', b'}', b',', b':', b'\\', b'[', b'9',
];

/// A frame that stays well-framed with a parseable header: valid, a mutated body, or (JSON
/// headers) digits changed into other digits, which fuzzes the values of the fields. The
/// server must answer such a request (or ignore it if the flag made it one-way or a
/// response) and keep the connection.
fn benign(rng: &mut StdRng, valid: &Bytes) -> Vec<u8> {
    let mut f = valid.to_vec();
    let header_len = u32::from_be_bytes([0, f[5], f[6], f[7]]) as usize;
    let body = 8 + header_len..f.len();
    match rng.random_range(0..3) {
        1 if !body.is_empty() => {
            for _ in 0..rng.random_range(1..=16) {
                let i = rng.random_range(body.clone());
                f[i] = if rng.random_bool(0.5) {
                    INTERESTING[rng.random_range(0..INTERESTING.len())]
                } else {
                    rng.random()
                };
            }
        }
        2 if f[4] == 0 => {
            let digits: Vec<usize> = (8..8 + header_len)
                .filter(|&i| f[i].is_ascii_digit())
                .collect();
            for _ in 0..rng.random_range(1..=4) {
                if let Some(&i) = digits.get(rng.random_range(0..digits.len().max(1))) {
                    // Strict JSON: a number of several digits must not start with 0.
                    let leads = !f[i - 1].is_ascii_digit() && f[i + 1].is_ascii_digit();
                    f[i] = b'0' + rng.random_range(u8::from(leads)..10);
                }
            }
        }
        _ => {}
    }
    f
}

/// A frame mutated anywhere past the length prefix (which stays consistent): bit flips,
/// overwritten bytes, a changed serialize type or header length, spliced-in or cut-out
/// bytes. The server may answer it or close the connection.
fn hostile(rng: &mut StdRng, valid: &Bytes) -> Vec<u8> {
    let mut f = valid.to_vec();
    let n = f.len();
    match rng.random_range(0..6) {
        0 => {
            for _ in 0..rng.random_range(1..=8) {
                let i = rng.random_range(8..n);
                f[i] ^= 1 << rng.random_range(0..8);
            }
        }
        1 => {
            for _ in 0..rng.random_range(1..=16) {
                let i = rng.random_range(8..n);
                f[i] = if rng.random_bool(0.5) {
                    INTERESTING[rng.random_range(0..INTERESTING.len())]
                } else {
                    rng.random()
                };
            }
        }
        2 => f[4] = rng.random(),
        3 => {
            let i = rng.random_range(5..8);
            f[i] = rng.random();
        }
        4 => {
            let at = rng.random_range(8..=n);
            let junk: Vec<u8> = (0..rng.random_range(1..64)).map(|_| rng.random()).collect();
            f.splice(at..at, junk);
            let len = (f.len() - 4) as u32;
            f[..4].copy_from_slice(&len.to_be_bytes());
        }
        _ => {
            let from = rng.random_range(8..n);
            let to = (from + rng.random_range(1..32)).min(n);
            f.drain(from..to);
            let len = (f.len() - 4) as u32;
            f[..4].copy_from_slice(&len.to_be_bytes());
        }
    }
    f
}

/// What ends a connection that does not end with the sentinel: the peer can only close.
fn terminal(rng: &mut StdRng, valid: &Bytes) -> Vec<u8> {
    match rng.random_range(0..5) {
        0 => valid[..rng.random_range(1..valid.len())].to_vec(),
        1 => {
            let len: u32 = [
                u32::MAX,
                0x7FFF_FFFF,
                frame::MAX_FRAME_LEN as u32,
                0x0100_0000 + 1,
            ][rng.random_range(0..4)];
            let mut v = len.to_be_bytes().to_vec();
            v.extend((0..rng.random_range(0..64)).map(|_| rng.random::<u8>()));
            v
        }
        2 => {
            let mut v = (rng.random_range(0u32..4)).to_be_bytes().to_vec();
            v.extend((0..rng.random_range(0..16)).map(|_| rng.random::<u8>()));
            v
        }
        3 => (0..rng.random_range(1..200))
            .map(|_| rng.random())
            .collect(),
        _ => {
            // A plausible 1 MiB frame of which only a part ever arrives.
            let mut v = (1u32 << 20).to_be_bytes().to_vec();
            v.extend_from_slice(&valid[4..]);
            v
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Ending {
    Answered,
    ClosedByServer,
    ClosedAfterHalfClose,
}

/// Reads frames until the sentinel's response or end of file. Panics on malformed output.
async fn read_until(
    stream: &mut tokio::net::TcpStream,
    buf: &mut BytesMut,
    limit: Duration,
) -> Option<Ending> {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        loop {
            match frame::check(buf) {
                Ok(Some(n)) => {
                    let f = buf.split_to(n);
                    let cmd = frame::parse(&f)
                        .unwrap_or_else(|e| panic!("the server wrote an unparsable frame: {e}"));
                    if cmd.is_response() && cmd.opaque == SENTINEL_OPAQUE {
                        return Some(Ending::Answered);
                    }
                }
                Ok(None) => break,
                Err(e) => panic!("the server wrote a malformed frame: {e}"),
            }
        }
        match tokio::time::timeout_at(deadline, stream.read_buf(buf)).await {
            Err(_) => return None,
            Ok(Ok(0)) | Ok(Err(_)) => return Some(Ending::ClosedByServer),
            Ok(Ok(_)) => {}
        }
    }
}

async fn fuzz_connection(
    addr: SocketAddr,
    corpus: Arc<Vec<Bytes>>,
    sentinel: Bytes,
    seed: u64,
    frames: usize,
) -> (Ending, bool) {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .unwrap_or_else(|e| panic!("connect to {addr}: {e}"));
    let with_hostile = rng.random_bool(0.5);
    let mut sent_frames = Vec::new();
    for i in 0..frames {
        let valid = &corpus[rng.random_range(0..corpus.len())];
        if with_hostile && i + 1 == frames {
            sent_frames.push(hostile(&mut rng, valid));
        } else {
            sent_frames.push(benign(&mut rng, valid));
        }
    }
    let mut out = sent_frames.concat();
    let ends_badly = rng.random_bool(0.2);
    if ends_badly {
        let valid = &corpus[rng.random_range(0..corpus.len())];
        out.extend(terminal(&mut rng, valid));
    } else {
        out.extend_from_slice(&sentinel);
    }
    // Random write sizes exercise partial frames in the server's reader. A write error means
    // the server already closed the connection.
    let mut rest = &out[..];
    while !rest.is_empty() {
        let n = rng.random_range(1..=rest.len().min(8192));
        if stream.write_all(&rest[..n]).await.is_err() {
            return (Ending::ClosedByServer, with_hostile || ends_badly);
        }
        rest = &rest[n..];
    }
    let mut buf = BytesMut::with_capacity(64 * 1024);
    if !ends_badly {
        if let Some(e) = read_until(&mut stream, &mut buf, ANSWER_LIMIT).await {
            if e != Ending::Answered && !with_hostile {
                let culprit = find_culprit(addr, &sent_frames, &sentinel).await;
                panic!(
                    "connection (seed {seed}) with only well-formed frames ended {e:?} instead of answering the sentinel; \
                     the frame that closes a connection on its own: {culprit}"
                );
            }
            return (e, with_hostile);
        }
    }
    // Half-close: whatever frame is pending can never complete; the server must close.
    let _ = stream.shutdown().await;
    let ending = match read_until(&mut stream, &mut buf, ANSWER_LIMIT).await {
        Some(Ending::ClosedByServer) => Ending::ClosedAfterHalfClose,
        Some(e) => e,
        None => panic!(
            "connection (seed {seed}) neither answered nor closed within {ANSWER_LIMIT:?} after the client half-closed"
        ),
    };
    (ending, true)
}

/// Replays each frame on a connection of its own, followed by the sentinel, and describes
/// the first one after which the server closes instead of answering.
async fn find_culprit(addr: SocketAddr, frames: &[Vec<u8>], sentinel: &Bytes) -> String {
    for f in frames {
        let Ok(mut stream) = tokio::net::TcpStream::connect(addr).await else {
            return "(cannot reconnect)".into();
        };
        let mut out = f.clone();
        out.extend_from_slice(sentinel);
        if stream.write_all(&out).await.is_err() {
            return describe(f);
        }
        let mut buf = BytesMut::new();
        match read_until(&mut stream, &mut buf, ANSWER_LIMIT).await {
            Some(Ending::Answered) => {}
            _ => return describe(f),
        }
    }
    "(no single frame; the combination)".into()
}

fn describe(f: &[u8]) -> String {
    let header_len = u32::from_be_bytes([0, f[5], f[6], f[7]]) as usize;
    let header = &f[8..(8 + header_len).min(f.len())];
    let body = &f[(8 + header_len).min(f.len())..];
    format!(
        "type {} header {:?} body {:?}",
        f[4],
        String::from_utf8_lossy(header),
        String::from_utf8_lossy(&body[..body.len().min(300)])
    )
}

#[test]
fn a_live_broker_survives_mutated_truncated_and_oversized_frames() {
    let seed = seed("live_fuzz");
    let total_frames: usize = std::env::var("FAULT_TESTS_FUZZ_FRAMES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let dir = tempfile::tempdir().expect("temp dir");
    let mut broker =
        BrokerProcess::start(BROKER, BrokerOptions::new(&dir.path().join("store"), false));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let broker_corpus = Arc::new(broker_corpus());
    let namesrv_corpus = Arc::new(namesrv_corpus());
    let mut broker_sentinel = RemotingCommand::new_request(rc::GET_MAX_OFFSET)
        .with_field("topic", "FuzzTopic")
        .with_field("queueId", 0);
    broker_sentinel.opaque = SENTINEL_OPAQUE;
    let mut namesrv_sentinel =
        RemotingCommand::new_request(rc::GET_ROUTEINFO_BY_TOPIC).with_field("topic", "TBW102");
    namesrv_sentinel.opaque = SENTINEL_OPAQUE;
    let (broker_sentinel, namesrv_sentinel) =
        (broker_sentinel.to_frame(), namesrv_sentinel.to_frame());

    let started = Instant::now();
    let endings = Arc::new([
        AtomicUsize::new(0),
        AtomicUsize::new(0),
        AtomicUsize::new(0),
    ]);
    let mut rng = rng(seed);
    let mut plan = Vec::new();
    let mut planned = 0;
    while planned < total_frames {
        let frames = rng.random_range(1..16).min(total_frames - planned).max(1);
        planned += frames;
        plan.push((rng.random_bool(0.8), rng.random::<u64>(), frames));
    }
    let connections = plan.len();
    rt.block_on(async {
        let limit = Arc::new(tokio::sync::Semaphore::new(32));
        let mut tasks = Vec::new();
        for (to_broker, conn_seed, frames) in plan {
            let permit = limit.clone().acquire_owned().await.expect("semaphore");
            let (addr, corpus, sentinel) = if to_broker {
                (broker.broker, broker_corpus.clone(), broker_sentinel.clone())
            } else {
                (broker.namesrv, namesrv_corpus.clone(), namesrv_sentinel.clone())
            };
            let endings = endings.clone();
            tasks.push(tokio::spawn(async move {
                let (e, hostile) = fuzz_connection(addr, corpus, sentinel, conn_seed, frames).await;
                // Only well-framed, parseable requests were sent, then the sentinel: the
                // server must have answered them all on the same connection.
                assert!(
                    hostile || e == Ending::Answered,
                    "connection (seed {conn_seed}) with only well-formed frames ended {e:?} instead of answering the sentinel"
                );
                let i = match e {
                    Ending::Answered => 0,
                    Ending::ClosedByServer => 1,
                    Ending::ClosedAfterHalfClose => 2,
                };
                endings[i].fetch_add(1, Ordering::Relaxed);
                drop(permit);
            }));
        }
        for t in tasks {
            t.await.expect("fuzz connection task");
        }
    });
    let took = started.elapsed();
    assert!(
        broker.process.alive(),
        "the broker process died during the fuzz run"
    );

    // Still healthy: a send and a pull work.
    let client = ClientInstance::new(
        ClientConfig {
            name_servers: vec![broker.namesrv_string()],
            ..ClientConfig::default()
        },
        None,
    );
    let producer = Producer::new(client.clone(), ProducerConfig::default());
    let topic = "AfterFuzz";
    rt.block_on(create_topic(&client, &broker.broker.to_string(), topic, 1));
    let sent = rt
        .block_on(producer.send(&Message::new(topic, Bytes::from_static(b"still alive"))))
        .expect("send after the fuzz run");
    let pulled = rt
        .block_on(pull_all_verified(
            &client,
            &broker.broker.to_string(),
            topic,
            1,
            Duration::from_secs(30),
        ))
        .expect("pull after the fuzz run");
    assert!(
        pulled
            .iter()
            .any(|m| m.uniq_key == sent.msg_id && &m.body[..] == b"still alive"),
        "the message sent after the fuzz run was not read back"
    );
    assert!(
        broker.stop(),
        "the broker did not shut down cleanly after the fuzz run"
    );
    let log = std::fs::read_to_string(&broker.process.log_file).unwrap_or_default();
    assert!(
        !log.contains("panicked"),
        "the broker panicked during the fuzz run:\n{}",
        &log[log.len().saturating_sub(4000)..]
    );
    eprintln!(
        "live fuzz: {total_frames} frames over {connections} connections in {took:?}; answered {}, closed by the server {}, closed after half-close {}",
        endings[0].load(Ordering::Relaxed),
        endings[1].load(Ordering::Relaxed),
        endings[2].load(Ordering::Relaxed)
    );
}
