//! Accept loop and per-connection reader/writer tasks.
//!
//! Per connection: the reader decodes frames (check, then parse) and spawns one task per
//! request; the writer owns the write half and drains a channel of outgoing commands
//! (responses and server-initiated requests such as NOTIFY_CONSUMER_IDS_CHANGED). Either task
//! closing marks the connection closed (a `watch` flag both select on), after which the
//! processor's [`RequestProcessor::connection_closed`] runs exactly once.
//!
//! A peer that half-closes (sends FIN) after pipelining requests still gets the answers to
//! what it sent: the connection stays open for writing until the answers in progress are
//! queued (bounded by `EOF_ANSWER_GRACE`), and the writer drains its queue before it shuts
//! the socket down.

use bytes::BytesMut;
use rocketmq_protocol::code::response_code;
use rocketmq_protocol::{RemotingCommand, SerializeType, FLAG_ONEWAY};
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicI32, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};

/// A boxed future, as returned by request processors.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// Outgoing commands waiting for the writer, per connection. A full queue makes request
/// handlers wait (back-pressure) and server-initiated notifications get dropped.
const OUTBOUND_QUEUE: usize = 4096;
/// Bodies at least this large are written from their own buffer instead of being copied.
const LARGE_BODY: usize = 64 * 1024;

/// How long a connection whose peer stopped sending keeps answering requests in progress.
/// Long enough for sync-flush waits (milliseconds); held pulls are not worth waiting for.
const EOF_ANSWER_GRACE: std::time::Duration = std::time::Duration::from_secs(1);

static NEXT_CONNECTION_ID: AtomicU64 = AtomicU64::new(1);
/// Opaque counter for requests the server originates (NOTIFY_CONSUMER_IDS_CHANGED, ...).
static NEXT_SERVER_OPAQUE: AtomicI32 = AtomicI32::new(1);

/// Handles requests of one server (name server or broker).
pub trait RequestProcessor: Send + Sync + 'static {
    /// Processes one request. Called in the connection's reader, in arrival order: work done
    /// before returning the future is ordered per connection; the future runs concurrently.
    /// The response (if any) is sent back with the request's opaque unless the request is
    /// one-way. `None` means "write nothing".
    fn process(
        self: Arc<Self>,
        conn: ConnectionHandle,
        request: RemotingCommand,
    ) -> BoxFuture<Option<RemotingCommand>>;

    /// Called once after the connection closed (either side).
    fn connection_closed(&self, _conn: &ConnectionHandle) {}
}

struct ConnectionInner {
    id: u64,
    peer: SocketAddr,
    tx: mpsc::Sender<RemotingCommand>,
    closed: watch::Sender<bool>,
    /// Requests whose answer is being produced in a task of its own.
    answering: AtomicUsize,
    answered: tokio::sync::Notify,
}

/// A cheap clonable reference to one client connection: lets handlers push requests to the
/// client later (NOTIFY_CONSUMER_IDS_CHANGED) and tell whether it is still open.
#[derive(Clone)]
pub struct ConnectionHandle {
    inner: Arc<ConnectionInner>,
}

impl std::fmt::Debug for ConnectionHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectionHandle")
            .field("id", &self.inner.id)
            .field("peer", &self.inner.peer)
            .finish()
    }
}

impl ConnectionHandle {
    /// A handle not backed by a socket: commands sent to it arrive on the returned receiver.
    /// For tests of code that keeps handles, and for clients of another front end (a gRPC
    /// client is registered with one, and its receiver turns server pushes into that
    /// protocol's commands).
    pub fn detached(peer: SocketAddr) -> (ConnectionHandle, mpsc::Receiver<RemotingCommand>) {
        let (tx, rx) = mpsc::channel(OUTBOUND_QUEUE);
        let (closed, _) = watch::channel(false);
        let handle = ConnectionHandle {
            inner: Arc::new(ConnectionInner {
                id: NEXT_CONNECTION_ID.fetch_add(1, Ordering::Relaxed),
                peer,
                tx,
                closed,
                answering: AtomicUsize::new(0),
                answered: tokio::sync::Notify::new(),
            }),
        };
        (handle, rx)
    }

    pub fn id(&self) -> u64 {
        self.inner.id
    }

    pub fn peer(&self) -> SocketAddr {
        self.inner.peer
    }

    pub fn is_closed(&self) -> bool {
        *self.inner.closed.borrow()
    }

    /// Resolves once the connection is closed.
    pub async fn closed(&self) {
        let mut rx = self.inner.closed.subscribe();
        crate::util::until_true(&mut rx).await;
    }

