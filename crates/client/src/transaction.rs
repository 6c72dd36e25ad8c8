//! Transactional sends (spec 5.5): the half message, END_TRANSACTION, and the answer to the
//! broker's CHECK_TRANSACTION_STATE.
//!
//! [`Producer::send_in_transaction`] sends the message as a half message (`TRAN_MSG=true`,
//! `PGROUP`, prepared sysFlag), runs the local transaction only if the broker stored it with
//! status OK (otherwise the outcome is ROLLBACK), then tells the broker that stored it the
//! outcome with a one-way END_TRANSACTION. The steps are also public on their own
//! ([`Producer::send_half`], [`Producer::end_transaction`]) for callers that run the local
//! transaction outside the runtime (the Python binding runs it on the caller's thread).
//!
//! A producer built by [`Producer::new_transactional`] answers the broker's check-back: the
//! connection's reader hands the request to [`TransactionCheckHandler`], which decodes the half
//! message and runs the owner's [`TransactionChecker`] on a blocking thread (never on the
//! reader, which must keep reading), then sends END_TRANSACTION marked `fromTransactionCheck`
//! to the broker that asked, copying its offsets and message id.

use crate::config::ClientConfig;
use crate::error::{ClientError, Result};
use crate::instance::ClientInstance;
use crate::message::{Message, MessageExt};
use crate::producer::{Producer, ProducerConfig, SendResult, SendStatus};
use crate::remoting::RequestHandler;
use rocketmq_protocol::code::{request_code, response_code};
use rocketmq_protocol::header::transaction::{
    commit_or_rollback, CheckTransactionStateRequestHeader, EndTransactionRequestHeader,
};
use rocketmq_protocol::message::decode_stored;
use rocketmq_protocol::message_id;
use rocketmq_protocol::properties as prop;
use rocketmq_protocol::RemotingCommand;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock, Weak};

/// Log target: a child of the `rocketmq` logger once bridged to Python `logging`.
const LOG: &str = "rocketmq.client.transaction";

/// Largest body a checked message is inflated to.
const MAX_INFLATED_BODY: usize = 64 * 1024 * 1024;

/// The outcome of a local transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TransactionState {
    Commit,
    Rollback,
    /// Not known yet: the broker keeps the half message and checks back later.
    Unknown,
}

impl TransactionState {
    /// The `commitOrRollback` value of END_TRANSACTION.
    pub fn wire_value(self) -> i32 {
        match self {
            TransactionState::Commit => commit_or_rollback::COMMIT,
            TransactionState::Rollback => commit_or_rollback::ROLLBACK,
            TransactionState::Unknown => commit_or_rollback::NOT_TYPE,
        }
    }
}

/// Decides the outcome of a half message the broker asks about. Runs on a blocking thread.
pub trait TransactionChecker: Send + Sync + 'static {
    fn check(&self, msg: &MessageExt) -> TransactionState;
}

impl<F> TransactionChecker for F
where
    F: Fn(&MessageExt) -> TransactionState + Send + Sync + 'static,
{
    fn check(&self, msg: &MessageExt) -> TransactionState {
        self(msg)
    }
}

/// Answers CHECK_TRANSACTION_STATE for one producer group; other server requests get
/// REQUEST_CODE_NOT_SUPPORTED.
pub struct TransactionCheckHandler {
    group: String,
    checker: Arc<dyn TransactionChecker>,
    /// Set once the client exists (the client needs the handler first).
    client: OnceLock<Weak<ClientInstance>>,
    /// Once set, checks are ignored (the owner is shutting down).
    stopped: AtomicBool,
}

impl TransactionCheckHandler {
    pub fn new(group: &str, checker: Arc<dyn TransactionChecker>) -> Arc<Self> {
        Arc::new(TransactionCheckHandler {
            group: group.to_string(),
            checker,
            client: OnceLock::new(),
            stopped: AtomicBool::new(false),
        })
    }

