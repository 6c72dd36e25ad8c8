//! Topic routes: which brokers hold a topic's queues, and the queues a client may publish to
//! and subscribe from.

use rocketmq_protocol::body::route::TopicRouteData;
use rocketmq_protocol::body::topic_config::perm;
use std::collections::BTreeMap;

pub use rocketmq_protocol::body::lock::MessageQueue;

/// A route as the client uses it.
#[derive(Clone, Debug)]
pub struct TopicRoute {
    pub topic: String,
    pub data: TopicRouteData,
    /// Writable queues of brokers that have a master, in broker-name then queue-id order.
    pub publish: Vec<MessageQueue>,
    /// Readable queues, sorted.
    pub subscribe: Vec<MessageQueue>,
    /// Broker name -> master address.
    pub masters: BTreeMap<String, String>,
    /// Built from the auto-create template (the name server did not know the topic yet).
    pub from_template: bool,
}

impl TopicRoute {
    pub fn new(topic: &str, data: TopicRouteData) -> TopicRoute {
        let mut masters = BTreeMap::new();
        for b in &data.broker_datas {
            if let Some(addr) = b.broker_addrs.get(&0) {
                masters.insert(b.broker_name.clone(), addr.clone());
            }
        }
        let mut publish = Vec::new();
        let mut subscribe = Vec::new();
        let mut queue_datas = data.queue_datas.clone();
        queue_datas.sort_by(|a, b| a.broker_name.cmp(&b.broker_name));
        for q in &queue_datas {
            if q.perm & perm::WRITE != 0 && masters.contains_key(&q.broker_name) {
                for id in 0..q.write_queue_nums.max(0) {
                    publish.push(MessageQueue {
                        topic: topic.to_string(),
                        broker_name: q.broker_name.clone(),
                        queue_id: id,
                    });
                }
            }
            if q.perm & perm::READ != 0 {
                for id in 0..q.read_queue_nums.max(0) {
                    subscribe.push(MessageQueue {
                        topic: topic.to_string(),
                        broker_name: q.broker_name.clone(),
                        queue_id: id,
                    });
                }
            }
        }
        subscribe.sort();
        TopicRoute {
            topic: topic.to_string(),
            data,
            publish,
            subscribe,
            masters,
            from_template: false,
        }
    }

    /// The route of the auto-create template topic, used for a topic the name server does not
    /// know yet: its queues, capped at `max_queues` per broker, named after `topic`.
    pub fn from_template(topic: &str, template: &TopicRouteData, max_queues: i32) -> TopicRoute {
        let mut data = template.clone();
        for q in &mut data.queue_datas {
            q.read_queue_nums = q.read_queue_nums.min(max_queues);
            q.write_queue_nums = q.write_queue_nums.min(max_queues);
        }
        TopicRoute {
            from_template: true,
            ..TopicRoute::new(topic, data)
        }
    }
}
