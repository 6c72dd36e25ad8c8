//! The producer: picks a queue, sends, retries on another broker after a failure.
//!
//! Queue choice is round robin over the topic's writable queues, except for a single message
//! of a FIFO message group (property `__SHARDINGKEY`, set and not empty): it goes to the queue
//! Apache's proxy picks for that group
//! ([`rocketmq_protocol::message_group::message_group_queue`]), and its retries stay on that
//! queue, so a group's messages share one queue and keep their order. After a failed attempt the
//! next attempt avoids the broker that failed when another broker has queues; a broker that
//! could not be reached (connect failure, timeout, closed connection) is also avoided by
//! later sends for `fault_isolation`, unless no other broker has queues. Bodies larger
//! than `compress_over` are zlib-compressed and flagged (never for batches, as the Java
//! client does). Each message gets a `UNIQ_KEY` id before the first attempt, so that retries
//! of one send carry the same id.
//!
//! Every producer heartbeats its group (`producerDataSet`) to each broker before its first
//! send there and every `heartbeat_interval` to every broker it knows, so that a broker can
//! find a live connection of the group for transaction check-backs; [`Producer::shutdown`]
//! unregisters the group from those brokers.

use crate::error::{ClientError, Result};
use crate::instance::{ClientInstance, AUTO_CREATE_TOPIC, DEFAULT_TOPIC_QUEUE_NUMS};
use crate::message::Message;
use crate::route::MessageQueue;
use bytes::Bytes;
use rocketmq_protocol::body::heartbeat::{HeartbeatData, ProducerData};
use rocketmq_protocol::code::{request_code, response_code};
use rocketmq_protocol::header::{
    SendMessageRequestHeader, SendMessageRequestHeaderV2, SendMessageResponseHeader,
};
use rocketmq_protocol::now_millis;
use rocketmq_protocol::properties as prop;
use rocketmq_protocol::{batch, compression, message_id, sysflag};
use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Log target: a child of the `rocketmq` logger once bridged to Python `logging`.
const LOG: &str = "rocketmq.client.producer";

#[derive(Clone, Debug)]
pub struct ProducerConfig {
    pub group: String,
    pub send_timeout: Duration,
    /// Extra attempts after the first failed one (not for oneway or orderly sends).
    pub retry_times: u32,
    /// Bodies larger than this are compressed.
    pub compress_over: usize,
    /// zlib level 0..9.
    pub compress_level: u32,
    pub max_message_size: usize,
    /// How long later sends avoid a broker that could not be reached.
    pub fault_isolation: Duration,
    /// How often the group is heartbeated to every known broker.
    pub heartbeat_interval: Duration,
}

impl Default for ProducerConfig {
    fn default() -> Self {
        ProducerConfig {
            group: "DEFAULT_PRODUCER".into(),
            send_timeout: Duration::from_secs(3),
            retry_times: 2,
            compress_over: 4096,
            compress_level: 5,
            max_message_size: 4 * 1024 * 1024,
            fault_isolation: Duration::from_secs(30),
            heartbeat_interval: Duration::from_secs(30),
        }
    }
}

/// Whether the broker stored the message, and how durably.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SendStatus {
    Ok = 0,
    FlushDiskTimeout = 1,
    FlushSlaveTimeout = 2,
    SlaveNotAvailable = 3,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SendResult {
    pub status: SendStatus,
    /// Client id (`UNIQ_KEY`); comma-joined for a batch.
    pub msg_id: String,
    /// Broker offset id; comma-joined for a batch.
    pub offset_msg_id: String,
    pub queue: MessageQueue,
    /// Logical offset in the queue (of the first message of a batch).
    pub queue_offset: i64,
    /// Of a timer message: what [`Producer::recall`] takes to cancel it before its time.
    pub recall_handle: Option<String>,
}

