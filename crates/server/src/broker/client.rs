//! Producer and consumer groups as the broker sees them (Java `ProducerManager` and
//! `ConsumerManager`): which client ids are connected over which connections, and each consumer
//! group's subscriptions from its last heartbeat.
//!
//! What must stay true:
//! - a client is registered per (group, connection); the consumer id list of a group is the
//!   distinct client ids exactly as the clients sent them (rebalance compares them verbatim);
//! - every operation that changes a consumer group's membership returns the connections to
//!   notify (NOTIFY_CONSUMER_IDS_CHANGED), so the caller can push after releasing the lock;
//! - subscriptions are replaced by each heartbeat (Java keeps the newest); pulls without the
//!   subscription bit are filtered with them;
//! - each subscription's filter (tag set or SQL92 selector) is built when the heartbeat brings
//!   it, kept with it (a failed build too, so pulls can say why) and rebuilt only when the
//!   expression or its type changes;
//! - the mutex is never held across an await.

use crate::broker::message_filter::{FilterError, MessageFilter};
use crate::remoting::ConnectionHandle;
use rocketmq_protocol::body::{ConsumeFromWhere, ConsumeType, MessageModel};
use rocketmq_protocol::code::{request_code, LanguageCode};
use rocketmq_protocol::RemotingCommand;
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Clone, Debug)]
pub struct ClientChannel {
    pub client_id: String,
    pub conn: ConnectionHandle,
    pub last_heartbeat: Instant,
    /// The language of the client's heartbeat (a CPP client gets C-shaped bodies).
    pub language: LanguageCode,
}

/// One subscription of a consumer group, from a heartbeat.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subscription {
    pub topic: String,
    pub sub_string: String,
    pub sub_version: i64,
    /// `TAG` or `SQL92`.
    pub expression_type: String,
}

/// Consumer-group attributes from the heartbeat (kept for admin queries and broadcasting).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConsumerGroupMeta {
    /// Pull (`CONSUME_ACTIVELY`) or push.
    pub consume_type: ConsumeType,
    pub message_model: MessageModel,
    pub consume_from_where: ConsumeFromWhere,
}

/// A subscription's filter as built from its heartbeat, or why it could not be built.
pub type CompiledFilter = Result<Arc<MessageFilter>, FilterError>;

fn compile(s: &Subscription) -> CompiledFilter {
    MessageFilter::build(Some(&s.expression_type), &s.sub_string).map(Arc::new)
}

#[derive(Default)]
struct ConsumerGroup {
    channels: HashMap<u64, ClientChannel>,
    subscriptions: HashMap<String, Subscription>,
    /// The filter of each subscription, by topic.
    filters: HashMap<String, CompiledFilter>,
    meta: ConsumerGroupMeta,
}

impl ConsumerGroup {
    fn client_ids(&self) -> BTreeSet<&str> {
        self.channels
            .values()
            .map(|c| c.client_id.as_str())
            .collect()
    }
}

#[derive(Default)]
struct Inner {
    consumers: HashMap<String, ConsumerGroup>,
    producers: HashMap<String, HashMap<u64, ClientChannel>>,
}

/// Connections of one consumer group that must be told its membership changed.
#[derive(Debug)]
pub struct Notification {
    pub group: String,
    pub connections: Vec<ConnectionHandle>,
}

impl Notification {
    /// Pushes NOTIFY_CONSUMER_IDS_CHANGED (one-way) to every connection of the group.
    pub fn push(self) {
        for conn in self.connections {
            let cmd = RemotingCommand::new_request(request_code::NOTIFY_CONSUMER_IDS_CHANGED)
                .with_field("consumerGroup", &self.group);
            if !conn.send_oneway_request(cmd) {
                tracing::debug!(
                    group = self.group,
                    conn = conn.id(),
                    "could not notify consumer"
                );
            }
        }
    }
}

#[derive(Default)]
pub struct ClientManager {
    inner: Mutex<Inner>,
}

impl ClientManager {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn register_producer(&self, group: &str, channel: ClientChannel) {
        self.lock()
            .producers
            .entry(group.to_string())
            .or_default()
            .insert(channel.conn.id(), channel);
    }

