//! Transaction bookkeeping: the set of decided transactions (rebuilt from the op queue at
//! start) and the persisted check-back progress.
//!
//! Lock order: `progress`, then `decided`; neither is held across an await.

use super::rules::{transaction_id_of, HALF_TOPIC, OP_HALF_TOPIC};
use rocketmq_protocol::message::decode_stored;
use rocketmq_protocol::properties::{get_property, TRANSACTION_ID};
use rocketmq_store::{MessageStore, StoreError};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::sync::Mutex;

/// Store config document holding the check-back progress (`{"offset":N}`).
pub const PROGRESS_CONFIG: &str = "transactionCheckProgress";

#[derive(Serialize, Deserialize, Default)]
struct ProgressDoc {
    #[serde(default)]
    offset: i64,
}

/// Writes the check-back progress document (`{"offset":N}`).
pub fn save_progress(store: &dyn MessageStore, offset: i64) -> Result<(), StoreError> {
    let doc = serde_json::to_string(&ProgressDoc { offset }).unwrap_or_default();
    store.save_config(PROGRESS_CONFIG, &doc)
}

/// Transaction bookkeeping of one broker: decided transactions and check-back progress.
pub struct TransactionState {
    /// Transaction ids with an op record. Held while a decision is appended, so two
    /// decisions of one transaction never both append.
    pub(super) decided: Mutex<HashSet<String>>,
    /// Next half-queue offset the check-back pass looks at. Held for a whole pass (lock
    /// order: `progress`, then `decided`).
    pub(super) progress: Mutex<i64>,
}

impl TransactionState {
    /// Rebuilds the decided set from the op queue and loads the persisted progress.
    pub fn load(store: &dyn MessageStore) -> TransactionState {
        let mut decided = HashSet::new();
        let max = store.max_offset(OP_HALF_TOPIC, 0);
        let mut offset = store.min_offset(OP_HALF_TOPIC, 0);
        while offset < max {
            let op = store
                .queue_entry(OP_HALF_TOPIC, 0, offset)
                .and_then(|e| store.read_record(e.commit_log_offset))
                .and_then(|raw| decode_stored(&raw).ok().map(|(m, _)| m));
            match op {
                Some(op) => match get_property(&op.properties, TRANSACTION_ID) {
                    Some(id) => {
                        decided.insert(id.to_string());
                    }
                    // Op records of other writers name half queue offsets only.
                    None => {
                        for half_offset in String::from_utf8_lossy(&op.body)
                            .split(',')
                            .filter_map(|s| s.trim().parse::<i64>().ok())
                        {
                            if let Some(id) = store
                                .queue_entry(HALF_TOPIC, 0, half_offset)
                                .and_then(|e| store.read_record(e.commit_log_offset))
                                .and_then(|raw| decode_stored(&raw).ok())
                                .and_then(|(h, _)| {
                                    transaction_id_of(&h.properties).map(String::from)
                                })
                            {
                                decided.insert(id);
                            }
                        }
                    }
                },
                None => tracing::warn!(offset, "unreadable transaction op record; skipped"),
            }
            offset += 1;
        }
        let progress = match store.load_config(PROGRESS_CONFIG) {
            Some(json) => serde_json::from_str::<ProgressDoc>(&json)
                .map(|d| d.offset.max(0))
                .unwrap_or_else(|e| {
                    tracing::warn!(error = %e, "unreadable transaction check progress; rescanning the half queue");
                    0
                }),
            None => 0,
        };
        TransactionState {
            decided: Mutex::new(decided),
            progress: Mutex::new(progress),
        }
    }

    #[cfg(test)]
    pub fn is_decided(&self, transaction_id: &str) -> bool {
        self.decided
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(transaction_id)
    }

    /// The next half-queue offset the check-back service looks at.
    #[cfg(test)]
    pub fn progress(&self) -> i64 {
        *self.progress.lock().unwrap_or_else(|p| p.into_inner())
    }
}
