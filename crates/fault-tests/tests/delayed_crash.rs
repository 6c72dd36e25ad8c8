//! Delayed messages across a kill -9 of the broker.
//!
//! A delayed message is stored first in the broker's schedule topic and moved to its real topic by
//! the broker's schedule service when due; the service persists its per-level progress. The
//! broker here is killed with SIGKILL while delayed messages are pending and being delivered,
//! at a random point, then restarted (sync flush, delay levels 100/200/300 ms).
//!
//! What it proves: every acknowledged delayed message reaches its real topic after the
//! restart (a crash between delivering and persisting may deliver one twice — counted and
//! printed, not failed — but never zero times), none arrives before its delay, every record
//! served is intact.

use bytes::Bytes;
use rand::Rng;
use rocketmq_client::{ClientConfig, ClientInstance, Message, Producer, ProducerConfig};
use rocketmq_fault_tests::*;
use std::collections::HashMap;
use std::time::{Duration, Instant};

const BROKER: &str = env!("CARGO_BIN_EXE_fault-broker");

#[test]
fn delayed_messages_survive_a_broker_kill() {
    let mut rng = rng(seed("delayed_crash"));
    let dir = tempfile::tempdir().expect("temp dir");
    let mut broker =
        BrokerProcess::start(BROKER, BrokerOptions::new(&dir.path().join("store"), true));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let client = ClientInstance::new(
        ClientConfig {
            name_servers: vec![broker.namesrv_string()],
            request_timeout: Duration::from_secs(2),
            connect_timeout: Duration::from_secs(1),
            ..ClientConfig::default()
        },
        None,
    );
    let addr = broker.broker.to_string();
    let topic = "DelayedCrash";
    rt.block_on(create_topic(&client, &addr, topic, 2));
    let producer = Producer::new(
        client.clone(),
        ProducerConfig {
            retry_times: 0,
            send_timeout: Duration::from_secs(2),
            ..ProducerConfig::default()
        },
    );
    // id -> delay level
    let mut acked: HashMap<String, i32> = HashMap::new();
    // The levels configured by fault-broker: 100ms 200ms 300ms.
    let total = 300;
    let kill_at = rng.random_range(30..270);
    let mut killed = false;
    rt.block_on(async {
        for i in 0..total {
            if i == kill_at {
                broker.kill9();
                broker.restart();
                killed = true;
            }
            let level = rng.random_range(1..=3);
            let mut m = Message::new(topic, Bytes::from(format!("delayed {i}")));
            m.set_delay_level(level);
            if let Ok(r) = producer.send(&m).await {
                acked.insert(r.msg_id, level);
            }
        }
    });
    assert!(killed);
    let mut last = Vec::new();
    let all_there = wait_for(Duration::from_secs(30), || {
        last = rt
            .block_on(pull_all_verified(
                &client,
                &addr,
                topic,
                2,
                Duration::from_secs(20),
            ))
            .unwrap_or_else(|e| panic!("{e}"));
        let have = count_keys(last.iter().map(|m| m.uniq_key.as_str()));
        acked.keys().all(|k| have.contains_key(k.as_str()))
    });
    let have = count_keys(last.iter().map(|m| m.uniq_key.as_str()));
    let missing: Vec<&String> = acked
        .keys()
        .filter(|k| !have.contains_key(k.as_str()))
        .collect();
    assert!(
        all_there,
        "{} of {} acknowledged delayed messages never reached {topic} after the kill at send {kill_at} (first {:?})",
        missing.len(),
        acked.len(),
        missing.first()
    );
    for m in &last {
        let Some(level) = acked.get(&m.uniq_key) else {
            continue;
        };
        let delay = i64::from(*level) * 100;
        assert!(
            m.store_timestamp - m.born_timestamp >= delay - 5,
            "a level-{level} message reached {topic} {} ms after it was sent; its delay is {delay} ms",
            m.store_timestamp - m.born_timestamp
        );
    }
    let duplicates: usize = have.values().map(|n| n - 1).sum();
    eprintln!(
        "delayed across kill -9 at send {kill_at}: {} acknowledged, all delivered, {duplicates} delivered twice",
        acked.len()
    );
    assert!(broker.stop(), "the broker did not shut down cleanly");
}

fn wait_for(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
