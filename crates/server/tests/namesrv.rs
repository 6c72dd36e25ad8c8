//! Name server behaviour over raw frames: routes, unknown topics, unknown codes, bad frames,
//! broker expiry.

mod common;

use common::*;
use rocketmq_protocol::RemotingCommand;
use rocketmq_server::EmbeddedCluster;
use std::time::{Duration, Instant};

fn route(client: &mut Client, topic: &str) -> RemotingCommand {
    client.call(RemotingCommand::new_request(105).with_field("topic", topic))
}

#[test]
fn route_of_tbw102_and_unknown_topic() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = start(dir.path());
    let mut c = Client::connect(cluster.namesrv_addr());
    let r = route(&mut c, "TBW102");
    assert_eq!(r.code, 0, "{:?}", r.remark);
    let body = std::str::from_utf8(&r.body).unwrap();
    let broker = cluster.broker_addr().to_string();
    assert!(
        body.contains(&format!(r#""brokerAddrs":{{"0":"{broker}"}}"#)),
        "{body}"
    );
    assert!(body.contains(r#""writeQueueNums":8"#), "{body}");
    assert!(body.contains(r#""perm":7"#), "{body}");
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(v["queueDatas"][0]["brokerName"], "broker-a");

    let r = route(&mut c, "NoSuchTopic");
    assert_eq!(r.code, 17);
    assert_eq!(
        r.remark.as_deref(),
        Some("No topic route info in name server for the topic: NoSuchTopic")
    );
    assert!(r.body.is_empty());
}

#[test]
fn unknown_code_gets_3_and_malformed_frame_closes_only_that_connection() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = start(dir.path());
    for addr in [cluster.namesrv_addr(), cluster.broker_addr()] {
        let mut good = Client::connect(addr);
        let r = good.call(RemotingCommand::new_request(12345));
        assert_eq!(r.code, 3);
        assert_eq!(
            r.remark.as_deref(),
            Some(" request type 12345 not supported")
        );

        // Unknown serialize type 7 in the header-length word: garbage.
        let mut bad = Client::connect(addr);
        bad.write_raw(&[0, 0, 0, 8, 7, 0, 0, 4, 1, 2, 3, 4])
            .unwrap();
        let closed = bad.read_frame(WAIT);
        assert!(
            closed.is_err(),
            "bad connection must be closed, got {closed:?}"
        );

        // Oversized frame (declared 1 GiB).
        let mut huge = Client::connect(addr);
        huge.write_raw(&[0x40, 0, 0, 0, 0, 0, 0, 10]).unwrap();
        assert!(huge.read_frame(WAIT).is_err());

        // The first connection still works.
        let r = good.call(RemotingCommand::new_request(105).with_field("topic", "TBW102"));
        assert!(r.code == 0 || r.code == 17 || r.code == 3);
    }
}

#[test]
fn broker_expiry_and_connection_close() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(dir.path());
    config.broker_expiry = Duration::from_millis(600);
    config.register_interval = Duration::from_millis(100);
    let cluster = EmbeddedCluster::start(config).unwrap();
    let register = |addr: &str| {
        let body = serde_json::json!({
            "filterServerList": [],
            "topicConfigSerializeWrapper": {
                "dataVersion": {"counter": 1, "stateVersion": 0, "timestamp": 1},
                "topicConfigTable": {"FakeTopic": {"topicName": "FakeTopic", "readQueueNums": 2,
                    "writeQueueNums": 2, "perm": 6, "topicFilterType": "SINGLE_TAG",
                    "topicSysFlag": 0, "order": false}}
            }
        });
        RemotingCommand::new_request(103)
            .with_field("brokerName", "fake")
            .with_field("brokerAddr", addr)
            .with_field("clusterName", "FakeCluster")
            .with_field("haServerAddr", "127.0.0.1:1")
            .with_field("brokerId", 0)
            .with_body(body.to_string().into_bytes())
    };
    let mut fake = Client::connect(cluster.namesrv_addr());
    let r = fake.call(register("127.0.0.1:1"));
    assert_eq!(r.code, 0, "{:?}", r.remark);
    let mut client = Client::connect(cluster.namesrv_addr());
    assert_eq!(route(&mut client, "FakeTopic").code, 0);

    // Silent for longer than the expiry: gone, while the real broker (registering every
    // 100 ms) stays.
    let deadline = Instant::now() + WAIT;
    while route(&mut client, "FakeTopic").code == 0 {
        assert!(Instant::now() < deadline, "fake broker never expired");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(route(&mut client, "TBW102").code, 0);
    let info = client.call(RemotingCommand::new_request(106));
    let body = String::from_utf8_lossy(&info.body).to_string();
    assert!(!body.contains("fake"), "{body}");
    assert!(body.contains("broker-a"), "{body}");

    // BROKER_HEARTBEAT (904) alone keeps a registered broker alive past the expiry.
    assert_eq!(fake.call(register("127.0.0.1:1")).code, 0);
    let alive_until = Instant::now() + Duration::from_millis(1500);
    while Instant::now() < alive_until {
        let beat = RemotingCommand::new_request(904)
            .with_field("clusterName", "FakeCluster")
            .with_field("brokerAddr", "127.0.0.1:1")
            .with_field("brokerName", "fake");
        assert_eq!(fake.call(beat).code, 0);
        assert_eq!(route(&mut client, "FakeTopic").code, 0);
        std::thread::sleep(Duration::from_millis(100));
    }
    // UNREGISTER_BROKER (104) removes it at once.
    let unregister = RemotingCommand::new_request(104)
        .with_field("brokerName", "fake")
        .with_field("brokerAddr", "127.0.0.1:1")
        .with_field("clusterName", "FakeCluster")
        .with_field("brokerId", 0);
    assert_eq!(fake.call(unregister).code, 0);
    assert_eq!(route(&mut client, "FakeTopic").code, 17);

    // A broker whose registering connection closes is dropped at once.
    let mut fake2 = Client::connect(cluster.namesrv_addr());
    assert_eq!(fake2.call(register("127.0.0.1:2")).code, 0);
    assert_eq!(route(&mut client, "FakeTopic").code, 0);
    drop(fake2);
    let deadline = Instant::now() + WAIT;
    while route(&mut client, "FakeTopic").code == 0 {
        assert!(Instant::now() < deadline, "closed broker never removed");
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(fake);
}

#[test]
fn kv_config_and_topic_list() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = start(dir.path());
    let mut c = Client::connect(cluster.namesrv_addr());
    let put = RemotingCommand::new_request(100)
        .with_field("namespace", "NS")
        .with_field("key", "k")
        .with_field("value", "v");
    assert_eq!(c.call(put).code, 0);
    let get = || {
        RemotingCommand::new_request(101)
            .with_field("namespace", "NS")
            .with_field("key", "k")
    };
    let r = c.call(get());
    assert_eq!((r.code, r.field("value")), (0, Some("v")));
    let del = RemotingCommand::new_request(102)
        .with_field("namespace", "NS")
        .with_field("key", "k");
    assert_eq!(c.call(del).code, 0);
    assert_eq!(c.call(get()).code, 22);

    let r = c.call(RemotingCommand::new_request(206));
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    let topics: Vec<&str> = v["topicList"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t.as_str())
        .collect();
    assert!(topics.contains(&"TBW102"), "{topics:?}");
}

#[test]
fn compressed_registration_body() {
    use rocketmq_protocol::body::register::{
        DataVersion, RegisterBrokerBody, TopicConfigSerializeWrapper,
    };
    let dir = tempfile::tempdir().unwrap();
    let cluster = start(dir.path());
    let body = RegisterBrokerBody {
        filter_server_list: Vec::new(),
        topic_config_serialize_wrapper: TopicConfigSerializeWrapper {
            data_version: DataVersion {
                counter: 3,
                state_version: 0,
                timestamp: 1,
            },
            topic_config_table: [(
                "Zipped".to_string(),
                rocketmq_store::TopicConfig::new("Zipped", 3, 6),
            )]
            .into_iter()
            .collect(),
        },
    }
    .encode(true);
    let mut c = Client::connect(cluster.namesrv_addr());
    let r = c.call(
        RemotingCommand::new_request(103)
            .with_field("brokerName", "zb")
            .with_field("brokerAddr", "127.0.0.1:3")
            .with_field("clusterName", "C")
            .with_field("haServerAddr", "127.0.0.1:4")
            .with_field("brokerId", 0)
            .with_field("compressed", true)
            .with_body(body.to_vec()),
    );
    assert_eq!(r.code, 0, "{:?}", r.remark);
    let r = route(&mut c, "Zipped");
    assert_eq!(r.code, 0);
    assert!(String::from_utf8_lossy(&r.body).contains(r#""readQueueNums":3"#));

    // Same data version: unchanged; the name server answers its copy.
    let q = c.call(
        RemotingCommand::new_request(322)
            .with_field("brokerName", "zb")
            .with_field("brokerAddr", "127.0.0.1:3")
            .with_field("clusterName", "C")
            .with_field("brokerId", 0)
            .with_body(br#"{"counter":3,"stateVersion":0,"timestamp":1}"#.to_vec()),
    );
    assert_eq!((q.code, q.field("changed")), (0, Some("false")));

    // A bad CRC is refused.
    let r = c.call(
        RemotingCommand::new_request(103)
            .with_field("brokerName", "zb")
            .with_field("brokerAddr", "127.0.0.1:3")
            .with_field("clusterName", "C")
            .with_field("brokerId", 0)
            .with_field("bodyCrc32", 12345)
            .with_body(b"{}".to_vec()),
    );
    assert_eq!(r.code, 1);
}

#[test]
fn binary_header_requests_get_json_answers() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = start(dir.path());
    let mut c = Client::connect(cluster.namesrv_addr());
    let mut req = RemotingCommand::new_request(105)
        .with_field("topic", "TBW102")
        .with_opaque(99);
    req.serialize_type = rocketmq_protocol::SerializeType::RocketMq;
    c.write_raw(&req.to_frame()).unwrap();
    let raw = c.read_raw_frame(WAIT);
    assert_eq!(raw[4], 0, "answered in JSON");
    let r = rocketmq_protocol::frame::parse(&raw).unwrap();
    assert_eq!((r.code, r.opaque), (0, 99));
}

#[test]
fn advertised_host_is_what_routes_and_messages_carry() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(dir.path());
    config.advertised_host = Some("127.0.0.2".into());
    let cluster = EmbeddedCluster::start(config).unwrap();
    assert_eq!(cluster.broker_addr().ip().to_string(), "127.0.0.2");
    let mut ns = Client::connect(cluster.namesrv_addr());
    let r = route(&mut ns, "TBW102");
    let body = String::from_utf8_lossy(&r.body).to_string();
    assert!(
        body.contains(&format!("\"127.0.0.2:{}\"", cluster.broker_addr().port())),
        "{body}"
    );
    // The broker itself listens on the bound address (127.0.0.1, same port).
    let bound = std::net::SocketAddr::from(([127, 0, 0, 1], cluster.broker_addr().port()));
    let mut c = Client::connect(bound);
    assert_eq!(c.call(send_v1("Adv", 0, b"x", "")).code, 0);
    let r = c.call(pull("G", "Adv", 0, 0, 4, "*", 0));
    let m = rocketmq_protocol::message::decode_stored_all(&r.body).unwrap();
    assert_eq!(m[0].store_host, cluster.broker_addr());
}

/// A send that auto-creates its topic, and UPDATE_AND_CREATE_TOPIC, are answered once the name
/// server knows the topic (Java registers synchronously in both): a client that got the
/// answer can look the route up at once, e.g. to start consuming or to send to its queues.
#[test]
fn a_topic_created_by_a_request_is_routable_when_the_request_is_answered() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = start(dir.path());
    let mut broker = Client::connect(cluster.broker_addr());
    let mut namesrv = Client::connect(cluster.namesrv_addr());
    for i in 0..20 {
        let topic = format!("Announced{i}");
        let sent = broker.call(send_v1(&topic, 0, b"x", ""));
        assert_eq!(sent.code, 0, "{:?}", sent.remark);
        let r = route(&mut namesrv, &topic);
        assert_eq!(r.code, 0, "send {i}: {:?}", r.remark);
        let body = std::str::from_utf8(&r.body).unwrap();
        assert!(body.contains(r#""writeQueueNums":4"#), "{body}");

        let topic = format!("Made{i}");
        let create = RemotingCommand::new_request(17)
            .with_field("topic", &topic)
            .with_field("defaultTopic", "TBW102")
            .with_field("readQueueNums", 1)
            .with_field("writeQueueNums", 1)
            .with_field("perm", 6)
            .with_field("topicFilterType", "SINGLE_TAG");
        assert_eq!(broker.call(create).code, 0);
        let r = route(&mut namesrv, &topic);
        assert_eq!(r.code, 0, "create {i}: {:?}", r.remark);
        let body = std::str::from_utf8(&r.body).unwrap();
        assert!(body.contains(r#""writeQueueNums":1"#), "{body}");
    }
}

// What the remoting front end answers, byte for byte, for requests that leave fields out and
// for the bodies it encodes (these answers predate the typed route table).
#[test]
fn exact_answers_for_bodies_and_missing_fields() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = start(dir.path());
    let mut c = Client::connect(cluster.namesrv_addr());

    // No topic: asked for the empty topic.
    let r = c.call(RemotingCommand::new_request(105));
    assert_eq!(r.code, 17);
    assert_eq!(
        r.remark.as_deref(),
        Some("No topic route info in name server for the topic: ")
    );

    // PUT_KV_CONFIG needs all three fields.
    let r = c.call(
        RemotingCommand::new_request(100)
            .with_field("namespace", "NS")
            .with_field("key", "k"),
    );
    assert_eq!(r.code, 29);
    assert_eq!(
        r.remark.as_deref(),
        Some("namespace, key and value are required")
    );
    for (key, value) in [("b", "2"), ("a", "1")] {
        let put = RemotingCommand::new_request(100)
            .with_field("namespace", "NS")
            .with_field("key", key)
            .with_field("value", value);
        assert_eq!(c.call(put).code, 0);
    }
    let r = c.call(RemotingCommand::new_request(219).with_field("namespace", "NS"));
    assert_eq!(
        (r.code, r.body.as_ref()),
        (0, &br#"{"table":{"a":"1","b":"2"}}"#[..])
    );
    let r = c.call(RemotingCommand::new_request(219).with_field("namespace", "None"));
    assert_eq!(r.code, 22);
    assert_eq!(r.remark.as_deref(), Some("No config item, Namespace: None"));
    let r = c.call(RemotingCommand::new_request(101).with_field("namespace", "NS"));
    assert_eq!(r.code, 22);
    assert_eq!(
        r.remark.as_deref(),
        Some("No config item, Namespace: NS Key: ")
    );

    // A registration without a body: answered with empty HA and master addresses; its data
    // version is `null`, the same as an empty QUERY_DATA_VERSION body.
    let r = c.call(
        RemotingCommand::new_request(103)
            .with_field("brokerName", "nb")
            .with_field("brokerAddr", "127.0.0.1:5")
            .with_field("clusterName", "C"),
    );
    assert_eq!(r.code, 0, "{:?}", r.remark);
    assert_eq!(
        (r.field("haServerAddr"), r.field("masterAddr")),
        (Some(""), Some(""))
    );
    assert!(r.body.is_empty());
    let query = |addr: &str, body: &[u8]| {
        RemotingCommand::new_request(322)
            .with_field("brokerName", "nb")
            .with_field("brokerAddr", addr)
            .with_field("clusterName", "C")
            .with_field("brokerId", 0)
            .with_body(body.to_vec())
    };
    let q = c.call(query("127.0.0.1:5", b""));
    assert_eq!((q.code, q.field("changed")), (0, Some("false")));
    assert_eq!(q.body.as_ref(), b"null");
    let q = c.call(query("127.0.0.1:5", br#"{"counter":1}"#));
    assert_eq!(q.field("changed"), Some("true"));
    // An unknown broker: changed, and no body.
    let q = c.call(query("127.0.0.1:6", b""));
    assert_eq!(q.field("changed"), Some("true"));
    assert!(q.body.is_empty());

    // The registered version comes back as the broker sent it; its topics are listed by
    // cluster.
    let body = br#"{"filterServerList":[],"topicConfigSerializeWrapper":{"dataVersion":{"counter":7,"stateVersion":0,"timestamp":9},"topicConfigTable":{"Only":{"topicName":"Only","readQueueNums":1,"writeQueueNums":1,"perm":6}}}}"#;
    let r = c.call(
        RemotingCommand::new_request(103)
            .with_field("brokerName", "vb")
            .with_field("brokerAddr", "127.0.0.1:7")
            .with_field("clusterName", "VC")
            .with_field("brokerId", 0)
            .with_body(body.to_vec()),
    );
    assert_eq!(r.code, 0, "{:?}", r.remark);
    let q = c.call(query(
        "127.0.0.1:7",
        br#"{"counter":7,"stateVersion":0,"timestamp":9}"#,
    ));
    assert_eq!(q.field("changed"), Some("false"));
    assert_eq!(
        q.body.as_ref(),
        br#"{"counter":7,"stateVersion":0,"timestamp":9}"#
    );
    let r = c.call(RemotingCommand::new_request(224).with_field("cluster", "VC"));
    assert_eq!(
        (r.code, r.body.as_ref()),
        (0, &br#"{"topicList":["Only"]}"#[..])
    );
    let r = c.call(RemotingCommand::new_request(224));
    assert_eq!((r.code, r.body.as_ref()), (0, &br#"{"topicList":[]}"#[..]));
}
