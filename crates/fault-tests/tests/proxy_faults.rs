//! A faulty link between client and broker: a loopback proxy that delays, holds (drops) and
//! cuts connections at random.
//!
//! Routing the broker traffic through the proxy: the broker advertises its address in routes,
//! with its bound port. It binds 127.0.0.1:P and advertises host 127.0.0.2 (`advertised_host`);
//! the proxy listens on 127.0.0.2:P (a different loopback address, same port, so the port
//! clients take from the route is the proxy's) and forwards to 127.0.0.1:P. Clients only
//! learn the broker from the name server, which the broker's registration fills with
//! 127.0.0.2:P, so every producer request crosses the proxy. The checks read directly from
//! 127.0.0.1:P.
//!
//! What it proves:
//! - every send returns (OK or an error) within its timeout plus the connect timeout, never
//!   hangs, whatever the link does;
//! - every acknowledged message is stored; none is stored more often than it was sent;
//! - a push consumer whose pulls cross the same link consumes every acknowledged message
//!   once the link heals;
//! - garbage from the network (bits flipped in the broker's answers) makes requests fail,
//!   never panics a client thread, and the client works again once the garbage stops;
//! - after the link heals, sends succeed again (the client reconnects after cuts);
//! - all of the above for a producer on the multiplexed connection (runtime tasks) and for one
//!   that blocks its thread on each answer (blocking connections, as send_sync from Python);
//! - a connection that stops answering (half dead: new connections would work) is replaced
//!   after timeouts instead of being reused forever.

use bytes::Bytes;
use rand::Rng;
use rocketmq_client::{
    with_blocking_requests, ClientConfig, ClientInstance, ConsumeBatch, ConsumeFrom, ConsumeStatus,
    Message, MessageListener, Producer, ProducerConfig, PushConsumer, PushConsumerConfig,
    Subscription, TagFilter,
};
use rocketmq_fault_tests::*;
use rocketmq_protocol::message_id::global_uniq_id_generator;
use rocketmq_protocol::properties::UNIQ_KEY;
use rocketmq_server::{EmbeddedCluster, ServerConfig};
use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const QUEUES: i32 = 4;
const SEND_TIMEOUT: Duration = Duration::from_secs(1);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

struct Setup {
    cluster: EmbeddedCluster,
    proxy: FaultProxy,
    /// The broker's bound address (bypasses the proxy).
    direct: SocketAddr,
    _dir: tempfile::TempDir,
}

