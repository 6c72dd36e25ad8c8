//! The producer side of the RocketMQ 5 gRPC endpoint, with the tonic client of
//! `rocketmq_grpc` against an `EmbeddedCluster` with `grpc_port: Some(0)`: QueryRoute,
//! Heartbeat, SendMessage of every type (consumed back over a remoting pull), the Apache
//! proxy's refusal codes, EndTransaction commit and rollback, the check-back answered over a
//! Telemetry stream, and the settings exchange.

mod common;
mod grpc_util;

use common::*;
use grpc_util::*;
use rocketmq_grpc::v2;
use rocketmq_protocol::properties::get_property;
use rocketmq_server::{EmbeddedCluster, ServerConfig};
use std::path::Path;
use std::time::Duration;

fn grpc_config(dir: &Path) -> ServerConfig {
    ServerConfig {
        grpc_port: Some(0),
        max_message_size: 4096,
        transaction_check_interval: Duration::from_millis(100),
        transaction_timeout: Duration::from_millis(300),
        ..config(dir)
    }
}

#[test]
fn query_route_heartbeat_and_normal_send() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = EmbeddedCluster::start(grpc_config(dir.path())).unwrap();
    let grpc = cluster.grpc_addr().unwrap();
    let entry = run(async {
        let mut c = connect(&cluster).await;
        let route = c
            .query_route(req(v2::QueryRouteRequest {
                topic: resource("GrpcNormal"),
                endpoints: None,
            }))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(code(&route.status), v2::Code::Ok, "{:?}", route.status);
        assert_eq!(route.message_queues.len(), 4);
        for q in &route.message_queues {
            assert_eq!(q.permission, v2::Permission::ReadWrite as i32);
            let broker = q.broker.as_ref().unwrap();
            let endpoints = broker.endpoints.as_ref().unwrap();
            assert_eq!(endpoints.scheme, v2::AddressScheme::IPv4 as i32);
            assert_eq!(endpoints.addresses[0].host, grpc.ip().to_string());
            assert_eq!(endpoints.addresses[0].port, i32::from(grpc.port()));
            assert_eq!(broker.name, ServerConfig::default().broker_name);
            assert_eq!(
                q.accept_message_types.len(),
                4,
                "an untyped topic takes every type"
            );
        }
        let bad = c
            .query_route(req(v2::QueryRouteRequest {
                topic: resource("bad topic"),
                endpoints: None,
            }))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(code(&bad.status), v2::Code::IllegalTopic);

        let hb = c
            .heartbeat(req(v2::HeartbeatRequest {
                group: None,
                client_type: v2::ClientType::Producer as i32,
            }))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(code(&hb.status), v2::Code::Ok);
        let anonymous = c
            .heartbeat(tonic::Request::new(v2::HeartbeatRequest {
                group: None,
                client_type: v2::ClientType::Producer as i32,
            }))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(code(&anonymous.status), v2::Code::ClientIdRequired);
        let consumer = c
            .heartbeat(req(v2::HeartbeatRequest {
                group: resource("GrpcGroup"),
                client_type: v2::ClientType::SimpleConsumer as i32,
            }))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(code(&consumer.status), v2::Code::Ok);

        let entry = send_one(
            &mut c,
            message("GrpcNormal", "NORMAL-1", b"hello grpc", |s| {
                s.tag = Some("TagA".into());
                s.keys = vec!["k1".into(), "k2".into()];
            }),
        )
        .await;
        let bye = c
            .notify_client_termination(req(v2::NotifyClientTerminationRequest { group: None }))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(code(&bye.status), v2::Code::Ok);
        entry
    });
    assert_eq!(code(&entry.status), v2::Code::Ok, "{:?}", entry.status);
    assert_eq!(entry.message_id, "NORMAL-1");
    // As Apache's broker: the transaction id of any send is its unique key.
    assert_eq!(entry.transaction_id, "NORMAL-1");
    let m = wait_pulled(&cluster, "GrpcNormal", 4, "NORMAL-1");
    assert_eq!(&m.body[..], b"hello grpc");
    assert_eq!(m.queue_offset, entry.offset);
    assert_eq!(get_property(&m.properties, "TAGS"), Some("TagA"));
    assert_eq!(get_property(&m.properties, "KEYS"), Some("k1 k2"));
    assert_eq!(get_property(&m.properties, "color"), Some("blue"));
    assert_eq!(get_property(&m.properties, "__BORNHOST"), Some("test-host"));
    cluster.shutdown();
}

