//! Tests of the consume-stats and reset-offset operations over a memory store: what the
//! answers hold, and what the group's live consumers are told.

use super::clients::HeartbeatSource;
use super::send::SendRequest;
use crate::broker::test_broker::test_broker;
use crate::remoting::ConnectionHandle;
use bytes::Bytes;
use rocketmq_protocol::body::{decode_heartbeat_leniently, decode_reset_offset_body, MessageQueue};
use rocketmq_protocol::code::{request_code, response_code as resp, LanguageCode};
use rocketmq_protocol::header::SendMessageRequestHeader;

fn send(topic: &str, queue_id: i32) -> SendRequest {
    SendRequest {
        header: SendMessageRequestHeader {
            producer_group: "PG".into(),
            topic: topic.into(),
            default_topic: "TBW102".into(),
            default_topic_queue_nums: 2,
            queue_id,
            born_timestamp: 1,
            ..Default::default()
        },
        body: Bytes::from_static(b"x"),
        batch: false,
        born_host: "127.0.0.1:5555".parse().unwrap(),
        client_version: 0,
    }
}

#[test]
fn consume_stats_report_offsets_lag_and_the_last_consumed_store_time() {
    let t = test_broker();
    let broker = &t.broker;
    for _ in 0..3 {
        broker.send_store(send("T", 0)).unwrap();
    }
    broker.send_store(send("T", 1)).unwrap();
    t.store.commit_offset("CG", "T", 0, 2);
    let stats = broker.consume_stats("CG", None).unwrap();
    let name = &broker.config.broker_name;
    let q0 = stats.offset_table[&MessageQueue::new("T", name, 0)];
    let q1 = stats.offset_table[&MessageQueue::new("T", name, 1)];
    assert_eq!(
        (q0.broker_offset, q0.consumer_offset, q0.pull_offset),
        (3, 2, 2)
    );
    let second = broker.store_time_at("T", 0, 1).unwrap();
    assert_eq!(q0.last_timestamp, second);
    assert_eq!(
        (q1.broker_offset, q1.consumer_offset, q1.last_timestamp),
        (1, 0, 0)
    );
    // A pull answer moves the pull offset past the committed one and counts in the rate.
    broker.observe_pull("CG", "T", 0, 3, 1);
    let stats = broker.consume_stats("CG", Some("T")).unwrap();
    assert_eq!(
        stats.offset_table[&MessageQueue::new("T", name, 0)].pull_offset,
        3
    );
    assert!(stats.consume_tps > 0.0);
    // A group without offsets has no topics; a topic asked for by name is still reported.
    assert!(broker
        .consume_stats("nobody", None)
        .unwrap()
        .offset_table
        .is_empty());
    assert_eq!(
        broker
            .consume_stats("nobody", Some("T"))
            .unwrap()
            .offset_table
            .len(),
        2
    );
    assert_eq!(
        broker.consume_stats("", None).unwrap_err().code,
        resp::SYSTEM_ERROR
    );
}

#[tokio::test]
async fn a_reset_commits_offsets_by_time_and_tells_every_live_consumer() {
    let t = test_broker();
    let broker = &t.broker;
    broker.send_store(send("T", 0)).unwrap();
    let between = broker.store_time_at("T", 0, 0).unwrap() + 1;
    // Store times are non-decreasing: wait (bounded) until the clock passed `between`.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while rocketmq_protocol::now_millis() <= between && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    broker.send_store(send("T", 0)).unwrap();
    broker.send_store(send("T", 1)).unwrap();
    t.store.commit_offset("CG", "T", 0, 2);

    let (java_conn, mut java_rx) = ConnectionHandle::detached("127.0.0.1:5001".parse().unwrap());
    let (cpp_conn, mut cpp_rx) = ConnectionHandle::detached("127.0.0.1:5002".parse().unwrap());
    for (conn, id, language) in [
        (&java_conn, "java", LanguageCode::Java),
        (&cpp_conn, "cpp", LanguageCode::Cpp),
    ] {
        let body = format!(
            r#"{{"clientID":"{id}","consumerDataSet":[{{"groupName":"CG","subscriptionDataSet":[{{"topic":"T","subString":"*"}}]}}]}}"#
        );
        broker
            .heartbeat(
                HeartbeatSource { conn, language },
                decode_heartbeat_leniently(body.as_bytes()).unwrap(),
            )
            .unwrap();
    }
    // Membership notifications of the heartbeats are not what this test looks at.
    while java_rx.try_recv().is_ok() {}
    while cpp_rx.try_recv().is_ok() {}

    let table = broker.reset_offset("T", "CG", between, None).unwrap();
    let name = broker.config.broker_name.clone();
    let expected = [
        (MessageQueue::new("T", &name, 0), 1),
        (MessageQueue::new("T", &name, 1), 0),
    ]
    .into_iter()
    .collect();
    assert_eq!(table, expected);
    assert_eq!(t.store.committed_offset("CG", "T", 0), Some(1));
    assert_eq!(t.store.committed_offset("CG", "T", 1), Some(0));

    let to_java = java_rx.try_recv().unwrap();
    assert_eq!(to_java.code, request_code::RESET_CONSUMER_CLIENT_OFFSET);
    assert_eq!(to_java.field("group"), Some("CG"));
    assert!(to_java.body.starts_with(b"{\"offsetTable\":{{"));
    assert_eq!(decode_reset_offset_body(&to_java.body).unwrap(), expected);
    let to_cpp = cpp_rx.try_recv().unwrap();
    assert!(to_cpp.body.starts_with(b"{\"offsetTable\":[{"));
    assert_eq!(decode_reset_offset_body(&to_cpp.body).unwrap(), expected);

    // One queue (Java 5.x's queueId/offset): to an offset within its bounds, or by time.
    let one = broker
        .reset_offset("T", "CG", 0, Some((0, Some(2))))
        .unwrap();
    assert_eq!(
        one.into_iter().collect::<Vec<_>>(),
        [(MessageQueue::new("T", &name, 0), 2)]
    );
    assert_eq!(t.store.committed_offset("CG", "T", 1), Some(0));
    let refused = broker
        .reset_offset("T", "CG", 0, Some((0, Some(9))))
        .unwrap_err();
    assert_eq!(refused.code, resp::SYSTEM_ERROR);
    assert!(
        refused.remark.contains("not in consume queue range [0-2]"),
        "{}",
        refused.remark
    );
    let by_time = broker.reset_offset("T", "CG", 0, Some((1, None))).unwrap();
    assert_eq!(by_time.into_values().collect::<Vec<_>>(), [0]);

    // To the end of every queue, with nobody online: committed all the same.
    drop((java_conn, cpp_conn));
    let to_end = broker.reset_offset("T", "OTHER", -1, None).unwrap();
    assert_eq!(to_end.values().copied().collect::<Vec<_>>(), [2, 1]);
    assert_eq!(t.store.committed_offset("OTHER", "T", 0), Some(2));
    assert_eq!(
        broker.reset_offset("NOPE", "CG", 0, None).unwrap_err().code,
        resp::TOPIC_NOT_EXIST
    );
}
