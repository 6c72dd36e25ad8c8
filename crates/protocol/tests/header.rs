//! Typed header tests against captured client requests (spec sec 7) and Java field names.

use rocketmq_protocol::code::request_code;
use rocketmq_protocol::frame;
use rocketmq_protocol::header::*;
use rocketmq_protocol::RemotingCommand;

fn json_frame(header: &str) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&((4 + header.len()) as u32).to_be_bytes());
    v.extend_from_slice(&(header.len() as u32).to_be_bytes());
    v.extend_from_slice(header.as_bytes());
    v
}

#[test]
fn cpp_send_header_v1() {
    let header = concat!(
        r#"{"code":10,"extFields":{"AccessKey":"","OnsChannel":"ALIYUN","Signature":"..","batch":"1","#,
        r#""bornTimestamp":"1795666352078","defaultTopic":"TBW102","defaultTopicQueueNums":4,"flag":0,"#,
        r#""producerGroup":"PG1","properties":"TAGS\u0001TagA\u0002","#,
        r#""queueId":0,"reconsumeTimes":"0","sysFlag":0,"topic":"TopicA","unitMode":"0"},"#,
        r#""flag":0,"language":"CPP","opaque":1,"remark":"","version":63}"#,
        "\n"
    );
    let cmd = frame::parse(&json_frame(header)).unwrap();
    let h = SendMessageRequestHeader::from_command(&cmd).unwrap();
    assert_eq!(
        h,
        SendMessageRequestHeader {
            producer_group: "PG1".into(),
            topic: "TopicA".into(),
            default_topic: "TBW102".into(),
            default_topic_queue_nums: 4,
            queue_id: 0,
            sys_flag: 0,
            born_timestamp: 1795666352078,
            flag: 0,
            properties: Some("TAGS\u{1}TagA\u{2}".into()),
            reconsume_times: Some(0),
            unit_mode: Some(false),
            max_reconsume_times: None,
            batch: Some(true),
            broker_name: None,
        }
    );
    assert!(h.is_batch(cmd.code));
}

#[test]
fn send_v2_converts_to_v1_and_back() {
    let v1 = SendMessageRequestHeader {
        producer_group: "PG".into(),
        topic: "T".into(),
        default_topic: "TBW102".into(),
        default_topic_queue_nums: 4,
        queue_id: 2,
        sys_flag: 0x301,
        born_timestamp: 1700000000000,
        flag: 7,
        properties: Some("UNIQ_KEY\u{1}ABC\u{2}".into()),
        reconsume_times: Some(1),
        unit_mode: Some(false),
        max_reconsume_times: Some(16),
        batch: Some(false),
        broker_name: Some("broker-a".into()),
    };
    let v2: SendMessageRequestHeaderV2 = v1.clone().into();
    let cmd = RemotingCommand::new_request(request_code::SEND_MESSAGE_V2).with_header(&v2);
    let keys: Vec<&str> = cmd.ext_fields.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n"]
    );
    assert_eq!(cmd.field("f"), Some("769"));
    assert_eq!(cmd.field("m"), Some("false"));
    let back = SendMessageRequestHeader::from_command(&cmd).unwrap();
    assert_eq!(back, v1);
    assert!(!back.is_batch(cmd.code));
    assert!(back.is_batch(request_code::SEND_BATCH_MESSAGE));

    // V1 keys with a V1 code are read as V1; missing V2 keys with a V2 code report `a`.
    let v1_cmd = RemotingCommand::new_request(request_code::SEND_MESSAGE).with_header(&v1);
    assert_eq!(SendMessageRequestHeader::from_command(&v1_cmd).unwrap(), v1);
    let empty = RemotingCommand::new_request(request_code::SEND_BATCH_MESSAGE);
    assert_eq!(
        SendMessageRequestHeader::from_command(&empty).unwrap_err(),
        HeaderError::Missing("a")
    );
}

