//! The tokio runtime every client of this process runs on, and [`block_on`], the one way a
//! Python call waits for it.
//!
//! Created lazily on first use. After `os.fork()` the child has no runtime threads, so the
//! runtime is rebuilt when the process id changes; the parent's runtime is leaked in the child
//! (dropping it there would try to join threads that do not exist).
//!
//! What must stay true: [`block_on`] releases the GIL for the whole wait.

use super::error::to_py_err;
use pyo3::prelude::*;
use std::future::Future;
use std::sync::{Arc, Mutex};
use tokio::runtime::Runtime;

static RUNTIME: Mutex<Option<(u32, Arc<Runtime>)>> = Mutex::new(None);

pub fn runtime() -> Arc<Runtime> {
    let pid = std::process::id();
    let mut slot = RUNTIME.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((owner, rt)) = slot.as_ref() {
        if *owner == pid {
            return rt.clone();
        }
    }
    if let Some((_, old)) = slot.take() {
        std::mem::forget(old);
    }
    let rt = Arc::new(
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("rocketmq-client")
            .enable_all()
            .build()
            .expect("cannot start the client runtime"),
    );
    *slot = Some((pid, rt.clone()));
    rt
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
