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
