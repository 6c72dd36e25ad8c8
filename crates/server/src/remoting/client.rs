//! A minimal remoting client over one long-lived connection, reconnecting on demand.
//!
//! The broker uses it to talk to the name server. The connection is kept open on purpose:
//! the name server forgets a broker whose registering connection closed.

use bytes::BytesMut;
use rocketmq_protocol::RemotingCommand;
use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot, watch};

type Pending = Arc<Mutex<HashMap<i32, oneshot::Sender<RemotingCommand>>>>;

struct Connection {
    tx: mpsc::Sender<RemotingCommand>,
    pending: Pending,
    closed: watch::Sender<bool>,
}

impl Connection {
    fn is_closed(&self) -> bool {
        *self.closed.borrow() || self.tx.is_closed()
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.closed.send_replace(true);
    }
}

pub struct RemotingClient {
    addr: SocketAddr,
    conn: tokio::sync::Mutex<Option<Connection>>,
    next_opaque: AtomicI32,
}

impl RemotingClient {
    pub fn new(addr: SocketAddr) -> Self {
        RemotingClient {
            addr,
            conn: tokio::sync::Mutex::new(None),
            next_opaque: AtomicI32::new(1),
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Sends `request` and waits for the response with the same opaque.
    pub async fn invoke(
        &self,
        mut request: RemotingCommand,
        timeout: Duration,
    ) -> io::Result<RemotingCommand> {
        request.opaque = self.next_opaque.fetch_add(1, Ordering::Relaxed) & i32::MAX;
        let (done_tx, done_rx) = oneshot::channel();
        {
            let mut guard = self.conn.lock().await;
            if guard.as_ref().is_none_or(Connection::is_closed) {
                *guard = None;
                let stream =
                    tokio::time::timeout(Duration::from_secs(3), TcpStream::connect(self.addr))
                        .await
                        .map_err(|_| {
                            io::Error::new(io::ErrorKind::TimedOut, "connect timed out")
                        })??;
                *guard = Some(open(stream));
            }
            let conn = guard
                .as_ref()
                .ok_or_else(|| io::Error::other("no connection"))?;
            conn.pending
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(request.opaque, done_tx);
            if conn.tx.send(request).await.is_err() {
                *guard = None;
                return Err(io::Error::new(
                    io::ErrorKind::BrokenPipe,
                    "connection closed",
                ));
            }
        }
        match tokio::time::timeout(timeout, done_rx).await {
            Ok(Ok(resp)) => Ok(resp),
            Ok(Err(_)) => Err(io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "connection closed before the response",
            )),
            Err(_) => Err(io::Error::new(io::ErrorKind::TimedOut, "request timed out")),
        }
    }

    /// Drops the connection (the peer sees it close).
    pub async fn close(&self) {
        *self.conn.lock().await = None;
    }
}

fn open(stream: TcpStream) -> Connection {
    let _ = stream.set_nodelay(true);
    let (mut reader, mut writer) = stream.into_split();
    let (tx, mut rx) = mpsc::channel::<RemotingCommand>(64);
    let (closed, _) = watch::channel(false);
    let pending: Pending = Arc::default();

    let mut closed_rx = closed.subscribe();
    tokio::spawn(async move {
        let mut buf = BytesMut::new();
        loop {
            tokio::select! {
                cmd = rx.recv() => match cmd {
                    Some(cmd) => {
                        buf.clear();
                        cmd.encode(&mut buf);
                        if writer.write_all(&buf).await.is_err() {
                            break;
                        }
                    }
                    None => break,
                },
                _ = crate::util::until_true(&mut closed_rx) => break,
            }
        }
        let _ = writer.shutdown().await;
    });

    let mut closed_rx = closed.subscribe();
    let closed_tx = closed.clone();
    let reader_pending = pending.clone();
    tokio::spawn(async move {
        let mut buf = BytesMut::with_capacity(8192);
        'outer: loop {
            loop {
                match rocketmq_protocol::frame::decode(&mut buf) {
                    Ok(Some(cmd)) if cmd.is_response() => {
                        let waiter = reader_pending
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .remove(&cmd.opaque);
                        if let Some(waiter) = waiter {
                            let _ = waiter.send(cmd);
                        }
                    }
                    Ok(Some(_)) => {}
                    Ok(None) => break,
                    Err(e) => {
                        tracing::warn!("bad frame from server: {e}");
                        break 'outer;
                    }
                }
            }
            tokio::select! {
                n = reader.read_buf(&mut buf) => match n {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                },
                _ = crate::util::until_true(&mut closed_rx) => break,
            }
        }
        closed_tx.send_replace(true);
        // Fail every waiter at once instead of letting them time out.
        reader_pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    });

    Connection {
        tx,
        pending,
        closed,
    }
}
