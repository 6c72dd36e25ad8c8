//! Completions of asynchronous sends, handed to Python callbacks on one dispatcher thread.
//!
//! A send started by `NativeProducer.send_async` runs as a tokio task; when it finishes its
//! [`Completion`] goes over a channel to the process's dispatcher thread
//! (`rocketmq-send-callback`), which takes every completion waiting (up to
//! [`MAX_BATCH`]), takes the GIL once for all of them and calls each callback as
//! `callback(ok, payload)`, or once per group for `send_many_async` (see [`Payload`]).
//! [`spawn_with_callback`] does the same for any other call the asyncio API awaits (pulls,
//! offsets, orderly/batch/one-way sends, transaction steps): the future runs on the runtime,
//! and its value is made into Python objects on the dispatcher thread, with the GIL.
//!
//! What must stay true:
//! - no Rust lock is held while the GIL is taken or a callback runs;
//! - every completion is counted in its producer's [`PendingCallbacks`] from the moment the
//!   send starts until its callback has returned (or the completion was dropped), so that
//!   shutdown can wait for them; the count is decremented by `Drop`, so it never leaks;
//! - after `os.fork()` the child gets a new dispatcher thread (the parent's does not exist
//!   there), found by the process id changing.

use super::error::error_text;
use super::runtime::runtime;
use super::send_result::SendTuple;
use pyo3::prelude::*;
use pyo3::types::PyTuple;
use std::future::Future;
use std::sync::{mpsc, Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// Completions handed to Python per GIL acquisition, at most.
pub const MAX_BATCH: usize = 256;

/// Sends of one producer whose callback has not finished yet.
#[derive(Default)]
pub struct PendingCallbacks {
    count: Mutex<usize>,
    idle: Condvar,
}

impl PendingCallbacks {
    pub fn add(&self) {
        *self.count.lock().unwrap_or_else(|e| e.into_inner()) += 1;
    }

    fn done(&self) {
        let mut n = self.count.lock().unwrap_or_else(|e| e.into_inner());
        *n = n.saturating_sub(1);
        if *n == 0 {
            self.idle.notify_all();
        }
    }

    /// Waits until every callback has run or `timeout` passed; true when none is pending.
    pub fn wait_idle(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut n = self.count.lock().unwrap_or_else(|e| e.into_inner());
        while *n > 0 {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            n = self
                .idle
                .wait_timeout(n, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        true
    }
}

/// The outcome of one send: the send tuple, or the error text.
pub type Outcome = Result<SendTuple, String>;

/// Builds the arguments of a callback, with the GIL, on the dispatcher thread.
pub type ArgsBuilder =
    Box<dyn for<'py> FnOnce(Python<'py>) -> PyResult<Bound<'py, PyTuple>> + Send>;

/// What a callback gets: `callback(ok, payload)` for one send, `callback(True, [(ok,
/// payload), ...])` for a group of sends started together, or the arguments an
/// [`ArgsBuilder`] makes.
pub enum Payload {
    One(Outcome),
    Many(Vec<Outcome>),
    Args(ArgsBuilder),
}

pub struct Completion {
    pub callback: Py<PyAny>,
    pub payload: Payload,
    pub pending: Arc<PendingCallbacks>,
}

fn outcome_args<'py>(py: Python<'py>, outcome: &Outcome) -> PyResult<Bound<'py, PyTuple>> {
    match outcome {
        Ok(tuple) => (true, tuple.clone()).into_pyobject(py),
        Err(text) => (false, text.as_str()).into_pyobject(py),
    }
}

impl Drop for Completion {
    fn drop(&mut self) {
        self.pending.done();
    }
}

/// Runs `fut` on the client runtime and, when it ends, has `callback(True, to_py(value))` or
/// `callback(False, error_text)` called on the dispatcher thread. `hold` (a semaphore permit,
/// say) is dropped as soon as `fut` ends. Counted in `pending` until the callback returned.
pub fn spawn_with_callback<F, T, H, C>(
    pending: &Arc<PendingCallbacks>,
    callback: Py<PyAny>,
    hold: H,
    fut: F,
    to_py: C,
) where
    F: Future<Output = rocketmq_client::Result<T>> + Send + 'static,
    T: Send + 'static,
    H: Send + 'static,
    C: for<'py> FnOnce(Python<'py>, T) -> PyResult<Bound<'py, PyAny>> + Send + 'static,
{
    pending.add();
    let pending = pending.clone();
    runtime().spawn(async move {
        let outcome = fut.await;
        drop(hold);
        let build: ArgsBuilder = Box::new(move |py| match outcome {
            Ok(value) => {
                let value = to_py(py, value)?;
                Ok((true, value).into_pyobject(py)?)
            }
            Err(e) => Ok((false, error_text(&e)).into_pyobject(py)?),
        });
        dispatch(Completion {
            callback,
            payload: Payload::Args(build),
            pending,
        });
    });
}

static DISPATCHER: Mutex<Option<(u32, mpsc::Sender<Completion>)>> = Mutex::new(None);

thread_local! {
    static ON_DISPATCHER: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// True on the dispatcher thread (a callback must not wait for callbacks to finish).
pub fn on_dispatcher_thread() -> bool {
    ON_DISPATCHER.with(|f| f.get())
}

/// Hands `completion` to the dispatcher thread, starting it first if this process has none.
pub fn dispatch(completion: Completion) {
    let pid = std::process::id();
    let sender = {
        let mut slot = DISPATCHER.lock().unwrap_or_else(|e| e.into_inner());
        match slot.as_ref() {
            Some((owner, tx)) if *owner == pid => tx.clone(),
            _ => {
                let (tx, rx) = mpsc::channel::<Completion>();
                let started = std::thread::Builder::new()
                    .name("rocketmq-send-callback".into())
                    .spawn(move || dispatcher_loop(rx));
                if let Err(e) = started {
                    // The completion is dropped (its count released); say why.
                    tracing::error!(target: "rocketmq.client.send_async", error = %e, "cannot start the send-callback thread");
                    return;
                }
                *slot = Some((pid, tx.clone()));
                tx
            }
        }
    };
    // A failure means the thread is gone; dropping the completion releases its count.
    let _ = sender.send(completion);
}

fn dispatcher_loop(rx: mpsc::Receiver<Completion>) {
    ON_DISPATCHER.with(|f| f.set(true));
    let mut batch: Vec<Completion> = Vec::with_capacity(MAX_BATCH);
    while let Ok(first) = rx.recv() {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(more) => batch.push(more),
                Err(_) => break,
            }
        }
        Python::attach(|py| {
            for mut c in batch.drain(..) {
                let payload = std::mem::replace(&mut c.payload, Payload::Many(Vec::new()));
                let result = match payload {
                    Payload::One(outcome) => {
                        outcome_args(py, &outcome).and_then(|args| c.callback.call1(py, args))
                    }
                    Payload::Many(outcomes) => outcomes
                        .iter()
                        .map(|o| outcome_args(py, o))
                        .collect::<PyResult<Vec<_>>>()
                        .and_then(|list| c.callback.call1(py, (true, list))),
                    Payload::Args(build) => build(py).and_then(|args| c.callback.call1(py, args)),
                };
                if let Err(e) = result {
                    // The library's own wrapper failed (user errors are handled there).
                    e.write_unraisable(py, Some(c.callback.bind(py)));
                }
                // `c` is dropped here, with the GIL held, releasing its pending count.
            }
        });
    }
}
