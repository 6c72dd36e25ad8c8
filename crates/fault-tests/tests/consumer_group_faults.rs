//! A clustering consumer group (two `fault-consumer` processes) across a consumer killed with
//! SIGKILL and replaced, and across a broker killed with SIGKILL and restarted, while a
//! producer keeps sending.
//!
//! What it proves:
//! - no message is lost: every acknowledged send is consumed by some member;
//! - duplicates come only from the uncommitted window: a (queue, offset) is delivered twice
//!   only if it lies at or past the committed offset the fault left behind — for the consumer
//!   kill, the group's offset as the broker reported it just before the kill; for the broker
//!   kill, the offset the restarted broker loads from its `consumerOffset.json`;
//! - before the first fault nothing is delivered twice.

use bytes::Bytes;
use rand::Rng;
use rocketmq_client::{
    ClientConfig, ClientInstance, Message, MessageQueue, Producer, ProducerConfig,
};
use rocketmq_fault_tests::*;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const BROKER: &str = env!("CARGO_BIN_EXE_fault-broker");
const CONSUMER: &str = env!("CARGO_BIN_EXE_fault-consumer");
const TOPIC: &str = "GroupFaults";
const GROUP: &str = "FAULT_CG";
const QUEUES: i32 = 4;

/// One delivery printed by a consumer process.
#[derive(Clone, Debug)]
struct Delivery {
    id: String,
    queue: i32,
    offset: i64,
}

fn deliveries(lines: &[String]) -> Vec<Delivery> {
    lines
        .iter()
        .filter_map(|l| {
            let mut it = l.strip_prefix("MSG ")?.split(' ');
            Some(Delivery {
                id: it.next()?.to_string(),
                queue: it.next()?.parse().ok()?,
                offset: it.next()?.parse().ok()?,
            })
        })
        .collect()
}

fn pulling(lines: &[String]) -> Option<usize> {
    lines
        .iter()
        .rev()
        .find_map(|l| l.strip_prefix("PULLING ")?.parse().ok())
}

fn start_consumer(namesrv: &str, dir: &Path, n: usize) -> ChildProcess {
    let args: Vec<String> = ["--namesrv", namesrv, "--group", GROUP, "--topic", TOPIC]
        .iter()
        .map(|s| s.to_string())
        .collect();
    ChildProcess::spawn(
        Path::new(CONSUMER),
        &args,
        &dir.join(format!("consumer-{n}.log")),
    )
    .expect("consumer process starts")
}

/// The group's offsets in the store's persisted offset file (what a restarted broker loads).
fn persisted_offsets(store: &Path) -> BTreeMap<i32, i64> {
    let path = store.join("config").join("consumerOffset.json");
    let Ok(text) = std::fs::read_to_string(&path) else {
        return BTreeMap::new();
    };
    let v: serde_json::Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()));
    let mut out = BTreeMap::new();
    if let Some(table) = v["offsetTable"][format!("{TOPIC}@{GROUP}")].as_object() {
        for (q, o) in table {
            if let (Ok(q), Some(o)) = (q.parse(), o.as_i64()) {
                out.insert(q, o);
            }
        }
    }
    out
}

