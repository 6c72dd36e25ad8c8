//! Broker behaviour over raw frames: sends of every kind pulled back byte for byte, long
//! polling, tag filtering, offsets, heartbeats and notifications, limits, restart.

mod common;

use common::*;
use rocketmq_protocol::command::RemotingCommand;
use rocketmq_protocol::message::{decode_stored_all, StoredMessage};
use rocketmq_protocol::properties::get_property;
use rocketmq_server::EmbeddedCluster;
use std::time::{Duration, Instant};

fn messages(r: &RemotingCommand) -> Vec<StoredMessage> {
    decode_stored_all(&r.body).expect("pulled records decode")
}

fn assert_pull_header(r: &RemotingCommand) {
    for key in [
        "suggestWhichBrokerId",
        "nextBeginOffset",
        "minOffset",
        "maxOffset",
    ] {
        assert!(
            r.field(key).is_some_and(|v| v.parse::<i64>().is_ok()),
            "pull answer {} lacks {key}: {:?}",
            r.code,
            r.ext_fields
        );
    }
}

/// Pulls everything from offset 0 of one queue with subscription `*` (no suspend).
fn pull_all(c: &mut Client, topic: &str, queue: i32) -> Vec<StoredMessage> {
    let r = c.call(pull("G", topic, queue, 0, 4, "*", 0));
    assert_pull_header(&r);
    if r.code == 19 {
        return Vec::new();
    }
    assert_eq!(r.code, 0, "{:?}", r.remark);
    messages(&r)
}

