//! Broker behaviour towards consumers over raw frames: offsets, heartbeats and
//! notifications, expiry, queue locks, delayed messages and send-back, retry limits, and the
//! admin queries.

mod common;

use common::*;
use rocketmq_protocol::properties::get_property;
use rocketmq_protocol::RemotingCommand;
use rocketmq_server::EmbeddedCluster;
use std::time::{Duration, Instant};

#[test]
fn consumer_offsets_young_queues_answer_0_and_commits_stick() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = start(dir.path());
    let mut c = Client::connect(cluster.broker_addr());
    assert_eq!(c.call(send_v1("OF", 0, b"m", "")).code, 0);
    let query = |q: i32| {
        RemotingCommand::new_request(14)
            .with_field("consumerGroup", "CG")
            .with_field("topic", "OF")
            .with_field("queueId", q)
    };
    // A young queue, empty or not, answers 0 to a group without a committed offset (22 is
    // for queues whose start has moved past 0).
    let r = c.call(query(0));
    assert_eq!((r.code, r.field("offset")), (0, Some("0")));
    let r = c.call(query(1));
    assert_eq!((r.code, r.field("offset")), (0, Some("0")));
    let update = RemotingCommand::new_request(15)
        .with_field("consumerGroup", "CG")
        .with_field("topic", "OF")
        .with_field("queueId", 1)
        .with_field("commitOffset", 7);
    assert_eq!(c.call(update).code, 0);
    let r = c.call(query(1));
    assert_eq!((r.code, r.field("offset")), (0, Some("7")));
    // Commit through a pull (sysFlag bit 0).
    let p = pull("CG", "OF", 0, 1, 1 | 4, "*", 0).with_field("commitOffset", 1);
    assert_eq!(c.call(p).code, 19);
    let r = c.call(query(0));
    assert_eq!(r.field("offset"), Some("1"));

    let max = c.call(
        RemotingCommand::new_request(30)
            .with_field("topic", "OF")
            .with_field("queueId", 0),
    );
    assert_eq!(max.field("offset"), Some("1"));
    let min = c.call(
        RemotingCommand::new_request(31)
            .with_field("topic", "OF")
            .with_field("queueId", 0),
    );
    assert_eq!(min.field("offset"), Some("0"));
}

#[test]
fn heartbeat_consumer_list_and_notifications() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = start(dir.path());
    let mut a = Client::connect(cluster.broker_addr());
    let list = |c: &mut Client| {
        c.call(RemotingCommand::new_request(38).with_field("consumerGroup", "CG1"))
    };
    let r = list(&mut a);
    assert_eq!(r.code, 1);
    assert!(r.remark.unwrap().contains("no consumer for this group"));

    let hb =
        |id: &str| RemotingCommand::new_request(34).with_body(heartbeat_body(id, "CG1", "T", "*"));
    assert_eq!(a.call(hb("client-a")).code, 0);
    let r = list(&mut a);
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(v["consumerIdList"], serde_json::json!(["client-a"]));
    // The retry topic exists and has a route.
    wait_route(cluster.namesrv_addr(), "%RETRY%CG1");
    a.pushed.clear();

    let mut b = Client::connect(cluster.broker_addr());
    assert_eq!(b.call(hb("client-b")).code, 0);
    let n = a.wait_pushed(40, WAIT).expect("first consumer notified");
    assert_eq!(n.field("consumerGroup"), Some("CG1"));
    assert!(n.is_oneway());
    let r = list(&mut a);
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(
        v["consumerIdList"],
        serde_json::json!(["client-a", "client-b"])
    );

    // Same heartbeat again: no membership change, no notification.
    a.pushed.clear();
    assert_eq!(b.call(hb("client-b")).code, 0);
    assert!(a.wait_pushed(40, Duration::from_millis(300)).is_none());

    // B's connection closes: A is told and B leaves the list.
    drop(b);
    assert!(a.wait_pushed(40, WAIT).is_some());
    let r = list(&mut a);
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(v["consumerIdList"], serde_json::json!(["client-a"]));

    // Unregister removes the last one.
    let un = RemotingCommand::new_request(35)
        .with_field("clientID", "client-a")
        .with_field("producerGroup", "")
        .with_field("consumerGroup", "CG1");
    assert_eq!(a.call(un).code, 0);
    assert_eq!(list(&mut a).code, 1);
}

