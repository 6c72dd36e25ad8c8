//! Dispatcher threads: where the listener runs, outside the tokio runtime.
//!
//! Async code queues batches on the [`ListenerQueue`] and awaits each one's verdict; a
//! dispatcher thread takes every task waiting (up to [`MAX_TASKS_PER_CALL`]) and hands them
//! to the listener in one call, so that a Python listener takes the GIL once per wake-up,
//! not once per message.
//!
//! What must stay true: no lock is held while the listener runs (the receiver's lock is
//! released before the call); the queue counts every submitted batch until its verdict has
//! been applied (see [`Judged`]), so shutdown can wait for running listener calls and their
//! acknowledgements; once the consumer stops, a
//! dispatcher answers [`ConsumeStatus::NotRun`] without calling the listener.

use super::listener::{ConsumeBatch, ConsumeStatus, MessageListener};
use crate::error::{ClientError, Result};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use tokio::sync::{oneshot, watch, Notify};

/// The most batches one listener call gets.
const MAX_TASKS_PER_CALL: usize = 64;

thread_local! {
    static ON_DISPATCHER: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Whether the calling thread is one of the dispatchers (a listener calling shutdown).
pub(super) fn on_dispatcher() -> bool {
    ON_DISPATCHER.with(|f| f.get())
}

/// One batch waiting for the listener, and where its verdict goes.
pub(super) struct ConsumeTask {
    batch: ConsumeBatch,
    done: oneshot::Sender<ConsumeBatch>,
}

/// A batch the listener has judged. It still counts as in flight until it is dropped, so
/// shutdown waits until its verdict has been applied (acknowledged, sent back), not only
/// read: offsets persisted at shutdown then cover every message the listener consumed.
pub(super) struct Judged<'a> {
    pub batch: ConsumeBatch,
    pub settling: InFlight<'a>,
}

/// One submitted batch in the [`ListenerQueue`]'s count; dropping it ends the count.
pub(super) struct InFlight<'a>(&'a ListenerQueue);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.task_done();
    }
}

/// The sending side of the dispatchers' channel, with a count of batches whose verdict has
/// not been read yet.
pub(super) struct ListenerQueue {
    sender: Mutex<Option<mpsc::Sender<ConsumeTask>>>,
    in_flight: AtomicUsize,
    drained: Notify,
}

impl ListenerQueue {
    /// The queue and the receiver the dispatcher threads share.
    pub(super) fn new() -> (ListenerQueue, mpsc::Receiver<ConsumeTask>) {
        let (tx, rx) = mpsc::channel::<ConsumeTask>();
        let queue = ListenerQueue {
            sender: Mutex::new(Some(tx)),
            in_flight: AtomicUsize::new(0),
            drained: Notify::new(),
        };
        (queue, rx)
    }

    /// Sends one batch to the dispatchers and waits for the listener's verdict.
    pub(super) async fn run(&self, batch: ConsumeBatch) -> Option<Judged<'_>> {
        let reply = self.submit(batch)?;
        self.verdict(reply).await
    }

    /// Queues one batch for the dispatchers. `None` when the consumer is stopping.
    pub(super) fn submit(&self, batch: ConsumeBatch) -> Option<oneshot::Receiver<ConsumeBatch>> {
        let (tx, rx) = oneshot::channel();
        let sender = self.sender.lock().unwrap().clone()?;
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        if sender.send(ConsumeTask { batch, done: tx }).is_err() {
            self.task_done();
            return None;
        }
        Some(rx)
    }

    /// The listener's verdict on a submitted batch (`None`: the dispatchers stopped). The
    /// batch stays counted until the returned [`Judged`] is dropped (also when this future is
    /// dropped unfinished).
    pub(super) async fn verdict(
        &self,
        reply: oneshot::Receiver<ConsumeBatch>,
    ) -> Option<Judged<'_>> {
        let settling = InFlight(self);
        let batch = reply.await.ok()?;
        Some(Judged { batch, settling })
    }

    fn task_done(&self) {
        if self.in_flight.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.drained.notify_waiters();
        }
    }

    /// Returns once no submitted batch is waiting for its verdict.
    pub(super) async fn drained(&self) {
        while self.in_flight.load(Ordering::Acquire) > 0 {
            let notified = self.drained.notified();
            if self.in_flight.load(Ordering::Acquire) == 0 {
                break;
            }
            let _ = tokio::time::timeout(std::time::Duration::from_millis(50), notified).await;
        }
    }

    /// Drops the sender: nothing more is queued, and the dispatchers end once the channel
    /// is empty.
    pub(super) fn close(&self) {
        self.sender.lock().unwrap().take();
    }
}

