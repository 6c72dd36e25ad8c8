//! SQL92 filtering on the broker over raw frames: pulls return exactly the matching messages
//! (with the header's subscription and with a heartbeat's), a held pull wakes only for a
//! matching message, CHECK_CLIENT_CONFIG answers parse errors with position and reason, and
//! a broker with the property filter off refuses SQL92 as Java does.

mod common;

use common::*;
use rocketmq_protocol::properties::get_property;
use rocketmq_protocol::RemotingCommand;
use rocketmq_server::{EmbeddedCluster, ServerConfig};
use std::time::{Duration, Instant};

const SUBSCRIPTION_FLAG: i32 = 4;
const SUSPEND_FLAG: i32 = 2;

fn props(i: usize) -> String {
    let region = if i.is_multiple_of(2) { "eu" } else { "us" };
    let tag = if i.is_multiple_of(3) { "TagA" } else { "TagB" };
    format!("TAGS\u{1}{tag}\u{2}region\u{1}{region}\u{2}i\u{1}{i}\u{2}")
}

fn sql_pull(topic: &str, offset: i64, expr: &str) -> RemotingCommand {
    pull("G", topic, 0, offset, SUBSCRIPTION_FLAG, expr, 0).with_field("expressionType", "SQL92")
}

fn next_offset(r: &RemotingCommand) -> i64 {
    r.field("nextBeginOffset").unwrap().parse().unwrap()
}

/// Follows nextBeginOffset from 0 until PULL_NOT_FOUND; the `i` of every message returned.
fn pull_matching(c: &mut Client, topic: &str, expr: &str) -> Vec<usize> {
    let mut offset = 0;
    let mut seen = Vec::new();
    for _ in 0..1000 {
        let r = c.call(sql_pull(topic, offset, expr));
        assert_pull_header(&r);
        match r.code {
            0 => seen.extend(messages(&r).iter().map(|m| {
                get_property(&m.properties, "i")
                    .unwrap()
                    .parse::<usize>()
                    .unwrap()
            })),
            20 => {}
            19 => return seen,
            other => panic!("pull {expr:?} answered {other}: {:?}", r.remark),
        }
        let next = next_offset(&r);
        assert!(
            next > offset,
            "{expr:?}: offset did not advance from {offset}"
        );
        offset = next;
    }
    panic!("{expr:?}: no end after 1000 pulls");
}

fn send_all(c: &mut Client, topic: &str, n: usize) {
    for i in 0..n {
        let r = c.call(send_v1(topic, 0, format!("m{i}").as_bytes(), &props(i)));
        assert_eq!(r.code, 0, "{:?}", r.remark);
    }
}

#[test]
fn pulls_return_exactly_the_matching_messages() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = start(dir.path());
    let mut c = Client::connect(cluster.broker_addr());
    send_all(&mut c, "SQ", 100);
    type Case = (&'static str, fn(usize) -> bool);
    let cases: [Case; 6] = [
        ("region = 'eu' AND i >= 10", |i| i % 2 == 0 && i >= 10),
        ("TAGS = 'TagA' OR i = 1", |i| i % 3 == 0 || i == 1),
        ("i BETWEEN 20 AND 29", |i| (20..=29).contains(&i)),
        ("region IN ('us') AND TAGS <> 'TagA'", |i| {
            i % 2 == 1 && i % 3 != 0
        }),
        ("missing IS NULL", |_| true),
        ("missing = 'x' OR i > 1000", |_| false),
    ];
    for (expr, want) in cases {
        let expected: Vec<usize> = (0..100).filter(|i| want(*i)).collect();
        assert_eq!(pull_matching(&mut c, "SQ", expr), expected, "{expr}");
    }

    // Only matches count towards maxMsgNums (32): the 32nd even message is 62.
    let r = c.call(sql_pull("SQ", 0, "region = 'eu'"));
    assert_eq!(r.code, 0, "{:?}", r.remark);
    assert_eq!(messages(&r).len(), 32);
    assert_eq!(next_offset(&r), 63);

    // A header expression that does not parse: 23 with the position.
    let r = c.call(sql_pull("SQ", 0, "region = 'eu' AND i >"));
    assert_eq!(r.code, 23, "{:?}", r.remark);
    assert_pull_header(&r);
    assert!(
        r.remark.as_deref().unwrap().contains("line 1, column"),
        "{:?}",
        r.remark
    );
    cluster.shutdown();
}

