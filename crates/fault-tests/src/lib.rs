//! Shared helpers of the fault tests (the tests are in `tests/`; see README.md).
//!
//! - [`ChildProcess`] / [`BrokerProcess`]: a broker or consumer in a process of its own
//!   (the `fault-broker` / `fault-consumer` binaries of this crate), killed with SIGKILL and
//!   restarted on the same store directory and ports;
//! - [`FaultProxy`]: a loopback TCP proxy that delays, stalls (drops traffic) and cuts
//!   connections, or stops listening altogether;
//! - [`pull_all_verified`]: reads every message of a topic from a broker, checking that each
//!   record decodes and that its body CRC matches;
//! - seeds, round counts and bounded waits.
//!
//! What must stay true: every wait is bounded in time, children die with the test (their
//! stdin is a pipe whose end of file stops them), everything listens on loopback only.

use bytes::Bytes;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rocketmq_client::ClientInstance;
use rocketmq_protocol::code::{request_code, response_code};
use rocketmq_protocol::header::{
    pull_sys_flag, CreateTopicRequestHeader, PullMessageRequestHeader, PullMessageResponseHeader,
};
use rocketmq_protocol::message::{body_crc, view_record};
use rocketmq_protocol::properties::{decode_properties_map, UNIQ_KEY};
use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

/// The seed of a randomized test: `FAULT_TESTS_SEED` if set, else random. Printed so that a
/// failing run can be replayed.
pub fn seed(test: &str) -> u64 {
    let seed = std::env::var("FAULT_TESTS_SEED")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or_else(rand::random::<u64>);
    eprintln!("{test}: seed {seed} (replay with FAULT_TESTS_SEED={seed})");
    seed
}

pub fn rng(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed)
}

/// Rounds of a repeated fault: `FAULT_TESTS_ROUNDS` if set (soak runs), else `default`.
pub fn rounds(default: usize) -> usize {
    std::env::var("FAULT_TESTS_ROUNDS")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .filter(|n: &usize| *n > 0)
        .unwrap_or(default)
}

static BACKGROUND_PANICS: AtomicU64 = AtomicU64::new(0);
static PANIC_HOOK: std::sync::Once = std::sync::Once::new();

/// Counts panics on background threads (tokio workers, client dispatcher threads, the proxy;
/// not the test threads, whose failed assertions are panics too). Installs a hook that keeps
/// the default report; returns the count so far.
pub fn background_panics() -> u64 {
    PANIC_HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let name = std::thread::current().name().unwrap_or("").to_string();
            if name.is_empty()
                || name.starts_with("tokio")
                || name.starts_with("rocketmq")
                || name.starts_with("fault-proxy")
            {
                BACKGROUND_PANICS.fetch_add(1, Ordering::Relaxed);
            }
            previous(info);
        }));
    });
    BACKGROUND_PANICS.load(Ordering::Relaxed)
}

/// Polls `cond` every 10 ms until it holds; panics naming `what` after `limit`.
pub fn wait_until(what: &str, limit: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !cond() {
        assert!(
            Instant::now() < deadline,
            "timed out after {limit:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Raises the soft open-file limit to the hard limit (1000 idle connections need it).
pub fn raise_fd_limit() -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain syscalls on a local struct.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return 0;
        }
        if lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
            libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
        }
    }
    lim.rlim_cur
}

/// A child process whose stdout lines are collected by a reader thread. Its stdin is a pipe:
/// closing it asks the child to stop cleanly; dropping the handle kills it.
pub struct ChildProcess {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Arc<Mutex<Vec<String>>>,
    line_rx: mpsc::Receiver<String>,
    pub log_file: PathBuf,
}

