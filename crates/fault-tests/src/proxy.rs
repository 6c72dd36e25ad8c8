//! A loopback TCP proxy that delays, stalls (drops traffic), corrupts and cuts connections,
//! or stops listening altogether. It listens on loopback only.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What a [`FaultProxy`] does to traffic right now.
#[derive(Clone, Copy, Debug, Default)]
pub struct Faults {
    /// Each forwarded chunk waits a random time up to this long (order is kept).
    pub max_delay: Duration,
    /// Traffic is held (not forwarded, as if dropped on the wire) until this is cleared.
    pub stall: bool,
    /// Traffic of the connections accepted before the `n`-th one is held (a half-dead
    /// connection: the peer never answers, while new connections work). 0: none.
    pub stall_connections_before: u64,
    /// Chance that a forwarded chunk cuts its connection instead (both sides closed).
    pub cut_chance: f64,
    /// Chance that a chunk going from the server to the client gets one random bit flipped
    /// (tests that the client survives garbage from the network; TCP itself never does this).
    pub corrupt_to_client: f64,
}

struct ProxyShared {
    target: SocketAddr,
    faults: Mutex<Faults>,
    /// Bumped to cut every open connection.
    cut_generation: tokio::sync::watch::Sender<u64>,
    /// Bumped on every faults change, so that stalled pumps re-check.
    faults_changed: tokio::sync::watch::Sender<u64>,
    connections: AtomicU64,
    rng: Mutex<StdRng>,
}

/// A TCP proxy on a loopback address that forwards to `target` and injects [`Faults`].
/// [`FaultProxy::down`] stops listening (connects are refused) and cuts every connection;
/// [`FaultProxy::up`] listens again on the same address.
pub struct FaultProxy {
    addr: SocketAddr,
    shared: Arc<ProxyShared>,
    accept: Mutex<Option<tokio::task::JoinHandle<()>>>,
    listening: AtomicBool,
    runtime: tokio::runtime::Runtime,
}

impl FaultProxy {
    /// Listens on `listen` (port 0 = ephemeral) and forwards to `target`.
    pub fn start(listen: SocketAddr, target: SocketAddr, seed: u64) -> std::io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("fault-proxy")
            .enable_all()
            .build()?;
        let listener = runtime.block_on(tokio::net::TcpListener::bind(listen))?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(ProxyShared {
            target,
            faults: Mutex::new(Faults::default()),
            cut_generation: tokio::sync::watch::channel(0).0,
            faults_changed: tokio::sync::watch::channel(0).0,
            connections: AtomicU64::new(0),
            rng: Mutex::new(StdRng::seed_from_u64(seed)),
        });
        let accept = runtime.spawn(accept_loop(listener, shared.clone()));
        Ok(FaultProxy {
            addr,
            shared,
            accept: Mutex::new(Some(accept)),
            listening: AtomicBool::new(true),
            runtime,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> u64 {
        self.shared.connections.load(Ordering::Relaxed)
    }

    pub fn set_faults(&self, faults: Faults) {
        *self.shared.faults.lock().unwrap() = faults;
        self.shared.faults_changed.send_modify(|g| *g += 1);
    }

    /// Closes every open connection (both sides see the close).
    pub fn cut_all(&self) {
        self.shared.cut_generation.send_modify(|g| *g += 1);
    }

    /// Stops listening and cuts every connection: the target looks down.
    pub fn down(&self) {
        if let Some(task) = self.accept.lock().unwrap().take() {
            task.abort();
            // Wait until the listener is really closed, so that connects are refused.
            let _ = self.runtime.block_on(task);
        }
        self.listening.store(false, Ordering::Release);
        self.cut_all();
    }

    /// Listens again on the same address, with no faults.
    pub fn up(&self) -> std::io::Result<()> {
        self.set_faults(Faults::default());
        if self.listening.load(Ordering::Acquire) {
            return Ok(());
        }
        let listener = self
            .runtime
            .block_on(tokio::net::TcpListener::bind(self.addr))?;
        let task = self
            .runtime
            .spawn(accept_loop(listener, self.shared.clone()));
        *self.accept.lock().unwrap() = Some(task);
        self.listening.store(true, Ordering::Release);
        Ok(())
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.cut_all();
        if let Some(task) = self.accept.lock().unwrap().take() {
            task.abort();
        }
    }
}

async fn accept_loop(listener: tokio::net::TcpListener, shared: Arc<ProxyShared>) {
    loop {
        let Ok((inbound, _)) = listener.accept().await else {
            continue;
        };
        let seq = shared.connections.fetch_add(1, Ordering::Relaxed);
        let shared = shared.clone();
        tokio::spawn(async move {
            let Ok(Ok(outbound)) = tokio::time::timeout(
                Duration::from_secs(2),
                tokio::net::TcpStream::connect(shared.target),
            )
            .await
            else {
                return;
            };
            let _ = inbound.set_nodelay(true);
            let _ = outbound.set_nodelay(true);
            let (in_r, in_w) = inbound.into_split();
            let (out_r, out_w) = outbound.into_split();
            let mut cut = shared.cut_generation.subscribe();
            cut.borrow_and_update();
            let a = tokio::spawn(pump(in_r, out_w, shared.clone(), seq, false));
            let b = tokio::spawn(pump(out_r, in_w, shared.clone(), seq, true));
            let (abort_a, abort_b) = (a.abort_handle(), b.abort_handle());
            tokio::select! {
                _ = cut.changed() => {}
                // Either direction ending (close, error, random cut) ends the connection.
                _ = a => {}
                _ = b => {}
            }
            // Aborting drops both halves of both sockets: each peer sees the close.
            abort_a.abort();
            abort_b.abort();
        });
    }
}

async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    shared: Arc<ProxyShared>,
    seq: u64,
    to_client: bool,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buf = vec![0u8; 64 * 1024];
    let mut changed = shared.faults_changed.subscribe();
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        // Held while stalled: the bytes are neither forwarded nor lost, as on a partitioned
        // link whose retransmissions get through once it heals.
        loop {
            changed.borrow_and_update();
            let faults = *shared.faults.lock().unwrap();
            if !faults.stall && seq >= faults.stall_connections_before {
                break;
            }
            if changed.changed().await.is_err() {
                return;
            }
        }
        let faults = *shared.faults.lock().unwrap();
        let (delay, cut) = {
            let mut rng = shared.rng.lock().unwrap();
            if to_client
                && faults.corrupt_to_client > 0.0
                && rng.random_bool(faults.corrupt_to_client.min(1.0))
            {
                let i = rng.random_range(0..n);
                buf[i] ^= 1 << rng.random_range(0..8);
            }
            let delay = if faults.max_delay.is_zero() {
                Duration::ZERO
            } else {
                faults.max_delay.mul_f64(rng.random::<f64>())
            };
            (
                delay,
                faults.cut_chance > 0.0 && rng.random_bool(faults.cut_chance.min(1.0)),
            )
        };
        if cut {
            return;
        }
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}
