//! Raw-command helpers of the POP integration tests: pop, ack, change-invisible and
//! notification requests as Java's client sends them, and the receipt handle a client
//! builds from a POP answer.
#![allow(dead_code)]

use crate::common::*;
use rocketmq_protocol::code::response_code as resp;
use rocketmq_protocol::message::StoredMessage;
use rocketmq_protocol::pop::{MsgOffsetInfo, QueueKey, ReceiptHandle, StartOffsetInfo, TopicKind};
use rocketmq_protocol::properties::{get_property, POP_CK};
use rocketmq_protocol::{now_millis, RemotingCommand};
use std::time::{Duration, Instant};

pub const BROKER_NAME: &str = "broker-a";

/// One popped message with the handle its consumer acks with.
#[derive(Clone, Debug)]
pub struct Popped {
    pub msg: StoredMessage,
    pub handle: ReceiptHandle,
}

impl Popped {
    pub fn body(&self) -> String {
        String::from_utf8_lossy(&self.msg.body).into_owned()
    }
}

/// A POP answer.
pub struct PopAnswer {
    pub code: i32,
    pub remark: Option<String>,
    pub command: RemotingCommand,
    pub messages: Vec<Popped>,
}

pub fn pop_request(
    group: &str,
    topic: &str,
    queue_id: i32,
    max: i32,
    invisible_ms: i64,
    poll_ms: i64,
    order: bool,
) -> RemotingCommand {
    RemotingCommand::new_request(200050)
        .with_field("consumerGroup", group)
        .with_field("topic", topic)
        .with_field("queueId", queue_id)
        .with_field("maxMsgNums", max)
        .with_field("invisibleTime", invisible_ms)
        .with_field("pollTime", poll_ms)
        .with_field("bornTime", now_millis())
        .with_field("initMode", 0)
        .with_field("expType", "TAG")
        .with_field("exp", "*")
        .with_field("order", order)
}

/// Reads a POP answer as Java's client does: a message without `POP_CK` gets the handle
/// built from `startOffsetInfo`.
pub fn read_pop(r: RemotingCommand) -> PopAnswer {
    let mut out = Vec::new();
    if r.code == resp::SUCCESS {
        let f = |k: &str| {
            r.field(k)
                .unwrap_or_else(|| panic!("POP answer lacks {k}"))
                .to_string()
        };
        let pop_time: i64 = f("popTime").parse().unwrap();
        let invisible: i64 = f("invisibleTime").parse().unwrap();
        let revive: i32 = f("reviveQid").parse().unwrap();
        let starts = StartOffsetInfo::parse(&f("startOffsetInfo")).unwrap();
        let offsets = MsgOffsetInfo::parse(&f("msgOffsetInfo")).unwrap();
        for msg in messages(&r) {
            let handle = match get_property(&msg.properties, POP_CK) {
                Some(ck) => ReceiptHandle::parse(ck).unwrap(),
                None => {
                    let key = QueueKey {
                        kind: TopicKind::Normal,
                        queue_id: msg.queue_id,
                    };
                    assert!(offsets.get(key).unwrap().contains(&msg.queue_offset));
                    ReceiptHandle {
                        ck_queue_offset: starts.get(key).unwrap(),
                        pop_time,
                        invisible_time: invisible,
                        revive_qid: revive,
                        kind: TopicKind::Normal,
                        broker_name: BROKER_NAME.into(),
                        queue_id: msg.queue_id,
                        queue_offset: Some(msg.queue_offset),
                    }
                }
            };
            out.push(Popped { msg, handle });
        }
    }
    PopAnswer {
        code: r.code,
        remark: r.remark.clone(),
        command: r,
        messages: out,
    }
}

pub fn pop(
    c: &mut Client,
    group: &str,
    topic: &str,
    max: i32,
    invisible_ms: i64,
    poll_ms: i64,
) -> PopAnswer {
    read_pop(c.call(pop_request(
        group,
        topic,
        -1,
        max,
        invisible_ms,
        poll_ms,
        false,
    )))
}

/// An ack as Java's client sends it: the stored topic (the retry topic for a retried
/// message) and the handle's queue.
pub fn ack_request(group: &str, topic: &str, p: &Popped) -> RemotingCommand {
    RemotingCommand::new_request(200051)
        .with_field("consumerGroup", group)
        .with_field("topic", p.handle.kind.real_topic(topic, group))
        .with_field("queueId", p.handle.queue_id)
        .with_field("extraInfo", p.handle.encode())
        .with_field("offset", p.handle.queue_offset.unwrap())
}

pub fn ack(c: &mut Client, group: &str, topic: &str, p: &Popped) -> RemotingCommand {
    c.call(ack_request(group, topic, p))
}

pub fn change_invisible(
    c: &mut Client,
    group: &str,
    topic: &str,
    p: &Popped,
    invisible_ms: i64,
) -> RemotingCommand {
    c.call(
        RemotingCommand::new_request(200053)
            .with_field("consumerGroup", group)
            .with_field("topic", p.handle.kind.real_topic(topic, group))
            .with_field("queueId", p.handle.queue_id)
            .with_field("extraInfo", p.handle.encode())
            .with_field("offset", p.handle.queue_offset.unwrap())
            .with_field("invisibleTime", invisible_ms),
    )
}

/// The handle after a successful change (as Java's client rebuilds it).
pub fn changed_handle(p: &Popped, answer: &RemotingCommand) -> Popped {
    let f = |k: &str| answer.field(k).unwrap().parse::<i64>().unwrap();
    let mut handle = p.handle.clone();
    handle.ck_queue_offset = handle.queue_offset.unwrap();
    handle.pop_time = f("popTime");
    handle.invisible_time = f("invisibleTime");
    handle.revive_qid = f("reviveQid") as i32;
    Popped {
        msg: p.msg.clone(),
        handle,
    }
}

/// Creates `topic` with `queues` queues.
pub fn send(c: &mut Client, topic: &str, queue_id: i32, body: &str, properties: &str) {
    let r = c.call(send_v1(topic, queue_id, body.as_bytes(), properties));
    assert_eq!(r.code, 0, "{:?}", r.remark);
}

/// Pops (long polling) until `want` messages came or `timeout` passed; acks nothing.
pub fn pop_until(
    c: &mut Client,
    group: &str,
    topic: &str,
    want: usize,
    invisible_ms: i64,
    timeout: Duration,
) -> Vec<Popped> {
    let deadline = Instant::now() + timeout;
    let mut got = Vec::new();
    while got.len() < want && Instant::now() < deadline {
        let left = deadline
            .saturating_duration_since(Instant::now())
            .as_millis() as i64;
        let a = pop(c, group, topic, 32, invisible_ms, left.clamp(1, 2000));
        assert!(
            matches!(a.code, 0 | 210),
            "pop answered {} {:?}",
            a.code,
            a.remark
        );
        got.extend(a.messages);
    }
    got
}
