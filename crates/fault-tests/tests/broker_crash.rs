//! kill -9 of the broker process under load from several producers, then restart on the same
//! store and ports; repeated at random kill points (`FAULT_TESTS_ROUNDS`, default 5).
//!
//! What each round proves:
//! - every message whose send returned OK is stored and readable after the restart (sync
//!   flush: it was fsynced before the answer; async flush: a process kill keeps the page
//!   cache, so nothing acknowledged is lost either — the machine-crash case, where async
//!   flush may lose its last interval, cannot be produced here);
//! - every served record decodes and its body CRC matches (the torn tail was cut);
//! - no message is stored more often than it was sent: producers run with `retry_times = 0`
//!   and re-send some failed messages themselves, with the same UNIQ_KEY, so a duplicate is
//!   allowed only for a message that was sent twice;
//! - one producer sends batches of 8: an acknowledged batch is there whole;
//! - commit-log segments are small (256 KiB), so kills also land around segment rolls;
//! - in some rounds the broker is killed a second time while it starts (during recovery);
//! - after the last round, the store directory itself opens and every record of every queue
//!   passes a CRC check (`FileStore` opened in this process on the killed broker's files).

use bytes::Bytes;
use rand::Rng;
use rocketmq_client::{ClientConfig, ClientInstance, Message, Producer, ProducerConfig};
use rocketmq_fault_tests::*;
use rocketmq_protocol::message::view_record;
use rocketmq_protocol::message_id::global_uniq_id_generator;
use rocketmq_protocol::properties::UNIQ_KEY;
use rocketmq_store::{FileStore, GetRequest, MessageStore, StoreConfig};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const BROKER: &str = env!("CARGO_BIN_EXE_fault-broker");
const PRODUCERS: usize = 4;
const QUEUES: i32 = 4;

/// What the producers saw for each UNIQ_KEY.
#[derive(Default)]
struct Ledger {
    /// Times each key was sent (1, or 2 when re-sent after an error).
    attempts: HashMap<String, usize>,
    /// Keys with at least one OK answer.
    acked: Vec<String>,
    failed: usize,
}

