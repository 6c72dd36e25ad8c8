//! The 5.x producer: sends normal, FIFO (message group), delay (delivery timestamp) and
//! transactional messages over `SendMessage`, retrying as the server's retry policy says,
//! and ends transactions.
//!
//! What must stay true:
//! - one attempt per queue choice; a failed attempt moves to the next writable queue (a FIFO
//!   message stays on its group's queue, so its order holds); at most `max_attempts` attempts,
//!   and a request the server called bad is never retried; throttling (`TOO_MANY_REQUESTS`)
//!   waits the policy's backoff before the next attempt;
//! - a message group always maps to the same queue while the route is unchanged;
//! - the message type is checked against the queue's accepted types when the server asks
//!   for it (an empty list, or one naming no type, accepts all: the server decides).

use super::error::{check_status, GrpcError, GrpcResult};
use super::message::{to_proto, OutgoingMessage};
use super::session::{Role, Session, TransactionCheck};
use super::signing;
use super::transport::{first_address, ClientOptions};
use rocketmq_grpc::v2::{
    MessageQueue, MessageType, Permission, RecallMessageRequest, SendMessageRequest,
    TransactionSource,
};
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

const LOG: &str = "rocketmq.client.v5";

/// What a successful send returns.
#[derive(Clone, Debug)]
pub struct SendReceipt {
    pub message_id: String,
    pub transaction_id: String,
    pub offset: i64,
    pub recall_handle: String,
    pub topic: String,
    pub queue_id: i32,
    pub broker_name: String,
    /// The `host:port` the message went to (where its transaction ends).
    pub endpoint: String,
}

pub struct Producer {
    session: Arc<Session>,
    next_queue: AtomicUsize,
}

fn writable(mq: &MessageQueue) -> bool {
    mq.permission == Permission::Write as i32 || mq.permission == Permission::ReadWrite as i32
}

fn born_host() -> &'static str {
    static HOST: OnceLock<String> = OnceLock::new();
    HOST.get_or_init(signing::host_name)
}

impl Producer {
    pub fn new(
        options: ClientOptions,
        topics: Vec<String>,
        checker: Option<Arc<dyn TransactionCheck>>,
    ) -> GrpcResult<Self> {
        Ok(Producer {
            session: Session::new(options, Role::Producer { topics }, checker)?,
            next_queue: AtomicUsize::new(rand::random::<u16>() as usize),
        })
    }

    pub fn session(&self) -> &Arc<Session> {
        &self.session
    }

    pub async fn start(&self) -> GrpcResult<()> {
        let topics = match self.session.role() {
            Role::Producer { topics } => topics,
            Role::Consumer { .. } => Vec::new(),
        };
        self.session.start(&topics).await
    }

    pub async fn shutdown(&self) {
        self.session.shutdown().await
    }