#[test]
fn several_messages_of_one_request_share_a_queue_and_keep_their_own_fields() {
    let dir = tempfile::tempdir().unwrap();
    // Sync flush: the request's messages share the flush instead of waiting in turn.
    let cluster = EmbeddedCluster::start(ServerConfig {
        flush: rocketmq_store::FlushMode::Sync,
        ..grpc_config(dir.path())
    })
    .unwrap();
    let ids: Vec<String> = (0..5).map(|i| format!("BATCH-{i}")).collect();
    let r = run(async {
        let mut c = connect(&cluster).await;
        let messages = ids
            .iter()
            .enumerate()
            .map(|(i, id)| {
                message("GrpcBatch", id, format!("body-{i}").as_bytes(), |s| {
                    s.tag = Some(format!("Tag{i}"));
                })
            })
            .collect();
        c.send_message(req(v2::SendMessageRequest { messages }))
            .await
            .unwrap()
            .into_inner()
    });
    assert_eq!(code(&r.status), v2::Code::Ok, "{:?}", r.status);
    assert_eq!(r.entries.len(), ids.len());
    let first = wait_pulled(&cluster, "GrpcBatch", 4, &ids[0]);
    for (i, (id, entry)) in ids.iter().zip(&r.entries).enumerate() {
        assert_eq!(code(&entry.status), v2::Code::Ok);
        assert_eq!(&entry.message_id, id);
        assert_eq!(
            entry.offset,
            r.entries[0].offset + i as i64,
            "one queue, in order"
        );
        let m = wait_pulled(&cluster, "GrpcBatch", 4, id);
        assert_eq!(m.queue_id, first.queue_id);
        assert_eq!(m.queue_offset, entry.offset);
        assert_eq!(m.body, format!("body-{i}").into_bytes());
        assert_eq!(
            get_property(&m.properties, "TAGS"),
            Some(format!("Tag{i}").as_str())
        );
    }
    cluster.shutdown();
}

#[test]
fn fifo_and_delay_sends() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = EmbeddedCluster::start(grpc_config(dir.path())).unwrap();
    let deliver_at = rocketmq_protocol::now_millis() + 1500;
    let (fifo, delayed) = run(async {
        let mut c = connect(&cluster).await;
        let mut fifo = Vec::new();
        for i in 0..5 {
            let id = format!("FIFO-{i}");
            let e = send_one(
                &mut c,
                message("GrpcFifo", &id, format!("order step {i}").as_bytes(), |s| {
                    s.message_type = v2::MessageType::Fifo as i32;
                    s.message_group = Some("order-7".into());
                }),
            )
            .await;
            assert_eq!(code(&e.status), v2::Code::Ok, "{:?}", e.status);
            fifo.push(e);
        }
        let delayed = send_one(
            &mut c,
            message("GrpcDelay", "DELAY-1", b"later", |s| {
                s.message_type = v2::MessageType::Delay as i32;
                s.delivery_timestamp = Some(rocketmq_grpc::Timestamp {
                    seconds: deliver_at / 1000,
                    nanos: ((deliver_at % 1000) * 1_000_000) as i32,
                });
            }),
        )
        .await;
        (fifo, delayed)
    });
    // One group, one queue, in send order.
    let all = pulled(&cluster, "GrpcFifo", 4);
    let queues: std::collections::BTreeSet<i32> = all.iter().map(|m| m.queue_id).collect();
    assert_eq!(queues.len(), 1, "a message group keeps to one queue");
    let ids: Vec<&str> = all
        .iter()
        .map(|m| get_property(&m.properties, "UNIQ_KEY").unwrap())
        .collect();
    assert_eq!(ids, ["FIFO-0", "FIFO-1", "FIFO-2", "FIFO-3", "FIFO-4"]);
    assert!(all
        .iter()
        .all(|m| get_property(&m.properties, "__SHARDINGKEY") == Some("order-7")));
    let offsets: Vec<i64> = fifo.iter().map(|e| e.offset).collect();
    assert_eq!(offsets, [0, 1, 2, 3, 4]);

    assert_eq!(code(&delayed.status), v2::Code::Ok, "{:?}", delayed.status);
    let m = wait_pulled(&cluster, "GrpcDelay", 4, "DELAY-1");
    assert!(
        m.store_timestamp >= deliver_at - 100,
        "delivered at {} before its time {deliver_at}",
        m.store_timestamp
    );
    assert_eq!(&m.body[..], b"later");
    cluster.shutdown();
}