    /// Stops answering checks; a check already running completes.
    pub fn stop(&self) {
        self.stopped.store(true, Ordering::SeqCst);
    }

    /// Decodes a check request: its header and the half message in its body.
    pub fn decode_check(
        request: &RemotingCommand,
    ) -> std::result::Result<(CheckTransactionStateRequestHeader, MessageExt), String> {
        let header: CheckTransactionStateRequestHeader = request
            .decode_header()
            .map_err(|e| format!("bad check header: {e}"))?;
        let (stored, _) =
            decode_stored(&request.body).map_err(|e| format!("bad half message in check: {e}"))?;
        Ok((header, MessageExt::from_stored(stored, MAX_INFLATED_BODY)))
    }

    /// The END_TRANSACTION that answers a check of `msg` with `state`.
    pub fn check_answer(
        group: &str,
        header: &CheckTransactionStateRequestHeader,
        msg: &MessageExt,
        state: TransactionState,
    ) -> RemotingCommand {
        let msg_id = msg
            .property(prop::UNIQ_KEY)
            .map(str::to_string)
            .or_else(|| header.msg_id.clone())
            .unwrap_or_else(|| msg.msg_id.clone());
        ClientInstance::request(request_code::END_TRANSACTION).with_header(
            &EndTransactionRequestHeader {
                producer_group: group.to_string(),
                tran_state_table_offset: header.tran_state_table_offset,
                commit_log_offset: header.commit_log_offset,
                commit_or_rollback: state.wire_value(),
                from_transaction_check: true,
                msg_id,
                transaction_id: header
                    .transaction_id
                    .clone()
                    .or_else(|| msg.property(prop::TRANSACTION_ID).map(str::to_string)),
                topic: Some(msg.topic.clone()),
            },
        )
    }

    fn on_check(&self, from: &str, request: RemotingCommand) {
        if self.stopped.load(Ordering::SeqCst) {
            return;
        }
        let (header, msg) = match Self::decode_check(&request) {
            Ok(v) => v,
            Err(e) => {
                tracing::warn!(target: LOG, broker = %from, error = %e, "ignoring a transaction check");
                return;
            }
        };
        let Some(client) = self.client.get().and_then(Weak::upgrade) else {
            return;
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let checker = self.checker.clone();
        let group = self.group.clone();
        let addr = from.to_string();
        runtime.spawn(async move {
            let checked = tokio::task::spawn_blocking(move || {
                let state = checker.check(&msg);
                (msg, state)
            })
            .await;
            let (msg, state) = match checked {
                Ok(v) => v,
                Err(e) => {
                    tracing::warn!(target: LOG, error = %e, "the transaction checker failed");
                    return;
                }
            };
            if client.is_shut_down() {
                return;
            }
            let answer = Self::check_answer(&group, &header, &msg, state);
            if let Err(e) = client.pool.invoke_oneway(&addr, answer).await {
                tracing::warn!(target: LOG, broker = %addr, error = %e, "cannot answer a transaction check");
            }
        });
    }
}

impl RequestHandler for TransactionCheckHandler {
    fn handle(&self, from: &str, request: RemotingCommand) -> Option<RemotingCommand> {
        match request.code {
            request_code::CHECK_TRANSACTION_STATE => {
                self.on_check(from, request);
                None
            }
            code => Some(RemotingCommand::new_response(
                response_code::REQUEST_CODE_NOT_SUPPORTED,
                format!(" request type {code} not supported"),
            )),
        }
    }
}

impl Producer {
    /// A producer whose own client answers the broker's transaction checks with `checker`.
    /// Created inside a tokio runtime it starts its background tasks there; otherwise the owner
    /// calls [`ClientInstance::start_maintenance`] and [`Producer::start_heartbeats`].
    pub fn new_transactional(
        client_config: ClientConfig,
        config: ProducerConfig,
        checker: Arc<dyn TransactionChecker>,
    ) -> (Producer, Arc<TransactionCheckHandler>) {
        let handler = TransactionCheckHandler::new(&config.group, checker);
        let client = ClientInstance::new(client_config, Some(handler.clone()));
        let _ = handler.client.set(Arc::downgrade(&client));
        (Producer::new(client, config), handler)
    }

