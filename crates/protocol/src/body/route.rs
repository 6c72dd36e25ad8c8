//! Topic route data returned by GET_ROUTEINFO_BY_TOPIC (spec 4.2) and the cluster view of
//! GET_BROKER_CLUSTER_INFO (4.5).
//!
//! Fields are declared in alphabetical order so serde writes keys in the order fastjson
//! does; `brokerAddrs` is a map keyed by broker id, written with quoted keys
//! (`{"0":"ip:port"}`) and read quoted or not.

use crate::lenient::{bool_any, i32_any};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Broker id of a master.
pub const MASTER_ID: i64 = 0;

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TopicRouteData {
    #[serde(default)]
    pub broker_datas: Vec<BrokerData>,
    /// Legacy broker addr -> filter servers; written as `{}`.
    #[serde(default)]
    pub filter_server_table: BTreeMap<String, Vec<String>>,
    /// `brokerName:queueCount;...`: if present, clients publish to these queues instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_topic_conf: Option<String>,
    #[serde(default)]
    pub queue_datas: Vec<QueueData>,
}

/// One broker name's queue counts for a topic.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QueueData {
    pub broker_name: String,
    /// PermName bits (see [`crate::body::topic_config::perm`]).
    #[serde(deserialize_with = "i32_any")]
    pub perm: i32,
    #[serde(deserialize_with = "i32_any")]
    pub read_queue_nums: i32,
    #[serde(default, deserialize_with = "i32_any")]
    pub topic_sys_flag: i32,
    #[serde(deserialize_with = "i32_any")]
    pub write_queue_nums: i32,
}

/// One broker name: its cluster and the addresses of its members by broker id.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BrokerData {
    /// Broker id -> `ip:port`; id 0 is the master.
    #[serde(default)]
    pub broker_addrs: BTreeMap<i64, String>,
    pub broker_name: String,
    #[serde(default)]
    pub cluster: String,
    #[serde(default, deserialize_with = "bool_any")]
    pub enable_acting_master: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone_name: Option<String>,
}

impl BrokerData {
    /// The master's address, if registered.
    pub fn master_addr(&self) -> Option<&str> {
        self.broker_addrs.get(&MASTER_ID).map(String::as_str)
    }
}

/// GET_BROKER_CLUSTER_INFO body.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClusterInfo {
    /// Broker name -> its data.
    #[serde(default)]
    pub broker_addr_table: BTreeMap<String, BrokerData>,
    /// Cluster name -> broker names.
    #[serde(default)]
    pub cluster_addr_table: BTreeMap<String, BTreeSet<String>>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::body::encode_json;

    // What the name server writes for GET_BROKER_CLUSTER_INFO: fastjson's field names in
    // alphabetical order, broker ids as quoted keys in numeric order, no zoneName when unset.
    #[test]
    fn cluster_info_json_as_the_name_server_writes_it() {
        let broker = BrokerData {
            broker_addrs: BTreeMap::from([
                (0, "10.0.0.1:10911".to_string()),
                (2, "10.0.0.2:10911".to_string()),
                (10, "10.0.0.3:10911".to_string()),
            ]),
            broker_name: "broker-a".into(),
            cluster: "DefaultCluster".into(),
            enable_acting_master: false,
            zone_name: None,
        };
        let info = ClusterInfo {
            broker_addr_table: BTreeMap::from([("broker-a".to_string(), broker)]),
            cluster_addr_table: BTreeMap::from([(
                "DefaultCluster".to_string(),
                BTreeSet::from(["broker-a".to_string()]),
            )]),
        };
        assert_eq!(
            std::str::from_utf8(&encode_json(&info)).unwrap(),
            concat!(
                r#"{"brokerAddrTable":{"broker-a":{"brokerAddrs":{"0":"10.0.0.1:10911","2":"10.0.0.2:10911","10":"10.0.0.3:10911"},"#,
                r#""brokerName":"broker-a","cluster":"DefaultCluster","enableActingMaster":false}},"#,
                r#""clusterAddrTable":{"DefaultCluster":["broker-a"]}}"#
            )
        );
    }

    // A route without an order-topic configuration has no orderTopicConf key.
    #[test]
    fn route_without_order_conf_omits_the_key() {
        let route = TopicRouteData::default();
        assert_eq!(
            encode_json(&route).as_ref(),
            br#"{"brokerDatas":[],"filterServerTable":{},"queueDatas":[]}"#
        );
    }
}