#[test]
fn delayed_message_and_send_back_are_delivered_later() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = start(dir.path()); // delay levels "1s 2s 3s"
    let mut c = Client::connect(cluster.broker_addr());
    let r = c.call(send_v1("DL", 0, b"later", "DELAY\u{1}1\u{2}"));
    assert_eq!(r.code, 0, "{:?}", r.remark);
    let sent = Instant::now();
    let r = c.call(pull("G", "DL", 0, 0, 2 | 4, "*", 15_000));
    assert_eq!(r.code, 0, "{:?}", r.remark);
    assert!(
        sent.elapsed() >= Duration::from_millis(900),
        "{:?}",
        sent.elapsed()
    );
    let m = &messages(&r)[0];
    assert_eq!(&m.body[..], b"later");
    assert_eq!(get_property(&m.properties, "REAL_TOPIC"), Some("DL"));

    // Send the message back: it reappears in %RETRY%G after level 3 (3 s here).
    let hb = RemotingCommand::new_request(34).with_body(heartbeat_body("c1", "G", "DL", "*"));
    assert_eq!(c.call(hb).code, 0);
    let back = RemotingCommand::new_request(36)
        .with_field("offset", m.physical_offset)
        .with_field("group", "G")
        .with_field("delayLevel", 0)
        .with_field("originMsgId", "x")
        .with_field("originTopic", "DL");
    let r = c.call(back);
    assert_eq!(r.code, 0, "{:?}", r.remark);
    let r = c.call(pull("G", "%RETRY%G", 0, 0, 2 | 4, "*", 15_000));
    assert_eq!(r.code, 0, "{:?}", r.remark);
    let retried = &messages(&r)[0];
    assert_eq!(&retried.body[..], b"later");
    assert_eq!(retried.reconsume_times, 1);
    assert_eq!(get_property(&retried.properties, "RETRY_TOPIC"), Some("DL"));
}

#[test]
fn queue_locks() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = start(dir.path());
    let mut c = Client::connect(cluster.broker_addr());
    let body = |client: &str| {
        format!(
            r#"{{"clientId":"{client}","consumerGroup":"CG","mqSet":[{{"brokerName":"broker-a","queueId":0,"topic":"T"}}]}}"#
        )
        .into_bytes()
    };
    let r = c.call(RemotingCommand::new_request(41).with_body(body("A")));
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(v["lockOKMQSet"].as_array().unwrap().len(), 1);
    let r = c.call(RemotingCommand::new_request(41).with_body(body("B")));
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert!(v["lockOKMQSet"].as_array().unwrap().is_empty());
    assert_eq!(
        c.call(RemotingCommand::new_request(42).with_body(body("A")))
            .code,
        0
    );
    let r = c.call(RemotingCommand::new_request(41).with_body(body("B")));
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(v["lockOKMQSet"].as_array().unwrap().len(), 1);
}

#[test]
fn silent_clients_expire_and_the_group_is_told() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(dir.path());
    config.client_expiry = Duration::from_millis(500);
    let cluster = EmbeddedCluster::start(config).unwrap();
    let hb =
        |id: &str| RemotingCommand::new_request(34).with_body(heartbeat_body(id, "EXP", "T", "*"));
    let mut silent = Client::connect(cluster.broker_addr());
    assert_eq!(silent.call(hb("silent")).code, 0);
    let mut alive = Client::connect(cluster.broker_addr());
    let deadline = Instant::now() + WAIT;
    loop {
        assert!(Instant::now() < deadline, "silent client never expired");
        assert_eq!(alive.call(hb("alive")).code, 0);
        let r = alive.call(RemotingCommand::new_request(38).with_field("consumerGroup", "EXP"));
        let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap_or_default();
        if v["consumerIdList"] == serde_json::json!(["alive"]) {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    // Notified when "alive" joined and again when "silent" left.
    let mut notifications = 0;
    while alive.wait_pushed(40, Duration::from_millis(200)).is_some() {
        notifications += 1;
    }
    assert!(notifications >= 1);
}

#[test]
fn java_style_heartbeat_drives_pulls_without_the_subscription_bit() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = start(dir.path());
    let mut c = Client::connect(cluster.broker_addr());
    assert_eq!(
        c.call(send_v1("JV", 0, b"create", "TAGS\u{1}Other\u{2}"))
            .code,
        0
    );
    let heartbeat = serde_json::json!({
        "clientID": "10.0.0.2@12345#98765",
        "consumerDataSet": [{
            "consumeFromWhere": "CONSUME_FROM_LAST_OFFSET",
            "consumeType": "CONSUME_PASSIVELY",
            "groupName": "JG",
            "messageModel": "CLUSTERING",
            "subscriptionDataSet": [{
                "classFilterMode": false, "codeSet": [1], "expressionType": "TAG",
                "subString": "TagA", "subVersion": 1700000000000i64, "tagsSet": ["TagA"],
                "topic": "JV"
            }],
            "unitMode": false
        }],
        "heartbeatFingerprint": 0,
        "producerDataSet": [{"groupName": "CLIENT_INNER_PRODUCER"}],
        "withoutSub": false
    });
    let r = c.call(RemotingCommand::new_request(34).with_body(heartbeat.to_string().into_bytes()));
    assert_eq!(r.code, 0, "{:?}", r.remark);

    // A newer subscription than the broker knows: 25.
    let newer = pull("JG", "JV", 0, 0, 0, "", 0).with_field("subVersion", 1700000000001i64);
    assert_eq!(c.call(newer).code, 25);

    // Java push pull: sysFlag 2, held, filtered by the heartbeat's TagA.
    let held = pull("JG", "JV", 0, 1, 2, "", 5_000).with_field("subVersion", 1700000000000i64);
    let opaque = c.send(held);
    assert!(c
        .wait_response(opaque, Duration::from_millis(300))
        .is_none());
    let mut producer = Client::connect(cluster.broker_addr());
    assert_eq!(
        producer
            .call(send_v1("JV", 0, b"a", "TAGS\u{1}TagA\u{2}"))
            .code,
        0
    );
    let r = c.wait_response(opaque, WAIT).expect("held pull answered");
    assert_eq!(r.code, 0, "{:?}", r.remark);
    let m = messages(&r);
    assert_eq!(m.len(), 1);
    assert_eq!(&m[0].body[..], b"a");
}

