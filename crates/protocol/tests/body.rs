//! Body golden tests (spec 4.2-4.5): exact compact JSON, lenient reads of fastjson output,
//! and the bodies cpp 1.2.3 was captured sending.

use rocketmq_protocol::body::*;
use std::collections::{BTreeMap, BTreeSet};

fn route() -> TopicRouteData {
    TopicRouteData {
        broker_datas: vec![BrokerData {
            broker_addrs: BTreeMap::from([(0, "127.0.0.1:10911".to_string())]),
            broker_name: "broker-a".into(),
            cluster: "DefaultCluster".into(),
            enable_acting_master: false,
            zone_name: None,
        }],
        filter_server_table: BTreeMap::new(),
        order_topic_conf: None,
        queue_datas: vec![QueueData {
            broker_name: "broker-a".into(),
            perm: 6,
            read_queue_nums: 4,
            topic_sys_flag: 0,
            write_queue_nums: 4,
        }],
    }
}

const ROUTE_JSON: &str = concat!(
    r#"{"brokerDatas":[{"brokerAddrs":{"0":"127.0.0.1:10911"},"brokerName":"broker-a","#,
    r#""cluster":"DefaultCluster","enableActingMaster":false}],"filterServerTable":{},"#,
    r#""queueDatas":[{"brokerName":"broker-a","perm":6,"readQueueNums":4,"topicSysFlag":0,"writeQueueNums":4}]}"#
);

#[test]
fn route_data_exact_compact_json() {
    let bytes = encode_json(&route());
    assert_eq!(std::str::from_utf8(&bytes).unwrap(), ROUTE_JSON);
    assert_eq!(decode_json::<TopicRouteData>(&bytes).unwrap(), route());
}

