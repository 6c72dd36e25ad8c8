//! Tests of the transaction rules, state and END_TRANSACTION.

use super::rules::{committed, op_record, OP_HALF_TOPIC, OP_TAG};
use super::state::{TransactionState, PROGRESS_CONFIG};
use super::*;
use crate::broker::test_broker::{test_broker, TestBroker};
use crate::remoting::{ConnectionHandle, RequestProcessor};
use bytes::Bytes;
use rocketmq_protocol::code::{request_code, response_code as resp};
use rocketmq_protocol::header::commit_or_rollback;
use rocketmq_protocol::message::StoredMessage;
use rocketmq_protocol::properties::{
    get_property, PGROUP, REAL_QID, REAL_TOPIC, TAGS, TRANSACTION_ID, TRAN_MSG, UNIQ_KEY,
};
use rocketmq_protocol::sysflag::{
    transaction_type, TRANSACTION_COMMIT_TYPE, TRANSACTION_NOT_TYPE, TRANSACTION_PREPARED_TYPE,
};
use rocketmq_protocol::tag::tags_code;
use rocketmq_protocol::RemotingCommand;
use rocketmq_store::{MemoryStore, MessageStore, MessageToStore};

fn props(pairs: &[(&str, &str)]) -> String {
    rocketmq_protocol::properties::encode_pairs(pairs)
}

fn message(topic: &str, queue_id: i32, properties: String) -> MessageToStore {
    let host = "127.0.0.1:10911".parse().unwrap();
    MessageToStore {
        topic: topic.into(),
        queue_id,
        flag: 3,
        sys_flag: TRANSACTION_PREPARED_TYPE,
        born_timestamp: 1,
        born_host: host,
        store_host: host,
        reconsume_times: 0,
        prepared_transaction_offset: 0,
        body: Bytes::from_static(b"b"),
        tags_code: 0,
        properties,
    }
}

#[test]
fn half_detection_follows_tran_msg_and_skips_old_style_retries() {
    assert!(is_half_message(&props(&[(TRAN_MSG, "true")]), 0));
    assert!(is_half_message(&props(&[(TRAN_MSG, "TRUE")]), 2));
    assert!(!is_half_message(&props(&[(TRAN_MSG, "false")]), 0));
    assert!(!is_half_message(&props(&[]), 0));
    assert!(!is_half_message(
        &props(&[(TRAN_MSG, "true"), ("DELAY", "3")]),
        1
    ));
}

#[test]
fn half_and_committed_rewrites() {
    let original = props(&[
        (TRAN_MSG, "true"),
        (PGROUP, "PG"),
        (TAGS, "t"),
        (UNIQ_KEY, "U1"),
    ]);
    let half = to_half(message("Real", 2, original), "U1");
    assert_eq!(half.topic, HALF_TOPIC);
    assert_eq!(half.queue_id, 0);
    assert_eq!(transaction_type(half.sys_flag), TRANSACTION_NOT_TYPE);
    assert_eq!(get_property(&half.properties, REAL_TOPIC), Some("Real"));
    assert_eq!(get_property(&half.properties, REAL_QID), Some("2"));
    assert_eq!(get_property(&half.properties, TRANSACTION_ID), Some("U1"));

    let stored = StoredMessage {
        total_size: 0,
        magic_code: 0,
        body_crc: 0,
        queue_id: 0,
        flag: half.flag,
        queue_offset: 7,
        physical_offset: 1234,
        sys_flag: half.sys_flag,
        born_timestamp: 1,
        born_host: half.born_host,
        store_timestamp: 2,
        store_host: half.store_host,
        reconsume_times: 0,
        prepared_transaction_offset: 0,
        body: half.body.clone(),
        topic: HALF_TOPIC.into(),
        properties: half.properties.clone(),
    };
    let c = committed(&stored, 1234).unwrap();
    assert_eq!((c.topic.as_str(), c.queue_id, c.flag), ("Real", 2, 3));
    assert_eq!(transaction_type(c.sys_flag), TRANSACTION_COMMIT_TYPE);
    assert_eq!(c.prepared_transaction_offset, 1234);
    assert_eq!(c.tags_code, tags_code(Some("t")));
    for gone in [TRAN_MSG, REAL_TOPIC, REAL_QID] {
        assert_eq!(get_property(&c.properties, gone), None, "{gone}");
    }
    for kept in [PGROUP, UNIQ_KEY, TRANSACTION_ID, TAGS] {
        assert!(get_property(&c.properties, kept).is_some(), "{kept}");
    }
    let op = op_record(&stored, "U1");
    assert_eq!(op.topic, OP_HALF_TOPIC);
    assert_eq!(&op.body[..], b"7,");
    assert_eq!(get_property(&op.properties, TAGS), Some(OP_TAG));

    let mut no_destination = stored;
    no_destination.properties = props(&[(UNIQ_KEY, "U1")]);
    assert!(committed(&no_destination, 1234).is_none());
}

