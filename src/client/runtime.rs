//! The tokio runtime every client of this process runs on, and [`block_on`], the one way a
//! Python call waits for it.
//!
//! A [`ProcessRuntime`] of two workers: created lazily on first use, rebuilt after `os.fork()`.
//!
//! What must stay true: [`block_on`] releases the GIL for the whole wait.

use super::error::to_py_err;
use crate::process_runtime::ProcessRuntime;
use pyo3::prelude::*;
use std::future::Future;
use std::sync::Arc;
use tokio::runtime::Runtime;

static RUNTIME: ProcessRuntime = ProcessRuntime::new("rocketmq-client", 2);

pub fn runtime() -> Arc<Runtime> {
    RUNTIME.get()
}

/// Runs `fut` on the client runtime with the GIL released. Its requests wait for their
/// answers on this thread's own blocking connections (see `rocketmq_client::with_blocking_requests`): the
/// thread waits anyway, and the answer then wakes it directly.
pub fn block_on<F, T>(py: Python<'_>, fut: F) -> PyResult<T>
where
    F: Future<Output = rocketmq_client::Result<T>> + Send,
    T: Send,
{
    let rt = runtime();
    py.detach(|| rocketmq_client::with_blocking_requests(|| rt.block_on(fut)))
        .map_err(to_py_err)
}
