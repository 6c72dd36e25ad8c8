//! The bindings' broker class `_EmbeddedCluster` (wrapped by `rocketmq.broker.LocalBroker`),
//! its argument checks, and the broker defaults handed to Python.
//!
//! What must stay true:
//! - every default Python shows or uses comes from `rocketmq_server::config` through
//!   [`add_defaults`]; an argument left as `None` keeps `ServerConfig::default()`'s value;
//! - cluster start and shutdown run inside `py.detach`, so the server's threads can take the
//!   GIL (for logging) while Python waits on them;
//! - bad arguments raise `TypeError`/`ValueError` saying what to pass instead; start failures
//!   raise `OSError` with errno and the cause.

use pyo3::exceptions::{PyOSError, PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyString;
use rocketmq_server::config;
use rocketmq_server::{DelayLevels, EmbeddedCluster, FlushMode, ServerConfig};
use std::path::PathBuf;
use std::sync::Mutex;

/// The name Python uses for a flush mode (`flush="async"` / `"sync"`).
fn flush_name(mode: FlushMode) -> &'static str {
    match mode {
        FlushMode::Async => "async",
        FlushMode::Sync => "sync",
    }
}

/// Adds the broker defaults to the module as `DEFAULT_*` constants (`rocketmq.broker` and
/// its command line read them from there).
pub fn add_defaults(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("DEFAULT_HOST", config::DEFAULT_HOST)?;
    m.add("DEFAULT_NAMESRV_PORT", config::DEFAULT_NAMESRV_PORT)?;
    m.add("DEFAULT_BROKER_PORT", config::DEFAULT_BROKER_PORT)?;
    m.add("DEFAULT_GRPC_PORT", config::DEFAULT_GRPC_PORT)?;
    m.add("DEFAULT_FLUSH", flush_name(config::DEFAULT_FLUSH))?;
    m.add("DEFAULT_MAX_MESSAGE_SIZE", config::DEFAULT_MAX_MESSAGE_SIZE)?;
    m.add("DEFAULT_DELAY_LEVELS", config::DEFAULT_DELAY_LEVELS)?;
    m.add("DEFAULT_SEGMENT_SIZE", config::DEFAULT_SEGMENT_SIZE)?;
    m.add("DEFAULT_CLUSTER_NAME", config::DEFAULT_CLUSTER_NAME)?;
    m.add("DEFAULT_BROKER_NAME", config::DEFAULT_BROKER_NAME)?;
    m.add(
        "DEFAULT_TRANSACTION_CHECK_INTERVAL_MS",
        config::DEFAULT_TRANSACTION_CHECK_INTERVAL.as_millis() as u64,
    )?;
    m.add(
        "DEFAULT_TRANSACTION_TIMEOUT_MS",
        config::DEFAULT_TRANSACTION_TIMEOUT.as_millis() as u64,
    )?;
    m.add(
        "DEFAULT_TRANSACTION_CHECK_MAX",
        config::DEFAULT_TRANSACTION_CHECK_MAX,
    )?;
    m.add(
        "DEFAULT_TIMER_MAX_DELAY",
        duration_text(config::DEFAULT_TIMER_MAX_DELAY),
    )?;
    m.add(
        "DEFAULT_FILE_RESERVED_TIME",
        config::DEFAULT_FILE_RESERVED_TIME_TEXT,
    )?;
    m.add(
        "DEFAULT_DISK_MAX_USED_RATIO",
        config::DEFAULT_DISK_MAX_USED_RATIO,
    )?;
    m.add(
        "DEFAULT_DISK_REFUSE_RATIO",
        config::DEFAULT_DISK_REFUSE_RATIO,
    )?;
    Ok(())
}

/// A duration as the broker's options write it, in the largest whole unit ("3d", "90m").
fn duration_text(d: std::time::Duration) -> String {
    let ms = d.as_millis();
    [
        (86_400_000, "d"),
        (3_600_000, "h"),
        (60_000, "m"),
        (1_000, "s"),
    ]
    .into_iter()
    .find(|&(unit, _)| ms > 0 && ms / unit * unit == ms)
    .map(|(unit, name)| format!("{}{name}", ms / unit))
    .unwrap_or_else(|| format!("{ms}ms"))
}

/// The per-user store directory of the `rocketmq-broker` programs.
#[pyfunction]
pub fn default_store_dir() -> PathBuf {
    config::default_store_dir()
}

