//! `ClientInstance`: what producers and consumers of one process share for one set of name
//! servers: the connection pool, the name-server list, the route cache, the client id.
//!
//! Route lookups fail over across name servers in order starting from the last one that
//! answered. Cached routes are refreshed every `route_refresh_interval` (30 s) by the
//! maintenance task ([`ClientInstance::start_maintenance`]) and kept when every name server is
//! down, so that clients keep working from what they know. With a name-server domain (an HTTP
//! URL, spec 5.13) the list is fetched at start (and whenever it is empty) and re-fetched every
//! `namesrv_refresh_interval` (2 min); a failed fetch keeps the current list.
//!
//! What must stay true: the maintenance task holds only a `Weak` reference (dropping the last
//! client ends it) and stops at [`ClientInstance::shutdown`]; no lock is held across `.await`.

use crate::config::ClientConfig;
use crate::error::{ClientError, Result};
use crate::namesrv_domain::{fetch_name_servers, HttpUrl};
use crate::remoting::{ConnectionPool, RequestHandler};
use crate::route::TopicRoute;
use rocketmq_protocol::body::route::TopicRouteData;
use rocketmq_protocol::code::{request_code, response_code};
use rocketmq_protocol::header::GetRouteInfoRequestHeader;
use rocketmq_protocol::RemotingCommand;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// Log target: a child of the `rocketmq` logger once bridged to Python `logging`.
const LOG: &str = "rocketmq.client.instance";

/// The auto-create template topic every broker serves.
pub const AUTO_CREATE_TOPIC: &str = "TBW102";
/// Queues a producer asks for when a topic is auto-created.
pub const DEFAULT_TOPIC_QUEUE_NUMS: i32 = 4;
/// The version ordinal we announce (V4_9_4): Java name servers answer it with strict JSON.
pub const CLIENT_VERSION: i32 = 401;

pub struct ClientInstance {
    pub config: ClientConfig,
    pub client_id: String,
    pub pool: ConnectionPool,
    name_servers: Mutex<Vec<String>>,
    ns_index: AtomicUsize,
    routes: Mutex<HashMap<String, Arc<TopicRoute>>>,
    /// The parsed `namesrv_domain`: the URL, or why it is unusable.
    domain: Option<std::result::Result<HttpUrl, ClientError>>,
    maintenance_started: AtomicBool,
    shut_down: AtomicBool,
    stop: Arc<Notify>,
}

impl ClientInstance {
    pub fn new(config: ClientConfig, handler: Option<Arc<dyn RequestHandler>>) -> Arc<Self> {
        // Unique across hosts and processes, and across instances in one process: the
        // broker and the rebalance algorithm tell consumers apart by this id alone.
        let client_id = format!(
            "{}@{}#{}#{:08x}",
            host_name(),
            std::process::id(),
            config.instance_name,
            rand::random::<u32>()
        );
        Arc::new(ClientInstance {
            pool: ConnectionPool::new(config.connect_timeout, handler)
                .with_credentials(config.credentials.clone()),
            name_servers: Mutex::new(config.name_servers.clone()),
            ns_index: AtomicUsize::new(0),
            routes: Mutex::new(HashMap::new()),
            domain: config.namesrv_domain.as_deref().map(HttpUrl::parse),
            maintenance_started: AtomicBool::new(false),
            shut_down: AtomicBool::new(false),
            stop: Arc::new(Notify::new()),
            client_id,
            config,
        })
    }

    /// Starts the maintenance task on `runtime` (route refresh, name-server domain refresh).
    /// Calling it again does nothing.
    pub fn start_maintenance(self: &Arc<Self>, runtime: &tokio::runtime::Handle) {
        if self.maintenance_started.swap(true, Ordering::SeqCst) {
            return;
        }
        runtime.spawn(Self::maintenance(Arc::downgrade(self)));
    }

    async fn maintenance(this: Weak<Self>) {
        // The stop signal is held on its own so that no strong reference to the client is
        // kept while sleeping: dropping the last client ends the task at its next wake-up.
        let (route_every, domain_every, stop) = match this.upgrade() {
            Some(c) => (
                c.config
                    .route_refresh_interval
                    .max(Duration::from_millis(10)),
                c.config
                    .namesrv_refresh_interval
                    .max(Duration::from_millis(10)),
                c.stop.clone(),
            ),
            None => return,
        };
        let start = Instant::now();
        // The domain is fetched at once; routes are fetched on first use.
        let mut next_domain = start;
        let mut next_routes = start + route_every;
        loop {
            let now = Instant::now();
            if now >= next_domain {
                let Some(c) = this.upgrade() else { return };
                if c.domain.is_some() {
                    if let Err(e) = c.update_name_servers_from_domain().await {
                        tracing::warn!(target: LOG, error = %e, "name-server list lookup failed; keeping the current list");
                    }
                }
                next_domain = Instant::now() + domain_every;
            }
            if now >= next_routes {
                let Some(c) = this.upgrade() else { return };
                c.refresh_routes().await;
                next_routes = Instant::now() + route_every;
            }
            let wake = next_domain.min(next_routes);
            let stopped = stop.notified();
            tokio::pin!(stopped);
            // Registers the waiter before the flag is read, so a shutdown between the check
            // and the select below is not missed.
            stopped.as_mut().enable();
            match this.upgrade() {
                Some(c) if !c.shut_down.load(Ordering::SeqCst) => {}
                _ => return,
            }
            tokio::select! {
                _ = tokio::time::sleep_until(wake.into()) => {}
                _ = &mut stopped => return,
            }
        }
    }

