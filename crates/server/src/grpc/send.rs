//! SendMessage: normal, FIFO (message group), delay/timer and transactional messages, one or
//! more of one topic, through the broker's send operation (`send_store`, `send_finish`).
//!
//! As the Apache proxy: every message is checked first (`message_in`, and the topic's message
//! type), and a refusal there answers the whole request with its status and no entries; the
//! queue is the one the message group hashes to (so one group keeps its order), else a random
//! writable one, the same for all messages of the request; each message sent gets its
//! `SendResultEntry` (the client's message id, the transaction id: of a half message the one
//! EndTransaction takes, else the message id; the queue offset), and the response status is
//! the entries' common code, or `MULTIPLE_RESULTS` when they differ. The sender is registered
//! as a producer of the topic.

use super::message_in::{check_topic, check_type, incoming, Limits};
use super::message_out::wrap_namespace;
use super::metadata::{peer, ClientMeta};
use super::status::{ok, status};
use super::GrpcFront;
use crate::broker::ops::send::SendRequest;
use crate::broker::topic::AUTO_CREATE_TOPIC;
use bytes::Bytes;
use rocketmq_grpc::v2;
use rocketmq_protocol::header::SendMessageRequestHeader;
use rocketmq_protocol::message_group::message_group_index;
use rocketmq_protocol::message_id::decode_offset_msg_id;
use tonic::{Request, Response, Status};

/// The client version written in send headers (any version reads `maxReconsumeTimes`).
const CLIENT_VERSION: i32 = i32::MAX;

pub(super) async fn send_message(
    front: &GrpcFront,
    request: Request<v2::SendMessageRequest>,
) -> Result<Response<v2::SendMessageResponse>, Status> {
    let meta = ClientMeta::from_metadata(request.metadata());
    let from = peer(&request);
    let request = request.into_inner();
    let response = match front.send(&meta, from, &request.messages).await {
        Ok(entries) => v2::SendMessageResponse {
            status: Some(overall(&entries)),
            entries,
        },
        // Refused before anything was sent: the status alone, as the proxy answers.
        Err(refused) => v2::SendMessageResponse {
            status: Some(refused),
            entries: vec![],
        },
    };
    Ok(Response::new(response))
}

/// The status of a whole send: the entries' code when they agree, else MULTIPLE_RESULTS.
fn overall(entries: &[v2::SendResultEntry]) -> v2::Status {
    let codes: std::collections::BTreeSet<i32> = entries
        .iter()
        .map(|e| e.status.as_ref().map_or(0, |s| s.code))
        .collect();
    match codes.len() {
        0 => status(v2::Code::InternalServerError, "send status is empty"),
        1 => match entries.iter().find_map(|e| e.status.clone()) {
            Some(s) if s.code == v2::Code::Ok as i32 => ok(),
            Some(s) => s,
            None => status(v2::Code::InternalServerError, "send status is empty"),
        },
        _ => status(v2::Code::MultipleResults, "MULTIPLE_RESULTS"),
    }
}

fn refused_entry(status: v2::Status) -> v2::SendResultEntry {
    v2::SendResultEntry {
        status: Some(status),
        ..Default::default()
    }
}

/// The queue a message group's messages go to, as the Apache proxy picks it (Guava's
/// `consistentHash(group.hashCode(), writeQueues)`): the same for every broker, restart and
/// client, this package's remoting producers included.
pub(crate) fn queue_of_group(group: &str, write_queues: i32) -> i32 {
    let queues = usize::try_from(write_queues.max(1)).unwrap_or(1);
    message_group_index(group, queues) as i32
}