#[test]
fn cpp_pull_header() {
    let header = r#"{"code":11,"extFields":{"commitOffset":"-1","consumerGroup":"CG1","maxMsgNums":32,"queueId":0,"queueOffset":"0","subVersion":"1795666361944","subscription":"TagA || TagB","suspendTimeoutMillis":"15000","sysFlag":6,"topic":"TopicA"},"flag":0,"language":"CPP","opaque":5,"remark":"","version":63}"#;
    let cmd = frame::parse(&json_frame(header)).unwrap();
    let h: PullMessageRequestHeader = cmd.decode_header().unwrap();
    assert_eq!(h.consumer_group, "CG1");
    assert_eq!(h.commit_offset, -1);
    assert_eq!(h.max_msg_nums, 32);
    assert_eq!(h.sub_version, 1795666361944);
    assert_eq!(h.subscription.as_deref(), Some("TagA || TagB"));
    assert_eq!(h.suspend_timeout_millis, 15000);
    assert!(h.has_suspend() && h.has_subscription() && !h.has_commit_offset());
    assert_eq!(h.expression_type, None);
}

#[test]
fn pull_response_always_writes_four_fields() {
    let mut resp = RemotingCommand::new_response(19, "OFFSET_OVERFLOW_ONE");
    resp.set_header(&PullMessageResponseHeader {
        suggest_which_broker_id: 0,
        next_begin_offset: 12,
        min_offset: 0,
        max_offset: 12,
        ..Default::default()
    });
    let frame = resp.to_frame();
    let text = std::str::from_utf8(&frame[8..]).unwrap();
    assert!(text.contains(
        r#""extFields":{"maxOffset":"12","minOffset":"0","nextBeginOffset":"12","suggestWhichBrokerId":"0"}"#
    ));
}

#[test]
fn send_back_and_unregister_from_cpp() {
    let header = r#"{"code":36,"extFields":{"delayLevel":0,"group":"CG1","offset":"1000"},"flag":0,"language":"CPP","opaque":9,"version":63}"#;
    let cmd = frame::parse(&json_frame(header)).unwrap();
    let h: ConsumerSendMsgBackRequestHeader = cmd.decode_header().unwrap();
    assert_eq!(
        (h.offset, h.group.as_str(), h.delay_level),
        (1000, "CG1", 0)
    );
    assert!(!h.unit_mode);
    assert_eq!(h.max_reconsume_times, None);

    let cmd = RemotingCommand::new_request(35)
        .with_field("clientID", "1-127.0.0.1@DEFAULT")
        .with_field("producerGroup", "")
        .with_field("consumerGroup", "CG1");
    let h: UnregisterClientRequestHeader = cmd.decode_header().unwrap();
    assert_eq!(h.producer_group, None);
    assert_eq!(h.consumer_group.as_deref(), Some("CG1"));
}

#[test]
fn offset_headers() {
    let cmd = RemotingCommand::new_request(30)
        .with_field("topic", "T")
        .with_field("queueId", "3");
    let h: GetMaxOffsetRequestHeader = cmd.decode_header().unwrap();
    assert!(h.committed, "committed defaults to true");
    let h: GetMinOffsetRequestHeader = cmd.decode_header().unwrap();
    assert_eq!(h.queue_id, 3);
    let h: SearchOffsetRequestHeader = cmd
        .clone()
        .with_field("timestamp", 5)
        .with_field("boundaryType", "upper")
        .decode_header()
        .unwrap();
    assert_eq!(h.boundary(), BoundaryType::Upper);
    let missing = cmd
        .decode_header::<SearchOffsetRequestHeader>()
        .unwrap_err();
    assert_eq!(missing, HeaderError::Missing("timestamp"));

    let q: QueryConsumerOffsetRequestHeader = RemotingCommand::new_request(14)
        .with_field("consumerGroup", "G")
        .with_field("topic", "T")
        .with_field("queueId", 0)
        .decode_header()
        .unwrap();
    assert_eq!(q.set_zero_if_not_found, None);

    let mut resp = RemotingCommand::new_response(0, "");
    resp.set_header(&OffsetResponseHeader { offset: 42 });
    assert_eq!(resp.field("offset"), Some("42"));
    resp.set_header(&TimestampResponseHeader { timestamp: 7 });
    assert_eq!(resp.field("timestamp"), Some("7"));

    let bad = RemotingCommand::new_request(15)
        .with_field("consumerGroup", "G")
        .with_field("topic", "T")
        .with_field("queueId", 0)
        .with_field("commitOffset", "ten");
    assert_eq!(
        bad.decode_header::<UpdateConsumerOffsetRequestHeader>()
            .unwrap_err()
            .to_string(),
        "the custom field <commitOffset> has an invalid value \"ten\""
    );
}

