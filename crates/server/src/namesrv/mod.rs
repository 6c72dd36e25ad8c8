//! The name server: brokers register their topics here, clients ask it for routes.
//!
//! [`NameServer`] is the typed operations layer (register, unregister, heartbeat, route,
//! cluster info, topic lists, KV config), speaking only the protocol crate's body types;
//! [`processor`] is the remoting front end on top of it (decode a request, call one
//! operation, encode the answer). A background task drops brokers silent for longer than the
//! configured expiry; a closed registering connection drops them at once.
//!
//! What must stay true: the route table and the KV store each sit behind their own mutex,
//! never held across an await and never both at once.

mod kv;
mod processor;
mod route;

pub use route::{DataVersionCheck, Registration};

use kv::KvConfig;
use rocketmq_protocol::body::{ClusterInfo, DataVersion, KvTable, TopicList, TopicRouteData};
use route::RouteTable;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::sync::watch;

pub struct NameServer {
    routes: Mutex<RouteTable>,
    kv: Mutex<KvConfig>,
    broker_expiry: Duration,
}

impl NameServer {
    pub fn new(broker_expiry: Duration) -> Arc<Self> {
        Arc::new(NameServer {
            routes: Mutex::new(RouteTable::default()),
            kv: Mutex::new(KvConfig::default()),
            broker_expiry,
        })
    }

    fn routes(&self) -> MutexGuard<'_, RouteTable> {
        self.routes.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn kv(&self) -> MutexGuard<'_, KvConfig> {
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

    /// Records a broker's registration: its address, liveness and (for a master) topics.
    pub fn register_broker(&self, registration: Registration) {
        self.routes().register(registration, Instant::now());
    }

    /// Removes one broker address and every route only it served.
    pub fn unregister_broker(&self, broker_name: &str, broker_addr: &str) {
        self.routes().unregister(broker_name, broker_addr);
    }

    /// Keeps a registered broker alive; an unknown address is ignored.
    pub fn broker_heartbeat(&self, broker_addr: &str) {
        self.routes().touch(broker_addr, Instant::now());
    }

    /// Compares a broker's topic-config version with the registered one, and counts as a
    /// heartbeat.
    pub fn query_data_version(
        &self,
        broker_addr: &str,
        theirs: Option<&DataVersion>,
    ) -> DataVersionCheck {
        let mut routes = self.routes();
        let check = routes.check_data_version(broker_addr, theirs);
        routes.touch(broker_addr, Instant::now());
        check
    }

    /// Drops the brokers that registered over a connection that closed; returns their
    /// addresses.
    pub fn drop_brokers_of_connection(&self, connection_id: u64) -> Vec<String> {
        self.routes().connection_closed(connection_id)
    }

    /// The route of `topic`, or `None` when no live broker serves it.
    pub fn topic_route(&self, topic: &str) -> Option<TopicRouteData> {
        self.routes().route(topic)
    }

    pub fn cluster_info(&self) -> ClusterInfo {
        self.routes().cluster_info()
    }

    /// Every topic with a route.
    pub fn all_topics(&self) -> TopicList {
        TopicList {
            topic_list: self.routes().topics(),
            ..TopicList::default()
        }
    }

    /// Topics served by the brokers of `cluster`.
    pub fn topics_of_cluster(&self, cluster: &str) -> TopicList {
        TopicList {
            topic_list: self.routes().topics_of_cluster(cluster),
            ..TopicList::default()
        }
    }

    pub fn put_kv_config(&self, namespace: &str, key: &str, value: &str) {
        self.kv().put(namespace, key, value);
    }

    pub fn kv_config(&self, namespace: &str, key: &str) -> Option<String> {
        self.kv().get(namespace, key)
    }

    pub fn delete_kv_config(&self, namespace: &str, key: &str) {
        self.kv().delete(namespace, key);
    }

    /// Every key of `namespace`, or `None` when it has none.
    pub fn kv_list(&self, namespace: &str) -> Option<KvTable> {
        self.kv().list(namespace)
    }
}
