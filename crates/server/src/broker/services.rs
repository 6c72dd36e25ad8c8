//! The broker's shared services: configuration, store, topics, clients, locks, the long-poll
//! notifier, delay levels and transaction state, in one [`Broker`] that every operation and
//! background task borrows.
//!
//! What must stay true: fields are crate-private; a front end reaches them only through the
//! operations. No lock of these services is held across an await.

use super::client::ClientManager;
use super::notify::QueueNotifier;
use super::rebalance_lock::RebalanceLockManager;
use super::schedule::DelayLevels;
use super::topic::TopicConfigManager;
use super::transaction::state::TransactionState;
use crate::config::ServerConfig;
use rocketmq_protocol::message_id::UniqIdGenerator;
use rocketmq_store::{MessageStore, StoreError};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{watch, Notify};

/// How long the answer to a request that created or changed a topic waits for the name
/// server to learn of it (see `Broker::announced`). Well below the clients' send timeouts
/// (3 s by default), so a name server that is down costs a delay, not a timed-out send and its
/// resend.
pub const TOPIC_ANNOUNCE_TIMEOUT: Duration = Duration::from_secs(1);

/// One broker: its configuration and the services every operation shares. Built once at
/// start and shared as `Arc<Broker>`; the operations are its methods (see [`super::ops`]).
pub struct Broker {
    pub(crate) config: ServerConfig,
    /// The address clients use, stored in every message as its store host.
    pub(crate) store_host: SocketAddr,
    /// `store_host` as `ip:port` text (what the name server hands out).
    pub(crate) broker_addr: String,
    /// The store, wrapped so that every append wakes held pulls.
    pub(crate) store: Arc<dyn MessageStore>,
    pub(crate) topics: TopicConfigManager,
    pub(crate) clients: ClientManager,
    pub(crate) locks: RebalanceLockManager,
    pub(crate) notifier: Arc<QueueNotifier>,
    pub(crate) delay_levels: DelayLevels,
    pub(crate) shutdown: watch::Receiver<bool>,
    pub(crate) topics_changed: Arc<Notify>,
    /// The highest topic data version a name server acknowledged (-1: none yet).
    pub(crate) registered_version: watch::Sender<i64>,
    pub(crate) started_at_millis: i64,
    /// Makes `UNIQ_KEY`s for messages sent without one.
    pub(crate) uniq_ids: UniqIdGenerator,
    /// Decided transactions and check-back progress.
    pub(crate) transactions: TransactionState,
    /// The timer-message service, once started (retention asks it what it still needs).
    pub(crate) timer: std::sync::OnceLock<Arc<super::timer::TimerService>>,
    /// Pull offsets and rates per consumer group, for GET_CONSUME_STATS.
    pub(crate) pull_stats: super::pull_stats::PullStats,
    /// POP consumption: in-flight messages, cursors and their journal.
    pub(crate) pop: super::pop::PopService,
    /// PULL or POP per topic and group, for QUERY_ASSIGNMENT.
    pub(crate) request_modes: super::request_modes::MessageRequestModes,
    /// Subscription-group configs (see [`super::subscription_group`]).
    pub(crate) groups: super::subscription_group::SubscriptionGroupManager,
}

impl Broker {
    /// `store` must already be the notifying wrapper around the real store (see
    /// [`super::notify::NotifyingStore`]) sharing `notifier`.
    pub fn new(
        config: ServerConfig,
        store_host: SocketAddr,
        store: Arc<dyn MessageStore>,
        notifier: Arc<QueueNotifier>,
        shutdown: watch::Receiver<bool>,
    ) -> Result<Arc<Self>, StoreError> {
        let delay_levels = DelayLevels::parse(&config.delay_levels)
            .map_err(|e| StoreError::MessageIllegal(format!("bad delay levels: {e}")))?;
        let topics_changed = Arc::new(Notify::new());
        let topics = TopicConfigManager::new(store.clone(), topics_changed.clone())?;
        let transactions = TransactionState::load(&*store);
        let request_modes = super::request_modes::MessageRequestModes::load(&*store);
        let started_at_millis = rocketmq_protocol::now_millis();
        let groups = super::subscription_group::SubscriptionGroupManager::new(
            store.clone(),
            started_at_millis,
        )?;
        Ok(Arc::new(Broker {
            broker_addr: format!("{}:{}", store_host.ip(), store_host.port()),
            store_host,
            store,
            topics,
            clients: ClientManager::default(),
            locks: RebalanceLockManager::default(),
            notifier,
            delay_levels,
            shutdown,
            topics_changed,
            registered_version: watch::Sender::new(-1),
            started_at_millis,
            transactions,
            timer: std::sync::OnceLock::new(),
            pull_stats: Default::default(),
            pop: Default::default(),
            request_modes,
            groups,
            uniq_ids: UniqIdGenerator::new(match store_host.ip() {
                std::net::IpAddr::V4(ip) => Some(ip),
                std::net::IpAddr::V6(ip) => ip.to_ipv4_mapped(),
            }),
            config,
        }))
    }

    /// Waits until a name server acknowledged a registration carrying topic data `version`,
    /// at most [`TOPIC_ANNOUNCE_TIMEOUT`]. A topic created or changed by a request (an
    /// auto-creating send, UPDATE_AND_CREATE_TOPIC) is answered only then, as the Java broker
    /// registers synchronously in both: a client that got the answer can look the topic up.
    pub(crate) async fn announced(&self, version: i64) {
        let mut registered = self.registered_version.subscribe();
        let seen = tokio::time::timeout(
            TOPIC_ANNOUNCE_TIMEOUT,
            registered.wait_for(|v| *v >= version),
        )
        .await;
        if !matches!(seen, Ok(Ok(_))) {
            tracing::warn!(
                "a topic change is not registered with the name server after {TOPIC_ANNOUNCE_TIMEOUT:?}; answering anyway"
            );
        }
    }

    /// Drops clients that stopped sending heartbeats, until shutdown.
    pub async fn run_client_expiry(self: Arc<Self>) {
        let expiry = self.config.client_expiry;
        let period = (expiry / 4).clamp(Duration::from_millis(50), Duration::from_secs(10));
        let mut ticker = tokio::time::interval(period);
        let mut shutdown = self.shutdown.clone();
        loop {
            tokio::select! {
                _ = ticker.tick() => {
                    for n in self.clients.expire(Instant::now(), expiry) {
                        tracing::info!(group = n.group, "client(s) expired: no heartbeat for {expiry:?}");
                        n.push();
                    }
                    self.locks.purge_expired(Instant::now());
                }
                _ = crate::util::until_true(&mut shutdown) => return,
            }
        }
    }
}
