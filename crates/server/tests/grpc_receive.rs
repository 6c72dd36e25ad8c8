//! The gRPC consumer side (ReceiveMessage, AckMessage, ChangeInvisibleDuration,
//! ForwardMessageToDeadLetterQueue) against a real broker on 127.0.0.1 with its gRPC
//! endpoint, through the tonic client of `rocketmq_grpc`; messages are sent over remoting.
//!
//! Every wait is a long poll bounded by the broker's own limits (5 s to 20 s) and by the
//! loops' counts.

mod common;
mod grpc_util;
mod pop_util;

use common::*;
use grpc_util::*;
use pop_util::send;
use rocketmq_grpc::v2;
use rocketmq_grpc::v2::receive_message_response::Content;
use rocketmq_grpc::MessagingServiceClient;
use rocketmq_protocol::properties::encode_pairs;
use rocketmq_protocol::RemotingCommand;
use std::time::{Duration, Instant};

/// What one ReceiveMessage answered, in order.
#[derive(Debug)]
struct Received {
    status: v2::Status,
    messages: Vec<v2::Message>,
    /// Whether the stream ended with a delivery timestamp.
    ends_with_timestamp: bool,
}

impl Received {
    fn code(&self) -> v2::Code {
        v2::Code::try_from(self.status.code).unwrap_or(v2::Code::Unspecified)
    }
}

fn receive_request(
    group: &str,
    topic: &str,
    batch: i32,
    invisible_ms: i64,
    poll_ms: i64,
    filter: Option<(v2::FilterType, &str)>,
) -> v2::ReceiveMessageRequest {
    v2::ReceiveMessageRequest {
        group: resource(group),
        message_queue: Some(v2::MessageQueue {
            topic: resource(topic),
            id: -1,
            ..Default::default()
        }),
        filter_expression: filter.map(|(t, e)| v2::FilterExpression {
            r#type: t as i32,
            expression: e.into(),
        }),
        batch_size: batch,
        invisible_duration: millis(invisible_ms),
        auto_renew: false,
        long_polling_timeout: millis(poll_ms),
        attempt_id: None,
    }
}

async fn receive_with(client: &mut Grpc, request: v2::ReceiveMessageRequest) -> Received {
    let mut stream = client
        .receive_message(request)
        .await
        .expect("receive answered")
        .into_inner();
    let mut items = Vec::new();
    while let Some(item) = stream.message().await.expect("stream item") {
        items.push(item.content.expect("content"));
    }
    let Some(Content::Status(status)) = items.first().cloned() else {
        panic!("the first answer is not a status: {items:?}");
    };
    let ends_with_timestamp = matches!(items.last(), Some(Content::DeliveryTimestamp(_)));
    let messages = items
        .into_iter()
        .filter_map(|c| match c {
            Content::Message(m) => Some(m),
            _ => None,
        })
        .collect();
    Received {
        status,
        messages,
        ends_with_timestamp,
    }
}

async fn receive(
    client: &mut Grpc,
    group: &str,
    topic: &str,
    batch: i32,
    invisible_ms: i64,
) -> Received {
    receive_with(
        client,
        receive_request(group, topic, batch, invisible_ms, 5_000, None),
    )
    .await
}

/// Waits (at most 10 s) until `done` holds.
async fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Receives until `want` messages came (at most `tries` long polls).
async fn receive_n(
    client: &mut Grpc,
    group: &str,
    topic: &str,
    want: usize,
    invisible_ms: i64,
) -> Vec<v2::Message> {
    let mut got = Vec::new();
    for _ in 0..4 {
        if got.len() >= want {
            break;
        }
        let r = receive(client, group, topic, 32, invisible_ms).await;
        assert!(
            matches!(r.code(), v2::Code::Ok | v2::Code::MessageNotFound),
            "{:?}",
            r.status
        );
        got.extend(r.messages);
    }
    got
}

fn sys(m: &v2::Message) -> &v2::SystemProperties {
    m.system_properties.as_ref().expect("system properties")
}

fn handle(m: &v2::Message) -> String {
    sys(m).receipt_handle.clone().expect("a receipt handle")
}

fn body(m: &v2::Message) -> String {
    String::from_utf8(m.body.to_vec()).unwrap()
}