impl GrpcFront {
    /// Sends `messages` (one topic); one entry per message, in order, or the refusal of the
    /// whole request when a check fails before anything is sent.
    async fn send(
        &self,
        meta: &ClientMeta,
        from: std::net::SocketAddr,
        messages: &[v2::Message],
    ) -> Result<Vec<v2::SendResultEntry>, v2::Status> {
        let Some(first) = messages.first() else {
            return Err(status(v2::Code::MessageCorrupted, "no message to send"));
        };
        if messages.iter().any(|m| m.topic != first.topic) {
            return Err(status(
                v2::Code::MessageCorrupted,
                "topic in message is not same",
            ));
        }
        let topic = wrap_namespace(first.topic.as_ref());
        check_topic(&topic)?;
        let limits = Limits {
            max_body_size: self.broker.config.max_message_size,
            max_delay_ms: i64::try_from(self.broker.config.timer_max_delay.as_millis())
                .unwrap_or(i64::MAX),
        };
        let now = rocketmq_protocol::now_millis();
        let born_host = from.to_string();
        let checked = messages
            .iter()
            .map(|m| incoming(m, &topic, &born_host, limits, now))
            .collect::<Result<Vec<_>, _>>()?;
        let Some(config) = self.topic_for_send(&topic).await else {
            return Err(status(
                v2::Code::TopicNotFound,
                format!("No topic route info in name server for the topic: {topic}"),
            ));
        };
        for i in &checked {
            check_type(&config.attributes, i.message_type)?;
        }
        self.register_producer(meta, from, &topic);
        // One queue for the whole request: the group's (of a single message), else random;
        // the broker's send puts a priority message on its priority's queue instead.
        let queue_id = match (&checked[0].message_group, checked.len()) {
            (Some(group), 1) => queue_of_group(group, config.write_queue_nums),
            _ => rand::random_range(0..config.write_queue_nums.max(1)),
        };
        // Every message is appended before any waits for its flush, so the messages of one
        // request share the flushes (one under sync flush) instead of waiting in turn.
        let mut stored = Vec::with_capacity(checked.len());
        for (m, i) in messages.iter().zip(checked) {
            let header = SendMessageRequestHeader {
                producer_group: topic.clone(),
                topic: topic.clone(),
                default_topic: AUTO_CREATE_TOPIC.to_string(),
                default_topic_queue_nums: super::route::CREATED_TOPIC_QUEUES,
                queue_id,
                sys_flag: i.sys_flag,
                born_timestamp: i.born_timestamp,
                flag: 0,
                properties: Some(i.properties),
                reconsume_times: Some(i.reconsume_times),
                unit_mode: None,
                max_reconsume_times: None,
                batch: Some(false),
                broker_name: None,
            };
            let transactional = i.message_type == v2::MessageType::Transaction;
            let request = SendRequest {
                header,
                body: Bytes::copy_from_slice(&m.body),
                batch: false,
                born_host: from,
                client_version: CLIENT_VERSION,
            };
            stored.push((i.message_id, transactional, self.broker.send_store(request)));
        }
        let mut entries = Vec::with_capacity(stored.len());
        for (message_id, transactional, appended) in stored {
            let sent = match appended {
                Ok(appended) => self.broker.send_finish(appended).await,
                Err(e) => Err(e),
            };
            entries.push(match sent {
                Ok(receipt) if receipt.flush_failure.is_some() => refused_entry(status(
                    v2::Code::MasterPersistenceTimeout,
                    "send message failed, sendStatus=FLUSH_DISK_TIMEOUT",
                )),
                Ok(receipt) => {
                    let transaction_id = if transactional {
                        match decode_offset_msg_id(&receipt.msg_id) {
                            Ok((_, offset)) => {
                                super::transaction::transaction_id(offset, receipt.queue_offset)
                            }
                            Err(_) => String::new(),
                        }
                    } else {
                        // The broker's transaction id of any send: its unique key.
                        message_id.clone()
                    };
                    v2::SendResultEntry {
                        status: Some(ok()),
                        message_id,
                        transaction_id,
                        offset: receipt.queue_offset,
                        recall_handle: receipt.recall_handle.unwrap_or_default(),
                    }
                }
                Err(e) => refused_entry(super::status::from_op_error(&e)),
            });
        }
        Ok(entries)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_go_where_the_apache_proxy_puts_them() {
        // (group, queue over 1, 2, 3, 4, 8, 16, 100 queues) as Guava 32's
        // `Hashing.consistentHash(group.hashCode(), queues)` computes them.
        let golden: [(&str, [i32; 7]); 3] = [
            ("order-1", [0, 0, 0, 3, 3, 3, 3]),
            ("one-group", [0, 0, 0, 0, 4, 4, 69]),
            ("\u{4e16}\u{754c}-\u{ff21}", [0, 1, 1, 1, 1, 12, 79]),
        ];
        for (group, queues) in golden {
            for (buckets, want) in [1, 2, 3, 4, 8, 16, 100].into_iter().zip(queues) {
                assert_eq!(
                    queue_of_group(group, buckets),
                    want,
                    "{group} over {buckets}"
                );
            }
        }
    }

    #[test]
    fn a_group_always_goes_to_the_same_queue() {
        let q = queue_of_group("order-42", 8);
        assert!((0..8).contains(&q));
        assert_eq!(q, queue_of_group("order-42", 8));
        assert!((0..3).contains(&queue_of_group("negative-hash-group-zz", 3)));
        assert_eq!(queue_of_group("g", 0), 0);
    }

    #[test]
    fn the_overall_status_is_the_common_code_or_multiple_results() {
        let okay = v2::SendResultEntry {
            status: Some(ok()),
            ..Default::default()
        };
        let bad = refused_entry(status(v2::Code::BadRequest, "x"));
        assert_eq!(
            overall(&[okay.clone(), okay.clone()]).code,
            v2::Code::Ok as i32
        );
        assert_eq!(
            overall(std::slice::from_ref(&bad)).code,
            v2::Code::BadRequest as i32
        );
        assert_eq!(overall(&[okay, bad]).code, v2::Code::MultipleResults as i32);
        assert_eq!(overall(&[]).code, v2::Code::InternalServerError as i32);
    }
}
