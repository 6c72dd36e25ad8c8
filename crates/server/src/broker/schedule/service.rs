//! The service that delivers due delayed messages to their real topics, and its persisted
//! per-level offsets (see the module above for what must stay true).

use super::levels::{copy_to_real_queue, DelayLevels, SCHEDULE_TOPIC};
use rocketmq_protocol::message::decode_stored;
use rocketmq_protocol::now_millis;
use rocketmq_protocol::properties::{
    remove_property, set_property, DELAY, TIMER_DELAY_MS, TIMER_DELAY_SEC, TIMER_DELIVER_MS, WAIT,
};
use rocketmq_store::{MessageStore, MessageToStore};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Name of the store config document holding the per-level delivery offsets.
pub const DELAY_OFFSET_CONFIG: &str = "delayOffset";
/// Longest pause between two passes: a message scheduled at a level that was empty is
/// noticed within this time (Java polls an empty level every 100 ms too).
pub const POLL_INTERVAL: Duration = Duration::from_millis(100);
/// Pause after the store refused a delivery (disk full, shut down) before trying again.
pub const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(1);
/// Most messages one level delivers in one pass, so a backlog after a long downtime does not
/// delay the other levels or offset persistence for long.
pub const MAX_DELIVERIES_PER_LEVEL_PASS: usize = 256;
/// How long to wait for a sync-flush acknowledgement of a delivery.
const DURABLE_WAIT: Duration = Duration::from_secs(10);

#[derive(Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct DelayOffsetDoc {
    #[serde(default)]
    offset_table: BTreeMap<i32, i64>,
}

/// Called with (topic, queue id) after a delayed message was appended there, so that long
/// polls on that queue wake up.
pub type DeliveredCallback = Arc<dyn Fn(&str, i32) + Send + Sync>;

/// Redelivers due delayed messages. One pass at a time ([`ScheduleService::run_once`] holds
/// the offset table for the whole pass), usually driven by [`ScheduleService::spawn`].
pub struct ScheduleService {
    store: Arc<dyn MessageStore>,
    levels: DelayLevels,
    on_delivered: DeliveredCallback,
    /// Next schedule-queue offset per queue id (index = level - 1). Longer than the level
    /// count when the store holds queues of levels a previous configuration had.
    offsets: Mutex<Vec<i64>>,
}

impl ScheduleService {
    /// Loads the persisted offsets from `store`. An unreadable offsets document is logged and
    /// treated as empty (every level restarts from its first message: duplicates, no loss).
    pub fn new(
        store: Arc<dyn MessageStore>,
        levels: DelayLevels,
        on_delivered: DeliveredCallback,
    ) -> Self {
        let saved = match store.load_config(DELAY_OFFSET_CONFIG) {
            Some(json) => serde_json::from_str::<DelayOffsetDoc>(&json).unwrap_or_else(|e| {
                tracing::warn!(error = %e, "unreadable delay offsets; restarting every level");
                DelayOffsetDoc::default()
            }),
            None => DelayOffsetDoc::default(),
        };
        // Queues left by a configuration with more levels are still drained.
        let highest_queue = store
            .queues()
            .into_iter()
            .filter(|(t, _)| t == SCHEDULE_TOPIC)
            .map(|(_, q)| q)
            .max()
            .unwrap_or(-1);
        let count = (levels.level_count()).max(highest_queue.saturating_add(1)) as usize;
        let offsets = (0..count)
            .map(|i| {
                let level = i as i32 + 1;
                saved.offset_table.get(&level).copied().unwrap_or(0).max(0)
            })
            .collect();
        ScheduleService {
            store,
            levels,
            on_delivered,
            offsets: Mutex::new(offsets),
        }
    }

    #[cfg(test)]
    pub fn levels(&self) -> &DelayLevels {
        &self.levels
    }

    /// The next schedule-queue offset to deliver for `level` (for inspection and tests).
    #[cfg(test)]
    pub fn delivery_offset(&self, level: i32) -> Option<i64> {
        let offsets = self.offsets.lock().unwrap_or_else(|e| e.into_inner());
        usize::try_from(level - 1)
            .ok()
            .and_then(|i| offsets.get(i).copied())
    }

