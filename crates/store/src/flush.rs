//! The flusher: one background thread that makes the commit log durable, plus the
//! maintenance thread for everything else.
//!
//! - Async flush: every `flush_interval` it flushes whatever was appended.
//! - Sync flush (group commit): a writer registers the commit-log end offset it needs durable
//!   and gets a [`DurableWaiter`]. The thread takes *all* waiting registrations at once, does
//!   one flush covering everything published so far, then completes every waiter whose offset
//!   is covered. While it flushes (~3 ms here) new writers queue up for the next round, so the
//!   number of fsyncs grows with time, not with messages.
//!
//! - A round that starts with fewer waiters than recent rounds served waits up to
//!   `group_commit_gather` (1 ms) for the others, which are usually a wake-up away.
//!
//! A second thread ([`Maintenance`]) flushes consume queues every `flush_interval` and
//! persists consumer offsets every 5 s.
//!
//! What must stay true: a waiter is completed with `Ok` only after a flush whose range covers
//! its end offset returned successfully, and the fsync counter is incremented before those
//! waiters are completed.

use crate::error::StoreError;
use crate::message_store::DurableWaiter;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// How often the maintenance thread persists consumer offsets.
pub const OFFSETS_PERSIST_INTERVAL: Duration = Duration::from_secs(5);

/// What the flusher flushes.
pub trait FlushTarget: Send + Sync {
    /// Flushes the commit log; returns the durable end and whether any bytes were flushed.
    fn flush_commit_log(&self) -> std::io::Result<(u64, bool)>;
    /// Flushes consume queues (their loss is repairable from the commit log) and records the
    /// progress in the checkpoint.
    fn flush_consume_queues(&self);
    /// Persists consumer offsets if they changed.
    fn persist_offsets(&self);
}

struct Waiter {
    end: u64,
    tx: oneshot::Sender<Result<(), StoreError>>,
}

#[derive(Default)]
struct State {
    waiters: Vec<Waiter>,
    stop: Option<StopMode>,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum StopMode {
    /// Flush everything once more, then exit.
    Clean,
    /// Exit at once (the store is dropped without shutdown); pending waiters get
    /// [`StoreError::ShutDown`].
    Abandon,
}

/// Shared between writers and the flusher thread.
pub struct GroupCommit {
    state: Mutex<State>,
    cv: Condvar,
    fsyncs: AtomicU64,
    flushed: AtomicU64,
    interval: Duration,
    /// Longest a round waits for more writers to join (see [`GroupCommit::run`]).
    gather: Duration,
}

fn io_err(e: &std::io::Error) -> StoreError {
    StoreError::Io(std::io::Error::new(e.kind(), e.to_string()))
}

impl GroupCommit {
    /// `gather` bounds how long a round may wait for the expected number of writers.
    pub fn new(interval: Duration, gather: Duration, flushed: u64) -> GroupCommit {
        GroupCommit {
            state: Mutex::new(State::default()),
            cv: Condvar::new(),
            fsyncs: AtomicU64::new(0),
            flushed: AtomicU64::new(flushed),
            interval: interval.max(Duration::from_millis(1)),
            gather,
        }
    }

    /// Commit-log flushes performed that wrote at least one byte.
    pub fn fsync_count(&self) -> u64 {
        self.fsyncs.load(Ordering::Acquire)
    }

    /// Commit-log end known durable.
    pub fn flushed_offset(&self) -> u64 {
        self.flushed.load(Ordering::Acquire)
    }

    /// Records a commit-log flush done outside the flusher thread (an explicit store flush).
    pub fn note_fsync(&self, flushed: u64) {
        self.fsyncs.fetch_add(1, Ordering::AcqRel);
        self.flushed.fetch_max(flushed, Ordering::AcqRel);
    }

    /// A waiter completing once `[.., end)` of the commit log is durable.
    pub fn register(&self, end: u64) -> DurableWaiter {
        let (tx, rx) = oneshot::channel();
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if self.flushed_offset() >= end {
            let _ = tx.send(Ok(()));
        } else if st.stop.is_some() {
            let _ = tx.send(Err(StoreError::ShutDown));
        } else {
            st.waiters.push(Waiter { end, tx });
            self.cv.notify_one();
        }
        DurableWaiter(rx)
    }

    /// Asks the thread to stop; it exits after its current round.
    pub fn stop(&self, mode: StopMode) {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if st.stop.is_none() {
            st.stop = Some(mode);
        }
        self.cv.notify_all();
    }

