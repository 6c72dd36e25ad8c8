//! Puts prepared protobuf messages of one topic on its queues with `SendMessage`: one
//! message with the retry policy ([`Sender::send_one`]), or several normal messages in one
//! request ([`Sender::send_batch`]).
//!
//! What must stay true:
//! - one attempt per queue choice; a failed attempt moves to the next writable queue (a FIFO
//!   message stays on its group's queue, so its order holds); at most `max_attempts` attempts,
//!   and a request the server called bad is never retried; throttling (`TOO_MANY_REQUESTS`)
//!   waits the policy's backoff before the next attempt;
//! - a message group always maps to the same queue while the route is unchanged;
//! - the message type is checked against the queue's accepted types when the server asks
//!   for it (an empty list, or one naming no type, accepts all: the server decides);
//! - a batch makes one attempt; whatever it did not settle (a failed request, a failed
//!   entry, an answer that cannot be matched to its messages) is sent again message by
//!   message, with the retry policy, under the same message ids.

use super::error::{check_status, GrpcError, GrpcResult};
use super::session::Session;
use super::transport::first_address;
use rocketmq_grpc::v2::{
    Message, MessageQueue, MessageType, Permission, SendMessageRequest, SendMessageResponse,
};
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

const LOG: &str = "rocketmq.client.v5";

/// What a successful send returns.
#[derive(Clone, Debug)]
pub struct SendReceipt {
    pub message_id: String,
    pub transaction_id: String,
    pub offset: i64,
    pub recall_handle: String,
    pub topic: String,
    pub queue_id: i32,
    pub broker_name: String,
    /// The `host:port` the message went to (where its transaction ends).
    pub endpoint: String,
}

/// A message ready to go: its protobuf form and the id written in it.
#[derive(Clone, Debug)]
pub(super) struct Prepared {
    pub topic: String,
    pub message_id: String,
    pub message_group: Option<String>,
    pub message_type: MessageType,
    pub proto: Message,
}

/// Cheap to clone: the producer's session and its round-robin queue cursor.
#[derive(Clone)]
pub(super) struct Sender {
    pub session: Arc<Session>,
    next_queue: Arc<AtomicUsize>,
}

fn writable(mq: &MessageQueue) -> bool {
    mq.permission == Permission::Write as i32 || mq.permission == Permission::ReadWrite as i32
}

/// Where a chosen queue's requests go.
struct Target<'a> {
    queue: &'a MessageQueue,
    broker_name: String,
    addr: String,
}

impl Sender {
    pub fn new(session: Arc<Session>) -> Self {
        Sender {
            session,
            next_queue: Arc::new(AtomicUsize::new(rand::random::<u16>() as usize)),
        }
    }

