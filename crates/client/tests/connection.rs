//! The connection pool against peers that misbehave: a connection whose peer stopped
//! answering is closed after a timeout and replaced by the next request; a slow peer that
//! still answers keeps its connection.

use bytes::BytesMut;
use rocketmq_client::remoting::ConnectionPool;
use rocketmq_client::{ClientError, ClientInstance};
use rocketmq_protocol::command::RemotingCommand;
use rocketmq_protocol::frame;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Answers requests on connection number `n` (0-based) after `delay(n)`; `None`: never.
async fn server(listener: TcpListener, delay: fn(usize) -> Option<Duration>) -> Arc<AtomicUsize> {
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        loop {
            let Ok((sock, _)) = listener.accept().await else {
                return;
            };
            let n = count.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(serve(sock, delay(n)));
        }
    });
    accepted
}

async fn serve(mut sock: TcpStream, delay: Option<Duration>) {
    let mut buf = BytesMut::new();
    loop {
        while let Ok(Some(req)) = frame::decode(&mut buf) {
            let Some(delay) = delay else { continue };
            tokio::time::sleep(delay).await;
            let mut resp = RemotingCommand::new_response(0, "ok");
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
fn a_connection_that_stopped_answering_is_replaced() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        // The first connection swallows everything; later ones answer at once.
        let accepted = server(listener, |n| (n > 0).then_some(Duration::ZERO)).await;
        let pool = ConnectionPool::new(Duration::from_secs(3), None);
        let timeout = Duration::from_millis(300);
        let e = pool
            .invoke(&addr, ClientInstance::request(10), timeout)
            .await
            .unwrap_err();
        assert!(matches!(e, ClientError::Timeout { .. }), "{e}");
        let resp = pool
            .invoke(&addr, ClientInstance::request(10), timeout)
            .await
            .expect("the next request goes over a new connection");
        assert_eq!(resp.code, 0);
        assert_eq!(accepted.load(Ordering::SeqCst), 2);
    });
}

#[test]
fn a_slow_peer_that_still_answers_keeps_its_connection() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        // Every answer takes 1 s; requests are answered in order.
        let accepted = server(listener, |_| Some(Duration::from_secs(1))).await;
        let pool = Arc::new(ConnectionPool::new(Duration::from_secs(3), None));
        // Two requests at once: the second is answered at about 2 s, after its 1.5 s timeout,
        // although the connection answered the first (at about 1 s) in the meantime.
        let first = {
            let (pool, addr) = (pool.clone(), addr.clone());
            tokio::spawn(async move {
                pool.invoke(&addr, ClientInstance::request(10), Duration::from_secs(5))
                    .await
            })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        let second = pool
            .invoke(
                &addr,
                ClientInstance::request(10),
                Duration::from_millis(1500),
            )
            .await;
        assert!(
            matches!(second, Err(ClientError::Timeout { .. })),
            "{second:?}"
        );
        assert_eq!(first.await.unwrap().expect("first answered").code, 0);
        // The connection stays: the next request uses it.
        let third = pool
            .invoke(&addr, ClientInstance::request(10), Duration::from_secs(5))
            .await
            .expect("answered");
        assert_eq!(third.code, 0);
        assert_eq!(accepted.load(Ordering::SeqCst), 1);
    });
}