async fn ack(
    client: &mut Grpc,
    group: &str,
    topic: &str,
    handles: &[(&str, String)],
) -> v2::AckMessageResponse {
    client
        .ack_message(v2::AckMessageRequest {
            group: resource(group),
            topic: resource(topic),
            entries: handles
                .iter()
                .map(|(id, h)| v2::AckMessageEntry {
                    message_id: id.to_string(),
                    receipt_handle: h.clone(),
                    lite_topic: None,
                })
                .collect(),
        })
        .await
        .expect("ack answered")
        .into_inner()
}

async fn change_invisible(
    client: &mut Grpc,
    group: &str,
    topic: &str,
    handle: &str,
    ms: i64,
) -> v2::ChangeInvisibleDurationResponse {
    client
        .change_invisible_duration(v2::ChangeInvisibleDurationRequest {
            group: resource(group),
            topic: resource(topic),
            receipt_handle: handle.into(),
            invisible_duration: millis(ms),
            message_id: String::new(),
            lite_topic: None,
            suspend: None,
        })
        .await
        .expect("change answered")
        .into_inner()
}

#[test]
fn receive_carries_the_proxy_fields_and_ack_is_final() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = start_grpc(dir.path());
    let mut c = Client::connect(cluster.broker_addr());
    create_topic(&mut c, "GT", 2);
    for i in 0..3 {
        let props = encode_pairs(&[
            ("TAGS", "TagA"),
            ("KEYS", &format!("k{i} common")),
            ("UNIQ_KEY", &format!("ID{i}")),
            ("color", "red"),
        ]);
        send(&mut c, "GT", i % 2, &format!("m{i}"), &props);
    }
    runtime().block_on(async {
        let mut g = connect(&cluster).await;
        let got = receive_n(&mut g, "G", "GT", 3, 30_000).await;
        assert_eq!(got.len(), 3);
        let mut bodies: Vec<String> = got.iter().map(body).collect();
        bodies.sort();
        assert_eq!(bodies, ["m0", "m1", "m2"]);
        for m in &got {
            let s = sys(m);
            let i = &body(m)[1..];
            assert_eq!(s.message_id, format!("ID{i}"));
            assert_eq!(s.tag.as_deref(), Some("TagA"));
            assert_eq!(s.keys, [format!("k{i}"), "common".to_string()]);
            assert_eq!(s.delivery_attempt, Some(1));
            assert_eq!(s.invisible_duration.as_ref().unwrap().seconds, 30);
            assert_eq!(s.message_type, v2::MessageType::Normal as i32);
            let digest = s.body_digest.as_ref().unwrap();
            assert_eq!(digest.r#type, v2::DigestType::Md5 as i32);
            assert_eq!(digest.checksum.len(), 32);
            assert_eq!(digest.checksum, digest.checksum.to_uppercase());
            assert_eq!(s.born_timestamp.as_ref().unwrap().seconds, 1_700_000_000);
            assert!(s.store_timestamp.is_some() && !s.store_host.is_empty());
            assert_eq!(
                m.user_properties.get("color").map(String::as_str),
                Some("red")
            );
            assert!(!m.user_properties.contains_key("UNIQ_KEY"));
            assert_eq!(m.topic.as_ref().unwrap().name, "GT");
            // The proxy's handle: Java's ExtraInfoUtil text (8 fields, the 8th the queue
            // offset), then the commit-log offset.
            let h = handle(m);
            let fields: Vec<&str> = h.split(' ').collect();
            assert_eq!(fields.len(), 9, "{h}");
            assert_eq!(fields[7], s.queue_offset.unwrap().to_string());
            assert_eq!(fields[6], s.queue_id.to_string());
        }
        // Invisible now: nothing more within the long poll, which lasts at least the
        // proxy's 5 s minimum even when the request asks for 1 s.
        let start = Instant::now();
        let none = receive_with(&mut g, receive_request("G", "GT", 32, 30_000, 1_000, None)).await;
        assert_eq!(none.code(), v2::Code::MessageNotFound, "{:?}", none.status);
        assert!(none.ends_with_timestamp);
        assert!(
            start.elapsed() >= Duration::from_millis(4_500),
            "held for the 5 s minimum"
        );

        let h0 = handle(&got[0]);
        let r = ack(&mut g, "G", "GT", &[("ID", h0.clone())]).await;
        assert_eq!(code(&r.status), v2::Code::Ok, "{:?}", r.status);
        assert_eq!(code(&r.entries[0].status), v2::Code::Ok);
        // The same handle again, another group's use, garbage: refused, per entry.
        let again = ack(&mut g, "G", "GT", &[("ID", h0.clone())]).await;
        assert_eq!(
            code(&again.status),
            v2::Code::InternalServerError,
            "{:?}",
            again.status
        );
        let foreign = ack(&mut g, "OTHER", "GT", &[("ID", handle(&got[1]))]).await;
        assert_eq!(code(&foreign.status), v2::Code::InternalServerError);
        let mixed = ack(
            &mut g,
            "G",
            "GT",
            &[
                ("a", handle(&got[1])),
                ("b", "garbage".into()),
                ("c", handle(&got[2])),
            ],
        )
        .await;
        assert_eq!(
            code(&mixed.status),
            v2::Code::MultipleResults,
            "{:?}",
            mixed.status
        );
        let codes: Vec<v2::Code> = mixed.entries.iter().map(|e| code(&e.status)).collect();
        assert_eq!(
            codes,
            [v2::Code::Ok, v2::Code::InvalidReceiptHandle, v2::Code::Ok]
        );
        assert_eq!(mixed.entries[1].message_id, "b");
    });
    cluster.shutdown();
}