    fn choose_queue<'a>(
        &self,
        route: &'a [MessageQueue],
        group: Option<&str>,
        attempt: usize,
    ) -> Option<&'a MessageQueue> {
        let queues: Vec<&MessageQueue> = route.iter().filter(|q| writable(q)).collect();
        if queues.is_empty() {
            return None;
        }
        let index = match group {
            Some(group) => {
                let mut h = std::hash::DefaultHasher::new();
                group.hash(&mut h);
                h.finish() as usize
            }
            None => self.next_queue.fetch_add(1, Ordering::Relaxed) + attempt,
        };
        Some(queues[index % queues.len()])
    }

    /// The queue for this attempt and where it lives, after the message-type check.
    fn target<'a>(
        &self,
        route: &'a [MessageQueue],
        msg: &Prepared,
        attempt: usize,
    ) -> GrpcResult<Target<'a>> {
        let Some(queue) = self.choose_queue(route, msg.message_group.as_deref(), attempt) else {
            return Err(GrpcError::Status {
                code: rocketmq_grpc::v2::Code::Forbidden as i32,
                message: format!("topic {} has no writable queue", msg.topic),
            });
        };
        if self.session.settings().validate_message_type
            && !queue.accept_message_types.is_empty()
            && !queue
                .accept_message_types
                .iter()
                .all(|t| *t == MessageType::Unspecified as i32)
            && !queue
                .accept_message_types
                .contains(&(msg.message_type as i32))
        {
            return Err(GrpcError::IllegalArgument(format!(
                "topic {} does not accept {} messages (it accepts {:?}); send to a topic of \
                 that message type",
                msg.topic,
                msg.message_type.as_str_name(),
                queue
                    .accept_message_types
                    .iter()
                    .map(|t| MessageType::try_from(*t)
                        .map(|m| m.as_str_name())
                        .unwrap_or("?"))
                    .collect::<Vec<_>>()
            )));
        }
        let broker = queue.broker.clone().unwrap_or_default();
        let addr = first_address(broker.endpoints.as_ref())
            .unwrap_or_else(|| self.session.transport.access_point().to_string());
        Ok(Target {
            queue,
            broker_name: broker.name,
            addr,
        })
    }

    /// One `SendMessage` with `messages` put on `target`'s queue.
    async fn request(
        &self,
        target: &Target<'_>,
        messages: impl Iterator<Item = &Message>,
    ) -> GrpcResult<SendMessageResponse> {
        let messages = messages
            .map(|m| {
                let mut sent = m.clone();
                if let Some(sp) = sent.system_properties.as_mut() {
                    sp.queue_id = target.queue.id;
                }
                sent
            })
            .collect();
        let t = &self.session.transport;
        let resp = t
            .stub(&target.addr)?
            .send_message(t.unary(SendMessageRequest { messages }))
            .await?
            .into_inner();
        check_status(resp.status.as_ref())?;
        Ok(resp)
    }

    /// Sends one message (see the module header for retries).
    pub async fn send_one(&self, msg: &Prepared) -> GrpcResult<SendReceipt> {
        let route = self.session.route(&msg.topic).await?;
        let settings = self.session.settings();
        let max_attempts = settings.max_attempts.max(1) as usize;
        let mut last_error = None;
        for attempt in 0..max_attempts {
            let target = self.target(&route, msg, attempt)?;
            let result: GrpcResult<SendReceipt> = async {
                let resp = self.request(&target, std::iter::once(&msg.proto)).await?;
                let entry = resp.entries.into_iter().next().ok_or_else(|| {
                    GrpcError::Transport("the send response carries no entry".into())
                })?;
                check_status(entry.status.as_ref())?;
                Ok(SendReceipt {
                    message_id: if entry.message_id.is_empty() {
                        msg.message_id.clone()
                    } else {
                        entry.message_id
                    },
                    transaction_id: entry.transaction_id,
                    offset: entry.offset,
                    recall_handle: entry.recall_handle,
                    topic: msg.topic.clone(),
                    queue_id: target.queue.id,
                    broker_name: target.broker_name.clone(),
                    endpoint: target.addr.clone(),
                })
            }
            .await;
            match result {
                Ok(receipt) => return Ok(receipt),
                Err(e) if !e.is_retryable() || attempt + 1 == max_attempts => return Err(e),
                Err(e) => {
                    tracing::debug!(target: LOG, topic = %msg.topic, attempt = attempt + 1,
                        endpoint = %target.addr, error = %e, "send failed, retrying");
                    if e.code() == Some(rocketmq_grpc::v2::Code::TooManyRequests as i32) {
                        tokio::time::sleep(settings.backoff.delay(attempt as i32 + 1)).await;
                    }
                    last_error = Some(e);
                }
            }
        }
        Err(last_error.unwrap_or_else(|| GrpcError::Transport("no attempt was made".into())))
    }

    /// Sends normal messages of one topic in one request; one result per message, in order.
    /// What the request did not settle goes again message by message ([`Sender::send_one`]).
    pub async fn send_batch(&self, msgs: &[Prepared]) -> Vec<GrpcResult<SendReceipt>> {
        let Some(first) = msgs.first() else {
            return Vec::new();
        };
        if msgs.len() == 1 {
            return vec![self.send_one(first).await];
        }
        let settled = match self.session.route(&first.topic).await {
            Ok(route) => match self.target(&route, first, 0) {
                Ok(target) => match self.request(&target, msgs.iter().map(|m| &m.proto)).await {
                    Ok(resp) => receipts_of_batch(msgs, resp, &target),
                    Err(e) => {
                        tracing::debug!(target: LOG, topic = %first.topic, messages = msgs.len(),
                            endpoint = %target.addr, error = %e,
                            "batched send failed, sending its messages one by one");
                        vec![None; msgs.len()]
                    }
                },
                // A refusal before any request (message type, no queue) holds for each.
                Err(e) => return msgs.iter().map(|_| Err(e.clone())).collect(),
            },
            Err(e) => return msgs.iter().map(|_| Err(e.clone())).collect(),
        };
        let mut results = Vec::with_capacity(msgs.len());
        for (msg, receipt) in msgs.iter().zip(settled) {
            results.push(match receipt {
                Some(r) => Ok(r),
                None => self.send_one(msg).await,
            });
        }
        results
    }
}

