//! Where an owned queue starts reading, and committing how far it got: every
//! `persist_interval`, when a queue is given up, and at shutdown.
//!
//! What must stay true: what is committed is a queue's first unacknowledged offset (else its
//! next pull offset), so a restart or a new owner never skips a message that was pulled but
//! not consumed; a commit that fails is forgotten, so the next round sends it again.

use super::config::ConsumeFrom;
use super::consumer_core::{ConsumerCore, LOG};
use super::process_queue::ProcessQueue;
use crate::error::Result;
use crate::route::MessageQueue;
use std::sync::Arc;

impl ConsumerCore {
    /// The offset a newly owned queue starts at: the committed one (broker or local file),
    /// else where `consume_from` says (a retry topic always from its start: only this group
    /// writes to it, so nothing there predates the group).
    pub(super) async fn initial_offset(&self, mq: &MessageQueue) -> Result<i64> {
        if self.config.broadcasting {
            if let Some(o) = self.offsets.local_offset(mq) {
                return Ok(o);
            }
        } else {
            // A broker answers 0 for a group without an offset on a young queue (so that a
            // consumer started before the first send never skips it); starting from a time
            // must not take that 0 for a committed offset.
            let zero_if_not_found = match self.config.consume_from {
                ConsumeFrom::Timestamp(_) => Some(false),
                _ => None,
            };
            if let Some(o) = self
                .client
                .query_committed_offset(&self.config.group, mq, zero_if_not_found)
                .await?
            {
                return Ok(o);
            }
        }
        match self.config.consume_from {
            ConsumeFrom::FirstOffset => Ok(0),
            _ if mq.topic.starts_with("%RETRY%") => Ok(0),
            ConsumeFrom::LastOffset => self.client.max_offset(mq).await,
            ConsumeFrom::Timestamp(ms) => self.client.search_offset(mq, ms).await,
        }
    }

    pub(super) async fn persist_loop(self: Arc<Self>) {
        loop {
            if self.pause(self.config.persist_interval).await {
                return;
            }
            let queues = self.queue_list();
            self.persist_offsets(&queues).await;
        }
    }

    /// Commits the offsets of `queues` that changed since their last commit: to the local
    /// file (broadcasting) or the broker (clustering).
    pub(super) async fn persist_offsets(&self, queues: &[Arc<ProcessQueue>]) {
        let mut changed = Vec::new();
        {
            let mut committed = self.offsets.committed.lock().unwrap();
            for pq in queues {
                if let Some(off) = pq.commit_offset() {
                    if committed.get(&pq.mq) != Some(&off) {
                        committed.insert(pq.mq.clone(), off);
                        changed.push((pq.mq.clone(), off));
                    }
                }
            }
        }
        if changed.is_empty() {
            return;
        }
        if self.config.broadcasting {
            if let Err(e) = self.offsets.save_local() {
                tracing::warn!(target: LOG, error = %e, "cannot save broadcasting offsets");
            }
            return;
        }
        for (mq, off) in changed {
            if let Err(e) = self
                .client
                .update_consumer_offset(&self.config.group, &mq, off)
                .await
            {
                tracing::debug!(target: LOG, queue = ?mq, error = %e, "offset commit failed");
                // Forget it so that the next round tries again.
                self.offsets.committed.lock().unwrap().remove(&mq);
            }
        }
    }
}
