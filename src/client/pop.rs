//! `PopConsumer` and `PoppedMessage`: the Rust POP consumer (`rocketmq_client::PopConsumer`)
//! for Python, private for now (`rocketmq._rocketmq`, not re-exported): the tests use it,
//! and the 5.x `SimpleConsumer` will wrap it.
//!
//! What must stay true: every blocking call releases the GIL for its whole wait (`block_on`);
//! calls before `start()` or after `shutdown()` raise `ClientError` saying which to call;
//! durations are integer milliseconds.

use super::message::ReceivedMessage;
use super::runtime::{block_on, runtime};
use super::settings::{client_config, Credentials};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedStr;
use rocketmq_client::{ClientError, ClientInstance, PopConsumerConfig, PoppedMessage as Popped};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Duration;

const CREATED: u8 = 0;
const STARTED: u8 = 1;
const SHUT_DOWN: u8 = 2;

/// One received message with its receipt handle.
#[pyclass(module = "rocketmq._rocketmq", frozen)]
pub struct PoppedMessage {
    message: Py<ReceivedMessage>,
    receipt_handle: String,
    delivery_attempt: i32,
    broker_name: String,
    invisible_until_ms: i64,
}

#[pymethods]
impl PoppedMessage {
    /// The message itself (topic, body, properties, ids...).
    #[getter]
    fn message(&self, py: Python<'_>) -> Py<ReceivedMessage> {
        self.message.clone_ref(py)
    }

    /// What `ack` and `change_invisible_duration` take (Java's `POP_CK`).
    #[getter]
    fn receipt_handle(&self) -> &str {
        &self.receipt_handle
    }

    /// 1 on the first delivery, one more per redelivery.
    #[getter]
    fn delivery_attempt(&self) -> i32 {
        self.delivery_attempt
    }

    #[getter]
    fn broker_name(&self) -> &str {
        &self.broker_name
    }

    /// When the message becomes visible to the group again unless acked (ms since the epoch).
    #[getter]
    fn invisible_until_ms(&self) -> i64 {
        self.invisible_until_ms
    }

    fn __repr__(&self) -> String {
        format!(
            "PoppedMessage(receipt_handle={:?}, delivery_attempt={})",
            self.receipt_handle, self.delivery_attempt
        )
    }
}

fn to_python(py: Python<'_>, popped: Popped) -> PyResult<PoppedMessage> {
    Ok(PoppedMessage {
        message: Py::new(py, ReceivedMessage::from_message(popped.message))?,
        receipt_handle: popped.receipt_handle,
        delivery_attempt: popped.delivery_attempt,
        broker_name: popped.broker_name,
        invisible_until_ms: popped.invisible_until_ms,
    })
}

fn millis(name: &str, value: i64) -> PyResult<Duration> {
    u64::try_from(value)
        .map(Duration::from_millis)
        .map_err(|_| {
            PyValueError::new_err(format!(
                "{name}={value}: pass a duration in milliseconds, 0 or more"
            ))
        })
}

#[pyclass(module = "rocketmq._rocketmq", frozen)]
pub struct PopConsumer {
    consumer: Arc<rocketmq_client::PopConsumer>,
    state: AtomicU8,
}

impl PopConsumer {
    fn running(&self) -> Result<Arc<rocketmq_client::PopConsumer>, ClientError> {
        match self.state.load(Ordering::Acquire) {
            STARTED => Ok(self.consumer.clone()),
            SHUT_DOWN => Err(ClientError::ShutDown),
            _ => Err(ClientError::IllegalArgument(
                "the POP consumer is not started: call start() first".into(),
            )),
        }
    }
}