#[test]
fn heartbeat_subscriptions_filter_pulls_without_the_subscription_bit() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = start(dir.path());
    let mut c = Client::connect(cluster.broker_addr());
    send_all(&mut c, "SB", 10);
    let heartbeat = |expr: &str| {
        let body = serde_json::json!({
            "clientID": "10.0.0.2@1#1",
            "consumerDataSet": [{
                "consumeFromWhere": "CONSUME_FROM_LAST_OFFSET", "consumeType": "CONSUME_PASSIVELY",
                "groupName": "HG", "messageModel": "CLUSTERING",
                "subscriptionDataSet": [{"expressionType": "SQL92", "subString": expr,
                    "subVersion": 1, "topic": "SB"}]
            }],
            "producerDataSet": []
        });
        RemotingCommand::new_request(34).with_body(body.to_string().into_bytes())
    };
    assert_eq!(c.call(heartbeat("i >= 7")).code, 0);
    let r = c.call(pull("HG", "SB", 0, 0, 0, "", 0));
    assert_eq!(r.code, 0, "{:?}", r.remark);
    let got: Vec<String> = messages(&r)
        .iter()
        .map(|m| String::from_utf8_lossy(&m.body).into_owned())
        .collect();
    assert_eq!(got, vec!["m7", "m8", "m9"]);

    // A heartbeat expression that does not parse: Java's FILTER_DATA_NOT_EXIST with why.
    assert_eq!(c.call(heartbeat("i >=")).code, 0);
    let r = c.call(pull("HG", "SB", 0, 0, 0, "", 0));
    assert_eq!(r.code, 27, "{:?}", r.remark);
    assert!(
        r.remark.as_deref().unwrap().contains("line 1"),
        "{:?}",
        r.remark
    );
    cluster.shutdown();
}

#[test]
fn a_held_pull_wakes_only_for_a_matching_message() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = start(dir.path());
    let mut c = Client::connect(cluster.broker_addr());
    let mut producer = Client::connect(cluster.broker_addr());
    let expr = "region = 'eu'";
    let send = |p: &mut Client, body: &str, region: &str| {
        let r = p.call(send_v1(
            "SH",
            0,
            body.as_bytes(),
            &format!("region\u{1}{region}\u{2}"),
        ));
        assert_eq!(r.code, 0, "{:?}", r.remark);
    };
    send(&mut producer, "first", "us");
    // Entries there, none matching: PULL_RETRY_IMMEDIATELY past them, not held.
    let r = c.call(sql_pull("SH", 0, expr).with_field("sysFlag", SUBSCRIPTION_FLAG | SUSPEND_FLAG));
    assert_eq!((r.code, next_offset(&r)), (20, 1));

    let held = |offset: i64, suspend_ms: i64| {
        pull(
            "G",
            "SH",
            0,
            offset,
            SUBSCRIPTION_FLAG | SUSPEND_FLAG,
            expr,
            suspend_ms,
        )
        .with_field("expressionType", "SQL92")
    };
    let opaque = c.send(held(1, 15_000));
    // Nothing there yet: the pull is held (and so sees the next appends as arrivals). The
    // quiet second gives the broker time to take the request in before the append.
    assert!(c.wait_response(opaque, Duration::from_secs(1)).is_none());
    send(&mut producer, "other", "us");
    assert!(
        c.wait_response(opaque, Duration::from_millis(500))
            .is_none(),
        "a non-matching message woke the held pull"
    );
    send(&mut producer, "match", "eu");
    let r = c.wait_response(opaque, WAIT).expect("held pull answered");
    assert_eq!(r.code, 0, "{:?}", r.remark);
    let m = messages(&r);
    assert_eq!(m.len(), 1);
    assert_eq!(&m[0].body[..], b"match");
    assert_eq!(next_offset(&r), 3);

    // Only non-matching messages until the timeout: retry past them.
    let asked = Instant::now();
    let opaque = c.send(held(3, 2_500));
    assert!(c.wait_response(opaque, Duration::from_secs(1)).is_none());
    send(&mut producer, "late", "us");
    let r = c.wait_response(opaque, WAIT).expect("held pull timed out");
    assert!(asked.elapsed() >= Duration::from_millis(2_500));
    assert_eq!((r.code, next_offset(&r)), (20, 4), "{:?}", r.remark);
    // Nothing at all until the timeout: PULL_NOT_FOUND at the same offset.
    let r = c.call(held(4, 300));
    assert_eq!((r.code, next_offset(&r)), (19, 4), "{:?}", r.remark);
    cluster.shutdown();
}

