//! Blocking connections for requests made by a thread that waits for the answer anyway.
//!
//! A synchronous call from Python runs in `Runtime::block_on` on the caller's thread. Through a
//! multiplexed [`Connection`](crate::remoting::Connection) its answer takes two wake-ups on
//! the way back: the kernel wakes the runtime worker that polls the socket, and the reader task
//! then wakes the parked caller. On a small VM each cross-CPU wake-up costs tens of
//! microseconds, as much as the broker's work. Here the caller writes the request and reads the
//! answer itself on a plain socket, so the kernel wakes it directly.
//!
//! Only calls inside [`with_blocking_requests`] take this path (the Python bindings wrap their
//! synchronous calls in it); tasks never do, since blocking a runtime worker would stall every
//! other task on it. A blocking connection carries one request at a time and goes back to an
//! idle list after a complete answer; any failure (timeout, end of stream, a frame out of
//! step) drops it, so a connection in an unknown state is never reused. An idle connection
//! the peer closed meanwhile is noticed before use (it polls readable) and replaced. At most
//! [`MAX_OPEN_PER_ADDR`] exist per address, idle or busy: a thread that finds them all busy
//! uses the multiplexed connection, so a hundred sending threads cost the broker a bounded
//! number of connections and nobody connects and closes per request.
//!
//! What must stay true: only the request codes of [`takes_blocking_path`] go this way. Servers
//! tie a client to the connection it sends heartbeats on (they address check-backs and
//! rebalance notices to it, and a closed one unregisters the client), so heartbeats,
//! unregistering and everything else stay on the multiplexed connection, and no
//! server-initiated request ever arrives here. A stray frame that is not the awaited answer
//! is skipped, never handed to a caller.

use crate::error::{ClientError, Result};
use crate::socket_io::{read_into_spare, readable_now};
use bytes::BytesMut;
use rocketmq_protocol::code::request_code;
use rocketmq_protocol::frame;
use rocketmq_protocol::RemotingCommand;
use std::cell::Cell;
use std::collections::HashMap;
use std::io::Write;
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const LOG: &str = "rocketmq.client.remoting";

/// Blocking connections per address, idle or busy; callers beyond use the multiplexed one.
pub(crate) const MAX_OPEN_PER_ADDR: usize = 16;

