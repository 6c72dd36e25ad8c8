//! The push consumer: rebalance, one long-polling pull loop per owned queue, dispatcher
//! threads that run the listener, offsets, send-back of failures, orderly queue locks.
//!
//! Shape of the data flow:
//!
//! ```text
//!  rebalance (start, every 20 s, on NOTIFY_CONSUMER_IDS_CHANGED)
//!     -> one ProcessQueue + pull task per owned queue
//!  pull task --(ConsumeTask over a channel)--> dispatcher threads (thread_count)
//!     dispatcher: takes every task waiting (up to 64) and hands them to the listener in
//!     one call, so that a Python listener takes the GIL once per wake-up, not per message
//!  ack (tokio): success -> forget the offsets; failure -> send back (clustering) or drop
//!     (broadcasting); orderly: retry the same message locally after a pause
//!  offset persister (every 5 s and at shutdown): commits min(in-flight) or next offset
//!  broker requests: NOTIFY_CONSUMER_IDS_CHANGED -> rebalance now;
//!     GET_CONSUMER_RUNNING_INFO -> Java's ConsumerRunningInfo JSON (config, subscriptions,
//!     per queue: in-flight count/bytes/offsets and the offset to commit)
//! ```
//!
//! Flow control: a queue stops pulling while its unacknowledged messages reach
//! `max_cached_per_queue` or their bodies `max_cached_bytes_per_queue`; a queue with
//! nothing in flight always pulls.
//!
//! What must stay true:
//! - the committed offset never passes a message that is pulled but not yet acknowledged:
//!   in-flight offsets and the next pull offset change together under one lock;
//! - no Rust lock is held while the listener runs (it may take the GIL) or across `.await`;
//! - shutdown stops pulls first, lets running listener calls finish, then commits offsets,
//!   and never joins the thread it runs on (a listener may call shutdown).

use crate::error::Result;
use crate::instance::ClientInstance;
use crate::message::MessageExt;
use crate::pull::{PullRequest, PullStatus, TagFilter};
use crate::rebalance::allocate_averagely;
use crate::remoting::RequestHandler;
use crate::route::MessageQueue;
use rocketmq_protocol::body::heartbeat::{
    ConsumeFromWhere, ConsumeType, ConsumerData, HeartbeatData, MessageModel, SubscriptionData,
};
use rocketmq_protocol::body::running_info::{ConsumerRunningInfo, ProcessQueueInfo};
use rocketmq_protocol::code::request_code;
use rocketmq_protocol::command::RemotingCommand;
use rocketmq_protocol::tag::java_string_hash;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;
use tokio::sync::{oneshot, watch, Notify};

/// Log target: a child of the `rocketmq` logger once bridged to Python `logging`.
const LOG: &str = "rocketmq.client.push";

/// Where a group without a committed offset starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConsumeFrom {
    LastOffset,
    FirstOffset,
}

#[derive(Clone, Debug)]
pub struct PushConsumerConfig {
    pub group: String,
    pub broadcasting: bool,
    pub orderly: bool,
    pub consume_from: ConsumeFrom,
    /// Dispatcher threads that run the listener.
    pub thread_count: usize,
    /// Messages handed to the listener per batch.
    pub batch_max_size: usize,
    pub pull_batch_size: i32,
    /// Pulled but unacknowledged messages per queue before pulling pauses.
    pub max_cached_per_queue: usize,
    /// Body bytes of pulled but unacknowledged messages per queue before pulling pauses
    /// (Java's `pullThresholdSizeForQueue`). A queue with nothing in flight always pulls,
    /// so one pull batch may pass the limit: a single huge message never stalls a queue.
    pub max_cached_bytes_per_queue: usize,
    pub max_reconsume_times: i32,
    pub long_poll: Duration,
    pub rebalance_interval: Duration,
    pub heartbeat_interval: Duration,
    pub persist_interval: Duration,
    /// Pause after a failed pull before the next one.
    pub pull_error_backoff: Duration,
    /// Pause before an orderly queue re-delivers a message that failed.
    pub orderly_retry_pause: Duration,
    /// Directory for broadcasting offsets (`<dir>/<group>/offsets.json`).
    pub local_offset_dir: PathBuf,
}

impl Default for PushConsumerConfig {
    fn default() -> Self {
        PushConsumerConfig {
            group: "DEFAULT_CONSUMER".into(),
            broadcasting: false,
            orderly: false,
            consume_from: ConsumeFrom::LastOffset,
            thread_count: 4,
            batch_max_size: 1,
            pull_batch_size: 32,
            max_cached_per_queue: 1000,
            max_cached_bytes_per_queue: 100 << 20,
            max_reconsume_times: 16,
            long_poll: Duration::from_secs(15),
            rebalance_interval: Duration::from_secs(20),
            heartbeat_interval: Duration::from_secs(30),
            persist_interval: Duration::from_secs(5),
            pull_error_backoff: Duration::from_secs(1),
            orderly_retry_pause: Duration::from_secs(1),
            local_offset_dir: default_offset_dir(),
        }
    }
}

fn default_offset_dir() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir)
        .join(".rocketmq_offsets")
}

/// What the listener reports for a batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConsumeStatus {
    Success,
    ReconsumeLater,
    /// The consumer was stopping; the listener did not see the batch.
    NotRun,
}

/// Messages of one queue handed to the listener together.
#[derive(Debug)]
pub struct ConsumeBatch {
    pub queue: MessageQueue,
    /// Shared, so a listener can keep a message (the Python bindings hand it out as a lazy
    /// object) while the consumer still acknowledges or sends it back.
    pub messages: Vec<Arc<MessageExt>>,
    pub status: ConsumeStatus,
}

