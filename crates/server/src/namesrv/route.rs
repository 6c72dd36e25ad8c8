//! The name server's route table (Java `RouteInfoManager`): which brokers serve which topics,
//! which brokers are alive, and the JSON bodies built from that.
//!
//! What must stay true: route JSON is compact standard JSON with quoted numeric
//! `brokerAddrs` keys (every client parses that, Go even requires no whitespace); a broker
//! removed (unregistered, expired, connection closed) disappears from every topic, and a topic
//! left without brokers disappears entirely (so clients get 17 for it).

use rocketmq_store::TopicConfig;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

/// `QueueData` of the route body; fields in fastjson's alphabetical order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QueueData {
    pub broker_name: String,
    pub perm: i32,
    pub read_queue_nums: i32,
    pub topic_sys_flag: i32,
    pub write_queue_nums: i32,
}

/// `BrokerData`: broker id -> address (id 0 = master).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BrokerData {
    pub broker_addrs: BTreeMap<i64, String>,
    pub broker_name: String,
    pub cluster: String,
    pub enable_acting_master: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TopicRouteBody<'a> {
    broker_datas: Vec<&'a BrokerData>,
    filter_server_table: BTreeMap<String, Vec<String>>,
    queue_datas: Vec<&'a QueueData>,
}

/// Liveness of one registered broker address.
#[derive(Clone, Debug)]
pub struct BrokerLiveInfo {
    pub last_update: Instant,
    /// Connection the broker registered over; closing it removes the broker.
    pub connection_id: u64,
    pub data_version: serde_json::Value,
    pub cluster: String,
    pub broker_name: String,
    pub broker_id: i64,
}

/// One REGISTER_BROKER, decoded.
#[derive(Clone, Debug)]
pub struct Registration {
    pub cluster: String,
    pub broker_name: String,
    pub broker_addr: String,
    pub broker_id: i64,
    pub data_version: serde_json::Value,
    /// `None` when the body carried no topic table (keep what we have).
    pub topics: Option<Vec<TopicConfig>>,
    pub connection_id: u64,
}

#[derive(Default)]
pub struct RouteTable {
    topic_queues: HashMap<String, BTreeMap<String, QueueData>>,
    brokers: BTreeMap<String, BrokerData>,
    clusters: BTreeMap<String, BTreeSet<String>>,
    live: HashMap<String, BrokerLiveInfo>,
}

impl RouteTable {
    pub fn register(&mut self, reg: Registration, now: Instant) {
        self.clusters
            .entry(reg.cluster.clone())
            .or_default()
            .insert(reg.broker_name.clone());
        let broker = self
            .brokers
            .entry(reg.broker_name.clone())
            .or_insert_with(|| BrokerData {
                broker_addrs: BTreeMap::new(),
                broker_name: reg.broker_name.clone(),
                cluster: reg.cluster.clone(),
                enable_acting_master: false,
            });
        broker.cluster = reg.cluster.clone();
        // One address serves one role: drop a stale id that pointed at the same address.
        broker
            .broker_addrs
            .retain(|id, addr| *id == reg.broker_id || *addr != reg.broker_addr);
        broker
            .broker_addrs
            .insert(reg.broker_id, reg.broker_addr.clone());

        if reg.broker_id == 0 {
            if let Some(topics) = &reg.topics {
                let names: BTreeSet<&str> = topics.iter().map(|t| t.topic_name.as_str()).collect();
                for (topic, queues) in self.topic_queues.iter_mut() {
                    if !names.contains(topic.as_str()) {
                        queues.remove(&reg.broker_name);
                    }
                }
                for t in topics {
                    self.topic_queues
                        .entry(t.topic_name.clone())
                        .or_default()
                        .insert(
                            reg.broker_name.clone(),
                            QueueData {
                                broker_name: reg.broker_name.clone(),
                                perm: t.perm,
                                read_queue_nums: t.read_queue_nums,
                                topic_sys_flag: t.topic_sys_flag,
                                write_queue_nums: t.write_queue_nums,
                            },
                        );
                }
                self.topic_queues.retain(|_, q| !q.is_empty());
            }
        }
        self.live.insert(
            reg.broker_addr.clone(),
            BrokerLiveInfo {
                last_update: now,
                connection_id: reg.connection_id,
                data_version: reg.data_version,
                cluster: reg.cluster,
                broker_name: reg.broker_name,
                broker_id: reg.broker_id,
            },
        );
    }

    /// Refreshes liveness; false when the address is not registered.
    pub fn touch(&mut self, broker_addr: &str, now: Instant) -> bool {
        match self.live.get_mut(broker_addr) {
            Some(info) => {
                info.last_update = now;
                true
            }
            None => false,
        }
    }

    pub fn data_version(&self, broker_addr: &str) -> Option<&serde_json::Value> {
        self.live.get(broker_addr).map(|l| &l.data_version)
    }

    /// Removes one broker address and everything only it served.
    pub fn unregister(&mut self, broker_name: &str, broker_addr: &str) {
        self.live.remove(broker_addr);
        let mut name_gone = false;
        if let Some(broker) = self.brokers.get_mut(broker_name) {
            broker.broker_addrs.retain(|_, a| a != broker_addr);
            name_gone = broker.broker_addrs.is_empty();
        }
        if name_gone {
            self.brokers.remove(broker_name);
            for names in self.clusters.values_mut() {
                names.remove(broker_name);
            }
            self.clusters.retain(|_, n| !n.is_empty());
            for queues in self.topic_queues.values_mut() {
                queues.remove(broker_name);
            }
            self.topic_queues.retain(|_, q| !q.is_empty());
        }
    }

