//! One long-polling pull loop per owned queue: finds the starting offset, takes the broker
//! lock when orderly, then pulls while the queue is owned and the consumer runs, handing each
//! result to concurrent or orderly consumption.
//!
//! Flow control: a queue stops pulling while its unacknowledged messages reach
//! `max_cached_per_queue` or their bodies `max_cached_bytes_per_queue`; a queue with
//! nothing in flight always pulls.
//!
//! What must stay true: each pull carries the topic's current subscription (a subscribe on
//! the running consumer may replace it); a result that arrives after the queue was dropped
//! is thrown away (the new owner reads it from the committed offset); every clustering pull
//! carries the queue's commit offset, as the Java client's do.

use super::consumer_core::{ConsumerCore, LOG};
use super::process_queue::ProcessQueue;
use crate::pull::{PullRequest, PullStatus};
use std::sync::Arc;
use std::time::Duration;

impl ConsumerCore {
    pub(super) async fn pull_loop(self: Arc<Self>, pq: Arc<ProcessQueue>) {
        let mq = pq.mq.clone();
        // A queue restarted by an offset reset (reset_offset.rs) already knows its start.
        let preset = pq.commit_offset();
        let mut offset = loop {
            if let Some(o) = preset {
                break o;
            }
            if pq.is_dropped() || self.stopping() {
                return;
            }
            match self.initial_offset(&mq).await {
                Ok(o) => break o,
                Err(e) => {
                    tracing::debug!(target: LOG, queue = ?mq, error = %e, "initial offset unavailable");
                    if self.pause(self.config.pull_error_backoff).await {
                        return;
                    }
                }
            }
        };
        pq.start_at(offset);
        tracing::debug!(target: LOG, queue = ?mq, offset, "pulling from");
        if self.config.orderly {
            while !self.lock_queue(&mq).await {
                if pq.is_dropped() || self.pause(self.config.orderly_retry_pause).await {
                    return;
                }
            }
        }
        let mut stop = self.stop.subscribe();
        loop {
            if pq.is_dropped() || self.stopping() {
                return;
            }
            // Flow control: wait while too many messages or bytes of this queue are
            // unacknowledged.
            while pq.over_limits(
                self.config.max_cached_per_queue,
                self.config.max_cached_bytes_per_queue,
            ) {
                if pq.is_dropped() || self.stopping() {
                    return;
                }
                let _ = tokio::time::timeout(Duration::from_millis(100), pq.space.notified()).await;
            }
            // The topic's filter now: a subscribe on the running consumer may change it.
            let Some(filter) = self.filter_of(&mq.topic) else {
                return;
            };
            let req = PullRequest {
                group: self.config.group.clone(),
                queue: mq.clone(),
                offset,
                max_msgs: self.config.pull_batch_size,
                filter,
                suspend: Some(self.config.long_poll),
                // Clustering: every pull tells the broker how far this member got (the first
                // unacknowledged offset), as the Java client does, so a member that takes the
                // queue over resumes there instead of at the last periodic commit.
                commit_offset: if self.config.broadcasting {
                    None
                } else {
                    pq.commit_offset()
                },
            };
            let result = tokio::select! {
                r = self.client.pull(&req) => r,
                _ = stop.changed() => return,
            };
            // A queue handed to another member while this pull was held must not deliver
            // what it brought back: the new owner reads it from the committed offset.
            if pq.is_dropped() {
                return;
            }
            let r = match result {
                Ok(r) => r,
                Err(e) => {
                    tracing::debug!(target: LOG, queue = ?mq, error = %e, "pull failed");
                    if self.pause(self.config.pull_error_backoff).await {
                        return;
                    }
                    continue;
                }
            };
            match r.status {
                PullStatus::Found => {
                    offset = r.next_begin_offset;
                    pq.pulled(&r.messages, offset);
                    if r.messages.is_empty() {
                        continue;
                    }
                    if self.config.orderly {
                        if !self.consume_orderly(&pq, r.messages).await {
                            return;
                        }
                    } else {
                        self.dispatch_concurrently(&pq, r.messages);
                    }
                }
                PullStatus::NoNewMsg | PullStatus::NoMatchedMsg | PullStatus::OffsetIllegal => {
                    offset = r.next_begin_offset;
                    pq.pulled(&[], offset);
                }
            }
        }
    }
}
