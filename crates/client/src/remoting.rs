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
//!
//! Writes: a caller writes its own frame with one non-blocking `try_write` when nothing is
//! queued ahead of it, so a synchronous request costs no task wake-up on the way out. What the
//! socket does not take at once goes to the connection's queue, which the writer task drains
//! (coalescing whatever piles up meanwhile into one write). Frames never interleave: the queue
//! lock is held across the `try_write`, and a caller writes directly only when the queue is
//! empty and no drain is under way.

use crate::acl::SessionCredentials;
use crate::blocking::{blocking_allowed, takes_blocking_path, BlockingConnections};
use crate::error::{ClientError, Result};
use bytes::{Buf, BytesMut};
use rocketmq_protocol::frame;
use rocketmq_protocol::RemotingCommand;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::sync::{oneshot, Notify};

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

/// A drained queue that grew past this is given back to the allocator.
const QUEUE_KEEP_CAPACITY: usize = 4 << 20;

/// The write side of one connection (see the module header for the protocol).
struct FrameWriter {
    half: OwnedWriteHalf,
    queue: Mutex<WriteQueue>,
    /// Wakes the writer task: bytes were queued, or the connection is closing.
    wake: Notify,
}

#[derive(Default)]
struct WriteQueue {
    bytes: BytesMut,
    /// The writer task owns the queue until it finds it empty; callers only append meanwhile.
    draining: bool,
    /// A write failed: the socket is unusable.
    failed: bool,
}

impl FrameWriter {
    /// Writes `frame` now or queues it behind what is already queued. Errors once a write
    /// failed.
    fn write(&self, frame: &[u8]) -> std::result::Result<(), ()> {
        let mut queue = self.queue.lock().unwrap();
        if queue.failed {
            return Err(());
        }
        if queue.draining {
            queue.bytes.extend_from_slice(frame);
            return Ok(());
        }
        match self.half.try_write(frame) {
            Ok(n) if n == frame.len() => return Ok(()),
            Ok(n) => queue.bytes.extend_from_slice(&frame[n..]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                queue.bytes.extend_from_slice(frame)
            }
            Err(_) => {
                queue.failed = true;
                return Err(());
            }
        }
        queue.draining = true;
        drop(queue);
        self.wake.notify_one();
        Ok(())
    }

    /// The writer task: drains the queue whenever woken, until the connection closes or a
    /// write fails. Returning drops its handle on the write half; the last handle's drop sends
    /// FIN.
    async fn drain(self: Arc<Self>, conn: Arc<Shared>) {
        let closed = &conn.closed;
        loop {
            self.wake.notified().await;
            loop {
                if closed.load(Ordering::Acquire) {
                    return;
                }
                // A peer that stops reading must not keep this task (and the socket) alive
                // after the connection is closed: a close wakes this wait too.
                let ready = tokio::select! {
                    r = self.half.writable() => r,
                    _ = self.wake.notified() => continue,
                };
                let mut queue = self.queue.lock().unwrap();
                if ready.is_err() {
                    queue.failed = true;
                }
                if queue.failed {
                    break;
                }
                if queue.bytes.is_empty() {
                    queue.draining = false;
                    if queue.bytes.capacity() > QUEUE_KEEP_CAPACITY {
                        queue.bytes = BytesMut::new();
                    }
                    break;
                }
                match self.half.try_write(&queue.bytes) {
                    Ok(n) => queue.bytes.advance(n),
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                    Err(_) => queue.failed = true,
                }
            }
            if self.queue.lock().unwrap().failed {
                // Ends the reader as well, which completes every pending request at once.
                conn.shut();
                return;
            }
        }
    }
}

/// What the connection's handle and its reader and writer tasks share.
struct Shared {
    addr: String,
    writer: Arc<FrameWriter>,
    read_half: OwnedReadHalf,
    handler: Option<Arc<dyn RequestHandler>>,
    pending: Pending,
    closed: AtomicBool,
    /// Wakes the reader task so the socket closes when the last handle is dropped.
    close: Notify,
    /// When the connection was made; `last_read_ms` counts from here.
    born: Instant,
    /// 1 + milliseconds after `born` when a frame was last decoded; 0: never.
    last_read_ms: AtomicU64,
}

/// Whether the socket is still worth reading after [`Shared::read_available`].
#[derive(PartialEq, Eq)]
enum ReadState {
    Open,
    Ended,
}