/// Consumes messages. Called on the consumer's dispatcher threads with every batch that was
/// waiting; it must set each batch's `status`.
pub trait MessageListener: Send + Sync + 'static {
    fn consume(&self, batches: &mut [ConsumeBatch]);
}

/// One subscription: a topic and its tag filter.
#[derive(Clone, Debug)]
pub struct Subscription {
    pub topic: String,
    pub filter: TagFilter,
}

struct ConsumeTask {
    batch: ConsumeBatch,
    done: oneshot::Sender<ConsumeBatch>,
}

/// Pulled-but-unacknowledged offsets (with their body sizes), their byte total and the
/// next pull offset, changed together.
struct QueueProgress {
    /// Offset -> body size in bytes.
    in_flight: BTreeMap<i64, usize>,
    /// Sum of the sizes in `in_flight`.
    in_flight_bytes: usize,
    next_offset: i64,
    /// Set once the initial offset is known; nothing is committed before.
    started: bool,
}

struct ProcessQueue {
    mq: MessageQueue,
    dropped: AtomicBool,
    progress: Mutex<QueueProgress>,
    space: Notify,
}

impl ProcessQueue {
    fn new(mq: MessageQueue) -> Arc<Self> {
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

    /// Pulled but unacknowledged messages and their body bytes.
    fn cached(&self) -> (usize, usize) {
        let p = self.progress.lock().unwrap();
        (p.in_flight.len(), p.in_flight_bytes)
    }

    /// Whether pulling must wait: either limit reached, and something is in flight (an
    /// empty queue always pulls, whatever the size of the next message).
    fn over_limits(&self, max_count: usize, max_bytes: usize) -> bool {
        let (count, bytes) = self.cached();
        count > 0 && (count >= max_count || bytes >= max_bytes)
    }

    /// The offset to commit: the first unacknowledged message, else the next pull offset.
    fn commit_offset(&self) -> Option<i64> {
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

    fn pulled(&self, messages: &[MessageExt], next_offset: i64) {
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
    fn info(&self) -> ProcessQueueInfo {
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

    fn acked(&self, offsets: impl Iterator<Item = i64>) {
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

/// Offsets of owned queues: remote (the broker) for clustering, a local JSON file for
/// broadcasting. Remembers the last value committed to skip unchanged ones.
struct OffsetStore {
    local_file: Option<PathBuf>,
    committed: Mutex<BTreeMap<MessageQueue, i64>>,
}

impl OffsetStore {
    fn key(mq: &MessageQueue) -> String {
        format!("{}@{}@{}", mq.topic, mq.broker_name, mq.queue_id)
    }

    fn load_local(&self) -> HashMap<String, i64> {
        let Some(path) = &self.local_file else {
            return HashMap::new();
        };
        std::fs::read(path)
            .ok()
            .and_then(|b| serde_json::from_slice::<HashMap<String, i64>>(&b).ok())
            .unwrap_or_default()
    }

    fn save_local(&self) -> std::io::Result<()> {
        let Some(path) = &self.local_file else {
            return Ok(());
        };
        let mut table = self.load_local();
        for (mq, off) in self.committed.lock().unwrap().iter() {
            table.insert(Self::key(mq), *off);
        }
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        // Write a temporary file, then rename: a reader sees the old or the new table.
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, serde_json::to_vec(&table).unwrap_or_default())?;
        std::fs::rename(&tmp, path)
    }
}

struct Inner {
    client: Arc<ClientInstance>,
    config: PushConsumerConfig,
    subscriptions: Vec<Subscription>,
    queues: Mutex<HashMap<MessageQueue, Arc<ProcessQueue>>>,
    offsets: OffsetStore,
    stop: watch::Sender<bool>,
    rebalance_now: Arc<Notify>,
    tasks: Mutex<Option<mpsc::Sender<ConsumeTask>>>,
    in_flight_tasks: AtomicUsize,
    drained: Notify,
    runtime: tokio::runtime::Handle,
    background: Mutex<Vec<tokio::task::JoinHandle<()>>>,
    /// Brokers that have acknowledged a heartbeat of this consumer. A broker that appears in
    /// a route later (a topic registered after we started) gets one before the rebalance
    /// asks it for the group's members.
    heartbeat_acked: Mutex<BTreeSet<String>>,
}

/// Answers the broker: wakes the rebalance when the group changed, reports the consumer's
/// state on GET_CONSUMER_RUNNING_INFO.
struct ConsumerRequestHandler {
    rebalance_now: Arc<Notify>,
    /// Set once the consumer exists; weak so that the client instance (which owns this
    /// handler) does not keep the consumer alive.
    inner: std::sync::OnceLock<std::sync::Weak<Inner>>,
}

impl RequestHandler for ConsumerRequestHandler {
    fn handle(&self, _from: &str, request: RemotingCommand) -> Option<RemotingCommand> {
        match request.code {
            request_code::NOTIFY_CONSUMER_IDS_CHANGED => {
                self.rebalance_now.notify_one();
                None
            }
            request_code::GET_CONSUMER_RUNNING_INFO => Some(self.running_info(&request)),
            _ => Some(RemotingCommand::new_response(
                rocketmq_protocol::code::response_code::REQUEST_CODE_NOT_SUPPORTED,
                format!(" request type {} not supported", request.code),
            )),
        }
    }
}

impl ConsumerRequestHandler {
    fn running_info(&self, request: &RemotingCommand) -> RemotingCommand {
        let error = |remark: String| {
            RemotingCommand::new_response(
                rocketmq_protocol::code::response_code::SYSTEM_ERROR,
                remark,
            )
        };
        let Some(inner) = self.inner.get().and_then(std::sync::Weak::upgrade) else {
            return error("the consumer is not running".into());
        };
        // One consumer per client instance: another group's question is not ours to answer
        // (Java answers the same way for a group it does not have).
        if let Some(group) = request.ext_fields.get("consumerGroup") {
            if *group != inner.config.group {
                return error(format!(
                    "The Consumer Group <{group}> not exist in this consumer"
                ));
            }
        }
        RemotingCommand::new_response(rocketmq_protocol::code::response_code::SUCCESS, "")
            .with_body(inner.running_info().encode())
    }
}

thread_local! {
    static ON_DISPATCHER: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

pub struct PushConsumer {
    inner: Arc<Inner>,
    dispatchers: Mutex<Vec<std::thread::JoinHandle<()>>>,
    stopped: AtomicBool,
}

impl PushConsumer {
    /// Starts consuming on `runtime`. `client_config` names the name servers. Clustering
    /// consumers also subscribe to their group's retry topic.
    pub fn start(
        runtime: tokio::runtime::Handle,
        client_config: crate::instance::ClientConfig,
        config: PushConsumerConfig,
        mut subscriptions: Vec<Subscription>,
        listener: Arc<dyn MessageListener>,
    ) -> Result<PushConsumer> {
        let rebalance_now = Arc::new(Notify::new());
        let handler = Arc::new(ConsumerRequestHandler {
            rebalance_now: rebalance_now.clone(),
            inner: std::sync::OnceLock::new(),
        });
        let client = ClientInstance::new(client_config, Some(handler.clone()));
        client.start_maintenance(&runtime);
        if !config.broadcasting {
            subscriptions.push(Subscription {
                topic: format!("%RETRY%{}", config.group),
                filter: TagFilter::parse("*"),
            });
        }
        let local_file = config.broadcasting.then(|| {
            config
                .local_offset_dir
                .join(&client.config.instance_name)
                .join(&config.group)
                .join("offsets.json")
        });
        let (tx, rx) = mpsc::channel::<ConsumeTask>();
        let (stop, _) = watch::channel(false);
        let inner = Arc::new(Inner {
            client,
            subscriptions,
            queues: Mutex::new(HashMap::new()),
            offsets: OffsetStore {
                local_file,
                committed: Mutex::new(BTreeMap::new()),
            },
            stop,
            rebalance_now,
            tasks: Mutex::new(Some(tx)),
            in_flight_tasks: AtomicUsize::new(0),
            drained: Notify::new(),
            runtime: runtime.clone(),
            background: Mutex::new(Vec::new()),
            heartbeat_acked: Mutex::new(BTreeSet::new()),
            config,
        });
        let _ = handler.inner.set(Arc::downgrade(&inner));

        let rx = Arc::new(Mutex::new(rx));
        let mut dispatchers = Vec::new();
        for i in 0..inner.config.thread_count.max(1) {
            let rx = rx.clone();
            let listener = listener.clone();
            let inner_d = inner.clone();
            let handle = std::thread::Builder::new()
                .name(format!("rocketmq-consume-{i}"))
                .spawn(move || dispatcher_loop(inner_d, rx, listener))
                .map_err(|e| {
                    crate::ClientError::IllegalArgument(format!(
                        "cannot start a consume thread: {e}"
                    ))
                })?;
            dispatchers.push(handle);
        }

        let bg = vec![
            runtime.spawn(Inner::rebalance_loop(inner.clone())),
            runtime.spawn(Inner::heartbeat_loop(inner.clone())),
            runtime.spawn(Inner::persist_loop(inner.clone())),
        ];
        let mut all = bg;
        if inner.config.orderly {
            all.push(runtime.spawn(Inner::lock_renew_loop(inner.clone())));
        }
        inner.background.lock().unwrap().extend(all);
        Ok(PushConsumer {
            inner,
            dispatchers: Mutex::new(dispatchers),
            stopped: AtomicBool::new(false),
        })
    }

    pub fn client_id(&self) -> &str {
        &self.inner.client.client_id
    }

    /// Pulled but unacknowledged messages and their body bytes, per owned queue.
    pub fn cached_per_queue(&self) -> Vec<(MessageQueue, usize, usize)> {
        let queues: Vec<Arc<ProcessQueue>> = self
            .inner
            .queues
            .lock()
            .unwrap()
            .values()
            .cloned()
            .collect();
        let mut v: Vec<_> = queues
            .iter()
            .map(|pq| {
                let (count, bytes) = pq.cached();
                (pq.mq.clone(), count, bytes)
            })
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }

    /// Queues this consumer owns now.
    pub fn owned_queues(&self) -> Vec<MessageQueue> {
        let mut v: Vec<_> = self.inner.queues.lock().unwrap().keys().cloned().collect();
        v.sort();
        v
    }

    /// Owned queues whose starting offset is known (pulling has begun). Messages stored in
    /// these queues from now on are delivered, whatever `consume_from` says.
    pub fn pulling_queues(&self) -> Vec<MessageQueue> {
        let mut v: Vec<_> = self
            .inner
            .queues
            .lock()
            .unwrap()
            .values()
            .filter(|pq| pq.progress.lock().unwrap().started)
            .map(|pq| pq.mq.clone())
            .collect();
        v.sort();
        v
    }

    /// Stops pulling, waits up to `grace` for running listener calls, commits offsets,
    /// unlocks and unregisters. Blocks the calling thread; idempotent.
    pub fn shutdown(&self, grace: Duration) {
        if self.stopped.swap(true, Ordering::SeqCst) {
            return;
        }
        let inner = self.inner.clone();
        let _ = inner.stop.send(true);
        for h in inner.background.lock().unwrap().drain(..) {
            h.abort();
        }
        let rt = inner.runtime.clone();
        let on_dispatcher = ON_DISPATCHER.with(|f| f.get());
        let fut = async move {
            if !on_dispatcher {
                let wait = async {
                    while inner.in_flight_tasks.load(Ordering::Acquire) > 0 {
                        let notified = inner.drained.notified();
                        if inner.in_flight_tasks.load(Ordering::Acquire) == 0 {
                            break;
                        }
                        let _ = tokio::time::timeout(Duration::from_millis(50), notified).await;
                    }
                };
                let _ = tokio::time::timeout(grace, wait).await;
            }
            let queues: Vec<Arc<ProcessQueue>> = {
                let mut q = inner.queues.lock().unwrap();
                q.drain().map(|(_, pq)| pq).collect()
            };
            for pq in &queues {
                pq.dropped.store(true, Ordering::Release);
            }
            inner.persist_offsets(&queues).await;
            if inner.config.orderly {
                inner.unlock_all(&queues).await;
            }
            for addr in inner.broker_addrs() {
                let _ = inner
                    .client
                    .unregister(&addr, None, Some(&inner.config.group))
                    .await;
            }
            inner.client.shutdown();
        };
        if tokio::runtime::Handle::try_current().is_ok() {
            // Called from inside the runtime: finish in the background.
            rt.spawn(fut);
        } else {
            rt.block_on(fut);
        }
        self.inner.tasks.lock().unwrap().take();
        if !on_dispatcher {
            for h in self.dispatchers.lock().unwrap().drain(..) {
                let _ = h.join();
            }
        }
    }
}

impl Drop for PushConsumer {
    fn drop(&mut self) {
        if !self.stopped.load(Ordering::SeqCst) {
            let _ = self.inner.stop.send(true);
            for h in self.inner.background.lock().unwrap().drain(..) {
                h.abort();
            }
            self.inner.tasks.lock().unwrap().take();
            self.inner.client.shutdown();
        }
    }
}

fn dispatcher_loop(
    inner: Arc<Inner>,
    rx: Arc<Mutex<mpsc::Receiver<ConsumeTask>>>,
    listener: Arc<dyn MessageListener>,
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
            while v.len() < 64 {
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
        if *inner.stop.borrow() {
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

impl Inner {
    fn stopping(&self) -> bool {
        *self.stop.borrow()
    }

    /// Sleeps `d`, or less if the consumer stops. Returns true when stopping.
    async fn pause(&self, d: Duration) -> bool {
        let mut rx = self.stop.subscribe();
        if *rx.borrow() {
            return true;
        }
        tokio::select! {
            _ = tokio::time::sleep(d) => false,
            _ = rx.changed() => true,
        }
    }

    fn broker_addrs(&self) -> Vec<String> {
        self.client.all_broker_addrs()
    }

    /// This consumer's state for GET_CONSUMER_RUNNING_INFO. Takes each queue's lock briefly.
    fn running_info(&self) -> ConsumerRunningInfo {
        let c = &self.config;
        let heartbeat = self.heartbeat();
        let data = heartbeat.consumer_data_set.into_iter().next();
        let mut properties = BTreeMap::new();
        let mut prop = |k: &str, v: String| {
            properties.insert(k.to_string(), v);
        };
        prop("clientId", self.client.client_id.clone());
        prop("consumerGroup", c.group.clone());
        prop("instanceName", self.client.config.instance_name.clone());
        prop(
            "messageModel",
            if c.broadcasting {
                "BROADCASTING"
            } else {
                "CLUSTERING"
            }
            .into(),
        );
        prop(
            "consumeFromWhere",
            match c.consume_from {
                ConsumeFrom::LastOffset => "CONSUME_FROM_LAST_OFFSET",
                ConsumeFrom::FirstOffset => "CONSUME_FROM_FIRST_OFFSET",
            }
            .into(),
        );
        prop("consumeMessageBatchMaxSize", c.batch_max_size.to_string());
        prop("maxReconsumeTimes", c.max_reconsume_times.to_string());
        prop("pullBatchSize", c.pull_batch_size.to_string());
        prop("pullThresholdForQueue", c.max_cached_per_queue.to_string());
        prop(
            "pullThresholdSizeForQueue",
            (c.max_cached_bytes_per_queue >> 20).to_string(),
        );
        prop("PROP_CONSUME_ORDERLY", c.orderly.to_string());
        prop("PROP_CONSUME_TYPE", "CONSUME_PASSIVELY".into());
        prop("PROP_THREADPOOL_CORE_SIZE", c.thread_count.to_string());
        prop(
            "PROP_NAMESERVER_ADDR",
            self.client.config.name_servers.join(";"),
        );
        let queues: Vec<Arc<ProcessQueue>> =
            self.queues.lock().unwrap().values().cloned().collect();
        let mq_table = queues.iter().map(|pq| (pq.mq.clone(), pq.info())).collect();
        ConsumerRunningInfo {
            properties,
            subscription_set: data.map(|d| d.subscription_data_set).unwrap_or_default(),
            mq_table,
        }
    }

    fn heartbeat(&self) -> HeartbeatData {
        let now = crate::producer::now_ms();
        let subscription_data_set = self
            .subscriptions
            .iter()
            .map(|s| {
                let tags: Vec<String> = s
                    .filter
                    .expression
                    .split("||")
                    .map(str::trim)
                    .filter(|t| !t.is_empty() && *t != "*")
                    .map(str::to_string)
                    .collect();
                SubscriptionData {
                    topic: s.topic.clone(),
                    sub_string: s.filter.expression.clone(),
                    code_set: tags.iter().map(|t| java_string_hash(t)).collect(),
                    tags_set: tags,
                    sub_version: now,
                    ..SubscriptionData::default()
                }
            })
            .collect();
        HeartbeatData {
            client_id: self.client.client_id.clone(),
            consumer_data_set: vec![ConsumerData {
                group_name: self.config.group.clone(),
                consume_type: ConsumeType::ConsumePassively,
                message_model: if self.config.broadcasting {
                    MessageModel::Broadcasting
                } else {
                    MessageModel::Clustering
                },
                consume_from_where: match self.config.consume_from {
                    ConsumeFrom::LastOffset => ConsumeFromWhere::ConsumeFromLastOffset,
                    ConsumeFrom::FirstOffset => ConsumeFromWhere::ConsumeFromFirstOffset,
                },
                subscription_data_set,
                unit_mode: false,
            }],
            ..HeartbeatData::default()
        }
    }

    /// Refreshes the routes of every subscription and heartbeats to their brokers: all of
    /// them when `all`, else only those that have not acknowledged one yet.
    async fn refresh_routes_and_heartbeat(&self, all: bool) {
        for s in &self.subscriptions {
            if let Err(e) = self.client.fetch_route(&s.topic).await {
                tracing::debug!(target: LOG, topic = %s.topic, error = %e, "route lookup failed");
            }
        }
        let targets: Vec<String> = {
            let acked = self.heartbeat_acked.lock().unwrap();
            self.broker_addrs()
                .into_iter()
                .filter(|a| all || !acked.contains(a))
                .collect()
        };
        if targets.is_empty() {
            return;
        }
        let hb = self.heartbeat();
        for addr in targets {
            match self.client.send_heartbeat(&addr, &hb).await {
                Ok(()) => {
                    self.heartbeat_acked.lock().unwrap().insert(addr);
                }
                Err(e) => {
                    tracing::warn!(target: LOG, broker = %addr, error = %e, "heartbeat failed");
                    self.heartbeat_acked.lock().unwrap().remove(&addr);
                }
            }
        }
    }

    async fn heartbeat_loop(self: Arc<Self>) {
        loop {
            if self.pause(self.config.heartbeat_interval).await {
                return;
            }
            self.refresh_routes_and_heartbeat(true).await;
        }
    }

    /// Rebalances at start, every `rebalance_interval`, and when the broker says the group
    /// changed. While some subscription cannot be rebalanced (its topic does not exist yet,
    /// no consumer list), the next attempt comes sooner: 0.5 s, doubling up to the interval,
    /// so that a consumer started before its topic's first message starts promptly.
    async fn rebalance_loop(self: Arc<Self>) {
        let mut retry_pause = Duration::from_millis(500);
        loop {
            self.refresh_routes_and_heartbeat(false).await;
            let complete = self.rebalance().await;
            let mut stop = self.stop.subscribe();
            if *stop.borrow() {
                return;
            }
            let pause = if complete {
                retry_pause = Duration::from_millis(500);
                self.config.rebalance_interval
            } else {
                let pause = retry_pause.min(self.config.rebalance_interval);
                retry_pause = (retry_pause * 2).min(self.config.rebalance_interval);
                pause
            };
            tokio::select! {
                _ = tokio::time::sleep(pause) => {}
                _ = self.rebalance_now.notified() => {}
                _ = stop.changed() => return,
            }
        }
    }

    /// Rebalances every subscription; false when some could not be (no route, no list).
    async fn rebalance(self: &Arc<Self>) -> bool {
        let mut complete = true;
        for sub in &self.subscriptions {
            let route = match self.client.fetch_route(&sub.topic).await {
                Ok(r) => r,
                Err(e) => {
                    tracing::debug!(target: LOG, topic = %sub.topic, error = %e, "no route; skipping rebalance");
                    complete = false;
                    continue;
                }
            };
            let mine: Vec<MessageQueue> = if self.config.broadcasting {
                route.subscribe.clone()
            } else {
                let Some(addr) = route.masters.values().next().cloned() else {
                    complete = false;
                    continue;
                };
                match self.client.consumer_ids(&addr, &self.config.group).await {
                    Ok(ids) => {
                        allocate_averagely(&route.subscribe, &ids, &self.client.client_id).to_vec()
                    }
                    Err(e) => {
                        tracing::debug!(target: LOG, group = %self.config.group, error = %e, "consumer list unavailable");
                        complete = false;
                        continue;
                    }
                }
            };
            self.update_queues(sub, mine).await;
        }
        complete
    }

    async fn update_queues(self: &Arc<Self>, sub: &Subscription, mine: Vec<MessageQueue>) {
        let mine: BTreeSet<MessageQueue> = mine.into_iter().collect();
        let (removed, added) = {
            let mut queues = self.queues.lock().unwrap();
            let removed: Vec<Arc<ProcessQueue>> = queues
                .iter()
                .filter(|(mq, _)| mq.topic == sub.topic && !mine.contains(mq))
                .map(|(_, pq)| pq.clone())
                .collect();
            for pq in &removed {
                pq.dropped.store(true, Ordering::Release);
                pq.space.notify_waiters();
                queues.remove(&pq.mq);
            }
            let mut added = Vec::new();
            for mq in &mine {
                if !queues.contains_key(mq) {
                    let pq = ProcessQueue::new(mq.clone());
                    queues.insert(mq.clone(), pq.clone());
                    added.push(pq);
                }
            }
            (removed, added)
        };
        if !removed.is_empty() {
            self.persist_offsets(&removed).await;
            if self.config.orderly {
                self.unlock_all(&removed).await;
            }
        }
        for pq in &removed {
            tracing::debug!(target: LOG, group = %self.config.group, queue = ?pq.mq, "queue released");
        }
        for pq in added {
            tracing::debug!(target: LOG, group = %self.config.group, queue = ?pq.mq, "queue assigned");
            let inner = self.clone();
            let filter = sub.filter.clone();
            self.runtime
                .spawn(async move { inner.pull_loop(pq, filter).await });
        }
    }

    async fn initial_offset(&self, mq: &MessageQueue) -> Result<i64> {
        if self.config.broadcasting {
            if let Some(o) = self.offsets.load_local().get(&OffsetStore::key(mq)) {
                return Ok(*o);
            }
        } else if let Some(o) = self
            .client
            .query_consumer_offset(&self.config.group, mq)
            .await?
        {
            return Ok(o);
        }
        match self.config.consume_from {
            ConsumeFrom::FirstOffset => Ok(0),
            ConsumeFrom::LastOffset if mq.topic.starts_with("%RETRY%") => Ok(0),
            ConsumeFrom::LastOffset => self.client.max_offset(mq).await,
        }
    }

    async fn lock_queue(&self, mq: &MessageQueue) -> bool {
        let Some(addr) = self.client.broker_addr(&mq.broker_name) else {
            return false;
        };
        match self
            .client
            .lock_queues(&addr, &self.config.group, BTreeSet::from([mq.clone()]))
            .await
        {
            Ok(locked) => {
                tracing::debug!(target: LOG, queue = ?mq, granted = locked.contains(mq), "lock requested");
                locked.contains(mq)
            }
            Err(e) => {
                tracing::debug!(target: LOG, queue = ?mq, error = %e, "lock failed");
                false
            }
        }
    }

    async fn pull_loop(self: Arc<Self>, pq: Arc<ProcessQueue>, filter: TagFilter) {
        let mq = pq.mq.clone();
        let mut offset = loop {
            if pq.dropped.load(Ordering::Acquire) || self.stopping() {
                return;
            }
            match self.initial_offset(&mq).await {
                Ok(o) => break o,
                Err(e) => {
                    tracing::debug!(target: LOG, queue = ?mq, error = %e, "initial offset unavailable");
                    if self.pause(self.config.pull_error_backoff).await {
                        return;
                    }
                }
            }
        };
        {
            let mut p = pq.progress.lock().unwrap();
            p.next_offset = offset;
            p.started = true;
        }
        tracing::debug!(target: LOG, queue = ?mq, offset, "pulling from");
        if self.config.orderly {
            while !self.lock_queue(&mq).await {
                if pq.dropped.load(Ordering::Acquire)
                    || self.pause(self.config.orderly_retry_pause).await
                {
                    return;
                }
            }
        }
        let mut stop = self.stop.subscribe();
        loop {
            if pq.dropped.load(Ordering::Acquire) || self.stopping() {
                return;
            }
            // Flow control: wait while too many messages or bytes of this queue are
            // unacknowledged.
            while pq.over_limits(
                self.config.max_cached_per_queue,
                self.config.max_cached_bytes_per_queue,
            ) {
                if pq.dropped.load(Ordering::Acquire) || self.stopping() {
                    return;
                }
                let _ = tokio::time::timeout(Duration::from_millis(100), pq.space.notified()).await;
            }
            let req = PullRequest {
                group: self.config.group.clone(),
                queue: mq.clone(),
                offset,
                max_msgs: self.config.pull_batch_size,
                filter: filter.clone(),
                suspend: Some(self.config.long_poll),
                // Clustering: every pull tells the broker how far this member got (the first
                // unacknowledged offset), as the Java client does, so a member that takes the
                // queue over resumes there instead of at the last periodic commit.
                commit_offset: if self.config.broadcasting {
                    None
                } else {
                    pq.commit_offset()
                },
            };
            let result = tokio::select! {
                r = self.client.pull(&req) => r,
                _ = stop.changed() => return,
            };
            // A queue handed to another member while this pull was held must not deliver
            // what it brought back: the new owner reads it from the committed offset.
            if pq.dropped.load(Ordering::Acquire) {
                return;
            }
            let r = match result {
                Ok(r) => r,
                Err(e) => {
                    tracing::debug!(target: LOG, queue = ?mq, error = %e, "pull failed");
                    if self.pause(self.config.pull_error_backoff).await {
                        return;
                    }
                    continue;
                }
            };
            match r.status {
                PullStatus::Found => {
                    offset = r.next_begin_offset;
                    pq.pulled(&r.messages, offset);
                    if r.messages.is_empty() {
                        continue;
                    }
                    if self.config.orderly {
                        if !self.consume_orderly(&pq, r.messages).await {
                            return;
                        }
                    } else {
                        self.dispatch_concurrently(&pq, r.messages);
                    }
                }
                PullStatus::NoNewMsg | PullStatus::NoMatchedMsg | PullStatus::OffsetIllegal => {
                    offset = r.next_begin_offset;
                    pq.pulled(&[], offset);
                }
            }
        }
    }

    /// Sends one batch to the dispatchers and waits for the listener's verdict.
    async fn run_listener(&self, batch: ConsumeBatch) -> Option<ConsumeBatch> {
        let reply = self.submit(batch)?;
        self.verdict(reply).await
    }

    /// Queues one batch for the dispatchers. `None` when the consumer is stopping.
    fn submit(&self, batch: ConsumeBatch) -> Option<oneshot::Receiver<ConsumeBatch>> {
        let (tx, rx) = oneshot::channel();
        let sender = self.tasks.lock().unwrap().clone()?;
        self.in_flight_tasks.fetch_add(1, Ordering::AcqRel);
        if sender.send(ConsumeTask { batch, done: tx }).is_err() {
            self.task_done();
            return None;
        }
        Some(rx)
    }

    /// The listener's verdict on a submitted batch (`None`: the dispatchers stopped).
    async fn verdict(&self, reply: oneshot::Receiver<ConsumeBatch>) -> Option<ConsumeBatch> {
        let result = reply.await.ok();
        self.task_done();
        result
    }

    fn task_done(&self) {
        if self.in_flight_tasks.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.drained.notify_waiters();
        }
    }

    /// One task per pull result, not per batch: spawning and scheduling a task per message
    /// was a tenth of the consumer's CPU with single-message batches.
    fn dispatch_concurrently(self: &Arc<Self>, pq: &Arc<ProcessQueue>, messages: Vec<MessageExt>) {
        let messages = messages.into_iter().map(Arc::new).collect();
        let inner = self.clone();
        let pq = pq.clone();
        self.runtime
            .spawn(async move { inner.consume_concurrently(pq, messages).await });
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
                match self.submit(batch) {
                    Some(reply) => replies.push(reply),
                    // Stopping: what was not queued stays unacknowledged (redelivered later).
                    None => break,
                }
            }
            let mut retry_locally = Vec::new();
            for reply in replies {
                let Some(batch) = self.verdict(reply).await else {
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

    /// Consumes messages of an orderly queue one at a time; a failure pauses and retries the
    /// same message. Returns false when the consumer stops or drops the queue.
    async fn consume_orderly(&self, pq: &Arc<ProcessQueue>, messages: Vec<MessageExt>) -> bool {
        for m in messages {
            let mut m = Arc::new(m);
            loop {
                if pq.dropped.load(Ordering::Acquire) || self.stopping() {
                    return false;
                }
                let batch = ConsumeBatch {
                    queue: pq.mq.clone(),
                    messages: vec![m],
                    status: ConsumeStatus::NotRun,
                };
                let Some(mut batch) = self.run_listener(batch).await else {
                    return false;
                };
                m = batch.messages.pop().expect("the batch holds the message");
                match batch.status {
                    ConsumeStatus::Success => {
                        pq.acked(std::iter::once(m.queue_offset));
                        break;
                    }
                    ConsumeStatus::NotRun => return false,
                    ConsumeStatus::ReconsumeLater => {
                        // Copies the message only if the listener kept the previous delivery.
                        Arc::make_mut(&mut m).reconsume_times += 1;
                        if self.pause(self.config.orderly_retry_pause).await {
                            return false;
                        }
                    }
                }
            }
        }
        true
    }

    async fn persist_loop(self: Arc<Self>) {
        loop {
            if self.pause(self.config.persist_interval).await {
                return;
            }
            let queues: Vec<Arc<ProcessQueue>> =
                self.queues.lock().unwrap().values().cloned().collect();
            self.persist_offsets(&queues).await;
        }
    }

    async fn persist_offsets(&self, queues: &[Arc<ProcessQueue>]) {
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

    async fn lock_renew_loop(self: Arc<Self>) {
        loop {
            if self.pause(Duration::from_secs(20)).await {
                return;
            }
            let queues: Vec<MessageQueue> = self.queues.lock().unwrap().keys().cloned().collect();
            let mut by_broker: BTreeMap<String, BTreeSet<MessageQueue>> = BTreeMap::new();
            for mq in queues {
                by_broker
                    .entry(mq.broker_name.clone())
                    .or_default()
                    .insert(mq);
            }
            for (broker, set) in by_broker {
                if let Some(addr) = self.client.broker_addr(&broker) {
                    let _ = self
                        .client
                        .lock_queues(&addr, &self.config.group, set)
                        .await;
                }
            }
        }
    }

    async fn unlock_all(&self, queues: &[Arc<ProcessQueue>]) {
        let mut by_broker: BTreeMap<String, BTreeSet<MessageQueue>> = BTreeMap::new();
        for pq in queues {
            by_broker
                .entry(pq.mq.broker_name.clone())
                .or_default()
                .insert(pq.mq.clone());
        }
        for (broker, set) in by_broker {
            if let Some(addr) = self.client.broker_addr(&broker) {
                let _ = self
                    .client
                    .unlock_queues(&addr, &self.config.group, set)
                    .await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Idle;
    impl MessageListener for Idle {
        fn consume(&self, batches: &mut [ConsumeBatch]) {
            for b in batches {
                b.status = ConsumeStatus::Success;
            }
        }
    }

    fn queue(id: i32) -> MessageQueue {
        MessageQueue {
            topic: "T".into(),
            broker_name: "b".into(),
            queue_id: id,
        }
    }

    #[test]
    fn the_handler_answers_running_info_with_the_queues_in_flight() {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let consumer = PushConsumer::start(
            rt.handle().clone(),
            crate::instance::ClientConfig {
                // Nothing listens there: the consumer retries in the background, which
                // this test does not need.
                name_servers: vec!["127.0.0.1:1".into()],
                ..crate::instance::ClientConfig::default()
            },
            PushConsumerConfig {
                group: "G_INFO".into(),
                orderly: true,
                max_cached_bytes_per_queue: 3 << 20,
                local_offset_dir: dir.path().to_path_buf(),
                ..PushConsumerConfig::default()
            },
            vec![Subscription {
                topic: "T".into(),
                filter: TagFilter::parse("A || B"),
            }],
            Arc::new(Idle),
        )
        .expect("consumer starts");
        // An owned queue with two messages in flight (2 MiB + 1 byte) and the next pull at 12.
        let pq = ProcessQueue::new(queue(0));
        {
            let mut p = pq.progress.lock().unwrap();
            p.in_flight.insert(10, 2 << 20);
            p.in_flight.insert(11, 1);
            p.in_flight_bytes = (2 << 20) + 1;
            p.next_offset = 12;
            p.started = true;
        }
        consumer
            .inner
            .queues
            .lock()
            .unwrap()
            .insert(queue(0), pq.clone());
        let handler = ConsumerRequestHandler {
            rebalance_now: Arc::new(Notify::new()),
            inner: std::sync::OnceLock::new(),
        };
        let mut request = RemotingCommand::new_request(request_code::GET_CONSUMER_RUNNING_INFO);
        request
            .ext_fields
            .insert("consumerGroup".into(), "G_INFO".into());
        // Before the consumer is attached there is nothing to report.
        let resp = handler.handle("b", request.clone()).expect("an answer");
        assert_eq!(
            resp.code,
            rocketmq_protocol::code::response_code::SYSTEM_ERROR
        );
        let _ = handler.inner.set(Arc::downgrade(&consumer.inner));

        let resp = handler.handle("b", request.clone()).expect("an answer");
        assert_eq!(resp.code, rocketmq_protocol::code::response_code::SUCCESS);
        let body = String::from_utf8(resp.body.to_vec()).unwrap();
        assert!(
            body.contains(concat!(
                r#"{"brokerName":"b","queueId":0,"topic":"T"}:{"cachedMsgCount":2,"#,
                r#""cachedMsgMaxOffset":11,"cachedMsgMinOffset":10,"cachedMsgSizeInMiB":2,"#,
                r#""commitOffset":10,"droped":false}"#
            )),
            "{body}"
        );
        // The rest is plain JSON once the object-keyed table is taken out.
        let rest = format!("{{{}", &body[body.find("\"properties\"").unwrap()..]);
        let v: serde_json::Value = serde_json::from_str(&rest).unwrap();
        let props = &v["properties"];
        assert_eq!(props["consumerGroup"], "G_INFO");
        assert_eq!(props["clientId"], consumer.client_id());
        assert_eq!(props["messageModel"], "CLUSTERING");
        assert_eq!(props["consumeFromWhere"], "CONSUME_FROM_LAST_OFFSET");
        assert_eq!(props["PROP_CONSUME_TYPE"], "CONSUME_PASSIVELY");
        assert_eq!(props["PROP_CONSUME_ORDERLY"], "true");
        assert_eq!(props["pullThresholdSizeForQueue"], "3");
        let topics: Vec<&str> = v["subscriptionSet"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["topic"].as_str().unwrap())
            .collect();
        assert_eq!(topics, ["T", "%RETRY%G_INFO"]);
        assert_eq!(
            v["subscriptionSet"][0]["tagsSet"],
            serde_json::json!(["A", "B"])
        );

        // The whole answer, byte for byte; only the client id and the subscription versions
        // (a timestamp taken when the answer is built) vary from run to run.
        let sub_version = v["subscriptionSet"][0]["subVersion"].as_i64().unwrap();
        assert_eq!(
            v["subscriptionSet"][1]["subVersion"].as_i64(),
            Some(sub_version)
        );
        let expected = format!(
            concat!(
                r#"{{"mqTable":{{{{"brokerName":"b","queueId":0,"topic":"T"}}:"#,
                r#"{{"cachedMsgCount":2,"cachedMsgMaxOffset":11,"cachedMsgMinOffset":10,"#,
                r#""cachedMsgSizeInMiB":2,"commitOffset":10,"droped":false}}}},"#,
                r#""properties":{{"PROP_CONSUME_ORDERLY":"true","#,
                r#""PROP_CONSUME_TYPE":"CONSUME_PASSIVELY","#,
                r#""PROP_NAMESERVER_ADDR":"127.0.0.1:1","PROP_THREADPOOL_CORE_SIZE":"4","#,
                r#""clientId":"{client_id}","consumeFromWhere":"CONSUME_FROM_LAST_OFFSET","#,
                r#""consumeMessageBatchMaxSize":"1","consumerGroup":"G_INFO","#,
                r#""instanceName":"DEFAULT","maxReconsumeTimes":"16","#,
                r#""messageModel":"CLUSTERING","pullBatchSize":"32","#,
                r#""pullThresholdForQueue":"1000","pullThresholdSizeForQueue":"3"}},"#,
                r#""statusTable":{{}},"subscriptionSet":["#,
                r#"{{"classFilterMode":false,"codeSet":[65,66],"expressionType":"TAG","#,
                r#""subString":"A || B","subVersion":{sub_version},"tagsSet":["A","B"],"#,
                r#""topic":"T"}},"#,
                r#"{{"classFilterMode":false,"codeSet":[],"expressionType":"TAG","#,
                r#""subString":"*","subVersion":{sub_version},"tagsSet":[],"#,
                r#""topic":"%RETRY%G_INFO"}}]}}"#
            ),
            client_id = consumer.client_id(),
            sub_version = sub_version,
        );
        assert_eq!(body, expected);

        // Acknowledging one message moves the committed position in the answer.
        pq.acked(std::iter::once(10));
        let body = String::from_utf8(handler.handle("b", request).unwrap().body.to_vec()).unwrap();
        assert!(body.contains(r#"{"cachedMsgCount":1,"cachedMsgMaxOffset":11,"cachedMsgMinOffset":11,"cachedMsgSizeInMiB":0,"commitOffset":11,"#), "{body}");

        // Another group is not this consumer's to answer.
        let mut other = RemotingCommand::new_request(request_code::GET_CONSUMER_RUNNING_INFO);
        other
            .ext_fields
            .insert("consumerGroup".into(), "OTHER".into());
        let resp = handler.handle("b", other).unwrap();
        assert_eq!(
            resp.code,
            rocketmq_protocol::code::response_code::SYSTEM_ERROR
        );
        consumer.shutdown(Duration::from_secs(1));
    }
}