thread_local! {
    static BLOCKING_ALLOWED: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` with requests allowed to block this thread on a socket of their own (see the
/// module header). For a thread that only waits in `Runtime::block_on` for the duration.
pub fn with_blocking_requests<R>(f: impl FnOnce() -> R) -> R {
    struct Reset(bool);
    impl Drop for Reset {
        fn drop(&mut self) {
            BLOCKING_ALLOWED.with(|b| b.set(self.0));
        }
    }
    let _reset = Reset(BLOCKING_ALLOWED.with(|b| b.replace(true)));
    f()
}

/// Whether the current call may block its thread: inside [`with_blocking_requests`], not in
/// a runtime task, and not in `block_on` of a current-thread runtime (whose tasks only run
/// while that very thread polls them).
pub(crate) fn blocking_allowed() -> bool {
    BLOCKING_ALLOWED.with(|b| b.get())
        && tokio::task::try_id().is_none()
        && tokio::runtime::Handle::try_current()
            .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread)
}

/// Requests whose meaning does not depend on the connection they come on: sends, pulls,
/// offsets, routes, and the stateless POP consumption (pop, ack, batch ack, invisible-time
/// change: the broker ties none of them to a connection).
pub(crate) fn takes_blocking_path(code: i32) -> bool {
    matches!(
        code,
        request_code::SEND_MESSAGE
            | request_code::SEND_MESSAGE_V2
            | request_code::SEND_BATCH_MESSAGE
            | request_code::PULL_MESSAGE
            | request_code::QUERY_CONSUMER_OFFSET
            | request_code::UPDATE_CONSUMER_OFFSET
            | request_code::SEARCH_OFFSET_BY_TIMESTAMP
            | request_code::GET_MAX_OFFSET
            | request_code::GET_MIN_OFFSET
            | request_code::GET_ROUTEINFO_BY_TOPIC
            | request_code::CONSUMER_SEND_MSG_BACK
            | request_code::POP_MESSAGE
            | request_code::ACK_MESSAGE
            | request_code::BATCH_ACK_MESSAGE
            | request_code::CHANGE_MESSAGE_INVISIBLETIME
    )
}

/// A handle on every open blocking connection's socket, by connection id: what
/// [`BlockingConnections::close`] shuts down, busy connections included.
type Live = Arc<Mutex<HashMap<u64, TcpStream>>>;

struct BlockingConnection {
    stream: TcpStream,
    buf: BytesMut,
    /// The open-connection count of its address, decremented when this connection closes.
    open: Arc<AtomicUsize>,
    /// Its entry in `live` (removed when this connection closes).
    id: u64,
    live: Live,
}

impl Drop for BlockingConnection {
    fn drop(&mut self) {
        self.open.fetch_sub(1, Ordering::AcqRel);
        self.live.lock().unwrap().remove(&self.id);
    }
}

#[derive(Default)]
struct AddrConnections {
    idle: Vec<BlockingConnection>,
    /// Idle and busy connections of this address.
    open: Arc<AtomicUsize>,
}

/// Blocking connections by address.
pub(crate) struct BlockingConnections {
    by_addr: Mutex<HashMap<String, AddrConnections>>,
    connect_timeout: Duration,
    live: Live,
    next_id: AtomicU64,
    /// Set by [`BlockingConnections::close`]: no connection is handed out any more.
    closed: AtomicBool,
}

/// What [`BlockingConnections::checkout`] found.
enum Checkout {
    Connection(BlockingConnection),
    /// Every connection allowed for the address is busy.
    AllBusy,
}

impl BlockingConnections {
    pub(crate) fn new(connect_timeout: Duration) -> Self {
        BlockingConnections {
            by_addr: Mutex::new(HashMap::new()),
            connect_timeout,
            live: Live::default(),
            next_id: AtomicU64::new(0),
            closed: AtomicBool::new(false),
        }
    }

    /// Sends `request` (opaque already set) and waits for its answer up to `timeout`. `None`
    /// when every blocking connection to `addr` is busy: send it on the multiplexed one.
    pub(crate) fn invoke(
        &self,
        addr: &str,
        request: &RemotingCommand,
        timeout: Duration,
    ) -> Option<Result<RemotingCommand>> {
        match self.checkout(addr) {
            Ok(Checkout::Connection(conn)) => Some(self.exchange(addr, conn, request, timeout)),
            Ok(Checkout::AllBusy) => None,
            Err(e) => Some(Err(e)),
        }
    }

    fn exchange(
        &self,
        addr: &str,
        mut conn: BlockingConnection,
        request: &RemotingCommand,
        timeout: Duration,
    ) -> Result<RemotingCommand> {
        let deadline = Instant::now() + timeout;
        let closed = || ClientError::ConnectionClosed {
            addr: addr.to_string(),
        };
        let timed_out = || ClientError::Timeout {
            addr: addr.to_string(),
            millis: timeout.as_millis() as u64,
        };
        let frame = request.to_frame();
        conn.stream
            .set_write_timeout(Some(remaining(deadline).ok_or_else(timed_out)?))
            .map_err(|_| closed())?;
        if let Err(e) = conn.stream.write_all(&frame) {
            return Err(if is_timeout(&e) {
                timed_out()
            } else {
                closed()
            });
        }
        loop {
            match frame::decode(&mut conn.buf) {
                Ok(Some(cmd)) if cmd.is_response() && cmd.opaque == request.opaque => {
                    self.checkin(addr, conn);
                    return Ok(cmd);
                }
                Ok(Some(cmd)) => {
                    tracing::debug!(target: LOG, addr, code = cmd.code, opaque = cmd.opaque, "skipping a frame that is not the awaited answer");
                    continue;
                }
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(target: LOG, addr, error = %e, "bad frame; closing connection");
                    return Err(closed());
                }
            }
            let wait = remaining(deadline).ok_or_else(timed_out)?;
            conn.stream
                .set_read_timeout(Some(wait))
                .map_err(|_| closed())?;
            if conn.buf.capacity() - conn.buf.len() < 16 * 1024 {
                conn.buf.reserve(64 * 1024);
            }
            match read_into_spare(&conn.stream, &mut conn.buf) {
                Ok(0) => return Err(closed()),
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) if is_timeout(&e) => return Err(timed_out()),
                Err(_) => return Err(closed()),
            }
        }
    }

    /// An idle connection to `addr` still open, or a new one if fewer than
    /// [`MAX_OPEN_PER_ADDR`] exist.
    fn checkout(&self, addr: &str) -> Result<Checkout> {
        if self.closed.load(Ordering::Acquire) {
            return Ok(Checkout::AllBusy);
        }
        let open = {
            let mut by_addr = self.by_addr.lock().unwrap();
            if !by_addr.contains_key(addr) {
                by_addr.insert(addr.to_string(), AddrConnections::default());
            }
            let entry = by_addr.get_mut(addr).expect("inserted above");
            loop {
                match entry.idle.pop() {
                    Some(c) if !readable_now(&c.stream) => return Ok(Checkout::Connection(c)),
                    // Readable while idle: the peer closed it (or sent something unasked).
                    Some(_) => continue,
                    None => break,
                }
            }
            if entry.open.load(Ordering::Acquire) >= MAX_OPEN_PER_ADDR {
                return Ok(Checkout::AllBusy);
            }
            // Counted before connecting (under the lock), so concurrent callers cannot
            // overshoot; a failed connect gives the slot back when `slot` drops.
            entry.open.fetch_add(1, Ordering::AcqRel);
            entry.open.clone()
        };
        let slot = OpenSlot(Some(open));
        let connect_error = |cause: String| ClientError::Connect {
            addr: addr.to_string(),
            cause,
        };
        let addrs = addr
            .to_socket_addrs()
            .map_err(|e| connect_error(e.to_string()))?;
        let mut last = connect_error("the address resolved to nothing".to_string());
        for sa in addrs {
            match TcpStream::connect_timeout(&sa, self.connect_timeout) {
                Ok(stream) => {
                    let _ = stream.set_nodelay(true);
                    let id = self.next_id.fetch_add(1, Ordering::Relaxed);
                    if let Ok(handle) = stream.try_clone() {
                        self.live.lock().unwrap().insert(id, handle);
                    }
                    return Ok(Checkout::Connection(BlockingConnection {
                        stream,
                        buf: BytesMut::with_capacity(16 * 1024),
                        open: slot.into_counter(),
                        id,
                        live: self.live.clone(),
                    }));
                }
                Err(e) => last = connect_error(e.to_string()),
            }
        }
        Err(last)
    }

    fn checkin(&self, addr: &str, conn: BlockingConnection) {
        if !conn.buf.is_empty() {
            return; // bytes beyond the answer: out of step, not reusable
        }
        // The entry exists: `checkout` made it, and `clear` keeps entries.
        if let Some(entry) = self.by_addr.lock().unwrap().get_mut(addr) {
            entry.idle.push(conn);
        }
    }

    /// Closes every connection for good, busy ones too: a request waiting on one (a long
    /// poll) ends at once with the connection closed. Later requests take the multiplexed
    /// path.
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::Release);
        for entry in self.by_addr.lock().unwrap().values_mut() {
            entry.idle.clear();
        }
        for stream in self.live.lock().unwrap().values() {
            let _ = stream.shutdown(std::net::Shutdown::Both);
        }
    }
}

/// A counted slot for a connection being made: given back on drop unless the connection took
/// it over.
struct OpenSlot(Option<Arc<AtomicUsize>>);

impl OpenSlot {
    fn into_counter(mut self) -> Arc<AtomicUsize> {
        self.0.take().expect("a slot is taken over once")
    }
}

impl Drop for OpenSlot {
    fn drop(&mut self) {
        if let Some(open) = &self.0 {
            open.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

fn remaining(deadline: Instant) -> Option<Duration> {
    let left = deadline.saturating_duration_since(Instant::now());
    (!left.is_zero()).then_some(left)
}

fn is_timeout(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn multi_thread() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .build()
            .unwrap()
    }

    #[test]
    fn blocking_is_allowed_only_inside_the_scope_and_restored_after() {
        let rt = multi_thread();
        let allowed = || rt.block_on(async { blocking_allowed() });
        assert!(!allowed());
        with_blocking_requests(|| {
            assert!(allowed());
            with_blocking_requests(|| assert!(allowed()));
            assert!(allowed());
        });
        assert!(!allowed());
        let caught = std::panic::catch_unwind(|| with_blocking_requests(|| panic!("boom")));
        assert!(caught.is_err());
        assert!(!allowed());
    }

    #[test]
    fn connection_bound_requests_stay_on_the_multiplexed_connection() {
        assert!(takes_blocking_path(request_code::SEND_MESSAGE_V2));
        assert!(takes_blocking_path(request_code::PULL_MESSAGE));
        for code in [
            request_code::HEART_BEAT,
            request_code::UNREGISTER_CLIENT,
            request_code::END_TRANSACTION,
            request_code::LOCK_BATCH_MQ,
            request_code::UNLOCK_BATCH_MQ,
            request_code::GET_CONSUMER_LIST_BY_GROUP,
        ] {
            assert!(!takes_blocking_path(code), "{code}");
        }
    }

    #[test]
    fn tasks_and_current_thread_runtimes_never_block_even_inside_the_scope() {
        let current = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        with_blocking_requests(|| {
            // Outside any runtime: nothing to block in.
            assert!(!blocking_allowed());
            assert!(!current.block_on(async { blocking_allowed() }));
            // A current-thread runtime runs its tasks on this very thread, flag set.
            let in_task = current
                .block_on(async { tokio::spawn(async { blocking_allowed() }).await.unwrap() });
            assert!(!in_task);
            let rt = multi_thread();
            let in_worker =
                rt.block_on(async { tokio::spawn(async { blocking_allowed() }).await.unwrap() });
            assert!(!in_worker);
        });
    }
}