/// Starts a broker advertising 127.0.0.2 and a proxy there; `None` (after a loud message)
/// when this host cannot bind 127.0.0.2.
fn setup(seed: u64) -> Option<Setup> {
    if std::net::TcpListener::bind("127.0.0.2:0").is_err() {
        eprintln!("SKIPPED: this host cannot bind 127.0.0.2, so no proxy can sit on the broker's advertised address");
        return None;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let cluster = EmbeddedCluster::start(ServerConfig {
        namesrv_port: 0,
        broker_port: 0,
        store_dir: dir.path().join("store"),
        commit_log_segment_size: 8 << 20,
        advertised_host: Some("127.0.0.2".into()),
        ..ServerConfig::default()
    })
    .expect("cluster starts");
    let advertised = cluster.broker_addr();
    assert_eq!(advertised.ip().to_string(), "127.0.0.2");
    let direct = SocketAddr::from(([127, 0, 0, 1], advertised.port()));
    let proxy = FaultProxy::start(advertised, direct, seed).expect("proxy on 127.0.0.2");
    Some(Setup {
        cluster,
        proxy,
        direct,
        _dir: dir,
    })
}

fn client(s: &Setup) -> Arc<ClientInstance> {
    ClientInstance::new(
        ClientConfig {
            name_servers: vec![s.cluster.namesrv_addr().to_string()],
            request_timeout: SEND_TIMEOUT,
            connect_timeout: CONNECT_TIMEOUT,
            ..ClientConfig::default()
        },
        None,
    )
}

fn producer(client: Arc<ClientInstance>) -> Arc<Producer> {
    Arc::new(Producer::new(
        client,
        ProducerConfig {
            group: "FAULT_PROXY_PG".into(),
            send_timeout: SEND_TIMEOUT,
            retry_times: 0,
            ..ProducerConfig::default()
        },
    ))
}

fn message(topic: &str, text: String) -> Message {
    let mut m = Message::new(topic, Bytes::from(text));
    m.set_property(UNIQ_KEY, &global_uniq_id_generator().next_id());
    m
}

/// Records the ids of consumed messages.
struct Collect(Mutex<HashSet<String>>);

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

/// A push consumer whose broker traffic crosses the proxy (its route says 127.0.0.2).
fn consumer(
    rt: &tokio::runtime::Runtime,
    s: &Setup,
    topic: &str,
    seen: Arc<Collect>,
) -> PushConsumer {
    let c = PushConsumer::start(
        rt.handle().clone(),
        ClientConfig {
            name_servers: vec![s.cluster.namesrv_addr().to_string()],
            request_timeout: SEND_TIMEOUT,
            connect_timeout: CONNECT_TIMEOUT,
            ..ClientConfig::default()
        },
        PushConsumerConfig {
            group: format!("{topic}_CG"),
            consume_from: ConsumeFrom::FirstOffset,
            rebalance_interval: Duration::from_millis(500),
            persist_interval: Duration::from_millis(200),
            long_poll: Duration::from_millis(500),
            pull_error_backoff: Duration::from_millis(50),
            ..PushConsumerConfig::default()
        },
        vec![Subscription {
            topic: topic.into(),
            filter: TagFilter::parse("*"),
        }],
        seen,
    )
    .expect("consumer starts");
    wait_until(
        "the consumer pulling all queues",
        Duration::from_secs(20),
        || {
            c.pulling_queues()
                .iter()
                .filter(|q| q.topic == topic)
                .count()
                == QUEUES as usize
        },
    );
    c
}

#[derive(Default)]
struct Ledger {
    attempts: HashMap<String, usize>,
    acked: Vec<String>,
    failed: usize,
    slowest: Duration,
    /// Acknowledged sends of each producer.
    acked_by: [usize; 4],
}

/// Producer `p` sends until `stop`, recording every attempt, acknowledgement and failure; a
/// failed message is sent once more (a second copy may then be stored).
async fn produce(
    p: usize,
    producer: Arc<Producer>,
    ledger: Arc<Mutex<Ledger>>,
    stop: Arc<AtomicBool>,
) {
    let topic = "ProxyChaos";
    let mut seq = 0;
    let mut resend: Option<Message> = None;
    while !stop.load(Ordering::Acquire) {
        let (msg, again) = match resend.take() {
            Some(m) => (m, true),
            None => {
                seq += 1;
                (message(topic, format!("producer {p} message {seq}")), false)
            }
        };
        let key = msg.properties[UNIQ_KEY].clone();
        *ledger
            .lock()
            .unwrap()
            .attempts
            .entry(key.clone())
            .or_insert(0) += 1;
        let started = Instant::now();
        let r = producer.send(&msg).await;
        let took = started.elapsed();
        let mut l = ledger.lock().unwrap();
        l.slowest = l.slowest.max(took);
        match r {
            Ok(_) => {
                l.acked.push(key);
                l.acked_by[p] += 1;
            }
            Err(_) => {
                l.failed += 1;
                if !again {
                    resend = Some(msg);
                }
            }
        }
    }
}

#[test]
fn sends_over_a_faulty_link_succeed_or_fail_and_lose_nothing_acknowledged() {
    let seed = seed("proxy_chaos");
    let Some(s) = setup(seed) else { return };
    let mut rng = rng(seed);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let topic = "ProxyChaos";
    let client = client(&s);
    rt.block_on(create_topic(&client, &s.direct.to_string(), topic, QUEUES));
    let producer = producer(client.clone());
    // Learn the route over a healthy link first.
    rt.block_on(producer.send(&message(topic, "warm-up".into())))
        .expect("send over the healthy proxy");
    let seen = Arc::new(Collect(Mutex::new(HashSet::new())));
    let consumer = consumer(&rt, &s, topic, seen.clone());
    let panics_before = background_panics();

    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let stop = Arc::new(AtomicBool::new(false));
    // Three producers in runtime tasks (multiplexed connection), and one on a thread of its
    // own that blocks on each answer, as the Python bindings' send_sync does (blocking
    // connections).
    let mut tasks = Vec::new();
    for p in 0..3 {
        let run = produce(p, producer.clone(), ledger.clone(), stop.clone());
        tasks.push(rt.spawn(run));
    }
    let blocking_producer = {
        let run = produce(3, producer.clone(), ledger.clone(), stop.clone());
        let handle = rt.handle().clone();
        std::thread::spawn(move || with_blocking_requests(|| handle.block_on(run)))
    };

    // The fault schedule: 40 random steps of 50..250 ms (a long hold now and then, so that
    // requests time out), each step one kind of fault.
    let mut kinds = [0usize; 6];
    for _ in 0..40 {
        let kind = rng.random_range(0..6);
        kinds[kind] += 1;
        let mut step = Duration::from_millis(rng.random_range(50..250));
        match kind {
            0 => s.proxy.set_faults(Faults::default()),
            1 => s.proxy.set_faults(Faults {
                max_delay: Duration::from_millis(rng.random_range(5..60)),
                ..Faults::default()
            }),
            2 => s.proxy.set_faults(Faults {
                stall: true,
                ..Faults::default()
            }),
            3 => {
                s.proxy.set_faults(Faults {
                    stall: true,
                    ..Faults::default()
                });
                step = SEND_TIMEOUT + Duration::from_millis(200);
            }
            4 => s.proxy.cut_all(),
            _ => s.proxy.set_faults(Faults {
                cut_chance: 0.05,
                ..Faults::default()
            }),
        }
        std::thread::sleep(step);
    }
    // Heal: held bytes flow again, no more faults.
    s.proxy.set_faults(Faults::default());
    let healed = Instant::now();
    let acked_at_heal = ledger.lock().unwrap().acked.len();
    wait_until(
        "100 acknowledged sends after the link healed",
        Duration::from_secs(20),
        || ledger.lock().unwrap().acked.len() >= acked_at_heal + 100,
    );
    let recovered_in = healed.elapsed();
    stop.store(true, Ordering::Release);
    rt.block_on(async {
        for t in tasks {
            t.await.expect("producer task");
        }
    });
    blocking_producer.join().expect("blocking producer thread");

    let stored = rt
        .block_on(pull_all_verified(
            &client,
            &s.direct.to_string(),
            topic,
            QUEUES,
            Duration::from_secs(60),
        ))
        .unwrap_or_else(|e| panic!("{e}"));
    let l = ledger.lock().unwrap();
    let counts = count_keys(stored.iter().map(|m| m.uniq_key.as_str()));
    let missing = l
        .acked
        .iter()
        .filter(|k| !counts.contains_key(k.as_str()))
        .count();
    assert_eq!(missing, 0, "acknowledged messages missing");
    // The consumer, whose pulls crossed the same faulty link, gets every one of them.
    let consuming = Instant::now();
    let consumed_all = wait_for(Duration::from_secs(60), || {
        let seen = seen.0.lock().unwrap();
        l.acked.iter().all(|k| seen.contains(k))
    });
    let not_consumed = {
        let seen = seen.0.lock().unwrap();
        l.acked.iter().filter(|k| !seen.contains(*k)).count()
    };
    assert!(
        consumed_all,
        "{not_consumed} acknowledged messages not consumed through the healed link"
    );
    let consumed_in = consuming.elapsed();
    consumer.shutdown(Duration::from_secs(2));
    assert_eq!(
        background_panics(),
        panics_before,
        "a client or proxy thread panicked"
    );
    for (key, n) in &counts {
        let sent = l.attempts.get(*key).copied().unwrap_or(1);
        assert!(*n <= sent, "message {key} stored {n} times, sent {sent}");
    }
    let bound = SEND_TIMEOUT + CONNECT_TIMEOUT + Duration::from_millis(1500);
    assert!(
        l.slowest <= bound,
        "a send took {:?}, more than its timeouts allow ({bound:?})",
        l.slowest
    );
    assert!(
        l.failed > 0,
        "the faults made no send fail: the test proved nothing"
    );
    assert!(
        l.acked_by.iter().all(|n| *n > 0),
        "a producer got no acknowledgement at all: {:?}",
        l.acked_by
    );
    assert!(
        s.proxy.connections() > 1,
        "the client never reconnected through the proxy"
    );
    eprintln!(
        "proxy chaos: fault steps {kinds:?}; {} acked (by producer {:?}), {} failed, {} stored, {} connections, slowest send {:?}, recovered {:?} after healing, consumer caught up in {consumed_in:?}",
        l.acked.len(),
        l.acked_by,
        l.failed,
        stored.len(),
        s.proxy.connections(),
        l.slowest,
        recovered_in
    );
}

/// A connection whose peer stops answering must not be reused for ever: after a request
/// timeout the client closes it and the next request opens a new one.
#[test]
fn a_connection_that_stops_answering_is_replaced() {
    let seed = seed("proxy_half_dead");
    let Some(s) = setup(seed) else { return };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let topic = "ProxyHalfDead";
    let client = client(&s);
    rt.block_on(create_topic(&client, &s.direct.to_string(), topic, QUEUES));
    let producer = producer(client.clone());
    rt.block_on(producer.send(&message(topic, "before".into())))
        .expect("send over the healthy proxy");
    // Every connection open now stops carrying traffic; new ones work.
    let open = s.proxy.connections();
    s.proxy.set_faults(Faults {
        stall_connections_before: open,
        ..Faults::default()
    });
    let outcome = rt.block_on(async {
        let mut failures = 0;
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            match producer.send(&message(topic, "after".into())).await {
                Ok(r) => return Ok((failures, r)),
                Err(_) => failures += 1,
            }
        }
        Err(failures)
    });
    match outcome {
        Ok((failures, _)) => {
            eprintln!("half-dead connection replaced after {failures} failed sends");
            assert!(s.proxy.connections() > open, "no new connection was made");
        }
        Err(failures) => panic!(
            "after {failures} timed-out sends in 15 s the client still uses the connection that stopped answering; \
             it never opened a new one ({} proxy connections)",
            s.proxy.connections()
        ),
    }
}

