//! `rocketmq._rocketmq`: the native half of the Python package (thin PyO3 bindings only).
//!
//! What must stay true:
//! - every blocking Rust call (cluster start and shutdown) runs inside `py.detach`, so the
//!   server's threads can take the GIL (for logging) while Python waits on them;
//! - bad arguments raise `TypeError`/`ValueError` whose message says what to pass instead;
//!   I/O failures raise `OSError` (with errno, so `except OSError` and `e.errno` work) naming
//!   the cause (port in use, store directory not writable);
//! - Rust `tracing` events reach Python `logging` through `pyo3-log` (tracing's `log`
//!   feature); logger names are the Rust module paths with `::` replaced by `.`
//!   (`rocketmq_server.…`, `rocketmq_store.…`). Nothing is written to stderr by Rust.

mod broker;
mod client;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

/// Handle to clear pyo3-log's cache of Python logger levels; set once, at first import.
static LOG_RESET: std::sync::OnceLock<pyo3_log::ResetHandle> = std::sync::OnceLock::new();

#[pymodule(gil_used = false)]
mod _rocketmq {
    use super::*;

    #[pymodule_export]
    use crate::broker::PyEmbeddedCluster;

    #[pymodule_export]
    use crate::broker::default_store_dir;

    #[pymodule_export]
    use crate::client::producer::NativeProducer;

    #[pymodule_export]
    use crate::client::pull::NativePullClient;

    #[pymodule_export]
    use crate::client::push::NativePushConsumer;

    #[pymodule_export]
    use crate::client::ClientError;

    #[pymodule_export]
    use crate::client::message::ReceivedMessage;

    /// Checks a delay-level string; raises ValueError saying what is wrong.
    #[pyfunction]
    fn check_delay_levels(levels: &str) -> PyResult<()> {
        crate::broker::check_delay_levels(levels).map_err(PyValueError::new_err)
    }

    /// Makes Rust logging pick up a changed Python logging configuration (levels are cached
    /// so that disabled levels never take the GIL).
    #[pyfunction]
    fn reset_log_cache() {
        if let Some(handle) = LOG_RESET.get() {
            handle.reset();
        }
    }

    #[pymodule_init]
    fn init(m: &Bound<'_, PyModule>) -> PyResult<()> {
        m.add("__version__", env!("CARGO_PKG_VERSION"))?;
        crate::broker::add_defaults(m)?;
        // A second import in the same process (sub-interpreters, reload) finds a logger already
        // installed; keeping the first one is correct.
        if let Ok(handle) = pyo3_log::try_init() {
            let _ = LOG_RESET.set(handle);
        }
        Ok(())
    }
}
