//! [`OffsetStore`]: where owned queues' offsets are kept between runs: on the broker for
//! clustering, in a local JSON file (`<dir>/<instance>/<group>/offsets.json`) for
//! broadcasting. Remembers the last value committed per queue to skip unchanged ones.
//!
//! What must stay true: the local file is replaced by rename, so a reader sees the old or
//! the new table, never a partial one; entries of queues this consumer does not own are
//! kept as they were.

use crate::route::MessageQueue;
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Mutex;

pub(super) struct OffsetStore {
    /// Broadcasting only.
    local_file: Option<PathBuf>,
    /// The last offset committed per queue.
    pub(super) committed: Mutex<BTreeMap<MessageQueue, i64>>,
}

impl OffsetStore {
    pub(super) fn new(local_file: Option<PathBuf>) -> OffsetStore {
        OffsetStore {
            local_file,
            committed: Mutex::new(BTreeMap::new()),
        }
    }

    fn key(mq: &MessageQueue) -> String {
        format!("{}@{}@{}", mq.topic, mq.broker_name, mq.queue_id)
    }

    /// The offset the local file holds for `mq`.
    pub(super) fn local_offset(&self, mq: &MessageQueue) -> Option<i64> {
        self.load_local().get(&Self::key(mq)).copied()
    }

    fn load_local(&self) -> HashMap<String, i64> {
        let Some(path) = &self.local_file else {
            return HashMap::new();
        };
        std::fs::read(path)
            .ok()
            .and_then(|b| serde_json::from_slice::<HashMap<String, i64>>(&b).ok())
            .unwrap_or_default()
    }

    /// Writes every committed offset to the local file (nothing without one).
    pub(super) fn save_local(&self) -> std::io::Result<()> {
        let Some(path) = &self.local_file else {
            return Ok(());
        };
        let mut table = self.load_local();
        for (mq, off) in self.committed.lock().unwrap().iter() {
            table.insert(Self::key(mq), *off);
        }
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        // Write a temporary file, then rename: a reader sees the old or the new table.
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, serde_json::to_vec(&table).unwrap_or_default())?;
        std::fs::rename(&tmp, path)
    }
}
