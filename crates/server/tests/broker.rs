//! Broker behaviour over raw frames: sends of every kind pulled back byte for byte, long
//! polling, tag filtering, limits, sync flush, pipelining, restart.

mod common;

use common::*;
use rocketmq_protocol::properties::get_property;
use rocketmq_protocol::RemotingCommand;
use rocketmq_server::EmbeddedCluster;
use std::time::{Duration, Instant};

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