    /// Stops the maintenance task and closes every connection. Idempotent.
    pub fn shutdown(&self) {
        self.shut_down.store(true, Ordering::SeqCst);
        self.stop.notify_waiters();
        self.pool.clear();
    }

    pub fn is_shut_down(&self) -> bool {
        self.shut_down.load(Ordering::SeqCst)
    }

    /// Resolves once [`ClientInstance::shutdown`] has been called (at once if it was): what
    /// a long-polling call races against, so that shutdown ends it.
    pub async fn shut_down_signal(&self) {
        let stopped = self.stop.notified();
        tokio::pin!(stopped);
        // Registered before the flag is read: a shutdown in between is not missed.
        stopped.as_mut().enable();
        if self.is_shut_down() {
            return;
        }
        stopped.await;
    }

    /// Fetches the name-server list from the configured domain and uses it. Returns the list.
    pub async fn update_name_servers_from_domain(&self) -> Result<Vec<String>> {
        let url = match &self.domain {
            None => {
                return Err(ClientError::IllegalArgument(
                    "no name-server domain is set".into(),
                ))
            }
            Some(Err(e)) => return Err(e.clone()),
            Some(Ok(url)) => url,
        };
        let list = fetch_name_servers(url, self.config.request_timeout).await?;
        let changed = {
            let mut current = self.name_servers.lock().unwrap();
            let changed = *current != list;
            if changed {
                *current = list.clone();
            }
            changed
        };
        if changed {
            self.ns_index.store(0, Ordering::Relaxed);
            tracing::info!(target: LOG, url = %url, name_servers = %list.join(";"), "name-server list updated");
        }
        Ok(list)
    }

    pub fn name_servers(&self) -> Vec<String> {
        self.name_servers.lock().unwrap().clone()
    }

    pub fn set_name_servers(&self, list: Vec<String>) {
        *self.name_servers.lock().unwrap() = list;
    }

    /// Builds a request stamped with our language and version.
    pub fn request(code: i32) -> RemotingCommand {
        let mut cmd = RemotingCommand::new_request(code);
        cmd.version = CLIENT_VERSION;
        cmd
    }

    /// Asks the name servers for `topic`'s route. `Ok(None)`: a name server answered that
    /// the topic does not exist.
    async fn query_route(&self, topic: &str) -> Result<Option<TopicRouteData>> {
        let mut servers = self.name_servers();
        if servers.is_empty() && self.domain.is_some() {
            servers =
                self.update_name_servers_from_domain()
                    .await
                    .map_err(|e| ClientError::NoRoute {
                        topic: topic.to_string(),
                        name_servers: vec![],
                        cause: format!("the name-server list lookup failed: {e}"),
                    })?;
        }
        if servers.is_empty() {
            return Err(ClientError::NoRoute {
                topic: topic.to_string(),
                name_servers: vec![],
                cause: "no name server address is set (call set_namesrv_addr)".into(),
            });
        }
        let start = self.ns_index.load(Ordering::Relaxed);
        let mut last_err = None;
        for i in 0..servers.len() {
            let idx = (start + i) % servers.len();
            let addr = &servers[idx];
            let req = Self::request(request_code::GET_ROUTEINFO_BY_TOPIC).with_header(
                &GetRouteInfoRequestHeader {
                    topic: topic.to_string(),
                    accept_standard_json_only: Some(true),
                },
            );
            match self
                .pool
                .invoke(addr, req, self.config.request_timeout)
                .await
            {
                Ok(resp) => {
                    self.ns_index.store(idx, Ordering::Relaxed);
                    return match resp.code {
                        response_code::SUCCESS => {
                            let data: TopicRouteData =
                                rocketmq_protocol::body::decode_json(&resp.body).map_err(|e| {
                                    ClientError::Protocol(format!(
                                        "bad route data for {topic} from {addr}: {e}"
                                    ))
                                })?;
                            Ok(Some(data))
                        }
                        response_code::TOPIC_NOT_EXIST => Ok(None),
                        code => Err(ClientError::Remote {
                            addr: addr.clone(),
                            code,
                            remark: resp.remark.unwrap_or_default(),
                        }),
                    };
                }
                Err(e) => last_err = Some(e),
            }
        }
        Err(ClientError::NoRoute {
            topic: topic.to_string(),
            name_servers: servers,
            cause: last_err.map(|e| e.to_string()).unwrap_or_default(),
        })
    }