/// Checks a delay-level string like `"1s 5s 10s 1m 2h"` with the broker's own parser, so
/// that Python reports exactly what the broker would refuse.
pub fn check_delay_levels(levels: &str) -> Result<(), String> {
    if levels.trim().is_empty() {
        return Err("delay_levels is empty: give at least one level, e.g. \"1s 5s 10s\"".into());
    }
    DelayLevels::parse(levels)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// Checks a delay-level string; raises ValueError saying what is wrong.
#[pyfunction]
#[pyo3(name = "check_delay_levels")]
pub fn check_delay_levels_py(levels: &str) -> PyResult<()> {
    check_delay_levels(levels).map_err(PyValueError::new_err)
}

/// Reads an optional integer keyword argument and checks it lies in `min..=max`.
fn int_arg(
    value: Option<&Bound<'_, PyAny>>,
    name: &str,
    min: i64,
    max: i64,
) -> PyResult<Option<i64>> {
    let Some(value) = value else { return Ok(None) };
    if value.is_none() {
        return Ok(None);
    }
    // bool is an int subclass in Python; `port=True` is surely a mistake.
    if value.is_instance_of::<pyo3::types::PyBool>()
        || !value.is_instance_of::<pyo3::types::PyInt>()
    {
        return Err(PyTypeError::new_err(format!(
            "{name} must be an int, not {}",
            value.get_type().name()?
        )));
    }
    let number: i128 = value.extract()?;
    if number < i128::from(min) || number > i128::from(max) {
        return Err(PyValueError::new_err(format!(
            "{name} must be between {min} and {max}, got {number}"
        )));
    }
    Ok(Some(number as i64))
}

/// Reads a path-like keyword argument (`str` or `os.PathLike`).
fn path_arg(value: &Bound<'_, PyAny>, name: &str) -> PyResult<PathBuf> {
    let is_path_like = value.is_instance_of::<PyString>() || value.hasattr("__fspath__")?;
    if !is_path_like {
        return Err(PyTypeError::new_err(format!(
            "{name} must be a str or os.PathLike (a directory path), not {}",
            value.get_type().name()?
        )));
    }
    let path: PathBuf = value.extract()?;
    if path.as_os_str().is_empty() {
        return Err(PyValueError::new_err(format!(
            "{name} is empty: give the directory where the broker keeps its files"
        )));
    }
    Ok(path)
}

/// Reads an optional `str` keyword argument.
fn str_arg(value: Option<&Bound<'_, PyAny>>, name: &str) -> PyResult<Option<String>> {
    let Some(value) = value else { return Ok(None) };
    if value.is_none() {
        return Ok(None);
    }
    if !value.is_instance_of::<PyString>() {
        return Err(PyTypeError::new_err(format!(
            "{name} must be a str, not {}",
            value.get_type().name()?
        )));
    }
    Ok(Some(value.extract()?))
}

/// Turns a start failure into a Python exception that names the cause.
fn start_error(err: std::io::Error, config: &ServerConfig) -> PyErr {
    use std::io::ErrorKind;
    let hint = match err.kind() {
        ErrorKind::AddrInUse => {
            let fixed: Vec<String> = [
                ("name server", config.namesrv_port),
                ("broker", config.broker_port),
                ("gRPC", config.grpc_port.unwrap_or(0)),
            ]
            .iter()
            .filter(|(_, port)| *port != 0)
            .map(|(role, port)| format!("{role} port {}:{port}", config.host))
            .collect();
            format!(
                "address already in use: another process listens on {}; stop it or pick \
                 another port (0 = any free port)",
                fixed.join(" or ")
            )
        }
        ErrorKind::AddrNotAvailable => format!(
            "cannot bind to host {:?}: it is not an address of this machine",
            config.host
        ),
        ErrorKind::PermissionDenied => format!(
            "permission denied: the store directory {} must be writable (and ports below 1024 \
             need privileges)",
            config.store_dir.display()
        ),
        ErrorKind::InvalidInput | ErrorKind::InvalidData => {
            return PyValueError::new_err(format!("cannot start the broker: {err}"));
        }
        _ => format!("store directory {}", config.store_dir.display()),
    };
    let message = format!("cannot start the broker: {err} ({hint})");
    match err.raw_os_error() {
        Some(errno) => PyOSError::new_err((errno, message)),
        None => PyOSError::new_err(message),
    }
}

/// An in-process name server + broker pair (see `rocketmq.broker.LocalBroker`, the public
/// wrapper). Starts in the constructor; `shutdown()` is idempotent and also runs on drop.
#[pyclass(name = "_EmbeddedCluster", module = "rocketmq._rocketmq", frozen)]
pub struct PyEmbeddedCluster {
    cluster: Mutex<Option<EmbeddedCluster>>,
    namesrv_addr: String,
    broker_addr: String,
    /// `"host:port"` of the RocketMQ 5 gRPC endpoint, when one was asked for.
    grpc_endpoint: Option<String>,
    store_dir: PathBuf,
}

#[pymethods]
impl PyEmbeddedCluster {
    #[new]
    #[pyo3(signature = (
        store_dir,
        *,
        host = None,
        namesrv_port = None,
        broker_port = None,
        flush = None,
        max_message_size = None,
        delay_levels = None,
        segment_size = None,
        cluster_name = None,
        broker_name = None,
        advertised_host = None,
        namesrv_addr = None,
        transaction_check_interval_ms = None,
        transaction_timeout_ms = None,
        transaction_check_max = None,
        timer_max_delay = None,
        message_index = None,
        file_reserved_time = None,
        disk_max_used_ratio = None,
        disk_refuse_ratio = None,
        enable_property_filter = None,
        grpc_port = None,
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        store_dir: &Bound<'_, PyAny>,
        host: Option<&Bound<'_, PyAny>>,
        namesrv_port: Option<&Bound<'_, PyAny>>,
        broker_port: Option<&Bound<'_, PyAny>>,
        flush: Option<&Bound<'_, PyAny>>,
        max_message_size: Option<&Bound<'_, PyAny>>,
        delay_levels: Option<&Bound<'_, PyAny>>,
        segment_size: Option<&Bound<'_, PyAny>>,
        cluster_name: Option<&Bound<'_, PyAny>>,
        broker_name: Option<&Bound<'_, PyAny>>,
        advertised_host: Option<&Bound<'_, PyAny>>,
        namesrv_addr: Option<&Bound<'_, PyAny>>,
        transaction_check_interval_ms: Option<&Bound<'_, PyAny>>,
        transaction_timeout_ms: Option<&Bound<'_, PyAny>>,
        transaction_check_max: Option<&Bound<'_, PyAny>>,
        timer_max_delay: Option<&Bound<'_, PyAny>>,
        message_index: Option<&Bound<'_, PyAny>>,
        file_reserved_time: Option<&Bound<'_, PyAny>>,
        disk_max_used_ratio: Option<&Bound<'_, PyAny>>,
        disk_refuse_ratio: Option<&Bound<'_, PyAny>>,
        enable_property_filter: Option<&Bound<'_, PyAny>>,
        grpc_port: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        crate::logging::follow_python_levels();
        let mut config = ServerConfig {
            store_dir: path_arg(store_dir, "store_dir")?,
            ..ServerConfig::default()
        };
        if let Some(host) = str_arg(host, "host")? {
            if host.trim().is_empty() {
                return Err(PyValueError::new_err(
                    "host is empty: give an address to bind, e.g. \"127.0.0.1\"",
                ));
            }
            config.host = host;
        }
        if let Some(port) = int_arg(namesrv_port, "namesrv_port", 0, 65535)? {
            config.namesrv_port = port as u16;
        }
        if let Some(port) = int_arg(broker_port, "broker_port", 0, 65535)? {
            config.broker_port = port as u16;
        }
        // None: no gRPC endpoint (LocalBroker picks the port it passes here).
        if let Some(port) = int_arg(grpc_port, "grpc_port", 0, 65535)? {
            config.grpc_port = Some(port as u16);
        }
        if let Some(flush) = str_arg(flush, "flush")? {
            config.flush = match flush.to_ascii_lowercase().as_str() {
                "async" => FlushMode::Async,
                "sync" => FlushMode::Sync,
                other => {
                    return Err(PyValueError::new_err(format!(
                        "flush must be \"sync\" (acknowledge after fsync) or \"async\" \
                         (flush in the background), got {other:?}"
                    )));
                }
            };
        }
        // The wire format caps a frame at 16 MiB, so a larger message limit is meaningless.
        if let Some(size) = int_arg(max_message_size, "max_message_size", 1, 16 * 1024 * 1024)? {
            config.max_message_size = size as usize;
        }
        if let Some(levels) = str_arg(delay_levels, "delay_levels")? {
            check_delay_levels(&levels).map_err(PyValueError::new_err)?;
            config.delay_levels = levels.split_whitespace().collect::<Vec<_>>().join(" ");
        }
        // A segment must hold at least one maximal message (plus its record header).
        if let Some(size) = int_arg(segment_size, "segment_size", 64 * 1024, 1 << 40)? {
            config.commit_log_segment_size = size as u64;
        }
        if let Some(name) = str_arg(cluster_name, "cluster_name")? {
            config.cluster_name = name;
        }
        if let Some(name) = str_arg(broker_name, "broker_name")? {
            config.broker_name = name;
        }
        if let Some(advertised) = str_arg(advertised_host, "advertised_host")? {
            if advertised.trim().is_empty() {
                return Err(PyValueError::new_err(
                    "advertised_host is empty: give the address clients use to reach the \
                     broker, or None to advertise the bound address",
                ));
            }
            config.advertised_host = Some(advertised);
        }
        // Broker only: register with an existing name server instead of starting one.
        if let Some(addr) = str_arg(namesrv_addr, "namesrv_addr")? {
            if addr.trim().is_empty() {
                return Err(PyValueError::new_err(
                    "namesrv_addr is empty: give the \"host:port\" of a running name server, \
                     or None to start one",
                ));
            }
            config.namesrv_addr = Some(addr);
        }
        let day_ms = 24 * 3600 * 1000;
        if let Some(ms) = int_arg(
            transaction_check_interval_ms,
            "transaction_check_interval_ms",
            1,
            day_ms,
        )? {
            config.transaction_check_interval = std::time::Duration::from_millis(ms as u64);
        }
        if let Some(ms) = int_arg(transaction_timeout_ms, "transaction_timeout_ms", 0, day_ms)? {
            config.transaction_timeout = std::time::Duration::from_millis(ms as u64);
        }
        if let Some(n) = int_arg(transaction_check_max, "transaction_check_max", 1, 1_000_000)? {
            config.transaction_check_max = n as i32;
        }
        if let Some(text) = str_arg(timer_max_delay, "timer_max_delay")? {
            config.timer_max_delay = rocketmq_server::parse_duration(&text)
                .and_then(rocketmq_server::check_timer_max_delay)
                .map_err(|e| PyValueError::new_err(format!("timer_max_delay: {e}")))?;
        }
        if let Some(on) = message_index {
            config.message_index = on.extract::<bool>().map_err(|_| {
                PyTypeError::new_err(format!(
                    "message_index must be True (keep the index for key queries) or False, \
                     got {on}"
                ))
            })?;
        }
        if let Some(on) = enable_property_filter {
            config.enable_property_filter = on.extract::<bool>().map_err(|_| {
                PyTypeError::new_err(format!(
                    "enable_property_filter must be True (serve SQL92 subscriptions) or False, \
                     got {on}"
                ))
            })?;
        }
        // Retention: the disk watermarks stay off unless asked for (a LocalBroker on a disk
        // others filled must neither drop unexpired data nor refuse sends).
        if let Some(text) = str_arg(file_reserved_time, "file_reserved_time")? {
            let reserved = rocketmq_server::parse_duration(&text)
                .map_err(|e| PyValueError::new_err(format!("file_reserved_time: {e}")))?;
            config.file_reserved_time = Some(reserved);
        }
        if let Some(p) = int_arg(disk_max_used_ratio, "disk_max_used_ratio", 0, 100)? {
            config.disk_max_used_ratio = rocketmq_server::disk_ratio("disk_max_used_ratio", p)
                .map_err(PyValueError::new_err)?;
        }
        if let Some(p) = int_arg(disk_refuse_ratio, "disk_refuse_ratio", 0, 100)? {
            config.disk_refuse_ratio = rocketmq_server::disk_ratio("disk_refuse_ratio", p)
                .map_err(PyValueError::new_err)?;
        }
        if config.commit_log_segment_size < config.max_message_size as u64 + 4096 {
            return Err(PyValueError::new_err(format!(
                "segment_size ({}) must exceed max_message_size ({}) by at least 4096 bytes",
                config.commit_log_segment_size, config.max_message_size
            )));
        }
        let started = {
            let config = config.clone();
            py.detach(move || EmbeddedCluster::start(config))
        };
        let cluster = started.map_err(|err| start_error(err, &config))?;
        Ok(PyEmbeddedCluster {
            namesrv_addr: cluster.namesrv_addr().to_string(),
            broker_addr: cluster.broker_addr().to_string(),
            grpc_endpoint: cluster.grpc_addr().map(|a| a.to_string()),
            store_dir: config.store_dir,
            cluster: Mutex::new(Some(cluster)),
        })
    }

    /// Name server address, `"host:port"`.
    #[getter]
    fn namesrv_addr(&self) -> &str {
        &self.namesrv_addr
    }

    /// Broker address as clients see it, `"host:port"`.
    #[getter]
    fn broker_addr(&self) -> &str {
        &self.broker_addr
    }

    /// The RocketMQ 5 gRPC endpoint as clients reach it, `"host:port"`; `None` when the
    /// broker was started without one.
    #[getter]
    fn grpc_endpoint(&self) -> Option<&str> {
        self.grpc_endpoint.as_deref()
    }

    /// The store directory.
    #[getter]
    fn store_dir(&self) -> PathBuf {
        self.store_dir.clone()
    }

    /// True until `shutdown()` ran.
    #[getter]
    fn running(&self) -> PyResult<bool> {
        Ok(self.lock()?.is_some())
    }

    /// Stops as a crashed broker would look to the name server: connections drop and it
    /// does not unregister (the store is still flushed). Calling it again does nothing.
    fn kill(&self, py: Python<'_>) -> PyResult<()> {
        let cluster = self.lock()?.take();
        if let Some(cluster) = cluster {
            py.detach(move || {
                cluster.kill();
                drop(cluster);
            });
        }
        Ok(())
    }

    /// Stops both servers and flushes the store; returns when everything is on disk.
    /// Calling it again does nothing.
    fn shutdown(&self, py: Python<'_>) -> PyResult<()> {
        let cluster = self.lock()?.take();
        if let Some(cluster) = cluster {
            py.detach(move || {
                cluster.shutdown();
                drop(cluster);
            });
        }
        Ok(())
    }

    fn __repr__(&self) -> PyResult<String> {
        let state = if self.lock()?.is_some() {
            "running"
        } else {
            "stopped"
        };
        Ok(format!(
            "<_EmbeddedCluster namesrv={} broker={} {state}>",
            self.namesrv_addr, self.broker_addr
        ))
    }
}