#[test]
fn a_priority_message_goes_to_the_queue_its_priority_names() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = EmbeddedCluster::start(grpc_config(dir.path())).unwrap();
    let mut admin = Client::connect(cluster.broker_addr());
    create_topic_of_type(&mut admin, "GrpcPriority", 4, "PRIORITY");
    run(async {
        let mut c = connect(&cluster).await;
        // A PRIORITY topic takes priority messages only.
        let plain = send_one(&mut c, message("GrpcPriority", "PLAIN", b"n", |_| {})).await;
        assert_eq!(
            code(&plain.status),
            v2::Code::MessagePropertyConflictWithType
        );
        for (id, priority) in [("P0", 0), ("P2", 2), ("P3", 3), ("P42", 42)] {
            let e = send_one(
                &mut c,
                message("GrpcPriority", id, b"p", |s| {
                    s.message_type = v2::MessageType::Priority as i32;
                    s.priority = Some(priority);
                }),
            )
            .await;
            assert_eq!(code(&e.status), v2::Code::Ok, "{:?}", e.status);
        }
        // On an untyped topic a FIFO message (a stronger type) keeps its group's queue and
        // loses the priority.
        let e = send_one(
            &mut c,
            message("GrpcMixed", "FIFO-P", b"f", |s| {
                s.message_type = v2::MessageType::Fifo as i32;
                s.message_group = Some("g".into());
                s.priority = Some(3);
            }),
        )
        .await;
        assert_eq!(code(&e.status), v2::Code::Ok, "{:?}", e.status);
    });
    let fifo = wait_pulled(&cluster, "GrpcMixed", 4, "FIFO-P");
    assert_eq!(
        get_property(&fifo.properties, "_SYS_MSG_PRIORITY_"),
        None,
        "a FIFO message drops its priority"
    );
    let all = pulled(&cluster, "GrpcPriority", 4);
    let queue_of = |id: &str| {
        let m = all
            .iter()
            .find(|m| get_property(&m.properties, "UNIQ_KEY") == Some(id))
            .unwrap_or_else(|| panic!("{id} not stored"));
        (
            m.queue_id,
            get_property(&m.properties, "_SYS_MSG_PRIORITY_"),
        )
    };
    assert_eq!(queue_of("P0"), (0, Some("0")));
    assert_eq!(queue_of("P2"), (2, Some("2")));
    assert_eq!(queue_of("P3"), (3, Some("3")));
    assert_eq!(queue_of("P42"), (3, Some("42")), "capped at the last queue");
    cluster.shutdown();
}

#[test]
fn refusals_carry_the_apache_proxy_codes() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = EmbeddedCluster::start(grpc_config(dir.path())).unwrap();
    let mut admin = Client::connect(cluster.broker_addr());
    create_topic_of_type(&mut admin, "GrpcTypedFifo", 2, "FIFO");
    run(async {
        let mut c = connect(&cluster).await;
        let route = c
            .query_route(req(v2::QueryRouteRequest {
                topic: resource("GrpcTypedFifo"),
                endpoints: None,
            }))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(route.message_queues.len(), 2);
        assert!(route
            .message_queues
            .iter()
            .all(|q| q.accept_message_types == [v2::MessageType::Fifo as i32]));

        let cases: Vec<(v2::Message, v2::Code)> = vec![
            (
                message("GrpcTypedFifo", "R1", b"x", |_| {}),
                v2::Code::MessagePropertyConflictWithType,
            ),
            (
                message("GrpcRefused", "R2", &[0u8; 4097], |_| {}),
                v2::Code::MessageBodyTooLarge,
            ),
            (
                message("GrpcRefused", "R3", b"", |_| {}),
                v2::Code::MessageBodyEmpty,
            ),
            (
                message("bad/topic", "R4", b"x", |_| {}),
                v2::Code::IllegalTopic,
            ),
            (
                message("RMQ_SYS_TRANS_HALF_TOPIC", "R5", b"x", |_| {}),
                v2::Code::IllegalTopic,
            ),
            (
                message("GrpcRefused", "R6", b"x", |s| s.tag = Some("a||b".into())),
                v2::Code::IllegalMessageTag,
            ),
            (
                message("GrpcRefused", "R7", b"x", |s| s.keys = vec!["\u{1}".into()]),
                v2::Code::IllegalMessageKey,
            ),
            (
                message("GrpcRefused", "R8", b"x", |s| {
                    s.message_group = Some("  ".into())
                }),
                v2::Code::IllegalMessageGroup,
            ),
            (
                message("GrpcRefused", "", b"x", |_| {}),
                v2::Code::IllegalMessageId,
            ),
            (
                message("GrpcRefused", "R9", b"x", |s| {
                    s.delivery_timestamp = Some(rocketmq_grpc::Timestamp {
                        seconds: rocketmq_protocol::now_millis() / 1000 + 30 * 86400,
                        nanos: 0,
                    })
                }),
                v2::Code::IllegalDeliveryTime,
            ),
        ];
        for (m, expected) in cases {
            let id = m.system_properties.as_ref().unwrap().message_id.clone();
            let e = send_one(&mut c, m).await;
            assert_eq!(code(&e.status), expected, "message {id:?}: {:?}", e.status);
            assert!(!e.status.unwrap().message.is_empty());
        }
        let mut reserved = message("GrpcRefused", "R10", b"x", |_| {});
        reserved
            .user_properties
            .insert("UNIQ_KEY".into(), "mine".into());
        let e = send_one(&mut c, reserved).await;
        assert_eq!(code(&e.status), v2::Code::IllegalMessagePropertyKey);

        // Messages of two topics in one request are refused whole.
        let r = c
            .send_message(req(v2::SendMessageRequest {
                messages: vec![
                    message("GrpcRefused", "R11", b"x", |_| {}),
                    message("GrpcOther", "R12", b"x", |_| {}),
                ],
            }))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(code(&r.status), v2::Code::MessageCorrupted);
        assert!(r.entries.is_empty());

        // The FIFO topic takes its own type.
        let e = send_one(
            &mut c,
            message("GrpcTypedFifo", "R13", b"x", |s| {
                s.message_type = v2::MessageType::Fifo as i32;
                s.message_group = Some("g".into());
            }),
        )
        .await;
        assert_eq!(code(&e.status), v2::Code::Ok, "{:?}", e.status);
    });
    assert!(!has(&cluster, "GrpcTypedFifo", 2, "R1"));
    assert!(has(&cluster, "GrpcTypedFifo", 2, "R13"));
    cluster.shutdown();
}