#[test]
fn cpp_style_send_answers_json_strings_and_pulls_back_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = start(dir.path());
    let mut c = Client::connect(cluster.broker_addr());
    let props = "KEYS\u{1}k1 k2\u{2}TAGS\u{1}TagA\u{2}UNIQ_KEY\u{1}0123456789ABCDEF0123456789ABCDEF\u{2}WAIT\u{1}true\u{2}p1\u{1}v1\u{2}";
    let props_json = serde_json::to_string(props).unwrap();
    let header = format!(
        r#"{{"code":10,"extFields":{{"AccessKey":"","OnsChannel":"ALIYUN","Signature":"x","batch":"0","bornTimestamp":"1795666352078","defaultTopic":"TBW102","defaultTopicQueueNums":4,"flag":0,"producerGroup":"PG1","properties":{props_json},"queueId":0,"reconsumeTimes":"0","sysFlag":0,"topic":"TopicA","unitMode":"0"}},"flag":0,"language":"CPP","opaque":7,"remark":"","version":63}}
"#
    );
    let body: Vec<u8> = (0..=255u8).chain([0, 0, 0]).collect();
    c.write_raw(&raw_json_frame(&header, &body)).unwrap();
    let raw = c.read_raw_frame(WAIT);
    assert_eq!(raw[4], 0, "answer must be JSON (type byte 0)");
    let header_len = u32::from_be_bytes([0, raw[5], raw[6], raw[7]]) as usize;
    let h: serde_json::Value = serde_json::from_slice(&raw[8..8 + header_len]).unwrap();
    assert_eq!(h["code"], 0, "{h}");
    assert_eq!(h["opaque"], 7);
    assert!(h["version"].as_i64().unwrap() >= 401);
    let ext = h["extFields"].as_object().unwrap();
    for key in [
        "msgId",
        "queueId",
        "queueOffset",
        "transactionId",
        "MSG_REGION",
        "TRACE_ON",
    ] {
        assert!(ext.get(key).is_some_and(|v| v.is_string()), "{key} in {h}");
    }
    assert_eq!(ext["queueId"], "0");
    assert_eq!(ext["queueOffset"], "0");
    assert_eq!(ext["transactionId"], "0123456789ABCDEF0123456789ABCDEF");

    // Auto-created with the 4 queues the client asked for.
    let route = wait_route(cluster.namesrv_addr(), "TopicA");
    assert!(String::from_utf8_lossy(&route.body).contains(r#""writeQueueNums":4"#));

    let msgs = pull_all(&mut c, "TopicA", 0);
    assert_eq!(msgs.len(), 1);
    let m = &msgs[0];
    assert_eq!(&m.body[..], &body[..]);
    assert_eq!(m.topic, "TopicA");
    assert_eq!(m.born_timestamp, 1795666352078);
    assert_eq!(m.store_host, cluster.broker_addr());
    assert_eq!(m.born_host, c.local_addr());
    assert_eq!(get_property(&m.properties, "KEYS"), Some("k1 k2"));
    assert_eq!(get_property(&m.properties, "p1"), Some("v1"));
    assert_eq!(
        get_property(&m.properties, "CLUSTER"),
        Some("DefaultCluster")
    );
    assert_eq!(
        rocketmq_protocol::message_id::create_offset_msg_id(m.store_host, m.physical_offset),
        ext["msgId"].as_str().unwrap()
    );
}

#[test]
fn v2_and_batches_pull_back_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = start(dir.path());
    let mut c = Client::connect(cluster.broker_addr());

    // SEND_MESSAGE_V2 with single-letter keys; no UNIQ_KEY: the broker makes one.
    let v2 = RemotingCommand::new_request(310)
        .with_field("a", "PG")
        .with_field("b", "TopicB")
        .with_field("c", "TBW102")
        .with_field("d", 4)
        .with_field("e", 1)
        .with_field("f", 0)
        .with_field("g", 5)
        .with_field("h", 9)
        .with_field("i", "TAGS\u{1}T2\u{2}")
        .with_body(b"v2 body".to_vec());
    let r = c.call(v2);
    assert_eq!(r.code, 0, "{:?}", r.remark);
    let uniq = r.field("transactionId").unwrap().to_string();
    assert_eq!(uniq.len(), 32);

    // cpp batch: code 10, batch="1", zlib-compressed as a whole (sysFlag bit 0).
    let bodies: Vec<Vec<u8>> = (0..5).map(|i| vec![i as u8; 1000 + i]).collect();
    let mut blob = Vec::new();
    for (i, b) in bodies.iter().enumerate() {
        blob.extend(batch_entry(
            b,
            &format!("TAGS\u{1}B{i}\u{2}UNIQ_KEY\u{1}U{i}\u{2}"),
        ));
    }
    let compressed = rocketmq_protocol::compression::deflate(&blob, 5);
    let batch = send_v1("TopicB", 2, &compressed, "")
        .with_field("batch", "1")
        .with_field("sysFlag", 1);
    let r = c.call(batch);
    assert_eq!(r.code, 0, "{:?}", r.remark);
    assert_eq!(r.field("msgId").unwrap().split(',').count(), 5);
    assert_eq!(r.field("queueOffset"), Some("0"));

    // Java batch: code 320 with V2 keys.
    let mut blob = Vec::new();
    for i in 0..3 {
        blob.extend(batch_entry(format!("j{i}").as_bytes(), "TAGS\u{1}J\u{2}"));
    }
    let java_batch = RemotingCommand::new_request(320)
        .with_field("a", "PG")
        .with_field("b", "TopicB")
        .with_field("c", "TBW102")
        .with_field("d", 4)
        .with_field("e", 2)
        .with_field("f", 0)
        .with_field("g", 5)
        .with_field("h", 0)
        .with_field("m", true)
        .with_body(blob);
    let r = c.call(java_batch);
    assert_eq!(r.code, 0, "{:?}", r.remark);
    assert_eq!(r.field("queueOffset"), Some("5"));

    let q1 = pull_all(&mut c, "TopicB", 1);
    assert_eq!(q1.len(), 1);
    assert_eq!(&q1[0].body[..], b"v2 body");
    assert_eq!(q1[0].flag, 9);
    assert_eq!(
        get_property(&q1[0].properties, "UNIQ_KEY"),
        Some(uniq.as_str())
    );

    let q2 = pull_all(&mut c, "TopicB", 2);
    assert_eq!(q2.len(), 8);
    for (i, m) in q2.iter().take(5).enumerate() {
        assert_eq!(&m.body[..], &bodies[i][..], "entry {i} body");
        assert_eq!(m.sys_flag & 1, 0, "batch entries are stored uncompressed");
        assert_eq!(m.queue_offset, i as i64);
        assert_eq!(
            get_property(&m.properties, "TAGS"),
            Some(format!("B{i}").as_str())
        );
        assert_eq!(
            get_property(&m.properties, "UNIQ_KEY"),
            Some(format!("U{i}").as_str())
        );
    }
    for (i, m) in q2.iter().skip(5).enumerate() {
        assert_eq!(&m.body[..], format!("j{i}").as_bytes());
    }
}

