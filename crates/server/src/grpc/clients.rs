//! The gRPC clients this endpoint knows, by client id (`x-mq-client-id`): for each, the
//! connection handle it is registered with in the broker's client table, its last settings
//! and its live Telemetry stream.
//!
//! How a server push reaches a gRPC client: the broker's client table (producer and consumer
//! groups) keeps connection handles, and its pushes (transaction check-backs) go to a handle.
//! A gRPC client is registered with a detached handle of its own; a task per client reads
//! what the broker pushes to it and turns CHECK_TRANSACTION_STATE into a
//! `RecoverOrphanedTransactionCommand` on the client's Telemetry stream (other pushes, such as
//! consumer membership changes, mean nothing to a gRPC client and are dropped).
//!
//! What must stay true:
//! - one handle per live client id; a closed handle (the client terminated, or its Telemetry
//!   stream ended) is replaced by a new one on the client's next request, and closing one
//!   unregisters it from the broker's client table;
//! - the task of a handle ends when the handle is closed; the mutex is never held across an
//!   await.

use crate::broker::Broker;
use crate::remoting::ConnectionHandle;
use rocketmq_grpc::v2;
use rocketmq_protocol::code::request_code;
use rocketmq_protocol::header::CheckTransactionStateRequestHeader;
use rocketmq_protocol::RemotingCommand;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::sync::mpsc;
use tonic::Status;

/// What a Telemetry stream is sent through.
pub(crate) type TelemetrySender = mpsc::Sender<Result<v2::TelemetryCommand, Status>>;

/// How many commands may wait to be written to one Telemetry stream; more are dropped (a
/// check-back is asked again by the next pass).
pub(crate) const TELEMETRY_QUEUE: usize = 64;

struct Client {
    conn: ConnectionHandle,
    /// The live Telemetry stream: its id and sender.
    telemetry: Option<(u64, TelemetrySender)>,
    settings: Option<v2::Settings>,
    last_seen: Instant,
    /// When the client was last registered as a producer of each topic it sent to.
    producer_of: HashMap<String, Instant>,
}

/// How often a client that keeps sending to a topic is registered again as its producer
/// (refreshing its heartbeat in the broker's client table) at most.
pub(crate) const PRODUCER_REFRESH: std::time::Duration = std::time::Duration::from_secs(10);

/// The gRPC clients of one endpoint.
pub(crate) struct GrpcClients {
    broker: Arc<Broker>,
    clients: Arc<Mutex<HashMap<String, Client>>>,
    next_stream: AtomicU64,
}

