//! `NativePushConsumer`: the Rust push consumer behind `rocketmq.client.PushConsumer`.
//!
//! The consumer's dispatcher threads call [`PyListener::consume`] with every batch that was
//! waiting; it takes the GIL once for all of them and calls the Python-side dispatch
//! function once, which runs the user's callbacks and returns one verdict per batch.

use super::error::to_py_err;
use super::message::ReceivedMessage;
use super::runtime::runtime;
use super::settings::{client_config, Credentials};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyList;
use rocketmq_client::{
    ConsumeBatch, ConsumeFrom, ConsumeStatus, ExpressionType, MessageFilter, MessageListener,
    PushConsumer, PushConsumerConfig, Subscription,
};
use std::sync::Arc;
use std::time::Duration;

struct PyListener {
    /// `dispatch(batches: list[list[ReceivedMessage]]) -> list[bool]`.
    dispatch: Py<PyAny>,
}

impl MessageListener for PyListener {
    fn consume(&self, batches: &mut [ConsumeBatch]) {
        let verdicts: Option<Vec<bool>> = Python::attach(|py| {
            let run = || -> PyResult<Vec<bool>> {
                let outer = PyList::empty(py);
                for b in batches.iter() {
                    let inner = PyList::empty(py);
                    for m in &b.messages {
                        inner.append(Py::new(py, ReceivedMessage::from_shared(m.clone()))?)?;
                    }
                    outer.append(inner)?;
                }
                self.dispatch.call1(py, (outer,))?.extract(py)
            };
            match run() {
                Ok(v) => Some(v),
                Err(e) => {
                    // The dispatch function handles user errors itself; reaching here means
                    // the library's own Python code failed. Report it and retry later.
                    e.print(py);
                    None
                }
            }
        });
        for (i, b) in batches.iter_mut().enumerate() {
            let ok = verdicts
                .as_ref()
                .and_then(|v| v.get(i))
                .copied()
                .unwrap_or(false);
            b.status = if ok {
                ConsumeStatus::Success
            } else {
                ConsumeStatus::ReconsumeLater
            };
        }
    }
}

/// A subscription from `(topic, expression, expression_type)`; a bad type or an empty SQL92
/// expression is a `ValueError`.
fn subscription(topic: String, expression: &str, expression_type: &str) -> PyResult<Subscription> {
    let filter = ExpressionType::parse(expression_type)
        .and_then(|t| MessageFilter::new(expression, t))
        .map_err(|e| PyValueError::new_err(e.to_string()))?;
    Ok(Subscription { topic, filter })
}

#[pyclass(module = "rocketmq._rocketmq", frozen)]
pub struct NativePushConsumer {
    consumer: PushConsumer,
}

#[pymethods]
impl NativePushConsumer {
    /// Starts consuming `subscriptions` (`[(topic, expression, expression_type)]`) at once;
    /// an SQL92 expression a broker refuses raises `FilterExpressionRefused`.
    #[new]
    #[pyo3(signature = (
        *,
        group,
        name_servers_list,
        subscriptions,
        dispatch,
        instance_name = "DEFAULT",
        broadcasting = false,
        orderly = false,
        thread_count = 4,
        batch_max_size = 1,
        max_reconsume_times = 16,
        consume_from_first = false,
        consume_from_timestamp = None,
        max_cached_per_queue = 1000,
        max_cached_mb_per_queue = 100,
        credentials = None,
        namesrv_domain = None,
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        group: String,
        name_servers_list: &str,
        subscriptions: Vec<(String, String, String)>,
        dispatch: Py<PyAny>,
        instance_name: &str,
        broadcasting: bool,
        orderly: bool,
        thread_count: usize,
        batch_max_size: usize,
        max_reconsume_times: i32,
        consume_from_first: bool,
        consume_from_timestamp: Option<i64>,
        max_cached_per_queue: usize,
        max_cached_mb_per_queue: usize,
        credentials: Option<Credentials>,
        namesrv_domain: Option<String>,
    ) -> PyResult<Self> {
        crate::logging::follow_python_levels();
        let client_config = client_config(
            name_servers_list,
            instance_name,
            credentials,
            namesrv_domain,
        )?;
        let config = PushConsumerConfig {
            group,
            broadcasting,
            orderly,
            consume_from: match (consume_from_timestamp, consume_from_first) {
                (Some(ms), _) => ConsumeFrom::Timestamp(ms),
                (None, true) => ConsumeFrom::FirstOffset,
                (None, false) => ConsumeFrom::LastOffset,
            },
            thread_count: thread_count.max(1),
            batch_max_size: if orderly { 1 } else { batch_max_size.max(1) },
            max_reconsume_times,
            max_cached_per_queue: max_cached_per_queue.max(1),
            max_cached_bytes_per_queue: max_cached_mb_per_queue.clamp(1, 1024) << 20,
            ..PushConsumerConfig::default()
        };
        let subs = subscriptions
            .into_iter()
            .map(|(topic, expr, expr_type)| subscription(topic, &expr, &expr_type))
            .collect::<PyResult<Vec<_>>>()?;
        let listener = Arc::new(PyListener { dispatch });
        let rt = runtime();
        let consumer = py
            .detach(|| {
                PushConsumer::start(rt.handle().clone(), client_config, config, subs, listener)
            })
            .map_err(to_py_err)?;
        Ok(NativePushConsumer { consumer })
    }

    /// Subscribes the running consumer to `topic` (replacing its subscription if it has one);
    /// an SQL92 expression a broker refuses raises `FilterExpressionRefused` and changes
    /// nothing. Releases the GIL while the brokers are asked.
    fn subscribe(
        &self,
        py: Python<'_>,
        topic: String,
        expression: &str,
        expression_type: &str,
    ) -> PyResult<()> {
        let sub = subscription(topic, expression, expression_type)?;
        py.detach(|| self.consumer.subscribe(sub))
            .map_err(to_py_err)
    }

    #[getter]
    fn client_id(&self) -> String {
        self.consumer.client_id().to_string()
    }

    /// Queues owned now, as `(topic, broker_name, queue_id)`.
    fn owned_queues(&self) -> Vec<(String, String, i32)> {
        self.consumer
            .owned_queues()
            .into_iter()
            .map(|q| (q.topic, q.broker_name, q.queue_id))
            .collect()
    }

    /// Owned queues that are being pulled from a known offset.
    fn pulling_queues(&self) -> Vec<(String, String, i32)> {
        self.consumer
            .pulling_queues()
            .into_iter()
            .map(|q| (q.topic, q.broker_name, q.queue_id))
            .collect()
    }

    /// Stops; waits up to `grace_ms` for running callbacks, commits offsets. Releases the GIL.
    #[pyo3(signature = (grace_ms=30000))]
    fn shutdown(&self, py: Python<'_>, grace_ms: u64) {
        py.detach(|| self.consumer.shutdown(Duration::from_millis(grace_ms)));
    }
}
