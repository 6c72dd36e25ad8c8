//! One 5.x client's life with the server: routes per topic, the telemetry stream per endpoint
//! (settings both ways; server commands: orphaned-transaction recovery, verify message,
//! print thread stack), heartbeats, and `NotifyClientTermination` at shutdown.
//!
//! What must stay true:
//! - every endpoint the client talks to has one telemetry stream, opened with the client's
//!   settings and reopened after a break (bounded pause) until shutdown;
//! - the server's settings (retry policy, body size, FIFO, batch size, polling time) replace
//!   the defaults as they arrive; `start` waits for the first ones at most one request timeout;
//! - a recovery command runs the transaction checker on a blocking thread (it may be Python
//!   code taking the GIL), never on a runtime worker, and answers with `EndTransaction`
//!   (source `SOURCE_SERVER_CHECK`) when the checker gives a resolution;
//! - after `shutdown` no task of this session is left running.

use super::error::{check_status, GrpcError, GrpcResult};
use super::message::ReceivedMessage;
use super::settings::{proto_duration, ServerSettings};
use super::signing;
use super::transport::{first_address, to_proto_endpoints, ClientOptions, Transport};
use rocketmq_grpc::v2::{
    settings::PubSub, telemetry_command::Command, ClientType, Code, EndTransactionRequest,
    FilterExpression, HeartbeatRequest, Language, MessageQueue, NotifyClientTerminationRequest,
    Publishing, QueryRouteRequest, Resource, Settings, Status, Subscription, SubscriptionEntry,
    TelemetryCommand, ThreadStackTrace, TransactionResolution, TransactionSource, Ua,
    VerifyMessageResult,
};
use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

const LOG: &str = "rocketmq.client.v5";
const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(10);
const ROUTE_REFRESH_INTERVAL: Duration = Duration::from_secs(30);
const TELEMETRY_REOPEN_PAUSE: Duration = Duration::from_secs(1);

/// Decides a half message's fate when the server asks (`TransactionChecker.check`):
/// `Some(commit)`, or `None` to leave it for a later check.
pub trait TransactionCheck: Send + Sync {
    fn check(&self, message: ReceivedMessage) -> Option<bool>;
}

/// What a consumer subscribes to a topic with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Filter {
    /// `FilterType` value: 1 = TAG, 2 = SQL92.
    pub filter_type: i32,
    pub expression: String,
}

/// The client's side of the settings: what it publishes to or subscribes with.
#[derive(Clone, Debug)]
pub enum Role {
    Producer {
        topics: Vec<String>,
    },
    Consumer {
        client_type: ClientType,
        group: String,
        subscriptions: Vec<(String, Filter)>,
        long_polling_timeout: Duration,
    },
}

const CREATED: u8 = 0;
const RUNNING: u8 = 1;
const STOPPED: u8 = 2;

/// See the module header. Shared (`Arc`) by the producer or consumer and its tasks.
pub struct Session {
    pub transport: Transport,
    role: Mutex<Role>,
    routes: Mutex<HashMap<String, Arc<Vec<MessageQueue>>>>,
    settings: Mutex<ServerSettings>,
    settings_seen: watch::Sender<bool>,
    streams: Mutex<HashMap<String, mpsc::Sender<TelemetryCommand>>>,
    checker: Option<Arc<dyn TransactionCheck>>,
    stop: watch::Sender<bool>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
    state: AtomicU8,
}

impl Session {
    pub fn new(
        options: ClientOptions,
        role: Role,
        checker: Option<Arc<dyn TransactionCheck>>,
    ) -> GrpcResult<Arc<Self>> {
        Ok(Arc::new(Session {
            transport: Transport::new(options)?,
            role: Mutex::new(role),
            routes: Mutex::new(HashMap::new()),
            settings: Mutex::new(ServerSettings::default()),
            settings_seen: watch::channel(false).0,
            streams: Mutex::new(HashMap::new()),
            checker,
            stop: watch::channel(false).0,
            tasks: Mutex::new(Vec::new()),
            state: AtomicU8::new(CREATED),
        }))
    }

    pub fn client_id(&self) -> &str {
        &self.transport.client_id
    }

    pub fn is_running(&self) -> bool {
        self.state.load(Ordering::Acquire) == RUNNING
    }

    pub fn ensure_running(&self, what: &str) -> GrpcResult<()> {
        match self.state.load(Ordering::Acquire) {
            RUNNING => Ok(()),
            CREATED => Err(GrpcError::IllegalState(format!(
                "{what} is not running now; call startup() first"
            ))),
            _ => Err(GrpcError::IllegalState(format!(
                "{what} is shut down; create a new one"
            ))),
        }
    }

