//! Two brokers under one name server, one killed while a producer sends: every send fails over
//! to the surviving broker, the producer avoids the dead broker (isolation, then a route
//! refresh without it once the name server expires it), and every acknowledged message is
//! read back from the surviving broker and from the dead one restarted on its store.

use bytes::Bytes;
use rocketmq_client::{
    ClientConfig, ClientInstance, Message, Producer, ProducerConfig, PullRequest, PullStatus,
    TagFilter,
};
use rocketmq_protocol::code::{request_code, response_code};
use rocketmq_protocol::header::CreateTopicRequestHeader;
use rocketmq_server::{EmbeddedCluster, ServerConfig};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const TOPIC: &str = "FailoverTopic";
/// Longest any wait in this test may take.
const WAIT: Duration = Duration::from_secs(30);

fn broker_config(dir: &std::path::Path, broker_name: &str) -> ServerConfig {
    ServerConfig {
        namesrv_port: 0,
        broker_port: 0,
        store_dir: dir.to_path_buf(),
        commit_log_segment_size: 8 << 20,
        broker_name: broker_name.into(),
        register_interval: Duration::from_millis(300),
        // The name server forgets a broker that stopped registering after this long.
        broker_expiry: Duration::from_secs(2),
        ..ServerConfig::default()
    }
}

fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Creates `TOPIC` with 4 queues on the broker at `addr` (UPDATE_AND_CREATE_TOPIC, answered
/// once the name server knows the topic).
async fn create_topic(client: &ClientInstance, addr: &str) {
    let req = ClientInstance::request(request_code::UPDATE_AND_CREATE_TOPIC).with_header(
        &CreateTopicRequestHeader {
            topic: TOPIC.to_string(),
            default_topic: "TBW102".into(),
            read_queue_nums: 4,
            write_queue_nums: 4,
            perm: 6,
            topic_filter_type: "SINGLE_TAG".into(),
            topic_sys_flag: None,
            order: false,
            attributes: None,
            force: None,
        },
    );
    let resp = client
        .invoke(addr, req)
        .await
        .expect("create topic request");
    assert_eq!(resp.code, response_code::SUCCESS, "{:?}", resp.remark);
}

fn brokers_in_route(rt: &tokio::runtime::Runtime, client: &ClientInstance) -> Vec<String> {
    rt.block_on(client.fetch_route(TOPIC))
        .map(|r| r.masters.keys().cloned().collect())
        .unwrap_or_default()
}

/// Every message of `TOPIC` on every readable queue, by `UNIQ_KEY` id -> broker name.
fn read_everything(
    rt: &tokio::runtime::Runtime,
    client: &ClientInstance,
) -> HashMap<String, String> {
    let route = rt.block_on(client.fetch_route(TOPIC)).expect("route");
    let mut seen = HashMap::new();
    for mq in &route.subscribe {
        let mut offset = 0;
        for _ in 0..100_000 {
            let r = rt
                .block_on(client.pull(&PullRequest {
                    group: "FAILOVER_READER".into(),
                    queue: mq.clone(),
                    offset,
                    max_msgs: 32,
                    filter: TagFilter::parse("*"),
                    suspend: None,
                    commit_offset: None,
                }))
                .expect("pull");
            for m in &r.messages {
                let id = m.properties.get("UNIQ_KEY").cloned().expect("UNIQ_KEY");
                seen.insert(id, mq.broker_name.clone());
            }
            offset = r.next_begin_offset;
            if r.status == PullStatus::NoNewMsg {
                break;
            }
        }
    }
    seen
}

#[test]
fn sends_fail_over_and_every_acknowledged_message_is_consumed() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
    let dir_a = tempfile::tempdir().unwrap();
    let dir_b = tempfile::tempdir().unwrap();
    // broker-a runs with the name server; broker-b registers with it.
    let cluster_a = EmbeddedCluster::start(broker_config(dir_a.path(), "broker-a")).unwrap();
    let ns = cluster_a.namesrv_addr().to_string();
    let broker_b = EmbeddedCluster::start_broker(broker_config(dir_b.path(), "broker-b"), &ns)
        .expect("broker-only start");
    assert_eq!(broker_b.namesrv_addr(), cluster_a.namesrv_addr());
    assert_ne!(broker_b.broker_addr(), cluster_a.broker_addr());

    let rt = tokio::runtime::Runtime::new().unwrap();
    let client = ClientInstance::new(
        ClientConfig {
            name_servers: vec![ns.clone()],
            route_refresh_interval: Duration::from_millis(200),
            connect_timeout: Duration::from_millis(500),
            ..ClientConfig::default()
        },
        None,
    );
    // The topic exists on both brokers before the first send. Left to auto-creation, it would
    // reach broker-b only if a send went there through the default route before the
    // producer's first route refresh, which a loaded machine can delay past that refresh.
    for addr in [cluster_a.broker_addr(), broker_b.broker_addr()] {
        rt.block_on(create_topic(&client, &addr.to_string()));
    }
    let producer = {
        let _guard = rt.enter();
        Arc::new(Producer::new(
            client.clone(),
            ProducerConfig {
                group: "FAILOVER_PG".into(),
                send_timeout: Duration::from_secs(3),
                retry_times: 2,
                ..ProducerConfig::default()
            },
        ))
    };

    // Sends until told to stop; records every acknowledgement and every failure.
    let acked: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let failures: Arc<Mutex<Vec<String>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let sender = {
        let (producer, acked, failures, stop) = (
            producer.clone(),
            acked.clone(),
            failures.clone(),
            stop.clone(),
        );
        rt.spawn(async move {
            for i in 0..20_000u32 {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let msg = Message {
                    topic: TOPIC.into(),
                    flag: 0,
                    properties: BTreeMap::new(),
                    body: Bytes::from(format!("message {i}")),
                };
                match producer.send(&msg).await {
                    Ok(r) => acked.lock().unwrap().push((r.msg_id, r.queue.broker_name)),
                    Err(e) => failures.lock().unwrap().push(e.to_string()),
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        })
    };
    let on = |broker: &str| {
        acked
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, b)| b == broker)
            .count()
    };

    // Both brokers take messages.
    wait_until("sends acknowledged by both brokers", || {
        on("broker-a") >= 50 && on("broker-b") >= 50
    });
    wait_until("the route to list both brokers", || {
        brokers_in_route(&rt, &client) == ["broker-a", "broker-b"]
    });

    // A second producer that never refreshes its route on its own: after the kill it still
    // believes in broker-b, so its sends must fail over (and isolate broker-b) by themselves.
    let stale_client = ClientInstance::new(
        ClientConfig {
            name_servers: vec![ns.clone()],
            route_refresh_interval: Duration::from_secs(3600),
            connect_timeout: Duration::from_millis(500),
            ..ClientConfig::default()
        },
        None,
    );
    let stale = {
        let _guard = rt.enter();
        Producer::new(
            stale_client.clone(),
            ProducerConfig {
                group: "FAILOVER_STALE_PG".into(),
                send_timeout: Duration::from_secs(3),
                ..ProducerConfig::default()
            },
        )
    };
    let send_stale = |i: u32| {
        rt.block_on(stale.send(&Message {
            topic: TOPIC.into(),
            flag: 0,
            properties: BTreeMap::new(),
            body: Bytes::from(format!("stale {i}")),
        }))
    };
    for i in 0..8 {
        let r = send_stale(i).expect("send before the kill");
        acked.lock().unwrap().push((r.msg_id, r.queue.broker_name));
    }
    assert!(stale_client
        .cached_route(TOPIC)
        .is_some_and(|r| r.masters.contains_key("broker-b")));

    // Kill broker-b: it closes its connections and does not unregister.
    broker_b.kill();
    let acked_at_kill = acked.lock().unwrap().len();
    let b_at_kill = on("broker-b");

    // Round robin over 4 + 4 queues: 8 sends pick broker-b at least once; each fails over.
    for i in 8..16 {
        let r = send_stale(i).expect("a send fails over to broker-a");
        assert_eq!(r.queue.broker_name, "broker-a");
        acked.lock().unwrap().push((r.msg_id, r.queue.broker_name));
    }
    assert_eq!(stale.isolated_brokers(), ["broker-b"]);
    assert!(stale_client
        .cached_route(TOPIC)
        .is_some_and(|r| r.masters.contains_key("broker-b")));
    // The name server expires broker-b, and the producer's refreshed route drops it.
    wait_until("the cached route to drop broker-b", || {
        client
            .cached_route(TOPIC)
            .is_some_and(|r| !r.masters.contains_key("broker-b") && !r.publish.is_empty())
    });
    wait_until("more sends after the route change", || {
        acked.lock().unwrap().len() >= acked_at_kill + 200
    });
    stop.store(true, Ordering::SeqCst);
    rt.block_on(sender).unwrap();

    let failures = failures.lock().unwrap().clone();
    assert!(failures.is_empty(), "sends failed: {failures:?}");
    let acked = acked.lock().unwrap().clone();
    assert_eq!(
        on("broker-b"),
        b_at_kill,
        "nothing is acknowledged by a dead broker"
    );
    assert!(acked.len() >= acked_at_kill + 200);

    // Restart broker-b on its store (a new port) and read both brokers back.
    let broker_b =
        EmbeddedCluster::start_broker(broker_config(dir_b.path(), "broker-b"), &ns).unwrap();
    wait_until("the restarted broker-b in the route", || {
        brokers_in_route(&rt, &client) == ["broker-a", "broker-b"]
    });
    let seen = read_everything(&rt, &client);
    let mut missing = Vec::new();
    for (id, broker) in &acked {
        match seen.get(id) {
            Some(b) => assert_eq!(b, broker, "message {id} read from another broker"),
            None => missing.push(id.clone()),
        }
    }
    assert!(
        missing.is_empty(),
        "{} of {} acknowledged messages were not consumed: {:?}",
        missing.len(),
        acked.len(),
        &missing[..missing.len().min(10)]
    );
    let distinct: HashSet<&String> = acked.iter().map(|(id, _)| id).collect();
    assert_eq!(distinct.len(), acked.len(), "message ids are unique");

    client.shutdown();
    stale_client.shutdown();
    broker_b.shutdown();
    cluster_a.shutdown();
}
