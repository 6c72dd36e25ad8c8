//! The read path: consume-queue reads, records by offset, offsets by store time.
//!
//! Readers take no append lock: they read only up to the ends the append path published
//! (the commit-log end first, then each consume queue's), so every entry they see points at
//! a written record. The shared logic in [`crate::queue_read`] keeps the results the same as
//! the memory store's.

use super::state::Inner;
use crate::message_store::{GetRequest, GetResult, QueueEntry};
use crate::queue_read;
use bytes::Bytes;

impl Inner {
    pub(super) fn record_of(&self, e: &QueueEntry) -> Option<Bytes> {
        if e.commit_log_offset < 0 || e.size <= 0 {
            return None;
        }
        self.commit_log
            .read(e.commit_log_offset as u64, e.size as usize)
    }

    pub(super) fn store_time_of(&self, e: &QueueEntry) -> Option<i64> {
        if e.commit_log_offset < 0 || e.size <= 0 {
            return None;
        }
        self.commit_log
            .store_timestamp_at(e.commit_log_offset as u64, e.size as usize)
    }

    pub(super) fn get_messages(
        &self,
        req: &GetRequest<'_>,
        filter: &dyn Fn(i64) -> bool,
    ) -> GetResult {
        let Some(cq) = self.queue(req.topic, req.queue_id) else {
            return queue_read::no_queue();
        };
        queue_read::get_messages(
            req,
            filter,
            cq.min_offset(),
            cq.max_offset(),
            |n| cq.get(n),
            |e| self.record_of(e),
        )
    }

    pub(super) fn earliest_store_time(&self, topic: &str, queue_id: i32) -> Option<i64> {
        let q = self.queue(topic, queue_id)?;
        let e = q.get(q.min_offset())?;
        self.store_time_of(&e)
    }

    pub(super) fn offset_by_time(
        &self,
        topic: &str,
        queue_id: i32,
        timestamp: i64,
        upper: bool,
    ) -> i64 {
        let Some(q) = self.queue(topic, queue_id) else {
            return 0;
        };
        queue_read::offset_by_time(q.min_offset(), q.max_offset(), timestamp, upper, |n| {
            q.get(n).and_then(|e| self.store_time_of(&e))
        })
    }
}