    fn choose_queue<'a>(
        &self,
        route: &'a [MessageQueue],
        msg: &OutgoingMessage,
        attempt: usize,
    ) -> Option<&'a MessageQueue> {
        let queues: Vec<&MessageQueue> = route.iter().filter(|q| writable(q)).collect();
        if queues.is_empty() {
            return None;
        }
        let index = match &msg.message_group {
            Some(group) => {
                let mut h = std::hash::DefaultHasher::new();
                group.hash(&mut h);
                h.finish() as usize
            }
            None => self.next_queue.fetch_add(1, Ordering::Relaxed) + attempt,
        };
        Some(queues[index % queues.len()])
    }

    /// Sends `msg` (see the module header for retries).
    pub async fn send(&self, msg: &OutgoingMessage) -> GrpcResult<SendReceipt> {
        self.session.ensure_running("producer")?;
        let message_type = msg.message_type().map_err(GrpcError::IllegalArgument)?;
        if msg.body.is_empty() {
            return Err(GrpcError::IllegalArgument(
                "message body is empty; set body".into(),
            ));
        }
        let settings = self.session.settings();
        if msg.body.len() > settings.max_body_size {
            return Err(GrpcError::IllegalArgument(format!(
                "message body is {} bytes, more than the {} the server accepts",
                msg.body.len(),
                settings.max_body_size
            )));
        }
        let route = self.session.route(&msg.topic).await?;
        let t = &self.session.transport;
        let (message_id, proto) = to_proto(msg, t.resource(&msg.topic), message_type, born_host());
        let max_attempts = settings.max_attempts.max(1) as usize;
        let mut last_error = None;
        for attempt in 0..max_attempts {
            let Some(queue) = self.choose_queue(&route, msg, attempt) else {
                return Err(GrpcError::Status {
                    code: rocketmq_grpc::v2::Code::Forbidden as i32,
                    message: format!("topic {} has no writable queue", msg.topic),
                });
            };
            if settings.validate_message_type
                && !queue.accept_message_types.is_empty()
                && !queue
                    .accept_message_types
                    .iter()
                    .all(|t| *t == MessageType::Unspecified as i32)
                && !queue.accept_message_types.contains(&(message_type as i32))
            {
                return Err(GrpcError::IllegalArgument(format!(
                    "topic {} does not accept {} messages (it accepts {:?}); send to a topic \
                     of that message type",
                    msg.topic,
                    message_type.as_str_name(),
                    queue
                        .accept_message_types
                        .iter()
                        .map(|t| MessageType::try_from(*t)
                            .map(|m| m.as_str_name())
                            .unwrap_or("?"))
                        .collect::<Vec<_>>()
                )));
            }
            let broker = queue.broker.clone().unwrap_or_default();
            let addr = first_address(broker.endpoints.as_ref())
                .unwrap_or_else(|| t.access_point().to_string());
            let mut sent = proto.clone();
            if let Some(sp) = sent.system_properties.as_mut() {
                sp.queue_id = queue.id;
            }
            let req = SendMessageRequest {
                messages: vec![sent],
            };
            let result: GrpcResult<SendReceipt> = async {
                let resp = t
                    .stub(&addr)?
                    .send_message(t.unary(req))
                    .await?
                    .into_inner();
                check_status(resp.status.as_ref())?;
                let entry = resp.entries.into_iter().next().ok_or_else(|| {
                    GrpcError::Transport("the send response carries no entry".into())
                })?;
                check_status(entry.status.as_ref())?;
                Ok(SendReceipt {
                    message_id: if entry.message_id.is_empty() {
                        message_id.clone()
                    } else {
                        entry.message_id
                    },
                    transaction_id: entry.transaction_id,
                    offset: entry.offset,
                    recall_handle: entry.recall_handle,
                    topic: msg.topic.clone(),
                    queue_id: queue.id,
                    broker_name: broker.name.clone(),
                    endpoint: addr.clone(),
                })
            }
            .await;
            match result {
                Ok(receipt) => return Ok(receipt),
                Err(e) if !e.is_retryable() || attempt + 1 == max_attempts => return Err(e),
                Err(e) => {
                    tracing::debug!(target: LOG, topic = %msg.topic, attempt = attempt + 1,
                        endpoint = %addr, error = %e, "send failed, retrying");
                    if e.code() == Some(rocketmq_grpc::v2::Code::TooManyRequests as i32) {
                        tokio::time::sleep(settings.backoff.delay(attempt as i32 + 1)).await;
                    }
                    last_error = Some(e);
                }
            }
        }
        Err(last_error.unwrap_or_else(|| GrpcError::Transport("no attempt was made".into())))
    }

    /// Commits (`commit`) or rolls back a half message the application sent.
    pub async fn end_transaction(
        &self,
        endpoint: &str,
        topic: &str,
        message_id: &str,
        transaction_id: &str,
        commit: bool,
    ) -> GrpcResult<()> {
        self.session.ensure_running("producer")?;
        self.session
            .end_transaction(
                endpoint,
                topic,
                message_id,
                transaction_id,
                commit,
                TransactionSource::SourceClient,
            )
            .await
    }

    /// Cancels a delay message not delivered yet (`recall_handle` from its receipt); returns
    /// its message id.
    pub async fn recall(&self, topic: &str, recall_handle: &str) -> GrpcResult<String> {
        self.session.ensure_running("producer")?;
        if recall_handle.is_empty() {
            return Err(GrpcError::IllegalArgument(
                "recall_handle is empty; pass the recall_handle of a delay message's receipt"
                    .into(),
            ));
        }
        let t = &self.session.transport;
        let req = RecallMessageRequest {
            topic: Some(t.resource(topic)),
            recall_handle: recall_handle.to_string(),
        };
        let resp = t
            .stub(t.access_point())?
            .recall_message(t.unary(req))
            .await?
            .into_inner();
        check_status(resp.status.as_ref())?;
        Ok(resp.message_id)
    }
}