#[test]
fn long_poll_is_held_until_a_send_and_times_out_with_19() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = start(dir.path());
    let mut producer = Client::connect(cluster.broker_addr());
    // Create the topic (and leave queue 3 empty).
    assert_eq!(producer.call(send_v1("LP", 0, b"x", "")).code, 0);

    let mut consumer = Client::connect(cluster.broker_addr());
    let opaque = consumer.send(pull("G", "LP", 3, 0, 2 | 4, "*", 15_000));
    // Held: nothing comes back while nothing is sent.
    assert!(consumer
        .wait_response(opaque, Duration::from_millis(400))
        .is_none());
    let sent_at = Instant::now();
    assert_eq!(producer.call(send_v1("LP", 3, b"wake up", "")).code, 0);
    let r = consumer
        .wait_response(opaque, WAIT)
        .expect("woken pull answers");
    assert!(
        sent_at.elapsed() < Duration::from_secs(10),
        "answered by the send, not the timeout"
    );
    assert_eq!(r.code, 0, "{:?}", r.remark);
    assert_pull_header(&r);
    assert_eq!(&messages(&r)[0].body[..], b"wake up");
    assert_eq!(r.field("nextBeginOffset"), Some("1"));

    // Nothing more arrives: answered 19 once the suspend time passed, not before.
    let asked = Instant::now();
    let r = consumer.call(pull("G", "LP", 3, 1, 2 | 4, "*", 600));
    assert_eq!(r.code, 19);
    assert!(
        asked.elapsed() >= Duration::from_millis(550),
        "{:?}",
        asked.elapsed()
    );
    assert_pull_header(&r);
    assert_eq!(r.field("nextBeginOffset"), Some("1"));

    // Without the suspend bit: answered at once.
    let asked = Instant::now();
    let r = consumer.call(pull("G", "LP", 3, 1, 4, "*", 15_000));
    assert_eq!(r.code, 19);
    assert!(asked.elapsed() < Duration::from_secs(5));
}

