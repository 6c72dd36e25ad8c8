//! `GrpcConsumer`: the 5.x consumer (`rocketmq_client::v5::Consumer`) for the Python
//! `rocketmq.v5.SimpleConsumer` and `PushConsumer` (whose receive loop and consumption threads
//! live in Python and call `receive` here with the GIL released).
//!
//! What must stay true: every blocking call releases the GIL for its whole wait; durations
//! are seconds (float); received messages are dicts (see `convert`).

use super::completion::spawn_with_callback;
use super::convert::{message_dict, options};
use super::runtime::{block_on, runtime, to_py_err};
use pyo3::prelude::*;
use pyo3::types::PyList;
use rocketmq_client::v5::{Consumer, Filter, ReceiptRef};
use std::sync::Arc;
use std::time::Duration;

#[pyclass(module = "rocketmq._rocketmq", frozen)]
pub struct GrpcConsumer {
    inner: Arc<Consumer>,
}

fn seconds(s: f64, what: &str) -> PyResult<Duration> {
    if s.is_finite() && s >= 0.0 {
        Ok(Duration::from_secs_f64(s))
    } else {
        Err(pyo3::exceptions::PyValueError::new_err(format!(
            "{what} must be a non-negative number of seconds"
        )))
    }
}

#[pymethods]
impl GrpcConsumer {
    /// `subscriptions`: `[(topic, filter_type, expression)]`; `push` picks the push
    /// consumer's receiving (assigned queues, server-renewed invisibility).
    #[new]
    #[pyo3(signature = (endpoints, access_key, secret_key, namespace, request_timeout, tls, group, subscriptions, long_polling_timeout, push))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        endpoints: &str,
        access_key: &str,
        secret_key: &str,
        namespace: &str,
        request_timeout: f64,
        tls: bool,
        group: String,
        subscriptions: Vec<(String, i32, String)>,
        long_polling_timeout: f64,
        push: bool,
    ) -> PyResult<Self> {
        crate::logging::follow_python_levels();
        let options = options(
            endpoints,
            access_key,
            secret_key,
            namespace,
            request_timeout,
            tls,
        )?;
        let subs = subscriptions
            .into_iter()
            .map(|(topic, filter_type, expression)| {
                (
                    topic,
                    Filter {
                        filter_type,
                        expression,
                    },
                )
            })
            .collect();
        let polling = seconds(long_polling_timeout, "await_duration")?;
        let inner = Consumer::new(options, group, subs, polling, push).map_err(to_py_err)?;
        Ok(GrpcConsumer {
            inner: Arc::new(inner),
        })
    }

    #[getter]
    fn client_id(&self) -> String {
        self.inner.session().client_id().to_string()
    }

    #[getter]
    fn is_running(&self) -> bool {
        self.inner.session().is_running()
    }

    /// Whether the server says the group consumes in FIFO order.
    #[getter]
    fn fifo(&self) -> bool {
        self.inner.session().settings().fifo
    }

    /// (max_attempts, [delay seconds for attempt 1, 2, ...]) of the server's retry policy.
    fn retry_policy(&self) -> (i32, Vec<f64>) {
        let s = self.inner.session().settings();
        let delays = (1..=s.max_attempts.clamp(1, 64))
            .map(|a| s.backoff.delay(a).as_secs_f64())
            .collect();
        (s.max_attempts, delays)
    }

    fn start(&self, py: Python<'_>) -> PyResult<()> {
        let inner = self.inner.clone();
        block_on(py, async move { inner.start().await })
    }

    fn shutdown(&self, py: Python<'_>) -> PyResult<()> {
        let inner = self.inner.clone();
        block_on(py, async move {
            inner.shutdown().await;
            Ok(())
        })
    }

    /// Ends receives under way and answers later ones empty; settling still works.
    fn stop_receiving(&self) {
        self.inner.stop_receiving();
    }

    fn subscribe(
        &self,
        py: Python<'_>,
        topic: String,
        filter_type: i32,
        expression: String,
    ) -> PyResult<()> {
        let inner = self.inner.clone();
        block_on(py, async move {
            inner
                .subscribe(
                    &topic,
                    Filter {
                        filter_type,
                        expression,
                    },
                )
                .await
        })
    }

    fn unsubscribe(&self, py: Python<'_>, topic: String) -> PyResult<()> {
        let inner = self.inner.clone();
        block_on(py, async move { inner.unsubscribe(&topic).await })
    }

    /// Up to `max_message_num` message dicts; `invisible_duration` None = server-renewed.
    #[pyo3(signature = (max_message_num, invisible_duration=None))]
    fn receive<'py>(
        &self,
        py: Python<'py>,
        max_message_num: i32,
        invisible_duration: Option<f64>,
    ) -> PyResult<Bound<'py, PyList>> {
        let invisible = invisible_duration
            .map(|s| seconds(s, "invisible_duration"))
            .transpose()?;
        let inner = self.inner.clone();
        let messages = block_on(py, async move {
            inner.receive(max_message_num, invisible).await
        })?;
        let list = PyList::empty(py);
        for m in messages {
            list.append(message_dict(py, m)?)?;
        }
        Ok(list)
    }

    fn ack(
        &self,
        py: Python<'_>,
        topic: String,
        message_id: String,
        receipt_handle: String,
        endpoint: String,
    ) -> PyResult<()> {
        let inner = self.inner.clone();
        block_on(py, async move {
            inner
                .ack(ReceiptRef {
                    topic: &topic,
                    message_id: &message_id,
                    receipt_handle: &receipt_handle,
                    endpoint: &endpoint,
                })
                .await
        })
    }

    fn ack_async(
        &self,
        topic: String,
        message_id: String,
        receipt_handle: String,
        endpoint: String,
        callback: Py<PyAny>,
    ) {
        let inner = self.inner.clone();
        spawn_with_callback(
            callback,
            async move {
                inner
                    .ack(ReceiptRef {
                        topic: &topic,
                        message_id: &message_id,
                        receipt_handle: &receipt_handle,
                        endpoint: &endpoint,
                    })
                    .await
            },
            |py, ()| Ok(py.None().into_bound(py)),
        );
    }

    /// Returns the new receipt handle.
    fn change_invisible_duration(
        &self,
        py: Python<'_>,
        topic: String,
        message_id: String,
        receipt_handle: String,
        endpoint: String,
        invisible_duration: f64,
    ) -> PyResult<String> {
        let invisible = seconds(invisible_duration, "invisible_duration")?;
        let inner = self.inner.clone();
        block_on(py, async move {
            inner
                .change_invisible_duration(
                    ReceiptRef {
                        topic: &topic,
                        message_id: &message_id,
                        receipt_handle: &receipt_handle,
                        endpoint: &endpoint,
                    },
                    invisible,
                )
                .await
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn change_invisible_duration_async(
        &self,
        topic: String,
        message_id: String,
        receipt_handle: String,
        endpoint: String,
        invisible_duration: f64,
        callback: Py<PyAny>,
    ) -> PyResult<()> {
        let invisible = seconds(invisible_duration, "invisible_duration")?;
        let inner = self.inner.clone();
        spawn_with_callback(
            callback,
            async move {
                inner
                    .change_invisible_duration(
                        ReceiptRef {
                            topic: &topic,
                            message_id: &message_id,
                            receipt_handle: &receipt_handle,
                            endpoint: &endpoint,
                        },
                        invisible,
                    )
                    .await
            },
            |py, handle| Ok(handle.into_pyobject(py)?.into_any()),
        );
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn forward_to_dead_letter_queue(
        &self,
        py: Python<'_>,
        topic: String,
        message_id: String,
        receipt_handle: String,
        endpoint: String,
        delivery_attempt: i32,
        max_delivery_attempts: i32,
    ) -> PyResult<()> {
        let inner = self.inner.clone();
        block_on(py, async move {
            inner
                .forward_to_dead_letter_queue(
                    ReceiptRef {
                        topic: &topic,
                        message_id: &message_id,
                        receipt_handle: &receipt_handle,
                        endpoint: &endpoint,
                    },
                    delivery_attempt,
                    max_delivery_attempts,
                )
                .await
        })
    }
}

impl Drop for GrpcConsumer {
    fn drop(&mut self) {
        if self.inner.session().is_running() {
            let inner = self.inner.clone();
            runtime().spawn(async move { inner.shutdown().await });
        }
    }
}
