//! Reading a POP_MESSAGE answer: the messages, each with the receipt handle (`POP_CK`) built
//! from the answer's header summaries as Java's `MQClientAPIImpl.processPopResponse` builds
//! it, and its delivery attempt.
//!
//! What must stay true: a message's handle names the first offset its batch read from that
//! queue (`startOffsetInfo`), the answer's pop and invisible times and revive queue, the
//! queue's kind (the topic or one of its POP retry topics), the broker and the message's own
//! queue offset (`msgOffsetInfo`, matched by position among the answer's messages of that
//! queue). A handle the broker already put on a message is kept as it is. A message read
//! from a retry topic is reported under the topic that was popped.

use crate::error::{ClientError, Result};
use crate::message::MessageExt;
use rocketmq_protocol::header::PopMessageResponseHeader;
use rocketmq_protocol::message::decode_stored_all;
use rocketmq_protocol::pop::{
    MsgOffsetInfo, OrderCountInfo, QueueKey, ReceiptHandle, StartOffsetInfo, TopicKind,
};
use rocketmq_protocol::properties as prop;

/// Largest inflated body accepted from a broker.
const MAX_INFLATED_BODY: usize = 64 * 1024 * 1024;

/// One popped message: invisible to the rest of the group until acked or until
/// `invisible_until_ms`.
#[derive(Clone, Debug)]
pub struct PoppedMessage {
    pub message: MessageExt,
    /// Java's `POP_CK` text; what ack and change-invisible-duration take.
    pub receipt_handle: String,
    /// 1 for a first delivery, then one more per redelivery (reconsume count + 1).
    pub delivery_attempt: i32,
    /// The broker that handed it out (acks go there).
    pub broker_name: String,
    /// When it becomes visible again unless acked (milliseconds since the epoch).
    pub invisible_until_ms: i64,
}

fn summary<T>(
    text: &Option<String>,
    parse: fn(&str) -> std::result::Result<T, rocketmq_protocol::pop::ReceiptHandleError>,
    addr: &str,
) -> Result<Option<T>> {
    text.as_deref()
        .map(parse)
        .transpose()
        .map_err(|e| ClientError::Protocol(format!("POP answer from {addr}: {e}")))
}

/// The messages of a SUCCESS answer to a POP of `topic`, with their handles.
pub fn popped_messages(
    header: &PopMessageResponseHeader,
    body: &[u8],
    topic: &str,
    broker_name: &str,
    order: bool,
    addr: &str,
) -> Result<Vec<PoppedMessage>> {
    let stored = decode_stored_all(body)
        .map_err(|e| ClientError::Protocol(format!("undecodable messages from {addr}: {e}")))?;
    let starts = summary(&header.start_offset_info, StartOffsetInfo::parse, addr)?;
    let offsets = summary(&header.msg_offset_info, MsgOffsetInfo::parse, addr)?;
    let counts = summary(&header.order_count_info, OrderCountInfo::parse, addr)?;
    let messages: Vec<MessageExt> = stored
        .into_iter()
        .map(|m| MessageExt::from_stored(m, MAX_INFLATED_BODY))
        .collect();
    // Per queue of the answer: the handle text up to the queue id (the same for every
    // message of that queue) and how many of its messages came before (a message's index
    // into the queue's `msgOffsetInfo`, in answer order as Java's "sorted map").
    let mut queues: Vec<(QueueKey, Option<String>, usize)> = Vec::new();
    let first_pop_time = header.pop_time.to_string();
    let mut out = Vec::with_capacity(messages.len());
    for mut m in messages {
        let key = key_of(&m);
        let slot = match queues.iter().position(|q| q.0 == key) {
            Some(i) => i,
            None => {
                queues.push((key, None, 0));
                queues.len() - 1
            }
        };
        let index = queues[slot].2;
        queues[slot].2 += 1;
        let handle = match m.property(prop::POP_CK) {
            Some(given) => given.to_string(),
            None => {
                // Without a start offset for the queue each message is its own batch start.
                let start = starts.as_ref().and_then(|s| s.get(key));
                let text = |ck_queue_offset: i64| {
                    ReceiptHandle {
                        ck_queue_offset,
                        pop_time: header.pop_time,
                        invisible_time: header.invisible_time,
                        revive_qid: header.revive_qid,
                        kind: key.kind,
                        broker_name: broker_name.to_string(),
                        queue_id: key.queue_id,
                        queue_offset: None,
                    }
                    .encode()
                };
                let own_prefix;
                let prefix: &str = match start {
                    Some(start) => queues[slot].1.get_or_insert_with(|| text(start)),
                    None => {
                        own_prefix = text(m.queue_offset);
                        &own_prefix
                    }
                };
                let own = offsets
                    .as_ref()
                    .and_then(|o| o.get(key)?.get(index).copied())
                    .unwrap_or(m.queue_offset);
                let mut handle = String::with_capacity(prefix.len() + 21);
                handle.push_str(prefix);
                handle.push(' ');
                handle.push_str(&own.to_string());
                handle
            }
        };
        if order {
            if let Some(count) = counts
                .as_ref()
                .and_then(|c| c.count_for(key, m.queue_offset))
                .filter(|c| *c > 0)
            {
                m.reconsume_times = count;
            }
        }
        m.properties
            .insert(prop::POP_CK.to_string(), handle.clone());
        m.properties
            .entry(prop::FIRST_POP_TIME.to_string())
            .or_insert_with(|| first_pop_time.clone());
        if m.topic != topic {
            // Read from a POP retry topic: the application popped `topic`.
            m.properties
                .entry(prop::RETRY_TOPIC.to_string())
                .or_insert_with(|| topic.to_string());
            m.topic = topic.to_string();
        }
        out.push(PoppedMessage {
            delivery_attempt: m.reconsume_times.saturating_add(1),
            message: m,
            receipt_handle: handle,
            broker_name: broker_name.to_string(),
            invisible_until_ms: header.pop_time.saturating_add(header.invisible_time),
        });
    }
    Ok(out)
}

