//! POP consumption over raw commands on a real broker on 127.0.0.1: invisible time,
//! redelivery, acks, invisible-time changes, stale handles, concurrent poppers, the
//! dead-letter rule, long polling and notifications.

mod common;
mod pop_util;

use common::*;
use pop_util::*;
use rocketmq_protocol::code::response_code as resp;
use rocketmq_protocol::pop::{BatchAck, BatchAckMessageRequestBody, TopicKind};
use rocketmq_protocol::properties::{get_property, FIRST_POP_TIME, POP_CK};
use rocketmq_protocol::RemotingCommand;
use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[test]
fn expiry_redelivers_with_reconsume_plus_one_and_an_ack_is_final() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = start(dir.path());
    let mut c = Client::connect(cluster.broker_addr());
    create_topic(&mut c, "PT", 2);
    for i in 0..4 {
        send(&mut c, "PT", i % 2, &format!("m{i}"), "");
    }
    let first = pop_until(&mut c, "G", "PT", 4, 3000, WAIT);
    assert_eq!(first.len(), 4);
    assert!(first
        .iter()
        .all(|p| p.msg.reconsume_times == 0 && p.handle.kind == TopicKind::Normal));
    // Invisible: nothing more right now.
    let none = pop(&mut c, "G", "PT", 32, 3000, 0);
    assert_eq!(none.code, resp::POLLING_TIMEOUT, "{:?}", none.remark);
    assert!(
        none.command.field("popTime").is_some(),
        "the answer carries the POP header"
    );

    let (acked, unacked) = first.split_at(2);
    for p in acked {
        let r = ack(&mut c, "G", "PT", p);
        assert_eq!(r.code, 0, "{:?}", r.remark);
        // The same handle again: refused, as is another group's use of it.
        let again = ack(&mut c, "G", "PT", p);
        assert_eq!(again.code, resp::NO_MESSAGE, "{:?}", again.remark);
    }
    let foreign = ack(&mut c, "OTHER", "PT", &unacked[0]);
    assert_eq!(foreign.code, resp::NO_MESSAGE, "{:?}", foreign.remark);
    let garbage = c.call(ack_request("G", "PT", &unacked[0]).with_field("extraInfo", "garbage"));
    assert_eq!(garbage.code, resp::SYSTEM_ERROR, "{:?}", garbage.remark);

    // The two unacked come back from the retry topic, under the topic's name, count + 1.
    let again = pop_until(&mut c, "G", "PT", 2, 5000, WAIT);
    let mut bodies: Vec<String> = again.iter().map(Popped::body).collect();
    bodies.sort();
    let mut expected: Vec<String> = unacked.iter().map(Popped::body).collect();
    expected.sort();
    assert_eq!(bodies, expected);
    for p in &again {
        assert_eq!(p.msg.reconsume_times, 1);
        assert_eq!(p.msg.topic, "PT");
        assert_eq!(p.handle.kind, TopicKind::RetryV1);
        assert!(get_property(&p.msg.properties, POP_CK).is_some());
        assert!(get_property(&p.msg.properties, FIRST_POP_TIME).is_some());
        // The first delivery's handle is stale now.
        let stale = ack(
            &mut c,
            "G",
            "PT",
            unacked.iter().find(|u| u.body() == p.body()).unwrap(),
        );
        assert_eq!(stale.code, resp::NO_MESSAGE, "{:?}", stale.remark);
        assert_eq!(ack(&mut c, "G", "PT", p).code, 0);
    }
    // Everything acked: nothing comes back after the invisible time.
    let later = pop_until(&mut c, "G", "PT", 1, 1000, Duration::from_millis(2500));
    assert!(
        later.is_empty(),
        "acked messages came back: {:?}",
        later.iter().map(Popped::body).collect::<Vec<_>>()
    );
    cluster.shutdown();
}

