//! `Admin`: cluster administration over the remoting protocol, as Apache's `mqadmin` does it:
//! which brokers the name servers know (GET_BROKER_CLUSTER_INFO), create a topic on every
//! master broker (UPDATE_AND_CREATE_TOPIC) and wait until the name servers route it.
//!
//! Works against the bundled broker and Apache RocketMQ's (whose name server writes the
//! cluster table's broker ids as bare integer keys; they are read leniently).
//!
//! What must stay true: every wait is bounded by the caller's deadline; every failure names
//! the address that failed and what to check.

use crate::error::{ClientError, Result};
use crate::instance::ClientInstance;
use crate::route::MessageQueue;
use rocketmq_protocol::body::topic_config::attributes;
use rocketmq_protocol::body::{decode_json, ClusterInfo, TopicRouteData};
use rocketmq_protocol::code::{request_code, response_code};
use rocketmq_protocol::header::{CreateTopicRequestHeader, GetRouteInfoRequestHeader};
use rocketmq_protocol::RemotingCommand;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// PermName bits: readable.
pub const PERM_READ: i32 = 4;
/// PermName bits: writable.
pub const PERM_WRITE: i32 = 2;
/// The template topic new topics are created from (Java `TopicValidator.AUTO_CREATE_TOPIC_KEY_TOPIC`).
const TEMPLATE_TOPIC: &str = "TBW102";
/// Between two looks at the name servers while waiting for a broker or a route.
const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// A topic to create on every master broker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopicSpec {
    pub topic: String,
    pub read_queues: i32,
    pub write_queues: i32,
    /// PermName bits ([`PERM_READ`] | [`PERM_WRITE`] for a normal topic).
    pub perm: i32,
    /// Ordered topic (Java `TopicConfig.order`).
    pub order: bool,
    /// RocketMQ 5's `message.type` attribute, one of [`crate::MESSAGE_TYPES`] in any case;
    /// `None` leaves the topic's attributes as they are.
    pub message_type: Option<String>,
}

impl TopicSpec {
    /// A readable and writable topic with `queues` read and write queues.
    pub fn new(topic: &str, queues: i32) -> TopicSpec {
        TopicSpec {
            topic: topic.to_string(),
            read_queues: queues,
            write_queues: queues,
            perm: PERM_READ | PERM_WRITE,
            order: false,
            message_type: None,
        }
    }

    fn check(&self) -> Result<()> {
        if self.topic.trim().is_empty() {
            return Err(ClientError::IllegalArgument(
                "the topic name is blank: pass a name such as 'orders'".into(),
            ));
        }
        if self.read_queues < 1 || self.write_queues < 1 {
            return Err(ClientError::IllegalArgument(format!(
                "topic {:?} needs at least one read and one write queue, got {} and {}",
                self.topic, self.read_queues, self.write_queues
            )));
        }
        if self.perm & !(PERM_READ | PERM_WRITE | 1) != 0 {
            return Err(ClientError::IllegalArgument(format!(
                "perm {} is not a combination of READ (4), WRITE (2) and INHERIT (1)",
                self.perm
            )));
        }
        if let Some(t) = &self.message_type {
            if attributes::user_message_type(t).is_none() {
                return Err(ClientError::IllegalArgument(format!(
                    "message type {t:?} is not one of {}",
                    attributes::USER_MESSAGE_TYPES.join(", ")
                )));
            }
        }
        Ok(())
    }
}

/// Admin requests through one client instance's connections and name-server list.
pub struct Admin {
    pub(crate) client: Arc<ClientInstance>,
}

impl Admin {
    pub fn new(client: Arc<ClientInstance>) -> Admin {
        Admin { client }
    }

    /// The client instance whose connections and routes the admin uses.
    pub(crate) fn client(&self) -> &Arc<ClientInstance> {
        &self.client
    }

    fn name_servers(&self) -> Result<Vec<String>> {
        let servers = self.client.name_servers();
        if servers.is_empty() {
            return Err(ClientError::IllegalArgument(
                "no name server address is set: pass 'host:port' (several separated by ';')".into(),
            ));
        }
        Ok(servers)
    }