pub struct Producer {
    pub client: Arc<ClientInstance>,
    pub config: ProducerConfig,
    next_queue: AtomicUsize,
    /// Broker name -> until when sends avoid it (it could not be reached).
    isolated: Mutex<HashMap<String, Instant>>,
    /// Broker addresses that acknowledged a heartbeat of this producer's group.
    heartbeat_acked: Arc<Mutex<BTreeSet<String>>>,
    /// The periodic heartbeat task, aborted at shutdown or drop.
    heartbeat_task: Mutex<Option<tokio::task::JoinHandle<()>>>,
    shut_down: AtomicBool,
}

impl Drop for Producer {
    fn drop(&mut self) {
        if let Some(t) = self.heartbeat_task.lock().unwrap().take() {
            t.abort();
        }
    }
}

/// A message encoded for the wire: what every attempt of one send reuses.
pub(crate) struct Prepared {
    topic: String,
    body: Bytes,
    properties: String,
    sys_flag: i32,
    flag: i32,
    batch: bool,
    msg_id: String,
    /// The FIFO message group of a single message (`__SHARDINGKEY`), if any.
    message_group: Option<String>,
}

impl Producer {
    /// A producer over `client`. Created inside a tokio runtime, it starts the client's
    /// maintenance task (route refresh) there; otherwise the owner calls
    /// [`ClientInstance::start_maintenance`].
    pub fn new(client: Arc<ClientInstance>, config: ProducerConfig) -> Producer {
        let producer = Producer {
            client,
            config,
            next_queue: AtomicUsize::new(rand::random::<u32>() as usize),
            isolated: Mutex::new(HashMap::new()),
            heartbeat_acked: Arc::new(Mutex::new(BTreeSet::new())),
            heartbeat_task: Mutex::new(None),
            shut_down: AtomicBool::new(false),
        };
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            producer.client.start_maintenance(&handle);
            producer.start_heartbeats(&handle);
        }
        producer
    }

    /// Starts the periodic heartbeat of this producer's group on `runtime` (done by
    /// [`Producer::new`] when it runs inside a runtime). Calling it again does nothing.
    pub fn start_heartbeats(&self, runtime: &tokio::runtime::Handle) {
        let mut task = self.heartbeat_task.lock().unwrap();
        if task.is_some() || self.shut_down.load(Ordering::SeqCst) {
            return;
        }
        let client = self.client.clone();
        let acked = self.heartbeat_acked.clone();
        let group = self.config.group.clone();
        let every = self
            .config
            .heartbeat_interval
            .max(Duration::from_millis(10));
        *task = Some(runtime.spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                if client.is_shut_down() {
                    return;
                }
                for addr in client.all_broker_addrs() {
                    heartbeat_to(&client, &group, &acked, &addr).await;
                }
            }
        }));
    }

    /// Heartbeats the group to `addr` unless that broker already acknowledged one.
    async fn ensure_heartbeat(&self, addr: &str) {
        if self.heartbeat_acked.lock().unwrap().contains(addr) {
            return;
        }
        heartbeat_to(
            &self.client,
            &self.config.group,
            &self.heartbeat_acked,
            addr,
        )
        .await;
    }

    /// Brokers that acknowledged a heartbeat of this producer's group, sorted.
    pub fn heartbeat_brokers(&self) -> Vec<String> {
        self.heartbeat_acked
            .lock()
            .unwrap()
            .iter()
            .cloned()
            .collect()
    }

    /// Stops the heartbeat, unregisters the group from every broker that knew it (each
    /// bounded by the request timeout; failures are logged), then closes the client's
    /// connections. Idempotent.
    pub async fn shutdown(&self) {
        if self.shut_down.swap(true, Ordering::SeqCst) {
            return;
        }
        if let Some(t) = self.heartbeat_task.lock().unwrap().take() {
            t.abort();
        }
        let brokers: Vec<String> = std::mem::take(&mut *self.heartbeat_acked.lock().unwrap())
            .into_iter()
            .collect();
        for addr in brokers {
            if let Err(e) = self
                .client
                .unregister(&addr, Some(&self.config.group), None)
                .await
            {
                tracing::debug!(target: LOG, broker = %addr, error = %e, "unregistering the producer failed");
            }
        }
        self.client.shutdown();
    }

    /// Brokers that sends avoid now because they could not be reached recently.
    pub fn isolated_brokers(&self) -> Vec<String> {
        let now = Instant::now();
        let mut v: Vec<String> = self
            .isolated
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, until)| **until > now)
            .map(|(b, _)| b.clone())
            .collect();
        v.sort();
        v
    }

    fn isolate(&self, broker_name: &str) {
        if self.config.fault_isolation.is_zero() {
            return;
        }
        let until = Instant::now() + self.config.fault_isolation;
        self.isolated
            .lock()
            .unwrap()
            .insert(broker_name.to_string(), until);
    }

    fn check_topic(topic: &str) -> Result<()> {
        if topic.is_empty() {
            return Err(ClientError::IllegalArgument("the topic is empty".into()));
        }
        if topic.len() > 127 {
            return Err(ClientError::IllegalArgument(format!(
                "the topic is {} bytes long; at most 127 are allowed",
                topic.len()
            )));
        }
        if !topic
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'%' || b == b'|')
        {
            return Err(ClientError::IllegalArgument(format!(
                "the topic {topic:?} contains characters other than letters, digits, '%', '|', '_' and '-'"
            )));
        }
        Ok(())
    }

    pub(crate) fn prepare(&self, msg: &Message) -> Result<Prepared> {
        Self::check_topic(&msg.topic)?;
        if msg.body.is_empty() {
            return Err(ClientError::IllegalArgument(
                "the message body is empty".into(),
            ));
        }
        if msg.body.len() > self.config.max_message_size {
            return Err(ClientError::IllegalArgument(format!(
                "the message body is {} bytes; the maximum is {} (set_max_message_size)",
                msg.body.len(),
                self.config.max_message_size
            )));
        }
        let mut properties = msg.properties.clone();
        let msg_id = properties
            .entry(prop::UNIQ_KEY.to_string())
            .or_insert_with(|| message_id::global_uniq_id_generator().next_id())
            .clone();
        // A half message of a transaction (spec 5.5) is flagged by its TRAN_MSG property.
        let mut sys_flag = if msg.properties.get(prop::TRAN_MSG).map(String::as_str) == Some("true")
        {
            sysflag::TRANSACTION_PREPARED_TYPE
        } else {
            0
        };
        let mut body = msg.body.clone();
        if body.len() > self.config.compress_over {
            let packed = compression::deflate(&body, self.config.compress_level);
            if packed.len() < body.len() {
                body = Bytes::from(packed);
                sys_flag |= sysflag::COMPRESSED_FLAG
                    | (sysflag::COMPRESSION_ZLIB << sysflag::COMPRESSION_TYPE_SHIFT);
            }
        }
        Ok(Prepared {
            topic: msg.topic.clone(),
            body,
            properties: prop::encode_properties(properties.iter()),
            sys_flag,
            flag: msg.flag,
            batch: false,
            msg_id,
            message_group: msg
                .properties
                .get(rocketmq_protocol::message_group::SHARDING_KEY)
                .filter(|g| !g.is_empty())
                .cloned(),
        })
    }

    fn prepare_batch(&self, msgs: &[Message]) -> Result<Prepared> {
        let first = msgs.first().ok_or_else(|| {
            ClientError::IllegalArgument("a batch needs at least one message".into())
        })?;
        Self::check_topic(&first.topic)?;
        let mut entries = Vec::with_capacity(msgs.len());
        let mut ids = Vec::with_capacity(msgs.len());
        for m in msgs {
            if m.topic != first.topic {
                return Err(ClientError::IllegalArgument(format!(
                    "every message of a batch must have the same topic ({:?} and {:?} differ)",
                    first.topic, m.topic
                )));
            }
            if m.properties.contains_key(prop::DELAY) {
                return Err(ClientError::IllegalArgument(
                    "delayed messages cannot be sent in a batch".into(),
                ));
            }
            if m.body.is_empty() {
                return Err(ClientError::IllegalArgument(
                    "a message body in the batch is empty".into(),
                ));
            }
            let mut properties = m.properties.clone();
            let id = properties
                .entry(prop::UNIQ_KEY.to_string())
                .or_insert_with(|| message_id::global_uniq_id_generator().next_id())
                .clone();
            ids.push(id);
            entries.push(batch::BatchEntry {
                flag: m.flag,
                body: m.body.clone(),
                properties: prop::encode_properties(properties.iter()),
            });
        }
        let body = batch::encode_batch(&entries)
            .map_err(|e| ClientError::IllegalArgument(format!("cannot encode the batch: {e}")))?;
        if body.len() > self.config.max_message_size {
            return Err(ClientError::IllegalArgument(format!(
                "the batch is {} bytes; the maximum is {}",
                body.len(),
                self.config.max_message_size
            )));
        }
        Ok(Prepared {
            topic: first.topic.clone(),
            body,
            properties: String::new(),
            sys_flag: 0,
            flag: 0,
            batch: true,
            msg_id: ids.join(","),
            // Apache's proxy uses a message group for single messages only.
            message_group: None,
        })
    }

    /// The SEND_MESSAGE_V2 / SEND_BATCH_MESSAGE request of `p` to `mq`, with the header
    /// fields a Java 5.x producer sets (`n` is the queue's broker name).
    fn request(&self, p: &Prepared, mq: &MessageQueue) -> rocketmq_protocol::RemotingCommand {
        let v1 = SendMessageRequestHeader {
            producer_group: self.config.group.clone(),
            topic: p.topic.clone(),
            default_topic: AUTO_CREATE_TOPIC.to_string(),
            default_topic_queue_nums: DEFAULT_TOPIC_QUEUE_NUMS,
            queue_id: mq.queue_id,
            sys_flag: p.sys_flag,
            born_timestamp: now_millis(),
            flag: p.flag,
            properties: Some(p.properties.clone()),
            reconsume_times: Some(0),
            unit_mode: Some(false),
            max_reconsume_times: None,
            batch: Some(p.batch),
            broker_name: Some(mq.broker_name.clone()),
        };
        let code = if p.batch {
            request_code::SEND_BATCH_MESSAGE
        } else {
            request_code::SEND_MESSAGE_V2
        };
        ClientInstance::request(code)
            .with_header(&SendMessageRequestHeaderV2::from(v1))
            .with_body(p.body.clone())
    }

    async fn send_to(&self, p: &Prepared, mq: &MessageQueue) -> Result<SendResult> {
        let addr =
            self.client
                .broker_addr(&mq.broker_name)
                .ok_or_else(|| ClientError::NoRoute {
                    topic: mq.topic.clone(),
                    name_servers: self.client.name_servers(),
                    cause: format!("no address for broker {}", mq.broker_name),
                })?;
        self.ensure_heartbeat(&addr).await;
        let req = self.request(p, mq);
        let resp = self
            .client
            .pool
            .invoke(&addr, req, self.config.send_timeout)
            .await?;
        let status = match resp.code {
            response_code::SUCCESS => SendStatus::Ok,
            response_code::FLUSH_DISK_TIMEOUT => SendStatus::FlushDiskTimeout,
            response_code::FLUSH_SLAVE_TIMEOUT => SendStatus::FlushSlaveTimeout,
            response_code::SLAVE_NOT_AVAILABLE => SendStatus::SlaveNotAvailable,
            code => {
                return Err(ClientError::Remote {
                    addr,
                    code,
                    remark: resp.remark.unwrap_or_default(),
                })
            }
        };
        let header: SendMessageResponseHeader = resp
            .decode_header()
            .map_err(|e| ClientError::Protocol(format!("send response from {addr}: {e}")))?;
        Ok(SendResult {
            status,
            msg_id: p.msg_id.clone(),
            offset_msg_id: header.msg_id,
            queue: MessageQueue {
                topic: mq.topic.clone(),
                broker_name: mq.broker_name.clone(),
                queue_id: header.queue_id,
            },
            queue_offset: header.queue_offset,
            recall_handle: header.recall_handle.filter(|h| !h.is_empty()),
        })
    }

    /// The queue of a message: its message group's queue, else the next one round robin
    /// (see [`Producer::pick`]).
    fn queue_for(
        &self,
        p: &Prepared,
        queues: &[MessageQueue],
        avoid: Option<&str>,
    ) -> MessageQueue {
        if let Some(group) = &p.message_group {
            let keys: Vec<(&str, i32)> = queues
                .iter()
                .map(|q| (q.broker_name.as_str(), q.queue_id))
                .collect();
            if let Some((broker, queue_id)) =
                rocketmq_protocol::message_group::message_group_queue(group, &keys)
            {
                if let Some(q) = queues
                    .iter()
                    .find(|q| q.broker_name == broker && q.queue_id == queue_id)
                {
                    return q.clone();
                }
            }
        }
        self.pick(queues, avoid)
    }

    /// Picks the next queue round robin, avoiding `avoid` and isolated brokers when another
    /// broker has queues (isolation gives way first, then `avoid`).
    fn pick(&self, queues: &[MessageQueue], avoid: Option<&str>) -> MessageQueue {
        let n = queues.len();
        let isolated: Vec<String> = {
            let now = Instant::now();
            let mut map = self.isolated.lock().unwrap();
            map.retain(|_, until| *until > now);
            map.keys().cloned().collect()
        };
        let usable = |q: &MessageQueue, check_isolation: bool| {
            Some(q.broker_name.as_str()) != avoid
                && !(check_isolation && isolated.contains(&q.broker_name))
        };
        for check_isolation in [true, false] {
            if !check_isolation && isolated.is_empty() {
                break;
            }
            for _ in 0..n {
                let i = self.next_queue.fetch_add(1, Ordering::Relaxed) % n;
                if usable(&queues[i], check_isolation) {
                    return queues[i].clone();
                }
            }
        }
        queues[self.next_queue.fetch_add(1, Ordering::Relaxed) % n].clone()
    }

    pub(crate) async fn send_prepared(&self, p: &Prepared) -> Result<SendResult> {
        let mut last_err = None;
        let mut avoid: Option<String> = None;
        for _attempt in 0..=self.config.retry_times {
            let route = match self.client.publish_route(&p.topic).await {
                Ok(r) => r,
                Err(e) => {
                    last_err = Some(e);
                    continue;
                }
            };
            if route.publish.is_empty() {
                last_err = Some(ClientError::NoRoute {
                    topic: p.topic.clone(),
                    name_servers: self.client.name_servers(),
                    cause: "the route has no writable queue".into(),
                });
                continue;
            }
            let mq = self.queue_for(p, &route.publish, avoid.as_deref());
            match self.send_to(p, &mq).await {
                Ok(r) => return Ok(r),
                Err(e) => {
                    tracing::debug!(target: LOG, topic = %p.topic, broker = %mq.broker_name, error = %e, "send attempt failed");
                    // A broker that refused the message for a reason of its own (illegal
                    // message, no permission) would refuse it again anywhere.
                    if let ClientError::Remote { code, .. } = &e {
                        if *code == response_code::MESSAGE_ILLEGAL
                            || *code == response_code::NO_PERMISSION
                        {
                            return Err(e);
                        }
                    }
                    if matches!(
                        e,
                        ClientError::Connect { .. }
                            | ClientError::Timeout { .. }
                            | ClientError::ConnectionClosed { .. }
                    ) {
                        self.isolate(&mq.broker_name);
                    }
                    avoid = Some(mq.broker_name.clone());
                    last_err = Some(e);
                }
            }
        }
        Err(last_err.unwrap_or(ClientError::ShutDown))
    }

    /// Sends one message and waits for the broker's answer.
    pub async fn send(&self, msg: &Message) -> Result<SendResult> {
        let p = self.prepare(msg)?;
        self.send_prepared(&p).await
    }

    /// Sends messages of one topic as one batch (one request, consecutive queue offsets).
    pub async fn send_batch(&self, msgs: &[Message]) -> Result<SendResult> {
        let p = self.prepare_batch(msgs)?;
        self.send_prepared(&p).await
    }

    /// Sends to the queue that `select(queue_count)` picks among the writable queues; retries
    /// on the same queue only, so that order per queue holds.
    pub async fn send_to_selected(
        &self,
        msg: &Message,
        select: impl Fn(usize) -> Result<usize>,
        attempts: u32,
    ) -> Result<SendResult> {
        let p = self.prepare(msg)?;
        let route = self.client.publish_route(&p.topic).await?;
        if route.publish.is_empty() {
            return Err(ClientError::NoRoute {
                topic: p.topic.clone(),
                name_servers: self.client.name_servers(),
                cause: "the route has no writable queue".into(),
            });
        }
        let idx = select(route.publish.len())?;
        let mq = route.publish.get(idx).cloned().ok_or_else(|| {
            ClientError::IllegalArgument(format!(
                "the queue selector returned {idx}, but there are only {} queues",
                route.publish.len()
            ))
        })?;
        let mut last_err = None;
        for _ in 0..attempts.max(1) {
            match self.send_to(&p, &mq).await {
                Ok(r) => return Ok(r),
                Err(e) => last_err = Some(e),
            }
        }
        Err(last_err.unwrap_or(ClientError::ShutDown))
    }

    /// Sends without waiting for an answer. Fails only if the request cannot be written.
    pub async fn send_oneway(&self, msg: &Message) -> Result<()> {
        let p = self.prepare(msg)?;
        let route = self.client.publish_route(&p.topic).await?;
        if route.publish.is_empty() {
            return Err(ClientError::NoRoute {
                topic: p.topic.clone(),
                name_servers: self.client.name_servers(),
                cause: "the route has no writable queue".into(),
            });
        }
        let mq = self.queue_for(&p, &route.publish, None);
        let addr =
            route
                .masters
                .get(&mq.broker_name)
                .cloned()
                .ok_or_else(|| ClientError::NoRoute {
                    topic: p.topic.clone(),
                    name_servers: self.client.name_servers(),
                    cause: format!("no address for broker {}", mq.broker_name),
                })?;
        self.ensure_heartbeat(&addr).await;
        self.client
            .pool
            .invoke_oneway(&addr, self.request(&p, &mq))
            .await
    }
}

/// Sends one heartbeat of `group` to `addr` and records whether the broker acknowledged it.
async fn heartbeat_to(
    client: &ClientInstance,
    group: &str,
    acked: &Mutex<BTreeSet<String>>,
    addr: &str,
) {
    let hb = HeartbeatData {
        client_id: client.client_id.clone(),
        producer_data_set: vec![ProducerData {
            group_name: group.to_string(),
        }],
        ..HeartbeatData::default()
    };
    match client.send_heartbeat(addr, &hb).await {
        Ok(()) => {
            acked.lock().unwrap().insert(addr.to_string());
        }
        Err(e) => {
            tracing::warn!(target: LOG, broker = %addr, group = %group, error = %e, "producer heartbeat failed");
            acked.lock().unwrap().remove(addr);
        }
    }
}
