//! Tests of the operations without any transport: plain values in, plain values out.

use super::clients::HeartbeatSource;
use super::pull::PullStatus;
use super::send::SendRequest;
use crate::broker::test_broker::test_broker;
use crate::broker::Broker;
use crate::remoting::ConnectionHandle;
use bytes::Bytes;
use rocketmq_protocol::body::{decode_heartbeat_leniently, LockBatchRequestBody, MessageQueue};
use rocketmq_protocol::code::response_code as resp;
use rocketmq_protocol::header::{
    pull_sys_flag, PullMessageRequestHeader, QueryConsumerOffsetRequestHeader,
    SendMessageRequestHeader,
};
use rocketmq_protocol::message::decode_stored;
use std::sync::Arc;

/// A broker over a memory store, and the sender of its shutdown flag (kept by the test).
fn broker_and_stop() -> (Arc<Broker>, tokio::sync::watch::Sender<bool>) {
    let t = test_broker();
    (t.broker, t.stop)
}

fn send_request(topic: &str, queue_id: i32, body: &'static [u8]) -> SendRequest {
    SendRequest {
        header: SendMessageRequestHeader {
            producer_group: "PG".into(),
            topic: topic.into(),
            default_topic: "TBW102".into(),
            default_topic_queue_nums: 4,
            queue_id,
            born_timestamp: 1,
            properties: Some("TAGS\u{1}a\u{2}".into()),
            ..Default::default()
        },
        body: Bytes::from_static(body),
        batch: false,
        born_host: "127.0.0.1:5555".parse().unwrap(),
        client_version: 0,
    }
}

fn pull_header(topic: &str, queue_id: i32, offset: i64) -> PullMessageRequestHeader {
    PullMessageRequestHeader {
        consumer_group: "CG".into(),
        topic: topic.into(),
        queue_id,
        queue_offset: offset,
        max_msg_nums: 32,
        sys_flag: pull_sys_flag::SUBSCRIPTION,
        subscription: Some("*".into()),
        ..Default::default()
    }
}

#[tokio::test]
async fn a_sent_message_is_pulled_back_through_the_operations() {
    let (broker, _stop) = broker_and_stop();
    let stored = broker.send_store(send_request("T", 2, b"hello")).unwrap();
    let receipt = broker.send_finish(stored).await.unwrap();
    assert_eq!((receipt.queue_id, receipt.queue_offset), (2, 0));
    assert!(receipt.flush_failure.is_none());
    assert!(receipt.transaction_id.is_some());

    let outcome = broker
        .pull(&pull_header("T", 2, 0), std::future::pending())
        .await;
    assert_eq!(outcome.status, Ok(PullStatus::Found));
    assert_eq!(outcome.store_status, "FOUND");
    assert_eq!(
        (
            outcome.next_begin_offset,
            outcome.min_offset,
            outcome.max_offset
        ),
        (1, 0, 1)
    );
    let (message, _) = decode_stored(&outcome.messages).unwrap();
    assert_eq!(&message.body[..], b"hello");

    // Nothing new, no suspend flag: answered at once.
    let outcome = broker
        .pull(&pull_header("T", 2, 1), std::future::pending())
        .await;
    assert_eq!(outcome.status, Ok(PullStatus::NoNewMessage));
    assert_eq!(outcome.next_begin_offset, 1);
}

#[tokio::test]
async fn refusals_are_errors_with_codes() {
    let (broker, _stop) = broker_and_stop();
    let refused = broker
        .send_store(send_request("T", 99, b"x"))
        .err()
        .unwrap();
    assert_eq!(refused.code, resp::INVALID_PARAMETER);
    assert!(refused.remark.contains("queueId[99]"), "{}", refused.remark);

    let outcome = broker
        .pull(&pull_header("Nope", 0, 5), std::future::pending())
        .await;
    let e = outcome.status.unwrap_err();
    assert_eq!(e.code, resp::TOPIC_NOT_EXIST);
    assert_eq!(outcome.next_begin_offset, 5);

    let query = |queue_id| QueryConsumerOffsetRequestHeader {
        consumer_group: "CG".into(),
        topic: "T".into(),
        queue_id,
        set_zero_if_not_found: Some(true),
        broker_name: None,
    };
    let young = broker.query_consumer_offset(&query(0)).unwrap();
    assert_eq!(young, 0, "a young queue starts at 0");
    let mut told_not_to = query(0);
    told_not_to.set_zero_if_not_found = Some(false);
    let missing = broker.query_consumer_offset(&told_not_to).unwrap_err();
    assert_eq!(missing.code, resp::QUERY_NOT_FOUND);
    assert_eq!(
        missing.remark,
        "Not found, do not set to zero, maybe this group boot first"
    );
}

