//! The 5.x (gRPC) client against the bundled broker's gRPC front end: sends of each message
//! type, a simple consumer's receive / ack / change of invisible duration, and a transaction
//! left open that the broker resolves through the producer's checker (telemetry check-back).

use rocketmq_client::v5::{
    ClientOptions, Consumer, Credentials, Filter, OutgoingMessage, Producer, ReceiptRef,
    ReceivedMessage, TransactionCheck,
};
use rocketmq_client::{Admin, ClientConfig, ClientInstance, TopicSpec};
use rocketmq_server::{EmbeddedCluster, ServerConfig};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn cluster(dir: &std::path::Path) -> EmbeddedCluster {
    EmbeddedCluster::start(ServerConfig {
        namesrv_port: 0,
        broker_port: 0,
        grpc_port: Some(0),
        store_dir: dir.to_path_buf(),
        commit_log_segment_size: 8 << 20,
        transaction_check_interval: Duration::from_millis(500),
        transaction_timeout: Duration::from_secs(1),
        ..ServerConfig::default()
    })
    .expect("cluster starts")
}

fn options(cluster: &EmbeddedCluster) -> ClientOptions {
    ClientOptions {
        endpoints: cluster.grpc_addr().expect("gRPC endpoint").to_string(),
        credentials: Credentials::default(),
        namespace: String::new(),
        request_timeout: Duration::from_secs(5),
        tls: false,
    }
}

async fn create_topic(cluster: &EmbeddedCluster, topic: &str, message_type: &str) {
    let client = ClientInstance::new(
        ClientConfig {
            name_servers: vec![cluster.namesrv_addr().to_string()],
            ..ClientConfig::default()
        },
        None,
    );
    let admin = Admin::new(client);
    let mut spec = TopicSpec::new(topic, 2);
    spec.message_type = Some(message_type.to_string());
    admin
        .create_topic(&spec, Instant::now() + Duration::from_secs(20))
        .await
        .expect("topic created");
}

fn text(topic: &str, body: &str) -> OutgoingMessage {
    OutgoingMessage {
        topic: topic.into(),
        body: body.as_bytes().to_vec(),
        tag: Some("T".into()),
        ..OutgoingMessage::default()
    }
}

async fn receive_n(consumer: &Consumer, n: usize, invisible: Duration) -> Vec<ReceivedMessage> {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut got = Vec::new();
    while got.len() < n {
        assert!(Instant::now() < deadline, "received {} of {n}", got.len());
        got.extend(
            consumer
                .receive(n as i32, Some(invisible))
                .await
                .expect("receive"),
        );
    }
    got
}

fn receipt(m: &ReceivedMessage) -> ReceiptRef<'_> {
    ReceiptRef {
        topic: &m.topic,
        message_id: &m.message_id,
        receipt_handle: m.receipt_handle.as_deref().unwrap_or(""),
        endpoint: &m.endpoint,
    }
}

fn simple_consumer(cluster: &EmbeddedCluster, group: &str, topic: &str) -> Consumer {
    let filter = Filter {
        filter_type: 1,
        expression: "*".into(),
    };
    let subs = vec![(topic.to_string(), filter)];
    Consumer::new(
        options(cluster),
        group.into(),
        subs,
        Duration::from_secs(5),
        false,
    )
    .unwrap()
}

#[test]
fn sends_receives_acks_and_redelivers_through_the_bundled_broker() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = cluster(dir.path());
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        create_topic(&cluster, "V5Normal", "NORMAL").await;
        let producer = Producer::new(options(&cluster), vec!["V5Normal".into()], None).unwrap();
        producer.start().await.expect("producer starts");
        let receipt1 = producer.send(&text("V5Normal", "one")).await.expect("send");
        assert!(!receipt1.message_id.is_empty());
        producer.send(&text("V5Normal", "two")).await.expect("send");

        let consumer = simple_consumer(&cluster, "V5Group", "V5Normal");
        consumer.start().await.expect("consumer starts");
        let got = receive_n(&consumer, 2, Duration::from_secs(30)).await;
        let mut bodies: Vec<_> = got.iter().map(|m| m.body.clone()).collect();
        bodies.sort();
        assert_eq!(bodies, vec![b"one".to_vec(), b"two".to_vec()]);
        let (keep, again) = (&got[0], &got[1]);
        consumer.ack(receipt(keep)).await.expect("ack");
        consumer
            .change_invisible_duration(receipt(again), Duration::from_secs(1))
            .await
            .expect("change invisible duration");
        let back = receive_n(&consumer, 1, Duration::from_secs(30)).await;
        assert_eq!(back[0].message_id, again.message_id);
        assert_eq!(back[0].delivery_attempt, Some(2));
        consumer.ack(receipt(&back[0])).await.expect("ack");

        consumer.shutdown().await;
        producer.shutdown().await;
    });
}

