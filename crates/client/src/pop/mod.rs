//! The POP consumer: stateless consumption as RocketMQ 5 does it. `receive` pops messages
//! from the topic's brokers (every queue at once, queue id -1), each staying invisible to
//! the rest of the group until it is acked or its invisible duration passes, when the broker
//! hands it out again with its delivery attempt one higher. No rebalance, no offsets kept
//! here: any number of consumers of one group share every queue.
//!
//! - `answer`: reading a POP answer into [`PoppedMessage`]s with their receipt handles;
//! - `requests`: the POP, ACK, BATCH_ACK and CHANGE_INVISIBLE requests of one broker.
//!
//! The shape is transport-neutral (plain values in, plain values out), so the 5.x
//! `SimpleConsumer` can wrap it over remoting or gRPC alike.
//!
//! What must stay true: receives rotate over the topic's brokers (one per receive when it
//! long-polls, else each in turn until one has messages); an ack or invisible-time change goes
//! to the broker named in its handle; a handle that is not a receipt handle is refused here
//! with what to pass instead, before anything is sent.

mod answer;
mod requests;

pub use answer::PoppedMessage;

use crate::error::{ClientError, Result};
use crate::instance::ClientInstance;
use rocketmq_protocol::header::{pop_init_mode, PopMessageRequestHeader};
use rocketmq_protocol::pop::{BatchAck, BatchAckMessageRequestBody, ReceiptHandle, TopicKind};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// The most messages one POP may ask for (Apache refuses more).
pub const MAX_RECEIVE: i32 = 32;
/// The longest long poll accepted.
pub const MAX_AWAIT: Duration = Duration::from_secs(60);

/// What a POP consumer reads: one topic for one group, filtered by an expression.
#[derive(Clone, Debug)]
pub struct PopConsumerConfig {
    pub group: String,
    pub topic: String,
    /// A tag expression (`*`, `TagA || TagB`) or, with `expression_type` `SQL92`, a SQL92
    /// filter over the message properties.
    pub expression: String,
    /// `TAG` or `SQL92`.
    pub expression_type: String,
    /// Orderly POP (FIFO groups): the broker hands out a queue's next messages only once the
    /// earlier ones are acked or back.
    pub order: bool,
    /// Where a group without progress starts: the beginning (`false`, as Java's
    /// `ConsumeInitMode.MIN`) or the end of the queues.
    pub start_at_end: bool,
}

impl PopConsumerConfig {
    pub fn new(group: impl Into<String>, topic: impl Into<String>) -> Self {
        PopConsumerConfig {
            group: group.into(),
            topic: topic.into(),
            expression: "*".into(),
            expression_type: "TAG".into(),
            order: false,
            start_at_end: false,
        }
    }
}

/// One POP batch of one queue, as acks are grouped: the queue's topic kind (retry mark),
/// queue id, the batch's first offset and its pop time.
type BatchKey = (TopicKind, i32, i64, i64);

/// A POP consumer over a client instance (whose routes and connections it uses).
pub struct PopConsumer {
    client: Arc<ClientInstance>,
    config: PopConsumerConfig,
    /// The broker the next receive starts with (an index into the route's brokers).
    next_broker: AtomicUsize,
}

impl PopConsumer {
    pub fn new(client: Arc<ClientInstance>, config: PopConsumerConfig) -> Result<Self> {
        if config.group.trim().is_empty() {
            return Err(ClientError::IllegalArgument(
                "the consumer group is empty: name the group that consumes".into(),
            ));
        }
        if config.topic.trim().is_empty() {
            return Err(ClientError::IllegalArgument(
                "the topic is empty: name the topic to consume".into(),
            ));
        }
        if !matches!(config.expression_type.as_str(), "TAG" | "SQL92") {
            return Err(ClientError::IllegalArgument(format!(
                "expression type {:?}: pass \"TAG\" or \"SQL92\"",
                config.expression_type
            )));
        }
        Ok(PopConsumer {
            client,
            config,
            next_broker: AtomicUsize::new(0),
        })
    }

    pub fn config(&self) -> &PopConsumerConfig {
        &self.config
    }

