//! The name server's remoting front end: decodes a request's header fields and body, calls
//! one [`NameServer`] operation, encodes the answer. No route state lives here.
//!
//! Headers are the protocol crate's typed headers where their required fields are the ones
//! the name server requires; the other requests are read field by field, because the typed
//! headers require fields (`haServerAddr`, `brokerId`, `clusterName`) that the name server
//! has always treated as optional, and a missing one must keep getting the same answer.
//!
//! What must stay true: a missing field the name server does not require is read as empty,
//! a REGISTER_BROKER whose `bodyCrc32` does not match is refused before anything is recorded,
//! and bodies are encoded with the protocol crate's compact JSON.

use super::{NameServer, Registration};
use crate::remoting::server::{not_supported, BoxFuture};
use crate::remoting::{ConnectionHandle, RequestProcessor};
use rocketmq_protocol::body::{decode_json, encode_json, DataVersion, RegisterBrokerBody};
use rocketmq_protocol::code::{request_code as rc, response_code as resp};
use rocketmq_protocol::header::{
    GetKvConfigResponseHeader, GetKvListByNamespaceRequestHeader, GetRouteInfoRequestHeader,
    GetTopicsByClusterRequestHeader, PutKvConfigRequestHeader, QueryDataVersionResponseHeader,
    RegisterBrokerResponseHeader,
};
use rocketmq_protocol::RemotingCommand;
use std::sync::Arc;

impl RequestProcessor for NameServer {
    fn process(
        self: Arc<Self>,
        conn: ConnectionHandle,
        request: RemotingCommand,
    ) -> BoxFuture<Option<RemotingCommand>> {
        Box::pin(async move { Some(self.handle(&conn, &request)) })
    }

    fn connection_closed(&self, conn: &ConnectionHandle) {
        for addr in self.drop_brokers_of_connection(conn.id()) {
            tracing::info!(broker = addr, "broker removed: its connection closed");
        }
    }
}

impl NameServer {
    fn handle(&self, conn: &ConnectionHandle, req: &RemotingCommand) -> RemotingCommand {
        let field = |key: &str| req.field(key).unwrap_or_default();
        let ok = || RemotingCommand::response_to(req);
        match req.code {
            rc::REGISTER_BROKER => match decode_registration(conn, req) {
                Ok(registration) => {
                    let addr = registration.broker_addr.clone();
                    let topic_count = registration.topics.as_ref().map_or(0, Vec::len);
                    self.register_broker(registration);
                    tracing::debug!(broker = addr, topics = topic_count, "broker registered");
                    ok().with_header(&RegisterBrokerResponseHeader {
                        ha_server_addr: Some(String::new()),
                        master_addr: Some(String::new()),
                    })
                }
                Err(refusal) => refusal,
            },
            rc::UNREGISTER_BROKER => {
                let addr = field("brokerAddr");
                self.unregister_broker(field("brokerName"), addr);
                tracing::info!(broker = addr, "broker unregistered");
                ok()
            }
            rc::GET_ROUTEINFO_BY_TOPIC => {
                let header: GetRouteInfoRequestHeader = req.decode_header().unwrap_or_default();
                let topic = header.topic;
                match self.topic_route(&topic) {
                    Some(route) => ok().with_body(encode_json(&route)),
                    None => ok().with_code(resp::TOPIC_NOT_EXIST).with_remark(format!(
                        "No topic route info in name server for the topic: {topic}"
                    )),
                }
            }
            rc::GET_BROKER_CLUSTER_INFO => ok().with_body(encode_json(&self.cluster_info())),
            rc::GET_ALL_TOPIC_LIST_FROM_NAMESERVER => {
                ok().with_body(encode_json(&self.all_topics()))
            }
            rc::GET_TOPICS_BY_CLUSTER => {
                let header: GetTopicsByClusterRequestHeader =
                    req.decode_header().unwrap_or_default();
                ok().with_body(encode_json(&self.topics_of_cluster(&header.cluster)))
            }
            rc::QUERY_DATA_VERSION => {
                // An unreadable body counts as no version, as an absent one does.
                let theirs = decode_json::<Option<DataVersion>>(&req.body).ok().flatten();
                let check = self.query_data_version(field("brokerAddr"), theirs.as_ref());
                let mut answer = ok().with_header(&QueryDataVersionResponseHeader {
                    changed: Some(check.changed),
                });
                if let Some(registered) = check.registered {
                    answer.body = encode_json(&registered);
                }
                answer
            }
            rc::BROKER_HEARTBEAT => {
                self.broker_heartbeat(field("brokerAddr"));
                ok()
            }
            rc::PUT_KV_CONFIG => match req.decode_header::<PutKvConfigRequestHeader>() {
                Ok(h) => {
                    self.put_kv_config(&h.namespace, &h.key, &h.value);
                    ok()
                }
                Err(_) => ok()
                    .with_code(resp::INVALID_PARAMETER)
                    .with_remark("namespace, key and value are required"),
            },
            rc::GET_KV_CONFIG => {
                let (ns, key) = (field("namespace"), field("key"));
                match self.kv_config(ns, key) {
                    Some(value) => {
                        ok().with_header(&GetKvConfigResponseHeader { value: Some(value) })
                    }
                    None => ok()
                        .with_code(resp::QUERY_NOT_FOUND)
                        .with_remark(format!("No config item, Namespace: {ns} Key: {key}")),
                }
            }
            rc::DELETE_KV_CONFIG => {
                self.delete_kv_config(field("namespace"), field("key"));
                ok()
            }
            rc::GET_KVLIST_BY_NAMESPACE => {
                let header: GetKvListByNamespaceRequestHeader =
                    req.decode_header().unwrap_or_default();
                let ns = header.namespace;
                match self.kv_list(&ns) {
                    Some(table) => ok().with_body(encode_json(&table)),
                    None => ok()
                        .with_code(resp::QUERY_NOT_FOUND)
                        .with_remark(format!("No config item, Namespace: {ns}")),
                }
            }
            _ => not_supported(req),
        }
    }
}

