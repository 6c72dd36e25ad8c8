//! Multiplexed connections to brokers and name servers.
//!
//! One TCP connection per address carries any number of concurrent requests. A request gets a
//! process-wide unique `opaque`; the reader task matches each response to its waiting request
//! by that opaque. Frames that are requests (the response bit is clear) come from the server
//! (NOTIFY_CONSUMER_IDS_CHANGED, CHECK_TRANSACTION_STATE, ...) and go to the connection's
//! [`RequestHandler`]; unsolicited responses (the C++-era "oneway" quirk) are dropped.
//!
//! What must stay true: the `pending` lock is never held across an `.await`; a closed
//! connection completes every pending request with `ConnectionClosed` at once (no request
//! waits for its timeout on a dead socket); the pool replaces a closed connection on next use,
//! and closes a connection on which a request timed out with nothing read since it was sent
//! (a peer that stopped answering, or a stream out of step), so the next request reconnects;
//! with credentials set, the pool signs every request last, right before it is written.

use crate::acl::SessionCredentials;
use crate::error::{ClientError, Result};
use bytes::{Bytes, BytesMut};
use rocketmq_protocol::command::RemotingCommand;
use rocketmq_protocol::frame;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};

/// Log target: a child of the `rocketmq` logger once bridged to Python `logging`.
const LOG: &str = "rocketmq.client.remoting";

/// Request ids are unique per process, as in the Java client, so that logs can correlate.
static NEXT_OPAQUE: AtomicI32 = AtomicI32::new(1);

fn next_opaque() -> i32 {
    NEXT_OPAQUE.fetch_add(1, Ordering::Relaxed) & i32::MAX
}

/// Handles requests that a server sends to the client. Returns the response to write, if any.
pub trait RequestHandler: Send + Sync + 'static {
    fn handle(&self, from: &str, request: RemotingCommand) -> Option<RemotingCommand>;
}

type Pending = Mutex<HashMap<i32, oneshot::Sender<RemotingCommand>>>;

/// One multiplexed connection.
pub struct Connection {
    addr: String,
    outbound: mpsc::UnboundedSender<Bytes>,
    pending: Arc<Pending>,
    closed: Arc<AtomicBool>,
    /// Wakes the reader task so the socket closes when the last handle is dropped.
    close: Arc<tokio::sync::Notify>,
    /// When the connection was made; `last_read_ms` counts from here.
    born: Instant,
    /// 1 + milliseconds after `born` when the reader last decoded a frame; 0: never.
    last_read_ms: Arc<AtomicU64>,
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.closed.store(true, Ordering::Release);
        self.close.notify_one();
    }
}

impl Connection {
    /// Connects to `addr` (`host:port`) within `timeout`.
    pub async fn connect(
        addr: &str,
        timeout: Duration,
        handler: Option<Arc<dyn RequestHandler>>,
    ) -> Result<Arc<Connection>> {
        let stream = match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => {
                return Err(ClientError::Connect {
                    addr: addr.to_string(),
                    cause: e.to_string(),
                })
            }
            Err(_) => {
                return Err(ClientError::Connect {
                    addr: addr.to_string(),
                    cause: format!("timed out after {} ms", timeout.as_millis()),
                })
            }
        };
        let _ = stream.set_nodelay(true);
        let (mut reader, mut writer) = stream.into_split();
        let (tx, mut rx) = mpsc::unbounded_channel::<Bytes>();
        let pending: Arc<Pending> = Arc::new(Mutex::new(HashMap::new()));
        let closed = Arc::new(AtomicBool::new(false));
        let close = Arc::new(tokio::sync::Notify::new());
        let born = Instant::now();
        let last_read_ms = Arc::new(AtomicU64::new(0));