#[test]
fn namesrv_and_admin_headers_roundtrip() {
    let reg = RegisterBrokerRequestHeader {
        broker_name: "broker-a".into(),
        broker_addr: "127.0.0.1:10911".into(),
        cluster_name: "DefaultCluster".into(),
        ha_server_addr: "127.0.0.1:10912".into(),
        broker_id: 0,
        heartbeat_timeout_millis: Some(120000),
        enable_acting_master: None,
        compressed: false,
        body_crc32: 12345,
    };
    let cmd = RemotingCommand::new_request(103).with_header(&reg);
    assert_eq!(
        cmd.decode_header::<RegisterBrokerRequestHeader>().unwrap(),
        reg
    );
    let mut minimal = cmd.clone();
    minimal.ext_fields.remove("compressed");
    minimal.ext_fields.remove("bodyCrc32");
    let m: RegisterBrokerRequestHeader = minimal.decode_header().unwrap();
    assert!(!m.compressed);
    assert_eq!(m.body_crc32, 0);

    let create = CreateTopicRequestHeader {
        topic: "T".into(),
        default_topic: "TBW102".into(),
        read_queue_nums: 8,
        write_queue_nums: 8,
        perm: 6,
        topic_filter_type: "SINGLE_TAG".into(),
        topic_sys_flag: Some(0),
        order: true,
        attributes: None,
        force: None,
    };
    let cmd = RemotingCommand::new_request(17).with_header(&create);
    assert_eq!(cmd.field("order"), Some("true"));
    assert_eq!(
        cmd.decode_header::<CreateTopicRequestHeader>().unwrap(),
        create
    );

    let r: GetRouteInfoRequestHeader = RemotingCommand::new_request(105)
        .with_field("topic", "T")
        .with_field("acceptStandardJsonOnly", "true")
        .decode_header()
        .unwrap();
    assert_eq!(r.accept_standard_json_only, Some(true));

    let kv = PutKvConfigRequestHeader {
        namespace: "ORDER_TOPIC_CONFIG".into(),
        key: "T".into(),
        value: "broker-a:4".into(),
    };
    let cmd = RemotingCommand::new_request(100).with_header(&kv);
    assert_eq!(cmd.decode_header::<PutKvConfigRequestHeader>().unwrap(), kv);
    let g: GetKvConfigRequestHeader = cmd.decode_header().unwrap();
    assert_eq!(g.key, "T");

    let q = QueryMessageRequestHeader {
        topic: "T".into(),
        key: "k1".into(),
        max_num: 32,
        begin_timestamp: 0,
        end_timestamp: i64::MAX,
    };
    let cmd = RemotingCommand::new_request(12).with_header(&q);
    assert_eq!(cmd.decode_header::<QueryMessageRequestHeader>().unwrap(), q);
    let v: ViewMessageRequestHeader = RemotingCommand::new_request(33)
        .with_field("offset", "1000")
        .decode_header()
        .unwrap();
    assert_eq!((v.offset, v.topic), (1000, None));
}

#[test]
fn transaction_headers() {
    let end = EndTransactionRequestHeader {
        producer_group: "PG".into(),
        tran_state_table_offset: 3,
        commit_log_offset: 4096,
        commit_or_rollback: commit_or_rollback::COMMIT,
        from_transaction_check: true,
        msg_id: "ABC".into(),
        transaction_id: Some("ABC".into()),
        topic: None,
    };
    let cmd = RemotingCommand::new_request(37).with_header(&end);
    assert_eq!(cmd.field("commitOrRollback"), Some("8"));
    assert_eq!(cmd.field("fromTransactionCheck"), Some("true"));
    assert_eq!(
        cmd.decode_header::<EndTransactionRequestHeader>().unwrap(),
        end
    );
    let check = CheckTransactionStateRequestHeader {
        tran_state_table_offset: 3,
        commit_log_offset: 4096,
        msg_id: Some("ABC".into()),
        transaction_id: Some("ABC".into()),
        offset_msg_id: Some("7F00000100002A9F0000000000001000".into()),
        topic: Some("T".into()),
        broker_name: Some("broker-a".into()),
    };
    let cmd = RemotingCommand::new_request(39).with_header(&check);
    assert_eq!(cmd.field("bname"), Some("broker-a"));
    assert_eq!(
        cmd.decode_header::<CheckTransactionStateRequestHeader>()
            .unwrap(),
        check
    );
}
