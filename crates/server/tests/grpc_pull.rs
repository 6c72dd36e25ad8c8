//! The gRPC endpoint's QueryAssignment, PullMessage, UpdateOffset, GetOffset, QueryOffset and
//! RecallMessage against a real broker on 127.0.0.1, through the tonic client of
//! `rocketmq_grpc`; messages are sent over remoting.

mod common;
mod grpc_util;
mod pop_util;

use common::*;
use grpc_util::*;
use pop_util::send;
use rocketmq_grpc::v2;
use rocketmq_grpc::v2::pull_message_response::Content;
use rocketmq_protocol::properties::encode_pairs;
use rocketmq_protocol::RemotingCommand;

fn queue(topic: &str, id: i32) -> Option<v2::MessageQueue> {
    Some(v2::MessageQueue {
        topic: resource(topic),
        id,
        ..Default::default()
    })
}

/// What one PullMessage answered: status, messages, next offset.
async fn pull(
    g: &mut Grpc,
    topic: &str,
    id: i32,
    offset: i64,
    filter: Option<(v2::FilterType, &str)>,
) -> (v2::Status, Vec<v2::Message>, Option<i64>) {
    let mut stream = g
        .pull_message(v2::PullMessageRequest {
            group: resource("PG"),
            message_queue: queue(topic, id),
            offset,
            batch_size: 32,
            filter_expression: filter.map(|(t, e)| v2::FilterExpression {
                r#type: t as i32,
                expression: e.into(),
            }),
            long_polling_timeout: millis(5_000),
        })
        .await
        .expect("pull answered")
        .into_inner();
    let mut status = None;
    let mut messages = Vec::new();
    let mut next = None;
    while let Some(item) = stream.message().await.expect("stream item") {
        match item.content.expect("content") {
            Content::Status(s) => status = Some(s),
            Content::Message(m) => messages.push(m),
            Content::NextOffset(n) => next = Some(n),
        }
    }
    (status.expect("a status"), messages, next)
}

#[test]
fn assignment_is_one_any_queue_entry_or_every_queue_for_a_fifo_group() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = start_grpc(dir.path());
    let mut c = Client::connect(cluster.broker_addr());
    create_topic(&mut c, "AT", 3);
    let body = r#"{"groupName": "FIFO_G", "consumeMessageOrderly": true}"#;
    let r = c.call(RemotingCommand::new_request(200).with_body(body.as_bytes().to_vec()));
    assert_eq!(r.code, 0, "{:?}", r.remark);
    let grpc_addr = cluster.grpc_addr().unwrap();
    runtime().block_on(async {
        let mut g = connect(&cluster).await;
        let ask = |group: &str, topic: &str| v2::QueryAssignmentRequest {
            topic: resource(topic),
            group: resource(group),
            endpoints: None,
        };
        let normal = g
            .query_assignment(ask("G", "AT"))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(code(&normal.status), v2::Code::Ok, "{:?}", normal.status);
        assert_eq!(normal.assignments.len(), 1);
        let mq = normal.assignments[0].message_queue.as_ref().unwrap();
        assert_eq!(mq.id, -1);
        assert_eq!(mq.permission, v2::Permission::ReadWrite as i32);
        let broker = mq.broker.as_ref().unwrap();
        assert!(!broker.name.is_empty());
        let address = &broker.endpoints.as_ref().unwrap().addresses[0];
        assert_eq!(address.port, i32::from(grpc_addr.port()));

        let fifo = g
            .query_assignment(ask("FIFO_G", "AT"))
            .await
            .unwrap()
            .into_inner();
        let ids: Vec<i32> = fifo
            .assignments
            .iter()
            .map(|a| a.message_queue.as_ref().unwrap().id)
            .collect();
        assert_eq!(ids, [0, 1, 2]);

        let missing = g
            .query_assignment(ask("G", "NO_SUCH"))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(code(&missing.status), v2::Code::TopicNotFound);
        let no_group = g
            .query_assignment(ask("", "AT"))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(code(&no_group.status), v2::Code::IllegalConsumerGroup);
    });
    cluster.shutdown();
}

