//! `NativeProducer`: the Rust producer behind `rocketmq.client.Producer`.
//!
//! `send_async` runs the send as a tokio task and hands its outcome to the send-callback
//! dispatcher thread ([`super::completion`]); at most [`MAX_ASYNC_IN_FLIGHT`] async sends
//! are in flight per producer (a further `send_async` waits, GIL released). `shutdown` waits
//! for pending async sends and their callbacks (bounded), unregisters the producer group
//! from the brokers, then closes connections.
//!
//! The `*_async` twins of the other calls (`queue_count`, `send_to_queue`, `send_batch`,
//! `send_oneway`, `send_half`, `end_transaction`) serve `rocketmq.asyncio`: each returns at
//! once and has `callback(ok, value or error text)` called later on the send-callback thread;
//! sends among them take an async-send slot like `send_async`, and `shutdown` waits for all.
//!
//! A producer made with a `checker` is transactional: `send_half` and `end_transaction` are
//! the two wire steps around the local transaction (which the Python layer runs on the
//! caller's thread), and the broker's check-backs call `checker(message)` with a
//! `ReceivedMessage` on a blocking thread of the runtime, with the GIL taken for that call
//! only; it returns the `TransactionStatus` value (0 commit, 1 rollback, anything else
//! unknown).

use super::completion::{
    dispatch, on_dispatcher_thread, spawn_with_callback, Completion, Payload, PendingCallbacks,
};
use super::error::{error_text, ClientError};
use super::message::ReceivedMessage;
use super::runtime::{block_on, runtime};
use super::send_result::{send_result, send_tuple, SendTuple};
use super::settings::{client_config, name_servers, Credentials};
use bytes::Bytes;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use rocketmq_client::{
    ClientInstance, Message, MessageExt, Producer, ProducerConfig, TransactionCheckHandler,
    TransactionChecker, TransactionState,
};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// One message of a batch as Python passes it: `(topic, body, flag, properties)`.
type WireMessage = (String, Vec<u8>, i32, BTreeMap<String, String>);

/// Async sends of one producer in flight at once; more wait for a slot (back pressure).
pub const MAX_ASYNC_IN_FLIGHT: usize = 10_000;

fn message(topic: String, body: &[u8], flag: i32, properties: BTreeMap<String, String>) -> Message {
    Message {
        topic,
        flag,
        properties,
        body: Bytes::copy_from_slice(body),
    }
}

/// A message of a list argument; its body (already copied out of Python) is not copied again.
fn wire_message((topic, body, flag, properties): WireMessage) -> Message {
    Message {
        topic,
        flag,
        properties,
        body: Bytes::from(body),
    }
}

/// The Python `TransactionStatus` value as the outcome of a transaction.
fn transaction_state(status: i32) -> TransactionState {
    match status {
        0 => TransactionState::Commit,
        1 => TransactionState::Rollback,
        _ => TransactionState::Unknown,
    }
}

/// Calls the Python check-back wrapper with the half message.
struct PyTransactionChecker {
    callback: Py<PyAny>,
}

impl TransactionChecker for PyTransactionChecker {
    fn check(&self, msg: &MessageExt) -> TransactionState {
        Python::attach(|py| {
            let view = ReceivedMessage::from_message(msg.clone());
            let outcome = Py::new(py, view)
                .and_then(|m| self.callback.call1(py, (m,)))
                .and_then(|r| r.extract::<i32>(py));
            match outcome {
                Ok(status) => transaction_state(status),
                Err(e) => {
                    // The library's own wrapper failed (user errors are handled there).
                    e.write_unraisable(py, Some(self.callback.bind(py)));
                    TransactionState::Unknown
                }
            }
        })
    }
}

#[pyclass(module = "rocketmq._rocketmq", frozen)]
pub struct NativeProducer {
    producer: Arc<Producer>,
    pending: Arc<PendingCallbacks>,
    async_slots: Arc<tokio::sync::Semaphore>,
    /// The check-back handler of a transactional producer.
    check_handler: Option<Arc<TransactionCheckHandler>>,
}

impl NativeProducer {
    /// `n` of the async-send slots, waiting (GIL released) while too many sends are in flight.
    fn async_permits(&self, py: Python<'_>, n: u32) -> PyResult<tokio::sync::OwnedSemaphorePermit> {
        match self.async_slots.clone().try_acquire_many_owned(n) {
            Ok(p) => Ok(p),
            Err(_) => {
                let slots = self.async_slots.clone();
                let rt = runtime();
                py.detach(|| rt.block_on(slots.acquire_many_owned(n)))
                    .map_err(|_| ClientError::new_err("the producer is shut down"))
            }
        }
    }
}