#[test]
fn a_consumer_group_loses_nothing_across_consumer_and_broker_kills() {
    let mut rng = rng(seed("consumer_group_faults"));
    let dir = tempfile::tempdir().expect("temp dir");
    let store = dir.path().join("store");
    let mut broker = BrokerProcess::start(BROKER, BrokerOptions::new(&store, true));
    let namesrv = broker.namesrv_string();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let client = ClientInstance::new(
        ClientConfig {
            name_servers: vec![namesrv.clone()],
            request_timeout: Duration::from_secs(2),
            connect_timeout: Duration::from_secs(1),
            ..ClientConfig::default()
        },
        None,
    );
    rt.block_on(create_topic(
        &client,
        &broker.broker.to_string(),
        TOPIC,
        QUEUES,
    ));
    wait_until("the topic's route", Duration::from_secs(10), || {
        rt.block_on(client.fetch_route(TOPIC)).is_ok()
    });

    let mut consumers = vec![
        start_consumer(&namesrv, dir.path(), 0),
        start_consumer(&namesrv, dir.path(), 1),
    ];
    wait_until(
        "two members pulling two queues each",
        Duration::from_secs(30),
        || consumers.iter().all(|c| pulling(&c.lines()) == Some(2)),
    );

    let acked = Arc::new(Mutex::new(Vec::<String>::new()));
    let acked_count = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let producer = Arc::new(Producer::new(
        client.clone(),
        ProducerConfig {
            group: "FAULT_CG_PG".into(),
            send_timeout: Duration::from_secs(2),
            retry_times: 0,
            ..ProducerConfig::default()
        },
    ));
    let sender = {
        let (producer, acked, acked_count, stop) = (
            producer.clone(),
            acked.clone(),
            acked_count.clone(),
            stop.clone(),
        );
        rt.spawn(async move {
            let mut ticker = tokio::time::interval(Duration::from_millis(2));
            let mut i = 0u64;
            while !stop.load(Ordering::Acquire) {
                ticker.tick().await;
                i += 1;
                let msg = Message::new(TOPIC, Bytes::from(format!("group message {i}")));
                if let Ok(r) = producer.send(&msg).await {
                    acked.lock().unwrap().push(r.msg_id);
                    acked_count.fetch_add(1, Ordering::Release);
                }
            }
        })
    };
    let consumed_ids = |cs: &[ChildProcess], dead: &[Vec<String>]| -> HashSet<String> {
        cs.iter()
            .map(|c| c.lines())
            .chain(dead.iter().cloned())
            .flat_map(|l| deliveries(&l))
            .map(|d| d.id)
            .collect()
    };
    let mut dead_lines: Vec<Vec<String>> = Vec::new();

    // Fault 1: kill -9 one consumer mid-stream; a new member replaces it.
    let kill_at = rng.random_range(100..500);
    wait_until(
        "sends before the consumer kill",
        Duration::from_secs(60),
        || acked_count.load(Ordering::Acquire) >= kill_at,
    );
    let before_fault: Vec<Delivery> = consumers
        .iter()
        .flat_map(|c| deliveries(&c.lines()))
        .collect();
    let mut committed_before_kill = BTreeMap::new();
    rt.block_on(async {
        for q in 0..QUEUES {
            let mq = MessageQueue {
                topic: TOPIC.into(),
                broker_name: "broker-a".into(),
                queue_id: q,
            };
            let o = client
                .query_consumer_offset(GROUP, &mq)
                .await
                .expect("query the group's offset")
                .unwrap_or(0);
            committed_before_kill.insert(q, o);
        }
    });
    let victim = rng.random_range(0..2);
    consumers[victim].kill9();
    dead_lines.push(consumers[victim].lines());
    consumers[victim] = start_consumer(&namesrv, dir.path(), 2);
    let target = acked_count.load(Ordering::Acquire) + 200;
    wait_until(
        "progress after the consumer kill",
        Duration::from_secs(60),
        || acked_count.load(Ordering::Acquire) >= target,
    );

    // Fault 2: kill -9 the broker once it persisted the group's offsets; restart it.
    wait_until(
        "the broker persisting the group's offsets",
        Duration::from_secs(15),
        || persisted_offsets(&store).len() == QUEUES as usize,
    );
    broker.kill9();
    let lines_at_broker_kill: Vec<usize> = consumers.iter().map(|c| c.lines().len()).collect();
    let persisted_at_kill = persisted_offsets(&store);
    broker.restart();
    let target = acked_count.load(Ordering::Acquire) + 300;
    let restarted = Instant::now();
    wait_until(
        "sends after the broker restart",
        Duration::from_secs(60),
        || acked_count.load(Ordering::Acquire) >= target,
    );
    stop.store(true, Ordering::Release);
    rt.block_on(sender).expect("sender task");

    let acked: Vec<String> = acked.lock().unwrap().clone();
    let caught_up = wait_for(Duration::from_secs(90), || {
        let seen = consumed_ids(&consumers, &dead_lines);
        acked.iter().all(|id| seen.contains(id))
    });
    let seen = consumed_ids(&consumers, &dead_lines);
    let missing: Vec<&String> = acked.iter().filter(|id| !seen.contains(*id)).collect();
    assert!(
        caught_up && missing.is_empty(),
        "{} of {} acknowledged messages were never consumed (first {:?}); members pulling: {:?}",
        missing.len(),
        acked.len(),
        missing.first(),
        consumers
            .iter()
            .map(|c| pulling(&c.lines()))
            .collect::<Vec<_>>()
    );
    let caught_up_in = restarted.elapsed();

    // Duplicates only from the uncommitted windows. Each delivery is tagged with whether it
    // happened after the broker kill (later lines of a live member).
    let mut per_position: HashMap<(i32, i64), Vec<(String, bool)>> = HashMap::new();
    for lines in &dead_lines {
        for d in deliveries(lines) {
            per_position
                .entry((d.queue, d.offset))
                .or_default()
                .push((d.id, false));
        }
    }
    for (c, at_kill) in consumers.iter().zip(&lines_at_broker_kill) {
        let lines = c.lines();
        let (before, after) = lines.split_at((*at_kill).min(lines.len()));
        for (part, late) in [(before, false), (after, true)] {
            for d in deliveries(part) {
                per_position
                    .entry((d.queue, d.offset))
                    .or_default()
                    .push((d.id, late));
            }
        }
    }
    let mut duplicates = 0;
    for ((q, o), seen) in &per_position {
        assert!(
            seen.iter().all(|(id, _)| id == &seen[0].0),
            "queue {q} offset {o} delivered as different messages: {seen:?}"
        );
        if seen.len() > 1 {
            duplicates += seen.len() - 1;
            // Before the broker kill only the consumer kill can cause a redelivery; after
            // it, either fault's window applies.
            let consumer_window = committed_before_kill[q];
            let floor = if seen.iter().any(|(_, late)| *late) {
                consumer_window.min(persisted_at_kill.get(q).copied().unwrap_or(0))
            } else {
                consumer_window
            };
            assert!(
                *o >= floor,
                "queue {q} offset {o} delivered {} times, but it was below the committed offset {floor} of the fault that could redeliver it",
                seen.len()
            );
        }
    }
    let mut before_counts: HashMap<(i32, i64), usize> = HashMap::new();
    for d in &before_fault {
        *before_counts.entry((d.queue, d.offset)).or_insert(0) += 1;
    }
    assert!(
        before_counts.values().all(|n| *n == 1),
        "messages were delivered twice before any fault"
    );
    for c in &mut consumers {
        c.stop(Duration::from_secs(10));
    }
    assert!(broker.stop(), "the broker did not shut down cleanly");
    eprintln!(
        "consumer group: {} acked, all consumed ({} deliveries, {duplicates} duplicates); offsets before the consumer kill {committed_before_kill:?}, persisted at the broker kill {persisted_at_kill:?}; caught up {caught_up_in:?} after the broker restart",
        acked.len(),
        per_position.values().map(Vec::len).sum::<usize>(),
    );
}

/// Polls `cond` every 20 ms up to `limit`; returns whether it held.
fn wait_for(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