    /// Closes the connection (both tasks stop; the socket is dropped).
    pub fn close(&self) {
        self.inner.closed.send_replace(true);
    }

    /// Queues a command, waiting for room. False when the connection is gone.
    pub async fn send(&self, cmd: RemotingCommand) -> bool {
        !self.is_closed() && self.inner.tx.send(cmd).await.is_ok()
    }

    /// Queues a one-way request the server originates, with a fresh server opaque. Never
    /// waits: dropped (false) when the queue is full or the connection gone.
    pub fn send_oneway_request(&self, mut cmd: RemotingCommand) -> bool {
        cmd.opaque = NEXT_SERVER_OPAQUE.fetch_add(1, Ordering::Relaxed) & i32::MAX;
        cmd.flag = FLAG_ONEWAY;
        cmd.serialize_type = SerializeType::Json;
        !self.is_closed() && self.inner.tx.try_send(cmd).is_ok()
    }
}

/// Runs the accept loop until `shutdown` becomes true; connections are closed then too.
pub async fn serve<P: RequestProcessor>(
    listener: TcpListener,
    processor: Arc<P>,
    mut shutdown: watch::Receiver<bool>,
) {
    let for_connections = shutdown.clone();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    tokio::spawn(run_connection(stream, peer, processor.clone(), for_connections.clone()));
                }
                Err(e) => {
                    // EMFILE and friends: back off a little instead of spinning.
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            },
            _ = crate::util::until_true(&mut shutdown) => break,
        }
    }
}

async fn run_connection<P: RequestProcessor>(
    stream: TcpStream,
    peer: SocketAddr,
    processor: Arc<P>,
    shutdown: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    let (read_half, write_half) = stream.into_split();
    let (tx, rx) = mpsc::channel(OUTBOUND_QUEUE);
    let (closed, _) = watch::channel(false);
    let handle = ConnectionHandle {
        inner: Arc::new(ConnectionInner {
            id: NEXT_CONNECTION_ID.fetch_add(1, Ordering::Relaxed),
            peer,
            tx,
            closed,
            answering: AtomicUsize::new(0),
            answered: tokio::sync::Notify::new(),
        }),
    };
    tracing::debug!(conn = handle.id(), %peer, "connection opened");
    let writer = tokio::spawn(write_loop(write_half, rx, handle.clone()));
    let peer_finished = read_loop(read_half, handle.clone(), processor.clone(), shutdown).await;
    if peer_finished {
        let answers_queued = async {
            while handle.inner.answering.load(Ordering::Acquire) > 0 {
                let answered = handle.inner.answered.notified();
                if handle.inner.answering.load(Ordering::Acquire) == 0 {
                    break;
                }
                answered.await;
            }
        };
        let _ = tokio::time::timeout(EOF_ANSWER_GRACE, answers_queued).await;
    }
    handle.close();
    let _ = writer.await;
    processor.connection_closed(&handle);
    tracing::debug!(conn = handle.id(), %peer, "connection closed");
}

/// Reads and dispatches requests until the connection ends. True when the peer finished
/// sending (end of stream) rather than an error, a bad frame or a shutdown.
async fn read_loop<P: RequestProcessor>(
    mut reader: tokio::net::tcp::OwnedReadHalf,
    handle: ConnectionHandle,
    processor: Arc<P>,
    mut shutdown: watch::Receiver<bool>,
) -> bool {
    let mut closed = handle.inner.closed.subscribe();
    let mut buf = BytesMut::with_capacity(64 * 1024);
    loop {
        // Drain every complete frame already buffered before reading more.
        let mut dispatched = false;
        loop {
            match rocketmq_protocol::frame::decode(&mut buf) {
                Ok(Some(cmd)) => {
                    dispatched = true;
                    dispatch(cmd, &handle, &processor)
                }
                Ok(None) => break,
                Err(e) => {
                    tracing::warn!(
                        conn = handle.id(),
                        peer = %handle.peer(),
                        "closing connection after a bad frame: {e}"
                    );
                    return false;
                }
            }
        }
        if dispatched {
            // Let the writer put the answers just queued on the wire before this task spends
            // a read (usually one that finds nothing) on the next request: the writer was
            // woken on this worker and runs first, so the answer leaves a syscall earlier.
            tokio::task::yield_now().await;
        }
        // Room for the rest of the frame in progress, so a large frame arrives in a few big
        // reads rather than many small ones. Only once 8 bytes are in: by then `decode` has
        // validated the length words (and refused anything over the maximum).
        let want = match buf.get(..8) {
            Some(p) => (u32::from_be_bytes([p[0], p[1], p[2], p[3]]) as usize)
                .saturating_add(4)
                .min(rocketmq_protocol::frame::MAX_FRAME_LEN),
            None => 0,
        };
        buf.reserve(want.saturating_sub(buf.len()).max(16 * 1024));
        tokio::select! {
            n = reader.read_buf(&mut buf) => match n {
                Ok(0) => return true,
                Ok(_) => {}
                Err(e) => {
                    tracing::debug!(conn = handle.id(), "read error: {e}");
                    return false;
                }
            },
            _ = crate::util::until_true(&mut closed) => return false,
            _ = crate::util::until_true(&mut shutdown) => return false,
        }
    }
}