    /// Sends `request` to the name servers in turn; the first answer wins.
    async fn ask_name_servers(
        &self,
        request: RemotingCommand,
    ) -> Result<(String, RemotingCommand)> {
        let mut failures = Vec::new();
        for addr in self.name_servers()? {
            match self.client.invoke(&addr, request.clone()).await {
                Ok(answer) => return Ok((addr, answer)),
                Err(e) => failures.push(e.to_string()),
            }
        }
        Err(ClientError::Connect {
            addr: self.client.name_servers().join(";"),
            cause: format!(
                "no name server answered ({}): check that a RocketMQ name server runs there",
                failures.join("; ")
            ),
        })
    }

    /// The brokers and clusters the first answering name server knows.
    pub async fn cluster_info(&self) -> Result<ClusterInfo> {
        let request = ClientInstance::request(request_code::GET_BROKER_CLUSTER_INFO);
        let (addr, answer) = self.ask_name_servers(request).await?;
        if answer.code != response_code::SUCCESS {
            return Err(ClientError::Remote {
                addr,
                code: answer.code,
                remark: answer.remark.unwrap_or_default(),
            });
        }
        decode_json(&answer.body)
            .map_err(|e| ClientError::Protocol(format!("bad cluster info from {addr}: {e}")))
    }

    /// Broker name -> master address.
    pub async fn master_brokers(&self) -> Result<BTreeMap<String, String>> {
        let info = self.cluster_info().await?;
        Ok(info
            .broker_addr_table
            .into_iter()
            .filter_map(|(name, data)| data.master_addr().map(|a| (name.clone(), a.to_string())))
            .collect())
    }

