//! Client-facing requests other than send and pull: heartbeats and client registration,
//! consumer lists, consumer offsets, queue offsets by time, queue locks, send-back.
//!
//! What must stay true:
//! - heartbeat bodies are read leniently (cpp sends enum ordinals, string `subVersion`, omits
//!   empty arrays; Java sends names); `codeSet` is never trusted;
//! - a heartbeat creates `%RETRY%<group>` for each consumer group (so its route exists) and
//!   notifies the group's consumers when membership changed;
//! - QUERY_CONSUMER_OFFSET: committed offset, else 0 when the queue still starts at 0 (a young
//!   queue, empty or not, as 4.x brokers answer), else QUERY_NOT_FOUND (22). Answering 0 for an
//!   empty queue matters: a new group that got 22 would ask for the max offset next, and a
//!   message stored between the two requests would never reach it.

use super::client::{ClientChannel, ConsumerGroupMeta, Subscription};
use super::rebalance_lock::LockedQueue;
use super::retry::{
    decide_send_back, SendBackRequest, SendBackTarget, DEFAULT_MAX_RECONSUME_TIMES,
};
use super::schedule::to_scheduled;
use super::send::store_error;
use super::Broker;
use crate::remoting::ConnectionHandle;
use crate::util::now_millis;
use rocketmq_protocol::code::{request_code, response_code as resp};
use rocketmq_protocol::command::RemotingCommand;
use rocketmq_protocol::header::{
    ConsumerSendMsgBackRequestHeader, GetConsumerListByGroupRequestHeader,
    GetEarliestMsgStoretimeRequestHeader, GetMaxOffsetRequestHeader, GetMinOffsetRequestHeader,
    QueryConsumerOffsetRequestHeader, SearchOffsetRequestHeader, UnregisterClientRequestHeader,
    UpdateConsumerOffsetRequestHeader,
};
use rocketmq_protocol::message::decode_stored;
use rocketmq_protocol::message_id::create_offset_msg_id;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::time::Instant;

fn error(req: &RemotingCommand, code: i32, remark: impl Into<String>) -> RemotingCommand {
    RemotingCommand::response_to(req)
        .with_code(code)
        .with_remark(remark)
}

/// An enum that may arrive as an ordinal or as a name; `names[i]` is ordinal `i`.
fn enum_value(v: &Value, names: &[&str]) -> i32 {
    match v {
        Value::Number(n) => n.as_i64().unwrap_or(0) as i32,
        Value::String(s) => names
            .iter()
            .position(|n| n.eq_ignore_ascii_case(s))
            .map(|i| i as i32)
            .or_else(|| s.trim().parse().ok())
            .unwrap_or(0),
        _ => 0,
    }
}

fn long_value(v: &Value) -> i64 {
    match v {
        Value::Number(n) => n.as_i64().unwrap_or(0),
        Value::String(s) => s.trim().parse().unwrap_or(0),
        _ => 0,
    }
}

fn str_value(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

const CONSUME_TYPES: [&str; 3] = ["CONSUME_ACTIVELY", "CONSUME_PASSIVELY", "CONSUME_POP"];
const MESSAGE_MODELS: [&str; 2] = ["BROADCASTING", "CLUSTERING"];
const CONSUME_FROM: [&str; 6] = [
    "CONSUME_FROM_LAST_OFFSET",
    "CONSUME_FROM_LAST_OFFSET_AND_FROM_MIN_WHEN_BOOT_FIRST",
    "CONSUME_FROM_MIN_OFFSET",
    "CONSUME_FROM_MAX_OFFSET",
    "CONSUME_FROM_FIRST_OFFSET",
    "CONSUME_FROM_TIMESTAMP",
];

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LockBatchBody {
    #[serde(default)]
    consumer_group: String,
    #[serde(default)]
    client_id: String,
    #[serde(default)]
    mq_set: Vec<LockedQueue>,
}

#[derive(Serialize)]
struct LockBatchResponseBody<'a> {
    #[serde(rename = "lockOKMQSet")]
    lock_ok_mq_set: &'a [LockedQueue],
}