#[test]
fn change_invisible_redelivers_with_the_next_attempt_and_stales_the_old_handle() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = start_grpc(dir.path());
    let mut c = Client::connect(cluster.broker_addr());
    create_topic(&mut c, "GC", 1);
    send(
        &mut c,
        "GC",
        0,
        "once",
        &encode_pairs(&[("UNIQ_KEY", "U1")]),
    );
    runtime().block_on(async {
        let mut g = connect(&cluster).await;
        let first = receive_n(&mut g, "G", "GC", 1, 60_000).await;
        assert_eq!(first.len(), 1);
        let old = handle(&first[0]);
        let changed = change_invisible(&mut g, "G", "GC", &old, 1_000).await;
        assert_eq!(code(&changed.status), v2::Code::Ok, "{:?}", changed.status);
        assert_ne!(changed.receipt_handle, old);
        assert_eq!(
            changed.receipt_handle.rsplit(' ').next(),
            old.rsplit(' ').next(),
            "the commit-log offset is kept"
        );
        // The old handle is stale from then on.
        let stale = ack(&mut g, "G", "GC", &[("U1", old.clone())]).await;
        assert_eq!(code(&stale.status), v2::Code::InternalServerError);
        let stale_change = change_invisible(&mut g, "G", "GC", &old, 5_000).await;
        assert_eq!(code(&stale_change.status), v2::Code::InternalServerError);
        // Visible again after a second: delivered again, attempt 2, same message id.
        let again = receive_n(&mut g, "G", "GC", 1, 10_000).await;
        assert_eq!(again.len(), 1);
        assert_eq!(body(&again[0]), "once");
        assert_eq!(sys(&again[0]).message_id, "U1");
        assert_eq!(sys(&again[0]).delivery_attempt, Some(2));
        // The changed handle belonged to the first delivery: expired; the new one acks.
        let r = ack(&mut g, "G", "GC", &[("U1", handle(&again[0]))]).await;
        assert_eq!(code(&r.status), v2::Code::Ok, "{:?}", r.status);
        // Out-of-bounds invisible durations are refused as the proxy refuses them.
        let short = receive_with(&mut g, receive_request("G", "GC", 1, 1_000, 5_000, None)).await;
        assert_eq!(
            short.code(),
            v2::Code::IllegalInvisibleTime,
            "{:?}",
            short.status
        );
        // A call whose deadline leaves less than the 5 s minimum poll.
        let mut hurried = tonic::Request::new(receive_request("G", "GC", 1, 30_000, 20_000, None));
        hurried.set_timeout(Duration::from_secs(3));
        let mut stream = g.receive_message(hurried).await.unwrap().into_inner();
        let first = stream.message().await.unwrap().unwrap().content.unwrap();
        let Content::Status(s) = first else {
            panic!("a status first: {first:?}")
        };
        assert_eq!(s.code, v2::Code::IllegalPollingTime as i32, "{s:?}");
        let garbage = change_invisible(&mut g, "G", "GC", "garbage", 1_000).await;
        assert_eq!(code(&garbage.status), v2::Code::InvalidReceiptHandle);
    });
    cluster.shutdown();
}

