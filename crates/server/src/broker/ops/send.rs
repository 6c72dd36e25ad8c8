//! The send operation: SEND_MESSAGE (10, V1 header), SEND_MESSAGE_V2 (310) and
//! SEND_BATCH_MESSAGE (320), in two phases.
//!
//! [`Broker::send_store`] runs every check and the append, in the order of Java's
//! `SendMessageProcessor`: topic name and system-topic checks, auto-creation through the
//! template topic, queue choice, message checks (size, properties), broker-added properties
//! (`UNIQ_KEY`, `CLUSTER`), tags code, the retry limit, the half-message, delayed-message or
//! timer-message rewrite, append. [`Broker::send_finish`] then waits (sync flush) for durability and for the
//! name server to know a topic the send created.
//!
//! What must stay true:
//! - phase 1 never waits, so a front end can run it in arrival order (the remoting reader does,
//!   so sends on one connection keep their order);
//! - a request is a batch when the front end says so; batch entries are stored uncompressed,
//!   one record each, with consecutive queue offsets;
//! - store failures become an [`OpError`] with the cause in the remark, never a hang.

use super::send_properties::stored_properties;
use crate::broker::error::OpError;
use crate::broker::retry::MAX_RECONSUME_TIMES_MIN_VERSION;
use crate::broker::schedule::{requested_delay_level, to_scheduled};
use crate::broker::services::Broker;
use crate::broker::timer::stored_deliver_ms;
use crate::broker::topic::{validate_send_topic, AUTO_CREATE_TOPIC, RETRY_PREFIX};
use crate::broker::transaction::{is_half_message, to_half, HALF_TOPIC};
use bytes::Bytes;
use rocketmq_protocol::batch::decode_batch;
use rocketmq_protocol::code::response_code as resp;
use rocketmq_protocol::compression::inflate;
use rocketmq_protocol::frame::MAX_FRAME_LEN;
use rocketmq_protocol::header::SendMessageRequestHeader;
use rocketmq_protocol::message_id::create_offset_msg_id;
use rocketmq_protocol::message_priority::{priority_route, PriorityRoute};
use rocketmq_protocol::now_millis;
use rocketmq_protocol::properties::{
    remove_property, set_property, DELAY, MAX_PROPERTIES_LEN, PRIORITY,
};
use rocketmq_protocol::recall::RecallHandle;
use rocketmq_protocol::sysflag::{COMPRESSED_FLAG, COMPRESSION_TYPE_MASK};
use rocketmq_store::{MessageToStore, PutOutcome, TopicConfig};
use std::net::SocketAddr;
use std::time::Duration;

/// How long a send waits for its sync-flush acknowledgement (Java `syncFlushTimeout`).
pub const SYNC_FLUSH_TIMEOUT: Duration = Duration::from_secs(5);

/// One send as a front end hands it over.
#[derive(Clone, Debug)]
pub struct SendRequest {
    pub header: SendMessageRequestHeader,
    /// The message body, or the encoded batch (possibly zlib-compressed as a whole).
    pub body: Bytes,
    /// The body is a batch (code 320, or the header's `batch` flag: cpp sends its batches as
    /// code 10 with `batch="1"`).
    pub batch: bool,
    /// The producer's address, stored as the born host.
    pub born_host: SocketAddr,
    /// The client's protocol version (`maxReconsumeTimes` is read from 3.4.9 on).
    pub client_version: i32,
}

/// A send after phase 1: appended, not yet known durable.
pub struct StoredSend {
    outcome: PutOutcome,
    wait_for_flush: bool,
    requested_queue: i32,
    uniq_keys: Vec<String>,
    /// The topic data version to see registered before answering (a topic this send created).
    announce: Option<i64>,
    /// The recall handle of a timer message.
    recall_handle: Option<String>,
}

/// What a successful send tells the producer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SendReceipt {
    /// Offset message ids of the stored records, comma-separated for a batch.
    pub msg_id: String,
    pub queue_id: i32,
    /// Queue offset of the first stored record.
    pub queue_offset: i64,
    /// `UNIQ_KEY` of the first message.
    pub transaction_id: Option<String>,
    /// Set when the message is written but its sync flush failed or timed out (the producer
    /// is told FLUSH_DISK_TIMEOUT with this remark).
    pub flush_failure: Option<String>,
    /// Of a timer message: what RECALL_MESSAGE takes to cancel it before its time.
    pub recall_handle: Option<String>,
}

