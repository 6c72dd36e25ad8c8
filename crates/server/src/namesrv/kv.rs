//! The name server's in-memory KV configuration (namespace -> key -> value), as served by
//! PUT/GET/DELETE_KV_CONFIG and GET_KVLIST_BY_NAMESPACE. Nothing is persisted.

use rocketmq_protocol::body::KvTable;
use std::collections::{BTreeMap, HashMap};

#[derive(Default)]
pub struct KvConfig {
    namespaces: HashMap<String, BTreeMap<String, String>>,
}

impl KvConfig {
    pub fn put(&mut self, namespace: &str, key: &str, value: &str) {
        self.namespaces
            .entry(namespace.to_string())
            .or_default()
            .insert(key.to_string(), value.to_string());
    }

    pub fn get(&self, namespace: &str, key: &str) -> Option<String> {
        self.namespaces.get(namespace)?.get(key).cloned()
    }

    pub fn delete(&mut self, namespace: &str, key: &str) {
        if let Some(keys) = self.namespaces.get_mut(namespace) {
            keys.remove(key);
        }
    }

    /// Every key of `namespace`, or `None` when it has none.
    pub fn list(&self, namespace: &str) -> Option<KvTable> {
        self.namespaces
            .get(namespace)
            .filter(|keys| !keys.is_empty())
            .map(|keys| KvTable {
                table: keys.clone(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn put_get_delete_list() {
        let mut kv = KvConfig::default();
        assert!(kv.list("ns").is_none());
        kv.put("ns", "b", "2");
        kv.put("ns", "a", "1");
        kv.put("ns", "a", "3");
        assert_eq!(kv.get("ns", "a").as_deref(), Some("3"));
        assert_eq!(kv.get("other", "a"), None);
        assert_eq!(
            rocketmq_protocol::body::encode_json(&kv.list("ns").unwrap()).as_ref(),
            br#"{"table":{"a":"3","b":"2"}}"#
        );
        kv.delete("ns", "a");
        kv.delete("ns", "b");
        kv.delete("missing", "b");
        assert!(kv.list("ns").is_none());
    }
}
