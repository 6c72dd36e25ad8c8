//! Recalling timer messages: RECALL_MESSAGE (370) over raw frames and the gRPC RecallMessage,
//! against a real broker. A recalled message is never delivered (also after a restart
//! between the recall and its time); the refusals carry Apache's codes and remarks.

mod common;
mod grpc_util;

use common::*;
use grpc_util::*;
use rocketmq_grpc::v2;
use rocketmq_protocol::now_millis;
use rocketmq_protocol::properties::{encode_pairs, get_property};
use rocketmq_protocol::recall::RecallHandle;
use rocketmq_protocol::RemotingCommand;
use rocketmq_server::EmbeddedCluster;
use std::time::{Duration, Instant};

/// Sends a timer message with `UNIQ_KEY` = `id`, due at `at`; returns its recall handle.
fn send_timer(c: &mut Client, topic: &str, id: &str, at: i64) -> Option<String> {
    let props = encode_pairs(&[("UNIQ_KEY", id), ("TIMER_DELIVER_MS", &at.to_string())]);
    let r = c.call(send_v1(topic, 0, id.as_bytes(), &props));
    assert_eq!(r.code, 0, "{:?}", r.remark);
    r.ext_fields.get("recallHandle").cloned()
}

fn recall(c: &mut Client, topic: &str, handle: &str) -> RemotingCommand {
    c.call(
        RemotingCommand::new_request(370)
            .with_field("producerGroup", "PG")
            .with_field("topic", topic)
            .with_field("recallHandle", handle),
    )
}

fn ids(cluster: &EmbeddedCluster, topic: &str) -> Vec<String> {
    let mut c = Client::connect(cluster.broker_addr());
    (0..4)
        .flat_map(|q| pull_all(&mut c, topic, q))
        .filter_map(|m| get_property(&m.properties, "UNIQ_KEY").map(str::to_string))
        .collect()
}