/// The messages of one send, ready for the broker's properties.
struct Decoded {
    messages: Vec<MessageToStore>,
    queue_id: i32,
    announce: Option<i64>,
}

impl Broker {
    /// Phase 1 of a send: every check, then the append. Never waits.
    pub fn send_store(&self, req: SendRequest) -> Result<StoredSend, OpError> {
        let header = &req.header;
        let Decoded {
            mut messages,
            queue_id,
            announce,
        } = self.decode_send(&req)?;
        let (wait_for_flush, uniq_keys) = self.add_broker_properties(&mut messages)?;
        let mut requested_queue = queue_id;
        if !req.batch && header.topic.starts_with(RETRY_PREFIX) {
            let max = match header.max_reconsume_times {
                Some(m) if req.client_version >= MAX_RECONSUME_TIMES_MIN_VERSION => m,
                _ => {
                    self.subscription_group(&header.topic[RETRY_PREFIX.len()..])
                        .retry_max_times
                }
            };
            if self.dead_letter_if_exhausted(&header.topic, &mut messages[0], max)? {
                requested_queue = 0;
            }
        }
        // The first phase of a transaction is stored as a half message, undelayed: a delay
        // applies once it is committed.
        let half = !req.batch
            && !header.topic.starts_with(RETRY_PREFIX)
            && is_half_message(&messages[0].properties, messages[0].reconsume_times);
        if half {
            self.topics.get_or_create(HALF_TOPIC, 1, 6)?;
            let m = messages.remove(0);
            messages.push(to_half(m, &uniq_keys[0]));
        }
        // Delay levels apply to single messages only (clients refuse delayed batches).
        let mut recall_handle = None;
        if !req.batch && !half {
            if let Some(level) = requested_delay_level(&messages[0].properties) {
                let m = messages.remove(0);
                requested_queue = m.queue_id;
                messages.push(to_scheduled(&self.delay_levels, m, level, now_millis()));
            } else if let Some(timed) = self.timer_rewrite(&messages[0], now_millis())? {
                requested_queue = messages[0].queue_id;
                if !header.topic.starts_with(RETRY_PREFIX) {
                    recall_handle = stored_deliver_ms(&timed.properties).map(|at| {
                        RecallHandle {
                            topic: header.topic.clone(),
                            broker_name: self.config.broker_name.clone(),
                            timestamp: at.to_string(),
                            message_id: uniq_keys[0].clone(),
                        }
                        .encode()
                    });
                }
                messages[0] = timed;
            }
        }
        let outcome = self.store.put_messages(messages).map_err(|e| {
            tracing::warn!(topic = header.topic, "send failed: {e}");
            OpError::from(&e)
        })?;
        Ok(StoredSend {
            outcome,
            wait_for_flush,
            requested_queue,
            uniq_keys,
            announce,
            recall_handle,
        })
    }

    /// Phase 2: waits for the name server to know a created topic and (sync flush) for
    /// durability, then says what was stored.
    pub async fn send_finish(&self, stored: StoredSend) -> Result<SendReceipt, OpError> {
        let StoredSend {
            outcome,
            wait_for_flush,
            requested_queue,
            uniq_keys,
            announce,
            recall_handle,
        } = stored;
        if let Some(version) = announce {
            self.announced(version).await;
        }
        let mut flush_failure = None;
        if let (Some(waiter), true) = (outcome.durable, wait_for_flush) {
            match tokio::time::timeout(SYNC_FLUSH_TIMEOUT, waiter.0).await {
                Ok(Ok(Ok(()))) => {}
                Ok(Ok(Err(e))) => {
                    tracing::warn!("flush failed: {e}");
                    flush_failure = Some(format!(
                        "the message is written but flushing it failed: {e}"
                    ));
                }
                Ok(Err(_)) => {
                    flush_failure =
                        Some("the message is written but the store stopped before flushing".into());
                }
                Err(_) => {
                    flush_failure = Some(format!(
                        "the message is written but was not flushed within {SYNC_FLUSH_TIMEOUT:?}"
                    ));
                }
            }
        }
        let Some(first) = outcome.results.first() else {
            return Err(OpError::system("the store returned no result"));
        };
        let msg_id = outcome
            .results
            .iter()
            .map(|r| create_offset_msg_id(self.store_host, r.commit_log_offset))
            .collect::<Vec<_>>()
            .join(",");
        Ok(SendReceipt {
            msg_id,
            queue_id: requested_queue,
            queue_offset: first.queue_offset,
            transaction_id: uniq_keys.into_iter().next(),
            flush_failure,
            recall_handle,
        })
    }

