//! Orderly consumption: one message at a time per queue, in queue order, while this
//! consumer holds the queue's lock on its broker (taken before the first pull, renewed every
//! 20 s, released when the queue is given up and at shutdown).
//!
//! What must stay true: a message that failed is retried here, after
//! `orderly_retry_pause`, before any later message of its queue is handed out; nothing is
//! sent back to the broker.

use super::consumer_core::{ConsumerCore, LOG};
use super::dispatch::Judged;
use super::listener::{ConsumeBatch, ConsumeStatus};
use super::process_queue::ProcessQueue;
use crate::message::MessageExt;
use crate::route::MessageQueue;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

/// How often held queue locks are renewed (brokers expire them after 60 s).
const LOCK_RENEW_INTERVAL: Duration = Duration::from_secs(20);

impl ConsumerCore {
    /// Consumes messages of an orderly queue one at a time; a failure pauses and retries the
    /// same message. Returns false when the consumer stops or drops the queue.
    pub(super) async fn consume_orderly(
        &self,
        pq: &Arc<ProcessQueue>,
        messages: Vec<MessageExt>,
    ) -> bool {
        for m in messages {
            let mut m = Arc::new(m);
            loop {
                if pq.is_dropped() || self.stopping() {
                    return false;
                }
                let batch = ConsumeBatch {
                    queue: pq.mq.clone(),
                    messages: vec![m],
                    status: ConsumeStatus::NotRun,
                };
                let Some(Judged {
                    mut batch,
                    settling,
                }) = self.listener_queue.run(batch).await
                else {
                    return false;
                };
                m = batch.messages.pop().expect("the batch holds the message");
                match batch.status {
                    ConsumeStatus::Success => {
                        pq.acked(std::iter::once(m.queue_offset));
                        break;
                    }
                    ConsumeStatus::NotRun => return false,
                    ConsumeStatus::ReconsumeLater => {
                        // Nothing to apply: shutdown need not wait for the pause below.
                        drop(settling);
                        // Copies the message only if the listener kept the previous delivery.
                        Arc::make_mut(&mut m).reconsume_times += 1;
                        if self.pause(self.config.orderly_retry_pause).await {
                            return false;
                        }
                    }
                }
            }
        }
        true
    }

    /// Asks `mq`'s broker for its lock; true when granted.
    pub(super) async fn lock_queue(&self, mq: &MessageQueue) -> bool {
        let Some(addr) = self.client.broker_addr(&mq.broker_name) else {
            return false;
        };
        match self
            .client
            .lock_queues(&addr, &self.config.group, BTreeSet::from([mq.clone()]))
            .await
        {
            Ok(locked) => {
                tracing::debug!(target: LOG, queue = ?mq, granted = locked.contains(mq), "lock requested");
                locked.contains(mq)
            }
            Err(e) => {
                tracing::debug!(target: LOG, queue = ?mq, error = %e, "lock failed");
                false
            }
        }
    }

    pub(super) async fn lock_renew_loop(self: Arc<Self>) {
        loop {
            if self.pause(LOCK_RENEW_INTERVAL).await {
                return;
            }
            let queues: Vec<MessageQueue> = self.queues.lock().unwrap().keys().cloned().collect();
            let mut by_broker: BTreeMap<String, BTreeSet<MessageQueue>> = BTreeMap::new();
            for mq in queues {
                by_broker
                    .entry(mq.broker_name.clone())
                    .or_default()
                    .insert(mq);
            }
            for (broker, set) in by_broker {
                if let Some(addr) = self.client.broker_addr(&broker) {
                    let _ = self
                        .client
                        .lock_queues(&addr, &self.config.group, set)
                        .await;
                }
            }
        }
    }

    /// Releases the broker locks of `queues`.
    pub(super) async fn unlock_all(&self, queues: &[Arc<ProcessQueue>]) {
        let mut by_broker: BTreeMap<String, BTreeSet<MessageQueue>> = BTreeMap::new();
        for pq in queues {
            by_broker
                .entry(pq.mq.broker_name.clone())
                .or_default()
                .insert(pq.mq.clone());
        }
        for (broker, set) in by_broker {
            if let Some(addr) = self.client.broker_addr(&broker) {
                let _ = self
                    .client
                    .unlock_queues(&addr, &self.config.group, set)
                    .await;
            }
        }
    }
}
