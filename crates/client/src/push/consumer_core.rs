//! [`ConsumerCore`]: what a push consumer's background tasks, pull loops and consume tasks
//! share. Its methods live in the files of their concern (`heartbeat`, `rebalance`,
//! `pull_loop`, `concurrent`, `orderly`, `offsets`, `running_info`); this file holds the
//! state and the stop signal.
//!
//! What must stay true: no lock of the core is held across `.await` or while the listener
//! runs. Lock order, where two are held at once: `queues` or `offsets.committed` first, then
//! a queue's `progress`; never `queues` and `offsets.committed` together. `subscriptions`
//! is only held to copy or change it, never with another lock.

use super::config::{PushConsumerConfig, Subscription};
use super::dispatch::ListenerQueue;
use super::offset_store::OffsetStore;
use super::process_queue::ProcessQueue;
use crate::filter::MessageFilter;
use crate::instance::ClientInstance;
use crate::route::MessageQueue;
use std::collections::{BTreeSet, HashMap};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{watch, Notify};

/// Log target: a child of the `rocketmq` logger once bridged to Python `logging`.
pub(super) const LOG: &str = "rocketmq.client.push";

pub(super) struct ConsumerCore {
    pub(super) client: Arc<ClientInstance>,
    pub(super) config: PushConsumerConfig,
    /// The caller's subscriptions, plus the group's retry topic for clustering; one per
    /// topic. `PushConsumer::subscribe` adds or replaces entries while running.
    pub(super) subscriptions: Mutex<Vec<Subscription>>,
    /// Owned queues.
    pub(super) queues: Mutex<HashMap<MessageQueue, Arc<ProcessQueue>>>,
    pub(super) offsets: OffsetStore,
    /// Set to true once at shutdown; every loop watches it.
    pub(super) stop: watch::Sender<bool>,
    /// Wakes the rebalance loop early (the broker said the group changed).
    pub(super) rebalance_now: Arc<Notify>,
    pub(super) listener_queue: ListenerQueue,
    pub(super) runtime: tokio::runtime::Handle,
    /// The rebalance, heartbeat, persist and lock-renewal loops, aborted at shutdown.
    pub(super) background: Mutex<Vec<tokio::task::JoinHandle<()>>>,
    /// Brokers that have acknowledged a heartbeat of this consumer. A broker that appears in
    /// a route later (a topic registered after we started) gets one before the rebalance
    /// asks it for the group's members.
    pub(super) heartbeat_acked: Mutex<BTreeSet<String>>,
}

/// Runs `fut` to its end on `runtime` from synchronous code, also when the caller is itself
/// a thread of that runtime (it then waits on a helper thread instead of nesting runtimes).
/// A future that does I/O needs a multi-thread runtime here (on a current-thread runtime only
/// `Runtime::block_on` drives I/O), so callers use it only for the brokers' subscription
/// check, which tag-only subscriptions skip.
pub(super) fn wait_on<F>(runtime: &tokio::runtime::Handle, fut: F) -> F::Output
where
    F: Future + Send,
    F::Output: Send,
{
    std::thread::scope(|s| {
        s.spawn(|| runtime.block_on(fut))
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

impl ConsumerCore {
    pub(super) fn stopping(&self) -> bool {
        *self.stop.borrow()
    }

    /// Sleeps `d`, or less if the consumer stops. Returns true when stopping.
    pub(super) async fn pause(&self, d: Duration) -> bool {
        let mut rx = self.stop.subscribe();
        if *rx.borrow() {
            return true;
        }
        tokio::select! {
            _ = tokio::time::sleep(d) => false,
            _ = rx.changed() => true,
        }
    }

    pub(super) fn broker_addrs(&self) -> Vec<String> {
        self.client.all_broker_addrs()
    }

    /// The subscriptions now (a copy: the lock is released on return).
    pub(super) fn subscriptions(&self) -> Vec<Subscription> {
        self.subscriptions.lock().unwrap().clone()
    }

    /// The current filter of `topic`'s subscription (None once it has none).
    pub(super) fn filter_of(&self, topic: &str) -> Option<MessageFilter> {
        self.subscriptions
            .lock()
            .unwrap()
            .iter()
            .find(|s| s.topic == topic)
            .map(|s| s.filter.clone())
    }

    /// The owned queues now (a copy: the lock is released on return).
    pub(super) fn queue_list(&self) -> Vec<Arc<ProcessQueue>> {
        self.queues.lock().unwrap().values().cloned().collect()
    }
}