#[test]
fn retry_topic_send_over_the_limit_goes_to_the_dlq() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = start(dir.path());
    let mut c = Client::connect(cluster.broker_addr());
    let within =
        send_v1("%RETRY%RG", 0, b"again", "DELAY\u{1}3\u{2}").with_field("reconsumeTimes", 3);
    assert_eq!(c.call(within).code, 0);
    let over =
        send_v1("%RETRY%RG", 0, b"dead", "DELAY\u{1}18\u{2}").with_field("reconsumeTimes", 17);
    let r = c.call(over);
    assert_eq!(r.code, 0, "{:?}", r.remark);
    let dead = pull_all(&mut c, "%DLQ%RG", 0);
    assert_eq!(dead.len(), 1, "delivered to the DLQ at once");
    assert_eq!(&dead[0].body[..], b"dead");
    assert_eq!(get_property(&dead[0].properties, "DELAY"), Some("-1"));
    assert_eq!(dead[0].reconsume_times, 17);
    // The one within the limit is delayed, not in the retry topic yet.
    assert!(pull_all(&mut c, "%RETRY%RG", 0).is_empty());
}

#[test]
fn queries_by_time_and_id_and_topic_admin() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = start(dir.path());
    let mut c = Client::connect(cluster.broker_addr());
    let before = rocketmq_protocol::now_millis() - 1;
    let r = c.call(send_v1("Q", 0, b"q0", ""));
    let msg_id = r.field("msgId").unwrap().to_string();
    assert_eq!(c.call(send_v1("Q", 0, b"q1", "")).code, 0);
    let q = |code: i32| {
        RemotingCommand::new_request(code)
            .with_field("topic", "Q")
            .with_field("queueId", 0)
    };
    let r = c.call(q(29).with_field("timestamp", before));
    assert_eq!(r.field("offset"), Some("0"));
    let r = c.call(q(29).with_field("timestamp", before + 3_600_000));
    assert_eq!(
        r.field("offset"),
        Some("2"),
        "LOWER past the end is the max offset"
    );
    let r = c.call(q(32));
    let earliest: i64 = r.field("timestamp").unwrap().parse().unwrap();
    assert!(earliest >= before);

    let (_, offset) = rocketmq_protocol::message_id::decode_offset_msg_id(&msg_id).unwrap();
    let r = c.call(RemotingCommand::new_request(33).with_field("offset", offset));
    assert_eq!(r.code, 0);
    assert_eq!(&messages(&r)[0].body[..], b"q0");
    let r = c.call(RemotingCommand::new_request(33).with_field("offset", offset + 1));
    assert_eq!(r.code, 1);

    let create = RemotingCommand::new_request(17)
        .with_field("topic", "Made")
        .with_field("defaultTopic", "TBW102")
        .with_field("readQueueNums", 3)
        .with_field("writeQueueNums", 3)
        .with_field("perm", 6)
        .with_field("topicFilterType", "SINGLE_TAG");
    assert_eq!(c.call(create).code, 0);
    let route = wait_route(cluster.namesrv_addr(), "Made");
    assert!(String::from_utf8_lossy(&route.body).contains(r#""readQueueNums":3"#));
    let all = c.call(RemotingCommand::new_request(21));
    let v: serde_json::Value = serde_json::from_slice(&all.body).unwrap();
    assert_eq!(v["topicConfigTable"]["Made"]["writeQueueNums"], 3);

    let check = |ty: &str| {
        RemotingCommand::new_request(46).with_body(
            serde_json::json!({"clientId": "c", "group": "g",
                "subscriptionData": {"topic": "Q", "subString": "a", "expressionType": ty}})
            .to_string()
            .into_bytes(),
        )
    };
    assert_eq!(c.call(check("TAG")).code, 0);
    // "a" is a valid selector (a property read as a boolean); unknown types do not parse.
    assert_eq!(c.call(check("SQL92")).code, 0);
    assert_eq!(c.call(check("XPATH")).code, 23);
}