    /// One open connection of a producer group (the transaction check-back target): the one
    /// with the most recent heartbeat. `None` when the group has no live producer.
    pub fn producer_connection(&self, group: &str) -> Option<ConnectionHandle> {
        self.lock()
            .producers
            .get(group)?
            .values()
            .filter(|c| !c.conn.is_closed())
            .max_by_key(|c| c.last_heartbeat)
            .map(|c| c.conn.clone())
    }

    /// Registers (or refreshes) a consumer and replaces the group's subscriptions (`None`
    /// keeps them: a heartbeat sent "without subscriptions"). Returns a notification when the
    /// group's client id set changed.
    pub fn register_consumer(
        &self,
        group: &str,
        channel: ClientChannel,
        meta: ConsumerGroupMeta,
        subscriptions: Option<Vec<Subscription>>,
    ) -> Option<Notification> {
        let mut inner = self.lock();
        let entry = inner.consumers.entry(group.to_string()).or_default();
        let before: BTreeSet<String> = entry.client_ids().into_iter().map(String::from).collect();
        entry.channels.insert(channel.conn.id(), channel);
        entry.meta = meta;
        if let Some(subscriptions) = subscriptions {
            let old = std::mem::take(&mut entry.subscriptions);
            let mut old_filters = std::mem::take(&mut entry.filters);
            entry.subscriptions = subscriptions
                .into_iter()
                .map(|s| (s.topic.clone(), s))
                .collect();
            for (topic, s) in &entry.subscriptions {
                let unchanged = old.get(topic).is_some_and(|o| {
                    o.sub_string == s.sub_string && o.expression_type == s.expression_type
                });
                let filter = match old_filters.remove(topic) {
                    Some(f) if unchanged => f,
                    _ => compile(s),
                };
                entry.filters.insert(topic.clone(), filter);
            }
        }
        let after = entry.client_ids();
        let changed = after.len() != before.len() || after.iter().any(|id| !before.contains(*id));
        changed.then(|| notification(group, entry))
    }

    /// Removes a client's registration on one connection (UNREGISTER_CLIENT). Empty group
    /// names mean "none" (cpp sends the unused one as `""`).
    pub fn unregister(
        &self,
        conn_id: u64,
        client_id: &str,
        producer_group: Option<&str>,
        consumer_group: Option<&str>,
    ) -> Option<Notification> {
        let mut inner = self.lock();
        if let Some(group) = producer_group.filter(|g| !g.is_empty()) {
            if let Some(channels) = inner.producers.get_mut(group) {
                channels.retain(|id, c| !(*id == conn_id || c.client_id == client_id));
                if channels.is_empty() {
                    inner.producers.remove(group);
                }
            }
        }
        let group = consumer_group.filter(|g| !g.is_empty())?;
        let entry = inner.consumers.get_mut(group)?;
        let before = entry.channels.len();
        entry
            .channels
            .retain(|id, c| !(*id == conn_id || c.client_id == client_id));
        if entry.channels.len() == before {
            return None;
        }
        let n = notification(group, entry);
        if entry.channels.is_empty() {
            inner.consumers.remove(group);
        }
        Some(n)
    }

    /// Drops every registration made over a closed connection.
    pub fn connection_closed(&self, conn_id: u64) -> Vec<Notification> {
        self.remove_channels(|id, _| id == conn_id)
    }

    /// Drops clients whose last heartbeat is older than `timeout`.
    pub fn expire(&self, now: Instant, timeout: Duration) -> Vec<Notification> {
        self.remove_channels(|_, c| now.saturating_duration_since(c.last_heartbeat) > timeout)
    }

    fn remove_channels(&self, dead: impl Fn(u64, &ClientChannel) -> bool) -> Vec<Notification> {
        let mut inner = self.lock();
        for channels in inner.producers.values_mut() {
            channels.retain(|id, c| !dead(*id, c));
        }
        inner.producers.retain(|_, c| !c.is_empty());
        let mut out = Vec::new();
        for (group, entry) in inner.consumers.iter_mut() {
            let before = entry.channels.len();
            entry.channels.retain(|id, c| !dead(*id, c));
            if entry.channels.len() != before {
                tracing::info!(group, "consumer(s) left the group");
                out.push(notification(group, entry));
            }
        }
        inner.consumers.retain(|_, e| !e.channels.is_empty());
        out
    }