    fn flush_and_complete(&self, target: &dyn FlushTarget, waiters: Vec<Waiter>) {
        match target.flush_commit_log() {
            Ok((durable, did_work)) => {
                if did_work {
                    self.fsyncs.fetch_add(1, Ordering::AcqRel);
                }
                self.flushed.fetch_max(durable, Ordering::AcqRel);
                let mut pending = Vec::new();
                for w in waiters {
                    if w.end <= durable {
                        let _ = w.tx.send(Ok(()));
                    } else {
                        pending.push(w);
                    }
                }
                if !pending.is_empty() {
                    // Registered for bytes not yet published (cannot happen with the store's
                    // order of operations, but never drop a waiter silently).
                    let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
                    st.waiters.extend(pending);
                }
            }
            Err(e) => {
                tracing::error!("commit log flush failed: {e}");
                for w in waiters {
                    let _ = w.tx.send(Err(io_err(&e)));
                }
            }
        }
    }

    /// The flusher thread body. Returns when stopped.
    pub fn run(self: Arc<Self>, target: Arc<dyn FlushTarget>) {
        let mut next_periodic = Instant::now() + self.interval;
        // How many writers recent rounds served: a round that starts with fewer waits up to
        // `gather` for the rest (they are usually a wake-up away). Decays by one per round so
        // a lone writer soon pays no delay.
        let mut expected: usize = 1;
        loop {
            let (waiters, stop) = {
                let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
                loop {
                    if st.stop.is_some() || !st.waiters.is_empty() {
                        break;
                    }
                    let now = Instant::now();
                    if now >= next_periodic {
                        break;
                    }
                    st = self
                        .cv
                        .wait_timeout(st, next_periodic - now)
                        .unwrap_or_else(|e| e.into_inner())
                        .0;
                }
                if st.stop.is_none() && !st.waiters.is_empty() && st.waiters.len() < expected {
                    let deadline = Instant::now() + self.gather;
                    while st.stop.is_none() && st.waiters.len() < expected {
                        let now = Instant::now();
                        if now >= deadline {
                            break;
                        }
                        st = self
                            .cv
                            .wait_timeout(st, deadline - now)
                            .unwrap_or_else(|e| e.into_inner())
                            .0;
                    }
                }
                if !st.waiters.is_empty() {
                    expected = st.waiters.len().max(expected.saturating_sub(1)).max(1);
                }
                (std::mem::take(&mut st.waiters), st.stop)
            };
            match stop {
                Some(StopMode::Abandon) => {
                    for w in waiters {
                        let _ = w.tx.send(Err(StoreError::ShutDown));
                    }
                    return;
                }
                Some(StopMode::Clean) => {
                    self.flush_and_complete(target.as_ref(), waiters);
                    let rest = std::mem::take(
                        &mut self.state.lock().unwrap_or_else(|e| e.into_inner()).waiters,
                    );
                    for w in rest {
                        let _ = w.tx.send(Err(StoreError::ShutDown));
                    }
                    return;
                }
                None => {}
            }
            let periodic = Instant::now() >= next_periodic;
            if !waiters.is_empty() || periodic {
                self.flush_and_complete(target.as_ref(), waiters);
            }
            if periodic {
                next_periodic = Instant::now() + self.interval;
            }
        }
    }
}

/// The second background thread: consume-queue flushes (with the checkpoint) every interval
/// and consumer offsets every [`OFFSETS_PERSIST_INTERVAL`]. Kept off the group-commit thread so
/// their fsyncs never delay sync-flush writers.
pub struct Maintenance {
    stop: Mutex<bool>,
    cv: Condvar,
    interval: Duration,
}

impl Maintenance {
    pub fn new(interval: Duration) -> Maintenance {
        Maintenance {
            stop: Mutex::new(false),
            cv: Condvar::new(),
            interval: interval.max(Duration::from_millis(1)),
        }
    }

    pub fn stop(&self) {
        *self.stop.lock().unwrap_or_else(|e| e.into_inner()) = true;
        self.cv.notify_all();
    }

    /// The thread body. Returns when stopped (the final flush is the store's shutdown's job).
    pub fn run(self: Arc<Self>, target: Arc<dyn FlushTarget>) {
        let mut next_offsets = Instant::now() + OFFSETS_PERSIST_INTERVAL;
        loop {
            let deadline = Instant::now() + self.interval;
            {
                let mut stopped = self.stop.lock().unwrap_or_else(|e| e.into_inner());
                loop {
                    if *stopped {
                        return;
                    }
                    let now = Instant::now();
                    if now >= deadline {
                        break;
                    }
                    stopped = self
                        .cv
                        .wait_timeout(stopped, deadline - now)
                        .unwrap_or_else(|e| e.into_inner())
                        .0;
                }
            }
            target.flush_consume_queues();
            if Instant::now() >= next_offsets {
                target.persist_offsets();
                next_offsets = Instant::now() + OFFSETS_PERSIST_INTERVAL;
            }
        }
    }
}