fn run_round(
    rt: &tokio::runtime::Runtime,
    broker: &mut BrokerProcess,
    topic: &str,
    rng: &mut rand::rngs::StdRng,
) {
    let client = ClientInstance::new(
        ClientConfig {
            name_servers: vec![broker.namesrv_string()],
            request_timeout: Duration::from_secs(2),
            connect_timeout: Duration::from_secs(1),
            ..ClientConfig::default()
        },
        None,
    );
    let broker_addr = broker.broker.to_string();
    rt.block_on(create_topic(&client, &broker_addr, topic, QUEUES));
    let producer = Arc::new(Producer::new(
        client.clone(),
        ProducerConfig {
            group: "FAULT_PG".into(),
            send_timeout: Duration::from_secs(2),
            retry_times: 0,
            ..ProducerConfig::default()
        },
    ));
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let acked = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for p in 0..PRODUCERS {
        let (producer, ledger, acked, stop) = (
            producer.clone(),
            ledger.clone(),
            acked.clone(),
            stop.clone(),
        );
        let topic = topic.to_string();
        let resend_every_other = rng.random_bool(0.5);
        tasks.push(rt.spawn(async move {
            let mut seq = 0u64;
            let batch_size = if p == PRODUCERS - 1 { 8 } else { 1 };
            let mut resend: Option<Vec<Message>> = None;
            while !stop.load(Ordering::Acquire) {
                let (msgs, again) = match resend.take() {
                    Some(m) => (m, true),
                    None => {
                        let mut msgs = Vec::new();
                        for _ in 0..batch_size {
                            seq += 1;
                            let body = format!("producer {p} message {seq} {}", "x".repeat(200));
                            let mut m = Message::new(topic.as_str(), Bytes::from(body));
                            m.set_property(UNIQ_KEY, &global_uniq_id_generator().next_id());
                            msgs.push(m);
                        }
                        (msgs, false)
                    }
                };
                let keys: Vec<String> = msgs
                    .iter()
                    .map(|m| m.properties[UNIQ_KEY].clone())
                    .collect();
                {
                    let mut l = ledger.lock().unwrap();
                    for k in &keys {
                        *l.attempts.entry(k.clone()).or_insert(0) += 1;
                    }
                }
                let result = if batch_size == 1 {
                    producer.send(&msgs[0]).await
                } else {
                    producer.send_batch(&msgs).await
                };
                match result {
                    Ok(_) => {
                        ledger.lock().unwrap().acked.extend(keys);
                        acked.fetch_add(msgs.len(), Ordering::Release);
                    }
                    Err(_) => {
                        ledger.lock().unwrap().failed += 1;
                        // Re-send some failed messages once (same keys): the only way a key
                        // may legitimately be stored twice.
                        if !again && (resend_every_other || seq.is_multiple_of(2)) {
                            resend = Some(msgs);
                        }
                        // A client's back-off while the broker is away.
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                }
            }
        }));
    }

    let kill_after = rng.random_range(20..400);
    wait_until(
        "acknowledged sends before the kill",
        Duration::from_secs(60),
        || acked.load(Ordering::Acquire) >= kill_after,
    );
    broker.kill9();
    let at_kill = acked.load(Ordering::Acquire);
    // Now and then a second crash while the broker is starting (during recovery).
    let double_crash = rng.random_bool(0.4);
    if double_crash {
        broker.start_and_kill_after(Duration::from_millis(rng.random_range(0..300)));
    }
    let started = Instant::now();
    broker.restart();
    let restart_took = started.elapsed();
    let resume_target = acked.load(Ordering::Acquire) + 50;
    wait_until(
        "sends succeeding after the restart",
        Duration::from_secs(60),
        || acked.load(Ordering::Acquire) >= resume_target,
    );
    stop.store(true, Ordering::Release);
    rt.block_on(async {
        for t in tasks {
            t.await.expect("producer task");
        }
    });

    let stored = rt
        .block_on(pull_all_verified(
            &client,
            &broker_addr,
            topic,
            QUEUES,
            Duration::from_secs(60),
        ))
        .unwrap_or_else(|e| panic!("{topic}: {e}"));
    let ledger = ledger.lock().unwrap();
    let counts = count_keys(stored.iter().map(|m| m.uniq_key.as_str()));
    let missing: Vec<&String> = ledger
        .acked
        .iter()
        .filter(|k| !counts.contains_key(k.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "{topic}: {} acknowledged messages missing after kill -9 (first: {:?}); killed after {at_kill} acks",
        missing.len(),
        missing.first()
    );
    for (key, n) in &counts {
        let sent = ledger.attempts.get(*key).copied().unwrap_or(0);
        assert!(
            *n <= sent,
            "{topic}: message {key} stored {n} times but sent {sent} times"
        );
    }
    eprintln!(
        "{topic}: killed after {at_kill} acks{}, restart took {restart_took:?}; {} acked, {} failed sends, {} stored",
        if double_crash { " and again while starting" } else { "" },
        ledger.acked.len(),
        ledger.failed,
        stored.len()
    );
}

/// Opens the killed broker's store in this process and reads every record of every queue
/// with its CRC checked.
fn check_store_files(store_dir: &std::path::Path) {
    let mut config = StoreConfig::new(store_dir);
    config.commit_log_segment_size = 256 << 10;
    let store = FileStore::open(config).expect("the store opens after kill -9");
    let stats = store.recovery_stats();
    assert!(
        !stats.clean_shutdown,
        "the abort marker should show the crash"
    );
    let mut records = 0usize;
    for (topic, queue_id) in store.queues() {
        let mut offset = store.min_offset(&topic, queue_id);
        let max = store.max_offset(&topic, queue_id);
        while offset < max {
            let r = store.get_messages(
                &GetRequest {
                    topic: &topic,
                    queue_id,
                    offset,
                    max_msgs: 256,
                    max_bytes: 8 << 20,
                },
                &|_| true,
            );
            assert!(
                r.next_begin_offset > offset,
                "{topic}/{queue_id}@{offset}: read does not advance ({:?})",
                r.status
            );
            for raw in &r.messages {
                view_record(raw, true).unwrap_or_else(|e| {
                    panic!("{topic}/{queue_id}: corrupt record in the store: {e}")
                });
                records += 1;
            }
            offset = r.next_begin_offset;
        }
    }
    eprintln!("store check: {records} records valid; recovery {stats:?}");
    store.shutdown();
}

fn crash_test(name: &str, sync_flush: bool) {
    let mut rng = rng(seed(name));
    let dir = tempfile::tempdir().expect("temp dir");
    let store_dir = dir.path().join("store");
    let mut options = BrokerOptions::new(&store_dir, sync_flush);
    options.segment_size = 256 << 10;
    let mut broker = BrokerProcess::start(BROKER, options);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    for round in 0..rounds(5) {
        run_round(&rt, &mut broker, &format!("Crash{name}{round}"), &mut rng);
    }
    broker.kill9();
    check_store_files(&store_dir);
}

#[test]
fn kill9_during_sync_flush_load_loses_no_acknowledged_message() {
    crash_test("Sync", true);
}

#[test]
fn kill9_during_async_flush_load_serves_no_corrupt_record() {
    crash_test("Async", false);
}