impl ChildProcess {
    /// Starts `program args`; stderr goes to `log_file`.
    pub fn spawn(program: &Path, args: &[String], log_file: &Path) -> std::io::Result<Self> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log_file)?;
        let mut child = Command::new(program)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .spawn()?;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("stdout is piped");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let (tx, line_rx) = mpsc::channel();
        let all = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                all.lock().unwrap().push(line.clone());
                let _ = tx.send(line);
            }
        });
        Ok(ChildProcess {
            child,
            stdin,
            lines,
            line_rx,
            log_file: log_file.to_path_buf(),
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits for the next stdout line starting with one of `prefixes`; `None` after `limit`
    /// or when the child closed stdout.
    pub fn next_line(&self, prefixes: &[&str], limit: Duration) -> Option<String> {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.checked_duration_since(Instant::now())?;
            match self.line_rx.recv_timeout(left) {
                Ok(l) if prefixes.iter().any(|p| l.starts_with(p)) => return Some(l),
                Ok(_) => {}
                Err(_) => return None,
            }
        }
    }

    /// Every stdout line so far.
    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    /// Shared view of the stdout lines (grows while the child runs).
    pub fn lines_handle(&self) -> Arc<Mutex<Vec<String>>> {
        self.lines.clone()
    }

    /// SIGKILL, then reap. The process gets no chance to flush or clean up.
    pub fn kill9(&mut self) {
        // SAFETY: kill(2) on our own child's pid, which is not reaped yet.
        unsafe {
            libc::kill(self.child.id() as libc::pid_t, libc::SIGKILL);
        }
        let _ = self.child.wait();
        self.stdin = None;
    }

    /// Closes stdin (the child shuts down cleanly) and waits up to `limit`, then kills.
    /// Returns whether it exited by itself with success.
    pub fn stop(&mut self, limit: Duration) -> bool {
        self.stdin = None;
        let deadline = Instant::now() + limit;
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => return status.success(),
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(10))
                }
                _ => {
                    self.kill9();
                    return false;
                }
            }
        }
    }

    /// Whether the process is still running.
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// The last `n` bytes of the child's stderr log, for failure messages.
    pub fn log_tail(&self, n: usize) -> String {
        let s = std::fs::read_to_string(&self.log_file).unwrap_or_default();
        s[s.len().saturating_sub(n)..].to_string()
    }
}

impl Drop for ChildProcess {
    fn drop(&mut self) {
        if self.alive() {
            self.kill9();
        }
    }
}

/// How to start a `fault-broker`.
#[derive(Clone, Debug)]
pub struct BrokerOptions {
    pub store_dir: PathBuf,
    pub sync_flush: bool,
    pub segment_size: u64,
    pub advertised_host: Option<String>,
    pub max_message_size: Option<usize>,
}

impl BrokerOptions {
    pub fn new(store_dir: &Path, sync_flush: bool) -> Self {
        BrokerOptions {
            store_dir: store_dir.to_path_buf(),
            sync_flush,
            segment_size: 8 << 20,
            advertised_host: None,
            max_message_size: None,
        }
    }
}

/// A name server + broker in a child process (the `fault-broker` binary).
pub struct BrokerProcess {
    program: PathBuf,
    options: BrokerOptions,
    pub process: ChildProcess,
    pub namesrv: SocketAddr,
    pub broker: SocketAddr,
    starts: usize,
}

impl BrokerProcess {
    /// Starts on ephemeral ports. `program` is `env!("CARGO_BIN_EXE_fault-broker")`.
    pub fn start(program: &str, options: BrokerOptions) -> BrokerProcess {
        let (process, namesrv, broker) =
            Self::launch(Path::new(program), &options, 0, 0, 0, Duration::ZERO)
                .unwrap_or_else(|e| panic!("fault-broker did not start: {e}"));
        BrokerProcess {
            program: PathBuf::from(program),
            options,
            process,
            namesrv,
            broker,
            starts: 1,
        }
    }

