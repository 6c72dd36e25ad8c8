//! The name server goes down, then comes back.
//!
//! The bundled name server and broker run in one process (`EmbeddedCluster`), so "name server
//! down" is a loopback proxy in front of the name server that stops listening (connects are
//! refused, open connections are cut). Clients know the name server only by the proxy's
//! address; the broker registers directly.
//!
//! What it proves: while the name server is unreachable, a producer and a push consumer that
//! already hold routes keep sending and consuming (cached routes survive failed refreshes and
//! rebalances), a client without routes gets a prompt error (not a hang), and once the name
//! server is back a fresh client gets routes and everything sent in all phases is consumed.

use bytes::Bytes;
use rocketmq_client::{
    ClientConfig, ClientInstance, ConsumeBatch, ConsumeFrom, ConsumeStatus, Message,
    MessageListener, Producer, ProducerConfig, PushConsumer, PushConsumerConfig, Subscription,
    TagFilter,
};
use rocketmq_fault_tests::*;
use rocketmq_server::{EmbeddedCluster, ServerConfig};
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

struct Collect(Mutex<BTreeSet<String>>);

impl MessageListener for Collect {
    fn consume(&self, batches: &mut [ConsumeBatch]) {
        let mut seen = self.0.lock().unwrap();
        for b in batches {
            for m in &b.messages {
                seen.insert(m.msg_id.clone());
            }
            b.status = ConsumeStatus::Success;
        }
    }
}

fn client_config(namesrv: SocketAddr) -> ClientConfig {
    ClientConfig {
        name_servers: vec![namesrv.to_string()],
        request_timeout: Duration::from_secs(1),
        connect_timeout: Duration::from_secs(1),
        ..ClientConfig::default()
    }
}

fn send_n(
    rt: &tokio::runtime::Runtime,
    p: &Producer,
    topic: &str,
    phase: &str,
    n: usize,
) -> Vec<String> {
    rt.block_on(async {
        let mut ids = Vec::new();
        for i in 0..n {
            let r = p
                .send(&Message::new(topic, Bytes::from(format!("{phase} {i}"))))
                .await
                .unwrap_or_else(|e| panic!("send {i} while {phase}: {e}"));
            ids.push(r.msg_id);
        }
        ids
    })
}

#[test]
fn clients_work_from_cached_routes_while_the_name_server_is_down_and_recover() {
    let seed = seed("namesrv_outage");
    let dir = tempfile::tempdir().expect("temp dir");
    let cluster = EmbeddedCluster::start(ServerConfig {
        namesrv_port: 0,
        broker_port: 0,
        store_dir: dir.path().join("store"),
        commit_log_segment_size: 8 << 20,
        ..ServerConfig::default()
    })
    .expect("cluster starts");
    let proxy = FaultProxy::start("127.0.0.1:0".parse().unwrap(), cluster.namesrv_addr(), seed)
        .expect("proxy");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let topic = "NamesrvOutage";
    let setup = ClientInstance::new(client_config(proxy.addr()), None);
    rt.block_on(create_topic(
        &setup,
        &cluster.broker_addr().to_string(),
        topic,
        4,
    ));
    // The topic reaches the name server with the broker's next registration.
    wait_until("the topic's route", Duration::from_secs(10), || {
        rt.block_on(setup.fetch_route(topic)).is_ok()
    });

    let producer = Producer::new(
        ClientInstance::new(client_config(proxy.addr()), None),
        ProducerConfig {
            group: "OUTAGE_PG".into(),
            send_timeout: Duration::from_secs(1),
            ..ProducerConfig::default()
        },
    );
    let seen = Arc::new(Collect(Mutex::new(BTreeSet::new())));
    let consumer = PushConsumer::start(
        rt.handle().clone(),
        client_config(proxy.addr()),
        PushConsumerConfig {
            group: "OUTAGE_CG".into(),
            consume_from: ConsumeFrom::FirstOffset,
            rebalance_interval: Duration::from_millis(300),
            heartbeat_interval: Duration::from_millis(300),
            persist_interval: Duration::from_millis(200),
            long_poll: Duration::from_secs(1),
            pull_error_backoff: Duration::from_millis(100),
            ..PushConsumerConfig::default()
        },
        vec![Subscription {
            topic: topic.into(),
            filter: TagFilter::parse("*"),
        }],
        seen.clone(),
    )
    .expect("consumer starts");
    wait_until(
        "the consumer pulls all 4 queues",
        Duration::from_secs(20),
        || {
            consumer
                .pulling_queues()
                .iter()
                .filter(|q| q.topic == topic)
                .count()
                == 4
        },
    );
    let mut sent = send_n(&rt, &producer, topic, "before the outage", 20);
    let all_seen = |ids: &[String]| {
        let s = seen.0.lock().unwrap();
        ids.iter().all(|id| s.contains(id))
    };
    wait_until(
        "messages sent before the outage consumed",
        Duration::from_secs(20),
        || all_seen(&sent),
    );

    proxy.down();
    let fresh = ClientInstance::new(client_config(proxy.addr()), None);
    let asked = Instant::now();
    let lookup = rt.block_on(fresh.fetch_route(topic));
    assert!(
        lookup.is_err(),
        "a route lookup succeeded with the name server down"
    );
    assert!(
        asked.elapsed() < Duration::from_secs(5),
        "a route lookup against a dead name server took {:?}",
        asked.elapsed()
    );
    // Several consumer rebalances and heartbeats (every 300 ms) run during the outage.
    let outage_started = Instant::now();
    let during = send_n(&rt, &producer, topic, "during the outage", 50);
    sent.extend(during.iter().cloned());
    wait_until(
        "messages sent during the outage consumed",
        Duration::from_secs(20),
        || all_seen(&during),
    );
    wait_until("a second of outage", Duration::from_secs(5), || {
        outage_started.elapsed() >= Duration::from_secs(1)
    });
    assert_eq!(
        consumer
            .pulling_queues()
            .iter()
            .filter(|q| q.topic == topic)
            .count(),
        4,
        "the consumer dropped queues while the name server was down"
    );
    let late = send_n(&rt, &producer, topic, "late in the outage", 20);
    sent.extend(late.iter().cloned());
    wait_until(
        "messages sent late in the outage consumed",
        Duration::from_secs(20),
        || all_seen(&late),
    );

    proxy.up().expect("the proxy listens again");
    let fresh_producer = Producer::new(
        ClientInstance::new(client_config(proxy.addr()), None),
        ProducerConfig {
            group: "OUTAGE_PG2".into(),
            send_timeout: Duration::from_secs(1),
            ..ProducerConfig::default()
        },
    );
    let after = send_n(
        &rt,
        &fresh_producer,
        topic,
        "after the outage (fresh client)",
        20,
    );
    sent.extend(after.iter().cloned());
    sent.extend(send_n(&rt, &producer, topic, "after the outage", 20));
    wait_until("every message consumed", Duration::from_secs(20), || {
        all_seen(&sent)
    });
    consumer.shutdown(Duration::from_secs(2));
    eprintln!(
        "name server outage: {} messages sent and consumed",
        sent.len()
    );
}
