//! A broker over a memory store, for the broker's unit tests (operations, processors,
//! transactions): the same wiring as the embedded cluster, without sockets or a file store.

use super::notify::{NotifyingStore, QueueNotifier};
use super::services::Broker;
use rocketmq_store::{MemoryStore, MessageStore};
use std::sync::Arc;
use tokio::sync::watch;

pub(crate) struct TestBroker {
    pub broker: Arc<Broker>,
    /// The memory store under the notifying wrapper (to shut it down, to look inside).
    pub memory: Arc<MemoryStore>,
    /// The store the broker writes to (the notifying wrapper).
    pub store: Arc<dyn MessageStore>,
    /// The broker's shutdown flag; dropping it tells the broker to stop.
    pub stop: watch::Sender<bool>,
}

/// A broker with the default configuration at 127.0.0.1:10911 over a fresh memory store.
pub(crate) fn test_broker() -> TestBroker {
    let notifier = Arc::new(QueueNotifier::default());
    let memory = Arc::new(MemoryStore::new());
    let store: Arc<dyn MessageStore> =
        Arc::new(NotifyingStore::new(memory.clone(), notifier.clone()));
    let (stop, shutdown) = watch::channel(false);
    let broker = Broker::new(
        crate::ServerConfig::default(),
        "127.0.0.1:10911".parse().unwrap(),
        store.clone(),
        notifier,
        shutdown,
    )
    .unwrap();
    TestBroker {
        broker,
        memory,
        store,
        stop,
    }
}