#[test]
fn long_polling_answers_when_a_message_arrives() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = start_grpc(dir.path());
    let mut c = Client::connect(cluster.broker_addr());
    create_topic(&mut c, "GL", 1);
    let rt = runtime();
    let addr = cluster.grpc_addr().unwrap();
    let held = rt.spawn(async move {
        let mut g = MessagingServiceClient::connect(format!("http://{addr}"))
            .await
            .unwrap();
        let start = Instant::now();
        // A push consumer's request: auto renew, no invisible duration of its own.
        let mut request = receive_request("G", "GL", 1, 30_000, 20_000, None);
        request.auto_renew = true;
        request.invisible_duration = None;
        let r = receive_with(&mut g, request).await;
        (r, start.elapsed())
    });
    send(&mut c, "GL", 0, "late", "");
    let (r, took) = rt.block_on(held).unwrap();
    assert_eq!(r.code(), v2::Code::Ok, "{:?}", r.status);
    assert_eq!(r.messages.len(), 1);
    assert_eq!(body(&r.messages[0]), "late");
    let invisible = sys(&r.messages[0]).invisible_duration.as_ref().unwrap();
    assert_eq!(invisible.seconds, 60, "the proxy's renew slice");
    assert!(
        took < Duration::from_secs(15),
        "answered on arrival, not at the timeout: {took:?}"
    );
    cluster.shutdown();
}

#[test]
fn sql92_and_tag_filters_select_and_a_bad_expression_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = start_grpc(dir.path());
    let mut c = Client::connect(cluster.broker_addr());
    create_topic(&mut c, "GS", 1);
    for (i, tag) in [(1, "A"), (2, "B"), (3, "A")] {
        let props = encode_pairs(&[("TAGS", tag), ("a", &i.to_string())]);
        send(&mut c, "GS", 0, &format!("m{i}"), &props);
    }
    runtime().block_on(async {
        let mut g = connect(&cluster).await;
        let sql = receive_with(
            &mut g,
            receive_request(
                "GSQL",
                "GS",
                32,
                30_000,
                5_000,
                Some((v2::FilterType::Sql, "a > 1")),
            ),
        )
        .await;
        assert_eq!(sql.code(), v2::Code::Ok, "{:?}", sql.status);
        let mut bodies: Vec<String> = sql.messages.iter().map(body).collect();
        bodies.sort();
        assert_eq!(bodies, ["m2", "m3"]);
        let tag = receive_with(
            &mut g,
            receive_request(
                "GTAG",
                "GS",
                32,
                30_000,
                5_000,
                Some((v2::FilterType::Tag, "B")),
            ),
        )
        .await;
        assert_eq!(tag.messages.iter().map(body).collect::<Vec<_>>(), ["m2"]);
        let bad = receive_with(
            &mut g,
            receive_request(
                "GBAD",
                "GS",
                32,
                30_000,
                5_000,
                Some((v2::FilterType::Sql, "a >")),
            ),
        )
        .await;
        assert_eq!(
            bad.code(),
            v2::Code::IllegalFilterExpression,
            "{:?}",
            bad.status
        );
        assert!(bad.ends_with_timestamp);
        let missing = receive(&mut g, "G", "NO_SUCH_TOPIC", 1, 30_000).await;
        assert_eq!(
            missing.code(),
            v2::Code::TopicNotFound,
            "{:?}",
            missing.status
        );
    });
    cluster.shutdown();
}