#[test]
fn sends_in_flight_on_a_cut_connection_fail_at_once() {
    // Cutting connections while many sends are in flight: each in-flight send fails promptly
    // (ConnectionClosed), not after its timeout, and the next send reconnects.
    let seed = seed("proxy_cut");
    let Some(s) = setup(seed) else { return };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let topic = "ProxyCut";
    let client = client(&s);
    rt.block_on(create_topic(&client, &s.direct.to_string(), topic, QUEUES));
    let producer = producer(client.clone());
    rt.block_on(producer.send(&message(topic, "warm-up".into())))
        .expect("healthy send");
    // Hold traffic so that sends are in flight, then cut: they must fail at once.
    s.proxy.set_faults(Faults {
        stall: true,
        ..Faults::default()
    });
    let done = Arc::new(AtomicUsize::new(0));
    let mut handles = Vec::new();
    for i in 0..20 {
        let (producer, done) = (producer.clone(), done.clone());
        handles.push(rt.spawn(async move {
            let started = Instant::now();
            let r = producer
                .send(&message(topic, format!("in flight {i}")))
                .await;
            done.fetch_add(1, Ordering::Release);
            (r.is_ok(), started.elapsed())
        }));
    }
    std::thread::sleep(Duration::from_millis(100));
    let cut_at = Instant::now();
    s.proxy.cut_all();
    s.proxy.set_faults(Faults::default());
    let results: Vec<(bool, Duration)> = rt.block_on(async {
        let mut v = Vec::new();
        for h in handles {
            v.push(h.await.expect("send task"));
        }
        v
    });
    let cut_to_done = cut_at.elapsed();
    assert!(
        cut_to_done < SEND_TIMEOUT,
        "sends in flight on a cut connection took {cut_to_done:?} to fail; they should fail when the connection closes"
    );
    assert!(
        results.iter().all(|(ok, _)| !ok),
        "a send whose request never reached the broker was acknowledged"
    );
    rt.block_on(producer.send(&message(topic, "after the cut".into())))
        .expect("the next send reconnects");
}