    /// One pass over every level at time `now_ms`: delivers each due message, persists the
    /// advanced offsets, and returns how long to wait before the next pass (zero when a level
    /// still has due messages, at most [`POLL_INTERVAL`] otherwise, [`RETRY_AFTER_FAILURE`]
    /// after the store refused a delivery).
    pub fn run_once(&self, now_ms: i64) -> Duration {
        let mut offsets = self.offsets.lock().unwrap_or_else(|e| e.into_inner());
        let before = offsets.clone();
        let mut wait = POLL_INTERVAL;
        let mut failed = false;
        let mut durable = true;
        let mut waiters = Vec::new();
        let mut woken: BTreeSet<(String, i32)> = BTreeSet::new();

        for (index, offset) in offsets.iter_mut().enumerate() {
            let queue_id = index as i32;
            let level = queue_id + 1;
            let max_delay = self.levels.delay_ms(level);
            let min = self.store.min_offset(SCHEDULE_TOPIC, queue_id);
            let max = self.store.max_offset(SCHEDULE_TOPIC, queue_id);
            if *offset < min {
                tracing::warn!(
                    level,
                    from = *offset,
                    to = min,
                    "delay offset below queue start"
                );
                *offset = min;
            }
            if *offset > max {
                // The queue is shorter than the persisted offset (e.g. a store reset): follow it.
                tracing::warn!(
                    level,
                    from = *offset,
                    to = max,
                    "delay offset past queue end"
                );
                *offset = max;
            }
            let mut delivered = 0usize;
            while *offset < max {
                if delivered == MAX_DELIVERIES_PER_LEVEL_PASS {
                    wait = Duration::ZERO;
                    break;
                }
                let Some(entry) = self.store.queue_entry(SCHEDULE_TOPIC, queue_id, *offset) else {
                    tracing::warn!(
                        level,
                        offset = *offset,
                        "missing schedule queue entry; skipped"
                    );
                    *offset += 1;
                    continue;
                };
                // A delivery time further ahead than the level's delay means the clock went
                // back since it was stored: deliver now rather than hold it (Java does the
                // same in `correctDeliverTimestamp`).
                let mut due_at = entry.tags_code;
                if due_at > now_ms.saturating_add(max_delay) {
                    due_at = now_ms;
                }
                if due_at > now_ms {
                    wait = wait.min(Duration::from_millis((due_at - now_ms) as u64));
                    break;
                }
                let Some(msg) = self
                    .store
                    .read_record(entry.commit_log_offset)
                    .and_then(|raw| decode_stored(&raw).ok())
                    .and_then(|(stored, _)| redelivery(stored))
                else {
                    tracing::warn!(
                        level,
                        offset = *offset,
                        commit_log_offset = entry.commit_log_offset,
                        "unreadable delayed message; skipped"
                    );
                    *offset += 1;
                    continue;
                };
                let target = (msg.topic.clone(), msg.queue_id);
                match self.store.put_messages(vec![msg]) {
                    Ok(outcome) => {
                        if let Some(w) = outcome.durable {
                            waiters.push(w);
                        }
                        woken.insert(target);
                        *offset += 1;
                        delivered += 1;
                    }
                    Err(e) => {
                        tracing::warn!(level, error = %e, "delayed delivery refused by the store");
                        failed = true;
                        break;
                    }
                }
            }
            if failed {
                break;
            }
        }

        for (topic, queue_id) in &woken {
            (self.on_delivered)(topic, *queue_id);
        }

        if *offsets != before {
            // Offsets may only be persisted once what they cover is durable.
            if waiters.is_empty() {
                if let Err(e) = self.store.flush() {
                    tracing::warn!(error = %e, "flush before saving delay offsets failed");
                    durable = false;
                }
            }
            for w in waiters {
                if let Err(e) = w.wait(DURABLE_WAIT) {
                    tracing::warn!(error = %e, "delayed delivery not confirmed durable");
                    durable = false;
                }
            }
            if durable {
                self.persist(&offsets);
            }
        }
        if failed {
            RETRY_AFTER_FAILURE
        } else {
            wait
        }
    }

    fn persist(&self, offsets: &[i64]) {
        let doc = DelayOffsetDoc {
            offset_table: offsets
                .iter()
                .enumerate()
                .map(|(i, &o)| (i as i32 + 1, o))
                .collect(),
        };
        match serde_json::to_string(&doc) {
            Ok(json) => {
                if let Err(e) = self.store.save_config(DELAY_OFFSET_CONFIG, &json) {
                    tracing::warn!(error = %e, "saving delay offsets failed");
                }
            }
            Err(e) => tracing::warn!(error = %e, "encoding delay offsets failed"),
        }
    }

    /// Runs passes on a plain thread until `stop` is set; checks `stop` at least every
    /// 100 ms.
    pub fn spawn(self: Arc<Self>, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<()> {
        std::thread::Builder::new()
            .name("schedule-service".into())
            .spawn(move || {
                while !stop.load(Ordering::Acquire) {
                    let mut wait = self.run_once(now_millis());
                    while !wait.is_zero() && !stop.load(Ordering::Acquire) {
                        let slice = wait.min(POLL_INTERVAL);
                        std::thread::sleep(slice);
                        wait -= slice;
                    }
                }
            })
            .expect("spawning the schedule-service thread")
    }
}

/// The copy of a due scheduled message that goes to its real topic and queue, without `DELAY`
/// and the timer properties and with `WAIT=false`; `None` when the record does not say where.
fn redelivery(stored: rocketmq_protocol::message::StoredMessage) -> Option<MessageToStore> {
    copy_to_real_queue(stored, |properties| {
        let mut props = properties.to_string();
        for name in [DELAY, TIMER_DELIVER_MS, TIMER_DELAY_SEC, TIMER_DELAY_MS] {
            props = remove_property(&props, name);
        }
        set_property(&props, WAIT, "false")
    })
}
