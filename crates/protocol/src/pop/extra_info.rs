//! Receipt handles and the per-queue summaries of a POP answer, in Java's `ExtraInfoUtil`
//! text formats.
//!
//! - handle (`extraInfo`, the `POP_CK` property), fields separated by one space:
//!   `ckQueueOffset popTime invisibleTime reviveQid kind brokerName queueId [queueOffset]`,
//!   where `ckQueueOffset` is the first offset the POP read from that queue and `kind` is
//!   [`TopicKind`] (`0` topic, `1` V1 retry topic, `2` V2 retry topic).
//! - `startOffsetInfo`: `kind queueId startOffset` per queue, joined by `;`.
//! - `msgOffsetInfo`: `kind queueId o1,o2,...` per queue, joined by `;`.
//! - `orderCountInfo`: `kind queueId count` (whole queue) or `kind qo<queueId>%<offset>
//!   count` (one message), joined by `;`.
//!
//! Clients key these by `kind@queueId` ([`QueueKey`]).

use crate::pop::retry_topic::{is_pop_retry_topic_v2, pop_retry_topic_v1, pop_retry_topic_v2};
use std::fmt;

/// Which topic a handle's queue belongs to: the topic itself or one of its POP retry topics.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TopicKind {
    Normal,
    RetryV1,
    RetryV2,
}

impl TopicKind {
    /// The kind of a stored topic name (Java's private `ExtraInfoUtil.getRetry`).
    pub fn of_topic(topic: &str) -> TopicKind {
        if is_pop_retry_topic_v2(topic) {
            TopicKind::RetryV2
        } else if topic.starts_with("%RETRY%") {
            TopicKind::RetryV1
        } else {
            TopicKind::Normal
        }
    }

    /// The wire mark: `0`, `1` or `2`.
    pub fn mark(self) -> &'static str {
        match self {
            TopicKind::Normal => "0",
            TopicKind::RetryV1 => "1",
            TopicKind::RetryV2 => "2",
        }
    }

    /// Inverse of [`Self::mark`].
    pub fn parse(mark: &str) -> Option<TopicKind> {
        match mark {
            "0" => Some(TopicKind::Normal),
            "1" => Some(TopicKind::RetryV1),
            "2" => Some(TopicKind::RetryV2),
            _ => None,
        }
    }

    /// The stored topic this kind means for `topic` popped by `group`.
    pub fn real_topic(self, topic: &str, group: &str) -> String {
        match self {
            TopicKind::Normal => topic.to_string(),
            TopicKind::RetryV1 => pop_retry_topic_v1(topic, group),
            TopicKind::RetryV2 => pop_retry_topic_v2(topic, group),
        }
    }

    pub fn is_retry(self) -> bool {
        self != TopicKind::Normal
    }
}

/// Why a handle or summary text could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReceiptHandleError(pub String);

impl fmt::Display for ReceiptHandleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "malformed POP receipt handle: {}", self.0)
    }
}

impl std::error::Error for ReceiptHandleError {}

fn bad(what: &str, text: &str) -> ReceiptHandleError {
    ReceiptHandleError(format!("{what} in {text:?}"))
}

fn num<T: std::str::FromStr>(field: &str, what: &str, text: &str) -> Result<T, ReceiptHandleError> {
    field.parse().map_err(|_| bad(what, text))
}

/// A POP receipt handle: what `extraInfo` of ACK / CHANGE_INVISIBLE carries.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ReceiptHandle {
    /// The first queue offset of the POP batch this message came in (the checkpoint's start).
    pub ck_queue_offset: i64,
    pub pop_time: i64,
    pub invisible_time: i64,
    /// [`crate::pop::POP_ORDER_REVIVE_QUEUE`] for orderly POP.
    pub revive_qid: i32,
    pub kind: TopicKind,
    pub broker_name: String,
    pub queue_id: i32,
    /// The message's own queue offset (absent in the 7-field form).
    pub queue_offset: Option<i64>,
}

