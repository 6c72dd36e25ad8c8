//! The 5.x producer: sends normal, FIFO (message group), delay (delivery timestamp) and
//! transactional messages over `SendMessage` (retries and queue choice: `sender`; pipelined
//! normal messages share requests: `send_batch`), ends transactions and recalls delay
//! messages.
//!
//! What must stay true: a message is checked (type, body) before anything is sent, and gets
//! its message id before its first attempt, so a retry never changes it.

use super::error::{check_status, GrpcError, GrpcResult};
use super::message::{to_proto, OutgoingMessage};
use super::send_batch::{SendBatcher, SendCallback};
use super::sender::{Prepared, Sender};
use super::session::{Role, Session, TransactionCheck};
use super::signing;
use super::transport::ClientOptions;
use rocketmq_grpc::v2::{MessageType, RecallMessageRequest, TransactionSource};
use std::sync::{Arc, OnceLock};
use tokio::runtime::Handle;

pub use super::sender::SendReceipt;

pub struct Producer {
    sender: Sender,
    batcher: Arc<SendBatcher>,
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
        let session = Session::new(options, Role::Producer { topics }, checker)?;
        Ok(Producer {
            sender: Sender::new(session),
            batcher: Arc::default(),
        })
    }

    pub fn session(&self) -> &Arc<Session> {
        &self.sender.session
    }

    pub async fn start(&self) -> GrpcResult<()> {
        let topics = match self.session().role() {
            Role::Producer { topics } => topics,
            Role::Consumer { .. } => Vec::new(),
        };
        self.session().start(&topics).await
    }

    pub async fn shutdown(&self) {
        self.session().shutdown().await
    }

    /// Checks `msg` and gives it its message id.
    fn prepare(&self, msg: &OutgoingMessage) -> GrpcResult<Prepared> {
        let session = self.session();
        session.ensure_running("producer")?;
        let message_type = msg.message_type().map_err(GrpcError::IllegalArgument)?;
        if msg.body.is_empty() {
            return Err(GrpcError::IllegalArgument(
                "message body is empty; set body".into(),
            ));
        }
        let max_body_size = session.settings().max_body_size;
        if msg.body.len() > max_body_size {
            return Err(GrpcError::IllegalArgument(format!(
                "message body is {} bytes, more than the {} the server accepts",
                msg.body.len(),
                max_body_size
            )));
        }
        let resource = session.transport.resource(&msg.topic);
        let (message_id, proto) = to_proto(msg, resource, message_type, born_host());
        Ok(Prepared {
            topic: msg.topic.clone(),
            message_id,
            message_group: msg.message_group.clone(),
            message_type,
            proto,
        })
    }

    /// Sends `msg`: a normal message through its topic's line (`send_batch`), any other
    /// alone; retries as `sender` says.
    pub async fn send(&self, msg: &OutgoingMessage) -> GrpcResult<SendReceipt> {
        let prepared = self.prepare(msg)?;
        if prepared.message_type == MessageType::Normal {
            self.batcher.send(&self.sender, prepared).await
        } else {
            self.sender.send_one(&prepared).await
        }
    }

    /// Like [`Producer::send`], for callers outside the runtime (`handle`): `done` gets the
    /// result, on the runtime where the request ends (at once for a message refused before
    /// sending). The completions of one batched request run one after another, so whoever
    /// they wake finds them all.
    pub fn send_then(&self, handle: &Handle, msg: &OutgoingMessage, done: SendCallback) {
        let prepared = match self.prepare(msg) {
            Ok(p) => p,
            Err(e) => return done(Err(e)),
        };
        if prepared.message_type == MessageType::Normal {
            self.batcher.send_then(handle, &self.sender, prepared, done);
        } else {
            let sender = self.sender.clone();
            handle.spawn(async move { done(sender.send_one(&prepared).await) });
        }
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
        self.session().ensure_running("producer")?;
        self.session()
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
        self.session().ensure_running("producer")?;
        if recall_handle.is_empty() {
            return Err(GrpcError::IllegalArgument(
                "recall_handle is empty; pass the recall_handle of a delay message's receipt"
                    .into(),
            ));
        }
        let t = &self.session().transport;
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