#[pymethods]
impl NativeProducer {
    #[new]
    #[pyo3(signature = (
        *,
        group,
        name_servers_list,
        instance_name = "DEFAULT",
        timeout_ms = 3000,
        retry_times = 2,
        compress_level = 5,
        compress_over = 4096,
        max_message_size = 4194304,
        credentials = None,
        namesrv_domain = None,
        checker = None,
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        group: String,
        name_servers_list: &str,
        instance_name: &str,
        timeout_ms: u64,
        retry_times: u32,
        compress_level: i32,
        compress_over: usize,
        max_message_size: usize,
        credentials: Option<Credentials>,
        namesrv_domain: Option<String>,
        checker: Option<Py<PyAny>>,
    ) -> PyResult<Self> {
        crate::logging::follow_python_levels();
        if !(-1..=9).contains(&compress_level) {
            return Err(PyValueError::new_err(format!(
                "compress_level must be between -1 and 9, got {compress_level}"
            )));
        }
        let config = rocketmq_client::ClientConfig {
            request_timeout: Duration::from_millis(timeout_ms),
            ..client_config(
                name_servers_list,
                instance_name,
                credentials,
                namesrv_domain,
            )?
        };
        let producer_config = ProducerConfig {
            group,
            send_timeout: Duration::from_millis(timeout_ms),
            retry_times,
            compress_over,
            // zlib's "default" level (-1) is 6.
            compress_level: if compress_level < 0 {
                6
            } else {
                compress_level as u32
            },
            max_message_size,
            ..ProducerConfig::default()
        };
        let (producer, check_handler) = match checker {
            Some(callback) => {
                let (p, h) = Producer::new_transactional(
                    config,
                    producer_config,
                    Arc::new(PyTransactionChecker { callback }),
                );
                (p, Some(h))
            }
            None => (
                Producer::new(ClientInstance::new(config, None), producer_config),
                None,
            ),
        };
        let rt = runtime();
        producer.client.start_maintenance(rt.handle());
        producer.start_heartbeats(rt.handle());
        Ok(NativeProducer {
            producer: Arc::new(producer),
            pending: Arc::new(PendingCallbacks::default()),
            async_slots: Arc::new(tokio::sync::Semaphore::new(MAX_ASYNC_IN_FLIGHT)),
            check_handler,
        })
    }

    /// Sends and waits; returns a send tuple.
    fn send(
        &self,
        py: Python<'_>,
        topic: String,
        body: &[u8],
        flag: i32,
        properties: BTreeMap<String, String>,
    ) -> PyResult<SendTuple> {
        let msg = message(topic, body, flag, properties);
        let p = self.producer.clone();
        block_on(py, async move { p.send(&msg).await }).map(send_tuple)
    }

    /// Starts a send and returns at once; `callback(ok, payload)` is called later on the
    /// send-callback thread with the send tuple (`ok` true) or the error text (`ok` false).
    fn send_async(
        &self,
        py: Python<'_>,
        topic: String,
        body: &[u8],
        flag: i32,
        properties: BTreeMap<String, String>,
        callback: Py<PyAny>,
    ) -> PyResult<()> {
        let msg = message(topic, body, flag, properties);
        let rt = runtime();
        let permit = self.async_permits(py, 1)?;
        self.pending.add();
        let completion_parts = (callback, self.pending.clone());
        let p = self.producer.clone();
        rt.spawn(async move {
            let outcome = p
                .send(&msg)
                .await
                .map(send_tuple)
                .map_err(|e| error_text(&e));
            drop(permit);
            let (callback, pending) = completion_parts;
            dispatch(Completion {
                callback,
                payload: Payload::One(outcome),
                pending,
            });
        });
        Ok(())
    }

    /// Starts sending every message at once (each one as `send_async` would) and returns;
    /// `callback(True, [(ok, payload), ...])` is called once, on the send-callback thread, when
    /// all have finished, with one entry per message in order (the send tuple, or the error
    /// text). One Python call per group instead of per message.
    fn send_many_async(
        &self,
        py: Python<'_>,
        messages: Vec<WireMessage>,
        callback: Py<PyAny>,
    ) -> PyResult<()> {
        let count = messages.len();
        if count == 0 || count > MAX_ASYNC_IN_FLIGHT {
            return Err(PyValueError::new_err(format!(
                "send_many_async takes 1 to {MAX_ASYNC_IN_FLIGHT} messages, got {count}"
            )));
        }
        let msgs: Vec<Message> = messages.into_iter().map(wire_message).collect();
        let rt = runtime();
        let permits = self.async_permits(py, count as u32)?;
        self.pending.add();
        let completion_parts = (callback, self.pending.clone());
        let p = self.producer.clone();
        rt.spawn(async move {
            let sends: Vec<_> = msgs
                .into_iter()
                .map(|m| {
                    let p = p.clone();
                    tokio::spawn(async move {
                        p.send(&m).await.map(send_tuple).map_err(|e| error_text(&e))
                    })
                })
                .collect();
            let mut outcomes = Vec::with_capacity(sends.len());
            for send in sends {
                outcomes.push(
                    send.await
                        .unwrap_or_else(|e| Err(format!("the send failed: {e}"))),
                );
            }
            drop(permits);
            let (callback, pending) = completion_parts;
            dispatch(Completion {
                callback,
                payload: Payload::Many(outcomes),
                pending,
            });
        });
        Ok(())
    }

    /// Sends without waiting for the broker.
    fn send_oneway(
        &self,
        py: Python<'_>,
        topic: String,
        body: &[u8],
        flag: i32,
        properties: BTreeMap<String, String>,
    ) -> PyResult<()> {
        let msg = message(topic, body, flag, properties);
        let p = self.producer.clone();
        block_on(py, async move { p.send_oneway(&msg).await })
    }

    /// Number of writable queues of `topic` (for queue selectors).
    fn queue_count(&self, py: Python<'_>, topic: String) -> PyResult<usize> {
        let p = self.producer.clone();
        block_on(py, async move {
            p.client
                .publish_route(&topic)
                .await
                .map(|r| r.publish.len())
        })
    }

    /// Sends to the writable queue at `index`, retrying on that queue only.
    #[pyo3(signature = (topic, body, flag, properties, index, attempts=3))]
    #[allow(clippy::too_many_arguments)]
    fn send_to_queue(
        &self,
        py: Python<'_>,
        topic: String,
        body: &[u8],
        flag: i32,
        properties: BTreeMap<String, String>,
        index: usize,
        attempts: u32,
    ) -> PyResult<SendTuple> {
        let msg = message(topic, body, flag, properties);
        let p = self.producer.clone();
        block_on(py, async move {
            p.send_to_selected(&msg, |_| Ok(index), attempts).await
        })
        .map(send_tuple)
    }

    /// Sends `(topic, body, flag, properties)` items as one batch.
    fn send_batch(&self, py: Python<'_>, messages: Vec<WireMessage>) -> PyResult<SendTuple> {
        let msgs: Vec<Message> = messages.into_iter().map(wire_message).collect();
        let p = self.producer.clone();
        block_on(py, async move { p.send_batch(&msgs).await }).map(send_tuple)
    }

    /// Sends the message as the half message of a transaction (`TRAN_MSG`, `PGROUP`, prepared
    /// flag). Returns the send tuple and the half message's properties (with its id).
    fn send_half(
        &self,
        py: Python<'_>,
        topic: String,
        body: &[u8],
        flag: i32,
        properties: BTreeMap<String, String>,
    ) -> PyResult<(SendTuple, BTreeMap<String, String>)> {
        let half = self
            .producer
            .half_message(&message(topic, body, flag, properties));
        let p = self.producer.clone();
        let result = block_on(py, async { p.send_half(&half).await })?;
        Ok((send_tuple(result), half.properties))
    }

    /// Ends the transaction of the half message sent to `topic` with `result` (a send tuple
    /// from `send_half`); `status` is a `TransactionStatus` value. One-way.
    fn end_transaction(
        &self,
        py: Python<'_>,
        topic: String,
        result: SendTuple,
        status: i32,
    ) -> PyResult<()> {
        let half_result = send_result(topic, result);
        let p = self.producer.clone();
        block_on(py, async move {
            p.end_transaction(&half_result, transaction_state(status))
                .await
        })
    }

    /// Cancels the timer message `recall_handle` names (the last item of its send tuple)
    /// before its time; returns its message id.
    fn recall(&self, py: Python<'_>, topic: String, recall_handle: String) -> PyResult<String> {
        let p = self.producer.clone();
        block_on(py, async move { p.recall(&topic, &recall_handle).await })
    }

    /// `queue_count` for asyncio: `callback(True, count)` or `callback(False, error text)`.
    fn queue_count_async(&self, topic: String, callback: Py<PyAny>) {
        let p = self.producer.clone();
        spawn_with_callback(
            &self.pending,
            callback,
            (),
            async move {
                p.client
                    .publish_route(&topic)
                    .await
                    .map(|r| r.publish.len())
            },
            |py, n| Ok(n.into_pyobject(py)?.into_any()),
        );
    }

    /// `send_to_queue` for asyncio: `callback(True, send tuple)` or `callback(False, text)`.
    #[pyo3(signature = (topic, body, flag, properties, index, attempts, callback))]
    #[allow(clippy::too_many_arguments)]
    fn send_to_queue_async(
        &self,
        py: Python<'_>,
        topic: String,
        body: &[u8],
        flag: i32,
        properties: BTreeMap<String, String>,
        index: usize,
        attempts: u32,
        callback: Py<PyAny>,
    ) -> PyResult<()> {
        let msg = message(topic, body, flag, properties);
        let permit = self.async_permits(py, 1)?;
        let p = self.producer.clone();
        spawn_with_callback(
            &self.pending,
            callback,
            permit,
            async move {
                p.send_to_selected(&msg, |_| Ok(index), attempts)
                    .await
                    .map(send_tuple)
            },
            |py, t| Ok(t.into_pyobject(py)?.into_any()),
        );
        Ok(())
    }

    /// `send_batch` for asyncio: `callback(True, send tuple)` or `callback(False, text)`.
    fn send_batch_async(
        &self,
        py: Python<'_>,
        messages: Vec<WireMessage>,
        callback: Py<PyAny>,
    ) -> PyResult<()> {
        let msgs: Vec<Message> = messages.into_iter().map(wire_message).collect();
        let permit = self.async_permits(py, 1)?;
        let p = self.producer.clone();
        spawn_with_callback(
            &self.pending,
            callback,
            permit,
            async move { p.send_batch(&msgs).await.map(send_tuple) },
            |py, t| Ok(t.into_pyobject(py)?.into_any()),
        );
        Ok(())
    }

    /// `send_oneway` for asyncio: `callback(True, None)` once the request is written.
    fn send_oneway_async(
        &self,
        py: Python<'_>,
        topic: String,
        body: &[u8],
        flag: i32,
        properties: BTreeMap<String, String>,
        callback: Py<PyAny>,
    ) -> PyResult<()> {
        let msg = message(topic, body, flag, properties);
        let permit = self.async_permits(py, 1)?;
        let p = self.producer.clone();
        spawn_with_callback(
            &self.pending,
            callback,
            permit,
            async move { p.send_oneway(&msg).await },
            |py, ()| Ok(py.None().into_bound(py)),
        );
        Ok(())
    }

    /// `send_half` for asyncio: `callback(True, (send tuple, half properties))` or
    /// `callback(False, text)`.
    fn send_half_async(
        &self,
        py: Python<'_>,
        topic: String,
        body: &[u8],
        flag: i32,
        properties: BTreeMap<String, String>,
        callback: Py<PyAny>,
    ) -> PyResult<()> {
        let half = self
            .producer
            .half_message(&message(topic, body, flag, properties));
        let permit = self.async_permits(py, 1)?;
        let p = self.producer.clone();
        spawn_with_callback(
            &self.pending,
            callback,
            permit,
            async move {
                let result = p.send_half(&half).await?;
                Ok((send_tuple(result), half.properties))
            },
            |py, pair| Ok(pair.into_pyobject(py)?.into_any()),
        );
        Ok(())
    }

    /// `end_transaction` for asyncio: `callback(True, None)` once the one-way request is
    /// written.
    fn end_transaction_async(
        &self,
        topic: String,
        result: SendTuple,
        status: i32,
        callback: Py<PyAny>,
    ) {
        let half_result = send_result(topic, result);
        let p = self.producer.clone();
        spawn_with_callback(
            &self.pending,
            callback,
            (),
            async move {
                p.end_transaction(&half_result, transaction_state(status))
                    .await
            },
            |py, ()| Ok(py.None().into_bound(py)),
        );
    }

    /// Replaces the name-server list (`"host:port;host:port"`).
    fn set_name_servers(&self, list: &str) {
        self.producer.client.set_name_servers(name_servers(list));
    }

    /// Waits (GIL released, bounded by `wait_ms`) until every async send has completed and
    /// its callback has run (not when called from a callback), then stops the route refresh
    /// and closes the producer's connections. Returns false when the wait timed out.
    #[pyo3(signature = (wait_ms=None))]
    fn shutdown(&self, py: Python<'_>, wait_ms: Option<u64>) -> bool {
        let p = self.producer.clone();
        let pending = self.pending.clone();
        // Long enough for a send with every retry to finish on its own.
        let attempts = u64::from(p.config.retry_times) + 1;
        let default_wait = p.config.send_timeout.as_millis() as u64 * attempts + 1000;
        let wait = Duration::from_millis(wait_ms.unwrap_or(default_wait));
        if let Some(h) = &self.check_handler {
            h.stop();
        }
        py.detach(|| {
            let idle = on_dispatcher_thread() || pending.wait_idle(wait);
            runtime().block_on(p.shutdown());
            idle
        })
    }
}
