//! ACL signing on the wire: a fake server checks that every request the client sends carries
//! `AccessKey`, `OnsChannel` and a `Signature` that verifies over what it received; and a
//! signed producer works against the bundled broker (which ignores the fields).

use bytes::{Bytes, BytesMut};
use rocketmq_client::{
    request_signature, ClientConfig, ClientInstance, ConnectionPool, Message, Producer,
    ProducerConfig, PullRequest, PullStatus, SessionCredentials, TagFilter, ACCESS_KEY,
    ONS_CHANNEL, SIGNATURE,
};
use rocketmq_protocol::frame;
use rocketmq_protocol::RemotingCommand;
use rocketmq_server::{EmbeddedCluster, ServerConfig};
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Answers each request with SUCCESS when its signature verifies with `secret`, else with
/// code 1 and a remark saying what is wrong.
async fn verifying_server(listener: TcpListener, secret: &'static str) {
    let (mut sock, _) = listener.accept().await.expect("accept");
    let mut buf = BytesMut::new();
    loop {
        while let Ok(Some(req)) = frame::decode(&mut buf) {
            let verdict = match req.field(SIGNATURE) {
                None => Err("no Signature".to_string()),
                Some(sig) => {
                    let expected = request_signature(secret, &req.ext_fields, &req.body);
                    if sig == expected {
                        Ok(())
                    } else {
                        Err(format!("signature {sig} != {expected}"))
                    }
                }
            };
            let mut resp = match verdict {
                Ok(()) => RemotingCommand::new_response(0, "verified"),
                Err(e) => RemotingCommand::new_response(1, e),
            };
            // Echo the credential fields back so the test can look at them.
            for k in [ACCESS_KEY, ONS_CHANNEL] {
                if let Some(v) = req.field(k) {
                    resp.set_field(k, v);
                }
            }
            resp.opaque = req.opaque;
            resp.set_response(true);
            if sock.write_all(&resp.to_frame()).await.is_err() {
                return;
            }
        }
        match sock.read_buf(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    }
}

#[test]
fn every_request_is_signed_and_verifies() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let server = tokio::spawn(verifying_server(listener, "s3cret"));
        let pool = ConnectionPool::new(Duration::from_secs(3), None).with_credentials(Some(
            SessionCredentials::new("myAccessKey", "s3cret", "ALIYUN"),
        ));
        for (i, body) in [&b""[..], b"some body", &[0u8, 1, 2, 255][..]]
            .into_iter()
            .enumerate()
        {
            let req = ClientInstance::request(10)
                .with_field("topic", "T")
                .with_field("queueId", i)
                .with_field("zeta", "last")
                .with_body(Bytes::copy_from_slice(body));
            let resp = pool
                .invoke(&addr, req, Duration::from_secs(5))
                .await
                .expect("answer");
            assert_eq!(resp.code, 0, "{:?}", resp.remark);
            assert_eq!(resp.field(ACCESS_KEY), Some("myAccessKey"));
            assert_eq!(resp.field(ONS_CHANNEL), Some("ALIYUN"));
        }
        drop(pool);
        let _ = tokio::time::timeout(Duration::from_secs(5), server).await;
    });
}

#[test]
fn a_wrong_secret_does_not_verify() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        tokio::spawn(verifying_server(listener, "the-real-secret"));
        let pool = ConnectionPool::new(Duration::from_secs(3), None)
            .with_credentials(Some(SessionCredentials::new("ak", "a-guess", "ALIYUN")));
        let req = ClientInstance::request(10).with_field("topic", "T");
        let resp = pool
            .invoke(&addr, req, Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!(resp.code, 1);
        assert!(resp.remark.unwrap_or_default().contains("!="));
    });
}

#[test]
fn a_signed_producer_sends_and_pulls_from_the_bundled_broker() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = EmbeddedCluster::start(ServerConfig {
        namesrv_port: 0,
        broker_port: 0,
        store_dir: dir.path().to_path_buf(),
        commit_log_segment_size: 8 << 20,
        ..ServerConfig::default()
    })
    .expect("cluster starts");
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let client = ClientInstance::new(
            ClientConfig {
                name_servers: vec![cluster.namesrv_addr().to_string()],
                credentials: Some(SessionCredentials::new("ak", "sk", "ALIYUN")),
                ..ClientConfig::default()
            },
            None,
        );
        let producer = Producer::new(
            client.clone(),
            ProducerConfig {
                group: "ACL_PG".into(),
                ..ProducerConfig::default()
            },
        );
        let sent = producer
            .send(&Message {
                topic: "AclTopic".into(),
                flag: 0,
                properties: BTreeMap::new(),
                body: Bytes::from_static(b"signed hello"),
            })
            .await
            .expect("send");
        let r = client
            .pull(&PullRequest {
                group: "ACL_CG".into(),
                queue: sent.queue.clone(),
                offset: sent.queue_offset,
                max_msgs: 1,
                filter: TagFilter::parse("*"),
                suspend: None,
                commit_offset: None,
            })
            .await
            .expect("pull");
        assert_eq!(r.status, PullStatus::Found);
        assert_eq!(&r.messages[0].body[..], b"signed hello");
    });
}