    /// Drops brokers silent for longer than `expiry`; returns the removed addresses.
    pub fn expire(&mut self, now: Instant, expiry: Duration) -> Vec<String> {
        let dead: Vec<(String, String)> = self
            .live
            .iter()
            .filter(|(_, l)| now.saturating_duration_since(l.last_update) > expiry)
            .map(|(a, l)| (l.broker_name.clone(), a.clone()))
            .collect();
        self.remove_all(dead)
    }

    /// Drops brokers that registered over `connection_id`; returns the removed addresses.
    pub fn connection_closed(&mut self, connection_id: u64) -> Vec<String> {
        let dead: Vec<(String, String)> = self
            .live
            .iter()
            .filter(|(_, l)| l.connection_id == connection_id)
            .map(|(a, l)| (l.broker_name.clone(), a.clone()))
            .collect();
        self.remove_all(dead)
    }

    fn remove_all(&mut self, dead: Vec<(String, String)>) -> Vec<String> {
        let mut removed = Vec::with_capacity(dead.len());
        for (name, addr) in dead {
            self.unregister(&name, &addr);
            removed.push(addr);
        }
        removed
    }

    /// The compact JSON route body of `topic`, or `None` when no live broker serves it.
    pub fn route_json(&self, topic: &str) -> Option<String> {
        let queues = self.topic_queues.get(topic)?;
        let queue_datas: Vec<&QueueData> = queues.values().collect();
        let broker_datas: Vec<&BrokerData> = queues
            .keys()
            .filter_map(|name| self.brokers.get(name))
            .collect();
        if queue_datas.is_empty() || broker_datas.is_empty() {
            return None;
        }
        let body = TopicRouteBody {
            broker_datas,
            filter_server_table: BTreeMap::new(),
            queue_datas,
        };
        serde_json::to_string(&body).ok()
    }

    /// `ClusterInfo` JSON.
    pub fn cluster_info_json(&self) -> String {
        serde_json::json!({
            "brokerAddrTable": self.brokers,
            "clusterAddrTable": self.clusters,
        })
        .to_string()
    }

    /// Every topic with a route.
    pub fn topics(&self) -> Vec<String> {
        let mut t: Vec<String> = self.topic_queues.keys().cloned().collect();
        t.sort();
        t
    }

    /// Topics served by brokers of `cluster`.
    pub fn topics_of_cluster(&self, cluster: &str) -> Vec<String> {
        let Some(names) = self.clusters.get(cluster) else {
            return Vec::new();
        };
        let mut t: Vec<String> = self
            .topic_queues
            .iter()
            .filter(|(_, q)| q.keys().any(|n| names.contains(n)))
            .map(|(t, _)| t.clone())
            .collect();
        t.sort();
        t
    }

    pub fn is_live(&self, broker_addr: &str) -> bool {
        self.live.contains_key(broker_addr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reg(topics: &[(&str, i32)], conn: u64) -> Registration {
        Registration {
            cluster: "DefaultCluster".into(),
            broker_name: "broker-a".into(),
            broker_addr: "127.0.0.1:10911".into(),
            broker_id: 0,
            data_version: serde_json::json!({"counter": 1}),
            topics: Some(
                topics
                    .iter()
                    .map(|(n, q)| TopicConfig::new(*n, *q, 6))
                    .collect(),
            ),
            connection_id: conn,
        }
    }

    #[test]
    fn route_json_is_compact_with_quoted_keys() {
        let mut t = RouteTable::default();
        t.register(reg(&[("TopicA", 4)], 1), Instant::now());
        let json = t.route_json("TopicA").unwrap();
        assert_eq!(
            json,
            r#"{"brokerDatas":[{"brokerAddrs":{"0":"127.0.0.1:10911"},"brokerName":"broker-a","cluster":"DefaultCluster","enableActingMaster":false}],"filterServerTable":{},"queueDatas":[{"brokerName":"broker-a","perm":6,"readQueueNums":4,"topicSysFlag":0,"writeQueueNums":4}]}"#
        );
        assert!(t.route_json("Other").is_none());
    }

    #[test]
    fn expiry_and_connection_close_remove_routes() {
        let mut t = RouteTable::default();
        let start = Instant::now();
        t.register(reg(&[("TopicA", 4)], 1), start);
        assert!(t
            .expire(start + Duration::from_secs(1), Duration::from_secs(5))
            .is_empty());
        let gone = t.expire(start + Duration::from_secs(6), Duration::from_secs(5));
        assert_eq!(gone, vec!["127.0.0.1:10911".to_string()]);
        assert!(t.route_json("TopicA").is_none());
        assert!(t.topics().is_empty());

        t.register(reg(&[("TopicA", 4)], 7), start);
        assert!(t.connection_closed(8).is_empty());
        assert_eq!(t.connection_closed(7).len(), 1);
        assert!(t.route_json("TopicA").is_none());
        assert_eq!(
            t.cluster_info_json(),
            r#"{"brokerAddrTable":{},"clusterAddrTable":{}}"#
        );
    }

    #[test]
    fn re_registration_replaces_the_topic_set() {
        let mut t = RouteTable::default();
        t.register(reg(&[("A", 4), ("B", 2)], 1), Instant::now());
        t.register(reg(&[("A", 8)], 1), Instant::now());
        assert!(t.route_json("B").is_none());
        assert!(t.route_json("A").unwrap().contains(r#""writeQueueNums":8"#));
        assert_eq!(t.topics(), vec!["A".to_string()]);
        assert_eq!(t.topics_of_cluster("DefaultCluster"), vec!["A".to_string()]);
    }
}
