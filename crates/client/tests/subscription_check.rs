//! SQL92 subscriptions checked with the broker (CHECK_CLIENT_CONFIG) before a push consumer
//! starts: an expression the broker refuses fails the start with the broker's reason, and the
//! consumer leaves nothing running; a tag subscription is never checked.

use bytes::Bytes;
use rocketmq_client::{
    ClientConfig, ClientError, ClientInstance, ConsumeBatch, ConsumeStatus, Message, MessageFilter,
    MessageListener, Producer, ProducerConfig, PushConsumer, PushConsumerConfig, Subscription,
};
use rocketmq_server::{EmbeddedCluster, ServerConfig};
use std::sync::Arc;
use std::time::Duration;

struct Accept;
impl MessageListener for Accept {
    fn consume(&self, batches: &mut [ConsumeBatch]) {
        for b in batches {
            b.status = ConsumeStatus::Success;
        }
    }
}

fn start(
    rt: &tokio::runtime::Runtime,
    c: &EmbeddedCluster,
    dir: &std::path::Path,
    filter: MessageFilter,
) -> rocketmq_client::Result<PushConsumer> {
    PushConsumer::start(
        rt.handle().clone(),
        ClientConfig {
            name_servers: vec![c.namesrv_addr().to_string()],
            ..ClientConfig::default()
        },
        PushConsumerConfig {
            group: "G_CHECK".into(),
            local_offset_dir: dir.to_path_buf(),
            ..PushConsumerConfig::default()
        },
        vec![Subscription {
            topic: "CheckT".into(),
            filter,
        }],
        Arc::new(Accept),
    )
}

#[test]
fn a_refused_expression_fails_the_start_with_the_brokers_reason() {
    let dir = tempfile::tempdir().unwrap();
    let c = EmbeddedCluster::start(ServerConfig {
        namesrv_port: 0,
        broker_port: 0,
        store_dir: dir.path().join("store"),
        commit_log_segment_size: 8 << 20,
        ..ServerConfig::default()
    })
    .expect("cluster starts");
    let rt = tokio::runtime::Runtime::new().unwrap();
    // The topic exists, so the consumer knows its broker.
    let client = ClientInstance::new(
        ClientConfig {
            name_servers: vec![c.namesrv_addr().to_string()],
            ..ClientConfig::default()
        },
        None,
    );
    let producer = Producer::new(
        client.clone(),
        ProducerConfig {
            group: "PG_CHECK".into(),
            ..ProducerConfig::default()
        },
    );
    rt.block_on(producer.send(&Message::new("CheckT", Bytes::from_static(b"x"))))
        .expect("send");

    let refused = start(
        &rt,
        &c,
        dir.path(),
        MessageFilter::sql92("a >== 5").unwrap(),
    )
    .err()
    .expect("the broker refuses the expression");
    match &refused {
        ClientError::ExpressionRefused(r) => {
            assert_eq!(r.topic, "CheckT");
            assert_eq!(r.expression_type, "SQL92");
            assert_eq!(r.expression, "a >== 5");
            assert_ne!(r.code, 0);
            assert!(!r.remark.is_empty(), "{refused}");
        }
        other => panic!("not a refusal: {other}"),
    }
    let text = refused.to_string();
    assert!(
        text.contains("a >== 5") && text.contains("CheckT"),
        "{text}"
    );

    // A tag subscription is not checked and starts.
    let consumer = start(&rt, &c, dir.path(), MessageFilter::parse("A || B")).expect("starts");
    consumer.shutdown(Duration::from_secs(1));
    rt.block_on(producer.shutdown());
    client.shutdown();
}