    /// Distinct client ids of a consumer group, sorted; empty when the group is unknown.
    pub fn consumer_ids(&self, group: &str) -> Vec<String> {
        self.lock()
            .consumers
            .get(group)
            .map(|g| g.client_ids().into_iter().map(String::from).collect())
            .unwrap_or_default()
    }

    /// `None`: the group has no live consumer. `Some(None)`: the group does not subscribe
    /// to `topic`.
    pub fn subscription(&self, group: &str, topic: &str) -> Option<Option<Subscription>> {
        self.lock()
            .consumers
            .get(group)
            .map(|g| g.subscriptions.get(topic).cloned())
    }

    /// Like [`ClientManager::subscription`], with the subscription's filter.
    pub fn subscription_filter(
        &self,
        group: &str,
        topic: &str,
    ) -> Option<Option<(Subscription, CompiledFilter)>> {
        self.lock().consumers.get(group).map(|g| {
            let sub = g.subscriptions.get(topic)?;
            let filter = g
                .filters
                .get(topic)
                .cloned()
                .unwrap_or_else(|| compile(sub));
            Some((sub.clone(), filter))
        })
    }

    /// The message model of a consumer group's last heartbeat; `None` when none is online.
    pub fn message_model(&self, group: &str) -> Option<MessageModel> {
        self.lock()
            .consumers
            .get(group)
            .map(|g| g.meta.message_model)
    }