#[test]
fn change_invisible_extends_and_shortens() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = start(dir.path());
    let mut c = Client::connect(cluster.broker_addr());
    create_topic(&mut c, "CT", 1);
    send(&mut c, "CT", 0, "x", "");
    let p = pop_until(&mut c, "G", "CT", 1, 2000, WAIT).remove(0);
    let r = change_invisible(&mut c, "G", "CT", &p, 60_000);
    assert_eq!(r.code, 0, "{:?}", r.remark);
    let extended = changed_handle(&p, &r);
    // The old handle is stale; past the first invisible time the message stays hidden.
    assert_eq!(ack(&mut c, "G", "CT", &p).code, resp::NO_MESSAGE);
    assert_eq!(
        change_invisible(&mut c, "G", "CT", &p, 10).code,
        resp::NO_MESSAGE
    );
    let hidden = pop_until(&mut c, "G", "CT", 1, 2000, Duration::from_millis(2800));
    assert!(hidden.is_empty(), "an extended message came back early");
    // Shortened to nothing: it comes back at once, one more attempt.
    let r = change_invisible(&mut c, "G", "CT", &extended, 0);
    assert_eq!(r.code, 0, "{:?}", r.remark);
    let back = pop_until(&mut c, "G", "CT", 1, 10_000, WAIT);
    assert_eq!(back.len(), 1);
    assert_eq!(back[0].body(), "x");
    assert_eq!(back[0].msg.reconsume_times, 1);
    assert_eq!(ack(&mut c, "G", "CT", &back[0]).code, 0);
    cluster.shutdown();
}

