//! Queue locks of orderly consumers: LOCK_BATCH_MQ (41) and UNLOCK_BATCH_MQ (42), over the
//! [`crate::broker::rebalance_lock::RebalanceLockManager`].

use crate::broker::services::Broker;
use rocketmq_protocol::body::{LockBatchRequestBody, LockBatchResponseBody, MessageQueue};
use std::time::Instant;

impl Broker {
    /// Locks (or renews) what it can of the asked queues; answers the queues the client holds.
    pub fn lock_batch(&self, body: LockBatchRequestBody) -> LockBatchResponseBody {
        let queues: Vec<MessageQueue> = body.mq_set.into_iter().collect();
        let granted = self.locks.try_lock_batch(
            &body.consumer_group,
            &body.client_id,
            &queues,
            Instant::now(),
        );
        LockBatchResponseBody {
            lock_ok_mq_set: granted.into_iter().collect(),
        }
    }

    /// Releases the asked queues where this client holds them.
    pub fn unlock_batch(&self, body: LockBatchRequestBody) {
        let queues: Vec<MessageQueue> = body.mq_set.into_iter().collect();
        self.locks
            .unlock_batch(&body.consumer_group, &body.client_id, &queues);
    }
}
