//! `set_namesrv_domain`: the name-server list comes from an HTTP URL at start and is refreshed
//! periodically; failures keep the current list and say what went wrong. The HTTP server is a
//! tiny one on 127.0.0.1:0 inside the test.

use bytes::Bytes;
use rocketmq_client::{
    fetch_name_servers, ClientConfig, ClientError, ClientInstance, HttpUrl, Message, Producer,
    ProducerConfig,
};
use rocketmq_server::{EmbeddedCluster, ServerConfig};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// What the test server answers: status line and body, changeable while it runs.
struct Answer {
    status: Mutex<String>,
    body: Mutex<String>,
    requests: AtomicUsize,
    last_request: Mutex<String>,
}

async fn http_server(answer: Arc<Answer>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let answer = answer.clone();
            tokio::spawn(async move {
                let mut req = Vec::new();
                let mut buf = [0u8; 1024];
                while !req.windows(4).any(|w| w == b"\r\n\r\n") && req.len() < 16 * 1024 {
                    match sock.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => req.extend_from_slice(&buf[..n]),
                    }
                }
                *answer.last_request.lock().unwrap() = String::from_utf8_lossy(&req).into();
                answer.requests.fetch_add(1, Ordering::SeqCst);
                let status = answer.status.lock().unwrap().clone();
                let body = answer.body.lock().unwrap().clone();
                let resp = format!("{status}\r\nContent-Type: text/plain\r\n\r\n{body}");
                let _ = sock.write_all(resp.as_bytes()).await;
                let _ = sock.shutdown().await;
            });
        }
    });
    addr
}

fn answer(body: &str) -> Arc<Answer> {
    Arc::new(Answer {
        status: Mutex::new("HTTP/1.0 200 OK".into()),
        body: Mutex::new(body.into()),
        requests: AtomicUsize::new(0),
        last_request: Mutex::new(String::new()),
    })
}

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

async fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[test]
fn the_list_is_fetched_at_start_and_refreshed() {
    let dir = tempfile::tempdir().unwrap();
    let cluster = cluster(dir.path());
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        // First line only, surrounding blanks trimmed, a second line ignored.
        let served = answer(&format!(
            "  127.0.0.1:1;{}\r\nignored:2\r\n",
            cluster.namesrv_addr()
        ));
        let http = http_server(served.clone()).await;
        let client = ClientInstance::new(
            ClientConfig {
                namesrv_domain: Some(format!("http://{http}/rocketmq/nsaddr")),
                namesrv_refresh_interval: Duration::from_millis(200),
                connect_timeout: Duration::from_millis(500),
                ..ClientConfig::default()
            },
            None,
        );
        let producer = Producer::new(
            client.clone(),
            ProducerConfig {
                group: "DOMAIN_PG".into(),
                ..ProducerConfig::default()
            },
        );
        wait_for("the first lookup", || !client.name_servers().is_empty()).await;
        assert_eq!(
            client.name_servers(),
            vec![
                "127.0.0.1:1".to_string(),
                cluster.namesrv_addr().to_string()
            ]
        );
        let req = served.last_request.lock().unwrap().clone();
        assert!(
            req.starts_with("GET /rocketmq/nsaddr HTTP/1.0\r\n"),
            "{req}"
        );
        assert!(req.contains(&format!("Host: {http}\r\n")), "{req}");
        // The dead first name server is skipped.
        let r = producer
            .send(&Message {
                topic: "DomainTopic".into(),
                flag: 0,
                properties: BTreeMap::new(),
                body: Bytes::from_static(b"via the domain"),
            })
            .await
            .expect("send through the name server from the domain");
        assert!(!r.msg_id.is_empty());

        // A changed list is picked up by the periodic refresh.
        *served.body.lock().unwrap() = format!("{};127.0.0.1:3\n", cluster.namesrv_addr());
        wait_for("the refreshed list", || {
            client.name_servers()
                == vec![
                    cluster.namesrv_addr().to_string(),
                    "127.0.0.1:3".to_string(),
                ]
        })
        .await;

        // A failing lookup keeps the current list.
        *served.status.lock().unwrap() = "HTTP/1.0 404 Not Found".into();
        let before = served.requests.load(Ordering::SeqCst);
        wait_for("two more lookups", || {
            served.requests.load(Ordering::SeqCst) >= before + 2
        })
        .await;
        assert_eq!(
            client.name_servers(),
            vec![
                cluster.namesrv_addr().to_string(),
                "127.0.0.1:3".to_string()
            ]
        );

        // Shutdown stops the refresh.
        client.shutdown();
        tokio::time::sleep(Duration::from_millis(100)).await;
        let after_shutdown = served.requests.load(Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(600)).await;
        assert_eq!(served.requests.load(Ordering::SeqCst), after_shutdown);
    });
}

#[test]
fn lookup_errors_say_what_went_wrong() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let served = answer("");
        let http = http_server(served.clone()).await;
        let url = HttpUrl::parse(&format!("http://{http}/x")).unwrap();
        let timeout = Duration::from_secs(5);

        let e = fetch_name_servers(&url, timeout).await.unwrap_err();
        assert!(e.to_string().contains("no name-server address"), "{e}");

        *served.status.lock().unwrap() = "HTTP/1.1 500 Internal Server Error".into();
        *served.body.lock().unwrap() = "127.0.0.1:9876".into();
        let e = fetch_name_servers(&url, timeout).await.unwrap_err();
        assert!(matches!(e, ClientError::Remote { code: 500, .. }), "{e}");

        *served.status.lock().unwrap() = "garbage".into();
        let e = fetch_name_servers(&url, timeout).await.unwrap_err();
        assert!(e.to_string().contains("did not answer HTTP"), "{e}");

        // Nothing listens on port 1 of loopback.
        let dead = HttpUrl::parse("http://127.0.0.1:1/x").unwrap();
        let e = fetch_name_servers(&dead, timeout).await.unwrap_err();
        assert!(matches!(e, ClientError::Connect { .. }), "{e}");

        // https is refused before anything is sent, and a send says why there is no route.
        let client = ClientInstance::new(
            ClientConfig {
                namesrv_domain: Some("https://ns.example/rocketmq/nsaddr".into()),
                ..ClientConfig::default()
            },
            None,
        );
        let e = client.update_name_servers_from_domain().await.unwrap_err();
        assert!(e.to_string().contains("https"), "{e}");
        let producer = Producer::new(client, ProducerConfig::default());
        let e = producer
            .send(&Message {
                topic: "T".into(),
                flag: 0,
                properties: BTreeMap::new(),
                body: Bytes::from_static(b"x"),
            })
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains("\"T\"") && e.contains("https"), "{e}");
    });
}

#[test]
fn dropping_the_last_client_ends_the_refresh() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let served = answer("127.0.0.1:9876\n");
        let http = http_server(served.clone()).await;
        let client = ClientInstance::new(
            ClientConfig {
                namesrv_domain: Some(format!("http://{http}/ns")),
                namesrv_refresh_interval: Duration::from_millis(100),
                ..ClientConfig::default()
            },
            None,
        );
        client.start_maintenance(&tokio::runtime::Handle::current());
        wait_for("three lookups", || {
            served.requests.load(Ordering::SeqCst) >= 3
        })
        .await;
        // No shutdown(): the task must notice that nobody holds the client any more.
        drop(client);
        tokio::time::sleep(Duration::from_millis(300)).await;
        let after_drop = served.requests.load(Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(served.requests.load(Ordering::SeqCst), after_drop);
    });
}