#[test]
fn tag_filter_by_request_and_by_heartbeat_subscription() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = start(dir.path());
    let mut c = Client::connect(cluster.broker_addr());
    for tag in ["TagA", "TagB", "TagC", ""] {
        let props = if tag.is_empty() {
            String::new()
        } else {
            format!("TAGS\u{1}{tag}\u{2}")
        };
        assert_eq!(c.call(send_v1("TF", 0, tag.as_bytes(), &props)).code, 0);
    }
    let r = c.call(pull("G", "TF", 0, 0, 4, "TagA || TagB", 0));
    assert_eq!(r.code, 0);
    let tags: Vec<String> = messages(&r)
        .iter()
        .map(|m| {
            get_property(&m.properties, "TAGS")
                .unwrap_or("")
                .to_string()
        })
        .collect();
    assert_eq!(tags, vec!["TagA", "TagB"]);
    assert_eq!(r.field("nextBeginOffset"), Some("4"));

    // Only non-matching entries scanned: 20 with the offset advanced.
    let r = c.call(pull("G", "TF", 0, 2, 4, "TagZ", 0));
    assert_eq!(r.code, 20);
    assert_eq!(r.field("nextBeginOffset"), Some("4"));

    // Without the subscription bit: unknown group -> 24 (with the four fields).
    let r = c.call(pull("HB", "TF", 0, 0, 0, "", 0));
    assert_eq!(r.code, 24);
    assert_pull_header(&r);
    // After a heartbeat subscribing TagC, the registered subscription filters.
    let hb = RemotingCommand::new_request(34).with_body(heartbeat_body("c1", "HB", "TF", "TagC"));
    assert_eq!(c.call(hb).code, 0);
    let r = c.call(pull("HB", "TF", 0, 0, 0, "", 0));
    assert_eq!(r.code, 0, "{:?}", r.remark);
    let m = messages(&r);
    assert_eq!(m.len(), 1);
    assert_eq!(&m[0].body[..], b"TagC");
    // Not subscribed topic -> 24.
    let r = c.call(pull("HB", "Other", 0, 0, 0, "", 0));
    assert!(r.code == 24 || r.code == 17, "{}", r.code);
}

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
fn limits_names_and_errors() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(dir.path());
    config.max_message_size = 1024;
    let cluster = EmbeddedCluster::start(config).unwrap();
    let mut c = Client::connect(cluster.broker_addr());
    let r = c.call(send_v1("Big", 0, &[1u8; 2000], ""));
    assert_eq!(r.code, 13);
    assert!(
        r.remark.as_deref().unwrap().contains("1024"),
        "{:?}",
        r.remark
    );
    assert_eq!(c.call(send_v1("Big", 0, &[1u8; 1024], "")).code, 0);

    let r = c.call(send_v1("SCHEDULE_TOPIC_XXXX", 0, b"x", ""));
    assert_eq!(r.code, 16);
    assert!(r.remark.unwrap().contains("SCHEDULE_TOPIC_XXXX"));
    let r = c.call(send_v1("bad topic!", 0, b"x", ""));
    assert_eq!(r.code, 29);
    assert!(r.remark.unwrap().contains("illegal character"));
    let r = c.call(send_v1(&"t".repeat(128), 0, b"x", ""));
    assert_eq!(r.code, 29);
    let r = c.call(send_v1("Big", 99, b"x", ""));
    assert_eq!(r.code, 29);

    // Pull errors carry the four header fields; a suspend-flagged error is delayed.
    let asked = Instant::now();
    let r = c.call(pull("G", "Missing", 0, 0, 2 | 4, "*", 15_000));
    assert_eq!(r.code, 17);
    assert_pull_header(&r);
    assert!(asked.elapsed() >= Duration::from_millis(900));
    let r = c.call(pull("G", "Big", 0, 5, 4, "*", 0));
    assert_eq!(r.code, 21);
    assert_eq!(r.field("nextBeginOffset"), Some("1"));
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
fn restart_keeps_messages_and_committed_offsets() {
    let dir = tempfile::tempdir().unwrap();
    {
        let cluster = start(dir.path());
        let mut c = Client::connect(cluster.broker_addr());
        for i in 0..10 {
            let r = c.call(send_v1("RS", 1, format!("m{i}").as_bytes(), ""));
            assert_eq!(r.code, 0);
        }
        let update = RemotingCommand::new_request(15)
            .with_field("consumerGroup", "CG")
            .with_field("topic", "RS")
            .with_field("queueId", 1)
            .with_field("commitOffset", 6);
        assert_eq!(c.call(update).code, 0);
        cluster.shutdown();
        cluster.shutdown();
    }
    let cluster = start(dir.path());
    let mut c = Client::connect(cluster.broker_addr());
    let msgs = pull_all(&mut c, "RS", 1);
    let bodies: Vec<String> = msgs
        .iter()
        .map(|m| String::from_utf8_lossy(&m.body).to_string())
        .collect();
    assert_eq!(bodies, (0..10).map(|i| format!("m{i}")).collect::<Vec<_>>());
    let r = c.call(
        RemotingCommand::new_request(14)
            .with_field("consumerGroup", "CG")
            .with_field("topic", "RS")
            .with_field("queueId", 1),
    );
    assert_eq!(r.field("offset"), Some("6"));
    // The topic config survived the restart, and `start` returned only after the first
    // registration, which carries it.
    let mut ns = Client::connect(cluster.namesrv_addr());
    let r = ns.call(RemotingCommand::new_request(105).with_field("topic", "RS"));
    assert_eq!(r.code, 0, "{:?}", r.remark);
}