/// The receipts a batch's answer settles, in message order; `None` where a message must be
/// sent again. A server answers one entry per message (this package's broker), or one entry
/// for the whole batch whose message id lists the batch's ids separated by commas and whose
/// offset is the first message's (the Apache proxy, which stores the request as one batch).
fn receipts_of_batch(
    msgs: &[Prepared],
    resp: SendMessageResponse,
    target: &Target<'_>,
) -> Vec<Option<SendReceipt>> {
    let receipt = |msg: &Prepared, message_id: String, offset: i64| SendReceipt {
        transaction_id: message_id.clone(),
        message_id,
        offset,
        recall_handle: String::new(),
        topic: msg.topic.clone(),
        queue_id: target.queue.id,
        broker_name: target.broker_name.clone(),
        endpoint: target.addr.clone(),
    };
    let entries = resp.entries;
    if entries.len() == msgs.len() {
        return msgs
            .iter()
            .zip(entries)
            .map(|(msg, entry)| {
                check_status(entry.status.as_ref()).ok()?;
                let id = if entry.message_id.is_empty() {
                    msg.message_id.clone()
                } else {
                    entry.message_id
                };
                Some(receipt(msg, id, entry.offset))
            })
            .collect();
    }
    if let [entry] = entries.as_slice() {
        let ids: Vec<&str> = entry.message_id.split(',').collect();
        let matches =
            ids.len() == msgs.len() && ids.iter().zip(msgs).all(|(id, m)| *id == m.message_id);
        if check_status(entry.status.as_ref()).is_ok() && matches {
            return msgs
                .iter()
                .enumerate()
                .map(|(i, msg)| {
                    Some(receipt(
                        msg,
                        msg.message_id.clone(),
                        entry.offset + i as i64,
                    ))
                })
                .collect();
        }
    }
    tracing::debug!(target: LOG, messages = msgs.len(), entries = entries.len(),
        "a batched send's answer does not match its messages; sending them one by one");
    vec![None; msgs.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use rocketmq_grpc::v2::{Code, SendResultEntry, Status, SystemProperties};

    fn prepared(id: &str) -> Prepared {
        Prepared {
            topic: "T".into(),
            message_id: id.into(),
            message_group: None,
            message_type: MessageType::Normal,
            proto: Message {
                system_properties: Some(SystemProperties {
                    message_id: id.into(),
                    ..Default::default()
                }),
                ..Default::default()
            },
        }
    }

    fn entry(code: Code, id: &str, offset: i64) -> SendResultEntry {
        SendResultEntry {
            status: Some(Status {
                code: code as i32,
                message: code.as_str_name().into(),
            }),
            message_id: id.into(),
            offset,
            ..Default::default()
        }
    }

    fn settle(msgs: &[Prepared], entries: Vec<SendResultEntry>) -> Vec<Option<(String, i64)>> {
        let queue = MessageQueue {
            id: 3,
            ..Default::default()
        };
        let target = Target {
            queue: &queue,
            broker_name: "b".into(),
            addr: "127.0.0.1:1".into(),
        };
        let resp = SendMessageResponse {
            status: None,
            entries,
        };
        receipts_of_batch(msgs, resp, &target)
            .into_iter()
            .map(|r| {
                r.map(|r| {
                    assert_eq!((r.queue_id, r.broker_name.as_str()), (3, "b"));
                    (r.message_id, r.offset)
                })
            })
            .collect()
    }

    #[test]
    fn one_entry_per_message_settles_each_by_its_status() {
        let msgs = [prepared("A"), prepared("B"), prepared("C")];
        let got = settle(
            &msgs,
            vec![
                entry(Code::Ok, "A", 7),
                entry(Code::MasterPersistenceTimeout, "", 0),
                entry(Code::Ok, "", 9),
            ],
        );
        assert_eq!(
            got,
            vec![Some(("A".into(), 7)), None, Some(("C".into(), 9))]
        );
    }

    #[test]
    fn one_entry_for_the_batch_lists_the_ids_and_the_first_offset() {
        let msgs = [prepared("A"), prepared("B"), prepared("C")];
        let got = settle(&msgs, vec![entry(Code::Ok, "A,B,C", 40)]);
        assert_eq!(
            got,
            vec![
                Some(("A".into(), 40)),
                Some(("B".into(), 41)),
                Some(("C".into(), 42))
            ]
        );
    }

    #[test]
    fn an_answer_that_does_not_match_settles_nothing() {
        let msgs = [prepared("A"), prepared("B")];
        assert_eq!(
            settle(&msgs, vec![entry(Code::Ok, "A,X", 1)]),
            vec![None, None]
        );
        assert_eq!(
            settle(&msgs, vec![entry(Code::Ok, "A", 1)]),
            vec![None, None]
        );
        assert_eq!(
            settle(&msgs, vec![entry(Code::InternalError, "A,B", 1)]),
            vec![None, None]
        );
        assert_eq!(settle(&msgs, vec![]), vec![None, None]);
    }
}