#[test]
fn pull_and_offsets_follow_the_queue() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = start_grpc(dir.path());
    let mut c = Client::connect(cluster.broker_addr());
    create_topic(&mut c, "PT", 2);
    for i in 0..3 {
        let props = encode_pairs(&[("TAGS", if i == 1 { "B" } else { "A" })]);
        send(&mut c, "PT", 1, &format!("p{i}"), &props);
    }
    runtime().block_on(async {
        let mut g = connect(&cluster).await;
        let (status, messages, next) = pull(&mut g, "PT", 1, 0, None).await;
        assert_eq!(status.code, v2::Code::Ok as i32, "{status:?}");
        let bodies: Vec<&[u8]> = messages.iter().map(|m| &m.body[..]).collect();
        assert_eq!(bodies, [b"p0", b"p1", b"p2"]);
        assert_eq!(next, Some(3));
        let offsets: Vec<Option<i64>> = messages
            .iter()
            .map(|m| m.system_properties.as_ref().unwrap().queue_offset)
            .collect();
        assert_eq!(offsets, [Some(0), Some(1), Some(2)]);
        // A tag filter, then the end of the queue (after the 5 s minimum poll).
        let (_, tagged, _) = pull(&mut g, "PT", 1, 0, Some((v2::FilterType::Tag, "B"))).await;
        assert_eq!(tagged.len(), 1);
        assert_eq!(&tagged[0].body[..], b"p1");
        let (end, none, next) = pull(&mut g, "PT", 1, 3, None).await;
        assert_eq!(end.code, v2::Code::MessageNotFound as i32, "{end:?}");
        assert!(none.is_empty());
        assert_eq!(next, Some(3));
        let (far, _, _) = pull(&mut g, "PT", 1, 100, None).await;
        assert_eq!(far.code, v2::Code::IllegalOffset as i32, "{far:?}");
        let (bad_queue, _, next) = pull(&mut g, "PT", 7, 0, None).await;
        assert_eq!(bad_queue.code, v2::Code::BadRequest as i32, "{bad_queue:?}");
        assert_eq!(next, None);

        // Committed offsets: none yet, then what was updated.
        let get = |id: i32| v2::GetOffsetRequest {
            group: resource("PG"),
            message_queue: queue("PT", id),
        };
        let before = g.get_offset(get(1)).await.unwrap().into_inner();
        assert_eq!(
            code(&before.status),
            v2::Code::OffsetNotFound,
            "{:?}",
            before.status
        );
        let updated = g
            .update_offset(v2::UpdateOffsetRequest {
                group: resource("PG"),
                message_queue: queue("PT", 1),
                offset: 2,
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(code(&updated.status), v2::Code::Ok, "{:?}", updated.status);
        let after = g.get_offset(get(1)).await.unwrap().into_inner();
        assert_eq!((code(&after.status), after.offset), (v2::Code::Ok, 2));

        // Queue bounds and time lookups.
        let query = |policy: v2::QueryOffsetPolicy, timestamp: Option<rocketmq_grpc::Timestamp>| {
            v2::QueryOffsetRequest {
                message_queue: queue("PT", 1),
                query_offset_policy: policy as i32,
                timestamp,
            }
        };
        let begin = g
            .query_offset(query(v2::QueryOffsetPolicy::Beginning, None))
            .await
            .unwrap()
            .into_inner();
        assert_eq!((code(&begin.status), begin.offset), (v2::Code::Ok, 0));
        let end = g
            .query_offset(query(v2::QueryOffsetPolicy::End, None))
            .await
            .unwrap()
            .into_inner();
        assert_eq!((code(&end.status), end.offset), (v2::Code::Ok, 3));
        let early = rocketmq_grpc::Timestamp {
            seconds: 0,
            nanos: 0,
        };
        let by_time = g
            .query_offset(query(v2::QueryOffsetPolicy::Timestamp, Some(early)))
            .await
            .unwrap()
            .into_inner();
        assert_eq!((code(&by_time.status), by_time.offset), (v2::Code::Ok, 0));
        let no_time = g
            .query_offset(query(v2::QueryOffsetPolicy::Timestamp, None))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(code(&no_time.status), v2::Code::BadRequest);
    });
    cluster.shutdown();
}

#[test]
fn recall_refuses_a_handle_that_does_not_decode_and_a_blank_topic() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = start_grpc(dir.path());
    runtime().block_on(async {
        let mut g = connect(&cluster).await;
        let r = g
            .recall_message(v2::RecallMessageRequest {
                topic: resource("T"),
                recall_handle: "any".into(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            code(&r.status),
            v2::Code::InternalServerError,
            "{:?}",
            r.status
        );
        assert_eq!(r.status.unwrap().message, "recall handle is invalid");
        let no_topic = g
            .recall_message(v2::RecallMessageRequest {
                topic: resource(""),
                recall_handle: "any".into(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(code(&no_topic.status), v2::Code::IllegalTopic);
    });
    cluster.shutdown();
}