/// Garbage in the broker's answers for a while, then the connections are cut: no panic, and
/// the client reconnects and works. (Without the cut, a connection whose stream the garbage
/// put out of step — a corrupted length prefix announcing a frame that never completes — can
/// stay stuck: that is the bug `a_connection_that_stops_answering_is_replaced` shows.)
#[test]
fn garbage_from_the_network_fails_requests_without_panics_and_the_client_recovers() {
    garbage_then_heal();
}

fn garbage_then_heal() {
    let seed = seed("proxy_corrupt");
    let Some(s) = setup(seed) else { return };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let topic = "ProxyCorrupt";
    let client = client(&s);
    rt.block_on(create_topic(&client, &s.direct.to_string(), topic, QUEUES));
    let producer = producer(client.clone());
    rt.block_on(producer.send(&message(topic, "warm-up".into())))
        .expect("healthy send");
    let seen = Arc::new(Collect(Mutex::new(HashSet::new())));
    let consumer = consumer(&rt, &s, topic, seen.clone());
    let panics_before = background_panics();
    // Only answers are corrupted: a corrupted request could be stored as a different message
    // and acknowledged, which no client can detect (TCP's checksum prevents it in reality).
    s.proxy.set_faults(Faults {
        corrupt_to_client: 0.2,
        ..Faults::default()
    });
    let (mut ok, mut failed) = (0, 0);
    let bound = SEND_TIMEOUT + CONNECT_TIMEOUT + Duration::from_millis(1500);
    let garbage_until = Instant::now() + Duration::from_secs(4);
    rt.block_on(async {
        for i in 0..400 {
            if Instant::now() > garbage_until {
                break;
            }
            let started = Instant::now();
            match producer
                .send(&message(topic, format!("under corruption {i}")))
                .await
            {
                Ok(_) => ok += 1,
                Err(_) => failed += 1,
            }
            assert!(
                started.elapsed() <= bound,
                "a send took {:?}",
                started.elapsed()
            );
        }
    });
    s.proxy.set_faults(Faults::default());
    s.proxy.cut_all();
    let mut after = Vec::new();
    rt.block_on(async {
        for i in 0..50 {
            let m = message(topic, format!("after corruption {i}"));
            let key = m.properties[UNIQ_KEY].clone();
            // The first sends may still meet a connection whose stream the garbage broke.
            let mut last = None;
            for _ in 0..5 {
                match producer.send(&m).await {
                    Ok(_) => {
                        last = None;
                        break;
                    }
                    Err(e) => last = Some(e),
                }
            }
            if let Some(e) = last {
                panic!("send {i} after the garbage stopped: {e}");
            }
            after.push(key);
        }
    });
    let consumed = wait_for(Duration::from_secs(30), || {
        let seen = seen.0.lock().unwrap();
        after.iter().all(|k| seen.contains(k))
    });
    assert!(
        consumed,
        "messages sent after the garbage stopped were not consumed"
    );
    consumer.shutdown(Duration::from_secs(2));
    assert_eq!(
        background_panics(),
        panics_before,
        "a client thread panicked on garbage from the network"
    );
    assert!(
        failed > 0,
        "the corruption made no request fail: the test proved nothing"
    );
    eprintln!("corrupted answers: {ok} sends OK, {failed} failed; recovered afterwards");
}

/// Polls `cond` every 10 ms up to `limit`; returns whether it held.
fn wait_for(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}
