//! Unit test of obeying RESET_CONSUMER_CLIENT_OFFSET: owned queues of the table restart at
//! their new offsets, the old ones are dropped; other queues and other groups are left alone.

use super::broker_requests::ConsumerRequestHandler;
use super::config::{PushConsumerConfig, Subscription};
use super::consumer::PushConsumer;
use super::listener::{ConsumeBatch, ConsumeStatus, MessageListener};
use super::process_queue::ProcessQueue;
use crate::filter::TagFilter;
use crate::remoting::RequestHandler;
use crate::route::MessageQueue;
use rocketmq_protocol::body::encode_reset_offset_body_java;
use rocketmq_protocol::code::request_code;
use rocketmq_protocol::RemotingCommand;
use std::collections::BTreeMap;
use std::sync::Arc;
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
    MessageQueue::new("T", "b", id)
}

fn reset_request(group: &str, table: &BTreeMap<MessageQueue, i64>) -> RemotingCommand {
    let mut request = RemotingCommand::new_request(request_code::RESET_CONSUMER_CLIENT_OFFSET)
        .with_body(encode_reset_offset_body_java(table));
    request.ext_fields.insert("group".into(), group.into());
    request.ext_fields.insert("topic".into(), "T".into());
    request
}

#[test]
fn a_reset_restarts_owned_queues_at_the_new_offsets() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let consumer = PushConsumer::start(
        rt.handle().clone(),
        crate::config::ClientConfig {
            // Nothing listens there: pulls fail and back off, which this test does not need.
            name_servers: vec!["127.0.0.1:1".into()],
            ..crate::config::ClientConfig::default()
        },
        PushConsumerConfig {
            group: "G_RESET".into(),
            local_offset_dir: dir.path().to_path_buf(),
            ..PushConsumerConfig::default()
        },
        vec![Subscription {
            topic: "T".into(),
            filter: TagFilter::parse("*"),
        }],
        Arc::new(Idle),
    )
    .expect("consumer starts");
    // An owned queue that started at 40 and pulls next at 41.
    let old = ProcessQueue::new(queue(0));
    old.start_at(40);
    old.pulled(&[], 41);
    consumer
        .core
        .queues
        .lock()
        .unwrap()
        .insert(queue(0), old.clone());
    consumer
        .core
        .offsets
        .committed
        .lock()
        .unwrap()
        .insert(queue(0), 41);
    let handler = ConsumerRequestHandler {
        rebalance_now: Arc::new(Notify::new()),
        core: std::sync::OnceLock::new(),
    };
    let _ = handler.core.set(Arc::downgrade(&consumer.core));
    let table: BTreeMap<MessageQueue, i64> = [(queue(0), 7), (queue(1), 3)].into_iter().collect();

    // Another group's reset changes nothing; the request is one-way (no answer).
    assert!(handler
        .handle("b", reset_request("OTHER", &table))
        .is_none());
    assert!(!old.is_dropped());

    assert!(handler
        .handle("b", reset_request("G_RESET", &table))
        .is_none());
    assert!(old.is_dropped(), "the old queue's pull loop ends");
    let queues = consumer.core.queue_list();
    assert_eq!(queues.len(), 1, "a queue not owned is not taken");
    let fresh = &queues[0];
    assert_eq!(fresh.mq, queue(0));
    assert!(!Arc::ptr_eq(fresh, &old));
    assert_eq!(fresh.commit_offset(), Some(7));
    assert!(
        !consumer
            .core
            .offsets
            .committed
            .lock()
            .unwrap()
            .contains_key(&queue(0)),
        "the new offset is committed at the next round even if it was committed before"
    );
    consumer.shutdown(std::time::Duration::from_secs(5));
}
