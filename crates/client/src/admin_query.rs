//! `Admin`'s message lookups, as Java's `MQAdminImpl` does them:
//! - [`Admin::query_messages_by_key`]: QUERY_MESSAGE (12) to every master broker of the topic,
//!   answers merged, checked (the message really carries the key: a broker's index may answer
//!   hash collisions; its store time lies in the asked range, which is sent a second wider
//!   because Java's index compares seconds) and de-duplicated;
//! - [`Admin::view_message`]: by the offset message id (store host + commit-log offset,
//!   VIEW_MESSAGE_BY_ID 33 to that broker) or by the unique id a send returns (`UNIQ_KEY`, a
//!   unique-key QUERY_MESSAGE on the topic's brokers; the earliest stored copy wins, as Java).
//!
//! What must stay true: each request is bounded by the client's request timeout; a lookup
//! that finds nothing fails with [`ClientError::Remote`] code `QUERY_NOT_FOUND` (22) and a
//! text naming what was searched where; a malformed id or a unique id without a topic is an
//! [`ClientError::IllegalArgument`] saying what to pass.

use crate::admin::Admin;
use crate::error::{ClientError, Result};
use crate::instance::ClientInstance;
use crate::message::MessageExt;
use rocketmq_protocol::code::{request_code, response_code};
use rocketmq_protocol::header::{QueryMessageRequestHeader, UNIQUE_KEY_QUERY};
use rocketmq_protocol::message::decode_stored_all;
use rocketmq_protocol::message_id::decode_offset_msg_id;
use rocketmq_protocol::properties as prop;
use std::collections::HashSet;

/// Inflated bodies of looked-up messages are limited to this many bytes.
const MAX_INFLATED_BODY: usize = 64 * 1024 * 1024;
/// How much wider than asked a key query's time range is sent: Java's index keeps store times
/// in whole seconds after each index file's first message, so a message stored just after the
/// begin time can compare as before it. The answer is then cut to the exact range.
const BROKER_TIME_SLACK_MS: i64 = 1000;
/// Records a unique-id lookup asks each broker for (Java `defaultQueryMaxNum`).
const UNIQUE_QUERY_MAX_NUM: i32 = 32;

/// Whether `id` is an offset message id (an IPv4 or IPv6 store host, a port and a commit-log
/// offset) rather than a unique id of the same length: the port's high 16 bits are zero and
/// the offset is not negative. A unique id whose process-id bytes are zero could pass; the
/// lookup then falls back to the unique-id search when a topic is given.
pub fn looks_like_offset_msg_id(id: &str) -> bool {
    let Ok((addr, offset)) = decode_offset_msg_id(id) else {
        return false;
    };
    let port_hi = if id.len() == 32 {
        &id[8..12]
    } else {
        &id[32..36]
    };
    port_hi == "0000" && addr.port() != 0 && offset >= 0
}

fn not_found(addr: String, what: String) -> ClientError {
    ClientError::Remote {
        addr,
        code: response_code::QUERY_NOT_FOUND,
        remark: what,
    }
}

impl Admin {
    /// Asks one broker; `Ok(empty)` when it found nothing.
    async fn query_broker(
        &self,
        addr: &str,
        header: &QueryMessageRequestHeader,
        unique: bool,
    ) -> Result<Vec<MessageExt>> {
        let mut request = ClientInstance::request(request_code::QUERY_MESSAGE).with_header(header);
        if unique {
            request = request.with_field(UNIQUE_KEY_QUERY, "true");
        }
        let answer = self.client().invoke(addr, request).await?;
        match answer.code {
            response_code::SUCCESS => {
                let stored = decode_stored_all(&answer.body).map_err(|e| {
                    ClientError::Protocol(format!("bad QUERY_MESSAGE records from {addr}: {e}"))
                })?;
                Ok(stored
                    .into_iter()
                    .map(|m| MessageExt::from_stored(m, MAX_INFLATED_BODY))
                    .collect())
            }
            response_code::QUERY_NOT_FOUND => Ok(Vec::new()),
            code => Err(ClientError::Remote {
                addr: addr.to_string(),
                code,
                remark: answer.remark.unwrap_or_default(),
            }),
        }
    }

    /// Every master broker of `topic` (name, address), from the name servers.
    async fn topic_masters(&self, topic: &str) -> Result<Vec<(String, String)>> {
        let route = self.client().fetch_route(topic).await?;
        if route.masters.is_empty() {
            return Err(ClientError::IllegalArgument(format!(
                "topic {topic:?} has no master broker in its route: start its broker first"
            )));
        }
        Ok(route
            .masters
            .iter()
            .map(|(n, a)| (n.clone(), a.clone()))
            .collect())
    }