#[test]
fn fifo_group_gets_the_next_message_only_after_the_ack() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = start_grpc(dir.path());
    let mut c = Client::connect(cluster.broker_addr());
    create_topic(&mut c, "GF", 1);
    let body_json = r#"{"groupName": "FG", "consumeMessageOrderly": true}"#;
    let r = c.call(RemotingCommand::new_request(200).with_body(body_json.as_bytes().to_vec()));
    assert_eq!(r.code, 0, "{:?}", r.remark);
    for i in 0..2 {
        let props = encode_pairs(&[("__SHARDINGKEY", "g1")]);
        send(&mut c, "GF", 0, &format!("f{i}"), &props);
    }
    runtime().block_on(async {
        let mut g = connect(&cluster).await;
        let first = receive(&mut g, "FG", "GF", 1, 30_000).await;
        assert_eq!(first.messages.iter().map(body).collect::<Vec<_>>(), ["f0"]);
        assert_eq!(sys(&first.messages[0]).message_group.as_deref(), Some("g1"));
        assert_eq!(
            sys(&first.messages[0]).message_type,
            v2::MessageType::Fifo as i32
        );
        // The queue is held by the in-flight message.
        let blocked = receive(&mut g, "FG", "GF", 1, 30_000).await;
        assert_eq!(
            blocked.code(),
            v2::Code::MessageNotFound,
            "{:?}",
            blocked.status
        );
        let r = ack(&mut g, "FG", "GF", &[("x", handle(&first.messages[0]))]).await;
        assert_eq!(code(&r.status), v2::Code::Ok, "{:?}", r.status);
        let second = receive(&mut g, "FG", "GF", 1, 30_000).await;
        assert_eq!(second.messages.iter().map(body).collect::<Vec<_>>(), ["f1"]);
    });
    cluster.shutdown();
}

#[test]
fn forward_to_dead_letter_queue_stores_it_there_and_ends_the_delivery() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = start_grpc(dir.path());
    let mut c = Client::connect(cluster.broker_addr());
    create_topic(&mut c, "GD", 1);
    send(
        &mut c,
        "GD",
        0,
        "poison",
        &encode_pairs(&[("UNIQ_KEY", "P1")]),
    );
    runtime().block_on(async {
        let mut g = connect(&cluster).await;
        let got = receive_n(&mut g, "DG", "GD", 1, 30_000).await;
        assert_eq!(got.len(), 1);
        let h = handle(&got[0]);
        let r = g
            .forward_message_to_dead_letter_queue(v2::ForwardMessageToDeadLetterQueueRequest {
                group: resource("DG"),
                topic: resource("GD"),
                receipt_handle: h.clone(),
                message_id: "P1".into(),
                delivery_attempt: 1,
                max_delivery_attempts: 1,
                lite_topic: None,
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(code(&r.status), v2::Code::Ok, "{:?}", r.status);
        // The delivery is over: its handle no longer acks.
        let after = ack(&mut g, "DG", "GD", &[("P1", h)]).await;
        assert_eq!(code(&after.status), v2::Code::InternalServerError);
    });
    let dlq = pull_all(&mut c, "%DLQ%DG", 0);
    assert_eq!(dlq.len(), 1);
    assert_eq!(&dlq[0].body[..], b"poison");
    cluster.shutdown();
}

#[test]
fn a_receive_whose_caller_left_does_not_keep_the_message() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = start_grpc(dir.path());
    let mut c = Client::connect(cluster.broker_addr());
    create_topic(&mut c, "GA", 1);
    runtime().block_on(async {
        let mut g = connect(&cluster).await;
        // A held receive whose caller goes away: the pop ends with it and keeps nothing.
        let mut gone = g.clone();
        let held = tokio::spawn(async move {
            receive_with(
                &mut gone,
                receive_request("G", "GA", 1, 30_000, 20_000, None),
            )
            .await
        });
        wait_until("the receive is held", || cluster.held_polls() == 1).await;
        held.abort();
        assert!(held.await.unwrap_err().is_cancelled());
        // The message is sent once the broker has seen the caller leave: before that it may
        // go out to a caller that no longer reads (as with the proxy), invisible for 30 s.
        wait_until("the held receive ends with its caller", || {
            cluster.held_polls() == 0
        })
        .await;
        send(&mut c, "GA", 0, "kept", "");
        let got = receive_n(&mut g, "G", "GA", 1, 30_000).await;
        assert_eq!(got.iter().map(body).collect::<Vec<_>>(), ["kept"]);
    });
    cluster.shutdown();
}