    pub fn settings(&self) -> ServerSettings {
        self.settings
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub fn role(&self) -> Role {
        self.role.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Changes the role (subscriptions, topics) and sends the new settings on every stream.
    pub async fn update_role(&self, f: impl FnOnce(&mut Role)) {
        f(&mut self.role.lock().unwrap_or_else(|e| e.into_inner()));
        let cmd = self.settings_command();
        let streams: Vec<_> = self
            .streams
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect();
        for tx in streams {
            let _ = tx.send(cmd.clone()).await;
        }
    }

    fn client_type(&self) -> ClientType {
        match &*self.role.lock().unwrap_or_else(|e| e.into_inner()) {
            Role::Producer { .. } => ClientType::Producer,
            Role::Consumer { client_type, .. } => *client_type,
        }
    }

    fn group(&self) -> Option<Resource> {
        match &*self.role.lock().unwrap_or_else(|e| e.into_inner()) {
            Role::Producer { .. } => None,
            Role::Consumer { group, .. } => Some(self.transport.resource(group)),
        }
    }

    /// The settings this client announces on its telemetry streams.
    fn settings_command(&self) -> TelemetryCommand {
        let t = &self.transport;
        let pub_sub = match &*self.role.lock().unwrap_or_else(|e| e.into_inner()) {
            Role::Producer { topics } => PubSub::Publishing(Publishing {
                topics: topics.iter().map(|n| t.resource(n)).collect(),
                max_body_size: 4 * 1024 * 1024,
                validate_message_type: true,
            }),
            Role::Consumer {
                group,
                subscriptions,
                long_polling_timeout,
                ..
            } => PubSub::Subscription(Subscription {
                group: Some(t.resource(group)),
                subscriptions: subscriptions
                    .iter()
                    .map(|(topic, f)| SubscriptionEntry {
                        topic: Some(t.resource(topic)),
                        expression: Some(FilterExpression {
                            r#type: f.filter_type,
                            expression: f.expression.clone(),
                        }),
                    })
                    .collect(),
                long_polling_timeout: Some(proto_duration(*long_polling_timeout)),
                ..Default::default()
            }),
        };
        TelemetryCommand {
            status: None,
            command: Some(Command::Settings(Settings {
                client_type: Some(self.client_type() as i32),
                access_point: Some(to_proto_endpoints(&t.access_points)),
                backoff_policy: None,
                request_timeout: Some(proto_duration(t.options.request_timeout)),
                user_agent: Some(Ua {
                    language: Language::Python as i32,
                    version: signing::CLIENT_VERSION.to_string(),
                    platform: std::env::consts::OS.to_string(),
                    hostname: signing::host_name(),
                }),
                metric: None,
                pub_sub: Some(pub_sub),
            })),
        }
    }

    fn apply_server_settings(&self, s: Settings) {
        self.settings
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .apply(s);
        self.settings_seen.send_replace(true);
    }

    /// The topic's queues, asked from the server when not cached.
    pub async fn route(&self, topic: &str) -> GrpcResult<Arc<Vec<MessageQueue>>> {
        if let Some(r) = self
            .routes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(topic)
        {
            return Ok(r.clone());
        }
        self.query_route(topic).await
    }

    /// Asks the server for `topic`'s queues and caches them.
    pub async fn query_route(&self, topic: &str) -> GrpcResult<Arc<Vec<MessageQueue>>> {
        let t = &self.transport;
        let req = QueryRouteRequest {
            topic: Some(t.resource(topic)),
            endpoints: Some(to_proto_endpoints(&t.access_points)),
        };
        let resp = t
            .stub(t.access_point())?
            .query_route(t.unary(req))
            .await?
            .into_inner();
        check_status(resp.status.as_ref())?;
        if resp.message_queues.is_empty() {
            return Err(GrpcError::Status {
                code: Code::TopicNotFound as i32,
                message: format!("topic {topic} has no queue"),
            });
        }
        let route = Arc::new(resp.message_queues);
        self.routes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(topic.to_string(), route.clone());
        Ok(route)
    }

    pub fn forget_route(&self, topic: &str) {
        self.routes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(topic);
    }

    /// Every endpoint the client knows: the access point and the routes' brokers.
    fn endpoints(&self) -> Vec<String> {
        let mut set = BTreeSet::new();
        set.insert(self.transport.access_point().to_string());
        for route in self
            .routes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
        {
            for mq in route.iter() {
                if let Some(addr) =
                    first_address(mq.broker.as_ref().and_then(|b| b.endpoints.as_ref()))
                {
                    set.insert(addr);
                }
            }
        }
        set.into_iter().collect()
    }

    /// Fetches the routes of `topics`, opens the telemetry streams, waits (at most one
    /// request timeout) for the server's settings, and starts heartbeats and route refresh.
    pub async fn start(self: &Arc<Self>, topics: &[String]) -> GrpcResult<()> {
        if self
            .state
            .compare_exchange(CREATED, RUNNING, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            return Err(GrpcError::IllegalState(
                "the client was started before; create a new one".into(),
            ));
        }
        for topic in topics {
            if let Err(e) = self.query_route(topic).await {
                self.state.store(STOPPED, Ordering::Release);
                return Err(e);
            }
        }
        self.open_streams();
        let mut seen = self.settings_seen.subscribe();
        let wait = tokio::time::timeout(
            self.transport.options.request_timeout,
            seen.wait_for(|s| *s),
        )
        .await;
        if wait.is_err() {
            tracing::warn!(target: LOG, client_id = self.client_id(),
                "no settings from the server within the request timeout; using defaults");
        }
        let me = self.clone();
        self.spawn(async move { me.heartbeat_loop().await });
        let me = self.clone();
        self.spawn(async move { me.route_refresh_loop().await });
        let me = self.clone();
        self.spawn(async move { me.heartbeat_all().await });
        Ok(())
    }

    fn spawn(&self, fut: impl std::future::Future<Output = ()> + Send + 'static) {
        let handle = tokio::spawn(fut);
        self.tasks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(handle);
    }

    /// Opens a telemetry stream to each known endpoint that has none yet.
    pub fn open_streams(self: &Arc<Self>) {
        for addr in self.endpoints() {
            let mut streams = self.streams.lock().unwrap_or_else(|e| e.into_inner());
            if streams.contains_key(&addr) {
                continue;
            }
            let (tx, rx) = mpsc::channel(64);
            streams.insert(addr.clone(), tx.clone());
            drop(streams);
            let me = self.clone();
            self.spawn(async move { me.telemetry_loop(addr, tx, rx).await });
        }
    }

    async fn telemetry_loop(
        self: Arc<Self>,
        addr: String,
        mut tx: mpsc::Sender<TelemetryCommand>,
        mut rx: mpsc::Receiver<TelemetryCommand>,
    ) {
        let mut stop = self.stop.subscribe();
        loop {
            if *stop.borrow() {
                return;
            }
            let _ = tx.try_send(self.settings_command());
            let opened = match self.transport.stub(&addr) {
                Ok(mut stub) => {
                    let outbound = tokio_stream::wrappers::ReceiverStream::new(rx);
                    let req = self.transport.stream_request(outbound);
                    tokio::select! {
                        r = stub.telemetry(req) => r.map_err(GrpcError::from),
                        _ = stop.changed() => return,
                    }
                }
                Err(e) => Err(e),
            };
            match opened {
                Ok(resp) => {
                    let mut inbound = resp.into_inner();
                    loop {
                        tokio::select! {
                            msg = inbound.message() => match msg {
                                Ok(Some(cmd)) => self.on_command(&addr, cmd, &tx),
                                Ok(None) => break,
                                Err(e) => {
                                    tracing::debug!(target: LOG, endpoint = %addr, error = %e,
                                        "telemetry stream broke");
                                    break;
                                }
                            },
                            _ = stop.changed() => return,
                        }
                    }
                }
                Err(e) => {
                    tracing::debug!(target: LOG, endpoint = %addr, error = %e,
                        "cannot open the telemetry stream");
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(TELEMETRY_REOPEN_PAUSE) => {}
                _ = stop.changed() => return,
            }
            let (ntx, nrx) = mpsc::channel(64);
            tx = ntx;
            rx = nrx;
            self.streams
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(addr.clone(), tx.clone());
        }
    }

    fn on_command(
        self: &Arc<Self>,
        addr: &str,
        cmd: TelemetryCommand,
        tx: &mpsc::Sender<TelemetryCommand>,
    ) {
        let ok = Some(Status {
            code: Code::Ok as i32,
            message: "OK".into(),
        });
        match cmd.command {
            Some(Command::Settings(s)) => self.apply_server_settings(s),
            Some(Command::RecoverOrphanedTransactionCommand(c)) => {
                let Some(checker) = self.checker.clone() else {
                    tracing::warn!(target: LOG, "the server asked for a transaction check, \
                        but this producer has no checker; pass checker= to Producer");
                    return;
                };
                let Some(message) = c.message else { return };
                let me = self.clone();
                let addr = addr.to_string();
                tokio::spawn(async move {
                    let received = ReceivedMessage::from_proto(message, &addr);
                    let topic = received.topic.clone();
                    let message_id = received.message_id.clone();
                    let decided =
                        tokio::task::spawn_blocking(move || checker.check(received)).await;
                    let Ok(Some(commit)) = decided else { return };
                    if let Err(e) = me
                        .end_transaction(
                            &addr,
                            &topic,
                            &message_id,
                            &c.transaction_id,
                            commit,
                            TransactionSource::SourceServerCheck,
                        )
                        .await
                    {
                        tracing::warn!(target: LOG, message_id, error = %e,
                            "cannot answer the transaction check");
                    }
                });
            }
            Some(Command::VerifyMessageCommand(c)) => {
                let _ = tx.try_send(TelemetryCommand {
                    status: ok,
                    command: Some(Command::VerifyMessageResult(VerifyMessageResult {
                        nonce: c.nonce,
                    })),
                });
            }
            Some(Command::PrintThreadStackTraceCommand(c)) => {
                let _ = tx.try_send(TelemetryCommand {
                    status: ok,
                    command: Some(Command::ThreadStackTrace(ThreadStackTrace {
                        nonce: c.nonce,
                        thread_stack_trace: Some(format!(
                            "client {} (Rust runtime; Python stacks are not collected)",
                            self.client_id()
                        )),
                    })),
                });
            }
            _ => {}
        }
    }

    /// Ends a transaction: commits or rolls back the half message.
    pub async fn end_transaction(
        &self,
        addr: &str,
        topic: &str,
        message_id: &str,
        transaction_id: &str,
        commit: bool,
        source: TransactionSource,
    ) -> GrpcResult<()> {
        let t = &self.transport;
        let req = EndTransactionRequest {
            topic: Some(t.resource(topic)),
            message_id: message_id.to_string(),
            transaction_id: transaction_id.to_string(),
            resolution: if commit {
                TransactionResolution::Commit
            } else {
                TransactionResolution::Rollback
            } as i32,
            source: source as i32,
            trace_context: String::new(),
        };
        let resp = t
            .stub(addr)?
            .end_transaction(t.unary(req))
            .await?
            .into_inner();
        check_status(resp.status.as_ref())
    }

    async fn heartbeat_all(&self) {
        let t = &self.transport;
        for addr in self.endpoints() {
            let req = HeartbeatRequest {
                group: self.group(),
                client_type: self.client_type() as i32,
            };
            let Ok(mut stub) = t.stub(&addr) else {
                continue;
            };
            match stub.heartbeat(t.unary(req)).await {
                Ok(r) => {
                    if let Err(e) = check_status(r.get_ref().status.as_ref()) {
                        tracing::debug!(target: LOG, endpoint = %addr, error = %e, "heartbeat refused");
                    }
                }
                Err(e) => {
                    tracing::debug!(target: LOG, endpoint = %addr, error = %e, "heartbeat failed")
                }
            }
        }
    }

    async fn heartbeat_loop(self: Arc<Self>) {
        let mut stop = self.stop.subscribe();
        loop {
            tokio::select! {
                _ = tokio::time::sleep(HEARTBEAT_INTERVAL) => self.heartbeat_all().await,
                _ = stop.changed() => return,
            }
        }
    }

    async fn route_refresh_loop(self: Arc<Self>) {
        let mut stop = self.stop.subscribe();
        loop {
            tokio::select! {
                _ = tokio::time::sleep(ROUTE_REFRESH_INTERVAL) => {}
                _ = stop.changed() => return,
            }
            let topics: Vec<String> = self
                .routes
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .keys()
                .cloned()
                .collect();
            for topic in topics {
                if let Err(e) = self.query_route(&topic).await {
                    tracing::debug!(target: LOG, topic, error = %e, "route refresh failed");
                }
            }
            self.open_streams();
        }
    }

    /// A receiver that turns true at shutdown (for loops of the owner).
    pub fn stopped(&self) -> watch::Receiver<bool> {
        self.stop.subscribe()
    }

    /// Stops the tasks, tells every endpoint the client is leaving, closes the streams.
    /// Idempotent.
    pub async fn shutdown(&self) {
        if self.state.swap(STOPPED, Ordering::AcqRel) != RUNNING {
            return;
        }
        self.stop.send_replace(true);
        let t = &self.transport;
        for addr in self.endpoints() {
            let req = NotifyClientTerminationRequest {
                group: self.group(),
            };
            if let Ok(mut stub) = t.stub(&addr) {
                if let Err(e) = stub.notify_client_termination(t.unary(req)).await {
                    tracing::debug!(target: LOG, endpoint = %addr, error = %e,
                        "cannot notify the termination");
                }
            }
        }
        self.streams
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
        let tasks = std::mem::take(&mut *self.tasks.lock().unwrap_or_else(|e| e.into_inner()));
        for task in tasks {
            task.abort();
        }
    }
}