        // Writer: coalesce whatever is queued into one write, so that pipelined requests
        // cost one syscall per burst rather than one per frame.
        let closed_w = closed.clone();
        tokio::spawn(async move {
            let mut buf = BytesMut::with_capacity(64 * 1024);
            while let Some(first) = rx.recv().await {
                buf.extend_from_slice(&first);
                while buf.len() < 1 << 20 {
                    match rx.try_recv() {
                        Ok(more) => buf.extend_from_slice(&more),
                        Err(_) => break,
                    }
                }
                if writer.write_all(&buf).await.is_err() {
                    break;
                }
                buf.clear();
            }
            closed_w.store(true, Ordering::Release);
            let _ = writer.shutdown().await;
        });

        // Reader: check-then-parse frames; route responses to waiters, requests to the handler.
        let conn = Arc::new(Connection {
            addr: addr.to_string(),
            outbound: tx.clone(),
            pending: pending.clone(),
            closed: closed.clone(),
            close: close.clone(),
            born,
            last_read_ms: last_read_ms.clone(),
        });
        let addr_r = addr.to_string();
        tokio::spawn(async move {
            let mut buf = BytesMut::with_capacity(64 * 1024);
            'read: loop {
                loop {
                    match frame::decode(&mut buf) {
                        Ok(Some(cmd)) => {
                            last_read_ms
                                .store(born.elapsed().as_millis() as u64 + 1, Ordering::Release);
                            if cmd.is_response() {
                                let waiter = pending.lock().unwrap().remove(&cmd.opaque);
                                if let Some(w) = waiter {
                                    let _ = w.send(cmd);
                                }
                            } else if let Some(h) = &handler {
                                let oneway = cmd.is_oneway();
                                let opaque = cmd.opaque;
                                if let Some(mut resp) = h.handle(&addr_r, cmd) {
                                    if !oneway {
                                        resp.opaque = opaque;
                                        resp.set_response(true);
                                        let _ = tx.send(resp.to_frame());
                                    }
                                }
                            }
                        }
                        Ok(None) => break,
                        Err(e) => {
                            tracing::warn!(target: LOG, addr = %addr_r, error = %e, "bad frame; closing connection");
                            break 'read;
                        }
                    }
                }
                tokio::select! {
                    r = reader.read_buf(&mut buf) => match r {
                        Ok(0) | Err(_) => break,
                        Ok(_) => {}
                    },
                    _ = close.notified() => break,
                }
            }
            closed.store(true, Ordering::Release);
            // Dropping the senders wakes every waiter with ConnectionClosed.
            pending.lock().unwrap().clear();
        });
        Ok(conn)
    }

    pub fn addr(&self) -> &str {
        &self.addr
    }

    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire) || self.outbound.is_closed()
    }

    /// Closes the connection: pending requests fail with `ConnectionClosed` at once.
    pub fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.close.notify_one();
    }

    /// Milliseconds since the connection was made (the clock of [`Self::read_since`]).
    fn now_ms(&self) -> u64 {
        self.born.elapsed().as_millis() as u64
    }

    /// Whether a frame was read at or after `ms` (see [`Self::now_ms`]).
    fn read_since(&self, ms: u64) -> bool {
        self.last_read_ms.load(Ordering::Acquire) > ms
    }

    /// Sends `request` and waits for its response up to `timeout`.
    pub async fn invoke(
        &self,
        mut request: RemotingCommand,
        timeout: Duration,
    ) -> Result<RemotingCommand> {
        let opaque = next_opaque();
        request.opaque = opaque;
        request.set_oneway(false);
        let (tx, rx) = oneshot::channel();
        self.pending.lock().unwrap().insert(opaque, tx);
        if self.is_closed() || self.outbound.send(request.to_frame()).is_err() {
            self.pending.lock().unwrap().remove(&opaque);
            return Err(ClientError::ConnectionClosed {
                addr: self.addr.clone(),
            });
        }
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(resp)) => Ok(resp),
            Ok(Err(_)) => Err(ClientError::ConnectionClosed {
                addr: self.addr.clone(),
            }),
            Err(_) => {
                self.pending.lock().unwrap().remove(&opaque);
                Err(ClientError::Timeout {
                    addr: self.addr.clone(),
                    millis: timeout.as_millis() as u64,
                })
            }
        }
    }

    /// Sends `request` with the oneway bit set; no response is expected.
    pub fn invoke_oneway(&self, mut request: RemotingCommand) -> Result<()> {
        request.opaque = next_opaque();
        request.set_oneway(true);
        if self.is_closed() || self.outbound.send(request.to_frame()).is_err() {
            return Err(ClientError::ConnectionClosed {
                addr: self.addr.clone(),
            });
        }
        Ok(())
    }
}

