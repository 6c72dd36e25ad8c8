//! The broker: topics, sends, pulls with long polling, offsets, clients, locks, retries.
//!
//! Layout:
//! - [`topic`]: topic configs over the store, auto-creation, name validation;
//! - [`send`]: SEND_MESSAGE / V2 / batch; [`pull`]: PULL_MESSAGE with long polling;
//! - [`consumer`]: heartbeats, offsets, locks, send-back; [`client`]: who is connected;
//! - [`transaction`]: half messages, END_TRANSACTION and the check-back service;
//! - [`notify`]: wake-ups of held pulls on every append; [`register`]: name-server
//!   registration;
//! - [`schedule`], [`retry`], [`rebalance_lock`], [`filter`]: delay levels, send-back
//!   decisions, queue locks and tag filters as self-contained pieces.
//!
//! Lock order: no lock of this module is held across an await. Each manager's mutex
//! (clients, locks, notifier) is a leaf; the one nesting is the topic manager's creation lock,
//! held while the store persists a topic config (store locks are taken inside, never the
//! other way round).

pub mod client;
pub mod consumer;
pub mod filter;
pub mod notify;
pub mod pull;
pub mod rebalance_lock;
pub mod register;
pub mod retry;
pub mod schedule;
pub mod send;
pub mod topic;
pub mod transaction;

use crate::config::ServerConfig;
use crate::remoting::server::{not_supported, BoxFuture};
use crate::remoting::{ConnectionHandle, RequestProcessor};
use client::ClientManager;
use notify::QueueNotifier;
use rebalance_lock::RebalanceLockManager;
use rocketmq_protocol::code::{request_code as rc, response_code as resp};
use rocketmq_protocol::command::RemotingCommand;
use rocketmq_protocol::header::CreateTopicRequestHeader;
use rocketmq_protocol::message_id::UniqIdGenerator;
use rocketmq_store::{MessageStore, StoreError, TopicConfig};
use schedule::DelayLevels;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{watch, Notify};
use topic::TopicConfigManager;

/// How long the answer to a request that created or changed a topic waits for the name
/// server to learn of it (see [`Broker::announced`]). Well below the clients' send timeouts
/// (3 s by default), so a name server that is down costs a delay, not a timed-out send and its
/// resend.
pub const TOPIC_ANNOUNCE_TIMEOUT: Duration = Duration::from_secs(1);

pub struct Broker {
    pub config: ServerConfig,
    /// The address clients use, stored in every message as its store host.
    pub store_host: SocketAddr,
    /// `store_host` as `ip:port` text (what the name server hands out).
    pub broker_addr: String,
    /// The store, wrapped so that every append wakes held pulls.
    pub store: Arc<dyn MessageStore>,
    pub topics: TopicConfigManager,
    pub clients: ClientManager,
    pub locks: RebalanceLockManager,
    pub notifier: Arc<QueueNotifier>,
    pub delay_levels: DelayLevels,
    pub shutdown: watch::Receiver<bool>,
    pub topics_changed: Arc<Notify>,
    /// The highest topic data version a name server acknowledged (-1: none yet).
    pub registered_version: watch::Sender<i64>,
    pub started_at_millis: i64,
    /// Makes `UNIQ_KEY`s for messages sent without one.
    pub uniq_ids: UniqIdGenerator,
    /// Decided transactions and check-back progress.
    pub transactions: transaction::TransactionState,
}