#[test]
fn what_a_grpc_producer_sent_is_received_with_its_fields() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = start_grpc(dir.path());
    let mut c = Client::connect(cluster.broker_addr());
    create_topic(&mut c, "GR", 2);
    runtime().block_on(async {
        let mut g = connect(&cluster).await;
        let mut sent = tonic::Request::new(v2::SendMessageRequest {
            messages: vec![v2::Message {
                topic: resource("GR"),
                user_properties: [("color".to_string(), "blue".to_string())].into(),
                system_properties: Some(v2::SystemProperties {
                    message_id: "0100000000000000000000000A".into(),
                    tag: Some("TagR".into()),
                    keys: vec!["k1".into(), "k2".into()],
                    message_group: Some("grp".into()),
                    message_type: v2::MessageType::Fifo as i32,
                    born_host: "producer-host".into(),
                    born_timestamp: Some(rocketmq_grpc::Timestamp {
                        seconds: 1_700_000_100,
                        nanos: 0,
                    }),
                    ..Default::default()
                }),
                body: b"round trip".to_vec(),
            }],
        });
        sent.metadata_mut()
            .insert("x-mq-client-id", "receive-test-client".parse().unwrap());
        let r = g.send_message(sent).await.unwrap().into_inner();
        assert_eq!(code(&r.status), v2::Code::Ok, "{:?}", r.status);

        let got = receive_n(&mut g, "G", "GR", 1, 30_000).await;
        assert_eq!(got.len(), 1);
        let m = &got[0];
        let s = sys(m);
        assert_eq!(body(m), "round trip");
        assert_eq!(s.message_id, "0100000000000000000000000A");
        assert_eq!(s.tag.as_deref(), Some("TagR"));
        assert_eq!(s.keys, ["k1", "k2"]);
        assert_eq!(s.message_group.as_deref(), Some("grp"));
        assert_eq!(s.message_type, v2::MessageType::Fifo as i32);
        assert_eq!(s.born_timestamp.as_ref().unwrap().seconds, 1_700_000_100);
        assert_eq!(
            m.user_properties.get("color").map(String::as_str),
            Some("blue")
        );
        let r = ack(&mut g, "G", "GR", &[("x", handle(m))]).await;
        assert_eq!(code(&r.status), v2::Code::Ok, "{:?}", r.status);
    });
    cluster.shutdown();
}

#[test]
fn an_auto_renewed_delivery_returns_to_the_group_when_its_client_terminates() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = start_grpc(dir.path());
    let mut c = Client::connect(cluster.broker_addr());
    create_topic(&mut c, "GN", 1);
    send(&mut c, "GN", 0, "renewed", "");
    runtime().block_on(async {
        let mut g = connect(&cluster).await;
        fn as_client<T>(message: T) -> tonic::Request<T> {
            let mut r = tonic::Request::new(message);
            r.metadata_mut()
                .insert("x-mq-client-id", "push-client-1".parse().unwrap());
            r
        }
        let mut push = receive_request("G", "GN", 1, 30_000, 5_000, None);
        push.auto_renew = true;
        push.invisible_duration = None;
        let mut stream = g
            .receive_message(as_client(push))
            .await
            .unwrap()
            .into_inner();
        let mut delivered = Vec::new();
        while let Some(item) = stream.message().await.unwrap() {
            if let Some(Content::Message(m)) = item.content {
                delivered.push(m);
            }
        }
        assert_eq!(delivered.iter().map(body).collect::<Vec<_>>(), ["renewed"]);
        // The client goes away without acking: the message is the group's again after a
        // second, not after its 60 s.
        let bye = g
            .notify_client_termination(as_client(v2::NotifyClientTerminationRequest {
                group: resource("G"),
            }))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(code(&bye.status), v2::Code::Ok, "{:?}", bye.status);
        let again = receive_n(&mut g, "G", "GN", 1, 30_000).await;
        assert_eq!(again.iter().map(body).collect::<Vec<_>>(), ["renewed"]);
        assert_eq!(sys(&again[0]).delivery_attempt, Some(2));
    });
    cluster.shutdown();
}
