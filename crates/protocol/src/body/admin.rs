//! Small admin bodies: topic lists and KV tables (spec 4.5).

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// GET_ALL_TOPIC_LIST_FROM_NAMESERVER / GET_TOPICS_BY_CLUSTER body.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TopicList {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub broker_addr: Option<String>,
    #[serde(default)]
    pub topic_list: BTreeSet<String>,
}

/// GET_KVLIST_BY_NAMESPACE body and the REGISTER_BROKER response body.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KvTable {
    #[serde(default)]
    pub table: BTreeMap<String, String>,
}
