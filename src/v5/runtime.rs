//! The tokio runtime the 5.x (gRPC) clients of this process run on, [`block_on`] (the one
//! way a Python call waits for it) and the conversion of the client's errors to Python.
//!
//! A [`ProcessRuntime`] (created lazily on first use, rebuilt after `os.fork()`). One worker
//! thread: it drives the HTTP/2 connections and the calls' futures, the Python threads wait
//! in [`block_on`] and blocking work (the transaction checker) has the blocking pool; a
//! second worker measured slower (1 thread `send` 4.4k against 5.5k msg/s, `benchmarks/
//! v5_bench.py`), as the two then take turns on one connection and wake each other.
//!
//! What must stay true: [`block_on`] releases the GIL for the whole wait; every error reaches
//! Python as `GrpcClientError(kind, code, message)`, which `rocketmq.v5` maps onto the
//! official exception classes.

use crate::process_runtime::ProcessRuntime;
use pyo3::prelude::*;
use rocketmq_client::v5::GrpcError;
use std::future::Future;
use std::sync::Arc;
use tokio::runtime::Runtime;

pyo3::create_exception!(
    _rocketmq,
    GrpcClientError,
    pyo3::exceptions::PyException,
    "A 5.x (gRPC) client call failed: args are (kind, code, message); kind is 'status' (the \
     server's code), 'transport', 'state' or 'argument'."
);

static RUNTIME: ProcessRuntime = ProcessRuntime::new("rocketmq-grpc-client", 1);

pub fn runtime() -> Arc<Runtime> {
    RUNTIME.get()
}

pub fn to_py_err(e: GrpcError) -> PyErr {
    let (kind, code) = match &e {
        GrpcError::Status { code, .. } => ("status", Some(*code)),
        GrpcError::Transport(_) => ("transport", None),
        GrpcError::IllegalState(_) => ("state", None),
        GrpcError::IllegalArgument(_) => ("argument", None),
    };
    let message = match &e {
        GrpcError::Status { message, .. } => message.clone(),
        other => other.to_string(),
    };
    GrpcClientError::new_err((kind, code, message))
}

/// Runs `fut` as a task of the runtime and waits for its end with the GIL released. The
/// calling thread blocks once per call, while every wake-up inside it (the request handed to
/// the connection, the response's headers, body and trailers) stays on the runtime's thread.
/// Polling the call on the calling thread instead (`Runtime::block_on(fut)`) had the
/// connection task wake it once per HTTP/2 event: `send` one at a time ran 15-25 % slower.
pub fn block_on<F, T>(py: Python<'_>, fut: F) -> PyResult<T>
where
    F: Future<Output = Result<T, GrpcError>> + Send + 'static,
    T: Send + 'static,
{
    let rt = runtime();
    let task = rt.spawn(fut);
    match py.detach(|| rt.block_on(task)) {
        Ok(result) => result.map_err(to_py_err),
        Err(e) => Err(GrpcClientError::new_err((
            "state",
            None::<i32>,
            format!("the client's task for this call ended abnormally: {e}"),
        ))),
    }
}
