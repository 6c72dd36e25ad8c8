//! A broker or consumer in a process of its own (the `fault-broker` / `fault-consumer`
//! binaries), killed with SIGKILL and restarted on the same store directory and ports.
//!
//! What must stay true: children die with the test (their stdin is a pipe whose end of file
//! stops them) and every wait for them is bounded.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

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