impl PyEmbeddedCluster {
    fn lock(&self) -> PyResult<std::sync::MutexGuard<'_, Option<EmbeddedCluster>>> {
        self.cluster
            .lock()
            .map_err(|_| PyRuntimeError::new_err("embedded cluster state is poisoned"))
    }
}

impl Drop for PyEmbeddedCluster {
    fn drop(&mut self) {
        let cluster = match self.cluster.get_mut() {
            Ok(slot) => slot.take(),
            Err(poisoned) => poisoned.into_inner().take(),
        };
        if let Some(cluster) = cluster {
            // Detach so server threads that log through Python can finish while we join them.
            Python::attach(|py| py.detach(move || drop(cluster)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::check_delay_levels;

    #[test]
    fn delay_levels_accept_units_and_reject_garbage() {
        assert!(
            check_delay_levels("1s 5s 10s 30s 1m 2m 3m 4m 5m 6m 7m 8m 9m 10m 20m 30m 1h 2h")
                .is_ok()
        );
        assert!(check_delay_levels("200ms 1d").is_ok());
        assert!(check_delay_levels("").unwrap_err().contains("empty"));
        assert!(check_delay_levels("1s 5x").unwrap_err().contains("\"5x\""));
        assert!(check_delay_levels("s").is_err());
        assert!(check_delay_levels("-1s").is_err());
    }

    #[test]
    fn durations_are_written_in_their_largest_whole_unit() {
        use super::duration_text;
        use std::time::Duration;
        assert_eq!(duration_text(Duration::from_secs(3 * 86_400)), "3d");
        assert_eq!(duration_text(Duration::from_secs(7_200)), "2h");
        assert_eq!(duration_text(Duration::from_secs(90)), "90s");
        assert_eq!(duration_text(Duration::from_millis(1_500)), "1500ms");
        for d in [
            Duration::from_secs(3 * 86_400),
            Duration::from_millis(1_500),
        ] {
            let back = rocketmq_server::parse_duration(&duration_text(d)).unwrap();
            assert_eq!(back, d);
        }
    }
}
