//! Rust `tracing` events into Python `logging`, through `pyo3-log`.
//!
//! What must stay true: the logger is installed once per process, at the first import of the
//! module; logger names are the Rust module paths with `::` replaced by `.`; Python's logger
//! levels are cached (so disabled levels never take the GIL) until [`reset_log_cache`].
//!
//! The global maximum level of Rust records (`log::max_level`) is the most verbose level any
//! Python logger is enabled for, computed at install and again by [`reset_log_cache`]: while
//! no Python logger is enabled for DEBUG, debug events and spans (the HTTP/2 stack of the
//! gRPC client and endpoint emits several per request) stop at one integer comparison
//! instead of a logger lookup each. The level is computed again whenever a client, an admin
//! or an embedded broker is created ([`follow_python_levels`]), so the usual
//! `logging.basicConfig(level=logging.DEBUG)` after `import rocketmq` still shows the debug
//! records of what is created after it; a level changed later takes effect after
//! `reset_log_cache()`, as any other level change already did.

use log::LevelFilter;
use pyo3::prelude::*;
use std::sync::OnceLock;

/// Handle to clear pyo3-log's cache of Python logger levels; set once, at first import.
static LOG_RESET: OnceLock<pyo3_log::ResetHandle> = OnceLock::new();

/// The most verbose level pyo3-log passes on (its own top filter).
const MOST_VERBOSE: LevelFilter = LevelFilter::Debug;

/// Routes Rust log records to Python `logging`. A second import in the same process
/// (sub-interpreters, reload) finds a logger already installed; keeping the first one is
/// correct.
pub fn install(py: Python<'_>) {
    if let Ok(handle) = pyo3_log::try_init() {
        let _ = LOG_RESET.set(handle);
        log::set_max_level(python_max_level(py));
    }
}

/// The most verbose level any configured Python logger (or the root logger) is enabled for;
/// the most verbose one pyo3-log passes when Python logging cannot be read.
fn python_max_level(py: Python<'_>) -> LevelFilter {
    let lowest = (|| -> PyResult<i64> {
        let logging = py.import("logging")?;
        let root = logging.getattr("root")?;
        let logger_class = logging.getattr("Logger")?;
        let mut lowest: i64 = root.call_method0("getEffectiveLevel")?.extract()?;
        let loggers = root.getattr("manager")?.getattr("loggerDict")?;
        for logger in loggers.call_method0("values")?.try_iter()? {
            let logger = logger?;
            if logger.is_instance(&logger_class)? {
                let level: i64 = logger.call_method0("getEffectiveLevel")?.extract()?;
                lowest = lowest.min(level);
            }
        }
        Ok(lowest)
    })();
    match lowest {
        Ok(level) if level > 30 => LevelFilter::Error,
        Ok(level) if level > 20 => LevelFilter::Warn,
        Ok(level) if level > 10 => LevelFilter::Info,
        _ => MOST_VERBOSE,
    }
}

/// Sets the global maximum Rust log level from Python logging's levels now (called by the
/// constructors of the clients, the admin and the embedded broker; the GIL is held there).
pub fn follow_python_levels() {
    if LOG_RESET.get().is_some() {
        Python::attach(|py| log::set_max_level(python_max_level(py)));
    }
}

/// Makes Rust logging pick up a changed Python logging configuration (levels are cached
/// so that disabled levels never take the GIL).
#[pyfunction]
pub fn reset_log_cache(py: Python<'_>) {
    if let Some(handle) = LOG_RESET.get() {
        handle.reset();
        log::set_max_level(python_max_level(py));
    }
}