impl Broker {
    pub(crate) fn heartbeat(
        &self,
        conn: &ConnectionHandle,
        req: &RemotingCommand,
    ) -> RemotingCommand {
        let body: Value = match serde_json::from_slice(&req.body) {
            Ok(v) => v,
            Err(e) => return error(req, resp::SYSTEM_ERROR, format!("bad heartbeat body: {e}")),
        };
        let client_id = str_value(&body["clientID"]);
        let now = Instant::now();
        let channel = ClientChannel {
            client_id: client_id.clone(),
            conn: conn.clone(),
            language: req.language,
            version: req.version,
            last_heartbeat: now,
        };
        if let Some(consumers) = body["consumerDataSet"].as_array() {
            for c in consumers {
                let group = str_value(&c["groupName"]);
                if group.is_empty() {
                    continue;
                }
                if let Err(e) = self.topics.get_or_create_retry(&group) {
                    return store_error(req, &e);
                }
                let meta = ConsumerGroupMeta {
                    consume_type: enum_value(&c["consumeType"], &CONSUME_TYPES),
                    message_model: enum_value(&c["messageModel"], &MESSAGE_MODELS),
                    consume_from_where: enum_value(&c["consumeFromWhere"], &CONSUME_FROM),
                };
                // Java 5.x may omit unchanged subscriptions ("withoutSub"); keep the old ones.
                let without_sub = body["withoutSub"].as_bool() == Some(true)
                    && c.get("subscriptionDataSet").is_none();
                let subscriptions = c["subscriptionDataSet"]
                    .as_array()
                    .map(|subs| {
                        subs.iter()
                            .map(|s| Subscription {
                                topic: str_value(&s["topic"]),
                                sub_string: str_value(&s["subString"]),
                                sub_version: long_value(&s["subVersion"]),
                                expression_type: str_value(&s["expressionType"]),
                            })
                            .filter(|s| !s.topic.is_empty())
                            .collect()
                    })
                    .unwrap_or_default();
                let subscriptions = (!without_sub).then_some(subscriptions);
                if let Some(n) =
                    self.clients
                        .register_consumer(&group, channel.clone(), meta, subscriptions)
                {
                    tracing::info!(group, client_id, "consumer group membership changed");
                    self.notify_consumers(n);
                }
            }
        }
        if let Some(producers) = body["producerDataSet"].as_array() {
            for p in producers {
                let group = str_value(&p["groupName"]);
                if !group.is_empty() {
                    self.clients.register_producer(&group, channel.clone());
                }
            }
        }
        RemotingCommand::response_to(req)
    }

    /// Pushes NOTIFY_CONSUMER_IDS_CHANGED (one-way) to every connection of the group.
    pub(crate) fn notify_consumers(&self, n: super::client::Notification) {
        for conn in n.connections {
            let cmd = RemotingCommand::new_request(request_code::NOTIFY_CONSUMER_IDS_CHANGED)
                .with_field("consumerGroup", &n.group);
            if !conn.send_oneway_request(cmd) {
                tracing::debug!(
                    group = n.group,
                    conn = conn.id(),
                    "could not notify consumer"
                );
            }
        }
    }

    pub(crate) fn unregister_client(
        &self,
        conn: &ConnectionHandle,
        req: &RemotingCommand,
    ) -> RemotingCommand {
        let h: UnregisterClientRequestHeader = match req.decode_header() {
            Ok(h) => h,
            Err(e) => return error(req, resp::SYSTEM_ERROR, e.to_string()),
        };
        if let Some(n) = self.clients.unregister(
            conn.id(),
            &h.client_id,
            h.producer_group.as_deref(),
            h.consumer_group.as_deref(),
        ) {
            self.notify_consumers(n);
        }
        RemotingCommand::response_to(req)
    }

