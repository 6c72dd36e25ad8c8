//! The Rust client against the bundled broker on loopback: send (single, batch, oneway,
//! selected queue, compressed), then pull everything back byte for byte.

use bytes::Bytes;
use rocketmq_client::{
    ClientConfig, ClientInstance, Message, Producer, ProducerConfig, PullRequest, PullStatus,
    SendStatus, TagFilter,
};
use rocketmq_server::{EmbeddedCluster, ServerConfig};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn cluster(dir: &std::path::Path) -> EmbeddedCluster {
    EmbeddedCluster::start(ServerConfig {
        namesrv_port: 0,
        broker_port: 0,
        store_dir: dir.to_path_buf(),
        commit_log_segment_size: 8 << 20,
        ..ServerConfig::default()
    })
    .expect("cluster starts")
}

fn client(c: &EmbeddedCluster) -> Arc<ClientInstance> {
    ClientInstance::new(
        ClientConfig {
            name_servers: vec![c.namesrv_addr().to_string()],
            ..ClientConfig::default()
        },
        None,
    )
}

/// Pulls every queue of `topic` from offset 0 until each reports no new message.
async fn drain(
    client: &ClientInstance,
    topic: &str,
    filter: &str,
) -> Vec<rocketmq_client::MessageExt> {
    let route = client.fetch_route(topic).await.expect("route");
    let mut out = Vec::new();
    for mq in &route.subscribe {
        let mut offset = 0;
        for _ in 0..10_000 {
            let r = client
                .pull(&PullRequest {
                    group: "G".into(),
                    queue: mq.clone(),
                    offset,
                    max_msgs: 32,
                    filter: TagFilter::parse(filter),
                    suspend: None,
                    commit_offset: None,
                })
                .await
                .expect("pull");
            offset = r.next_begin_offset;
            out.extend(r.messages);
            if r.status == PullStatus::NoNewMsg {
                break;
            }
        }
    }
    out
}

#[test]
fn send_then_pull_every_kind_of_message_back() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = cluster(dir.path());
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let client = client(&cluster);
        let producer = Producer::new(
            client.clone(),
            ProducerConfig {
                group: "PG".into(),
                ..ProducerConfig::default()
            },
        );
        let mut sent = BTreeMap::new();
        for i in 0..50u32 {
            let mut m = Message::new(
                "ClientTopic",
                Bytes::from(format!("body-{i}\0tail").into_bytes()),
            );
            m.set_tags(if i % 2 == 0 { "TagA" } else { "TagB" });
            m.set_keys(&format!("k{i} other"));
            m.set_property("p", &i.to_string());
            let r = producer.send(&m).await.expect("send");
            assert_eq!(r.status, SendStatus::Ok);
            assert_eq!(r.msg_id.len(), 32);
            sent.insert(r.msg_id.clone(), m);
        }
        assert_eq!(sent.len(), 50, "ids are distinct");

        // A compressible body over the threshold travels compressed and comes back whole.
        let big = Bytes::from(vec![b'x'; 100_000]);
        let r = producer
            .send(&Message::new("ClientTopic", big.clone()))
            .await
            .unwrap();
        sent.insert(r.msg_id.clone(), Message::new("ClientTopic", big));

        let batch: Vec<Message> = (0..10)
            .map(|i| {
                let mut m = Message::new("ClientTopic", Bytes::from(format!("batch-{i}")));
                m.set_tags("TagC");
                m
            })
            .collect();
        let r = producer.send_batch(&batch).await.expect("batch");
        let ids: Vec<&str> = r.msg_id.split(',').collect();
        assert_eq!(ids.len(), 10);
        for (id, m) in ids.iter().zip(batch) {
            sent.insert(id.to_string(), m);
        }

        let r = producer
            .send_to_selected(&Message::new("ClientTopic", "chosen"), |n| Ok(n - 1), 3)
            .await
            .unwrap();
        assert_eq!(r.queue.queue_id, 3, "auto-created topics have 4 queues");
        sent.insert(r.msg_id.clone(), Message::new("ClientTopic", "chosen"));

        let got = drain(&client, "ClientTopic", "*").await;
        assert_eq!(got.len(), sent.len());
        for m in &got {
            let want = sent.get(&m.msg_id).expect("a sent id");
            assert_eq!(m.body, want.body);
            assert_eq!(m.tags(), want.tags());
            assert_eq!(m.keys(), want.keys());
            assert_eq!(
                m.property("p"),
                want.properties.get("p").map(String::as_str)
            );
            assert_eq!(m.topic, "ClientTopic");
        }

        let tagged = drain(&client, "ClientTopic", "TagA || TagC").await;
        assert_eq!(tagged.len(), 25 + 10);
        assert!(tagged
            .iter()
            .all(|m| matches!(m.tags(), Some("TagA") | Some("TagC"))));

        // Oneway: nothing to wait for but the message itself.
        producer
            .send_oneway(&Message::new("OnewayTopic", "fire"))
            .await
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let got = match client.fetch_route("OnewayTopic").await {
                Ok(_) => drain(&client, "OnewayTopic", "*").await,
                Err(_) => vec![],
            };
            if got.len() == 1 {
                assert_eq!(&got[0].body[..], b"fire");
                break;
            }
            assert!(Instant::now() < deadline, "oneway message never arrived");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
    cluster.shutdown();
}

#[test]
fn errors_name_the_cause() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        // Nothing listens on port 1 of loopback.
        let client = ClientInstance::new(
            ClientConfig {
                name_servers: vec!["127.0.0.1:1".into()],
                connect_timeout: Duration::from_millis(500),
                ..ClientConfig::default()
            },
            None,
        );
        let producer = Producer::new(client, ProducerConfig::default());
        let err = producer
            .send(&Message::new("T", "x"))
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("127.0.0.1:1"), "{err}");
        assert!(err.contains("\"T\""), "{err}");

        let err = producer
            .send(&Message::new("bad topic!", "x"))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("characters"), "{err}");
        let err = producer.send(&Message::new("T", "")).await.unwrap_err();
        assert!(err.to_string().contains("empty"), "{err}");
    });
}
