//! Rust `tracing` events into Python `logging`, through `pyo3-log`.
//!
//! What must stay true: the logger is installed once per process, at the first import of the
//! module; logger names are the Rust module paths with `::` replaced by `.`; Python's logger
//! levels are cached (so disabled levels never take the GIL) until [`reset_log_cache`].

use pyo3::prelude::*;
use std::sync::OnceLock;

/// Handle to clear pyo3-log's cache of Python logger levels; set once, at first import.
static LOG_RESET: OnceLock<pyo3_log::ResetHandle> = OnceLock::new();

/// Routes Rust log records to Python `logging`. A second import in the same process
/// (sub-interpreters, reload) finds a logger already installed; keeping the first one is
/// correct.
pub fn install() {
    if let Ok(handle) = pyo3_log::try_init() {
        let _ = LOG_RESET.set(handle);
    }
}

/// Makes Rust logging pick up a changed Python logging configuration (levels are cached
/// so that disabled levels never take the GIL).
#[pyfunction]
pub fn reset_log_cache() {
    if let Some(handle) = LOG_RESET.get() {
        handle.reset();
    }
}