    fn launch(
        program: &Path,
        o: &BrokerOptions,
        namesrv_port: u16,
        broker_port: u16,
        n: usize,
        retry_for: Duration,
    ) -> Result<(ChildProcess, SocketAddr, SocketAddr), String> {
        let args = Self::args(o, namesrv_port, broker_port);
        let log = o
            .store_dir
            .parent()
            .unwrap_or(Path::new("."))
            .join(format!("broker-{n}.log"));
        // A restart on fixed ports may find a port briefly unavailable; retry within a bound.
        let deadline = Instant::now() + retry_for;
        loop {
            let child = ChildProcess::spawn(program, &args, &log).map_err(|e| e.to_string())?;
            let mut namesrv = None;
            let mut broker = None;
            let mut failure = None;
            while let Some(line) = child.next_line(
                &["namesrv ", "broker ", "ready", "error "],
                Duration::from_secs(30),
            ) {
                if let Some(a) = line.strip_prefix("namesrv ") {
                    namesrv = a.trim().parse().ok();
                } else if let Some(a) = line.strip_prefix("broker ") {
                    broker = a.trim().parse().ok();
                } else if line == "ready" {
                    break;
                } else {
                    failure = Some(line);
                    break;
                }
            }
            match (namesrv, broker, failure) {
                (Some(ns), Some(b), None) => return Ok((child, ns, b)),
                (_, _, f) => {
                    let why = f.unwrap_or_else(|| {
                        format!("no addresses printed; stderr: {}", child.log_tail(2000))
                    });
                    if Instant::now() >= deadline {
                        return Err(why);
                    }
                    drop(child);
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
        }
    }

    fn args(o: &BrokerOptions, namesrv_port: u16, broker_port: u16) -> Vec<String> {
        let mut args = vec![
            "--store".to_string(),
            o.store_dir.display().to_string(),
            "--namesrv-port".into(),
            namesrv_port.to_string(),
            "--broker-port".into(),
            broker_port.to_string(),
            "--flush".into(),
            if o.sync_flush { "sync" } else { "async" }.into(),
            "--segment-size".into(),
            o.segment_size.to_string(),
        ];
        if let Some(h) = &o.advertised_host {
            args.extend(["--advertised-host".to_string(), h.clone()]);
        }
        if let Some(m) = o.max_message_size {
            args.extend(["--max-message-size".to_string(), m.to_string()]);
        }
        args
    }

    /// SIGKILL: no shutdown, no flush, the `abort` marker stays.
    pub fn kill9(&mut self) {
        self.process.kill9();
    }

    /// Starts again on the same store directory and the same ports (the advertised broker
    /// address in clients' cached routes stays valid).
    pub fn restart(&mut self) {
        let bound_port = |advertised: SocketAddr| advertised.port();
        let (process, namesrv, broker) = Self::launch(
            &self.program,
            &self.options,
            self.namesrv.port(),
            bound_port(self.broker),
            self.starts,
            Duration::from_secs(10),
        )
        .unwrap_or_else(|e| panic!("fault-broker did not restart: {e}"));
        assert_eq!(namesrv, self.namesrv, "restarted name server address");
        assert_eq!(broker, self.broker, "restarted broker address");
        self.process = process;
        self.starts += 1;
    }

    /// Starts the broker on its store and ports and kills it with SIGKILL `after` the start
    /// began, ready or not (a crash during recovery); the next [`BrokerProcess::restart`]
    /// recovers from that.
    pub fn start_and_kill_after(&mut self, after: Duration) {
        let args = Self::args(&self.options, self.namesrv.port(), self.broker.port());
        let log = self
            .options
            .store_dir
            .parent()
            .unwrap_or(Path::new("."))
            .join(format!("broker-{}-killed-starting.log", self.starts));
        let mut child = ChildProcess::spawn(&self.program, &args, &log)
            .unwrap_or_else(|e| panic!("fault-broker did not spawn: {e}"));
        std::thread::sleep(after);
        child.kill9();
        self.starts += 1;
    }

    /// Clean shutdown (flushes the store). Returns whether the child exited cleanly.
    pub fn stop(&mut self) -> bool {
        self.process.stop(Duration::from_secs(20))
    }

    pub fn namesrv_string(&self) -> String {
        self.namesrv.to_string()
    }
}

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

/// One message as read back from the broker.
#[derive(Clone, Debug)]
pub struct Pulled {
    /// The client id (`UNIQ_KEY`) of the message.
    pub uniq_key: String,
    pub queue_id: i32,
    pub queue_offset: i64,
    pub body: Bytes,
    pub born_timestamp: i64,
    pub store_timestamp: i64,
}

/// Creates (or updates) `topic` with `queues` read and write queues on the broker at `addr`.
pub async fn create_topic(client: &ClientInstance, addr: &str, topic: &str, queues: i32) {
    let req = ClientInstance::request(request_code::UPDATE_AND_CREATE_TOPIC).with_header(
        &CreateTopicRequestHeader {
            topic: topic.to_string(),
            default_topic: "TBW102".into(),
            read_queue_nums: queues,
            write_queue_nums: queues,
            perm: 6,
            topic_filter_type: "SINGLE_TAG".into(),
            topic_sys_flag: None,
            order: false,
            attributes: None,
            force: None,
        },
    );
    let resp = client
        .invoke(addr, req)
        .await
        .expect("create topic request");
    assert_eq!(
        resp.code,
        response_code::SUCCESS,
        "create topic {topic}: {:?}",
        resp.remark
    );
}

/// Reads every message of `topic` queues `0..queues` from offset 0 on the broker at `addr`
/// with plain (not long-polling) pulls. Every record must decode with a matching body CRC and
/// carry the queue offset it was read at; the first violation is returned as an error.
pub async fn pull_all_verified(
    client: &ClientInstance,
    addr: &str,
    topic: &str,
    queues: i32,
    limit: Duration,
) -> Result<Vec<Pulled>, String> {
    let deadline = Instant::now() + limit;
    let mut out = Vec::new();
    for queue_id in 0..queues {
        let mut offset = 0i64;
        loop {
            if Instant::now() > deadline {
                return Err(format!("reading {topic} took longer than {limit:?}"));
            }
            let header = PullMessageRequestHeader {
                consumer_group: "FAULT_TEST_READER".into(),
                topic: topic.to_string(),
                queue_id,
                queue_offset: offset,
                max_msg_nums: 64,
                sys_flag: pull_sys_flag::SUBSCRIPTION,
                commit_offset: 0,
                suspend_timeout_millis: 0,
                subscription: Some("*".into()),
                sub_version: 0,
                expression_type: Some("TAG".into()),
                max_msg_bytes: None,
                request_source: None,
                proxy_froward_client_id: None,
            };
            let req = ClientInstance::request(request_code::PULL_MESSAGE).with_header(&header);
            let resp = client
                .invoke(addr, req)
                .await
                .map_err(|e| format!("pull {topic}/{queue_id}@{offset}: {e}"))?;
            let h: PullMessageResponseHeader = resp
                .decode_header()
                .map_err(|e| format!("pull response header {topic}/{queue_id}: {e}"))?;
            match resp.code {
                response_code::SUCCESS => {}
                response_code::PULL_NOT_FOUND | response_code::PULL_OFFSET_MOVED
                    if h.next_begin_offset <= offset =>
                {
                    break
                }
                response_code::PULL_NOT_FOUND
                | response_code::PULL_OFFSET_MOVED
                | response_code::PULL_RETRY_IMMEDIATELY => {
                    offset = h.next_begin_offset;
                    continue;
                }
                code => {
                    return Err(format!(
                        "pull {topic}/{queue_id}@{offset}: code {code} {:?}",
                        resp.remark
                    ))
                }
            }
            let mut buf: &[u8] = &resp.body;
            let mut expected = offset;
            while !buf.is_empty() {
                let v = view_record(buf, true).map_err(|e| {
                    format!(
                        "corrupt record served in {topic}/{queue_id} near offset {expected}: {e}"
                    )
                })?;
                let m = v.to_owned_message();
                if body_crc(&m.body) != m.body_crc {
                    return Err(format!(
                        "body CRC mismatch in {topic}/{queue_id}@{}",
                        m.queue_offset
                    ));
                }
                if m.queue_offset < expected || m.queue_id != queue_id || m.topic != topic {
                    return Err(format!(
                        "record out of place: {}/{}@{} read at {topic}/{queue_id}@{expected}",
                        m.topic, m.queue_id, m.queue_offset
                    ));
                }
                expected = m.queue_offset + 1;
                let props = decode_properties_map(&m.properties);
                out.push(Pulled {
                    uniq_key: props.get(UNIQ_KEY).cloned().unwrap_or_default(),
                    queue_id,
                    queue_offset: m.queue_offset,
                    body: m.body.clone(),
                    born_timestamp: m.born_timestamp,
                    store_timestamp: m.store_timestamp,
                });
                buf = &buf[v.total_size as usize..];
            }
            if h.next_begin_offset <= offset {
                return Err(format!(
                    "pull {topic}/{queue_id}@{offset} did not advance (next {})",
                    h.next_begin_offset
                ));
            }
            offset = h.next_begin_offset;
        }
    }
    Ok(out)
}

/// How often each key occurs.
pub fn count_keys<'a>(keys: impl Iterator<Item = &'a str>) -> HashMap<&'a str, usize> {
    let mut m = HashMap::new();
    for k in keys {
        *m.entry(k).or_insert(0) += 1;
    }
    m
}