    /// The master brokers once at least one has registered, waiting until `deadline`.
    pub async fn wait_for_brokers(&self, deadline: Instant) -> Result<BTreeMap<String, String>> {
        loop {
            let masters = self.master_brokers().await?;
            if !masters.is_empty() {
                return Ok(masters);
            }
            if Instant::now() >= deadline {
                return Err(ClientError::WaitExpired(format!(
                    "the name server {} knows no master broker: start a broker registered \
                     with it (brokers register at start and every 30 s)",
                    self.client.name_servers().join(";")
                )));
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    /// `topic`'s route as the first answering name server knows it; `None` if unknown.
    pub async fn topic_route(&self, topic: &str) -> Result<Option<TopicRouteData>> {
        let request = ClientInstance::request(request_code::GET_ROUTEINFO_BY_TOPIC).with_header(
            &GetRouteInfoRequestHeader {
                topic: topic.to_string(),
                accept_standard_json_only: Some(true),
            },
        );
        let (addr, answer) = self.ask_name_servers(request).await?;
        match answer.code {
            response_code::SUCCESS => decode_json(&answer.body).map(Some).map_err(|e| {
                ClientError::Protocol(format!("bad route of {topic} from {addr}: {e}"))
            }),
            response_code::TOPIC_NOT_EXIST => Ok(None),
            code => Err(ClientError::Remote {
                addr,
                code,
                remark: answer.remark.unwrap_or_default(),
            }),
        }
    }

    /// The offset of the first message stored at or after `timestamp_ms` in queue `queue_id`
    /// of `topic` (the queue's end when there is none), on `broker_name`, which may be left
    /// out when one broker holds that queue.
    pub async fn search_offset(
        &self,
        topic: &str,
        queue_id: i32,
        timestamp_ms: i64,
        broker_name: Option<&str>,
    ) -> Result<i64> {
        let route = self.client.fetch_route(topic).await?;
        let holders: Vec<&MessageQueue> = route
            .subscribe
            .iter()
            .filter(|q| q.queue_id == queue_id && broker_name.is_none_or(|b| q.broker_name == b))
            .collect();
        let queue = match holders.as_slice() {
            [one] => (*one).clone(),
            [] => {
                return Err(ClientError::IllegalArgument(format!(
                    "topic {topic:?} has no readable queue {queue_id}{}: its queues are {:?}",
                    broker_name
                        .map(|b| format!(" on broker {b}"))
                        .unwrap_or_default(),
                    route
                        .subscribe
                        .iter()
                        .map(|q| format!("{}:{}", q.broker_name, q.queue_id))
                        .collect::<Vec<_>>()
                )))
            }
            several => {
                return Err(ClientError::IllegalArgument(format!(
                    "queue {queue_id} of topic {topic:?} is on brokers {:?}: pass broker_name",
                    several
                        .iter()
                        .map(|q| q.broker_name.as_str())
                        .collect::<Vec<_>>()
                )))
            }
        };
        self.client.search_offset(&queue, timestamp_ms).await
    }

    /// Creates (or updates) `spec` on every master broker the name servers know, and returns
    /// the broker names once the name servers route all of their write queues (or, for a
    /// topic that is not writable, list all of those brokers), at the latest at `deadline`.
    pub async fn create_topic(&self, spec: &TopicSpec, deadline: Instant) -> Result<Vec<String>> {
        spec.check()?;
        let masters = self.wait_for_brokers(deadline).await?;
        let header = CreateTopicRequestHeader {
            topic: spec.topic.clone(),
            default_topic: TEMPLATE_TOPIC.to_string(),
            read_queue_nums: spec.read_queues,
            write_queue_nums: spec.write_queues,
            perm: spec.perm,
            topic_filter_type: "SINGLE_TAG".to_string(),
            topic_sys_flag: Some(0),
            order: spec.order,
            attributes: spec
                .message_type
                .as_deref()
                .and_then(attributes::user_message_type)
                .map(attributes::set_message_type),
            force: None,
        };
        for (name, addr) in &masters {
            let request =
                ClientInstance::request(request_code::UPDATE_AND_CREATE_TOPIC).with_header(&header);
            let answer = self.client.invoke(addr, request).await?;
            if answer.code != response_code::SUCCESS {
                return Err(ClientError::Remote {
                    addr: addr.clone(),
                    code: answer.code,
                    remark: format!(
                        "broker {name} refused to create topic {:?}: {}",
                        spec.topic,
                        answer.remark.unwrap_or_default()
                    ),
                });
            }
        }
        let names: Vec<String> = masters.keys().cloned().collect();
        loop {
            if let Some(route) = self.topic_route(&spec.topic).await? {
                let routed = |name: &String| {
                    route.queue_datas.iter().any(|q| {
                        &q.broker_name == name
                            && q.write_queue_nums == spec.write_queues
                            && q.read_queue_nums == spec.read_queues
                    })
                };
                if names.iter().all(routed) {
                    return Ok(names);
                }
            }
            if Instant::now() >= deadline {
                return Err(ClientError::WaitExpired(format!(
                    "topic {:?} was created on {names:?} but the name server {} does not route \
                     all of its queues yet: check that those brokers register with it",
                    spec.topic,
                    self.client.name_servers().join(";")
                )));
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spec_needs_a_name_queues_and_known_perm_bits() {
        assert!(TopicSpec::new("orders", 4).check().is_ok());
        let blank = TopicSpec::new(" ", 4).check().unwrap_err().to_string();
        assert!(blank.contains("blank"), "{blank}");
        let none = TopicSpec::new("orders", 0).check().unwrap_err().to_string();
        assert!(none.contains("at least one"), "{none}");
        let mut odd = TopicSpec::new("orders", 1);
        odd.perm = 8;
        let odd = odd.check().unwrap_err().to_string();
        assert!(odd.contains("perm 8"), "{odd}");
        let mut typed = TopicSpec::new("orders", 1);
        typed.message_type = Some("fifo".into());
        assert!(typed.check().is_ok());
        typed.message_type = Some("LIFO".into());
        let refused = typed.check().unwrap_err().to_string();
        assert!(
            refused.contains("NORMAL, FIFO, DELAY, TRANSACTION, PRIORITY, MIXED"),
            "{refused}"
        );
    }
}