    /// Every live connection of a consumer group (RESET_CONSUMER_CLIENT_OFFSET goes to each).
    pub fn consumer_channels(&self, group: &str) -> Vec<ClientChannel> {
        self.lock()
            .consumers
            .get(group)
            .map(|g| {
                g.channels
                    .values()
                    .filter(|c| !c.conn.is_closed())
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }

    /// How many topics the group's live consumers subscribe (0 when none is online).
    pub fn subscription_count(&self, group: &str) -> usize {
        self.lock()
            .consumers
            .get(group)
            .map_or(0, |g| g.subscriptions.len())
    }

    #[cfg(test)]
    pub fn producer_groups(&self) -> Vec<String> {
        self.lock().producers.keys().cloned().collect()
    }

    #[cfg(test)]
    pub fn consumer_groups(&self) -> Vec<String> {
        self.lock().consumers.keys().cloned().collect()
    }
}

fn notification(group: &str, entry: &ConsumerGroup) -> Notification {
    Notification {
        group: group.to_string(),
        connections: entry.channels.values().map(|c| c.conn.clone()).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn channel(
        id: &str,
    ) -> (
        ClientChannel,
        tokio::sync::mpsc::Receiver<rocketmq_protocol::RemotingCommand>,
    ) {
        let (conn, rx) = ConnectionHandle::detached("127.0.0.1:1".parse().unwrap());
        (
            ClientChannel {
                client_id: id.into(),
                conn,
                last_heartbeat: Instant::now(),
                language: LanguageCode::Java,
            },
            rx,
        )
    }

    fn sub(topic: &str, expr: &str) -> Subscription {
        Subscription {
            topic: topic.into(),
            sub_string: expr.into(),
            sub_version: 1,
            expression_type: String::new(),
        }
    }

    #[test]
    fn membership_changes_are_reported_once() {
        let m = ClientManager::default();
        let (a, _ra) = channel("a");
        let (b, _rb) = channel("b");
        let n = m.register_consumer(
            "G",
            a.clone(),
            Default::default(),
            Some(vec![sub("T", "*")]),
        );
        assert_eq!(n.unwrap().connections.len(), 1);
        assert!(m
            .register_consumer(
                "G",
                a.clone(),
                Default::default(),
                Some(vec![sub("T", "x")])
            )
            .is_none());
        let n = m
            .register_consumer("G", b.clone(), Default::default(), None)
            .unwrap();
        assert_eq!(n.connections.len(), 2);
        assert_eq!(m.consumer_ids("G"), vec!["a".to_string(), "b".to_string()]);
        // `None` kept the subscriptions of the last full heartbeat.
        assert_eq!(m.subscription("G", "T").unwrap().unwrap().sub_string, "x");
        assert_eq!(m.subscription("G", "U"), Some(None));
        assert_eq!(m.subscription("H", "T"), None);

        let gone = m.connection_closed(b.conn.id());
        assert_eq!(gone.len(), 1);
        assert_eq!(gone[0].connections.len(), 1);
        assert_eq!(m.consumer_ids("G"), vec!["a".to_string()]);
        let n = m.unregister(a.conn.id(), "a", Some(""), Some("G")).unwrap();
        assert!(n.connections.is_empty());
        assert!(m.consumer_ids("G").is_empty());
        assert!(m.consumer_groups().is_empty());
    }

    #[test]
    fn heartbeat_filters_are_built_once_and_rebuilt_on_change() {
        let m = ClientManager::default();
        let (a, _ra) = channel("a");
        let sql = |expr: &str| Subscription {
            expression_type: "SQL92".into(),
            ..sub("T", expr)
        };
        m.register_consumer("G", a.clone(), Default::default(), Some(vec![sql("x > 1")]));
        let (_, first) = m.subscription_filter("G", "T").unwrap().unwrap();
        let first = first.unwrap();
        assert!(first.is_sql92());
        m.register_consumer("G", a.clone(), Default::default(), Some(vec![sql("x > 1")]));
        let (_, again) = m.subscription_filter("G", "T").unwrap().unwrap();
        assert!(
            Arc::ptr_eq(&first, &again.unwrap()),
            "an unchanged expression is reused"
        );
        m.register_consumer("G", a.clone(), Default::default(), Some(vec![sql("x >")]));
        let (s, broken) = m.subscription_filter("G", "T").unwrap().unwrap();
        assert_eq!(s.sub_string, "x >");
        assert!(broken.unwrap_err().remark.contains("line 1"));
        m.register_consumer("G", a, Default::default(), Some(vec![sub("T", "TagA")]));
        let (_, tag) = m.subscription_filter("G", "T").unwrap().unwrap();
        assert!(!tag.unwrap().is_sql92());
        assert!(m.subscription_filter("G", "U").unwrap().is_none());
        assert!(m.subscription_filter("H", "T").is_none());
    }

    #[test]
    fn expiry_drops_silent_clients() {
        let m = ClientManager::default();
        let (mut a, _ra) = channel("a");
        let (b, _rb) = channel("b");
        a.last_heartbeat = Instant::now() - Duration::from_secs(10);
        m.register_consumer("G", a, Default::default(), Some(vec![]));
        m.register_consumer("G", b, Default::default(), Some(vec![]));
        let (p, _rp) = channel("p");
        m.register_producer("PG", p);
        let n = m.expire(Instant::now(), Duration::from_secs(5));
        assert_eq!(n.len(), 1);
        assert_eq!(m.consumer_ids("G"), vec!["b".to_string()]);
        assert_eq!(m.producer_groups(), vec!["PG".to_string()]);
        assert!(m.producer_connection("PG").is_some());
        assert!(m.producer_connection("G").is_none());
        assert!(
            m.expire(
                Instant::now() + Duration::from_secs(60),
                Duration::from_secs(5)
            )
            .len()
                == 1
        );
        assert!(m.producer_groups().is_empty());
        assert!(m.producer_connection("PG").is_none());
    }

    #[test]
    fn producer_connection_prefers_the_freshest_open_one() {
        let m = ClientManager::default();
        let (mut old, _ro) = channel("old");
        let (new, _rn) = channel("new");
        old.last_heartbeat = Instant::now() - Duration::from_secs(3);
        m.register_producer("PG", old.clone());
        m.register_producer("PG", new.clone());
        assert_eq!(m.producer_connection("PG").unwrap().id(), new.conn.id());
        new.conn.close();
        assert_eq!(m.producer_connection("PG").unwrap().id(), old.conn.id());
        old.conn.close();
        assert!(m.producer_connection("PG").is_none());
    }
}
