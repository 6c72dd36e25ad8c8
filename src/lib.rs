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
mod logging;
mod process_runtime;
mod v5;

use pyo3::prelude::*;

#[pymodule(gil_used = false)]
mod _rocketmq {
    use super::*;

    #[pymodule_export]
    use crate::broker::{check_delay_levels_py, default_store_dir, PyEmbeddedCluster};

    #[pymodule_export]
    use crate::client::{
        ClientError, NativeAdmin, NativeProducer, NativePullClient, NativePushConsumer,
        ReceivedMessage,
    };

    #[pymodule_export]
    use crate::client::FilterExpressionRefused;

    #[pymodule_export]
    use crate::client::{PopConsumer, PoppedMessage};

    #[pymodule_export]
    use crate::logging::reset_log_cache;

    #[pymodule_export]
    use crate::v5::{GrpcClientError, GrpcConsumer, GrpcProducer};

    #[pymodule_init]
    fn init(m: &Bound<'_, PyModule>) -> PyResult<()> {
        m.add("__version__", env!("CARGO_PKG_VERSION"))?;
        crate::broker::add_defaults(m)?;
        crate::client::add_constants(m)?;
        crate::logging::install(m.py());
        Ok(())
    }
}
