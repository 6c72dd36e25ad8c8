//! The name server: brokers register their topics here, clients ask it for routes.
//!
//! State lives in one [`route::RouteTable`] behind a mutex (never held across an await) and a
//! small in-memory KV store. A background task drops brokers silent for longer than the
//! configured expiry; a closed registering connection drops them at once.

pub mod route;

use crate::remoting::server::{not_supported, BoxFuture};
use crate::remoting::{ConnectionHandle, RequestProcessor};
use rocketmq_protocol::body::register::RegisterBrokerBody;
use rocketmq_protocol::code::{request_code as rc, response_code as resp};
use rocketmq_protocol::command::RemotingCommand;
use route::{Registration, RouteTable};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::watch;

pub struct NameServer {
    routes: Mutex<RouteTable>,
    kv: Mutex<HashMap<String, BTreeMap<String, String>>>,
    broker_expiry: Duration,
}

impl NameServer {
    pub fn new(broker_expiry: Duration) -> Arc<Self> {
        Arc::new(NameServer {
            routes: Mutex::new(RouteTable::default()),
            kv: Mutex::new(HashMap::new()),
            broker_expiry,
        })
    }

    fn routes(&self) -> std::sync::MutexGuard<'_, RouteTable> {
        self.routes.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn kv(&self) -> std::sync::MutexGuard<'_, HashMap<String, BTreeMap<String, String>>> {
        self.kv.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Periodically drops brokers that stopped registering; ends on shutdown.
    pub async fn run_expiry(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        let period =
            (self.broker_expiry / 4).clamp(Duration::from_millis(50), Duration::from_secs(10));
        let mut ticker = tokio::time::interval(period);
        loop {
            tokio::select! {
                _ = ticker.tick() => {
                    let gone = self.routes().expire(Instant::now(), self.broker_expiry);
                    for addr in gone {
                        tracing::info!(broker = addr, "broker expired: no registration for {:?}", self.broker_expiry);
                    }
                }
                _ = crate::util::until_true(&mut shutdown) => return,
            }
        }
    }

    /// Whether a broker address is currently registered (for tests and diagnostics).
    pub fn is_broker_live(&self, broker_addr: &str) -> bool {
        self.routes().is_live(broker_addr)
    }

    fn handle(&self, conn: &ConnectionHandle, req: &RemotingCommand) -> RemotingCommand {
        match req.code {
            rc::REGISTER_BROKER => self.register_broker(conn, req),
            rc::UNREGISTER_BROKER => {
                let name = req.field("brokerName").unwrap_or_default();
                let addr = req.field("brokerAddr").unwrap_or_default();
                self.routes().unregister(name, addr);
                tracing::info!(broker = addr, "broker unregistered");
                RemotingCommand::response_to(req)
            }
            rc::GET_ROUTEINFO_BY_TOPIC => {
                let topic = req.field("topic").unwrap_or_default();
                match self.routes().route_json(topic) {
                    Some(json) => RemotingCommand::response_to(req).with_body(json.into_bytes()),
                    None => RemotingCommand::response_to(req)
                        .with_code(resp::TOPIC_NOT_EXIST)
                        .with_remark(format!(
                            "No topic route info in name server for the topic: {topic}"
                        )),
                }
            }
            rc::GET_BROKER_CLUSTER_INFO => RemotingCommand::response_to(req)
                .with_body(self.routes().cluster_info_json().into_bytes()),
            rc::GET_ALL_TOPIC_LIST_FROM_NAMESERVER => {
                let topics = self.routes().topics();
                RemotingCommand::response_to(req).with_body(topic_list_json(&topics))
            }
            rc::GET_TOPICS_BY_CLUSTER => {
                let cluster = req.field("cluster").unwrap_or_default();
                let topics = self.routes().topics_of_cluster(cluster);
                RemotingCommand::response_to(req).with_body(topic_list_json(&topics))
            }
            rc::QUERY_DATA_VERSION => {
                let addr = req.field("brokerAddr").unwrap_or_default();
                let theirs: serde_json::Value =
                    serde_json::from_slice(&req.body).unwrap_or(serde_json::Value::Null);
                let mut routes = self.routes();
                let ours = routes.data_version(addr).cloned();
                routes.touch(addr, Instant::now());
                let changed = ours.as_ref() != Some(&theirs);
                let mut r = RemotingCommand::response_to(req).with_field("changed", changed);
                if let Some(ours) = ours {
                    r.body = ours.to_string().into_bytes().into();
                }
                r
            }
            rc::BROKER_HEARTBEAT => {
                let addr = req.field("brokerAddr").unwrap_or_default();
                self.routes().touch(addr, Instant::now());
                RemotingCommand::response_to(req)
            }
            rc::PUT_KV_CONFIG => {
                let (Some(ns), Some(key), Some(value)) =
                    (req.field("namespace"), req.field("key"), req.field("value"))
                else {
                    return RemotingCommand::response_to(req)
                        .with_code(resp::INVALID_PARAMETER)
                        .with_remark("namespace, key and value are required");
                };
                self.kv()
                    .entry(ns.to_string())
                    .or_default()
                    .insert(key.to_string(), value.to_string());
                RemotingCommand::response_to(req)
            }
            rc::GET_KV_CONFIG => {
                let ns = req.field("namespace").unwrap_or_default();
                let key = req.field("key").unwrap_or_default();
                match self.kv().get(ns).and_then(|m| m.get(key)).cloned() {
                    Some(v) => RemotingCommand::response_to(req).with_field("value", v),
                    None => RemotingCommand::response_to(req)
                        .with_code(resp::QUERY_NOT_FOUND)
                        .with_remark(format!("No config item, Namespace: {ns} Key: {key}")),
                }
            }
            rc::DELETE_KV_CONFIG => {
                let ns = req.field("namespace").unwrap_or_default();
                let key = req.field("key").unwrap_or_default();
                if let Some(m) = self.kv().get_mut(ns) {
                    m.remove(key);
                }
                RemotingCommand::response_to(req)
            }
            rc::GET_KVLIST_BY_NAMESPACE => {
                let ns = req.field("namespace").unwrap_or_default();
                match self.kv().get(ns).filter(|m| !m.is_empty()) {
                    Some(m) => RemotingCommand::response_to(req)
                        .with_body(serde_json::json!({ "table": m }).to_string().into_bytes()),
                    None => RemotingCommand::response_to(req)
                        .with_code(resp::QUERY_NOT_FOUND)
                        .with_remark(format!("No config item, Namespace: {ns}")),
                }
            }
            _ => not_supported(req),
        }
    }