#[test]
fn route_data_from_old_fastjson_unquoted_keys() {
    let old = concat!(
        r#"{"brokerDatas":[{"brokerAddrs":{0:"127.0.0.1:10911",1:"127.0.0.1:10921"},"brokerName":"broker-a","cluster":"DefaultCluster"}],"#,
        r#""filterServerTable":{},"orderTopicConf":"broker-a:4","queueDatas":[{"brokerName":"broker-a","perm":6,"readQueueNums":4,"topicSynFlag":0,"writeQueueNums":4}]}"#
    );
    let r: TopicRouteData = decode_json(old.as_bytes()).unwrap();
    assert_eq!(r.broker_datas[0].master_addr(), Some("127.0.0.1:10911"));
    assert_eq!(r.broker_datas[0].broker_addrs[&1], "127.0.0.1:10921");
    assert_eq!(r.order_topic_conf.as_deref(), Some("broker-a:4"));
    assert_eq!(r.queue_datas[0].write_queue_nums, 4);
    let again = encode_json(&r);
    assert!(std::str::from_utf8(&again)
        .unwrap()
        .contains(r#""orderTopicConf":"broker-a:4","queueDatas""#));
}

#[test]
fn cluster_info_roundtrip() {
    let info = ClusterInfo {
        broker_addr_table: BTreeMap::from([(
            "broker-a".to_string(),
            route().broker_datas[0].clone(),
        )]),
        cluster_addr_table: BTreeMap::from([(
            "DefaultCluster".to_string(),
            BTreeSet::from(["broker-a".to_string()]),
        )]),
    };
    let json = encode_json(&info);
    assert_eq!(
        std::str::from_utf8(&json).unwrap(),
        r#"{"brokerAddrTable":{"broker-a":{"brokerAddrs":{"0":"127.0.0.1:10911"},"brokerName":"broker-a","cluster":"DefaultCluster","enableActingMaster":false}},"clusterAddrTable":{"DefaultCluster":["broker-a"]}}"#
    );
    let unquoted = std::str::from_utf8(&json)
        .unwrap()
        .replace("{\"0\":", "{0:");
    assert_eq!(
        decode_json::<ClusterInfo>(unquoted.as_bytes()).unwrap(),
        info
    );
}

#[test]
fn cpp_consumer_heartbeat_parses() {
    let body = concat!(
        r#"{"clientID":"23425-127.0.0.1@DEFAULT","consumerDataSet":[{"consumeFromWhere":0,"consumeType":1,"#,
        r#""groupName":"CG1","messageModel":1,"subscriptionDataSet":[{"subString":"*","subVersion":"1795666361944","#,
        r#""topic":"%RETRY%CG1"},{"codeSet":[0,0],"subString":"TagA || TagB","subVersion":"1795666361944","#,
        r#""tagsSet":["TagA","TagB"],"topic":"TopicA"}]}]}"#,
        "\n"
    );
    let hb: HeartbeatData = decode_json(body.as_bytes()).unwrap();
    assert_eq!(hb.client_id, "23425-127.0.0.1@DEFAULT");
    assert!(hb.producer_data_set.is_empty());
    let c = &hb.consumer_data_set[0];
    assert_eq!(
        c.consume_from_where,
        ConsumeFromWhere::ConsumeFromLastOffset
    );
    assert_eq!(c.consume_type, ConsumeType::ConsumePassively);
    assert_eq!(c.message_model, MessageModel::Clustering);
    assert_eq!(c.group_name, "CG1");
    let s = &c.subscription_data_set[1];
    assert_eq!(s.sub_version, 1795666361944);
    assert_eq!(s.tags_set, ["TagA", "TagB"]);
    assert!(s.code_set.is_empty(), "client codeSet is never trusted");
    assert_eq!(s.expression_type, "TAG");
    assert_eq!(c.subscription_data_set[0].topic, "%RETRY%CG1");
}

#[test]
fn cpp_pull_and_producer_heartbeats_parse() {
    let pull = "{\"clientID\":\"23979-127.0.0.1@DEFAULT\",\"consumerDataSet\":[{\"consumeFromWhere\":0,\"consumeType\":0,\"groupName\":\"CG2\",\"messageModel\":1}]}\n";
    let hb: HeartbeatData = decode_json(pull.as_bytes()).unwrap();
    assert_eq!(
        hb.consumer_data_set[0].consume_type,
        ConsumeType::ConsumeActively
    );
    assert!(hb.consumer_data_set[0].subscription_data_set.is_empty());
    let producer = "{\"clientID\":\"23338-127.0.0.1@DEFAULT\",\"producerDataSet\":[{\"groupName\":\"PG1\"}]}\n";
    let hb: HeartbeatData = decode_json(producer.as_bytes()).unwrap();
    assert_eq!(hb.producer_data_set[0].group_name, "PG1");
    assert!(hb.consumer_data_set.is_empty());
}

#[test]
fn java_heartbeat_parses_and_writes_names() {
    let body = concat!(
        r#"{"clientID":"10.0.0.2@12345#98765","consumerDataSet":[{"consumeFromWhere":"CONSUME_FROM_LAST_OFFSET","#,
        r#""consumeType":"CONSUME_PASSIVELY","groupName":"G1","messageModel":"CLUSTERING","#,
        r#""subscriptionDataSet":[{"classFilterMode":false,"codeSet":[2598919],"expressionType":"TAG","#,
        r#""subString":"TagA","subVersion":1700000000000,"tagsSet":["TagA"],"topic":"T1"}],"#,
        r#""unitMode":false}],"heartbeatFingerprint":0,"producerDataSet":[{"groupName":"CLIENT_INNER_PRODUCER"}],"#,
        r#""withoutSub":false}"#
    );
    let mut hb: HeartbeatData = decode_json(body.as_bytes()).unwrap();
    assert_eq!(
        hb.consumer_data_set[0].subscription_data_set[0].sub_version,
        1700000000000
    );
    // Written back with enum names; codeSet is written from what the sender computed.
    hb.consumer_data_set[0].subscription_data_set[0].code_set = vec![2598919];
    assert_eq!(std::str::from_utf8(&encode_json(&hb)).unwrap(), body);
}

#[test]
fn bad_enum_values_are_errors() {
    let body = r#"{"clientID":"c","consumerDataSet":[{"groupName":"G","consumeType":9}]}"#;
    assert!(decode_json::<HeartbeatData>(body.as_bytes()).is_err());
    let body = r#"{"clientID":"c","consumerDataSet":[{"groupName":"G","messageModel":"BROADCASTING","consumeFromWhere":"5"}]}"#;
    let hb: HeartbeatData = decode_json(body.as_bytes()).unwrap();
    assert_eq!(
        hb.consumer_data_set[0].message_model,
        MessageModel::Broadcasting
    );
    assert_eq!(
        hb.consumer_data_set[0].consume_from_where,
        ConsumeFromWhere::ConsumeFromTimestamp
    );
}

#[test]
fn cpp_lock_body_parses_and_responses_are_exact() {
    let body = "{\"clientId\":\"23747-127.0.0.1@DEFAULT\",\"consumerGroup\":\"CG1\",\"mqSet\":[{\"brokerName\":\"b1\",\"queueId\":0,\"topic\":\"%RETRY%CG1\"}]}\n";
    let req: LockBatchRequestBody = decode_json(body.as_bytes()).unwrap();
    assert_eq!(req.client_id, "23747-127.0.0.1@DEFAULT");
    assert!(!req.only_this_broker);
    assert_eq!(
        req.mq_set.iter().next().unwrap(),
        &MessageQueue::new("%RETRY%CG1", "b1", 0)
    );
    let resp = LockBatchResponseBody {
        lock_ok_mq_set: req.mq_set.clone(),
    };
    assert_eq!(
        std::str::from_utf8(&encode_json(&resp)).unwrap(),
        r#"{"lockOKMQSet":[{"brokerName":"b1","queueId":0,"topic":"%RETRY%CG1"}]}"#
    );
    let unlock: UnlockBatchRequestBody = decode_json(&encode_json(&req)).unwrap();
    assert_eq!(unlock, req);
}

#[test]
fn message_queue_orders_like_java() {
    let mut v = vec![
        MessageQueue::new("T", "b", 0),
        MessageQueue::new("T", "a", 1),
        MessageQueue::new("S", "z", 9),
        MessageQueue::new("T", "a", 0),
    ];
    v.sort();
    assert_eq!(
        v,
        vec![
            MessageQueue::new("S", "z", 9),
            MessageQueue::new("T", "a", 0),
            MessageQueue::new("T", "a", 1),
            MessageQueue::new("T", "b", 0),
        ]
    );
}

#[test]
fn small_bodies_exact() {
    let list = ConsumerListBody {
        consumer_id_list: vec!["cid1".into(), "cid2".into()],
    };
    assert_eq!(
        std::str::from_utf8(&encode_json(&list)).unwrap(),
        r#"{"consumerIdList":["cid1","cid2"]}"#
    );
    let topics = TopicList {
        broker_addr: None,
        topic_list: BTreeSet::from(["T2".to_string(), "T1".to_string()]),
    };
    assert_eq!(
        std::str::from_utf8(&encode_json(&topics)).unwrap(),
        r#"{"topicList":["T1","T2"]}"#
    );
    let kv = KvTable {
        table: BTreeMap::from([("k".to_string(), "v".to_string())]),
    };
    assert_eq!(
        std::str::from_utf8(&encode_json(&kv)).unwrap(),
        r#"{"table":{"k":"v"}}"#
    );
    let dv = DataVersion {
        counter: 7,
        state_version: 0,
        timestamp: 1700000000000,
    };
    assert_eq!(
        std::str::from_utf8(&encode_json(&dv)).unwrap(),
        r#"{"counter":7,"stateVersion":0,"timestamp":1700000000000}"#
    );
}

fn register_body() -> RegisterBrokerBody {
    let mut t1 = TopicConfig::new("T1", 4, 6);
    t1.attributes
        .insert("+message.type".into(), "NORMAL".into());
    let t2 = TopicConfig::new("%RETRY%G", 1, 6);
    RegisterBrokerBody {
        filter_server_list: vec![],
        topic_config_serialize_wrapper: TopicConfigSerializeWrapper {
            data_version: DataVersion {
                counter: 7,
                state_version: 0,
                timestamp: 1700000000000,
            },
            topic_config_table: BTreeMap::from([
                ("T1".to_string(), t1),
                ("%RETRY%G".to_string(), t2),
            ]),
        },
    }
}

#[test]
fn register_body_java_json_parses() {
    let json = concat!(
        r#"{"filterServerList":[],"topicConfigSerializeWrapper":{"dataVersion":{"counter":7,"stateVersion":0,"timestamp":1700000000000},"#,
        r#""topicConfigTable":{"T1":{"attributes":{},"order":false,"perm":6,"readQueueNums":4,"topicFilterType":"SINGLE_TAG","topicName":"T1","topicSysFlag":0,"writeQueueNums":4}}}}"#
    );
    let body = RegisterBrokerBody::decode(json.as_bytes(), false).unwrap();
    let wrapper = &body.topic_config_serialize_wrapper;
    assert_eq!(wrapper.data_version.counter, 7);
    assert_eq!(
        wrapper.topic_config_table["T1"],
        TopicConfig::new("T1", 4, 6)
    );
}

#[test]
fn register_body_roundtrips_both_forms() {
    let body = register_body();
    for compressed in [false, true] {
        let bytes = body.encode(compressed);
        assert_eq!(
            RegisterBrokerBody::decode(&bytes, compressed).unwrap(),
            body
        );
    }
    let z = body.encode(true);
    assert_eq!(z[0], 0x78);
    // The inflated layout starts with the DataVersion JSON length.
    let raw = rocketmq_protocol::compression::inflate(&z, 1 << 20).unwrap();
    let dv = br#"{"counter":7,"stateVersion":0,"timestamp":1700000000000}"#;
    assert_eq!(&raw[..4], &(dv.len() as i32).to_be_bytes());
    assert_eq!(&raw[4..4 + dv.len()], dv);
    assert_eq!(&raw[4 + dv.len()..8 + dv.len()], &2i32.to_be_bytes());
    let first = b"%RETRY%G 1 1 6 SINGLE_TAG {}";
    assert_eq!(&raw[12 + dv.len()..12 + dv.len() + first.len()], first);
}

#[test]
fn compressed_register_body_rejects_bad_lengths() {
    let mk = |raw: &[u8]| rocketmq_protocol::compression::deflate(raw, 5);
    let mut huge_len = Vec::new();
    huge_len.extend_from_slice(&i32::MAX.to_be_bytes());
    assert!(RegisterBrokerBody::decode(&mk(&huge_len), true).is_err());
    let mut neg = Vec::new();
    neg.extend_from_slice(&(-1i32).to_be_bytes());
    assert!(RegisterBrokerBody::decode(&mk(&neg), true).is_err());
    let mut bad_topic = Vec::new();
    bad_topic.extend_from_slice(&2i32.to_be_bytes());
    bad_topic.extend_from_slice(b"{}");
    bad_topic.extend_from_slice(&1i32.to_be_bytes());
    bad_topic.extend_from_slice(&5i32.to_be_bytes());
    bad_topic.extend_from_slice(b"T x y");
    assert!(matches!(
        RegisterBrokerBody::decode(&mk(&bad_topic), true),
        Err(BodyError::Malformed(_))
    ));
    assert!(RegisterBrokerBody::decode(b"garbage", true).is_err());
}

#[test]
fn topic_config_text_form() {
    let mut t = TopicConfig::new("T", 8, 7);
    t.attributes.insert("k".into(), "v w".into());
    assert_eq!(t.encode_text(), r#"T 8 8 7 SINGLE_TAG {"k":"v w"}"#);
    assert_eq!(TopicConfig::decode_text(&t.encode_text()).unwrap(), t);
    assert_eq!(
        TopicConfig::decode_text("T 1 2 6 MULTI_TAG")
            .unwrap()
            .write_queue_nums,
        2
    );
    assert!(TopicConfig::decode_text("T 1 2").is_none());
    assert!(TopicConfig::decode_text("T a 2 6 SINGLE_TAG").is_none());
}

#[test]
fn reset_offset_bodies() {
    let table = BTreeMap::from([
        (MessageQueue::new("T", "b", 1), 12i64),
        (MessageQueue::new("T", "b", 0), 7i64),
    ]);
    assert_eq!(
        std::str::from_utf8(&encode_reset_offset_body_java(&table)).unwrap(),
        r#"{"offsetTable":{{"brokerName":"b","queueId":0,"topic":"T"}:7,{"brokerName":"b","queueId":1,"topic":"T"}:12}}"#
    );
    let for_c = ResetOffsetBodyForC::from_table(&table);
    let json = encode_json(&for_c);
    assert_eq!(
        std::str::from_utf8(&json).unwrap(),
        r#"{"offsetTable":[{"brokerName":"b","offset":7,"queueId":0,"topic":"T"},{"brokerName":"b","offset":12,"queueId":1,"topic":"T"}]}"#
    );
    assert_eq!(decode_json::<ResetOffsetBodyForC>(&json).unwrap(), for_c);
}