    /// The route to publish to `topic`: its own, or, for a topic no broker has yet, the
    /// auto-create template's queues (the broker creates the topic on the first send).
    pub async fn publish_route(&self, topic: &str) -> Result<Arc<TopicRoute>> {
        if let Some(r) = self.routes.lock().unwrap().get(topic) {
            if !r.publish.is_empty() {
                return Ok(r.clone());
            }
        }
        self.fetch_publish_route(topic).await
    }

    /// Looks `topic` up for publishing now (falling back to the template) and caches it; a
    /// cached route survives a name-server outage.
    async fn fetch_publish_route(&self, topic: &str) -> Result<Arc<TopicRoute>> {
        let route = match self.query_route(topic).await {
            Ok(Some(data)) => TopicRoute::new(topic, data),
            Ok(None) => match self.query_route(AUTO_CREATE_TOPIC).await {
                Ok(Some(t)) => TopicRoute::from_template(topic, &t, DEFAULT_TOPIC_QUEUE_NUMS),
                Ok(None) => {
                    return Err(ClientError::NoRoute {
                        topic: topic.to_string(),
                        name_servers: self.name_servers(),
                        cause: "the topic does not exist and auto-creation is off".into(),
                    })
                }
                Err(e) => return self.cached_or(topic, e),
            },
            Err(e) => return self.cached_or(topic, e),
        };
        let route = Arc::new(route);
        self.routes
            .lock()
            .unwrap()
            .insert(topic.to_string(), route.clone());
        Ok(route)
    }

    /// Keeps working from a cached route when the name servers are down.
    fn cached_or(&self, topic: &str, e: ClientError) -> Result<Arc<TopicRoute>> {
        match self.routes.lock().unwrap().get(topic) {
            Some(r) => Ok(r.clone()),
            None => Err(e),
        }
    }

    /// The route to consume `topic`, which must exist.
    pub async fn subscribe_route(&self, topic: &str) -> Result<Arc<TopicRoute>> {
        if let Some(r) = self.routes.lock().unwrap().get(topic) {
            if !r.subscribe.is_empty() {
                return Ok(r.clone());
            }
        }
        self.fetch_route(topic).await
    }

    /// Fetches `topic`'s route now and caches it; a cached route survives a name-server outage.
    pub async fn fetch_route(&self, topic: &str) -> Result<Arc<TopicRoute>> {
        match self.query_route(topic).await {
            Ok(Some(data)) => {
                let route = Arc::new(TopicRoute::new(topic, data));
                self.routes
                    .lock()
                    .unwrap()
                    .insert(topic.to_string(), route.clone());
                Ok(route)
            }
            Ok(None) => Err(ClientError::NoRoute {
                topic: topic.to_string(),
                name_servers: self.name_servers(),
                cause: "the name server does not know this topic".into(),
            }),
            Err(e) => match self.routes.lock().unwrap().get(topic) {
                Some(r) => Ok(r.clone()),
                None => Err(e),
            },
        }
    }

    /// Re-fetches every cached route (the periodic refresh). A route built from the template
    /// is looked up again as a publish route, so it becomes the topic's own once it exists.
    pub async fn refresh_routes(&self) {
        let topics: Vec<(String, bool)> = self
            .routes
            .lock()
            .unwrap()
            .iter()
            .map(|(t, r)| (t.clone(), r.from_template))
            .collect();
        for (t, from_template) in topics {
            let result = if from_template {
                self.fetch_publish_route(&t).await
            } else {
                self.fetch_route(&t).await
            };
            if let Err(e) = result {
                tracing::debug!(target: LOG, topic = %t, error = %e, "route refresh failed");
            }
        }
    }

    /// The cached route of `topic`, if any (what the last lookup or refresh found).
    pub fn cached_route(&self, topic: &str) -> Option<Arc<TopicRoute>> {
        self.routes.lock().unwrap().get(topic).cloned()
    }

    /// The master address of a broker, from any cached route.
    pub fn broker_addr(&self, broker_name: &str) -> Option<String> {
        self.routes
            .lock()
            .unwrap()
            .values()
            .find_map(|r| r.masters.get(broker_name).cloned())
    }

    /// Every master address in the cached routes.
    pub fn all_broker_addrs(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .routes
            .lock()
            .unwrap()
            .values()
            .flat_map(|r| r.masters.values().cloned())
            .collect();
        v.sort();
        v.dedup();
        v
    }

    /// Sends `request` to a broker and turns a transport failure into a named error.
    pub async fn invoke(&self, addr: &str, request: RemotingCommand) -> Result<RemotingCommand> {
        self.pool
            .invoke(addr, request, self.config.request_timeout)
            .await
    }
}

/// A name for this host in client ids. Only used as text; nothing connects to it.
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".to_string())
}
