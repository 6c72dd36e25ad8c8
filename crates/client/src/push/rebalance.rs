//! Rebalance: which queues of each subscribed topic this consumer owns. Clustering splits a
//! topic's queues among the group's members ([`allocate_averagely`] over the member list a
//! broker answers); broadcasting owns them all. A newly owned queue gets a
//! [`ProcessQueue`] and a pull loop; a queue given up is dropped, its offset committed (and,
//! orderly, its broker lock released) before another member takes it.
//!
//! Runs at start, every `rebalance_interval`, and when the broker says the group changed.
//!
//! What must stay true: the owned-queue table is changed under one lock hold per topic and
//! no request is sent while it is held.

use super::allocate::allocate_averagely;
use super::config::Subscription;
use super::consumer_core::{ConsumerCore, LOG};
use super::process_queue::ProcessQueue;
use crate::route::MessageQueue;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

impl ConsumerCore {
    /// Rebalances at start, every `rebalance_interval`, and when the broker says the group
    /// changed. While some subscription cannot be rebalanced (its topic does not exist yet,
    /// no consumer list), the next attempt comes sooner: 0.5 s, doubling up to the interval,
    /// so that a consumer started before its topic's first message starts promptly.
    pub(super) async fn rebalance_loop(self: Arc<Self>) {
        let mut retry_pause = Duration::from_millis(500);
        loop {
            self.refresh_routes_and_heartbeat(false).await;
            let complete = self.rebalance().await;
            let mut stop = self.stop.subscribe();
            if *stop.borrow() {
                return;
            }
            let pause = if complete {
                retry_pause = Duration::from_millis(500);
                self.config.rebalance_interval
            } else {
                let pause = retry_pause.min(self.config.rebalance_interval);
                retry_pause = (retry_pause * 2).min(self.config.rebalance_interval);
                pause
            };
            tokio::select! {
                _ = tokio::time::sleep(pause) => {}
                _ = self.rebalance_now.notified() => {}
                _ = stop.changed() => return,
            }
        }
    }

    /// Rebalances every subscription; false when some could not be (no route, no list).
    async fn rebalance(self: &Arc<Self>) -> bool {
        let mut complete = true;
        for sub in &self.subscriptions() {
            let route = match self.client.fetch_route(&sub.topic).await {
                Ok(r) => r,
                Err(e) => {
                    tracing::debug!(target: LOG, topic = %sub.topic, error = %e, "no route; skipping rebalance");
                    complete = false;
                    continue;
                }
            };
            let mine: Vec<MessageQueue> = if self.config.broadcasting {
                route.subscribe.clone()
            } else {
                let Some(addr) = route.masters.values().next().cloned() else {
                    complete = false;
                    continue;
                };
                match self.client.consumer_ids(&addr, &self.config.group).await {
                    Ok(ids) => {
                        allocate_averagely(&route.subscribe, &ids, &self.client.client_id).to_vec()
                    }
                    Err(e) => {
                        tracing::debug!(target: LOG, group = %self.config.group, error = %e, "consumer list unavailable");
                        complete = false;
                        continue;
                    }
                }
            };
            self.update_queues(sub, mine).await;
        }
        complete
    }

    /// Makes `mine` the owned queues of `sub`'s topic: drops the others (committing their
    /// offsets, unlocking them when orderly) and starts a pull loop for each new one.
    async fn update_queues(self: &Arc<Self>, sub: &Subscription, mine: Vec<MessageQueue>) {
        let mine: BTreeSet<MessageQueue> = mine.into_iter().collect();
        let (removed, added) = {
            let mut queues = self.queues.lock().unwrap();
            let removed: Vec<Arc<ProcessQueue>> = queues
                .iter()
                .filter(|(mq, _)| mq.topic == sub.topic && !mine.contains(mq))
                .map(|(_, pq)| pq.clone())
                .collect();
            for pq in &removed {
                pq.drop_queue();
                queues.remove(&pq.mq);
            }
            let mut added = Vec::new();
            for mq in &mine {
                if !queues.contains_key(mq) {
                    let pq = ProcessQueue::new(mq.clone());
                    queues.insert(mq.clone(), pq.clone());
                    added.push(pq);
                }
            }
            (removed, added)
        };
        if !removed.is_empty() {
            self.persist_offsets(&removed).await;
            if self.config.orderly {
                self.unlock_all(&removed).await;
            }
        }
        for pq in &removed {
            tracing::debug!(target: LOG, group = %self.config.group, queue = ?pq.mq, "queue released");
        }
        for pq in added {
            tracing::debug!(target: LOG, group = %self.config.group, queue = ?pq.mq, "queue assigned");
            let core = self.clone();
            self.runtime.spawn(async move { core.pull_loop(pq).await });
        }
    }
}
