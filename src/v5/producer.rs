//! `GrpcProducer`: the 5.x producer (`rocketmq_client::v5::Producer`) for the Python
//! `rocketmq.v5.Producer`, which validates messages and wraps results in the official classes.
//!
//! What must stay true: every blocking call releases the GIL for its whole wait; the
//! transaction checker (a Python callable) is called on a blocking thread of the runtime
//! with the GIL taken there, and an exception in it leaves the transaction for a later check.

use super::completion::completion;
use super::convert::{message_dict, options, receipt_tuple, ReceiptTuple};
use super::runtime::{block_on, runtime};
use pyo3::prelude::*;
use rocketmq_client::v5::{OutgoingMessage, Producer, ReceivedMessage, TransactionCheck};
use std::collections::HashMap;
use std::sync::Arc;

struct PythonChecker(Py<PyAny>);

impl TransactionCheck for PythonChecker {
    fn check(&self, message: ReceivedMessage) -> Option<bool> {
        Python::attach(|py| {
            let result = message_dict(py, message)
                .and_then(|d| self.0.call1(py, (d,)))
                .and_then(|r| r.extract::<Option<bool>>(py));
            match result {
                Ok(decision) => decision,
                Err(e) => {
                    e.write_unraisable(py, Some(self.0.bind(py)));
                    None
                }
            }
        })
    }
}

#[pyclass(module = "rocketmq._rocketmq", frozen)]
pub struct GrpcProducer {
    inner: Arc<Producer>,
}

#[allow(clippy::too_many_arguments)]
fn outgoing(
    topic: String,
    body: Vec<u8>,
    tag: Option<String>,
    keys: Vec<String>,
    properties: HashMap<String, String>,
    message_group: Option<String>,
    delivery_timestamp_ms: Option<i64>,
    priority: Option<i32>,
    transactional: bool,
) -> OutgoingMessage {
    OutgoingMessage {
        topic,
        body,
        tag,
        keys,
        properties,
        message_group,
        delivery_timestamp_ms,
        transactional,
        priority,
    }
}

#[pymethods]
impl GrpcProducer {
    /// `checker(message_dict) -> True (commit) | False (rollback) | None (ask again later)`.
    #[new]
    #[pyo3(signature = (endpoints, access_key, secret_key, namespace, request_timeout, tls, topics, checker=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        endpoints: &str,
        access_key: &str,
        secret_key: &str,
        namespace: &str,
        request_timeout: f64,
        tls: bool,
        topics: Vec<String>,
        checker: Option<Py<PyAny>>,
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
        let checker = checker.map(|c| Arc::new(PythonChecker(c)) as Arc<dyn TransactionCheck>);
        let inner = Producer::new(options, topics, checker).map_err(super::runtime::to_py_err)?;
        Ok(GrpcProducer {
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

    #[pyo3(signature = (topic, body, tag, keys, properties, message_group, delivery_timestamp_ms, priority, transactional))]
    #[allow(clippy::too_many_arguments)]
    fn send(
        &self,
        py: Python<'_>,
        topic: String,
        body: Vec<u8>,
        tag: Option<String>,
        keys: Vec<String>,
        properties: HashMap<String, String>,
        message_group: Option<String>,
        delivery_timestamp_ms: Option<i64>,
        priority: Option<i32>,
        transactional: bool,
    ) -> PyResult<ReceiptTuple> {
        let msg = outgoing(
            topic,
            body,
            tag,
            keys,
            properties,
            message_group,
            delivery_timestamp_ms,
            priority,
            transactional,
        );
        let inner = self.inner.clone();
        block_on(py, async move { inner.send(&msg).await.map(receipt_tuple) })
    }

    /// Like `send`; `callback(True, receipt_tuple)` or `callback(False, exception)` runs on
    /// the callback thread when it ends.
    #[pyo3(signature = (topic, body, tag, keys, properties, message_group, delivery_timestamp_ms, priority, callback))]
    #[allow(clippy::too_many_arguments)]
    fn send_async(
        &self,
        topic: String,
        body: Vec<u8>,
        tag: Option<String>,
        keys: Vec<String>,
        properties: HashMap<String, String>,
        message_group: Option<String>,
        delivery_timestamp_ms: Option<i64>,
        priority: Option<i32>,
        callback: Py<PyAny>,
    ) {
        let msg = outgoing(
            topic,
            body,
            tag,
            keys,
            properties,
            message_group,
            delivery_timestamp_ms,
            priority,
            false,
        );
        let done = completion(callback, |py, receipt| {
            Ok(receipt_tuple(receipt).into_pyobject(py)?.into_any())
        });
        let runtime = runtime();
        self.inner.send_then(runtime.handle(), &msg, Box::new(done));
    }

    /// Cancels a delay message not delivered yet; returns its message id.
    fn recall(&self, py: Python<'_>, topic: String, recall_handle: String) -> PyResult<String> {
        let inner = self.inner.clone();
        block_on(
            py,
            async move { inner.recall(&topic, &recall_handle).await },
        )
    }

    fn end_transaction(
        &self,
        py: Python<'_>,
        endpoint: String,
        topic: String,
        message_id: String,
        transaction_id: String,
        commit: bool,
    ) -> PyResult<()> {
        let inner = self.inner.clone();
        block_on(py, async move {
            inner
                .end_transaction(&endpoint, &topic, &message_id, &transaction_id, commit)
                .await
        })
    }
}

impl Drop for GrpcProducer {
    fn drop(&mut self) {
        if self.inner.session().is_running() {
            let inner = self.inner.clone();
            runtime().spawn(async move { inner.shutdown().await });
        }
    }
}
