//! [`ProcessQueue`]: one owned queue's progress: which pulled messages are not acknowledged
//! yet (with their body sizes), and where the next pull starts.
//!
//! What must stay true: the committed offset never passes a message that is pulled but not
//! yet acknowledged: in-flight offsets and the next pull offset change together under one
//! lock, held only briefly and never across `.await`.

use crate::message::MessageExt;
use crate::route::MessageQueue;
use rocketmq_protocol::body::running_info::ProcessQueueInfo;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;

/// Pulled-but-unacknowledged offsets (with their body sizes), their byte total and the
/// next pull offset, changed together.
pub(super) struct QueueProgress {
    /// Offset -> body size in bytes.
    pub(super) in_flight: BTreeMap<i64, usize>,
    /// Sum of the sizes in `in_flight`.
    pub(super) in_flight_bytes: usize,
    pub(super) next_offset: i64,
    /// Set once the initial offset is known; nothing is committed before.
    pub(super) started: bool,
}

pub(super) struct ProcessQueue {
    pub(super) mq: MessageQueue,
    /// Set when the queue is handed to another member or the consumer stops: its pull loop
    /// and consume tasks end.
    pub(super) dropped: AtomicBool,
    pub(super) progress: Mutex<QueueProgress>,
    /// Woken when acknowledgements make room under the flow-control limits.
    pub(super) space: Notify,
}

impl ProcessQueue {
    pub(super) fn new(mq: MessageQueue) -> Arc<Self> {
        Arc::new(ProcessQueue {
            mq,
            dropped: AtomicBool::new(false),
            progress: Mutex::new(QueueProgress {
                in_flight: BTreeMap::new(),
                in_flight_bytes: 0,
                next_offset: 0,
                started: false,
            }),
            space: Notify::new(),
        })
    }

    pub(super) fn is_dropped(&self) -> bool {
        self.dropped.load(Ordering::Acquire)
    }

    /// Marks the queue dropped and wakes a pull loop waiting for room.
    pub(super) fn drop_queue(&self) {
        self.dropped.store(true, Ordering::Release);
        self.space.notify_waiters();
    }

    /// Whether the starting offset is known (pulling has begun).
    pub(super) fn is_started(&self) -> bool {
        self.progress.lock().unwrap().started
    }

    /// Records the starting offset: from now on the queue has something to commit.
    pub(super) fn start_at(&self, offset: i64) {
        let mut p = self.progress.lock().unwrap();
        p.next_offset = offset;
        p.started = true;
    }

    /// Pulled but unacknowledged messages and their body bytes.
    pub(super) fn cached(&self) -> (usize, usize) {
        let p = self.progress.lock().unwrap();
        (p.in_flight.len(), p.in_flight_bytes)
    }

    /// Whether pulling must wait: either limit reached, and something is in flight (an
    /// empty queue always pulls, whatever the size of the next message).
    pub(super) fn over_limits(&self, max_count: usize, max_bytes: usize) -> bool {
        let (count, bytes) = self.cached();
        count > 0 && (count >= max_count || bytes >= max_bytes)
    }

    /// The offset to commit: the first unacknowledged message, else the next pull offset.
    pub(super) fn commit_offset(&self) -> Option<i64> {
        let p = self.progress.lock().unwrap();
        if !p.started {
            return None;
        }
        Some(
            p.in_flight
                .first_key_value()
                .map(|(o, _)| *o)
                .unwrap_or(p.next_offset),
        )
    }

    /// Records a pull result: its messages are in flight, the next pull starts at
    /// `next_offset`.
    pub(super) fn pulled(&self, messages: &[MessageExt], next_offset: i64) {
        let mut p = self.progress.lock().unwrap();
        for m in messages {
            let size = m.body.len();
            if let Some(old) = p.in_flight.insert(m.queue_offset, size) {
                p.in_flight_bytes -= old;
            }
            p.in_flight_bytes += size;
        }
        p.next_offset = next_offset;
    }

    /// This queue's line in a running-info answer.
    pub(super) fn info(&self) -> ProcessQueueInfo {
        let p = self.progress.lock().unwrap();
        let first = p.in_flight.first_key_value().map(|(o, _)| *o);
        ProcessQueueInfo {
            cached_msg_count: p.in_flight.len() as u64,
            cached_msg_max_offset: p.in_flight.last_key_value().map_or(0, |(o, _)| *o),
            cached_msg_min_offset: first.unwrap_or(0),
            cached_msg_size_in_mib: (p.in_flight_bytes >> 20) as u64,
            commit_offset: first.unwrap_or(p.next_offset),
            dropped: self.dropped.load(Ordering::Acquire),
        }
    }

    /// Forgets acknowledged offsets and wakes a pull loop waiting for room.
    pub(super) fn acked(&self, offsets: impl Iterator<Item = i64>) {
        {
            let mut p = self.progress.lock().unwrap();
            for o in offsets {
                if let Some(size) = p.in_flight.remove(&o) {
                    p.in_flight_bytes -= size;
                }
            }
        }
        self.space.notify_waiters();
    }
}
