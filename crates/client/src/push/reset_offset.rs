//! RESET_CONSUMER_CLIENT_OFFSET (220): the broker moved the group's offsets (an admin reset
//! them by time) and tells this consumer where each queue now starts. Obeyed at once: each
//! owned queue of the table is dropped (its pull loop ends, a pull result still on the way is
//! thrown away, its offsets are never committed again) and replaced by a fresh one that
//! starts pulling at the new offset, which the next commit sends to the broker.
//!
//! What must stay true: the swap of a queue's [`ProcessQueue`] happens under one hold of the
//! owned-queue lock; queues this consumer does not own are left to their owner (the broker
//! already committed the new offsets); the handler never waits (it runs on a connection's
//! reader).

use super::consumer_core::{ConsumerCore, LOG};
use super::process_queue::ProcessQueue;
use crate::route::MessageQueue;
use std::collections::BTreeMap;
use std::sync::Arc;

impl ConsumerCore {
    /// Restarts every owned queue of `table` at its new offset; returns how many it owned.
    pub(super) fn reset_offsets(
        self: &Arc<Self>,
        group: &str,
        table: BTreeMap<MessageQueue, i64>,
    ) -> usize {
        if group != self.config.group {
            tracing::debug!(target: LOG, group, "offset reset for another group ignored");
            return 0;
        }
        let mut restarted = Vec::new();
        let subscriptions = self.subscriptions();
        {
            let mut queues = self.queues.lock().unwrap();
            for (mq, offset) in table {
                let Some(old) = queues.get(&mq).cloned() else {
                    continue;
                };
                if !subscriptions.iter().any(|s| s.topic == mq.topic) {
                    continue;
                }
                old.drop_queue();
                let fresh = ProcessQueue::new(mq.clone());
                fresh.start_at(offset);
                queues.insert(mq.clone(), fresh.clone());
                restarted.push((fresh, offset));
            }
        }
        {
            // The last commit of the old queue is forgotten, so the new offset is committed
            // even when it equals it.
            let mut committed = self.offsets.committed.lock().unwrap();
            for (pq, _) in &restarted {
                committed.remove(&pq.mq);
            }
        }
        let count = restarted.len();
        for (pq, offset) in restarted {
            tracing::info!(target: LOG, group, queue = ?pq.mq, offset, "offset reset by the broker; pulling from there");
            let core = self.clone();
            self.runtime.spawn(async move { core.pull_loop(pq).await });
        }
        count
    }
}
