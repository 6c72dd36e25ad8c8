//! Topic configs, persisted as `config/topics.json` (`{"topicConfigTable":{name: config}}`,
//! the Java shape). Every change is written through atomically before it is acknowledged.

use crate::atomic_file::{read_optional, write_atomic};
use crate::error::StoreError;
use rocketmq_protocol::body::topic_config::TopicConfig;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Mutex;

#[derive(Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TopicsFile {
    #[serde(default)]
    topic_config_table: BTreeMap<String, TopicConfig>,
}

pub struct TopicConfigs {
    path: Option<PathBuf>,
    table: Mutex<BTreeMap<String, TopicConfig>>,
}

impl TopicConfigs {
    /// Loads from `path` (a missing file is an empty table). `None` = memory only.
    pub fn load(path: Option<PathBuf>) -> Result<TopicConfigs, StoreError> {
        let mut table = BTreeMap::new();
        if let Some(p) = &path {
            if let Some(s) = read_optional(p)? {
                let f: TopicsFile = serde_json::from_str(&s).map_err(|e| {
                    StoreError::Io(std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        format!("{}: {e}", p.display()),
                    ))
                })?;
                table = f.topic_config_table;
            }
        }
        Ok(TopicConfigs {
            path,
            table: Mutex::new(table),
        })
    }

    pub fn get(&self, topic: &str) -> Option<TopicConfig> {
        self.table
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(topic)
            .cloned()
    }

    pub fn all(&self) -> Vec<TopicConfig> {
        self.table
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect()
    }

    /// Inserts or replaces, then writes the file (while holding the table lock, so files are
    /// written in the order of changes).
    pub fn put(&self, config: TopicConfig) -> Result<(), StoreError> {
        let mut t = self.table.lock().unwrap_or_else(|e| e.into_inner());
        let previous = t.insert(config.topic_name.clone(), config.clone());
        if let Some(path) = &self.path {
            let json = serde_json::to_string_pretty(&TopicsFile {
                topic_config_table: t.clone(),
            })
            .map_err(|e| StoreError::Io(std::io::Error::other(e)))?;
            if let Err(e) = write_atomic(path, json.as_bytes()) {
                // Keep memory and disk in agreement when the write fails.
                match previous {
                    Some(p) => t.insert(config.topic_name.clone(), p),
                    None => t.remove(&config.topic_name),
                };
                return Err(e);
            }
        }
        Ok(())
    }
}