impl ReceiptHandle {
    /// Parses Java's space-separated form (7 or 8 fields; empty trailing fields are dropped
    /// as Java's `String.split` drops them).
    pub fn parse(text: &str) -> Result<ReceiptHandle, ReceiptHandleError> {
        let mut parts: Vec<&str> = text.split(' ').collect();
        while parts.last() == Some(&"") {
            parts.pop();
        }
        if parts.len() < 7 {
            return Err(bad("fewer than 7 fields", text));
        }
        Ok(ReceiptHandle {
            ck_queue_offset: num(parts[0], "bad checkpoint offset", text)?,
            pop_time: num(parts[1], "bad pop time", text)?,
            invisible_time: num(parts[2], "bad invisible time", text)?,
            revive_qid: num(parts[3], "bad revive queue id", text)?,
            kind: TopicKind::parse(parts[4]).ok_or_else(|| bad("bad retry mark", text))?,
            broker_name: parts[5].to_string(),
            queue_id: num(parts[6], "bad queue id", text)?,
            queue_offset: match parts.get(7) {
                Some(p) => Some(num(p, "bad queue offset", text)?),
                None => None,
            },
        })
    }

    /// Java's `buildExtraInfo` text.
    pub fn encode(&self) -> String {
        let mut s = format!(
            "{} {} {} {} {} {} {}",
            self.ck_queue_offset,
            self.pop_time,
            self.invisible_time,
            self.revive_qid,
            self.kind.mark(),
            self.broker_name,
            self.queue_id
        );
        if let Some(o) = self.queue_offset {
            s.push(' ');
            s.push_str(&o.to_string());
        }
        s
    }

    /// Whether the handle comes from an orderly POP.
    pub fn is_order(&self) -> bool {
        self.revive_qid == crate::pop::POP_ORDER_REVIVE_QUEUE
    }

    /// When the message becomes visible again if nothing else happens.
    pub fn visible_at(&self) -> i64 {
        self.pop_time.saturating_add(self.invisible_time)
    }
}

impl fmt::Display for ReceiptHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.encode())
    }
}

/// `kind@queueId`, the key clients use for the summaries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct QueueKey {
    pub kind: TopicKind,
    pub queue_id: i32,
}

impl fmt::Display for QueueKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.kind.mark(), self.queue_id)
    }
}

/// Splits a summary into its `;`-separated entries of exactly three space-separated fields.
fn entries(text: &str) -> Result<Vec<[&str; 3]>, ReceiptHandleError> {
    if text.is_empty() {
        return Ok(Vec::new());
    }
    text.split(';')
        .map(|one| {
            let f: Vec<&str> = one.split(' ').collect();
            match f.as_slice() {
                [a, b, c] => Ok([*a, *b, *c]),
                _ => Err(bad("an entry without 3 fields", text)),
            }
        })
        .collect()
}

fn queue_key(kind: &str, queue_id: &str, text: &str) -> Result<QueueKey, ReceiptHandleError> {
    Ok(QueueKey {
        kind: TopicKind::parse(kind).ok_or_else(|| bad("bad retry mark", text))?,
        queue_id: num(queue_id, "bad queue id", text)?,
    })
}

fn check_unique<K: PartialEq>(keys: &[K], text: &str) -> Result<(), ReceiptHandleError> {
    for (i, k) in keys.iter().enumerate() {
        if keys[..i].contains(k) {
            return Err(bad("a duplicate queue", text));
        }
    }
    Ok(())
}

/// `startOffsetInfo`: the first offset read from each queue of one POP.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StartOffsetInfo(pub Vec<(QueueKey, i64)>);

impl StartOffsetInfo {
    pub fn push(&mut self, kind: TopicKind, queue_id: i32, start_offset: i64) {
        self.0.push((QueueKey { kind, queue_id }, start_offset));
    }

    pub fn encode(&self) -> String {
        self.0
            .iter()
            .map(|(k, o)| format!("{} {} {o}", k.kind.mark(), k.queue_id))
            .collect::<Vec<_>>()
            .join(";")
    }

    pub fn parse(text: &str) -> Result<StartOffsetInfo, ReceiptHandleError> {
        let mut out = Vec::new();
        for [k, q, o] in entries(text)? {
            out.push((queue_key(k, q, text)?, num(o, "bad start offset", text)?));
        }
        check_unique(&out.iter().map(|e| e.0).collect::<Vec<_>>(), text)?;
        Ok(StartOffsetInfo(out))
    }

