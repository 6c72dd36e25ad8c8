//! The name server's route table (the Java `RouteInfoManager`'s role): which brokers serve
//! which topics, which broker addresses are alive, and the route and cluster views built
//! from that, as the protocol crate's body types.
//!
//! What must stay true: a broker removed (unregistered, expired, connection closed)
//! disappears from every topic, and a topic left without brokers disappears entirely (so
//! clients get TOPIC_NOT_EXIST for it); only a master (broker id 0) sets a topic's queues;
//! one address holds one broker id.

use rocketmq_protocol::body::TopicConfig;
use rocketmq_protocol::body::{BrokerData, ClusterInfo, DataVersion, QueueData, TopicRouteData};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

/// Liveness of one registered broker address.
#[derive(Clone, Debug)]
struct BrokerLiveInfo {
    last_update: Instant,
    /// Connection the broker registered over; closing it removes the broker.
    connection_id: u64,
    /// `None` when the registration carried no body.
    data_version: Option<DataVersion>,
    broker_name: String,
}

/// One REGISTER_BROKER, decoded.
#[derive(Clone, Debug)]
pub struct Registration {
    pub cluster: String,
    pub broker_name: String,
    pub broker_addr: String,
    pub broker_id: i64,
    /// `None` when the request had no body.
    pub data_version: Option<DataVersion>,
    /// `None` when the body carried no topic table (keep what we have).
    pub topics: Option<Vec<TopicConfig>>,
    pub connection_id: u64,
}

/// What the name server knows of a broker's topic-config version (QUERY_DATA_VERSION).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DataVersionCheck {
    /// True unless the broker is registered with exactly the version it asks about.
    pub changed: bool,
    /// The registered version: `None` for an unknown address, `Some(None)` for a broker
    /// that registered without a body.
    pub registered: Option<Option<DataVersion>>,
}

