//! Subscription groups of the broker (Java `SubscriptionGroupManager`): each consumer group's
//! config (`retryMaxTimes`, `consumeEnable`, `consumeMessageOrderly`, ...), kept in the
//! store's config file `subscriptionGroup` in Java's `subscriptionGroup.json` layout.
//!
//! What must stay true:
//! - Java's system groups exist from start;
//! - a group is created with Java's defaults on first use (heartbeat, pull, send-back), as
//!   Java's `autoCreateSubscriptionGroup=true` does, unless its name cannot be a group
//!   (see [`super::topic::validate_group_name`]);
//! - every change bumps the data version and is written to the store before the call
//!   returns, so a config survives a restart;
//! - the table's mutex is a leaf: nothing else is locked while it is held except the store's
//!   config write.

use super::topic::validate_group_name;
use rocketmq_protocol::body::register::DataVersion;
use rocketmq_protocol::body::subscription_group::SYSTEM_GROUPS;
use rocketmq_protocol::body::{
    decode_json, encode_json, SubscriptionGroupConfig, SubscriptionGroupWrapper,
};
use rocketmq_store::{MessageStore, StoreError};
use std::sync::{Arc, Mutex};

/// Name of the store config file holding the table.
pub const SUBSCRIPTION_GROUP_CONFIG: &str = "subscriptionGroup";

pub struct SubscriptionGroupManager {
    store: Arc<dyn MessageStore>,
    table: Mutex<SubscriptionGroupWrapper>,
    started_at_millis: i64,
}

impl SubscriptionGroupManager {
    /// Loads the saved table (an unreadable file is logged and replaced) and adds the system
    /// groups that are missing.
    pub fn new(store: Arc<dyn MessageStore>, started_at_millis: i64) -> Result<Self, StoreError> {
        let mut table = match store.load_config(SUBSCRIPTION_GROUP_CONFIG) {
            None => SubscriptionGroupWrapper::default(),
            Some(text) => match decode_json::<SubscriptionGroupWrapper>(text.as_bytes()) {
                Ok(table) => table,
                Err(e) => {
                    tracing::error!("the saved subscription groups cannot be read ({e}); starting with the system groups only");
                    SubscriptionGroupWrapper::default()
                }
            },
        };
        let mut added = false;
        for group in SYSTEM_GROUPS {
            if !table.subscription_group_table.contains_key(group) {
                table
                    .subscription_group_table
                    .insert(group.to_string(), SubscriptionGroupConfig::new(group));
                added = true;
            }
        }
        let manager = SubscriptionGroupManager {
            store,
            table: Mutex::new(table),
            started_at_millis,
        };
        if added {
            let mut table = manager.lock();
            manager.changed(&mut table)?;
        }
        Ok(manager)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, SubscriptionGroupWrapper> {
        self.table.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Bumps the version and writes the table.
    fn changed(&self, table: &mut SubscriptionGroupWrapper) -> Result<(), StoreError> {
        table.data_version = DataVersion {
            counter: table.data_version.counter + 1,
            state_version: table.data_version.state_version,
            timestamp: rocketmq_protocol::now_millis().max(self.started_at_millis),
        };
        let json = encode_json(&*table);
        self.store
            .save_config(SUBSCRIPTION_GROUP_CONFIG, &String::from_utf8_lossy(&json))
    }

    /// The stored config of `group`, if any.
    pub fn get(&self, group: &str) -> Option<SubscriptionGroupConfig> {
        self.lock().subscription_group_table.get(group).cloned()
    }

    /// Java `findSubscriptionGroupConfig`: the config of `group`, created with the defaults
    /// when missing; `None` when no group of that name can exist.
    pub fn find_or_create(&self, group: &str) -> Option<SubscriptionGroupConfig> {
        self.find_or_create_then(group, SubscriptionGroupConfig::clone)
    }

    /// [`Self::find_or_create`] reading the config in place (a pull reads two flags of it
    /// without copying the config).
    pub fn find_or_create_then<R>(
        &self,
        group: &str,
        read: impl FnOnce(&SubscriptionGroupConfig) -> R,
    ) -> Option<R> {
        if let Some(config) = self.lock().subscription_group_table.get(group) {
            return Some(read(config));
        }
        validate_group_name(group).ok()?;
        let mut table = self.lock();
        if let Some(config) = table.subscription_group_table.get(group) {
            return Some(read(config));
        }
        let config = SubscriptionGroupConfig::new(group);
        let answer = read(&config);
        table
            .subscription_group_table
            .insert(group.to_string(), config);
        if let Err(e) = self.changed(&mut table) {
            tracing::error!(
                group,
                "the auto-created subscription group was not saved: {e}"
            );
        }
        tracing::info!(group, "auto-created subscription group");
        Some(answer)
    }

    /// Creates or replaces configs (UPDATE_AND_CREATE_SUBSCRIPTIONGROUP and its list form),
    /// all saved in one write.
    pub fn put(&self, configs: Vec<SubscriptionGroupConfig>) -> Result<(), StoreError> {
        let mut table = self.lock();
        for config in configs {
            tracing::info!(
                group = config.group_name,
                "subscription group created or updated"
            );
            table
                .subscription_group_table
                .insert(config.group_name.clone(), config);
        }
        self.changed(&mut table)
    }

    /// Removes `group`'s config; whether it existed.
    pub fn delete(&self, group: &str) -> Result<bool, StoreError> {
        let mut table = self.lock();
        let existed = table.subscription_group_table.remove(group).is_some();
        if existed {
            table.forbidden_table.remove(group);
            self.changed(&mut table)?;
        }
        Ok(existed)
    }

    /// The whole table with its version (GET_ALL_SUBSCRIPTIONGROUP_CONFIG).
    pub fn all(&self) -> SubscriptionGroupWrapper {
        self.lock().clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rocketmq_store::MemoryStore;

    fn store() -> Arc<dyn MessageStore> {
        Arc::new(MemoryStore::new())
    }

    #[test]
    fn system_groups_then_auto_create_put_delete_and_reload() {
        let store = store();
        let groups = SubscriptionGroupManager::new(store.clone(), 1).unwrap();
        for g in SYSTEM_GROUPS {
            assert!(groups.get(g).is_some(), "{g}");
        }
        assert!(groups.get("G1").is_none());
        assert_eq!(groups.find_or_create("G1").unwrap().retry_max_times, 16);
        assert!(groups.get("G1").is_some());
        assert!(groups.find_or_create("bad group").is_none());
        let mut config = SubscriptionGroupConfig::new("G2");
        config.retry_max_times = 2;
        config.consume_message_orderly = true;
        let before = groups.all().data_version.counter;
        groups.put(vec![config.clone()]).unwrap();
        assert!(groups.all().data_version.counter > before);
        assert!(groups.delete("G1").unwrap());
        assert!(!groups.delete("G1").unwrap());

        let reloaded = SubscriptionGroupManager::new(store, 1).unwrap();
        assert_eq!(reloaded.get("G2"), Some(config));
        assert!(reloaded.get("G1").is_none());
        assert_eq!(reloaded.all().data_version, groups.all().data_version);
    }

    #[test]
    fn unreadable_file_starts_with_system_groups() {
        let store = store();
        store
            .save_config(SUBSCRIPTION_GROUP_CONFIG, "{not json")
            .unwrap();
        let groups = SubscriptionGroupManager::new(store, 1).unwrap();
        assert_eq!(
            groups.all().subscription_group_table.len(),
            SYSTEM_GROUPS.len()
        );
    }
}