    pub(crate) fn consumer_list(&self, req: &RemotingCommand) -> RemotingCommand {
        let h: GetConsumerListByGroupRequestHeader = match req.decode_header() {
            Ok(h) => h,
            Err(e) => return error(req, resp::SYSTEM_ERROR, e.to_string()),
        };
        let ids = self.clients.consumer_ids(&h.consumer_group);
        if ids.is_empty() {
            return error(
                req,
                resp::SYSTEM_ERROR,
                format!("no consumer for this group, {}", h.consumer_group),
            );
        }
        RemotingCommand::response_to(req).with_body(
            serde_json::json!({ "consumerIdList": ids })
                .to_string()
                .into_bytes(),
        )
    }

    pub(crate) fn query_consumer_offset(&self, req: &RemotingCommand) -> RemotingCommand {
        let h: QueryConsumerOffsetRequestHeader = match req.decode_header() {
            Ok(h) => h,
            Err(e) => return error(req, resp::SYSTEM_ERROR, e.to_string()),
        };
        let offset = match self
            .store
            .committed_offset(&h.consumer_group, &h.topic, h.queue_id)
        {
            Some(o) if o >= 0 => Some(o),
            _ => {
                let young = self.store.min_offset(&h.topic, h.queue_id) <= 0;
                (young && h.set_zero_if_not_found != Some(false)).then_some(0)
            }
        };
        match offset {
            Some(o) => RemotingCommand::response_to(req).with_field("offset", o),
            None => error(
                req,
                resp::QUERY_NOT_FOUND,
                "Not found, V3_0_6_SNAPSHOT maybe this group consumer boot first",
            ),
        }
    }

    pub(crate) fn update_consumer_offset(&self, req: &RemotingCommand) -> RemotingCommand {
        let h: UpdateConsumerOffsetRequestHeader = match req.decode_header() {
            Ok(h) => h,
            Err(e) => return error(req, resp::SYSTEM_ERROR, e.to_string()),
        };
        if self.topics.get(&h.topic).is_none() {
            return error(
                req,
                resp::TOPIC_NOT_EXIST,
                format!("topic[{}] not exist", h.topic),
            );
        }
        if h.commit_offset >= 0 {
            self.store
                .commit_offset(&h.consumer_group, &h.topic, h.queue_id, h.commit_offset);
        }
        RemotingCommand::response_to(req)
    }

    pub(crate) fn queue_offsets(&self, req: &RemotingCommand) -> RemotingCommand {
        let answer = |offset: i64| RemotingCommand::response_to(req).with_field("offset", offset);
        match req.code {
            request_code::GET_MAX_OFFSET => {
                match req.decode_header::<GetMaxOffsetRequestHeader>() {
                    Ok(h) => answer(self.store.max_offset(&h.topic, h.queue_id)),
                    Err(e) => error(req, resp::SYSTEM_ERROR, e.to_string()),
                }
            }
            request_code::GET_MIN_OFFSET => {
                match req.decode_header::<GetMinOffsetRequestHeader>() {
                    Ok(h) => answer(self.store.min_offset(&h.topic, h.queue_id)),
                    Err(e) => error(req, resp::SYSTEM_ERROR, e.to_string()),
                }
            }
            request_code::SEARCH_OFFSET_BY_TIMESTAMP => {
                match req.decode_header::<SearchOffsetRequestHeader>() {
                    Ok(h) => {
                        let upper = h
                            .boundary_type
                            .as_deref()
                            .is_some_and(|b| b.eq_ignore_ascii_case("UPPER"));
                        answer(
                            self.store
                                .offset_by_time(&h.topic, h.queue_id, h.timestamp, upper),
                        )
                    }
                    Err(e) => error(req, resp::SYSTEM_ERROR, e.to_string()),
                }
            }
            _ => match req.decode_header::<GetEarliestMsgStoretimeRequestHeader>() {
                Ok(h) => match self.store.earliest_store_time(&h.topic, h.queue_id) {
                    Some(t) => RemotingCommand::response_to(req).with_field("timestamp", t),
                    None => error(
                        req,
                        resp::SYSTEM_ERROR,
                        format!(
                            "no message in topic {} queue {}, so no earliest store time",
                            h.topic, h.queue_id
                        ),
                    ),
                },
                Err(e) => error(req, resp::SYSTEM_ERROR, e.to_string()),
            },
        }
    }

