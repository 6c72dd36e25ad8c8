//! The connection pool against peers that misbehave: a connection whose peer stopped
//! answering is closed after a timeout and replaced by the next request; a slow peer that
//! still answers keeps its connection. The same for the blocking connections of
//! `with_blocking_requests`, which carry sends, pulls, offsets and routes of a blocked thread
//! (heartbeats stay on the multiplexed connection).

use bytes::BytesMut;
use rocketmq_client::{with_blocking_requests, ClientError, ClientInstance, ConnectionPool};
use rocketmq_protocol::frame;
use rocketmq_protocol::RemotingCommand;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Answers requests on connection number `n` (0-based) after `delay(n)`; `None`: never.
async fn server(listener: TcpListener, delay: fn(usize) -> Option<Duration>) -> Arc<AtomicUsize> {
    peer(listener, delay, |_| false).await.0
}

/// As [`server`]; a connection `n` with `close_after_answer(n)` closes after one answer.
/// Also returns a flag set once such a connection is closed.
async fn peer(
    listener: TcpListener,
    delay: fn(usize) -> Option<Duration>,
    close_after_answer: fn(usize) -> bool,
) -> (Arc<AtomicUsize>, Arc<AtomicBool>) {
    let accepted = Arc::new(AtomicUsize::new(0));
    let closed = Arc::new(AtomicBool::new(false));
    let (count, closed_flag) = (accepted.clone(), closed.clone());
    tokio::spawn(async move {
        loop {
            let Ok((sock, _)) = listener.accept().await else {
                return;
            };
            let n = count.fetch_add(1, Ordering::SeqCst);
            let once = close_after_answer(n).then(|| closed_flag.clone());
            tokio::spawn(serve(sock, delay(n), once));
        }
    });
    (accepted, closed)
}

async fn serve(mut sock: TcpStream, delay: Option<Duration>, once: Option<Arc<AtomicBool>>) {
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
            if let Some(closed) = once {
                drop(sock);
                closed.store(true, Ordering::SeqCst);
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

/// Runs `f` on a multi-thread runtime, from a thread allowed to block on its requests (as the
/// Python bindings' synchronous calls do).
fn blocking<F: std::future::Future>(f: impl FnOnce() -> F) -> F::Output {
    let rt = tokio::runtime::Runtime::new().unwrap();
    with_blocking_requests(|| rt.block_on(f()))
}

#[test]
fn blocking_requests_take_a_connection_of_their_own_and_reuse_it() {
    blocking(|| async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let accepted = server(listener, |_| Some(Duration::ZERO)).await;
        let pool = ConnectionPool::new(Duration::from_secs(3), None);
        let timeout = Duration::from_secs(5);
        // A heartbeat ties the client to its connection: the multiplexed one.
        let heartbeat = pool.invoke(&addr, ClientInstance::request(34), timeout);
        assert_eq!(heartbeat.await.unwrap().code, 0);
        assert_eq!(accepted.load(Ordering::SeqCst), 1);
        assert_eq!(pool.addrs(), vec![addr.clone()]);
        // Sends go over a second connection, the same one each time.
        for _ in 0..3 {
            let resp = pool.invoke(&addr, ClientInstance::request(10), timeout);
            assert_eq!(resp.await.unwrap().code, 0);
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 2);
    });
}

#[test]
fn a_blocking_request_that_timed_out_does_not_reuse_its_connection() {
    blocking(|| async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let accepted = server(listener, |n| (n > 0).then_some(Duration::ZERO)).await;
        let pool = ConnectionPool::new(Duration::from_secs(3), None);
        let started = Instant::now();
        let e = pool
            .invoke(
                &addr,
                ClientInstance::request(10),
                Duration::from_millis(300),
            )
            .await
            .unwrap_err();
        assert!(matches!(e, ClientError::Timeout { .. }), "{e}");
        let waited = started.elapsed();
        assert!(waited >= Duration::from_millis(300), "{waited:?}");
        assert!(waited < Duration::from_secs(3), "{waited:?}");
        let resp = pool
            .invoke(&addr, ClientInstance::request(10), Duration::from_secs(5))
            .await
            .expect("answered over a new connection");
        assert_eq!(resp.code, 0);
        assert_eq!(accepted.load(Ordering::SeqCst), 2);
    });
}

#[test]
fn an_idle_blocking_connection_the_peer_closed_is_replaced_before_use() {
    blocking(|| async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let (accepted, closed) = peer(listener, |_| Some(Duration::ZERO), |n| n == 0).await;
        let pool = ConnectionPool::new(Duration::from_secs(3), None);
        let timeout = Duration::from_secs(5);
        let first = pool.invoke(&addr, ClientInstance::request(10), timeout);
        assert_eq!(first.await.unwrap().code, 0);
        // Waits for the peer's close in a runtime task: this thread is the one that blocks.
        let seen = tokio::spawn(async move {
            for _ in 0..500 {
                if closed.load(Ordering::SeqCst) {
                    return true;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            false
        });
        assert!(
            seen.await.unwrap(),
            "the peer never closed its first connection"
        );
        let second = pool.invoke(&addr, ClientInstance::request(10), timeout);
        assert_eq!(second.await.expect("a fresh connection").code, 0);
        assert_eq!(accepted.load(Ordering::SeqCst), 2);
    });
}

#[test]
fn blocking_connections_are_capped_and_further_callers_use_the_multiplexed_one() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (addr, accepted) = rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        // Slow answers keep every caller's connection busy while the others arrive.
        let accepted = server(listener, |_| Some(Duration::from_millis(300))).await;
        (addr, accepted)
    });
    let pool = Arc::new(ConnectionPool::new(Duration::from_secs(3), None));
    let callers = 24;
    let threads: Vec<_> = (0..callers)
        .map(|_| {
            let (pool, addr, handle) = (pool.clone(), addr.clone(), rt.handle().clone());
            std::thread::spawn(move || {
                with_blocking_requests(|| {
                    handle.block_on(pool.invoke(
                        &addr,
                        ClientInstance::request(10),
                        Duration::from_secs(20),
                    ))
                })
            })
        })
        .collect();
    for t in threads {
        assert_eq!(t.join().unwrap().expect("answered").code, 0);
    }
    // 16 blocking connections at most, plus the multiplexed one for the callers beyond.
    let connections = accepted.load(Ordering::SeqCst);
    assert!(connections <= 17, "{connections} connections");
    assert_eq!(
        pool.addrs(),
        vec![addr.clone()],
        "no caller used the multiplexed connection"
    );
    // The blocking connections stay for reuse: another round opens none.
    let again = with_blocking_requests(|| {
        rt.block_on(pool.invoke(&addr, ClientInstance::request(10), Duration::from_secs(5)))
    });
    assert_eq!(again.expect("answered").code, 0);
    assert_eq!(accepted.load(Ordering::SeqCst), connections);
}

#[test]
fn concurrent_first_requests_share_one_new_connection() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let accepted = server(listener, |_| Some(Duration::ZERO)).await;
        let pool = Arc::new(ConnectionPool::new(Duration::from_secs(3), None));
        let requests: Vec<_> = (0..20)
            .map(|_| {
                let (pool, addr) = (pool.clone(), addr.clone());
                tokio::spawn(async move {
                    pool.invoke(&addr, ClientInstance::request(10), Duration::from_secs(5))
                        .await
                })
            })
            .collect();
        for r in requests {
            assert_eq!(r.await.unwrap().expect("answered").code, 0);
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 1);
    });
}
