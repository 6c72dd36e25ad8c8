//! Transactional sends and producer heartbeats at the wire level, against a scripted fake
//! broker on loopback that also plays the name server (it routes every topic to itself):
//! the heartbeat with `producerDataSet` before the first send, the half message's flags and
//! properties, the END_TRANSACTION fields, the answer to CHECK_TRANSACTION_STATE, and
//! UNREGISTER_CLIENT at shutdown. The bundled broker's end-to-end behaviour is tested at
//! the end of this file.

use bytes::{Bytes, BytesMut};
use rocketmq_client::{
    ClientConfig, Message, MessageExt, Producer, ProducerConfig, SendStatus, TransactionState,
};
use rocketmq_protocol::body::heartbeat::HeartbeatData;
use rocketmq_protocol::body::route::{BrokerData, QueueData, TopicRouteData};
use rocketmq_protocol::body::{decode_json, encode_json};
use rocketmq_protocol::code::{request_code, response_code};
use rocketmq_protocol::header::{
    SendMessageRequestHeader, SendMessageRequestHeaderV2, SendMessageResponseHeader,
};
use rocketmq_protocol::message::{encode_stored, StoredMessage};
use rocketmq_protocol::RemotingCommand;
use rocketmq_protocol::{frame, message_id, properties as prop, sysflag};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicI32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// Physical offset the fake broker reports for every stored message.
const HALF_PHYSICAL_OFFSET: i64 = 4242;
/// Queue offset the fake broker reports for every stored message.
const HALF_QUEUE_OFFSET: i64 = 7;

/// A scripted broker + name server: answers route lookups, sends, heartbeats and
/// unregistrations, records every request, and can push requests to its clients.
struct FakeBroker {
    addr: SocketAddr,
    requests: Arc<Mutex<Vec<RemotingCommand>>>,
    /// Writers of the accepted connections, to push server requests.
    clients: Arc<Mutex<Vec<mpsc::UnboundedSender<Bytes>>>>,
    /// Response code of sends (SUCCESS, FLUSH_DISK_TIMEOUT, SYSTEM_ERROR, ...).
    send_code: Arc<AtomicI32>,
}

impl FakeBroker {
    async fn start() -> FakeBroker {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let clients = Arc::new(Mutex::new(Vec::new()));
        let send_code = Arc::new(AtomicI32::new(response_code::SUCCESS));
        let (reqs, cls, code) = (requests.clone(), clients.clone(), send_code.clone());
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (mut reader, mut writer) = stream.into_split();
                let (tx, mut rx) = mpsc::unbounded_channel::<Bytes>();
                cls.lock().unwrap().push(tx.clone());
                tokio::spawn(async move {
                    while let Some(f) = rx.recv().await {
                        if writer.write_all(&f).await.is_err() {
                            return;
                        }
                    }
                });
                let (reqs, code) = (reqs.clone(), code.clone());
                tokio::spawn(async move {
                    let mut buf = BytesMut::new();
                    loop {
                        while let Ok(Some(cmd)) = frame::decode(&mut buf) {
                            if cmd.is_response() {
                                continue;
                            }
                            let answer = answer(addr, &cmd, code.load(Ordering::SeqCst));
                            let (opaque, oneway) = (cmd.opaque, cmd.is_oneway());
                            reqs.lock().unwrap().push(cmd);
                            if let (Some(mut a), false) = (answer, oneway) {
                                a.opaque = opaque;
                                a.set_response(true);
                                let _ = tx.send(a.to_frame());
                            }
                        }
                        match reader.read_buf(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(_) => {}
                        }
                    }
                });
            }
        });
        FakeBroker {
            addr,
            requests,
            clients,
            send_code,
        }
    }

    fn requests(&self, code: i32) -> Vec<RemotingCommand> {
        self.requests
            .lock()
            .unwrap()
            .iter()
            .filter(|c| c.code == code)
            .cloned()
            .collect()
    }

    fn codes(&self) -> Vec<i32> {
        self.requests
            .lock()
            .unwrap()
            .iter()
            .map(|c| c.code)
            .collect()
    }

    /// Sends `request` one-way to every connected client.
    fn push(&self, mut request: RemotingCommand) {
        request.opaque = 999_999;
        request.set_oneway(true);
        for c in self.clients.lock().unwrap().iter() {
            let _ = c.send(request.to_frame());
        }
    }

    /// Waits until `n` requests with `code` were received.
    async fn wait_for(&self, code: i32, n: usize) -> Vec<RemotingCommand> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let got = self.requests(code);
            if got.len() >= n {
                return got;
            }
            assert!(
                Instant::now() < deadline,
                "waited 10 s for {n} requests with code {code}; got codes {:?}",
                self.codes()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

fn answer(me: SocketAddr, cmd: &RemotingCommand, send_code: i32) -> Option<RemotingCommand> {
    let ok = || RemotingCommand::new_response(response_code::SUCCESS, "");
    match cmd.code {
        request_code::GET_ROUTEINFO_BY_TOPIC => {
            let route = TopicRouteData {
                broker_datas: vec![BrokerData {
                    broker_addrs: BTreeMap::from([(0, me.to_string())]),
                    broker_name: "fake-broker".into(),
                    cluster: "C".into(),
                    ..BrokerData::default()
                }],
                queue_datas: vec![QueueData {
                    broker_name: "fake-broker".into(),
                    perm: 6,
                    read_queue_nums: 1,
                    write_queue_nums: 1,
                    topic_sys_flag: 0,
                }],
                ..TopicRouteData::default()
            };
            Some(ok().with_body(encode_json(&route)))
        }
        request_code::SEND_MESSAGE_V2 => Some(
            RemotingCommand::new_response(send_code, "scripted").with_header(
                &SendMessageResponseHeader {
                    msg_id: message_id::create_offset_msg_id(me, HALF_PHYSICAL_OFFSET),
                    queue_id: 0,
                    queue_offset: HALF_QUEUE_OFFSET,
                    transaction_id: None,
                    batch_uniq_id: None,
                    recall_handle: None,
                },
            ),
        ),
        request_code::HEART_BEAT | request_code::UNREGISTER_CLIENT => Some(ok()),
        _ => None,
    }
}

fn field<'a>(cmd: &'a RemotingCommand, name: &str) -> &'a str {
    cmd.ext_fields
        .get(name)
        .map(String::as_str)
        .unwrap_or_else(|| panic!("header field {name} missing in {:?}", cmd.ext_fields))
}

