//! Completions of the 5.x clients' asynchronous calls (`send_async`, `ack_async`, ...),
//! handed to Python callbacks on one dispatcher thread that takes the GIL once per batch.
//!
//! What must stay true: no Rust lock is held while a callback runs; a callback is called
//! exactly once, as `callback(True, value)` or `callback(False, exception)`; after
//! `os.fork()` the child gets a dispatcher thread of its own (the process id changes).

use super::runtime::{runtime, to_py_err};
use pyo3::prelude::*;
use rocketmq_client::v5::GrpcError;
use std::future::Future;
use std::sync::{mpsc, Mutex};

const MAX_BATCH: usize = 256;

type Job = Box<dyn for<'py> FnOnce(Python<'py>) + Send>;

static DISPATCHER: Mutex<Option<(u32, mpsc::Sender<Job>)>> = Mutex::new(None);

fn sender() -> Option<mpsc::Sender<Job>> {
    let pid = std::process::id();
    let mut slot = DISPATCHER.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((owner, tx)) = slot.as_ref() {
        if *owner == pid {
            return Some(tx.clone());
        }
    }
    let (tx, rx) = mpsc::channel::<Job>();
    let started = std::thread::Builder::new()
        .name("rocketmq-grpc-callback".into())
        .spawn(move || {
            while let Ok(first) = rx.recv() {
                let mut batch = vec![first];
                while batch.len() < MAX_BATCH {
                    match rx.try_recv() {
                        Ok(more) => batch.push(more),
                        Err(_) => break,
                    }
                }
                Python::attach(|py| {
                    for job in batch.drain(..) {
                        job(py);
                    }
                });
            }
        });
    if let Err(e) = started {
        tracing::error!(target: "rocketmq.client.v5", error = %e, "cannot start the callback thread");
        return None;
    }
    *slot = Some((pid, tx.clone()));
    Some(tx)
}

/// A function that hands `outcome` to `callback` on the dispatcher thread:
/// `callback(True, to_py(value))` or `callback(False, exception)`. Callable from any thread,
/// without the GIL.
pub fn completion<T, C>(
    callback: Py<PyAny>,
    to_py: C,
) -> impl FnOnce(Result<T, GrpcError>) + Send + 'static
where
    T: Send + 'static,
    C: for<'py> FnOnce(Python<'py>, T) -> PyResult<Bound<'py, PyAny>> + Send + 'static,
{
    move |outcome| {
        let job: Job = Box::new(move |py| {
            let args = match outcome.map_err(to_py_err).and_then(|v| to_py(py, v)) {
                Ok(value) => (true, value.unbind()),
                Err(e) => (false, e.into_value(py).into_any()),
            };
            if let Err(e) = callback.call1(py, args) {
                e.write_unraisable(py, Some(callback.bind(py)));
            }
        });
        if let Some(tx) = sender() {
            let _ = tx.send(job);
        }
    }
}

/// Runs `fut` on the runtime; when it ends, `callback(True, to_py(value))` or
/// `callback(False, exception)` runs on the dispatcher thread.
pub fn spawn_with_callback<F, T, C>(callback: Py<PyAny>, fut: F, to_py: C)
where
    F: Future<Output = Result<T, GrpcError>> + Send + 'static,
    T: Send + 'static,
    C: for<'py> FnOnce(Python<'py>, T) -> PyResult<Bound<'py, PyAny>> + Send + 'static,
{
    let done = completion(callback, to_py);
    runtime().spawn(async move { done(fut.await) });
}