impl Shared {
    /// Reads what the socket has now (never waits) and hands out every complete frame:
    /// responses to their waiters, requests to the handler.
    fn read_available(&self, buf: &mut BytesMut) -> ReadState {
        loop {
            if buf.capacity() - buf.len() < 16 * 1024 {
                buf.reserve(64 * 1024);
            }
            match self.read_half.try_read_buf(buf) {
                Ok(0) => return ReadState::Ended,
                Ok(_) => {
                    if self.dispatch_frames(buf) == ReadState::Ended {
                        return ReadState::Ended;
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return ReadState::Open,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => return ReadState::Ended,
            }
        }
    }

    fn dispatch_frames(&self, buf: &mut BytesMut) -> ReadState {
        loop {
            match frame::decode(buf) {
                Ok(Some(cmd)) => {
                    self.last_read_ms.store(
                        self.born.elapsed().as_millis() as u64 + 1,
                        Ordering::Release,
                    );
                    if cmd.is_response() {
                        let waiter = self.pending.lock().unwrap().remove(&cmd.opaque);
                        if let Some(w) = waiter {
                            let _ = w.send(cmd);
                        }
                    } else if let Some(h) = &self.handler {
                        let oneway = cmd.is_oneway();
                        let opaque = cmd.opaque;
                        if let Some(mut resp) = h.handle(&self.addr, cmd) {
                            if !oneway {
                                resp.opaque = opaque;
                                resp.set_response(true);
                                let _ = self.writer.write(&resp.to_frame());
                            }
                        }
                    }
                }
                Ok(None) => return ReadState::Open,
                Err(e) => {
                    tracing::warn!(target: LOG, addr = %self.addr, error = %e, "bad frame; closing connection");
                    return ReadState::Ended;
                }
            }
        }
    }

    /// Marks the connection closed and wakes both tasks; pending requests fail at once.
    fn shut(&self) {
        self.closed.store(true, Ordering::Release);
        self.close.notify_one();
        self.writer.wake.notify_one();
        // Dropping the senders wakes every waiter with ConnectionClosed.
        self.pending.lock().unwrap().clear();
    }

    /// The reader task: check-then-parse frames whenever the socket is readable, until the
    /// connection ends.
    async fn read_loop(self: Arc<Self>) {
        let mut buf = BytesMut::with_capacity(64 * 1024);
        while self.read_available(&mut buf) == ReadState::Open
            && !self.closed.load(Ordering::Acquire)
        {
            tokio::select! {
                r = self.read_half.readable() => if r.is_err() { break },
                _ = self.close.notified() => break,
            }
        }
        self.shut();
    }
}

/// One multiplexed connection.
pub struct Connection {
    shared: Arc<Shared>,
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.close();
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
        let (read_half, write_half) = stream.into_split();
        let writer = Arc::new(FrameWriter {
            half: write_half,
            queue: Mutex::new(WriteQueue {
                bytes: BytesMut::with_capacity(64 * 1024),
                ..WriteQueue::default()
            }),
            wake: Notify::new(),
        });
        let shared = Arc::new(Shared {
            addr: addr.to_string(),
            writer: writer.clone(),
            read_half,
            handler,
            pending: Mutex::new(HashMap::new()),
            closed: AtomicBool::new(false),
            close: Notify::new(),
            born: Instant::now(),
            last_read_ms: AtomicU64::new(0),
        });
        tokio::spawn(writer.drain(shared.clone()));
        tokio::spawn(shared.clone().read_loop());
        Ok(Arc::new(Connection { shared }))
    }

    pub fn addr(&self) -> &str {
        &self.shared.addr
    }

    pub fn is_closed(&self) -> bool {
        self.shared.closed.load(Ordering::Acquire)
    }

    /// Closes the connection: pending requests fail with `ConnectionClosed` at once.
    pub fn close(&self) {
        self.shared.closed.store(true, Ordering::Release);
        self.shared.close.notify_one();
        self.shared.writer.wake.notify_one();
    }

    fn closed_error(&self) -> ClientError {
        ClientError::ConnectionClosed {
            addr: self.shared.addr.clone(),
        }
    }

    fn timeout_error(&self, timeout: Duration) -> ClientError {
        ClientError::Timeout {
            addr: self.shared.addr.clone(),
            millis: timeout.as_millis() as u64,
        }
    }

    /// Writes one frame; on failure the connection is closed and the error names it.
    fn write_frame(&self, frame: &[u8]) -> Result<()> {
        if self.is_closed() || self.shared.writer.write(frame).is_err() {
            self.close();
            return Err(self.closed_error());
        }
        Ok(())
    }

    /// Milliseconds since the connection was made (the clock of [`Self::read_since`]).
    fn now_ms(&self) -> u64 {
        self.shared.born.elapsed().as_millis() as u64
    }

    /// Whether a frame was read at or after `ms` (see [`Self::now_ms`]).
    fn read_since(&self, ms: u64) -> bool {
        self.shared.last_read_ms.load(Ordering::Acquire) > ms
    }

    /// Sends `request` and waits for its response up to `timeout`.
    pub async fn invoke(
        &self,
        mut request: RemotingCommand,
        timeout: Duration,
    ) -> Result<RemotingCommand> {
        let deadline = Instant::now() + timeout;
        let opaque = next_opaque();
        request.opaque = opaque;
        request.set_oneway(false);
        let (tx, rx) = oneshot::channel();
        // Registered before the write: the answer can arrive before `write_frame` returns.
        self.shared.pending.lock().unwrap().insert(opaque, tx);
        if let Err(e) = self.write_frame(&request.to_frame()) {
            self.shared.pending.lock().unwrap().remove(&opaque);
            return Err(e);
        }
        match tokio::time::timeout_at(deadline.into(), rx).await {
            Ok(Ok(resp)) => Ok(resp),
            Ok(Err(_)) => Err(self.closed_error()),
            Err(_) => {
                self.shared.pending.lock().unwrap().remove(&opaque);
                Err(self.timeout_error(timeout))
            }
        }
    }

    /// Sends `request` with the oneway bit set; no response is expected.
    pub fn invoke_oneway(&self, mut request: RemotingCommand) -> Result<()> {
        request.opaque = next_opaque();
        request.set_oneway(true);
        self.write_frame(&request.to_frame())
    }
}

type ConnectGate = Arc<tokio::sync::Mutex<Option<(Instant, String)>>>;

/// Connections by address, replaced when closed.
pub struct ConnectionPool {
    conns: Mutex<HashMap<String, Arc<Connection>>>,
    /// One connect at a time per address (an async lock, held across the connect), with the
    /// time and cause of the last failed connect.
    connecting: Mutex<HashMap<String, ConnectGate>>,
    /// For requests from threads that block on their answer (see [`crate::blocking`]).
    blocking: BlockingConnections,
    connect_timeout: Duration,
    handler: Option<Arc<dyn RequestHandler>>,
    credentials: Option<SessionCredentials>,
}

impl ConnectionPool {
    pub fn new(connect_timeout: Duration, handler: Option<Arc<dyn RequestHandler>>) -> Self {
        ConnectionPool {
            conns: Mutex::new(HashMap::new()),
            connecting: Mutex::new(HashMap::new()),
            blocking: BlockingConnections::new(connect_timeout),
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

    /// The live connection to `addr`, connecting if there is none. Concurrent callers wait
    /// for one connect instead of each opening a connection of their own; those that waited
    /// for a connect that failed get its error at once rather than trying again in turn.
    pub async fn get(&self, addr: &str) -> Result<Arc<Connection>> {
        if let Some(c) = self.live(addr) {
            return Ok(c);
        }
        let gate = self
            .connecting
            .lock()
            .unwrap()
            .entry(addr.to_string())
            .or_default()
            .clone();
        let asked = Instant::now();
        let mut last_failure = gate.lock().await;
        if let Some(c) = self.live(addr) {
            return Ok(c);
        }
        if let Some((at, cause)) = &*last_failure {
            if *at >= asked {
                return Err(ClientError::Connect {
                    addr: addr.to_string(),
                    cause: cause.clone(),
                });
            }
        }
        match Connection::connect(addr, self.connect_timeout, self.handler.clone()).await {
            Ok(fresh) => {
                *last_failure = None;
                self.conns
                    .lock()
                    .unwrap()
                    .insert(addr.to_string(), fresh.clone());
                Ok(fresh)
            }
            Err(e) => {
                let cause = match &e {
                    ClientError::Connect { cause, .. } => cause.clone(),
                    other => other.to_string(),
                };
                *last_failure = Some((Instant::now(), cause));
                Err(e)
            }
        }
    }

    fn live(&self, addr: &str) -> Option<Arc<Connection>> {
        self.conns
            .lock()
            .unwrap()
            .get(addr)
            .filter(|c| !c.is_closed())
            .cloned()
    }

    /// Sends and waits; a transport failure drops the connection so the next call reconnects.
    /// Inside [`crate::blocking::with_blocking_requests`], sends, pulls, offsets and routes
    /// wait on a blocking connection of the calling thread's own.
    pub async fn invoke(
        &self,
        addr: &str,
        mut request: RemotingCommand,
        timeout: Duration,
    ) -> Result<RemotingCommand> {
        self.sign(&mut request);
        if takes_blocking_path(request.code) && blocking_allowed() {
            request.opaque = next_opaque();
            request.set_oneway(false);
            if let Some(result) = self.blocking.invoke(addr, &request, timeout) {
                return result;
            }
        }
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

    /// Closes every connection, the blocking ones in use too (their tasks end when the
    /// sockets close; a request waiting on one ends at once).
    pub fn clear(&self) {
        self.conns.lock().unwrap().clear();
        self.blocking.close();
    }
}