    pub fn client(&self) -> &Arc<ClientInstance> {
        &self.client
    }

    /// Up to `max` messages (1..=32), invisible to the group for `invisible`; the broker holds
    /// the request up to `await_for` when it has nothing (0: answer at once). An empty list
    /// means nothing was there.
    pub async fn receive(
        &self,
        max: i32,
        invisible: Duration,
        await_for: Duration,
    ) -> Result<Vec<PoppedMessage>> {
        if !(1..=MAX_RECEIVE).contains(&max) {
            return Err(ClientError::IllegalArgument(format!(
                "max messages {max}: pass 1 to {MAX_RECEIVE}"
            )));
        }
        if invisible.is_zero() {
            return Err(ClientError::IllegalArgument(
                "the invisible duration is 0: pass how long a received message stays hidden (e.g. 30 s)".into(),
            ));
        }
        if await_for > MAX_AWAIT {
            return Err(ClientError::IllegalArgument(format!(
                "await duration {await_for:?} is over {MAX_AWAIT:?}: pass a shorter one and call receive again"
            )));
        }
        let route = self.client.subscribe_route(&self.config.topic).await?;
        let mut brokers: Vec<(String, String)> = Vec::new();
        for q in &route.subscribe {
            if let Some(addr) = route.masters.get(&q.broker_name) {
                if brokers.last().map(|b| &b.0) != Some(&q.broker_name) {
                    brokers.push((q.broker_name.clone(), addr.clone()));
                }
            }
        }
        if brokers.is_empty() {
            return Err(ClientError::NoRoute {
                topic: self.config.topic.clone(),
                name_servers: self.client.name_servers(),
                cause: "no readable queue on a broker with a master".into(),
            });
        }
        let first = self.next_broker.fetch_add(1, Ordering::Relaxed);
        let tries = if await_for.is_zero() {
            brokers.len()
        } else {
            1
        };
        for i in 0..tries {
            let (name, addr) = &brokers[(first + i) % brokers.len()];
            let header = self.pop_header(max, invisible, await_for, name);
            // A shutdown ends a long poll at once, empty (a message the broker hands to the
            // held request after that comes back when its invisible time ends): it wakes the
            // multiplexed path here and closes the socket of the blocking one.
            let found = tokio::select! {
                found = self.client.pop_message(addr, name, &header) => match found {
                    Err(_) if self.client.is_shut_down() => return Ok(Vec::new()),
                    other => other?,
                },
                _ = self.client.shut_down_signal() => return Ok(Vec::new()),
            };
            if !found.is_empty() {
                return Ok(found);
            }
        }
        Ok(Vec::new())
    }

    fn pop_header(
        &self,
        max: i32,
        invisible: Duration,
        await_for: Duration,
        broker_name: &str,
    ) -> PopMessageRequestHeader {
        PopMessageRequestHeader {
            consumer_group: self.config.group.clone(),
            topic: self.config.topic.clone(),
            queue_id: -1,
            max_msg_nums: max,
            invisible_time: invisible.as_millis() as i64,
            poll_time: await_for.as_millis() as i64,
            born_time: rocketmq_protocol::now_millis(),
            init_mode: if self.config.start_at_end {
                pop_init_mode::MAX
            } else {
                pop_init_mode::MIN
            },
            exp_type: Some(self.config.expression_type.clone()),
            exp: Some(self.config.expression.clone()),
            order: self.config.order,
            attempt_id: None,
            broker_name: Some(broker_name.to_string()),
        }
    }

    /// The parsed handle of a received message.
    fn parse_handle(receipt_handle: &str) -> Result<ReceiptHandle> {
        let handle = ReceiptHandle::parse(receipt_handle).map_err(|e| {
            ClientError::IllegalArgument(format!(
                "{e}: pass the receipt_handle of a message this consumer received"
            ))
        })?;
        if handle.queue_offset.is_none() {
            return Err(ClientError::IllegalArgument(format!(
                "receipt handle {receipt_handle:?} names no message offset: pass the receipt_handle of a received message"
            )));
        }
        Ok(handle)
    }