impl Broker {
    /// `store` must already be the notifying wrapper around the real store (see
    /// [`notify::NotifyingStore`]) sharing `notifier`.
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
        let transactions = transaction::TransactionState::load(&*store);
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
            started_at_millis: crate::util::now_millis(),
            transactions,
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
                        self.notify_consumers(n);
                    }
                    self.locks.purge_expired(Instant::now());
                }
                _ = crate::util::until_true(&mut shutdown) => return,
            }
        }
    }

    async fn handle(
        &self,
        conn: ConnectionHandle,
        req: RemotingCommand,
    ) -> Option<RemotingCommand> {
        let response = match req.code {
            rc::PULL_MESSAGE | rc::LITE_PULL_MESSAGE => self.pull_message(&conn, &req).await,
            rc::HEART_BEAT => self.heartbeat(&conn, &req),
            rc::UNREGISTER_CLIENT => self.unregister_client(&conn, &req),
            rc::GET_CONSUMER_LIST_BY_GROUP => self.consumer_list(&req),
            rc::QUERY_CONSUMER_OFFSET => self.query_consumer_offset(&req),
            rc::UPDATE_CONSUMER_OFFSET => self.update_consumer_offset(&req),
            rc::GET_MAX_OFFSET
            | rc::GET_MIN_OFFSET
            | rc::SEARCH_OFFSET_BY_TIMESTAMP
            | rc::GET_EARLIEST_MSG_STORETIME => self.queue_offsets(&req),
            rc::CONSUMER_SEND_MSG_BACK => self.consumer_send_msg_back(&req).await,
            rc::LOCK_BATCH_MQ => self.lock_batch(&req),
            rc::UNLOCK_BATCH_MQ => self.unlock_batch(&req),
            rc::VIEW_MESSAGE_BY_ID => self.view_message(&req),
            rc::UPDATE_AND_CREATE_TOPIC => self.update_topic(&req).await,
            rc::GET_ALL_TOPIC_CONFIG => self.all_topic_config(&req),
            rc::CHECK_CLIENT_CONFIG => self.check_client_config(&req),
            rc::END_TRANSACTION => self.end_transaction(&req),
            _ => not_supported(&req),
        };
        Some(response)
    }

    fn view_message(&self, req: &RemotingCommand) -> RemotingCommand {
        let Some(offset) = req.field_i64("offset") else {
            return RemotingCommand::response_to(req)
                .with_code(resp::SYSTEM_ERROR)
                .with_remark("the custom field <offset> is null");
        };
        match self.store.read_record(offset) {
            Some(record) => RemotingCommand::response_to(req).with_body(record),
            None => RemotingCommand::response_to(req)
                .with_code(resp::SYSTEM_ERROR)
                .with_remark(format!("can not find message by the offset, {offset}")),
        }
    }

    async fn update_topic(&self, req: &RemotingCommand) -> RemotingCommand {
        let h: CreateTopicRequestHeader = match req.decode_header() {
            Ok(h) => h,
            Err(e) => {
                return RemotingCommand::response_to(req)
                    .with_code(resp::SYSTEM_ERROR)
                    .with_remark(e.to_string())
            }
        };
        if let Err(refusal) = topic::validate_topic_name(&h.topic) {
            return RemotingCommand::response_to(req)
                .with_code(refusal.code)
                .with_remark(refusal.remark);
        }
        if topic::NOT_ALLOWED_SEND_TOPICS.contains(&h.topic.as_str())
            || h.topic == topic::AUTO_CREATE_TOPIC
        {
            return RemotingCommand::response_to(req)
                .with_code(resp::NO_PERMISSION)
                .with_remark(format!(
                    "the topic {} is a system topic and cannot be changed",
                    h.topic
                ));
        }
        if h.read_queue_nums <= 0
            || h.write_queue_nums <= 0
            || h.read_queue_nums > 1024
            || h.write_queue_nums > 1024
        {
            return RemotingCommand::response_to(req)
                .with_code(resp::INVALID_PARAMETER)
                .with_remark("readQueueNums and writeQueueNums must be between 1 and 1024");
        }
        let mut config = TopicConfig::new(h.topic.clone(), h.read_queue_nums, h.perm);
        config.write_queue_nums = h.write_queue_nums;
        config.topic_filter_type = h.topic_filter_type.clone();
        config.topic_sys_flag = h.topic_sys_flag.unwrap_or(0);
        config.order = h.order;
        match self.topics.put(config) {
            Ok(version) => {
                self.announced(version).await;
                RemotingCommand::response_to(req)
            }
            Err(e) => send::store_error(req, &e),
        }
    }

    fn all_topic_config(&self, req: &RemotingCommand) -> RemotingCommand {
        let table: std::collections::BTreeMap<String, TopicConfig> = self
            .topics
            .all()
            .into_iter()
            .map(|t| (t.topic_name.clone(), t))
            .collect();
        let body = serde_json::json!({
            "dataVersion": {"counter": self.topics.data_version(), "stateVersion": 0, "timestamp": self.started_at_millis},
            "topicConfigTable": table,
        });
        RemotingCommand::response_to(req).with_body(body.to_string().into_bytes())
    }

    fn check_client_config(&self, req: &RemotingCommand) -> RemotingCommand {
        let body: serde_json::Value = serde_json::from_slice(&req.body).unwrap_or_default();
        let ty = body["subscriptionData"]["expressionType"]
            .as_str()
            .unwrap_or("TAG");
        if ty.eq_ignore_ascii_case("TAG") {
            RemotingCommand::response_to(req)
        } else {
            RemotingCommand::response_to(req)
                .with_code(resp::SYSTEM_ERROR)
                .with_remark(format!(
                    "the broker does not support consumer to filter message by {ty}"
                ))
        }
    }
}

impl RequestProcessor for Broker {
    fn process(
        self: Arc<Self>,
        conn: ConnectionHandle,
        request: RemotingCommand,
    ) -> BoxFuture<Option<RemotingCommand>> {
        if matches!(
            request.code,
            rc::SEND_MESSAGE | rc::SEND_MESSAGE_V2 | rc::SEND_BATCH_MESSAGE
        ) {
            // Append now, in the reader: sends on one connection keep their arrival order.
            let phase = self.send_message_store(conn.peer(), &request);
            return Box::pin(async move { Some(self.send_message_finish(&request, phase).await) });
        }
        Box::pin(async move { self.handle(conn, request).await })
    }

    fn connection_closed(&self, conn: &ConnectionHandle) {
        for n in self.clients.connection_closed(conn.id()) {
            self.notify_consumers(n);
        }
    }
}