    /// `msg` as the half message of a transaction of this producer's group, with its id set.
    pub fn half_message(&self, msg: &Message) -> Message {
        let mut half = msg.clone();
        // Transactional messages cannot be delayed (the broker would not find the half).
        half.properties.remove(prop::DELAY);
        half.properties
            .insert(prop::TRAN_MSG.to_string(), "true".to_string());
        half.properties
            .insert(prop::PGROUP.to_string(), self.config.group.clone());
        half.properties
            .entry(prop::UNIQ_KEY.to_string())
            .or_insert_with(|| message_id::global_uniq_id_generator().next_id());
        half
    }

    /// Sends `half` (from [`Producer::half_message`]) and waits for the broker's answer.
    pub async fn send_half(&self, half: &Message) -> Result<SendResult> {
        if half.properties.get(prop::TRAN_MSG).map(String::as_str) != Some("true") {
            return Err(ClientError::IllegalArgument(
                "a half message needs the TRAN_MSG property (use half_message)".into(),
            ));
        }
        let p = self.prepare(half)?;
        self.send_prepared(&p).await
    }

    /// Tells the broker that stored the half message of `result` the transaction's outcome
    /// (one-way, as the Java client does: the broker answers nothing for UNKNOWN).
    pub async fn end_transaction(
        &self,
        result: &SendResult,
        state: TransactionState,
    ) -> Result<()> {
        let addr = self
            .client
            .broker_addr(&result.queue.broker_name)
            .ok_or_else(|| ClientError::NoRoute {
                topic: result.queue.topic.clone(),
                name_servers: self.client.name_servers(),
                cause: format!("no address for broker {}", result.queue.broker_name),
            })?;
        let request = Self::end_transaction_request(&self.config.group, result, state)?;
        self.client.pool.invoke_oneway(&addr, request).await
    }

    /// The END_TRANSACTION for the half message of `result`.
    pub fn end_transaction_request(
        group: &str,
        result: &SendResult,
        state: TransactionState,
    ) -> Result<RemotingCommand> {
        let (_, commit_log_offset) = message_id::decode_offset_msg_id(&result.offset_msg_id)
            .map_err(|e| {
                ClientError::Protocol(format!(
                    "the broker's offset message id {:?} cannot be decoded: {e}",
                    result.offset_msg_id
                ))
            })?;
        Ok(
            ClientInstance::request(request_code::END_TRANSACTION).with_header(
                &EndTransactionRequestHeader {
                    producer_group: group.to_string(),
                    tran_state_table_offset: result.queue_offset,
                    commit_log_offset,
                    commit_or_rollback: state.wire_value(),
                    from_transaction_check: false,
                    msg_id: result.msg_id.clone(),
                    transaction_id: Some(result.msg_id.clone()),
                    topic: Some(result.queue.topic.clone()),
                },
            ),
        )
    }

    /// Sends `msg` as a half message, runs `local_execute` if the broker stored it with status
    /// OK (else the outcome is ROLLBACK), and ends the transaction with the outcome. Returns
    /// the half message's send result and the outcome sent. A failed END_TRANSACTION is only
    /// logged: the broker checks the half message back.
    pub async fn send_in_transaction(
        &self,
        msg: &Message,
        local_execute: impl FnOnce(&Message, &SendResult) -> TransactionState,
    ) -> Result<(SendResult, TransactionState)> {
        let half = self.half_message(msg);
        let result = self.send_half(&half).await?;
        let state = if result.status == SendStatus::Ok {
            local_execute(&half, &result)
        } else {
            TransactionState::Rollback
        };
        if let Err(e) = self.end_transaction(&result, state).await {
            tracing::warn!(target: LOG, msg_id = %result.msg_id, error = %e, "cannot end the transaction; the broker will check back");
        }
        Ok((result, state))
    }
}