fn dispatch<P: RequestProcessor>(
    cmd: RemotingCommand,
    handle: &ConnectionHandle,
    processor: &Arc<P>,
) {
    if cmd.is_response() {
        // Answers to our one-way notifications; nothing waits for them.
        tracing::trace!(
            conn = handle.id(),
            code = cmd.code,
            "ignoring response from client"
        );
        return;
    }
    let handle = handle.clone();
    let oneway = cmd.is_oneway();
    let opaque = cmd.opaque;
    let code = cmd.code;
    let finish = move |response: Option<RemotingCommand>| {
        let mut response = response.filter(|_| !oneway)?;
        response.opaque = opaque;
        response.set_response(true);
        response.set_oneway(false);
        response.serialize_type = SerializeType::Json;
        Some(response)
    };
    // `process` runs its synchronous part here, in arrival order. Most requests complete on
    // the first poll and are answered without a task; the others (held pulls, sync-flush
    // waits, delayed error answers) continue in their own task.
    let mut pending = processor.clone().process(handle.clone(), cmd);
    let mut cx = Context::from_waker(Waker::noop());
    let late_answer = match pending.as_mut().poll(&mut cx) {
        Poll::Ready(response) => match finish(response) {
            None => return,
            Some(response) => match handle.inner.tx.try_send(response) {
                Ok(()) => return,
                Err(mpsc::error::TrySendError::Closed(_)) => return,
                // The writer is behind: wait for room without blocking the reader.
                Err(mpsc::error::TrySendError::Full(response)) => {
                    Box::pin(async move { Some(response) }) as BoxFuture<Option<RemotingCommand>>
                }
            },
        },
        Poll::Pending => Box::pin(async move { finish(pending.await) }),
    };
    handle.inner.answering.fetch_add(1, Ordering::AcqRel);
    tokio::spawn(async move {
        if let Some(response) = late_answer.await {
            if !handle.send(response).await {
                tracing::debug!(
                    conn = handle.id(),
                    code,
                    "connection gone before the answer"
                );
            }
        }
        handle.inner.answering.fetch_sub(1, Ordering::AcqRel);
        handle.inner.answered.notify_waiters();
    });
}

async fn write_loop(
    mut writer: tokio::net::tcp::OwnedWriteHalf,
    mut rx: mpsc::Receiver<RemotingCommand>,
    handle: ConnectionHandle,
) {
    let mut closed = handle.inner.closed.subscribe();
    let mut buf = BytesMut::with_capacity(64 * 1024);
    loop {
        let first = tokio::select! {
            cmd = rx.recv() => match cmd {
                Some(cmd) => cmd,
                None => break,
            },
            // Closed: what is already queued still goes out (answers to a peer that
            // half-closed), then the socket is shut down.
            _ = crate::util::until_true(&mut closed) => match rx.try_recv() {
                Ok(cmd) => cmd,
                Err(_) => break,
            },
        };
        let mut next = Some(first);
        // Coalesce whatever is already queued into one write.
        while let Some(cmd) = next.take() {
            if cmd.body.len() >= LARGE_BODY {
                cmd.encode_without_body(&mut buf);
                if writer.write_all(&buf).await.is_err()
                    || writer.write_all(&cmd.body).await.is_err()
                {
                    handle.close();
                    return;
                }
                buf.clear();
            } else {
                cmd.encode(&mut buf);
            }
            if buf.len() < LARGE_BODY {
                next = rx.try_recv().ok();
            }
        }
        if !buf.is_empty() {
            if writer.write_all(&buf).await.is_err() {
                handle.close();
                return;
            }
            buf.clear();
        }
    }
    let _ = writer.shutdown().await;
}

/// The answer to a request code nobody handles (Java's wording, with its leading space).
pub fn not_supported(request: &RemotingCommand) -> RemotingCommand {
    RemotingCommand::response_to(request)
        .with_code(response_code::REQUEST_CODE_NOT_SUPPORTED)
        .with_remark(format!(" request type {} not supported", request.code))
}