#[test]
fn a_held_pull_reads_past_a_batch_longer_than_one_scan() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = start(dir.path());
    let mut c = Client::connect(cluster.broker_addr());
    let mut producer = Client::connect(cluster.broker_addr());
    assert_eq!(
        c.call(send_v1("SL", 0, b"first", "region\u{1}us\u{2}"))
            .code,
        0
    );
    let expr = "region = 'eu'";
    let held = pull(
        "G",
        "SL",
        0,
        1,
        SUBSCRIPTION_FLAG | SUSPEND_FLAG,
        expr,
        60_000,
    )
    .with_field("expressionType", "SQL92");
    let opaque = c.send(held);
    assert!(c.wait_response(opaque, Duration::from_secs(1)).is_none());
    // One append of 1000 messages, only the last one matching: more than one read scans.
    let mut blob = Vec::new();
    for i in 0..1000 {
        let region = if i == 999 { "eu" } else { "us" };
        blob.extend(batch_entry(
            format!("b{i}").as_bytes(),
            &format!("region\u{1}{region}\u{2}"),
        ));
    }
    let r = producer.call(send_v1("SL", 0, &blob, "").with_field("batch", true));
    assert_eq!(r.code, 0, "{:?}", r.remark);
    let r = c
        .wait_response(opaque, WAIT)
        .expect("held pull answered for the match");
    assert_eq!(r.code, 0, "{:?}", r.remark);
    let m = messages(&r);
    assert_eq!(m.len(), 1);
    assert_eq!(&m[0].body[..], b"b999");
    assert_eq!(next_offset(&r), 1001);
    cluster.shutdown();
}

fn check(sub: &str, ty: &str) -> RemotingCommand {
    RemotingCommand::new_request(46).with_body(
        serde_json::json!({"clientId": "c", "group": "g",
            "subscriptionData": {"topic": "T", "subString": sub, "expressionType": ty}})
        .to_string()
        .into_bytes(),
    )
}

#[test]
fn check_client_config_answers_position_and_reason() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = start(dir.path());
    let mut c = Client::connect(cluster.broker_addr());
    assert_eq!(
        c.call(check("region = 'eu' AND amount > 100", "SQL92"))
            .code,
        0
    );
    assert_eq!(c.call(check("TagA || TagB", "TAG")).code, 0);
    for (expr, position, reason) in [
        ("amount > '100'", "line 1, column 8", "cannot be compared"),
        ("region = 'eu' AND", "line 1, column", "was expecting"),
        (
            "region = 'eu' AND\n  amount >> 1",
            "line 2, column 11",
            "encountered \">\"",
        ),
    ] {
        let r = c.call(check(expr, "SQL92"));
        assert_eq!(r.code, 23, "{expr:?}");
        let remark = r.remark.unwrap_or_default();
        assert!(
            remark.contains(position) && remark.contains(reason),
            "{expr:?}: {remark}"
        );
    }
    cluster.shutdown();
}

#[test]
fn sql92_is_refused_when_the_property_filter_is_off() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = EmbeddedCluster::start(ServerConfig {
        enable_property_filter: false,
        ..config(dir.path())
    })
    .expect("cluster starts");
    let mut c = Client::connect(cluster.broker_addr());
    send_all(&mut c, "SO", 3);
    let r = c.call(check("a = 1", "SQL92"));
    assert_eq!(r.code, 1);
    assert!(r.remark.unwrap_or_default().contains("does not support"));
    assert_eq!(c.call(check("TagA", "TAG")).code, 0);
    let r = c.call(sql_pull("SO", 0, "i = 1"));
    assert_eq!(r.code, 1, "{:?}", r.remark);
    assert_pull_header(&r);
    let r = c.call(pull("G", "SO", 0, 0, SUBSCRIPTION_FLAG, "TagA", 0));
    assert_eq!(r.code, 0, "{:?}", r.remark);
    assert_eq!(messages(&r).len(), 1);
    cluster.shutdown();
}
