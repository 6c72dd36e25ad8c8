//! Consumer offsets: the next offset to consume per group/topic/queue, persisted as
//! `config/consumerOffset.json` in the Java shape `{"offsetTable":{"topic@group":{"0":12}}}`.
//!
//! What must stay true: the table in memory is the truth; [`ConsumerOffsets::persist`] writes
//! it atomically only when it changed since the last write.

use crate::atomic_file::{read_optional, write_atomic};
use crate::error::StoreError;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

#[derive(Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct OffsetFile {
    #[serde(default)]
    offset_table: BTreeMap<String, BTreeMap<i32, i64>>,
}

pub struct ConsumerOffsets {
    path: Option<PathBuf>,
    table: Mutex<BTreeMap<String, BTreeMap<i32, i64>>>,
    dirty: AtomicBool,
}

fn key(group: &str, topic: &str) -> String {
    format!("{topic}@{group}")
}

impl ConsumerOffsets {
    /// Loads from `path` (a missing file is an empty table). `None` = memory only.
    pub fn load(path: Option<PathBuf>) -> Result<ConsumerOffsets, StoreError> {
        let mut table = BTreeMap::new();
        if let Some(p) = &path {
            if let Some(s) = read_optional(p)? {
                let f: OffsetFile = serde_json::from_str(&s).map_err(|e| {
                    StoreError::Io(std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        format!("{}: {e}", p.display()),
                    ))
                })?;
                table = f.offset_table;
            }
        }
        Ok(ConsumerOffsets {
            path,
            table: Mutex::new(table),
            dirty: AtomicBool::new(false),
        })
    }

    pub fn commit(&self, group: &str, topic: &str, queue_id: i32, offset: i64) {
        let mut t = self.table.lock().unwrap_or_else(|e| e.into_inner());
        t.entry(key(group, topic))
            .or_default()
            .insert(queue_id, offset);
        self.dirty.store(true, Ordering::Release);
    }

    pub fn get(&self, group: &str, topic: &str, queue_id: i32) -> Option<i64> {
        let t = self.table.lock().unwrap_or_else(|e| e.into_inner());
        t.get(&key(group, topic))
            .and_then(|q| q.get(&queue_id))
            .copied()
    }

    /// Writes the table if it changed since the last successful write.
    pub fn persist(&self) -> Result<(), StoreError> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        if !self.dirty.swap(false, Ordering::AcqRel) {
            return Ok(());
        }
        let json = {
            let t = self.table.lock().unwrap_or_else(|e| e.into_inner());
            serde_json::to_string_pretty(&OffsetFile {
                offset_table: t.clone(),
            })
            .map_err(|e| StoreError::Io(std::io::Error::other(e)))?
        };
        if let Err(e) = write_atomic(path, json.as_bytes()) {
            self.dirty.store(true, Ordering::Release);
            return Err(e);
        }
        Ok(())
    }
}