async fn send_transactional(c: &mut Grpc, topic: &str, id: &str) -> v2::SendResultEntry {
    let e = send_one(
        c,
        message(topic, id, b"tx body", |s| {
            s.message_type = v2::MessageType::Transaction as i32;
        }),
    )
    .await;
    assert_eq!(code(&e.status), v2::Code::Ok, "{:?}", e.status);
    assert!(!e.transaction_id.is_empty());
    e
}

async fn end(
    c: &mut Grpc,
    topic: &str,
    id: &str,
    transaction_id: &str,
    resolution: v2::TransactionResolution,
    source: v2::TransactionSource,
) -> v2::Code {
    let r = c
        .end_transaction(req(v2::EndTransactionRequest {
            topic: resource(topic),
            message_id: id.into(),
            transaction_id: transaction_id.into(),
            resolution: resolution as i32,
            source: source as i32,
            trace_context: String::new(),
        }))
        .await
        .unwrap()
        .into_inner();
    code(&r.status)
}

#[test]
fn transactions_commit_and_roll_back() {
    let dir = tempfile::tempdir().unwrap();
    let config = ServerConfig {
        // No check-back during this test.
        transaction_timeout: Duration::from_secs(3600),
        ..grpc_config(dir.path())
    };
    let cluster = EmbeddedCluster::start(config).unwrap();
    let (commit, rollback) = run(async {
        let mut c = connect(&cluster).await;
        let commit = send_transactional(&mut c, "GrpcTx", "TX-COMMIT").await;
        let rollback = send_transactional(&mut c, "GrpcTx", "TX-ROLLBACK").await;
        (commit, rollback)
    });
    assert!(
        pulled(&cluster, "GrpcTx", 4).is_empty(),
        "half messages are invisible"
    );
    run(async {
        let mut c = connect(&cluster).await;
        use v2::{TransactionResolution as R, TransactionSource as S};
        assert_eq!(
            end(
                &mut c,
                "GrpcTx",
                "TX-COMMIT",
                &commit.transaction_id,
                R::Commit,
                S::SourceClient
            )
            .await,
            v2::Code::Ok
        );
        assert_eq!(
            end(
                &mut c,
                "GrpcTx",
                "TX-ROLLBACK",
                &rollback.transaction_id,
                R::Rollback,
                S::SourceClient
            )
            .await,
            v2::Code::Ok
        );
        assert_eq!(
            end(
                &mut c,
                "GrpcTx",
                "X",
                "not-a-transaction",
                R::Commit,
                S::SourceClient
            )
            .await,
            v2::Code::InternalServerError
        );
        assert_eq!(
            end(
                &mut c,
                "GrpcTx",
                "X",
                &format!("{:016X}{:016X}", 1u64 << 40, 0),
                R::Commit,
                S::SourceClient
            )
            .await,
            v2::Code::InternalServerError
        );
    });
    let m = wait_pulled(&cluster, "GrpcTx", 4, "TX-COMMIT");
    assert_eq!(&m.body[..], b"tx body");
    assert!(!has(&cluster, "GrpcTx", 4, "TX-ROLLBACK"));
    cluster.shutdown();
}