    /// The topic a send goes to: checked, created from its template when it does not exist
    /// (retry topics without one); also the data version to announce when it was created.
    fn send_topic(
        &self,
        header: &SendMessageRequestHeader,
    ) -> Result<(TopicConfig, Option<i64>), OpError> {
        if let Err(refusal) = validate_send_topic(&header.topic) {
            return Err(OpError::new(refusal.code, refusal.remark));
        }
        if header.topic.starts_with(RETRY_PREFIX) {
            return Ok((self.topics.get_or_create(&header.topic, 1, 6)?, None));
        }
        let default_topic = if header.default_topic.is_empty() {
            AUTO_CREATE_TOPIC
        } else {
            header.default_topic.as_str()
        };
        let queues = if header.default_topic_queue_nums > 0 {
            header.default_topic_queue_nums
        } else {
            4
        };
        match self
            .topics
            .get_or_create_on_send(&header.topic, default_topic, queues)?
        {
            Some((config, version)) => Ok((config, version)),
            None => Err(OpError::new(
                resp::TOPIC_NOT_EXIST,
                format!(
                    "topic[{}] not exist, apply first please! (template topic {default_topic} cannot create it)",
                    header.topic
                ),
            )),
        }
    }

    /// Topic, queue, then the body as one message or a batch of them, size-checked.
    fn decode_send(&self, req: &SendRequest) -> Result<Decoded, OpError> {
        let header = &req.header;
        let (topic_config, announce) = self.send_topic(header)?;
        let queue_id = choose_queue(header, &topic_config)?;
        let max = self.config.max_message_size;
        let base = MessageToStore {
            topic: header.topic.clone(),
            queue_id,
            flag: header.flag,
            sys_flag: header.sys_flag,
            born_timestamp: header.born_timestamp,
            born_host: req.born_host,
            store_host: self.store_host,
            reconsume_times: header.reconsume_times.unwrap_or(0),
            prepared_transaction_offset: 0,
            body: Bytes::new(),
            properties: String::new(),
            tags_code: 0,
        };
        let messages = if req.batch {
            batch_messages(header, &req.body, base, max)?
        } else {
            if req.body.len() > max {
                return Err(OpError::new(
                    resp::MESSAGE_ILLEGAL,
                    format!(
                        "the message is illegal: its body is {} bytes, msg body length limit {max}B",
                        req.body.len()
                    ),
                ));
            }
            let mut m = base;
            m.body = req.body.clone();
            m.properties = header.properties.clone().unwrap_or_default();
            // A priority message goes to the queue its priority names (Apache's rule, over
            // whatever queue the producer picked); a stronger type loses the property.
            match priority_route(&m.properties, topic_config.write_queue_nums) {
                PriorityRoute::Queue(q) => m.queue_id = q,
                PriorityRoute::Drop => m.properties = remove_property(&m.properties, PRIORITY),
                PriorityRoute::None => {}
            }
            vec![m]
        };
        let queue_id = messages.first().map_or(queue_id, |m| m.queue_id);
        Ok(Decoded {
            messages,
            queue_id,
            announce,
        })
    }