    pub(crate) fn lock_batch(&self, req: &RemotingCommand) -> RemotingCommand {
        let body: LockBatchBody = match serde_json::from_slice(&req.body) {
            Ok(b) => b,
            Err(e) => return error(req, resp::SYSTEM_ERROR, format!("bad lock body: {e}")),
        };
        let granted = self.locks.try_lock_batch(
            &body.consumer_group,
            &body.client_id,
            &body.mq_set,
            Instant::now(),
        );
        let json = serde_json::to_string(&LockBatchResponseBody {
            lock_ok_mq_set: &granted,
        })
        .unwrap_or_else(|_| r#"{"lockOKMQSet":[]}"#.into());
        RemotingCommand::response_to(req).with_body(json.into_bytes())
    }

    pub(crate) fn unlock_batch(&self, req: &RemotingCommand) -> RemotingCommand {
        let body: LockBatchBody = match serde_json::from_slice(&req.body) {
            Ok(b) => b,
            Err(e) => return error(req, resp::SYSTEM_ERROR, format!("bad unlock body: {e}")),
        };
        self.locks
            .unlock_batch(&body.consumer_group, &body.client_id, &body.mq_set);
        RemotingCommand::response_to(req)
    }

    pub(crate) async fn consumer_send_msg_back(&self, req: &RemotingCommand) -> RemotingCommand {
        let h: ConsumerSendMsgBackRequestHeader = match req.decode_header() {
            Ok(h) => h,
            Err(e) => return error(req, resp::SYSTEM_ERROR, e.to_string()),
        };
        let Some(raw) = self.store.read_record(h.offset) else {
            return error(
                req,
                resp::SYSTEM_ERROR,
                format!("look message by offset failed, {}", h.offset),
            );
        };
        let original = match decode_stored(&raw) {
            Ok((m, _)) => m,
            Err(e) => {
                return error(
                    req,
                    resp::SYSTEM_ERROR,
                    format!(
                        "the message at offset {} cannot be decoded: {e:?}",
                        h.offset
                    ),
                )
            }
        };
        let decision = decide_send_back(
            &original,
            &create_offset_msg_id(original.store_host, original.physical_offset),
            &SendBackRequest {
                group: &h.group,
                delay_level: h.delay_level,
                max_reconsume_times: h.max_reconsume_times,
                request_version: req.version,
                group_max_reconsume_times: DEFAULT_MAX_RECONSUME_TIMES,
            },
            self.delay_levels.level_count(),
        );
        let topic = decision.topic_config.topic_name.clone();
        if let Err(e) = self.topics.get_or_create(
            &topic,
            decision.topic_config.write_queue_nums,
            decision.topic_config.perm,
        ) {
            return store_error(req, &e);
        }
        let mut message = decision.message;
        message.store_host = self.store_host;
        if let SendBackTarget::Retry { delay_level } = decision.target {
            message = to_scheduled(&self.delay_levels, message, delay_level, now_millis());
        } else {
            tracing::info!(
                group = h.group,
                "message sent to the dead-letter topic {topic}"
            );
        }
        let outcome = match self.store.put_messages(vec![message]) {
            Ok(o) => o,
            Err(e) => return store_error(req, &e),
        };
        if let Some(waiter) = outcome.durable {
            let _ = tokio::time::timeout(super::send::SYNC_FLUSH_TIMEOUT, waiter.0).await;
        }
        RemotingCommand::response_to(req)
    }
}
