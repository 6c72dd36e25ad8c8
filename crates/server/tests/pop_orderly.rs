//! Orderly POP (`order=true`) over raw commands on a real broker on 127.0.0.1: message
//! groups (`__SHARDINGKEY`, one queue each) consumed by several poppers with failures
//! injected are seen strictly in order and none is lost; a queue with a message in flight
//! hands out nothing newer.

mod common;
mod pop_util;

use common::*;
use pop_util::*;
use rocketmq_protocol::code::response_code as resp;
use rocketmq_protocol::pop::{OrderCountInfo, QueueKey, TopicKind, POP_ORDER_REVIVE_QUEUE};
use rocketmq_protocol::properties::{encode_pairs, get_property, SHARDING_KEY};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

const GROUPS: usize = 20;
const PER_GROUP: usize = 20;
const QUEUES: i32 = 4;

fn parse_body(body: &str) -> (usize, usize) {
    let (g, k) = body.split_once(':').unwrap();
    (g[1..].parse().unwrap(), k.parse().unwrap())
}

/// The injected failure: the first delivery of some messages is not acked.
fn fails_first_time(g: usize, k: usize) -> bool {
    (g * 31 + k * 17).is_multiple_of(13)
}

#[test]
fn message_groups_are_seen_strictly_in_order_with_failures_and_none_is_lost() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = start(dir.path());
    let mut c = Client::connect(cluster.broker_addr());
    create_topic(&mut c, "FT", QUEUES);
    // Interleave the groups; each group's messages go to one queue, in order.
    for k in 0..PER_GROUP {
        for g in 0..GROUPS {
            let props = encode_pairs(&[(SHARDING_KEY, &format!("g{g}"))]);
            send(
                &mut c,
                "FT",
                g as i32 % QUEUES,
                &format!("g{g}:{k}"),
                &props,
            );
        }
    }
    // next[g]: the next message of group g a consumer may see; guarded per group while a
    // consumer acks, so a popper that gets the following message sees the update.
    let next: Arc<Vec<Mutex<usize>>> = Arc::new((0..GROUPS).map(|_| Mutex::new(0)).collect());
    let attempts = Arc::new(Mutex::new(HashMap::<(usize, usize), usize>::new()));
    let max_count = Arc::new(Mutex::new(HashMap::<(usize, usize), i32>::new()));
    let addr = cluster.broker_addr();
    let done = |next: &Vec<Mutex<usize>>| next.iter().all(|n| *n.lock().unwrap() == PER_GROUP);
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let (next, attempts, max_count) = (next.clone(), attempts.clone(), max_count.clone());
            std::thread::spawn(move || {
                let mut c = Client::connect(addr);
                let deadline = Instant::now() + WAIT * 2;
                while !done(&next) && Instant::now() < deadline {
                    let r = c.call(pop_request("FG", "FT", -1, 8, 500, 300, true));
                    let counts = r
                        .field("orderCountInfo")
                        .map(|t| OrderCountInfo::parse(t).unwrap())
                        .unwrap_or_default();
                    let a = read_pop(r);
                    assert!(matches!(a.code, 0 | 210), "{} {:?}", a.code, a.remark);
                    let mut stopped_queues = Vec::new();
                    for p in &a.messages {
                        assert_eq!(p.handle.revive_qid, POP_ORDER_REVIVE_QUEUE);
                        let (g, k) = parse_body(&p.body());
                        assert_eq!(
                            get_property(&p.msg.properties, SHARDING_KEY),
                            Some(format!("g{g}").as_str())
                        );
                        let key = QueueKey {
                            kind: TopicKind::Normal,
                            queue_id: p.msg.queue_id,
                        };
                        let count = counts.count_for(key, p.msg.queue_offset).unwrap_or(0);
                        let mut mc = max_count.lock().unwrap();
                        let e = mc.entry((g, k)).or_insert(0);
                        *e = (*e).max(count);
                        drop(mc);
                        let attempt = {
                            let mut at = attempts.lock().unwrap();
                            let n = at.entry((g, k)).or_insert(0);
                            *n += 1;
                            *n
                        };
                        if stopped_queues.contains(&p.msg.queue_id) {
                            continue;
                        }
                        let mut n = next[g].lock().unwrap();
                        assert_eq!(k, *n, "group {g}: saw message {k} while {} was due", *n);
                        if attempt == 1 && fails_first_time(g, k) {
                            // A failure: an orderly consumer stops this queue's batch here.
                            stopped_queues.push(p.msg.queue_id);
                            continue;
                        }
                        let r = ack(&mut c, "FG", "FT", p);
                        if r.code == 0 {
                            *n = k + 1;
                        } else {
                            assert_eq!(r.code, resp::NO_MESSAGE, "{:?}", r.remark);
                            stopped_queues.push(p.msg.queue_id);
                        }
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    for (g, n) in next.iter().enumerate() {
        assert_eq!(*n.lock().unwrap(), PER_GROUP, "group {g} is incomplete");
    }
    let max_count = max_count.lock().unwrap();
    for g in 0..GROUPS {
        for k in 0..PER_GROUP {
            if fails_first_time(g, k) {
                assert!(
                    max_count[&(g, k)] >= 1,
                    "redelivery of g{g}:{k} carried no order count"
                );
            }
        }
    }
    cluster.shutdown();
}

#[test]
fn a_queue_with_a_message_in_flight_hands_out_nothing_newer() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = start(dir.path());
    let mut c = Client::connect(cluster.broker_addr());
    create_topic(&mut c, "OT", 1);
    for i in 0..3 {
        send(&mut c, "OT", 0, &format!("o{i}"), "");
    }
    let first = read_pop(
        c.call(pop_request("OG", "OT", 0, 1, 2000, 0, true).with_field("attemptId", "A1")),
    );
    assert_eq!(first.messages.len(), 1);
    assert_eq!(first.messages[0].body(), "o0");
    assert_eq!(first.command.field("orderCountInfo"), Some("0 0 0"));
    // A retry of the same request (same attempt id) gets the same message, not counted again.
    let retried = read_pop(
        c.call(pop_request("OG", "OT", 0, 1, 2000, 0, true).with_field("attemptId", "A1")),
    );
    assert_eq!(retried.messages.len(), 1);
    assert_eq!(retried.messages[0].body(), "o0");
    assert_eq!(retried.command.field("orderCountInfo"), Some("0 0 0"));
    let first = retried;
    // Blocked while o0 is in flight, for any popper of the group.
    let blocked = read_pop(
        c.call(pop_request("OG", "OT", -1, 8, 800, 0, true).with_field("attemptId", "A2")),
    );
    assert_eq!(blocked.code, resp::POLLING_TIMEOUT);
    // A held orderly POP gets o0 again once its time passed (not o1).
    let again = read_pop(c.call(pop_request("OG", "OT", -1, 1, 5000, 10_000, true)));
    assert_eq!(again.messages.len(), 1);
    assert_eq!(again.messages[0].body(), "o0");
    // Java's form: the message's own count, then the queue's smallest.
    assert_eq!(
        again.command.field("orderCountInfo"),
        Some("0 qo0%0 1;0 0 1")
    );
    assert_eq!(
        ack(&mut c, "OG", "OT", &first.messages[0]).code,
        resp::NO_MESSAGE,
        "stale"
    );
    assert_eq!(ack(&mut c, "OG", "OT", &again.messages[0]).code, 0);
    // The committed offset follows the acks.
    let r = c.call(
        rocketmq_protocol::RemotingCommand::new_request(14)
            .with_field("consumerGroup", "OG")
            .with_field("topic", "OT")
            .with_field("queueId", 0),
    );
    assert_eq!(r.field("offset"), Some("1"));
    let rest = read_pop(c.call(pop_request("OG", "OT", -1, 8, 5000, 0, true)));
    let bodies: Vec<String> = rest.messages.iter().map(Popped::body).collect();
    assert_eq!(bodies, vec!["o1", "o2"]);
    cluster.shutdown();
}