#[tokio::test]
async fn answers_agree_with_javas_where_the_differential_tests_found_them_apart() {
    let (broker, _stop) = broker_and_stop();
    broker.send_store(send_request("T", 0, b"x")).unwrap();

    // An illegal group name: Java cannot create the subscription group.
    let mut header = pull_header("T", 0, 0);
    header.consumer_group = "bad group".into();
    let outcome = broker.pull(&header, std::future::pending()).await;
    let e = outcome.status.unwrap_err();
    assert_eq!(e.code, resp::SUBSCRIPTION_GROUP_NOT_EXIST);
    assert!(e
        .remark
        .contains("subscription group [bad group] does not exist"));

    // A queue of an existing topic that nothing was written to is an empty queue.
    let outcome = broker
        .pull(&pull_header("T", 1, 0), std::future::pending())
        .await;
    assert_eq!(outcome.status, Ok(PullStatus::NoNewMessage));
    assert_eq!(outcome.store_status, "NO_MESSAGE_IN_QUEUE");

    // No message, no earliest store time: -1, not an error.
    assert_eq!(broker.earliest_store_time("T", 1), -1);
    assert_eq!(broker.earliest_store_time("Nope", 0), -1);
    assert!(broker.earliest_store_time("T", 0) > 0);
}

#[tokio::test]
async fn a_long_poll_ends_when_its_caller_goes_away() {
    let (broker, _stop) = broker_and_stop();
    broker.send_store(send_request("T", 0, b"x")).unwrap();
    let mut header = pull_header("T", 0, 1);
    header.sys_flag |= pull_sys_flag::SUSPEND;
    header.suspend_timeout_millis = 60_000;
    let outcome = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        broker.pull(&header, std::future::ready(())),
    )
    .await
    .expect("not held once the caller is gone");
    assert_eq!(outcome.status, Ok(PullStatus::NoNewMessage));
}

#[tokio::test]
async fn heartbeats_register_members_and_keep_subscriptions_when_told() {
    let (broker, _stop) = broker_and_stop();
    let (conn, _rx) = ConnectionHandle::detached("127.0.0.1:5555".parse().unwrap());
    let source = || HeartbeatSource {
        conn: &conn,
        language: Default::default(),
    };
    let full = br#"{"clientID":"c1","consumerDataSet":[{"groupName":"CG","consumeType":9,
        "subscriptionDataSet":[{"topic":"T","subString":"a"},{"subString":"*"}]},{"groupName":""}]}"#;
    broker
        .heartbeat(source(), decode_heartbeat_leniently(full).unwrap())
        .unwrap();
    assert_eq!(broker.consumer_list("CG").unwrap(), ["c1"]);
    assert_eq!(
        broker.consumer_list("nobody").unwrap_err().code,
        resp::SYSTEM_ERROR
    );
    let light = br#"{"clientID":"c1","withoutSub":true,"consumerDataSet":[{"groupName":"CG","subscriptionDataSet":[]}]}"#;
    broker
        .heartbeat(source(), decode_heartbeat_leniently(light).unwrap())
        .unwrap();
    let kept = broker.clients.subscription("CG", "T").unwrap().unwrap();
    assert_eq!(kept.sub_string, "a");

    broker.unregister_client(conn.id(), "c1", None, Some("CG"));
    assert!(broker.consumer_list("CG").is_err());
}

#[test]
fn queue_locks_go_to_one_client_at_a_time() {
    let (broker, _stop) = broker_and_stop();
    let ask = |client: &str| LockBatchRequestBody {
        client_id: client.into(),
        consumer_group: "CG".into(),
        mq_set: [
            MessageQueue::new("T", "b", 0),
            MessageQueue::new("T", "b", 1),
        ]
        .into_iter()
        .collect(),
        only_this_broker: false,
    };
    assert_eq!(broker.lock_batch(ask("c1")).lock_ok_mq_set.len(), 2);
    assert!(broker.lock_batch(ask("c2")).lock_ok_mq_set.is_empty());
    broker.unlock_batch(ask("c1"));
    assert_eq!(broker.lock_batch(ask("c2")).lock_ok_mq_set.len(), 2);
}