    pub fn get(&self, key: QueueKey) -> Option<i64> {
        self.0.iter().find(|(k, _)| *k == key).map(|(_, o)| *o)
    }
}

/// `msgOffsetInfo`: the queue offsets of the messages handed out, per queue.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MsgOffsetInfo(pub Vec<(QueueKey, Vec<i64>)>);

impl MsgOffsetInfo {
    pub fn push(&mut self, kind: TopicKind, queue_id: i32, offsets: Vec<i64>) {
        self.0.push((QueueKey { kind, queue_id }, offsets));
    }

    pub fn encode(&self) -> String {
        self.0
            .iter()
            .map(|(k, offsets)| {
                let list: Vec<String> = offsets.iter().map(i64::to_string).collect();
                format!("{} {} {}", k.kind.mark(), k.queue_id, list.join(","))
            })
            .collect::<Vec<_>>()
            .join(";")
    }

    pub fn parse(text: &str) -> Result<MsgOffsetInfo, ReceiptHandleError> {
        let mut out = Vec::new();
        for [k, q, list] in entries(text)? {
            let offsets = list
                .split(',')
                .map(|o| num(o, "bad message offset", text))
                .collect::<Result<Vec<i64>, _>>()?;
            out.push((queue_key(k, q, text)?, offsets));
        }
        check_unique(&out.iter().map(|e| e.0).collect::<Vec<_>>(), text)?;
        Ok(MsgOffsetInfo(out))
    }

    pub fn get(&self, key: QueueKey) -> Option<&[i64]> {
        self.0
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, o)| o.as_slice())
    }
}

/// `orderCountInfo`: how often (orderly POP) a queue's batch or one message was handed out
/// before; clients take it as the message's reconsume count.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OrderCountInfo(pub Vec<(QueueKey, Option<i64>, i32)>);

impl OrderCountInfo {
    /// A whole-queue entry (`kind queueId count`).
    pub fn push_queue(&mut self, kind: TopicKind, queue_id: i32, count: i32) {
        self.0.push((QueueKey { kind, queue_id }, None, count));
    }

    /// A one-message entry (`kind qo<queueId>%<offset> count`).
    pub fn push_message(&mut self, kind: TopicKind, queue_id: i32, queue_offset: i64, count: i32) {
        self.0
            .push((QueueKey { kind, queue_id }, Some(queue_offset), count));
    }

    pub fn encode(&self) -> String {
        self.0
            .iter()
            .map(|(k, offset, count)| match offset {
                None => format!("{} {} {count}", k.kind.mark(), k.queue_id),
                Some(o) => format!("{} qo{}%{o} {count}", k.kind.mark(), k.queue_id),
            })
            .collect::<Vec<_>>()
            .join(";")
    }

    pub fn parse(text: &str) -> Result<OrderCountInfo, ReceiptHandleError> {
        let mut out = Vec::new();
        for [k, middle, c] in entries(text)? {
            let count = num(c, "bad order count", text)?;
            match middle.strip_prefix("qo") {
                Some(rest) => {
                    let (q, o) = rest
                        .split_once('%')
                        .ok_or_else(|| bad("bad queue-offset key", text))?;
                    let key = queue_key(k, q, text)?;
                    out.push((key, Some(num(o, "bad queue offset", text)?), count));
                }
                None => out.push((queue_key(k, middle, text)?, None, count)),
            }
        }
        check_unique(&out.iter().map(|e| (e.0, e.1)).collect::<Vec<_>>(), text)?;
        Ok(OrderCountInfo(out))
    }