fn producer_config(group: &str) -> ProducerConfig {
    ProducerConfig {
        group: group.into(),
        send_timeout: Duration::from_secs(3),
        ..ProducerConfig::default()
    }
}

fn client_config(name_server: SocketAddr) -> ClientConfig {
    ClientConfig {
        name_servers: vec![name_server.to_string()],
        ..ClientConfig::default()
    }
}

/// The checker used by the fake-broker tests: records the messages it was asked about.
type Checked = Arc<Mutex<Vec<MessageExt>>>;

fn recording_checker(
    answer: TransactionState,
) -> (Checked, Arc<dyn rocketmq_client::TransactionChecker>) {
    let seen: Checked = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    let checker = move |m: &MessageExt| {
        s.lock().unwrap().push(m.clone());
        answer
    };
    (seen, Arc::new(checker))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transaction_heartbeats_sends_the_half_ends_it_and_answers_checks() {
    let broker = FakeBroker::start().await;
    let (checked, checker) = recording_checker(TransactionState::Rollback);
    let (producer, _handler) =
        Producer::new_transactional(client_config(broker.addr), producer_config("TXG"), checker);

    let mut msg = Message::new("TxTopic", Bytes::from_static(b"order-1"));
    msg.set_tags("TagA");
    msg.set_property(prop::DELAY, "3");
    let mut executed = 0;
    let (result, state) = producer
        .send_in_transaction(&msg, |half, r| {
            executed += 1;
            assert_eq!(half.properties.get(prop::TRAN_MSG).unwrap(), "true");
            assert_eq!(half.properties.get(prop::UNIQ_KEY).unwrap(), &r.msg_id);
            TransactionState::Commit
        })
        .await
        .expect("send in transaction");
    assert_eq!(executed, 1);
    assert_eq!(state, TransactionState::Commit);
    assert_eq!(result.status, SendStatus::Ok);
    assert_eq!(result.queue_offset, HALF_QUEUE_OFFSET);

    // The heartbeat reached the broker before the half message.
    let codes = broker.codes();
    let hb_at = codes.iter().position(|c| *c == request_code::HEART_BEAT);
    let send_at = codes
        .iter()
        .position(|c| *c == request_code::SEND_MESSAGE_V2);
    assert!(
        hb_at.is_some() && hb_at < send_at,
        "request codes in order: {codes:?}"
    );
    let hb: HeartbeatData =
        decode_json(&broker.requests(request_code::HEART_BEAT)[0].body).unwrap();
    assert_eq!(hb.producer_data_set.len(), 1);
    assert_eq!(hb.producer_data_set[0].group_name, "TXG");
    assert_eq!(hb.client_id, producer.client.client_id);
    assert!(hb.consumer_data_set.is_empty());

    // The half message: prepared flag, TRAN_MSG, PGROUP, no delay.
    let send = &broker.requests(request_code::SEND_MESSAGE_V2)[0];
    let header: SendMessageRequestHeader = send
        .decode_header::<SendMessageRequestHeaderV2>()
        .unwrap()
        .into();
    assert_eq!(
        sysflag::transaction_type(header.sys_flag),
        sysflag::TRANSACTION_PREPARED_TYPE
    );
    assert_eq!(header.producer_group, "TXG");
    let props = prop::decode_properties_map(header.properties.as_deref().unwrap_or(""));
    assert_eq!(props.get(prop::TRAN_MSG).map(String::as_str), Some("true"));
    assert_eq!(props.get(prop::PGROUP).map(String::as_str), Some("TXG"));
    assert_eq!(props.get(prop::TAGS).map(String::as_str), Some("TagA"));
    assert!(!props.contains_key(prop::DELAY), "{props:?}");
    assert_eq!(props.get(prop::UNIQ_KEY), Some(&result.msg_id));

    // END_TRANSACTION: commit, offsets of the half, not from a check, one-way.
    let end = broker.wait_for(request_code::END_TRANSACTION, 1).await;
    let end = &end[0];
    assert!(end.is_oneway());
    assert_eq!(field(end, "producerGroup"), "TXG");
    assert_eq!(field(end, "commitOrRollback"), "8");
    assert_eq!(field(end, "fromTransactionCheck"), "false");
    assert_eq!(
        field(end, "tranStateTableOffset"),
        HALF_QUEUE_OFFSET.to_string()
    );
    assert_eq!(
        field(end, "commitLogOffset"),
        HALF_PHYSICAL_OFFSET.to_string()
    );
    assert_eq!(field(end, "msgId"), result.msg_id);

    // The broker checks back on another half message; the checker's answer goes back.
    let mut stored = StoredMessage {
        total_size: 0,
        magic_code: 0,
        body_crc: 0,
        queue_id: 2,
        flag: 0,
        queue_offset: 55,
        physical_offset: 9000,
        sys_flag: 0,
        born_timestamp: 1,
        born_host: "127.0.0.1:1000".parse().unwrap(),
        store_timestamp: 2,
        store_host: broker.addr,
        reconsume_times: 0,
        prepared_transaction_offset: 0,
        body: Bytes::from_static(b"order-2"),
        topic: "TxTopic".into(),
        properties: prop::encode_properties(
            [
                (prop::UNIQ_KEY, "UNIQ-2"),
                (prop::TRAN_MSG, "true"),
                (prop::PGROUP, "TXG"),
            ]
            .into_iter(),
        ),
    };
    stored.normalize();
    let check = RemotingCommand::new_request(request_code::CHECK_TRANSACTION_STATE)
        .with_header(
            &rocketmq_protocol::header::transaction::CheckTransactionStateRequestHeader {
                tran_state_table_offset: 55,
                commit_log_offset: 9000,
                msg_id: Some("UNIQ-2".into()),
                transaction_id: Some("UNIQ-2".into()),
                offset_msg_id: None,
                topic: Some("TxTopic".into()),
                broker_name: Some("fake-broker".into()),
            },
        )
        .with_body(encode_stored(&stored).unwrap());
    broker.push(check);
    let ends = broker.wait_for(request_code::END_TRANSACTION, 2).await;
    let answer = &ends[1];
    assert_eq!(field(answer, "fromTransactionCheck"), "true");
    assert_eq!(field(answer, "commitOrRollback"), "12");
    assert_eq!(field(answer, "tranStateTableOffset"), "55");
    assert_eq!(field(answer, "commitLogOffset"), "9000");
    assert_eq!(field(answer, "msgId"), "UNIQ-2");
    assert_eq!(field(answer, "producerGroup"), "TXG");
    {
        let checked = checked.lock().unwrap();
        assert_eq!(checked.len(), 1);
        assert_eq!(checked[0].body.as_ref(), b"order-2");
        assert_eq!(checked[0].topic, "TxTopic");
    }

    // A malformed check is ignored; the connection keeps working.
    broker.push(
        RemotingCommand::new_request(request_code::CHECK_TRANSACTION_STATE)
            .with_body(Bytes::from_static(b"garbage")),
    );
    producer
        .send(&Message::new("TxTopic", "plain"))
        .await
        .unwrap();
    assert_eq!(checked.lock().unwrap().len(), 1);

    // Shutdown unregisters the producer group.
    producer.shutdown().await;
    let unreg = broker.wait_for(request_code::UNREGISTER_CLIENT, 1).await;
    assert_eq!(field(&unreg[0], "producerGroup"), "TXG");
    assert_eq!(field(&unreg[0], "clientID"), producer.client.client_id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_transaction_runs_only_after_an_ok_send() {
    let broker = FakeBroker::start().await;
    let producer = Producer::new(
        rocketmq_client::ClientInstance::new(client_config(broker.addr), None),
        ProducerConfig {
            retry_times: 0,
            ..producer_config("TXG2")
        },
    );
    let calls = AtomicUsize::new(0);

    // Stored, but not durably: no local transaction, the half is rolled back.
    broker
        .send_code
        .store(response_code::FLUSH_DISK_TIMEOUT, Ordering::SeqCst);
    let (r, state) = producer
        .send_in_transaction(&Message::new("TxTopic", "a"), |_, _| {
            calls.fetch_add(1, Ordering::SeqCst);
            TransactionState::Commit
        })
        .await
        .unwrap();
    assert_eq!(r.status, SendStatus::FlushDiskTimeout);
    assert_eq!(state, TransactionState::Rollback);
    let end = broker.wait_for(request_code::END_TRANSACTION, 1).await;
    assert_eq!(field(&end[0], "commitOrRollback"), "12");

    // Refused: an error, no local transaction, no END_TRANSACTION.
    broker
        .send_code
        .store(response_code::SYSTEM_ERROR, Ordering::SeqCst);
    let err = producer
        .send_in_transaction(&Message::new("TxTopic", "b"), |_, _| {
            calls.fetch_add(1, Ordering::SeqCst);
            TransactionState::Commit
        })
        .await
        .unwrap_err();
    assert!(err.to_string().contains("scripted"), "{err}");
    assert_eq!(calls.load(Ordering::SeqCst), 0);

    // UNKNOWN is sent as 0 (the broker keeps the half and checks back).
    broker
        .send_code
        .store(response_code::SUCCESS, Ordering::SeqCst);
    producer
        .send_in_transaction(&Message::new("TxTopic", "c"), |_, _| {
            calls.fetch_add(1, Ordering::SeqCst);
            TransactionState::Unknown
        })
        .await
        .unwrap();
    let end = broker.wait_for(request_code::END_TRANSACTION, 2).await;
    assert_eq!(field(&end[1], "commitOrRollback"), "0");
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(broker.requests(request_code::END_TRANSACTION).len(), 2);
    producer.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plain_producer_heartbeats_periodically_and_unregisters() {
    let broker = FakeBroker::start().await;
    let producer = Producer::new(
        rocketmq_client::ClientInstance::new(client_config(broker.addr), None),
        ProducerConfig {
            heartbeat_interval: Duration::from_millis(100),
            ..producer_config("PLAIN")
        },
    );
    producer.send(&Message::new("T", "x")).await.unwrap();
    assert_eq!(producer.heartbeat_brokers(), vec![broker.addr.to_string()]);
    // The first heartbeat precedes the send; later ones come from the periodic task.
    let hbs = broker.wait_for(request_code::HEART_BEAT, 3).await;
    for hb in &hbs {
        let data: HeartbeatData = decode_json(&hb.body).unwrap();
        assert_eq!(data.producer_data_set[0].group_name, "PLAIN");
    }
    producer.shutdown().await;
    broker.wait_for(request_code::UNREGISTER_CLIENT, 1).await;
    // No heartbeat after shutdown.
    let after = broker.requests(request_code::HEART_BEAT).len();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(broker.requests(request_code::HEART_BEAT).len(), after);
}

// ---- End to end, against the bundled broker ----

/// Pulls every queue of `topic` from offset 0 to its end; returns the bodies, in any order.
async fn drain_bodies(client: &rocketmq_client::ClientInstance, topic: &str) -> Vec<String> {
    use rocketmq_client::{PullRequest, PullStatus, TagFilter};
    let Ok(route) = client.fetch_route(topic).await else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for mq in &route.subscribe {
        let mut offset = 0;
        for _ in 0..1000 {
            let r = client
                .pull(&PullRequest {
                    group: "TX_READER".into(),
                    queue: mq.clone(),
                    offset,
                    max_msgs: 32,
                    filter: TagFilter::parse("*"),
                    suspend: None,
                    commit_offset: None,
                })
                .await
                .expect("pull");
            offset = r.next_begin_offset;
            out.extend(
                r.messages
                    .iter()
                    .map(|m| String::from_utf8_lossy(&m.body).into_owned()),
            );
            if r.status != PullStatus::Found {
                break;
            }
        }
    }
    out
}

fn count(bodies: &[String], body: &str) -> usize {
    bodies.iter().filter(|b| *b == body).count()
}

#[test]
fn transactions_against_the_bundled_broker() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = rocketmq_server::EmbeddedCluster::start(rocketmq_server::ServerConfig {
        namesrv_port: 0,
        broker_port: 0,
        store_dir: dir.path().to_path_buf(),
        commit_log_segment_size: 8 << 20,
        transaction_check_interval: Duration::from_millis(200),
        transaction_timeout: Duration::from_millis(300),
        ..rocketmq_server::ServerConfig::default()
    })
    .expect("cluster starts");
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let ns: SocketAddr = cluster.namesrv_addr().to_string().parse().unwrap();
        // The checker commits what the local transaction left open with "commit" in its
        // body and rolls back the rest.
        let checked: Checked = Arc::new(Mutex::new(Vec::new()));
        let seen = checked.clone();
        let checker = move |m: &MessageExt| {
            seen.lock().unwrap().push(m.clone());
            if m.body.starts_with(b"unknown-commit") {
                TransactionState::Commit
            } else {
                TransactionState::Rollback
            }
        };
        let (producer, _h) = Producer::new_transactional(
            client_config(ns),
            producer_config("TX_E2E"),
            Arc::new(checker),
        );
        let topic = "TxE2E";
        let reader = rocketmq_client::ClientInstance::new(client_config(ns), None);
        let mut ids = BTreeMap::new();
        for (body, state) in [
            ("commit-1", TransactionState::Commit),
            ("rollback-1", TransactionState::Rollback),
            ("unknown-commit-1", TransactionState::Unknown),
            ("unknown-rollback-1", TransactionState::Unknown),
        ] {
            let (r, sent) = producer
                .send_in_transaction(&Message::new(topic, body), |_, _| state)
                .await
                .expect("transactional send");
            assert_eq!(sent, state);
            ids.insert(body, r.msg_id);
        }

        // The committed one and, after its check-back, the unknown one that the checker
        // commits arrive; the check-back of the other unknown one is answered too.
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let bodies = drain_bodies(&reader, topic).await;
            let rolled_back_checked = checked
                .lock()
                .unwrap()
                .iter()
                .any(|m| m.body.as_ref() == b"unknown-rollback-1");
            if count(&bodies, "commit-1") > 0
                && count(&bodies, "unknown-commit-1") > 0
                && rolled_back_checked
            {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "after 20 s: delivered {bodies:?}, checked {:?}",
                checked
                    .lock()
                    .unwrap()
                    .iter()
                    .map(|m| m.body.clone())
                    .collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // Absence can only be observed over a window: four more check passes, after which
        // nothing else may have appeared and nothing may have come twice.
        tokio::time::sleep(Duration::from_millis(800)).await;
        let bodies = drain_bodies(&reader, topic).await;
        assert_eq!(count(&bodies, "commit-1"), 1, "{bodies:?}");
        assert_eq!(count(&bodies, "unknown-commit-1"), 1, "{bodies:?}");
        assert_eq!(count(&bodies, "rollback-1"), 0, "{bodies:?}");
        assert_eq!(count(&bodies, "unknown-rollback-1"), 0, "{bodies:?}");
        assert_eq!(bodies.len(), 2, "{bodies:?}");

        // Only the undecided ones were checked back, with their topic and id restored.
        let checked = checked.lock().unwrap().clone();
        for m in &checked {
            let body = String::from_utf8_lossy(&m.body).into_owned();
            assert!(
                body.starts_with("unknown-"),
                "checked a decided one: {body}"
            );
            assert_eq!(m.topic, topic);
            assert_eq!(&m.msg_id, ids.get(body.as_str()).unwrap());
        }
        producer.shutdown().await;
        reader.shutdown();
    });
}