    /// Adds `UNIQ_KEY` (when missing) and `CLUSTER`, sets the tags codes and checks the
    /// property length. Returns whether the producer waits for a sync flush and the messages'
    /// `UNIQ_KEY`s.
    fn add_broker_properties(
        &self,
        messages: &mut [MessageToStore],
    ) -> Result<(bool, Vec<String>), OpError> {
        let mut wait_for_flush = true;
        let mut uniq_keys = Vec::with_capacity(messages.len());
        for m in messages.iter_mut() {
            let stored = stored_properties(&m.properties, &self.config.cluster_name, || {
                self.uniq_ids.next_id()
            });
            let props = stored.properties;
            uniq_keys.push(stored.uniq_key);
            if stored.no_wait {
                wait_for_flush = false;
            }
            if props.len() > MAX_PROPERTIES_LEN {
                return Err(OpError::new(
                    resp::MESSAGE_ILLEGAL,
                    format!(
                        "the message properties are {} bytes, larger than the maximum of {MAX_PROPERTIES_LEN} bytes",
                        props.len()
                    ),
                ));
            }
            m.tags_code = stored.tags_code;
            m.properties = props;
        }
        Ok((wait_for_flush, uniq_keys))
    }

    /// A message re-published to its retry topic more often than `max` allows (the Java
    /// client's fallback when send-back fails) goes to the dead-letter topic, undelayed.
    /// Returns whether it did.
    fn dead_letter_if_exhausted(
        &self,
        retry_topic: &str,
        message: &mut MessageToStore,
        max: i32,
    ) -> Result<bool, OpError> {
        if message.reconsume_times <= max {
            return Ok(false);
        }
        let group = &retry_topic[RETRY_PREFIX.len()..];
        let dlq = self.topics.get_or_create_dlq(group)?;
        tracing::info!(
            group,
            "retry limit reached: message goes to {}",
            dlq.topic_name
        );
        message.topic = dlq.topic_name;
        message.queue_id = 0;
        message.properties = set_property(&message.properties, DELAY, "-1");
        Ok(true)
    }
}

/// The queue a send goes to: the asked one if it exists, a random writable one for -1.
fn choose_queue(header: &SendMessageRequestHeader, config: &TopicConfig) -> Result<i32, OpError> {
    let queue_count = config.write_queue_nums.max(config.read_queue_nums);
    if header.queue_id < 0 {
        Ok(rand::random_range(0..config.write_queue_nums.max(1)))
    } else if header.queue_id >= queue_count {
        Err(OpError::new(
            resp::INVALID_PARAMETER,
            format!(
                "request queueId[{}] is illegal: topic {} has {} queues",
                header.queue_id, header.topic, queue_count
            ),
        ))
    } else {
        Ok(header.queue_id)
    }
}

/// The entries of a batch body (inflated first when compressed as a whole), one message each.
fn batch_messages(
    header: &SendMessageRequestHeader,
    body: &Bytes,
    base: MessageToStore,
    max: usize,
) -> Result<Vec<MessageToStore>, OpError> {
    let raw = if header.sys_flag & COMPRESSED_FLAG != 0 {
        inflate(body, MAX_FRAME_LEN.max(max))
            .map(Bytes::from)
            .map_err(|e| {
                OpError::new(resp::MESSAGE_ILLEGAL, format!("bad compressed batch: {e}"))
            })?
    } else {
        body.clone()
    };
    if raw.len() > max {
        return Err(OpError::new(
            resp::MESSAGE_ILLEGAL,
            format!(
                "the message is illegal: the batch body is {} bytes, msg body length limit {max}B",
                raw.len()
            ),
        ));
    }
    let entries = match decode_batch(&raw) {
        Ok(e) if !e.is_empty() => e,
        Ok(_) => return Err(OpError::new(resp::MESSAGE_ILLEGAL, "the batch is empty")),
        Err(e) => {
            return Err(OpError::new(
                resp::MESSAGE_ILLEGAL,
                format!("malformed batch: {e}"),
            ))
        }
    };
    let entry_sys_flag = header.sys_flag & !(COMPRESSED_FLAG | COMPRESSION_TYPE_MASK);
    Ok(entries
        .into_iter()
        .map(|entry| {
            let mut m = base.clone();
            m.flag = entry.flag;
            m.sys_flag = entry_sys_flag;
            m.body = entry.body;
            m.properties = entry.properties;
            m
        })
        .collect())
}