impl GrpcClients {
    pub(crate) fn new(broker: Arc<Broker>) -> GrpcClients {
        GrpcClients {
            broker,
            clients: Arc::default(),
            next_stream: AtomicU64::new(1),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Client>> {
        self.clients.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The handle `client_id` is registered with, made on first use (or when the last one was
    /// closed). Also forgets clients idle longer than the broker's client expiry.
    pub(crate) fn handle(&self, client_id: &str, peer: SocketAddr) -> ConnectionHandle {
        let mut clients = self.lock();
        if let Some(c) = clients.get_mut(client_id) {
            if !c.conn.is_closed() {
                c.last_seen = Instant::now();
                return c.conn.clone();
            }
        }
        let idle = self.broker.config.client_expiry;
        let mut gone = Vec::new();
        clients.retain(|_, c| {
            let keep = c.telemetry.is_some() || c.last_seen.elapsed() < idle;
            if !keep {
                gone.push(c.conn.clone());
            }
            keep
        });
        let (conn, pushes) = ConnectionHandle::detached(peer);
        let old = clients.insert(
            client_id.to_string(),
            Client {
                conn: conn.clone(),
                telemetry: None,
                settings: None,
                last_seen: Instant::now(),
                producer_of: HashMap::new(),
            },
        );
        if let Some(old) = old {
            // Keep what the client told before its handle was closed.
            if let Some(c) = clients.get_mut(client_id) {
                c.settings = old.settings;
                c.telemetry = old.telemetry;
            }
        }
        drop(clients);
        for conn in gone {
            self.close(&conn);
        }
        tokio::spawn(forward_pushes(
            conn.clone(),
            pushes,
            client_id.to_string(),
            self.clients.clone(),
        ));
        conn
    }

    /// Makes `sender` the client's Telemetry stream; returns the stream's id (for
    /// [`Self::telemetry_ended`]).
    pub(crate) fn telemetry_started(
        &self,
        client_id: &str,
        peer: SocketAddr,
        sender: TelemetrySender,
    ) -> u64 {
        self.handle(client_id, peer);
        let id = self.next_stream.fetch_add(1, Ordering::Relaxed);
        if let Some(c) = self.lock().get_mut(client_id) {
            c.telemetry = Some((id, sender));
        }
        id
    }

    /// The Telemetry stream `stream` of `client_id` ended: when it is still the client's
    /// stream, the client is gone (the official clients keep one stream for their lifetime),
    /// so its handle is closed and it leaves the broker's client table.
    pub(crate) fn telemetry_ended(&self, client_id: &str, stream: u64) {
        let conn = {
            let mut clients = self.lock();
            match clients.get_mut(client_id) {
                Some(c) if c.telemetry.as_ref().is_some_and(|(id, _)| *id == stream) => {
                    c.telemetry = None;
                    Some(c.conn.clone())
                }
                _ => None,
            }
        };
        if let Some(conn) = conn {
            self.close(&conn);
        }
    }

    /// Whether the sender of a message to `topic` is to be registered as its producer now:
    /// the first time, and again every [`PRODUCER_REFRESH`] (a send costs no registration in
    /// between).
    pub(crate) fn producer_registration_due(&self, client_id: &str, topic: &str) -> bool {
        let mut clients = self.lock();
        let Some(c) = clients.get_mut(client_id) else {
            return true;
        };
        if c.conn.is_closed() {
            return true;
        }
        match c.producer_of.get_mut(topic) {
            Some(at) if at.elapsed() < PRODUCER_REFRESH => false,
            Some(at) => {
                *at = Instant::now();
                true
            }
            None => {
                c.producer_of.insert(topic.to_string(), Instant::now());
                true
            }
        }
    }

    pub(crate) fn set_settings(&self, client_id: &str, settings: v2::Settings) {
        if let Some(c) = self.lock().get_mut(client_id) {
            c.settings = Some(settings);
        }
    }

    /// The settings the client last sent over Telemetry.
    pub(crate) fn settings(&self, client_id: &str) -> Option<v2::Settings> {
        self.lock().get(client_id)?.settings.clone()
    }

    /// The client terminated (NotifyClientTermination): it leaves the broker's client table.
    pub(crate) fn terminated(&self, client_id: &str) {
        let client = self.lock().remove(client_id);
        if let Some(c) = client {
            self.close(&c.conn);
        }
    }

    fn close(&self, conn: &ConnectionHandle) {
        conn.close();
        self.broker.connection_gone(conn.id());
    }
}

/// Reads what the broker pushes to a client's handle until it is closed, sending check-backs
/// over the client's Telemetry stream.
async fn forward_pushes(
    conn: ConnectionHandle,
    mut pushes: mpsc::Receiver<RemotingCommand>,
    client_id: String,
    clients: Arc<Mutex<HashMap<String, Client>>>,
) {
    loop {
        let cmd = tokio::select! {
            cmd = pushes.recv() => match cmd {
                Some(cmd) => cmd,
                None => return,
            },
            _ = conn.closed() => return,
        };
        if cmd.code != request_code::CHECK_TRANSACTION_STATE {
            continue;
        }
        let Some(command) = recovery_command(&cmd) else {
            tracing::warn!(
                client_id,
                "a transaction check-back could not be read; dropped"
            );
            continue;
        };
        let sender = {
            let clients = clients.lock().unwrap_or_else(|p| p.into_inner());
            clients
                .get(&client_id)
                .and_then(|c| c.telemetry.as_ref())
                .map(|(_, s)| s.clone())
        };
        let sent = sender.is_some_and(|s| s.try_send(Ok(command)).is_ok());
        if !sent {
            tracing::info!(
                client_id,
                "transaction check-back dropped: the client has no open Telemetry stream"
            );
        }
    }
}

/// CHECK_TRANSACTION_STATE as the RocketMQ 5 command: the message (its real topic) and the
/// transaction id the client answers EndTransaction with.
fn recovery_command(cmd: &RemotingCommand) -> Option<v2::TelemetryCommand> {
    let header: CheckTransactionStateRequestHeader = cmd.decode_header().ok()?;
    let (stored, _) = rocketmq_protocol::message::decode_stored(&cmd.body).ok()?;
    let transaction_id = super::transaction::transaction_id(
        header.commit_log_offset,
        header.tran_state_table_offset,
    );
    let message = super::transaction::recovered_message(stored);
    Some(v2::TelemetryCommand {
        status: Some(super::status::ok()),
        command: Some(
            v2::telemetry_command::Command::RecoverOrphanedTransactionCommand(
                v2::RecoverOrphanedTransactionCommand {
                    message: Some(message),
                    transaction_id,
                },
            ),
        ),
    })
}