    /// The address of the broker a handle names.
    fn broker_addr_of(&self, handle: &ReceiptHandle, receipt_handle: &str) -> Result<String> {
        self.client.broker_addr(&handle.broker_name).ok_or_else(|| {
            ClientError::IllegalArgument(format!(
                "receipt handle {receipt_handle:?} names broker {:?}, which the route of topic {:?} does not have: pass a handle of a message received from this topic",
                handle.broker_name, self.config.topic
            ))
        })
    }

    /// The parsed handle, the stored topic it names and its broker's address.
    fn locate(&self, receipt_handle: &str) -> Result<(ReceiptHandle, String, String)> {
        let handle = Self::parse_handle(receipt_handle)?;
        let addr = self.broker_addr_of(&handle, receipt_handle)?;
        let topic = handle
            .kind
            .real_topic(&self.config.topic, &self.config.group);
        Ok((handle, topic, addr))
    }

    /// Acknowledges one message: the group never gets it again.
    pub async fn ack(&self, receipt_handle: &str) -> Result<()> {
        let (handle, topic, addr) = self.locate(receipt_handle)?;
        self.client
            .ack_message(&addr, &self.config.group, &topic, &handle, receipt_handle)
            .await
    }

    /// Acknowledges many messages, one BATCH_ACK_MESSAGE per broker (acks of one POP batch
    /// of one queue travel as one bit set).
    pub async fn ack_batch<S: AsRef<str>>(&self, receipt_handles: &[S]) -> Result<()> {
        // Broker name -> (address, its batches); a receive's handles name one or few brokers.
        let mut per_broker: Vec<(String, String, BTreeMap<BatchKey, BatchAck>)> = Vec::new();
        for text in receipt_handles {
            let text = text.as_ref();
            let h = Self::parse_handle(text)?;
            let slot = match per_broker.iter().position(|b| b.0 == h.broker_name) {
                Some(i) => i,
                None => {
                    let addr = self.broker_addr_of(&h, text)?;
                    per_broker.push((h.broker_name.clone(), addr, BTreeMap::new()));
                    per_broker.len() - 1
                }
            };
            let batch_key = (h.kind, h.queue_id, h.ck_queue_offset, h.pop_time);
            let offset = h.queue_offset.unwrap_or(h.ck_queue_offset);
            let index = u32::try_from(offset - h.ck_queue_offset).map_err(|_| {
                ClientError::IllegalArgument(format!(
                    "receipt handle {text:?} has an offset before its batch start: pass it unchanged"
                ))
            })?;
            let ack = per_broker[slot]
                .2
                .entry(batch_key)
                .or_insert_with(|| BatchAck {
                    consumer_group: self.config.group.clone(),
                    topic: self.config.topic.clone(),
                    retry: h.kind.mark().to_string(),
                    start_offset: h.ck_queue_offset,
                    queue_id: h.queue_id,
                    revive_queue_id: h.revive_qid,
                    pop_time: h.pop_time,
                    invisible_time: h.invisible_time,
                    acked: Vec::new(),
                });
            ack.acked.push(index);
        }
        per_broker.sort_by(|a, b| a.1.cmp(&b.1));
        for (broker_name, addr, batches) in per_broker {
            let body = BatchAckMessageRequestBody {
                broker_name,
                acks: batches
                    .into_values()
                    .map(|mut b| {
                        b.acked.sort_unstable();
                        b.acked.dedup();
                        b
                    })
                    .collect(),
            };
            self.client.batch_ack_message(&addr, &body).await?;
        }
        Ok(())
    }

    /// Keeps one message invisible for `invisible` from now (longer or shorter than before);
    /// returns its new receipt handle, the one to ack it with.
    pub async fn change_invisible_duration(
        &self,
        receipt_handle: &str,
        invisible: Duration,
    ) -> Result<String> {
        if invisible.is_zero() {
            return Err(ClientError::IllegalArgument(
                "the invisible duration is 0: pass how long the message stays hidden".into(),
            ));
        }
        let (handle, topic, addr) = self.locate(receipt_handle)?;
        let new = self
            .client
            .change_invisible_time(
                &addr,
                &self.config.group,
                &topic,
                &handle,
                receipt_handle,
                invisible,
            )
            .await?;
        Ok(new.encode())
    }
}