/// Connections by address, replaced when closed.
pub struct ConnectionPool {
    conns: Mutex<HashMap<String, Arc<Connection>>>,
    connect_timeout: Duration,
    handler: Option<Arc<dyn RequestHandler>>,
    credentials: Option<SessionCredentials>,
}

impl ConnectionPool {
    pub fn new(connect_timeout: Duration, handler: Option<Arc<dyn RequestHandler>>) -> Self {
        ConnectionPool {
            conns: Mutex::new(HashMap::new()),
            connect_timeout,
            handler,
            credentials: None,
        }
    }

    /// Signs every request sent through this pool with `credentials` (ACL).
    pub fn with_credentials(mut self, credentials: Option<SessionCredentials>) -> Self {
        self.credentials = credentials;
        self
    }

    fn sign(&self, request: &mut RemotingCommand) {
        if let Some(c) = &self.credentials {
            c.sign(request);
        }
    }

    /// The live connection to `addr`, connecting if there is none.
    pub async fn get(&self, addr: &str) -> Result<Arc<Connection>> {
        if let Some(c) = self.conns.lock().unwrap().get(addr) {
            if !c.is_closed() {
                return Ok(c.clone());
            }
        }
        let fresh = Connection::connect(addr, self.connect_timeout, self.handler.clone()).await?;
        let mut conns = self.conns.lock().unwrap();
        // Another task may have connected meanwhile; keep the first live one.
        match conns.get(addr) {
            Some(existing) if !existing.is_closed() => Ok(existing.clone()),
            _ => {
                conns.insert(addr.to_string(), fresh.clone());
                Ok(fresh)
            }
        }
    }

    /// Sends and waits; a transport failure drops the connection so the next call reconnects.
    pub async fn invoke(
        &self,
        addr: &str,
        mut request: RemotingCommand,
        timeout: Duration,
    ) -> Result<RemotingCommand> {
        self.sign(&mut request);
        let conn = self.get(addr).await?;
        let sent_at = conn.now_ms();
        let result = conn.invoke(request, timeout).await;
        if matches!(result, Err(ClientError::Timeout { .. })) && !conn.read_since(sent_at) {
            // Nothing came back since the request went out: the peer stopped answering (or
            // the stream is out of step). Replace the connection rather than reuse it forever.
            tracing::warn!(target: LOG, addr = %addr, "no answer within the timeout and nothing read since; closing the connection");
            self.discard(addr, &conn);
        }
        result
    }

    /// Removes `conn` from the pool (if it is still the one for `addr`) and closes it.
    fn discard(&self, addr: &str, conn: &Arc<Connection>) {
        {
            let mut conns = self.conns.lock().unwrap();
            if conns.get(addr).is_some_and(|c| Arc::ptr_eq(c, conn)) {
                conns.remove(addr);
            }
        }
        conn.close();
    }

    pub async fn invoke_oneway(&self, addr: &str, mut request: RemotingCommand) -> Result<()> {
        self.sign(&mut request);
        let conn = self.get(addr).await?;
        conn.invoke_oneway(request)
    }

    /// Every address with a live connection.
    pub fn addrs(&self) -> Vec<String> {
        self.conns
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, c)| !c.is_closed())
            .map(|(a, _)| a.clone())
            .collect()
    }

    /// Closes every connection (their tasks end when the sockets close).
    pub fn clear(&self) {
        self.conns.lock().unwrap().clear();
    }
}