#[test]
fn sync_flush_sends_and_pull_limits() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(dir.path());
    config.flush = rocketmq_server::FlushMode::Sync;
    let cluster = EmbeddedCluster::start(config).unwrap();
    let mut c = Client::connect(cluster.broker_addr());
    assert_eq!(c.call(send_v1("SF", 0, b"one", "")).code, 0);
    let mut blob = Vec::new();
    for i in 0..39 {
        blob.extend(batch_entry(format!("b{i}").as_bytes(), ""));
    }
    let r = c.call(send_v1("SF", 0, &blob, "").with_field("batch", true));
    assert_eq!(r.code, 0, "{:?}", r.remark);
    let first = c.call(pull("G", "SF", 0, 0, 4, "*", 0));
    assert_eq!(messages(&first).len(), 32, "at most 32 messages per pull");
    assert_eq!(first.field("nextBeginOffset"), Some("32"));
    let rest = c.call(pull("G", "SF", 0, 32, 4, "*", 0));
    assert_eq!(messages(&rest).len(), 8);
    assert_eq!(rest.field("maxOffset"), Some("40"));
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
fn a_peer_that_half_closes_still_gets_every_answer() {
    // Sync flush: answers come from tasks that wait for the group commit, after the peer's
    // end of stream has been read.
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.flush = rocketmq_server::FlushMode::Sync;
    let cluster = EmbeddedCluster::start(cfg).expect("cluster starts");
    let mut c = Client::connect(cluster.broker_addr());
    assert_eq!(c.call(send_v1("HC", 0, b"first", "")).code, 0);
    let opaques: Vec<i32> = (0..100)
        .map(|i| c.send(send_v1("HC", 0, format!("{i}").as_bytes(), "")))
        .collect();
    c.finish_sending();
    for o in opaques {
        let r = c
            .wait_response(o, WAIT)
            .expect("answered after the half-close");
        assert_eq!(r.code, 0);
    }
    cluster.shutdown();
}

#[test]
fn pipelined_sends_keep_their_order_and_oneway_gets_no_answer() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = start(dir.path());
    let mut c = Client::connect(cluster.broker_addr());
    assert_eq!(c.call(send_v1("PO", 0, b"first", "")).code, 0);
    let opaques: Vec<i32> = (0..200)
        .map(|i| c.send(send_v1("PO", 0, format!("{i}").as_bytes(), "")))
        .collect();
    for o in opaques {
        let r = c
            .wait_response(o, WAIT)
            .expect("every flag-0 send is answered");
        assert_eq!(r.code, 0);
    }
    let mut bodies = Vec::new();
    let mut offset = 1;
    while bodies.len() < 200 {
        let r = c.call(pull("G", "PO", 0, offset, 4, "*", 0));
        assert_eq!(r.code, 0);
        for m in messages(&r) {
            bodies.push(String::from_utf8_lossy(&m.body).to_string());
        }
        offset = r.field("nextBeginOffset").unwrap().parse().unwrap();
    }
    assert_eq!(bodies, (0..200).map(|i| i.to_string()).collect::<Vec<_>>());

    // One-way bit set: stored, never answered.
    let mut oneway = send_v1("PO", 0, b"oneway", "");
    oneway.set_oneway(true);
    let silent = c.send(oneway);
    let answered = c.send(RemotingCommand::new_request(12345));
    let r = c.wait_response(answered, WAIT).unwrap();
    assert_eq!(r.code, 3);
    assert!(c
        .wait_response(silent, Duration::from_millis(300))
        .is_none());
    let max = c.call(
        RemotingCommand::new_request(30)
            .with_field("topic", "PO")
            .with_field("queueId", 0),
    );
    assert_eq!(max.field("offset"), Some("202"));
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
fn large_messages_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = start(dir.path());
    let mut c = Client::connect(cluster.broker_addr());
    // The test store has 1 MiB segments; a record never spans two.
    let big: Vec<u8> = (0..900_000).map(|i| (i % 251) as u8).collect();
    assert_eq!(c.call(send_v1("LM", 0, &big, "")).code, 0);
    assert_eq!(c.call(send_v1("LM", 0, &big[..300_000], "")).code, 0);
    let r = c.call(pull("G", "LM", 0, 0, 4, "*", 0));
    assert_eq!(r.code, 0);
    let m = messages(&r);
    assert_eq!(
        m.len(),
        1,
        "the byte limit stops after the first large message"
    );
    assert_eq!(&m[0].body[..], &big[..]);
    let r = c.call(pull("G", "LM", 0, 1, 4, "*", 0));
    assert_eq!(&messages(&r)[0].body[..], &big[..300_000]);
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
    let before = rocketmq_server::util::now_millis() - 1;
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
    assert_eq!(c.call(check("SQL92")).code, 1);
}