struct Commit(Mutex<Vec<String>>);

impl TransactionCheck for Commit {
    fn check(&self, message: ReceivedMessage) -> Option<bool> {
        self.0.lock().unwrap().push(message.message_id);
        Some(true)
    }
}

#[test]
fn an_open_transaction_is_committed_by_the_checker() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = cluster(dir.path());
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        create_topic(&cluster, "V5Tx", "TRANSACTION").await;
        let checker = Arc::new(Commit(Mutex::new(Vec::new())));
        let producer = Producer::new(
            options(&cluster),
            vec!["V5Tx".into()],
            Some(checker.clone()),
        )
        .unwrap();
        producer.start().await.expect("producer starts");
        let mut half = text("V5Tx", "checked");
        half.transactional = true;
        let receipt = producer.send(&half).await.expect("half message sent");
        assert!(!receipt.transaction_id.is_empty());

        let consumer = simple_consumer(&cluster, "V5TxGroup", "V5Tx");
        consumer.start().await.expect("consumer starts");
        let got = receive_n(&consumer, 1, Duration::from_secs(30)).await;
        assert_eq!(got[0].body, b"checked".to_vec());
        assert!(checker.0.lock().unwrap().contains(&receipt.message_id));
        consumer.shutdown().await;
        producer.shutdown().await;
    });
}

#[test]
fn a_push_consumer_receives_from_its_assignment_and_shutdown_ends_a_long_poll() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = cluster(dir.path());
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        create_topic(&cluster, "V5Push", "NORMAL").await;
        let filter = Filter {
            filter_type: 1,
            expression: "*".into(),
        };
        let subs = vec![("V5Push".to_string(), filter)];
        let consumer = Arc::new(
            Consumer::new(
                options(&cluster),
                "V5PushGroup".into(),
                subs,
                Duration::from_secs(20),
                true,
            )
            .unwrap(),
        );
        consumer.start().await.expect("consumer starts");
        let producer = Producer::new(options(&cluster), vec!["V5Push".into()], None).unwrap();
        producer.start().await.expect("producer starts");
        producer
            .send(&text("V5Push", "pushed"))
            .await
            .expect("send");
        let deadline = Instant::now() + Duration::from_secs(60);
        let got = loop {
            assert!(Instant::now() < deadline, "nothing received");
            let got = consumer.receive(8, None).await.expect("receive");
            if !got.is_empty() {
                break got;
            }
        };
        assert_eq!(got[0].body, b"pushed".to_vec());

        // Nothing left: the next receive long-polls (20 s); stop_receiving ends it at once,
        // empty, and the message held meanwhile can still be acked (a listener finishing
        // during shutdown); later receives answer empty without asking.
        let polling = {
            let consumer = consumer.clone();
            tokio::spawn(async move { consumer.receive(8, None).await })
        };
        let asked = Instant::now();
        consumer.stop_receiving();
        let ended = tokio::time::timeout(Duration::from_secs(10), polling)
            .await
            .expect("the receive ended after stop_receiving")
            .unwrap();
        assert!(ended.expect("an ended receive is not an error").is_empty());
        assert!(asked.elapsed() < Duration::from_secs(10));
        consumer
            .ack(receipt(&got[0]))
            .await
            .expect("ack after stop_receiving");
        producer
            .send(&text("V5Push", "not taken"))
            .await
            .expect("send");
        assert!(consumer.receive(8, None).await.expect("receive").is_empty());

        // Shutdown ends a long poll at once too, empty (or refuses it, when shutdown came
        // first); a fresh consumer's receive is the one to end here.
        let fresh = Arc::new(
            Consumer::new(
                options(&cluster),
                "V5PushGroup".into(),
                vec![(
                    "V5Push".to_string(),
                    Filter {
                        filter_type: 1,
                        expression: "NoSuchTag".into(),
                    },
                )],
                Duration::from_secs(20),
                true,
            )
            .unwrap(),
        );
        fresh.start().await.expect("fresh consumer starts");
        let polling = {
            let fresh = fresh.clone();
            tokio::spawn(async move { fresh.receive(8, None).await })
        };
        let asked = Instant::now();
        fresh.shutdown().await;
        let ended = tokio::time::timeout(Duration::from_secs(10), polling)
            .await
            .expect("the receive ended after shutdown")
            .unwrap();
        assert!(ended.map(|v| v.is_empty()).unwrap_or(true));
        assert!(asked.elapsed() < Duration::from_secs(10));
        consumer.shutdown().await;
        producer.shutdown().await;
    });
}