#[derive(Default)]
pub struct RouteTable {
    /// Topic -> broker name -> that broker's queues of the topic.
    topic_queues: HashMap<String, BTreeMap<String, QueueData>>,
    /// Broker name -> its cluster and member addresses.
    brokers: BTreeMap<String, BrokerData>,
    /// Cluster name -> broker names.
    clusters: BTreeMap<String, BTreeSet<String>>,
    /// Broker address -> liveness.
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
                broker_name: reg.broker_name.clone(),
                cluster: reg.cluster.clone(),
                ..BrokerData::default()
            });
        broker.cluster = reg.cluster.clone();
        // One address serves one role: drop a stale id that pointed at the same address.
        broker
            .broker_addrs
            .retain(|id, addr| *id == reg.broker_id || *addr != reg.broker_addr);
        broker
            .broker_addrs
            .insert(reg.broker_id, reg.broker_addr.clone());

        if reg.broker_id == rocketmq_protocol::body::MASTER_ID {
            if let Some(topics) = &reg.topics {
                self.replace_topics_of(&reg.broker_name, topics);
            }
        }
        self.live.insert(
            reg.broker_addr,
            BrokerLiveInfo {
                last_update: now,
                connection_id: reg.connection_id,
                data_version: reg.data_version,
                broker_name: reg.broker_name,
            },
        );
    }

    /// Makes `topics` exactly the set of topics `broker_name` serves.
    fn replace_topics_of(&mut self, broker_name: &str, topics: &[TopicConfig]) {
        let names: BTreeSet<&str> = topics.iter().map(|t| t.topic_name.as_str()).collect();
        for (topic, queues) in self.topic_queues.iter_mut() {
            if !names.contains(topic.as_str()) {
                queues.remove(broker_name);
            }
        }
        for t in topics {
            self.topic_queues
                .entry(t.topic_name.clone())
                .or_default()
                .insert(
                    broker_name.to_string(),
                    QueueData {
                        broker_name: broker_name.to_string(),
                        perm: t.perm,
                        read_queue_nums: t.read_queue_nums,
                        topic_sys_flag: t.topic_sys_flag,
                        write_queue_nums: t.write_queue_nums,
                    },
                );
        }
        self.topic_queues.retain(|_, q| !q.is_empty());
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

    /// Compares `theirs` with the version `broker_addr` registered.
    pub fn check_data_version(
        &self,
        broker_addr: &str,
        theirs: Option<&DataVersion>,
    ) -> DataVersionCheck {
        let registered = self.live.get(broker_addr).map(|l| l.data_version.clone());
        DataVersionCheck {
            changed: registered.as_ref().map(Option::as_ref) != Some(theirs),
            registered,
        }
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

    /// The route of `topic`, or `None` when no live broker serves it.
    pub fn route(&self, topic: &str) -> Option<TopicRouteData> {
        let queues = self.topic_queues.get(topic)?;
        let queue_datas: Vec<QueueData> = queues.values().cloned().collect();
        let broker_datas: Vec<BrokerData> = queues
            .keys()
            .filter_map(|name| self.brokers.get(name).cloned())
            .collect();
        if queue_datas.is_empty() || broker_datas.is_empty() {
            return None;
        }
        Some(TopicRouteData {
            broker_datas,
            queue_datas,
            ..TopicRouteData::default()
        })
    }

    /// Every broker by name, and every cluster's broker names.
    pub fn cluster_info(&self) -> ClusterInfo {
        ClusterInfo {
            broker_addr_table: self.brokers.clone(),
            cluster_addr_table: self.clusters.clone(),
        }
    }

    /// Every topic with a route.
    pub fn topics(&self) -> BTreeSet<String> {
        self.topic_queues.keys().cloned().collect()
    }

    /// Topics served by brokers of `cluster`.
    pub fn topics_of_cluster(&self, cluster: &str) -> BTreeSet<String> {
        let Some(names) = self.clusters.get(cluster) else {
            return BTreeSet::new();
        };
        self.topic_queues
            .iter()
            .filter(|(_, q)| q.keys().any(|n| names.contains(n)))
            .map(|(t, _)| t.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rocketmq_protocol::body::encode_json;

    fn reg(topics: &[(&str, i32)], conn: u64) -> Registration {
        Registration {
            cluster: "DefaultCluster".into(),
            broker_name: "broker-a".into(),
            broker_addr: "127.0.0.1:10911".into(),
            broker_id: 0,
            data_version: Some(DataVersion {
                counter: 1,
                ..DataVersion::default()
            }),
            topics: Some(
                topics
                    .iter()
                    .map(|(n, q)| TopicConfig::new(*n, *q, 6))
                    .collect(),
            ),
            connection_id: conn,
        }
    }

    fn route_json(t: &RouteTable, topic: &str) -> Option<String> {
        t.route(topic)
            .map(|r| String::from_utf8(encode_json(&r).to_vec()).unwrap())
    }

    // The exact bytes the name server wrote when it built this body with its own types.
    #[test]
    fn route_json_is_compact_with_quoted_keys() {
        let mut t = RouteTable::default();
        t.register(reg(&[("TopicA", 4)], 1), Instant::now());
        assert_eq!(
            route_json(&t, "TopicA").unwrap(),
            r#"{"brokerDatas":[{"brokerAddrs":{"0":"127.0.0.1:10911"},"brokerName":"broker-a","cluster":"DefaultCluster","enableActingMaster":false}],"filterServerTable":{},"queueDatas":[{"brokerName":"broker-a","perm":6,"readQueueNums":4,"topicSysFlag":0,"writeQueueNums":4}]}"#
        );
        assert!(t.route("Other").is_none());
    }

    // The exact bytes the name server wrote when it built this body with `json!`.
    #[test]
    fn cluster_info_json_is_what_it_was() {
        let mut t = RouteTable::default();
        t.register(reg(&[("TopicA", 4)], 1), Instant::now());
        let mut slave = reg(&[], 2);
        slave.broker_id = 1;
        slave.broker_addr = "127.0.0.1:10921".into();
        t.register(slave, Instant::now());
        let mut other = reg(&[("TopicB", 2)], 3);
        other.cluster = "C2".into();
        other.broker_name = "broker-b".into();
        other.broker_addr = "127.0.0.1:10931".into();
        t.register(other, Instant::now());
        assert_eq!(
            String::from_utf8(encode_json(&t.cluster_info()).to_vec()).unwrap(),
            concat!(
                r#"{"brokerAddrTable":{"#,
                r#""broker-a":{"brokerAddrs":{"0":"127.0.0.1:10911","1":"127.0.0.1:10921"},"brokerName":"broker-a","cluster":"DefaultCluster","enableActingMaster":false},"#,
                r#""broker-b":{"brokerAddrs":{"0":"127.0.0.1:10931"},"brokerName":"broker-b","cluster":"C2","enableActingMaster":false}},"#,
                r#""clusterAddrTable":{"C2":["broker-b"],"DefaultCluster":["broker-a"]}}"#
            )
        );
        // A slave's registration never changes the master's topics.
        assert!(route_json(&t, "TopicA")
            .unwrap()
            .contains(r#""readQueueNums":4"#));
    }

    #[test]
    fn data_version_check_compares_with_the_registered_version() {
        let mut t = RouteTable::default();
        let unknown = t.check_data_version("127.0.0.1:10911", None);
        assert_eq!(
            unknown,
            DataVersionCheck {
                changed: true,
                registered: None
            }
        );
        t.register(reg(&[("TopicA", 4)], 1), Instant::now());
        let same = DataVersion {
            counter: 1,
            ..DataVersion::default()
        };
        let check = t.check_data_version("127.0.0.1:10911", Some(&same));
        assert!(!check.changed);
        assert_eq!(check.registered, Some(Some(same.clone())));
        let newer = DataVersion { counter: 2, ..same };
        assert!(
            t.check_data_version("127.0.0.1:10911", Some(&newer))
                .changed
        );
        assert!(t.check_data_version("127.0.0.1:10911", None).changed);

        let mut bodyless = reg(&[], 1);
        bodyless.data_version = None;
        bodyless.topics = None;
        t.register(bodyless, Instant::now());
        let check = t.check_data_version("127.0.0.1:10911", None);
        assert_eq!(
            check,
            DataVersionCheck {
                changed: false,
                registered: Some(None)
            }
        );
        // A registration without a topic table keeps the topics.
        assert!(t.route("TopicA").is_some());
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
        assert!(t.route("TopicA").is_none());
        assert!(t.topics().is_empty());

        t.register(reg(&[("TopicA", 4)], 7), start);
        assert!(t.connection_closed(8).is_empty());
        assert_eq!(t.connection_closed(7).len(), 1);
        assert!(t.route("TopicA").is_none());
        assert_eq!(
            encode_json(&t.cluster_info()).as_ref(),
            br#"{"brokerAddrTable":{},"clusterAddrTable":{}}"#
        );
    }

    #[test]
    fn re_registration_replaces_the_topic_set() {
        let mut t = RouteTable::default();
        t.register(reg(&[("A", 4), ("B", 2)], 1), Instant::now());
        t.register(reg(&[("A", 8)], 1), Instant::now());
        assert!(t.route("B").is_none());
        assert!(route_json(&t, "A")
            .unwrap()
            .contains(r#""writeQueueNums":8"#));
        assert_eq!(t.topics(), BTreeSet::from(["A".to_string()]));
        assert_eq!(
            t.topics_of_cluster("DefaultCluster"),
            BTreeSet::from(["A".to_string()])
        );
        assert!(t.topics_of_cluster("Nope").is_empty());
    }
}
