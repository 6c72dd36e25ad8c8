//! `NativeProducer`: the Rust producer behind `rocketmq.client.Producer`.

use super::{block_on, client_config, name_servers, Credentials};
use bytes::Bytes;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use rocketmq_client::{ClientInstance, Message, Producer, ProducerConfig, SendResult};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// One message of a batch as Python passes it: `(topic, body, flag, properties)`.
type WireMessage = (String, Vec<u8>, i32, BTreeMap<String, String>);

/// `(status, msg_id, offset_msg_id, queue_id, queue_offset, broker_name)`.
type SendTuple = (i32, String, String, i32, i64, String);

fn send_tuple(r: SendResult) -> SendTuple {
    (
        r.status as i32,
        r.msg_id,
        r.offset_msg_id,
        r.queue.queue_id,
        r.queue_offset,
        r.queue.broker_name,
    )
}

fn message(topic: String, body: &[u8], flag: i32, properties: BTreeMap<String, String>) -> Message {
    Message {
        topic,
        flag,
        properties,
        body: Bytes::copy_from_slice(body),
    }
}

#[pyclass(module = "rocketmq._rocketmq", frozen)]
pub struct NativeProducer {
    producer: Arc<Producer>,
}

#[pymethods]
impl NativeProducer {
    #[new]
    #[pyo3(signature = (group, name_servers_list, instance_name="DEFAULT", timeout_ms=3000, retry_times=2, compress_level=5, compress_over=4096, max_message_size=4194304, *, credentials=None, namesrv_domain=None))]
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
    ) -> PyResult<Self> {
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
        let client = ClientInstance::new(config, None);
        client.start_maintenance(super::runtime::runtime().handle());
        let producer = Producer::new(
            client,
            ProducerConfig {
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
            },
        );
        Ok(NativeProducer {
            producer: Arc::new(producer),
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
        let msgs: Vec<Message> = messages
            .into_iter()
            .map(|(t, b, f, p)| Message {
                topic: t,
                flag: f,
                properties: p,
                body: Bytes::from(b),
            })
            .collect();
        let p = self.producer.clone();
        block_on(py, async move { p.send_batch(&msgs).await }).map(send_tuple)
    }

    /// Replaces the name-server list (`"host:port;host:port"`).
    fn set_name_servers(&self, list: &str) {
        self.producer.client.set_name_servers(name_servers(list));
    }

    /// Stops the route refresh and closes the producer's connections.
    fn shutdown(&self, py: Python<'_>) {
        let p = self.producer.clone();
        py.detach(|| p.client.shutdown());
    }
}