    /// The count for one message: its own entry, else its queue's entry (as Java's client).
    pub fn count_for(&self, key: QueueKey, queue_offset: i64) -> Option<i32> {
        let exact = self
            .0
            .iter()
            .find(|(k, o, _)| *k == key && *o == Some(queue_offset));
        exact
            .or_else(|| self.0.iter().find(|(k, o, _)| *k == key && o.is_none()))
            .map(|(_, _, c)| *c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn handle() -> ReceiptHandle {
        ReceiptHandle {
            ck_queue_offset: 10,
            pop_time: 1_700_000_000_000,
            invisible_time: 30_000,
            revive_qid: 3,
            kind: TopicKind::RetryV1,
            broker_name: "broker-a".into(),
            queue_id: 2,
            queue_offset: Some(12),
        }
    }

    #[test]
    fn handle_matches_java_text_and_roundtrips() {
        let h = handle();
        assert_eq!(h.encode(), "10 1700000000000 30000 3 1 broker-a 2 12");
        assert_eq!(ReceiptHandle::parse(&h.encode()).unwrap(), h);
        let short = ReceiptHandle {
            queue_offset: None,
            ..h.clone()
        };
        assert_eq!(short.encode(), "10 1700000000000 30000 3 1 broker-a 2");
        assert_eq!(ReceiptHandle::parse(&short.encode()).unwrap(), short);
        assert_eq!(
            ReceiptHandle::parse(&format!("{} ", h.encode())).unwrap(),
            h
        );
        assert_eq!(h.visible_at(), 1_700_000_030_000);
        assert!(!h.is_order());
        assert!(ReceiptHandle {
            revive_qid: 999,
            ..h
        }
        .is_order());
    }

    #[test]
    fn garbage_handles_are_errors() {
        for text in [
            "",
            "garbage",
            "1 2 3 4 0 b",
            "x 2 3 4 0 b 1",
            "1 2 3 4 7 b 1",
            "1 2 3 4 0 b q",
            "1 2 3 4 0 b 1 z",
        ] {
            assert!(ReceiptHandle::parse(text).is_err(), "{text:?}");
        }
    }

    #[test]
    fn topic_kinds_follow_retry_names() {
        assert_eq!(TopicKind::of_topic("T"), TopicKind::Normal);
        assert_eq!(TopicKind::of_topic("%RETRY%G_T"), TopicKind::RetryV1);
        assert_eq!(TopicKind::of_topic("%RETRY%G+T"), TopicKind::RetryV2);
        assert_eq!(TopicKind::RetryV1.real_topic("T", "G"), "%RETRY%G_T");
        assert_eq!(TopicKind::RetryV2.real_topic("T", "G"), "%RETRY%G+T");
        assert_eq!(TopicKind::Normal.real_topic("T", "G"), "T");
    }

    #[test]
    fn summaries_roundtrip_in_java_form() {
        let mut s = StartOffsetInfo::default();
        s.push(TopicKind::Normal, 0, 5);
        s.push(TopicKind::RetryV1, 0, 7);
        assert_eq!(s.encode(), "0 0 5;1 0 7");
        assert_eq!(StartOffsetInfo::parse(&s.encode()).unwrap(), s);
        let key = QueueKey {
            kind: TopicKind::RetryV1,
            queue_id: 0,
        };
        assert_eq!(s.get(key), Some(7));
        assert_eq!(key.to_string(), "1@0");

        let mut m = MsgOffsetInfo::default();
        m.push(TopicKind::Normal, 3, vec![5, 6, 9]);
        assert_eq!(m.encode(), "0 3 5,6,9");
        assert_eq!(MsgOffsetInfo::parse(&m.encode()).unwrap(), m);

        let mut c = OrderCountInfo::default();
        c.push_queue(TopicKind::Normal, 1, 2);
        c.push_message(TopicKind::Normal, 1, 40, 3);
        assert_eq!(c.encode(), "0 1 2;0 qo1%40 3");
        assert_eq!(OrderCountInfo::parse(&c.encode()).unwrap(), c);
        let q1 = QueueKey {
            kind: TopicKind::Normal,
            queue_id: 1,
        };
        assert_eq!(c.count_for(q1, 40), Some(3));
        assert_eq!(c.count_for(q1, 41), Some(2));

        assert_eq!(
            StartOffsetInfo::parse("").unwrap(),
            StartOffsetInfo::default()
        );
        assert!(StartOffsetInfo::parse("0 0 5;0 0 6").is_err());
        assert!(MsgOffsetInfo::parse("0 0").is_err());
        assert!(MsgOffsetInfo::parse("0 0 1,x").is_err());
        assert!(OrderCountInfo::parse("0 qo1 3").is_err());
    }
}