/// Starts `count` (at least one) dispatcher threads over `rx`.
pub(super) fn start_dispatchers(
    count: usize,
    rx: mpsc::Receiver<ConsumeTask>,
    listener: Arc<dyn MessageListener>,
    stop: watch::Receiver<bool>,
) -> Result<Vec<std::thread::JoinHandle<()>>> {
    let rx = Arc::new(Mutex::new(rx));
    let mut dispatchers = Vec::new();
    for i in 0..count.max(1) {
        let rx = rx.clone();
        let listener = listener.clone();
        let stop = stop.clone();
        let handle = std::thread::Builder::new()
            .name(format!("rocketmq-consume-{i}"))
            .spawn(move || dispatcher_loop(rx, listener, stop))
            .map_err(|e| {
                ClientError::IllegalArgument(format!("cannot start a consume thread: {e}"))
            })?;
        dispatchers.push(handle);
    }
    Ok(dispatchers)
}

fn dispatcher_loop(
    rx: Arc<Mutex<mpsc::Receiver<ConsumeTask>>>,
    listener: Arc<dyn MessageListener>,
    stop: watch::Receiver<bool>,
) {
    ON_DISPATCHER.with(|f| f.set(true));
    loop {
        // Take every waiting task under the lock, then run them without it.
        let tasks: Vec<ConsumeTask> = {
            let rx = rx.lock().unwrap();
            let Ok(first) = rx.recv() else {
                return;
            };
            let mut v = vec![first];
            while v.len() < MAX_TASKS_PER_CALL {
                match rx.try_recv() {
                    Ok(t) => v.push(t),
                    Err(_) => break,
                }
            }
            v
        };
        let mut batches = Vec::with_capacity(tasks.len());
        let mut replies = Vec::with_capacity(tasks.len());
        for t in tasks {
            batches.push(t.batch);
            replies.push(t.done);
        }
        if *stop.borrow() {
            for b in &mut batches {
                b.status = ConsumeStatus::NotRun;
            }
        } else {
            listener.consume(&mut batches);
        }
        for (b, reply) in batches.into_iter().zip(replies) {
            let _ = reply.send(b);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::route::MessageQueue;
    use std::time::Duration;

    fn batch() -> ConsumeBatch {
        ConsumeBatch {
            queue: MessageQueue {
                topic: "T".into(),
                broker_name: "b".into(),
                queue_id: 0,
            },
            messages: Vec::new(),
            status: ConsumeStatus::NotRun,
        }
    }

    /// Shutdown persists offsets once the queue is drained; a verdict that was read but not
    /// yet applied (acknowledged) must keep it from draining, or the committed offset would
    /// miss a consumed message and the next member of the group would get it again.
    #[tokio::test]
    async fn a_judged_batch_counts_until_its_verdict_is_applied() {
        let (queue, rx) = ListenerQueue::new();
        let reply = queue.submit(batch()).expect("queue open");
        let task = rx.try_recv().expect("the batch was queued");
        let mut judged = task.batch;
        judged.status = ConsumeStatus::Success;
        assert!(task.done.send(judged).is_ok(), "verdict delivered");
        let judged = queue.verdict(reply).await.expect("a verdict");
        assert_eq!(judged.batch.status, ConsumeStatus::Success);
        let early = tokio::time::timeout(Duration::from_millis(120), queue.drained()).await;
        assert!(
            early.is_err(),
            "drained while a verdict was still being applied"
        );
        drop(judged);
        tokio::time::timeout(Duration::from_secs(2), queue.drained())
            .await
            .expect("drained once the verdict was applied");
    }

    #[tokio::test]
    async fn a_batch_whose_dispatchers_are_gone_is_no_longer_counted() {
        let (queue, rx) = ListenerQueue::new();
        let reply = queue.submit(batch()).expect("queue open");
        drop(rx);
        assert!(queue.verdict(reply).await.is_none());
        tokio::time::timeout(Duration::from_secs(2), queue.drained())
            .await
            .expect("drained");
        queue.close();
        assert!(
            queue.submit(batch()).is_none(),
            "a closed queue takes nothing"
        );
    }
}
