//! [`ProcessRuntime`]: a tokio runtime created lazily on first use and rebuilt after
//! `os.fork()`, the one shape of the 4.x and the 5.x clients' runtimes.
//!
//! After a fork the child has none of the parent's runtime threads, so the runtime is rebuilt
//! when the process id changes; the parent's runtime is leaked in the child (dropping it there
//! would try to join threads that do not exist).

use std::sync::{Arc, Mutex};
use tokio::runtime::Runtime;

/// A lazily built multi-threaded runtime of `workers` threads named `name`, one per process.
pub struct ProcessRuntime {
    slot: Mutex<Option<(u32, Arc<Runtime>)>>,
    name: &'static str,
    workers: usize,
}

impl ProcessRuntime {
    pub const fn new(name: &'static str, workers: usize) -> ProcessRuntime {
        ProcessRuntime {
            slot: Mutex::new(None),
            name,
            workers,
        }
    }

    /// This process's runtime, built on the first call (and again after a fork).
    pub fn get(&self) -> Arc<Runtime> {
        let pid = std::process::id();
        let mut slot = self.slot.lock().unwrap_or_else(|e| e.into_inner());
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
                .worker_threads(self.workers)
                .thread_name(self.name)
                .enable_all()
                .build()
                .unwrap_or_else(|e| panic!("cannot start the {} runtime: {e}", self.name)),
        );
        *slot = Some((pid, rt.clone()));
        rt
    }
}