    fn register_broker(&self, conn: &ConnectionHandle, req: &RemotingCommand) -> RemotingCommand {
        let (Some(name), Some(addr), Some(cluster)) = (
            req.field("brokerName"),
            req.field("brokerAddr"),
            req.field("clusterName"),
        ) else {
            return RemotingCommand::response_to(req)
                .with_code(resp::INVALID_PARAMETER)
                .with_remark("brokerName, brokerAddr and clusterName are required");
        };
        let broker_id = req.field_i64("brokerId").unwrap_or(0);
        let crc = req.field_i64("bodyCrc32").unwrap_or(0);
        if crc != 0 && !req.body.is_empty() {
            let actual = (crc32fast::hash(&req.body) & 0x7FFF_FFFF) as i64;
            if actual != crc {
                return RemotingCommand::response_to(req)
                    .with_code(resp::SYSTEM_ERROR)
                    .with_remark("crc32 not match");
            }
        }
        let (data_version, topics) = if req.body.is_empty() {
            (serde_json::Value::Null, None)
        } else {
            let compressed = req.field_bool("compressed").unwrap_or(false);
            match RegisterBrokerBody::decode(&req.body, compressed) {
                Ok(body) => {
                    let wrapper = body.topic_config_serialize_wrapper;
                    let topics = wrapper
                        .topic_config_table
                        .into_iter()
                        .map(|(name, mut cfg)| {
                            if cfg.topic_name.is_empty() {
                                cfg.topic_name = name;
                            }
                            cfg
                        })
                        .collect();
                    (
                        serde_json::to_value(&wrapper.data_version).unwrap_or_default(),
                        Some(topics),
                    )
                }
                Err(e) => {
                    return RemotingCommand::response_to(req)
                        .with_code(resp::SYSTEM_ERROR)
                        .with_remark(format!("bad register broker body: {e}"))
                }
            }
        };
        let topic_count = topics.as_ref().map_or(0, Vec::len);
        self.routes().register(
            Registration {
                cluster: cluster.to_string(),
                broker_name: name.to_string(),
                broker_addr: addr.to_string(),
                broker_id,
                data_version,
                topics,
                connection_id: conn.id(),
            },
            Instant::now(),
        );
        tracing::debug!(broker = addr, topics = topic_count, "broker registered");
        RemotingCommand::response_to(req)
            .with_field("haServerAddr", "")
            .with_field("masterAddr", "")
    }
}

fn topic_list_json(topics: &[String]) -> Vec<u8> {
    serde_json::json!({ "topicList": topics })
        .to_string()
        .into_bytes()
}

impl RequestProcessor for NameServer {
    fn process(
        self: Arc<Self>,
        conn: ConnectionHandle,
        request: RemotingCommand,
    ) -> BoxFuture<Option<RemotingCommand>> {
        Box::pin(async move { Some(self.handle(&conn, &request)) })
    }

    fn connection_closed(&self, conn: &ConnectionHandle) {
        for addr in self.routes().connection_closed(conn.id()) {
            tracing::info!(broker = addr, "broker removed: its connection closed");
        }
    }
}