/// Reads a REGISTER_BROKER request, or the answer refusing it.
fn decode_registration(
    conn: &ConnectionHandle,
    req: &RemotingCommand,
) -> Result<Registration, RemotingCommand> {
    let refuse = |code: i32, remark: String| {
        RemotingCommand::response_to(req)
            .with_code(code)
            .with_remark(remark)
    };
    let (Some(name), Some(addr), Some(cluster)) = (
        req.field("brokerName"),
        req.field("brokerAddr"),
        req.field("clusterName"),
    ) else {
        return Err(refuse(
            resp::INVALID_PARAMETER,
            "brokerName, brokerAddr and clusterName are required".into(),
        ));
    };
    let crc = req.field_i64("bodyCrc32").unwrap_or(0);
    if crc != 0 && !req.body.is_empty() {
        let actual = (crc32fast::hash(&req.body) & 0x7FFF_FFFF) as i64;
        if actual != crc {
            return Err(refuse(resp::SYSTEM_ERROR, "crc32 not match".into()));
        }
    }
    let (data_version, topics) = if req.body.is_empty() {
        (None, None)
    } else {
        let compressed = req.field_bool("compressed").unwrap_or(false);
        let body = RegisterBrokerBody::decode(&req.body, compressed)
            .map_err(|e| refuse(resp::SYSTEM_ERROR, format!("bad register broker body: {e}")))?;
        let wrapper = body.topic_config_serialize_wrapper;
        let topics = wrapper
            .topic_config_table
            .into_iter()
            .map(|(name, mut config)| {
                if config.topic_name.is_empty() {
                    config.topic_name = name;
                }
                config
            })
            .collect();
        (Some(wrapper.data_version), Some(topics))
    };
    Ok(Registration {
        cluster: cluster.to_string(),
        broker_name: name.to_string(),
        broker_addr: addr.to_string(),
        broker_id: req.field_i64("brokerId").unwrap_or(0),
        data_version,
        topics,
        connection_id: conn.id(),
    })
}