/// Waits (at most [`WAIT`]) until `id` is in `topic` (queues 0-3); returns every id there.
fn wait_for_id(cluster: &EmbeddedCluster, topic: &str, id: &str) -> Vec<String> {
    let deadline = Instant::now() + WAIT;
    loop {
        let seen = ids(cluster, topic);
        if seen.iter().any(|s| s == id) {
            return seen;
        }
        assert!(Instant::now() < deadline, "{id} never reached {topic}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_recalled_timer_message_is_never_delivered_and_refusals_say_why() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = start(dir.path());
    let mut c = Client::connect(cluster.broker_addr());
    let at = now_millis() + 2_000;
    let recalled =
        send_timer(&mut c, "RT", "ID-RECALLED", at).expect("a timer send answers a recall handle");
    // Due 200 ms later: once it is there, the recalled one's time has passed.
    let sentinel = send_timer(&mut c, "RT", "ID-KEPT", at + 200).unwrap();
    let h = RecallHandle::decode(&recalled).unwrap();
    assert_eq!(
        (h.topic.as_str(), h.message_id.as_str(), h.timestamp_ms()),
        ("RT", "ID-RECALLED", Some(at))
    );
    assert_ne!(recalled, sentinel);
    // A message without a time has no handle.
    let plain = c.call(send_v1("RT2", 0, b"now", ""));
    assert_eq!(plain.code, 0);
    assert!(!plain.ext_fields.contains_key("recallHandle"));

    let ok = recall(&mut c, "RT", &recalled);
    assert_eq!(ok.code, 0, "{:?}", ok.remark);
    assert_eq!(
        ok.ext_fields.get("msgId").map(String::as_str),
        Some("ID-RECALLED")
    );

    let refused = |c: &mut Client, topic: &str, handle: &str| {
        let r = recall(c, topic, handle);
        (r.code, r.remark.unwrap_or_default())
    };
    assert_eq!(
        refused(&mut c, "NoSuchTopic", &recalled),
        (17, "recall failed, the topic[NoSuchTopic] not exist".into())
    );
    assert_eq!(
        refused(&mut c, "RT", "bm90IGEgaGFuZGxl"),
        (604, "recall handle is invalid".into())
    );
    assert_eq!(
        refused(&mut c, "RT2", &recalled),
        (604, "recall failed, topic not match".into())
    );
    let other_broker = RecallHandle {
        broker_name: "elsewhere".into(),
        ..h.clone()
    }
    .encode();
    assert_eq!(
        refused(&mut c, "RT", &other_broker),
        (604, "recall failed, broker service not available".into())
    );
    let past = RecallHandle {
        timestamp: (now_millis() - 1).to_string(),
        ..h.clone()
    }
    .encode();
    assert_eq!(
        refused(&mut c, "RT", &past),
        (604, "recall failed, timestamp invalid".into())
    );

    let seen = wait_for_id(&cluster, "RT", "ID-KEPT");
    assert_eq!(seen, ["ID-KEPT"], "the recalled message was delivered");
    cluster.shutdown();
}

#[test]
fn a_recall_survives_a_restart_before_the_message_is_due() {
    let dir = tempfile::tempdir().unwrap();
    let at = now_millis() + 3_000;
    {
        let cluster = start(dir.path());
        let mut c = Client::connect(cluster.broker_addr());
        let handle = send_timer(&mut c, "RR", "ID-GONE", at).unwrap();
        send_timer(&mut c, "RR", "ID-STAYS", at + 200).unwrap();
        assert_eq!(recall(&mut c, "RR", &handle).code, 0);
        cluster.shutdown();
    }
    let cluster = start(dir.path());
    let seen = wait_for_id(&cluster, "RR", "ID-STAYS");
    assert_eq!(seen, ["ID-STAYS"]);
    cluster.shutdown();
}

fn delay_message(topic: &str, id: &str, at: i64) -> v2::Message {
    v2::Message {
        topic: resource(topic),
        body: id.as_bytes().to_vec(),
        system_properties: Some(v2::SystemProperties {
            message_id: id.into(),
            message_type: v2::MessageType::Delay as i32,
            delivery_timestamp: Some(rocketmq_grpc::Timestamp {
                seconds: at / 1000,
                nanos: ((at % 1000) * 1_000_000) as i32,
            }),
            body_encoding: v2::Encoding::Identity as i32,
            ..Default::default()
        }),
        ..Default::default()
    }
}

#[test]
fn grpc_recall_message_cancels_a_delay_message_as_the_proxy_answers() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = start_grpc(dir.path());
    let at = now_millis() + 2_000;
    runtime().block_on(async {
        let mut g = connect(&cluster).await;
        let mut handles = Vec::new();
        for (id, due) in [("G-RECALLED", at), ("G-KEPT", at + 200)] {
            let r = g
                .send_message(v2::SendMessageRequest {
                    messages: vec![delay_message("GRT", id, due)],
                })
                .await
                .unwrap()
                .into_inner();
            let entry = &r.entries[0];
            assert_eq!(
                entry.status.as_ref().unwrap().code,
                v2::Code::Ok as i32,
                "{:?}",
                entry.status
            );
            assert!(
                !entry.recall_handle.is_empty(),
                "a delay send answers a recall handle"
            );
            handles.push(entry.recall_handle.clone());
        }
        let recall = |handle: &str, topic: &str| v2::RecallMessageRequest {
            topic: resource(topic),
            recall_handle: handle.to_string(),
        };
        let ok = g
            .recall_message(recall(&handles[0], "GRT"))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            ok.status.as_ref().unwrap().code,
            v2::Code::Ok as i32,
            "{:?}",
            ok.status
        );
        assert_eq!(ok.message_id, "G-RECALLED");
        let bad = g
            .recall_message(recall("bm90IGEgaGFuZGxl", "GRT"))
            .await
            .unwrap()
            .into_inner();
        let s = bad.status.unwrap();
        assert_eq!(
            (s.code, s.message.as_str()),
            (
                v2::Code::InternalServerError as i32,
                "recall handle is invalid"
            )
        );
        let missing = g
            .recall_message(recall(&handles[1], "NoSuchTopic"))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(missing.status.unwrap().code, v2::Code::TopicNotFound as i32);
    });
    let seen = wait_for_id(&cluster, "GRT", "G-KEPT");
    assert_eq!(seen, ["G-KEPT"], "the recalled message was delivered");
    cluster.shutdown();
}