#[test]
fn telemetry_settings_and_check_back() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = EmbeddedCluster::start(grpc_config(dir.path())).unwrap();
    run(async {
        let mut c = connect(&cluster).await;
        let (tx, rx) = tokio::sync::mpsc::channel(8);
        let outbound = tonic::codegen::tokio_stream::wrappers::ReceiverStream::new(rx);
        let mut inbound = c.telemetry(req(outbound)).await.unwrap().into_inner();
        let settings = v2::Settings {
            client_type: Some(v2::ClientType::Producer as i32),
            pub_sub: Some(v2::settings::PubSub::Publishing(v2::Publishing {
                topics: vec![resource("GrpcCheck").unwrap()],
                max_body_size: 0,
                validate_message_type: false,
            })),
            ..Default::default()
        };
        tx.send(v2::TelemetryCommand {
            status: None,
            command: Some(v2::telemetry_command::Command::Settings(settings)),
        })
        .await
        .unwrap();
        let answer = tokio::time::timeout(WAIT, inbound.message())
            .await
            .expect("settings answered in time")
            .unwrap()
            .expect("an answer");
        assert_eq!(code(&answer.status), v2::Code::Ok);
        let Some(v2::telemetry_command::Command::Settings(server)) = answer.command else {
            panic!("not settings: {answer:?}");
        };
        let Some(v2::settings::PubSub::Publishing(p)) = server.pub_sub else {
            panic!("no publishing settings: {server:?}");
        };
        assert_eq!(p.max_body_size, 4096);
        assert!(p.validate_message_type);
        assert_eq!(server.backoff_policy.unwrap().max_attempts, 3);

        // An undecided transaction is checked back over this stream.
        let sent = send_transactional(&mut c, "GrpcCheck", "TX-CHECK").await;
        let command = tokio::time::timeout(WAIT, async {
            loop {
                let cmd = inbound
                    .message()
                    .await
                    .unwrap()
                    .expect("the stream stays open");
                if let Some(v2::telemetry_command::Command::RecoverOrphanedTransactionCommand(r)) =
                    cmd.command
                {
                    return r;
                }
            }
        })
        .await
        .expect("a check-back within the wait");
        let m = command.message.expect("the message");
        // The check-back names the re-appended copy of the half message; either id decides it.
        assert_eq!(command.transaction_id.len(), sent.transaction_id.len());
        assert_eq!(m.topic.unwrap().name, "GrpcCheck");
        assert_eq!(m.system_properties.as_ref().unwrap().message_id, "TX-CHECK");
        assert_eq!(m.body, b"tx body");
        assert_eq!(
            m.user_properties.get("color").map(String::as_str),
            Some("blue")
        );
        use v2::{TransactionResolution as R, TransactionSource as S};
        assert_eq!(
            end(
                &mut c,
                "GrpcCheck",
                "TX-CHECK",
                &command.transaction_id,
                R::Commit,
                S::SourceServerCheck
            )
            .await,
            v2::Code::Ok
        );

        // A consumer's settings carry the group's FIFO flag and retry policy.
        let consumer = v2::Settings {
            client_type: Some(v2::ClientType::SimpleConsumer as i32),
            pub_sub: Some(v2::settings::PubSub::Subscription(v2::Subscription {
                group: resource("GrpcCheckGroup"),
                ..Default::default()
            })),
            ..Default::default()
        };
        tx.send(v2::TelemetryCommand {
            status: None,
            command: Some(v2::telemetry_command::Command::Settings(consumer)),
        })
        .await
        .unwrap();
        let answer = tokio::time::timeout(WAIT, async {
            loop {
                let cmd = inbound
                    .message()
                    .await
                    .unwrap()
                    .expect("the stream stays open");
                if let Some(v2::telemetry_command::Command::Settings(s)) = cmd.command {
                    return s;
                }
            }
        })
        .await
        .expect("consumer settings answered");
        let Some(v2::settings::PubSub::Subscription(s)) = answer.pub_sub else {
            panic!("no subscription settings: {answer:?}");
        };
        assert_eq!(s.fifo, Some(false));
        assert_eq!(s.receive_batch_size, Some(32));
        assert_eq!(s.long_polling_timeout.unwrap().seconds, 20);
        assert_eq!(answer.backoff_policy.unwrap().max_attempts, 17);
    });
    let m = wait_pulled(&cluster, "GrpcCheck", 4, "TX-CHECK");
    assert_eq!(&m.body[..], b"tx body");
    cluster.shutdown();
}
