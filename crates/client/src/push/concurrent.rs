//! Concurrent consumption: a pull result is cut into batches of `batch_max_size`, all queued
//! for the dispatchers at once, and each batch is settled by the listener's verdict.
//!
//! Settling: success acknowledges; failure sends the messages back to the broker for a
//! later retry (clustering) or drops them with a warning (broadcasting); a message whose
//! send-back fails is retried here after `orderly_retry_pause`.
//!
//! What must stay true: a batch the listener did not run (the consumer was stopping) stays
//! unacknowledged, so the committed offset stays before it and it is delivered again.

use super::consumer_core::{ConsumerCore, LOG};
use super::dispatch::Judged;
use super::listener::{ConsumeBatch, ConsumeStatus};
use super::process_queue::ProcessQueue;
use crate::message::MessageExt;
use std::sync::Arc;

impl ConsumerCore {
    /// One task per pull result, not per batch: spawning and scheduling a task per message
    /// was a tenth of the consumer's CPU with single-message batches.
    pub(super) fn dispatch_concurrently(
        self: &Arc<Self>,
        pq: &Arc<ProcessQueue>,
        messages: Vec<MessageExt>,
    ) {
        let messages = messages.into_iter().map(Arc::new).collect();
        let core = self.clone();
        let pq = pq.clone();
        self.runtime
            .spawn(async move { core.consume_concurrently(pq, messages).await });
    }

    /// Hands `messages` to the listener in batches of `batch_max_size`, all queued at once so
    /// the dispatcher threads take them up in parallel, then settles each batch by its verdict:
    /// acknowledged, sent back for a later retry, or retried here after a pause when the send
    /// back failed.
    async fn consume_concurrently(
        self: Arc<Self>,
        pq: Arc<ProcessQueue>,
        messages: Vec<Arc<MessageExt>>,
    ) {
        let size = self.config.batch_max_size.max(1);
        let mut pending = messages;
        loop {
            let mut replies = Vec::with_capacity(pending.len().div_ceil(size));
            let mut chunks = pending.into_iter().peekable();
            while chunks.peek().is_some() {
                let batch = ConsumeBatch {
                    queue: pq.mq.clone(),
                    messages: chunks.by_ref().take(size).collect(),
                    status: ConsumeStatus::NotRun,
                };
                match self.listener_queue.submit(batch) {
                    Some(reply) => replies.push(reply),
                    // Stopping: what was not queued stays unacknowledged (redelivered later).
                    None => break,
                }
            }
            let mut retry_locally = Vec::new();
            for reply in replies {
                // `_settling` keeps the batch counted until its verdict is applied below.
                let Some(Judged {
                    batch,
                    settling: _settling,
                }) = self.listener_queue.verdict(reply).await
                else {
                    continue;
                };
                match batch.status {
                    ConsumeStatus::Success => {
                        pq.acked(batch.messages.iter().map(|m| m.queue_offset));
                    }
                    // Left unacknowledged: the committed offset stays before it, so it is
                    // delivered again after a restart.
                    ConsumeStatus::NotRun => {}
                    ConsumeStatus::ReconsumeLater if self.config.broadcasting => {
                        tracing::warn!(target: LOG, queue = ?pq.mq, count = batch.messages.len(), "broadcast messages failed to consume; dropped");
                        pq.acked(batch.messages.iter().map(|m| m.queue_offset));
                    }
                    ConsumeStatus::ReconsumeLater => {
                        for m in batch.messages {
                            match self
                                .client
                                .send_back(
                                    &self.config.group,
                                    &m,
                                    0,
                                    self.config.max_reconsume_times,
                                )
                                .await
                            {
                                Ok(()) => pq.acked(std::iter::once(m.queue_offset)),
                                Err(e) => {
                                    tracing::warn!(target: LOG, msg_id = %m.msg_id, error = %e, "send back failed; retrying locally");
                                    retry_locally.push(m);
                                }
                            }
                        }
                    }
                }
            }
            if retry_locally.is_empty() || self.pause(self.config.orderly_retry_pause).await {
                return;
            }
            for m in &mut retry_locally {
                Arc::make_mut(m).reconsume_times += 1;
            }
            pending = retry_locally;
        }
    }
}
