//! Tests of the remoting front end over a detached connection.

use crate::broker::test_broker::{test_broker, TestBroker};
use crate::remoting::{ConnectionHandle, RequestProcessor};
use rocketmq_protocol::code::response_code as resp;
use rocketmq_protocol::RemotingCommand;
use rocketmq_store::MessageStore;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_that_refuses_writes_gets_an_error_answer_not_a_hang() {
    let TestBroker {
        broker,
        memory,
        stop: _stop,
        ..
    } = test_broker();
    let (conn, _rx) = ConnectionHandle::detached("127.0.0.1:5555".parse().unwrap());
    let send = || {
        RemotingCommand::new_request(10)
            .with_field("producerGroup", "PG")
            .with_field("topic", "T")
            .with_field("defaultTopic", "TBW102")
            .with_field("defaultTopicQueueNums", 4)
            .with_field("queueId", 0)
            .with_field("sysFlag", 0)
            .with_field("bornTimestamp", 1)
            .with_field("flag", 0)
            .with_body(b"x".to_vec())
    };
    let ok = broker.clone().process(conn.clone(), send()).await.unwrap();
    assert_eq!(ok.code, resp::SUCCESS, "{:?}", ok.remark);
    memory.shutdown();
    let answer = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        broker.clone().process(conn, send()),
    )
    .await
    .expect("answered promptly")
    .unwrap();
    assert_eq!(answer.code, resp::SERVICE_NOT_AVAILABLE);
    assert!(answer.remark.unwrap().contains("shut down"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_topic_configs_are_written_in_the_wrapper_form_java_reads() {
    let TestBroker {
        broker,
        stop: _stop,
        ..
    } = test_broker();
    let (conn, _rx) = ConnectionHandle::detached("127.0.0.1:5555".parse().unwrap());
    let request =
        RemotingCommand::new_request(rocketmq_protocol::code::request_code::GET_ALL_TOPIC_CONFIG);
    let answer = broker.clone().process(conn, request).await.unwrap();
    assert_eq!(answer.code, resp::SUCCESS, "{:?}", answer.remark);
    let text = String::from_utf8(answer.body.to_vec()).unwrap();
    // Field names and order as fastjson writes TopicConfigSerializeWrapper and DataVersion.
    let data_version = text
        .strip_prefix(r#"{"dataVersion":{"counter":"#)
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        data_version.contains(r#","stateVersion":0,"timestamp":"#),
        "{text}"
    );
    assert!(data_version.contains(r#"},"topicConfigTable":{"#), "{text}");
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        v["topicConfigTable"]["TBW102"]["topicName"], "TBW102",
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_sends_and_empty_queues_are_answered_as_java_answers_them() {
    let TestBroker {
        broker,
        stop: _stop,
        ..
    } = test_broker();
    let (conn, _rx) = ConnectionHandle::detached("127.0.0.1:5555".parse().unwrap());
    let send = |topic: &str, queue_id: i32| {
        RemotingCommand::new_request(10)
            .with_field("producerGroup", "PG")
            .with_field("topic", topic)
            .with_field("defaultTopic", "TBW102")
            .with_field("defaultTopicQueueNums", 4)
            .with_field("queueId", queue_id)
            .with_field("sysFlag", 0)
            .with_field("bornTimestamp", 1)
            .with_field("flag", 0)
            .with_body(b"x".to_vec())
    };
    let cases = [
        (
            send("T", 99),
            resp::INVALID_PARAMETER,
            "request queueId[99] is illegal",
        ),
        (
            send("bad topic", 0),
            resp::INVALID_PARAMETER,
            "contains illegal characters, allowing only ^[%|a-zA-Z0-9_-]+$",
        ),
        (
            send("SCHEDULE_TOPIC_XXXX", 0),
            resp::NO_PERMISSION,
            "Sending message to topic[SCHEDULE_TOPIC_XXXX] is forbidden.",
        ),
    ];
    assert_eq!(
        broker
            .clone()
            .process(conn.clone(), send("T", 0))
            .await
            .unwrap()
            .code,
        resp::SUCCESS
    );
    for (request, code, phrase) in cases {
        let answer = broker.clone().process(conn.clone(), request).await.unwrap();
        assert_eq!(answer.code, code, "{:?}", answer.remark);
        let remark = answer.remark.clone().unwrap_or_default();
        assert!(remark.contains(phrase), "{remark}");
        // Java adds the region and trace switch to every send answer, refusals included.
        assert_eq!(
            answer.field("MSG_REGION"),
            Some("DefaultRegion"),
            "{remark}"
        );
        assert_eq!(answer.field("TRACE_ON"), Some("true"), "{remark}");
    }

    let earliest = RemotingCommand::new_request(32)
        .with_field("topic", "T")
        .with_field("queueId", 3);
    let answer = broker.clone().process(conn, earliest).await.unwrap();
    assert_eq!(answer.code, resp::SUCCESS, "{:?}", answer.remark);
    assert_eq!(answer.field("timestamp"), Some("-1"));
}
