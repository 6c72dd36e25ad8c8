//! Unit tests of a push consumer's subscriptions: SQL92 subscriptions in its heartbeat as
//! Java's client writes them, and `subscribe` on the running consumer adding or replacing
//! one (no broker is reachable here, so the brokers' check is skipped, as for a topic
//! without a route).

use super::config::{PushConsumerConfig, Subscription};
use super::consumer::PushConsumer;
use super::listener::{ConsumeBatch, MessageListener};
use crate::filter::{ExpressionType, MessageFilter};
use std::sync::Arc;
use std::time::Duration;

struct Unused;
impl MessageListener for Unused {
    fn consume(&self, _batches: &mut [ConsumeBatch]) {}
}

fn start(rt: &tokio::runtime::Runtime, dir: &std::path::Path) -> PushConsumer {
    PushConsumer::start(
        rt.handle().clone(),
        crate::config::ClientConfig {
            // Nothing listens there: no route, so nothing is checked or pulled.
            name_servers: vec!["127.0.0.1:1".into()],
            ..crate::config::ClientConfig::default()
        },
        PushConsumerConfig {
            group: "G_SQL".into(),
            local_offset_dir: dir.to_path_buf(),
            ..PushConsumerConfig::default()
        },
        vec![Subscription {
            topic: "Orders".into(),
            filter: MessageFilter::sql92("region = 'eu' AND amount > 100").unwrap(),
        }],
        Arc::new(Unused),
    )
    .expect("consumer starts")
}

#[test]
fn heartbeats_carry_sql92_subscriptions_as_javas_client_writes_them() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let consumer = start(&rt, dir.path());
    let hb = consumer.core.heartbeat();
    let subs = &hb.consumer_data_set[0].subscription_data_set;
    assert_eq!(subs.len(), 2);
    assert_eq!(subs[0].topic, "Orders");
    assert_eq!(subs[0].expression_type, "SQL92");
    assert_eq!(subs[0].sub_string, "region = 'eu' AND amount > 100");
    assert!(subs[0].tags_set.is_empty() && subs[0].code_set.is_empty());
    // The retry topic stays a tag subscription to everything.
    assert_eq!(subs[1].topic, "%RETRY%G_SQL");
    assert_eq!(subs[1].expression_type, "TAG");
    assert_eq!(subs[1].sub_string, "*");
    consumer.shutdown(Duration::from_secs(1));
}

#[test]
fn subscribe_on_a_running_consumer_adds_or_replaces_the_topics_filter() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let consumer = start(&rt, dir.path());
    consumer
        .subscribe(Subscription {
            topic: "Orders".into(),
            filter: MessageFilter::parse("TagA || TagB"),
        })
        .expect("a tag subscription needs no check");
    consumer
        .subscribe(Subscription {
            topic: "Refunds".into(),
            filter: MessageFilter::new("amount < 0", ExpressionType::Sql92).unwrap(),
        })
        .expect("a topic without a route is not checked");
    let orders = consumer.core.filter_of("Orders").unwrap();
    assert_eq!(orders.expression_type, ExpressionType::Tag);
    assert_eq!(orders.expression, "TagA || TagB");
    let refunds = consumer.core.filter_of("Refunds").unwrap();
    assert_eq!(refunds.expression_type, ExpressionType::Sql92);
    let topics: Vec<String> = consumer.core.heartbeat().consumer_data_set[0]
        .subscription_data_set
        .iter()
        .map(|s| format!("{} {} {}", s.topic, s.expression_type, s.sub_string))
        .collect();
    assert_eq!(
        topics,
        [
            "Orders TAG TagA || TagB",
            "%RETRY%G_SQL TAG *",
            "Refunds SQL92 amount < 0"
        ]
    );
    consumer.shutdown(Duration::from_secs(1));
}