/// `consumers` poppers of one group share a backlog: every message is handed out once.
fn share_backlog(consumers: usize) {
    let dir = tempfile::tempdir().unwrap();
    let cluster = start(dir.path());
    let topic = format!("ST{consumers}");
    let mut c = Client::connect(cluster.broker_addr());
    create_topic(&mut c, &topic, 4);
    let total = 200;
    for i in 0..total {
        send(&mut c, &topic, i % 4, &format!("m{i}"), "");
    }
    let seen = Arc::new(Mutex::new(Vec::<String>::new()));
    let addr = cluster.broker_addr();
    let threads: Vec<_> = (0..consumers)
        .map(|_| {
            let seen = seen.clone();
            let topic = topic.clone();
            std::thread::spawn(move || {
                let mut c = Client::connect(addr);
                let deadline = Instant::now() + WAIT;
                while seen.lock().unwrap().len() < total as usize && Instant::now() < deadline {
                    // Invisible far longer than the test: a second delivery is a bug.
                    let a = pop(&mut c, "SG", &topic, 8, 60_000, 200);
                    for p in a.messages {
                        assert_eq!(ack(&mut c, "SG", &topic, &p).code, 0);
                        seen.lock().unwrap().push(p.body());
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let seen = seen.lock().unwrap();
    let unique: HashSet<&String> = seen.iter().collect();
    assert_eq!(
        unique.len(),
        seen.len(),
        "a message was handed to two poppers"
    );
    assert_eq!(seen.len(), total as usize);
    cluster.shutdown();
}

#[test]
fn two_poppers_share_a_backlog() {
    share_backlog(2);
}

#[test]
fn ten_poppers_share_a_backlog() {
    share_backlog(10);
}

#[test]
fn after_the_maximum_a_message_goes_to_the_dead_letter_topic() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = start(dir.path());
    let mut c = Client::connect(cluster.broker_addr());
    create_topic(&mut c, "DT", 1);
    send(&mut c, "DT", 0, "doomed", "");
    let mut counts = Vec::new();
    let deadline = Instant::now() + WAIT;
    // Never acked: delivered 1 + 16 times, then dead-lettered.
    while counts.len() < 17 && Instant::now() < deadline {
        for p in pop(&mut c, "DG", "DT", 32, 100, 1000).messages {
            counts.push(p.msg.reconsume_times);
        }
    }
    assert_eq!(counts, (0..=16).collect::<Vec<i32>>());
    let dlq = loop {
        let r = c.call(pull("DG", "%DLQ%DG", 0, 0, 4, "*", 0));
        if r.code == 0 {
            break messages(&r);
        }
        assert!(
            Instant::now() < deadline,
            "no dead letter: {} {:?}",
            r.code,
            r.remark
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(dlq.len(), 1);
    assert_eq!(dlq[0].body.as_ref(), b"doomed");
    assert!(pop_until(&mut c, "DG", "DT", 1, 100, Duration::from_millis(800)).is_empty());
    cluster.shutdown();
}

#[test]
fn a_held_pop_returns_as_soon_as_a_message_arrives() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = start(dir.path());
    let mut c = Client::connect(cluster.broker_addr());
    create_topic(&mut c, "LT", 2);
    let mut popper = Client::connect(cluster.broker_addr());
    let opaque = popper.send(pop_request("LG", "LT", -1, 32, 10_000, 15_000, false));
    // Held: no answer while nothing is there.
    assert!(popper
        .wait_response(opaque, Duration::from_millis(300))
        .is_none());
    let sent = Instant::now();
    send(&mut c, "LT", 1, "wake", "");
    let r = popper.wait_response(opaque, WAIT).expect("an answer");
    let a = read_pop(r);
    assert_eq!(a.code, 0, "{:?}", a.remark);
    assert_eq!(a.messages[0].body(), "wake");
    assert!(
        sent.elapsed() < Duration::from_secs(10),
        "answered by the arrival, not the poll time"
    );

    // NOTIFICATION: nothing to pop (all in flight) until a new message arrives.
    let notify = |poll: i64| {
        RemotingCommand::new_request(200054)
            .with_field("consumerGroup", "LG")
            .with_field("topic", "LT")
            .with_field("queueId", -1)
            .with_field("pollTime", poll)
            .with_field("bornTime", rocketmq_protocol::now_millis())
    };
    let r = c.call(notify(0));
    assert_eq!((r.code, r.field("hasMsg")), (0, Some("false")));
    let opaque = popper.send(notify(15_000));
    assert!(popper
        .wait_response(opaque, Duration::from_millis(300))
        .is_none());
    send(&mut c, "LT", 0, "more", "");
    let r = popper
        .wait_response(opaque, WAIT)
        .expect("a notification answer");
    assert_eq!((r.code, r.field("hasMsg")), (0, Some("true")));
    cluster.shutdown();
}

#[test]
fn a_batch_ack_is_checked_whole() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = start(dir.path());
    let mut c = Client::connect(cluster.broker_addr());
    create_topic(&mut c, "BT", 1);
    for i in 0..3 {
        send(&mut c, "BT", 0, &format!("b{i}"), "");
    }
    let got = pop_until(&mut c, "BG", "BT", 3, 3000, WAIT);
    assert_eq!(got.len(), 3);
    let h = &got[0].handle;
    let batch = |offsets: &[i64], pop_time: i64| BatchAckMessageRequestBody {
        broker_name: BROKER_NAME.into(),
        acks: vec![BatchAck {
            consumer_group: "BG".into(),
            topic: "BT".into(),
            retry: "0".into(),
            start_offset: h.ck_queue_offset,
            queue_id: 0,
            revive_queue_id: h.revive_qid,
            pop_time,
            invisible_time: h.invisible_time,
            acked: offsets
                .iter()
                .map(|o| (o - h.ck_queue_offset) as u32)
                .collect(),
        }],
    };
    let call = |c: &mut Client, body: &BatchAckMessageRequestBody| {
        c.call(
            RemotingCommand::new_request(200151)
                .with_body(rocketmq_protocol::body::encode_json(body).to_vec()),
        )
    };
    // One stale entry (wrong pop time) refuses the whole batch.
    let r = call(&mut c, &batch(&[0, 1], h.pop_time - 1));
    assert_eq!(r.code, resp::NO_MESSAGE, "{:?}", r.remark);
    let r = call(&mut c, &batch(&[0, 1], h.pop_time));
    assert_eq!(r.code, 0, "{:?}", r.remark);
    let back = pop_until(&mut c, "BG", "BT", 1, 10_000, WAIT);
    let bodies: BTreeMap<String, i32> = back
        .iter()
        .map(|p| (p.body(), p.msg.reconsume_times))
        .collect();
    assert_eq!(bodies, BTreeMap::from([("b2".to_string(), 1)]));
    cluster.shutdown();
}

#[test]
fn pop_and_pull_groups_share_a_topic_and_pop_offsets_show_in_consume_stats() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = start(dir.path());
    let mut c = Client::connect(cluster.broker_addr());
    create_topic(&mut c, "MT", 2);
    for i in 0..6 {
        send(&mut c, "MT", i % 2, &format!("m{i}"), "");
    }
    let popped = pop_until(&mut c, "POPG", "MT", 6, 60_000, WAIT);
    assert_eq!(popped.len(), 6);
    for p in &popped {
        assert_eq!(ack(&mut c, "POPG", "MT", p).code, 0);
    }
    // A pull group reads the same messages, untouched by the POP group.
    let pulled: usize = (0..2)
        .map(|q| {
            let r = c.call(pull("PULLG", "MT", q, 0, 4, "*", 0));
            assert_eq!(r.code, 0, "{:?}", r.remark);
            messages(&r).len()
        })
        .sum();
    assert_eq!(pulled, 6);
    let r = c.call(
        RemotingCommand::new_request(208)
            .with_field("consumerGroup", "POPG")
            .with_field("topic", "MT"),
    );
    assert_eq!(r.code, 0, "{:?}", r.remark);
    let stats = rocketmq_protocol::body::ConsumeStats::decode(&r.body).unwrap();
    assert_eq!(stats.offset_table.len(), 2);
    for w in stats.offset_table.values() {
        assert_eq!((w.consumer_offset, w.broker_offset), (3, 3));
    }
    cluster.shutdown();
}

#[test]
fn malformed_pop_requests_are_answered_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = start(dir.path());
    let mut c = Client::connect(cluster.broker_addr());
    create_topic(&mut c, "XT", 1);
    send(&mut c, "XT", 0, "x", "");
    for code in [200050, 200051, 200151, 200053, 200054] {
        let r = c.call(RemotingCommand::new_request(code).with_field("topic", "XT"));
        assert_ne!(r.code, 0, "code {code} without its fields must fail");
        assert!(
            r.remark.is_some_and(|m| !m.is_empty()),
            "code {code}: a reason"
        );
        let r = c.call(RemotingCommand::new_request(code).with_body(b"{not json".to_vec()));
        assert_ne!(r.code, 0, "code {code} with garbage must fail");
    }
    let unknown = read_pop(c.call(pop_request("G", "NOPE", -1, 1, 1000, 0, false)));
    assert_eq!(unknown.code, resp::TOPIC_NOT_EXIST);
    assert_eq!(
        unknown.command.field("popTime"),
        Some("0"),
        "refusals carry the POP header"
    );
    let too_many = read_pop(c.call(pop_request("G", "XT", -1, 33, 1000, 0, false)));
    assert_eq!(too_many.code, resp::INVALID_PARAMETER);
    let late = c.call(pop_request("G", "XT", -1, 1, 1000, 0, false).with_field("bornTime", 1));
    assert_eq!(late.code, resp::POLLING_TIMEOUT);
    // Nothing above took the message.
    let got = pop_until(&mut c, "G", "XT", 1, 1000, WAIT);
    assert_eq!(got.len(), 1);
    cluster.shutdown();
}

#[test]
fn a_tag_expression_filters_pops_and_their_redeliveries() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = start(dir.path());
    let mut c = Client::connect(cluster.broker_addr());
    create_topic(&mut c, "FT", 1);
    for (i, tag) in ["a", "b", "a", "c"].iter().enumerate() {
        let props = rocketmq_protocol::properties::encode_pairs(&[("TAGS", tag)]);
        send(&mut c, "FT", 0, &format!("{tag}{i}"), &props);
    }
    let filtered = |c: &mut Client, poll: i64| {
        read_pop(
            c.call(pop_request("TG", "FT", -1, 32, 1000, poll, false).with_field("exp", "a || c")),
        )
    };
    let first = filtered(&mut c, 0);
    let bodies: Vec<String> = first.messages.iter().map(Popped::body).collect();
    assert_eq!(bodies, vec!["a0", "a2", "c3"]);
    assert_eq!(ack(&mut c, "TG", "FT", &first.messages[0]).code, 0);
    // The two unacked come back through the retry topic, still filtered, nothing else.
    let deadline = Instant::now() + WAIT;
    let mut back = Vec::new();
    while back.len() < 2 && Instant::now() < deadline {
        back.extend(filtered(&mut c, 2000).messages);
    }
    let mut bodies: Vec<String> = back.iter().map(Popped::body).collect();
    bodies.sort();
    assert_eq!(bodies, vec!["a2", "c3"]);
    cluster.shutdown();
}

#[test]
fn an_sql92_selector_filters_pops_and_an_invalid_one_is_refused_with_its_position() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = start(dir.path());
    let mut c = Client::connect(cluster.broker_addr());
    create_topic(&mut c, "FS", 2);
    for (i, (region, amount)) in [("eu", "150"), ("us", "500"), ("eu", "50"), ("eu", "101")]
        .iter()
        .enumerate()
    {
        let props =
            rocketmq_protocol::properties::encode_pairs(&[("region", region), ("amount", amount)]);
        send(&mut c, "FS", i as i32 % 2, &format!("m{i}"), &props);
    }
    let sql = |exp: &str| {
        pop_request("SG", "FS", -1, 32, 5000, 0, false)
            .with_field("expType", "SQL92")
            .with_field("exp", exp)
    };
    let mut bodies: Vec<String> = read_pop(c.call(sql("region = 'eu' AND amount > 100")))
        .messages
        .iter()
        .map(Popped::body)
        .collect();
    bodies.sort();
    assert_eq!(bodies, vec!["m0", "m3"]);
    let refused = c.call(sql("region = = 'eu'"));
    assert_eq!(refused.code, resp::SUBSCRIPTION_PARSE_FAILED);
    let remark = refused.remark.unwrap_or_default();
    assert!(remark.contains("line 1, column"), "{remark}");
    cluster.shutdown();
}

#[test]
fn the_groups_retry_max_times_decides_the_dead_letter_and_consume_enable_false_refuses() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = start(dir.path());
    let mut c = Client::connect(cluster.broker_addr());
    create_topic(&mut c, "GT", 1);
    let group = |name: &str, fields: &str| {
        RemotingCommand::new_request(200)
            .with_body(format!("{{\"groupName\":\"{name}\",{fields}}}").into_bytes())
    };
    assert_eq!(c.call(group("G2", "\"retryMaxTimes\":2")).code, 0);
    assert_eq!(c.call(group("GOFF", "\"consumeEnable\":false")).code, 0);
    send(&mut c, "GT", 0, "twice", "");
    let refused = c.call(pop_request("GOFF", "GT", -1, 32, 1000, 0, false));
    assert_eq!(refused.code, resp::NO_PERMISSION);
    assert!(refused.remark.unwrap_or_default().contains("GOFF"));
    let mut counts = Vec::new();
    let deadline = Instant::now() + WAIT;
    // Never acked: delivered 1 + 2 times, then dead-lettered.
    while counts.len() < 3 && Instant::now() < deadline {
        for p in pop(&mut c, "G2", "GT", 32, 100, 1000).messages {
            counts.push(p.msg.reconsume_times);
        }
    }
    assert_eq!(counts, vec![0, 1, 2]);
    let dlq = loop {
        let r = c.call(pull("G2", "%DLQ%G2", 0, 0, 4, "*", 0));
        if r.code == 0 {
            break messages(&r);
        }
        assert!(
            Instant::now() < deadline,
            "no dead letter: {} {:?}",
            r.code,
            r.remark
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(dlq.len(), 1);
    assert_eq!(dlq[0].body.as_ref(), b"twice");
    cluster.shutdown();
}

#[test]
fn a_priority_topic_is_popped_from_its_highest_priority_queue_down() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = start(dir.path());
    let mut c = Client::connect(cluster.broker_addr());
    create_topic_of_type(&mut c, "PRIO", 4, "PRIORITY");
    // Sent to queue 0 each time: the broker moves each to its priority's queue.
    for p in [0, 1, 2, 3, 7] {
        let props = format!("_SYS_MSG_PRIORITY_\u{1}{p}\u{2}");
        send(&mut c, "PRIO", 0, &format!("p{p}"), &props);
    }
    let mut order = Vec::new();
    for _ in 0..5 {
        let got = pop(&mut c, "G", "PRIO", 1, 60_000, 0);
        assert_eq!(got.code, 0, "{:?}", got.remark);
        let p = &got.messages[0];
        order.push((p.body(), p.msg.queue_id));
        assert_eq!(ack(&mut c, "G", "PRIO", p).code, 0);
    }
    assert_eq!(
        order,
        [
            ("p3".to_string(), 3),
            ("p7".to_string(), 3),
            ("p2".to_string(), 2),
            ("p1".to_string(), 1),
            ("p0".to_string(), 0)
        ]
    );
    // The queue rule goes by the message's properties, not the topic's type (as Apache's
    // broker's does): on an untyped topic too the priority names the queue.
    create_topic(&mut c, "PLAIN", 4);
    send(&mut c, "PLAIN", 0, "x", "_SYS_MSG_PRIORITY_\u{1}3\u{2}");
    let got = pop_until(&mut c, "G", "PLAIN", 1, 60_000, WAIT);
    assert_eq!(got[0].msg.queue_id, 3);
    cluster.shutdown();
}
