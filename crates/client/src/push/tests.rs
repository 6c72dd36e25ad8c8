//! Unit tests of the push consumer's parts that need its private state: the running-info
//! answer built from owned queues' progress.

use super::broker_requests::ConsumerRequestHandler;
use super::config::{PushConsumerConfig, Subscription};
use super::consumer::PushConsumer;
use super::listener::{ConsumeBatch, ConsumeStatus, MessageListener};
use super::process_queue::ProcessQueue;
use crate::filter::TagFilter;
use crate::remoting::RequestHandler;
use crate::route::MessageQueue;
use rocketmq_protocol::code::request_code;
use rocketmq_protocol::RemotingCommand;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

struct Idle;
impl MessageListener for Idle {
    fn consume(&self, batches: &mut [ConsumeBatch]) {
        for b in batches {
            b.status = ConsumeStatus::Success;
        }
    }
}

fn queue(id: i32) -> MessageQueue {
    MessageQueue {
        topic: "T".into(),
        broker_name: "b".into(),
        queue_id: id,
    }
}

#[test]
fn the_handler_answers_running_info_with_the_queues_in_flight() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let consumer = PushConsumer::start(
        rt.handle().clone(),
        crate::config::ClientConfig {
            // Nothing listens there: the consumer retries in the background, which
            // this test does not need.
            name_servers: vec!["127.0.0.1:1".into()],
            ..crate::config::ClientConfig::default()
        },
        PushConsumerConfig {
            group: "G_INFO".into(),
            orderly: true,
            max_cached_bytes_per_queue: 3 << 20,
            local_offset_dir: dir.path().to_path_buf(),
            ..PushConsumerConfig::default()
        },
        vec![Subscription {
            topic: "T".into(),
            filter: TagFilter::parse("A || B"),
        }],
        Arc::new(Idle),
    )
    .expect("consumer starts");
    // An owned queue with two messages in flight (2 MiB + 1 byte) and the next pull at 12.
    let pq = ProcessQueue::new(queue(0));
    {
        let mut p = pq.progress.lock().unwrap();
        p.in_flight.insert(10, 2 << 20);
        p.in_flight.insert(11, 1);
        p.in_flight_bytes = (2 << 20) + 1;
        p.next_offset = 12;
        p.started = true;
    }
    consumer
        .core
        .queues
        .lock()
        .unwrap()
        .insert(queue(0), pq.clone());
    let handler = ConsumerRequestHandler {
        rebalance_now: Arc::new(Notify::new()),
        core: std::sync::OnceLock::new(),
    };
    let mut request = RemotingCommand::new_request(request_code::GET_CONSUMER_RUNNING_INFO);
    request
        .ext_fields
        .insert("consumerGroup".into(), "G_INFO".into());
    // Before the consumer is attached there is nothing to report.
    let resp = handler.handle("b", request.clone()).expect("an answer");
    assert_eq!(
        resp.code,
        rocketmq_protocol::code::response_code::SYSTEM_ERROR
    );
    let _ = handler.core.set(Arc::downgrade(&consumer.core));

    let resp = handler.handle("b", request.clone()).expect("an answer");
    assert_eq!(resp.code, rocketmq_protocol::code::response_code::SUCCESS);
    let body = String::from_utf8(resp.body.to_vec()).unwrap();
    assert!(
        body.contains(concat!(
            r#"{"brokerName":"b","queueId":0,"topic":"T"}:{"cachedMsgCount":2,"#,
            r#""cachedMsgMaxOffset":11,"cachedMsgMinOffset":10,"cachedMsgSizeInMiB":2,"#,
            r#""commitOffset":10,"droped":false}"#
        )),
        "{body}"
    );
    // The rest is plain JSON once the object-keyed table is taken out.
    let rest = format!("{{{}", &body[body.find("\"properties\"").unwrap()..]);
    let v: serde_json::Value = serde_json::from_str(&rest).unwrap();
    let props = &v["properties"];
    assert_eq!(props["consumerGroup"], "G_INFO");
    assert_eq!(props["clientId"], consumer.client_id());
    assert_eq!(props["messageModel"], "CLUSTERING");
    assert_eq!(props["consumeFromWhere"], "CONSUME_FROM_LAST_OFFSET");
    assert_eq!(props["PROP_CONSUME_TYPE"], "CONSUME_PASSIVELY");
    assert_eq!(props["PROP_CONSUME_ORDERLY"], "true");
    assert_eq!(props["pullThresholdSizeForQueue"], "3");
    let topics: Vec<&str> = v["subscriptionSet"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["topic"].as_str().unwrap())
        .collect();
    assert_eq!(topics, ["T", "%RETRY%G_INFO"]);
    assert_eq!(
        v["subscriptionSet"][0]["tagsSet"],
        serde_json::json!(["A", "B"])
    );

    // The whole answer, byte for byte; only the client id and the subscription versions
    // (a timestamp taken when the answer is built) vary from run to run.
    let sub_version = v["subscriptionSet"][0]["subVersion"].as_i64().unwrap();
    assert_eq!(
        v["subscriptionSet"][1]["subVersion"].as_i64(),
        Some(sub_version)
    );
    let expected = format!(
        concat!(
            r#"{{"mqTable":{{{{"brokerName":"b","queueId":0,"topic":"T"}}:"#,
            r#"{{"cachedMsgCount":2,"cachedMsgMaxOffset":11,"cachedMsgMinOffset":10,"#,
            r#""cachedMsgSizeInMiB":2,"commitOffset":10,"droped":false}}}},"#,
            r#""properties":{{"PROP_CONSUME_ORDERLY":"true","#,
            r#""PROP_CONSUME_TYPE":"CONSUME_PASSIVELY","#,
            r#""PROP_NAMESERVER_ADDR":"127.0.0.1:1","PROP_THREADPOOL_CORE_SIZE":"4","#,
            r#""clientId":"{client_id}","consumeFromWhere":"CONSUME_FROM_LAST_OFFSET","#,
            r#""consumeMessageBatchMaxSize":"1","consumerGroup":"G_INFO","#,
            r#""instanceName":"DEFAULT","maxReconsumeTimes":"16","#,
            r#""messageModel":"CLUSTERING","pullBatchSize":"32","#,
            r#""pullThresholdForQueue":"1000","pullThresholdSizeForQueue":"3"}},"#,
            r#""statusTable":{{}},"subscriptionSet":["#,
            r#"{{"classFilterMode":false,"codeSet":[65,66],"expressionType":"TAG","#,
            r#""subString":"A || B","subVersion":{sub_version},"tagsSet":["A","B"],"#,
            r#""topic":"T"}},"#,
            r#"{{"classFilterMode":false,"codeSet":[],"expressionType":"TAG","#,
            r#""subString":"*","subVersion":{sub_version},"tagsSet":[],"#,
            r#""topic":"%RETRY%G_INFO"}}]}}"#
        ),
        client_id = consumer.client_id(),
        sub_version = sub_version,
    );
    assert_eq!(body, expected);

    // Acknowledging one message moves the committed position in the answer.
    pq.acked(std::iter::once(10));
    let body = String::from_utf8(handler.handle("b", request).unwrap().body.to_vec()).unwrap();
    assert!(body.contains(r#"{"cachedMsgCount":1,"cachedMsgMaxOffset":11,"cachedMsgMinOffset":11,"cachedMsgSizeInMiB":0,"commitOffset":11,"#), "{body}");

    // Another group is not this consumer's to answer.
    let mut other = RemotingCommand::new_request(request_code::GET_CONSUMER_RUNNING_INFO);
    other
        .ext_fields
        .insert("consumerGroup".into(), "OTHER".into());
    let resp = handler.handle("b", other).unwrap();
    assert_eq!(
        resp.code,
        rocketmq_protocol::code::response_code::SYSTEM_ERROR
    );
    consumer.shutdown(Duration::from_secs(1));
}