#[test]
fn pipelined_sends_share_requests_and_each_message_keeps_its_own_fields() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = cluster(dir.path());
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        create_topic(&cluster, "V5Pipelined", "NORMAL").await;
        let producer =
            Arc::new(Producer::new(options(&cluster), vec!["V5Pipelined".into()], None).unwrap());
        producer.start().await.expect("producer starts");
        // Far more sends at once than requests may be out: most wait in the topic's line
        // and travel in batches.
        const N: usize = 400;
        let mut sends = tokio::task::JoinSet::new();
        for i in 0..N {
            let producer = producer.clone();
            sends.spawn(async move {
                let mut msg = text("V5Pipelined", &format!("body-{i}"));
                msg.tag = Some(format!("tag-{}", i % 3));
                msg.keys = vec![format!("key-{i}")];
                msg.properties.insert("index".into(), i.to_string());
                let receipt = producer.send(&msg).await.expect("send");
                (i, receipt)
            });
        }
        let mut receipts = std::collections::HashMap::new();
        while let Some(joined) = sends.join_next().await {
            let (i, receipt) = joined.unwrap();
            assert_eq!(receipt.topic, "V5Pipelined");
            receipts.insert(i, receipt);
        }
        assert_eq!(receipts.len(), N);
        // Each message has an id of its own.
        let ids: std::collections::HashSet<_> =
            receipts.values().map(|r| r.message_id.clone()).collect();
        assert_eq!(ids.len(), N);

        let consumer = simple_consumer(&cluster, "V5PipelinedGroup", "V5Pipelined");
        consumer.start().await.expect("consumer starts");
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut seen = std::collections::HashMap::new();
        while seen.len() < N {
            assert!(Instant::now() < deadline, "received {} of {N}", seen.len());
            for m in consumer
                .receive(32, Some(Duration::from_secs(30)))
                .await
                .expect("receive")
            {
                let i: usize = m.properties["index"].parse().unwrap();
                let sent = &receipts[&i];
                assert_eq!(m.message_id, sent.message_id);
                assert_eq!(m.body, format!("body-{i}").into_bytes());
                assert_eq!(m.tag.as_deref(), Some(format!("tag-{}", i % 3).as_str()));
                assert_eq!(m.keys, vec![format!("key-{i}")]);
                consumer.ack(receipt(&m)).await.expect("ack");
                assert!(seen.insert(i, m.message_id).is_none(), "{i} twice");
            }
        }
        consumer.shutdown().await;
        producer.shutdown().await;
    });
}

#[test]
fn send_then_answers_every_message_once_from_outside_the_runtime() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = cluster(dir.path());
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(create_topic(&cluster, "V5Then", "NORMAL"));
    let producer = Producer::new(options(&cluster), vec!["V5Then".into()], None).unwrap();
    rt.block_on(producer.start()).expect("producer starts");
    // Called from this (non-runtime) thread, as the Python bindings call it.
    let (tx, rx) = std::sync::mpsc::channel();
    const N: usize = 200;
    for i in 0..N {
        let tx = tx.clone();
        producer.send_then(
            rt.handle(),
            &text("V5Then", &format!("then-{i}")),
            Box::new(move |result| tx.send((i, result)).unwrap()),
        );
    }
    // A message refused before sending is answered too.
    let tx_refused = tx.clone();
    producer.send_then(
        rt.handle(),
        &text("V5Then", ""),
        Box::new(move |result| tx_refused.send((N, result)).unwrap()),
    );
    drop(tx);
    let mut answered = std::collections::HashMap::new();
    while let Ok((i, result)) = rx.recv_timeout(Duration::from_secs(30)) {
        assert!(answered.insert(i, result).is_none(), "{i} answered twice");
    }
    assert_eq!(answered.len(), N + 1);
    let ids: std::collections::HashSet<_> = (0..N)
        .map(|i| answered[&i].as_ref().expect("sent").message_id.clone())
        .collect();
    assert_eq!(ids.len(), N);
    assert!(matches!(
        answered[&N],
        Err(rocketmq_client::v5::GrpcError::IllegalArgument(_))
    ));
    rt.block_on(producer.shutdown());
}

#[test]
fn a_send_given_up_by_its_caller_does_not_stall_the_topic() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = cluster(dir.path());
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        create_topic(&cluster, "V5GivenUp", "NORMAL").await;
        let producer = Producer::new(options(&cluster), vec!["V5GivenUp".into()], None).unwrap();
        producer.start().await.expect("producer starts");
        for i in 0..3 {
            // Polled once (it goes out alone, holding the topic's only slot), then dropped.
            let given_up = text("V5GivenUp", &format!("given-up-{i}"));
            tokio::select! {
                biased;
                _ = producer.send(&given_up) => {}
                _ = std::future::ready(()) => {}
            }
            let sent = tokio::time::timeout(
                Duration::from_secs(10),
                producer.send(&text("V5GivenUp", &format!("kept-{i}"))),
            )
            .await
            .expect("a later send is not stuck behind the one given up");
            sent.expect("send");
        }
        producer.shutdown().await;
    });
}