/// The summary key of a stored message: its topic's kind and its queue.
fn key_of(m: &MessageExt) -> QueueKey {
    QueueKey {
        kind: TopicKind::of_topic(&m.topic),
        queue_id: m.queue_id,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rocketmq_protocol::message::{encode_stored, StoredMessage};

    fn stored(topic: &str, queue_id: i32, queue_offset: i64, reconsume: i32) -> Vec<u8> {
        let mut m = StoredMessage {
            total_size: 0,
            magic_code: 0,
            body_crc: 0,
            queue_id,
            flag: 0,
            queue_offset,
            physical_offset: 100 + queue_offset,
            sys_flag: 0,
            born_timestamp: 1,
            born_host: "127.0.0.1:1".parse().unwrap(),
            store_timestamp: 2,
            store_host: "127.0.0.1:10911".parse().unwrap(),
            reconsume_times: reconsume,
            prepared_transaction_offset: 0,
            body: bytes::Bytes::from_static(b"x"),
            topic: topic.into(),
            properties: String::new(),
        };
        m.normalize();
        encode_stored(&m).unwrap()
    }

    fn header(order_count: Option<&str>) -> PopMessageResponseHeader {
        PopMessageResponseHeader {
            pop_time: 1_000,
            invisible_time: 30_000,
            revive_qid: 3,
            rest_num: 0,
            start_offset_info: Some("0 1 5;1 0 7".into()),
            msg_offset_info: Some("0 1 5,6;1 0 9".into()),
            order_count_info: order_count.map(str::to_string),
        }
    }

    #[test]
    fn handles_are_built_from_the_answer_summaries_as_java_builds_them() {
        let mut body = stored("T", 1, 5, 0);
        body.extend(stored("T", 1, 6, 0));
        body.extend(stored("%RETRY%G_T", 0, 9, 2));
        let got = popped_messages(&header(None), &body, "T", "b", false, "addr").unwrap();
        let handles: Vec<&str> = got.iter().map(|p| p.receipt_handle.as_str()).collect();
        assert_eq!(
            handles,
            [
                "5 1000 30000 3 0 b 1 5",
                "5 1000 30000 3 0 b 1 6",
                "7 1000 30000 3 1 b 0 9"
            ]
        );
        let attempts: Vec<i32> = got.iter().map(|p| p.delivery_attempt).collect();
        assert_eq!(attempts, [1, 1, 3]);
        let retried = &got[2].message;
        assert_eq!(retried.topic, "T");
        assert_eq!(retried.property(prop::RETRY_TOPIC), Some("T"));
        assert_eq!(retried.property(prop::POP_CK), Some(handles[2]));
        assert_eq!(got[0].invisible_until_ms, 31_000);
    }

    #[test]
    fn orderly_answers_take_the_delivery_count_from_order_count_info() {
        let body = stored("T", 1, 5, 0);
        let got = popped_messages(&header(Some("0 qo1%5 2")), &body, "T", "b", true, "a").unwrap();
        assert_eq!(got[0].delivery_attempt, 3);
        let unordered =
            popped_messages(&header(Some("0 qo1%5 2")), &body, "T", "b", false, "a").unwrap();
        assert_eq!(unordered[0].delivery_attempt, 1);
    }

    #[test]
    fn a_malformed_summary_is_a_protocol_error_naming_the_broker() {
        let mut h = header(None);
        h.start_offset_info = Some("garbage".into());
        let err = popped_messages(&h, &stored("T", 1, 5, 0), "T", "b", false, "1.2.3.4:5")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("1.2.3.4:5") && err.contains("receipt handle"),
            "{err}"
        );
    }
}