    /// Messages of `topic` stored between `begin_ms` and `end_ms` (inclusive) whose `KEYS`
    /// (or, with `unique`, whose unique id) is `key`; newest first, at most `max_num` (each
    /// broker answers at most 64). Fails with `QUERY_NOT_FOUND` when none.
    pub async fn query_messages(
        &self,
        topic: &str,
        key: &str,
        unique: bool,
        max_num: i32,
        begin_ms: i64,
        end_ms: i64,
    ) -> Result<Vec<MessageExt>> {
        if topic.trim().is_empty() || key.is_empty() {
            return Err(ClientError::IllegalArgument(
                "a key query needs a topic and a non-empty key".into(),
            ));
        }
        if max_num < 1 {
            return Err(ClientError::IllegalArgument(format!(
                "max_num must be 1 or more, got {max_num}"
            )));
        }
        let masters = self.topic_masters(topic).await?;
        // Java's index compares whole seconds after each index file's start: ask a second
        // wider and keep exactly the asked range below.
        let header = QueryMessageRequestHeader {
            topic: topic.to_string(),
            key: key.to_string(),
            max_num,
            begin_timestamp: begin_ms.saturating_sub(BROKER_TIME_SLACK_MS).max(0),
            end_timestamp: end_ms.saturating_add(BROKER_TIME_SLACK_MS),
        };
        let mut found = Vec::new();
        for (_, addr) in &masters {
            found.extend(self.query_broker(addr, &header, unique).await?);
        }
        let mut seen = HashSet::new();
        let mut out: Vec<MessageExt> = found
            .into_iter()
            .filter(|m| {
                let carries = if unique {
                    m.msg_id == key
                } else {
                    m.properties
                        .get(prop::KEYS)
                        .is_some_and(|k| k.split(' ').any(|w| w == key))
                };
                carries
                    && m.topic == topic
                    && m.store_timestamp >= begin_ms
                    && m.store_timestamp <= end_ms
                    && seen.insert(m.offset_msg_id.clone())
            })
            .collect();
        out.sort_by_key(|m| std::cmp::Reverse(m.store_timestamp));
        out.truncate(max_num as usize);
        if out.is_empty() {
            let kind = if unique { "unique id" } else { "key" };
            return Err(not_found(
                masters
                    .iter()
                    .map(|(_, a)| a.as_str())
                    .collect::<Vec<_>>()
                    .join(";"),
                format!(
                    "no message of topic {topic:?} with {kind} {key:?} stored between \
                     {begin_ms} and {end_ms} ms: check the {kind}, the topic and the time range"
                ),
            ));
        }
        Ok(out)
    }

    /// [`Admin::query_messages`] by `KEYS`.
    pub async fn query_messages_by_key(
        &self,
        topic: &str,
        key: &str,
        max_num: i32,
        begin_ms: i64,
        end_ms: i64,
    ) -> Result<Vec<MessageExt>> {
        self.query_messages(topic, key, false, max_num, begin_ms, end_ms)
            .await
    }

    /// The message at commit-log `offset` on the broker at `addr` (VIEW_MESSAGE_BY_ID).
    pub async fn view_message_at(&self, addr: &str, offset: i64) -> Result<MessageExt> {
        let request =
            ClientInstance::request(request_code::VIEW_MESSAGE_BY_ID).with_field("offset", offset);
        let answer = self.client().invoke(addr, request).await?;
        if answer.code != response_code::SUCCESS {
            return Err(ClientError::Remote {
                addr: addr.to_string(),
                code: answer.code,
                remark: answer.remark.unwrap_or_default(),
            });
        }
        let mut stored = decode_stored_all(&answer.body).map_err(|e| {
            ClientError::Protocol(format!("bad VIEW_MESSAGE_BY_ID record from {addr}: {e}"))
        })?;
        match stored.pop() {
            Some(m) if stored.is_empty() => Ok(MessageExt::from_stored(m, MAX_INFLATED_BODY)),
            _ => Err(ClientError::Protocol(format!(
                "{addr} answered VIEW_MESSAGE_BY_ID with no single record"
            ))),
        }
    }

    /// The message with id `msg_id`: an offset message id (looked up on the broker it names)
    /// or, with `topic`, the unique id a send returned (looked up on the topic's brokers).
    pub async fn view_message(&self, msg_id: &str, topic: Option<&str>) -> Result<MessageExt> {
        let id = msg_id.trim();
        if looks_like_offset_msg_id(id) {
            if let Ok((addr, offset)) = decode_offset_msg_id(id) {
                match self.view_message_at(&addr.to_string(), offset).await {
                    Ok(m) => return Ok(m),
                    Err(ClientError::Remote { addr, remark, .. }) if topic.is_none() => {
                        return Err(not_found(
                            addr,
                            format!("no message at commit-log offset {offset} ({remark})"),
                        ))
                    }
                    Err(e) if topic.is_none() => return Err(e),
                    Err(_) => {}
                }
            }
        }
        let Some(topic) = topic else {
            return Err(ClientError::IllegalArgument(format!(
                "{msg_id:?} is not an offset message id (32 or 56 hex digits naming a broker \
                 and a commit-log offset): to look up a unique message id (SendResult.msg_id) \
                 pass its topic too"
            )));
        };
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(ClientError::IllegalArgument(format!(
                "{msg_id:?} is not a message id: pass SendResult.msg_id or offset_msg_id"
            )));
        }
        let found = self
            .query_messages(topic, id, true, UNIQUE_QUERY_MAX_NUM, 0, i64::MAX)
            .await?;
        // The earliest stored copy (a producer's retry may have stored the message twice).
        found
            .into_iter()
            .min_by_key(|m| m.store_timestamp)
            .ok_or_else(|| not_found(topic.to_string(), format!("no message with id {id:?}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rocketmq_protocol::message_id::{create_offset_msg_id, global_uniq_id_generator};

    #[test]
    fn offset_ids_are_told_from_unique_ids() {
        let v4 = create_offset_msg_id("127.0.0.1:10911".parse().unwrap(), 123_456);
        assert!(looks_like_offset_msg_id(&v4));
        let v6 = create_offset_msg_id("[::1]:10911".parse().unwrap(), 7);
        assert!(looks_like_offset_msg_id(&v6));
        for _ in 0..100 {
            let uniq = global_uniq_id_generator().next_id();
            assert_eq!(uniq.len(), 32);
            let pid_is_zero = &uniq[8..12] == "0000";
            assert_eq!(
                looks_like_offset_msg_id(&uniq),
                pid_is_zero && {
                    let (a, o) = decode_offset_msg_id(&uniq).unwrap();
                    a.port() != 0 && o >= 0
                }
            );
        }
        assert!(!looks_like_offset_msg_id("not hex at all, 32 chars long!!"));
        assert!(!looks_like_offset_msg_id(""));
    }
}