#[pymethods]
impl PopConsumer {
    #[new]
    #[pyo3(signature = (
        group,
        topic,
        *,
        name_servers_list,
        expression = "*",
        expression_type = "TAG",
        order = false,
        start_at_end = false,
        instance_name = "DEFAULT",
        timeout_ms = 10000,
        credentials = None,
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        group: String,
        topic: String,
        name_servers_list: &str,
        expression: &str,
        expression_type: &str,
        order: bool,
        start_at_end: bool,
        instance_name: &str,
        timeout_ms: u64,
        credentials: Option<Credentials>,
    ) -> PyResult<Self> {
        crate::logging::follow_python_levels();
        let config = rocketmq_client::ClientConfig {
            request_timeout: Duration::from_millis(timeout_ms),
            ..client_config(name_servers_list, instance_name, credentials, None)?
        };
        let client = ClientInstance::new(config, None);
        let consumer = rocketmq_client::PopConsumer::new(
            client,
            PopConsumerConfig {
                expression: expression.to_string(),
                expression_type: expression_type.to_string(),
                order,
                start_at_end,
                ..PopConsumerConfig::new(group, topic)
            },
        )
        .map_err(|e| PyValueError::new_err(e.to_string()))?;
        Ok(PopConsumer {
            consumer: Arc::new(consumer),
            state: AtomicU8::new(CREATED),
        })
    }

    /// Looks the topic's route up (raising when the name server does not know the topic)
    /// and starts the route refresh.
    fn start(&self, py: Python<'_>) -> PyResult<()> {
        if self.state.load(Ordering::Acquire) == SHUT_DOWN {
            return Err(super::error::to_py_err(ClientError::ShutDown));
        }
        let c = self.consumer.clone();
        block_on(py, async move {
            c.client().fetch_route(&c.config().topic).await.map(|_| ())
        })?;
        if self.state.swap(STARTED, Ordering::AcqRel) == CREATED {
            self.consumer.client().start_maintenance(runtime().handle());
        }
        Ok(())
    }

    /// Up to `max_num` (1..32) messages, each invisible to the group for `invisible_ms`; the
    /// broker holds the call up to `await_ms` when it has none. `[]`: nothing there.
    #[pyo3(signature = (max_num = 16, invisible_ms = 30000, await_ms = 0))]
    fn receive(
        &self,
        py: Python<'_>,
        max_num: i32,
        invisible_ms: i64,
        await_ms: i64,
    ) -> PyResult<Vec<PoppedMessage>> {
        let invisible = millis("invisible_ms", invisible_ms)?;
        let await_for = millis("await_ms", await_ms)?;
        let c = self.running().map_err(super::error::to_py_err)?;
        let popped = block_on(
            py,
            async move { c.receive(max_num, invisible, await_for).await },
        )?;
        popped.into_iter().map(|p| to_python(py, p)).collect()
    }

    /// Acknowledges one message by its receipt handle: the group never gets it again.
    fn ack(&self, py: Python<'_>, receipt_handle: String) -> PyResult<()> {
        let c = self.running().map_err(super::error::to_py_err)?;
        block_on(py, async move { c.ack(&receipt_handle).await })
    }

    /// Acknowledges many messages (one request per broker). The handles are read in place
    /// (`PyBackedStr`), not copied.
    fn ack_batch(&self, py: Python<'_>, receipt_handles: Vec<PyBackedStr>) -> PyResult<()> {
        let c = self.running().map_err(super::error::to_py_err)?;
        block_on(py, async move { c.ack_batch(&receipt_handles).await })
    }

    /// Keeps the message hidden for `invisible_ms` from now; returns its new receipt handle.
    fn change_invisible_duration(
        &self,
        py: Python<'_>,
        receipt_handle: String,
        invisible_ms: i64,
    ) -> PyResult<String> {
        let invisible = millis("invisible_ms", invisible_ms)?;
        let c = self.running().map_err(super::error::to_py_err)?;
        block_on(py, async move {
            c.change_invisible_duration(&receipt_handle, invisible)
                .await
        })
    }

    /// Closes the connections; later calls raise. Messages received and not acked come back
    /// to the group once their invisible time passes.
    fn shutdown(&self, py: Python<'_>) {
        self.state.store(SHUT_DOWN, Ordering::Release);
        let c = self.consumer.clone();
        py.detach(|| c.client().shutdown());
    }
}