#[test]
fn decisions_are_rebuilt_from_op_records_of_either_form() {
    let store = MemoryStore::new();
    let h1 = to_half(message("Real", 0, props(&[(UNIQ_KEY, "A")])), "A");
    let h2 = to_half(message("Real", 0, props(&[(UNIQ_KEY, "B")])), "B");
    let h3 = to_half(message("Real", 0, props(&[(UNIQ_KEY, "C")])), "C");
    let put = store.put_messages(vec![h1, h2, h3]).unwrap();
    assert_eq!(put.results[1].queue_offset, 1);
    let mut with_id = message(OP_HALF_TOPIC, 0, props(&[(TRANSACTION_ID, "A")]));
    with_id.sys_flag = 0;
    // An op record as Java writes it: only the half queue offset.
    let mut offsets_only = message(OP_HALF_TOPIC, 0, props(&[(TAGS, OP_TAG)]));
    offsets_only.sys_flag = 0;
    offsets_only.body = Bytes::from_static(b"1,");
    store.put_messages(vec![with_id, offsets_only]).unwrap();
    store
        .save_config(PROGRESS_CONFIG, r#"{"offset":2}"#)
        .unwrap();
    let state = TransactionState::load(&store);
    assert!(state.is_decided("A"));
    assert!(state.is_decided("B"));
    assert!(!state.is_decided("C"));
    assert_eq!(state.progress(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_committed_delayed_message_goes_through_the_schedule_topic() {
    let TestBroker {
        broker,
        store,
        stop: _stop,
        ..
    } = test_broker();
    let (conn, _rx) = ConnectionHandle::detached("127.0.0.1:5555".parse().unwrap());
    let properties = props(&[(TRAN_MSG, "true"), (PGROUP, "PG"), ("DELAY", "2")]);
    let send = RemotingCommand::new_request(10)
        .with_field("producerGroup", "PG")
        .with_field("topic", "T")
        .with_field("defaultTopic", "TBW102")
        .with_field("defaultTopicQueueNums", 4)
        .with_field("queueId", 1)
        .with_field("sysFlag", TRANSACTION_PREPARED_TYPE)
        .with_field("bornTimestamp", 1)
        .with_field("flag", 0)
        .with_field("properties", properties)
        .with_body(b"x".to_vec());
    let sent = broker.clone().process(conn.clone(), send).await.unwrap();
    assert_eq!(sent.code, resp::SUCCESS, "{:?}", sent.remark);
    // Half, not scheduled: the delay waits for the commit.
    assert_eq!(store.max_offset(HALF_TOPIC, 0), 1);
    assert_eq!(
        store.max_offset(crate::broker::schedule::SCHEDULE_TOPIC, 1),
        0
    );
    let (_, offset) =
        rocketmq_protocol::message_id::decode_offset_msg_id(sent.field("msgId").unwrap()).unwrap();
    let end = RemotingCommand::new_request(request_code::END_TRANSACTION)
        .with_field("producerGroup", "PG")
        .with_field("tranStateTableOffset", sent.field("queueOffset").unwrap())
        .with_field("commitLogOffset", offset)
        .with_field("commitOrRollback", commit_or_rollback::COMMIT)
        .with_field("msgId", sent.field("transactionId").unwrap());
    let ended = broker.clone().process(conn, end).await.unwrap();
    assert_eq!(ended.code, resp::SUCCESS, "{:?}", ended.remark);
    assert_eq!(
        store.max_offset("T", 1),
        0,
        "not delivered before its delay"
    );
    assert_eq!(
        store.max_offset(crate::broker::schedule::SCHEDULE_TOPIC, 1),
        1
    );
    assert_eq!(store.max_offset(OP_HALF_TOPIC, 0), 1);
}
