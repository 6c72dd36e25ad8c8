//! Received messages as plain tuples, the shape `rocketmq.client.ReceivedMessage` unpacks.

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyTuple};
use rocketmq_client::MessageExt;
use rocketmq_protocol::properties as prop;

/// `(topic, tags, keys, body, id, offset_msg_id, queue_id, queue_offset, commit_log_offset,
///   reconsume_times, store_size, born_timestamp, store_timestamp,
///   prepared_transaction_offset, properties, born_host, store_host)`.
/// The topic of a retried message is its original topic (from `RETRY_TOPIC`).
pub fn message_tuple<'py>(py: Python<'py>, m: &MessageExt) -> PyResult<Bound<'py, PyTuple>> {
    let props = PyDict::new(py);
    for (k, v) in &m.properties {
        props.set_item(k, v)?;
    }
    let topic = m
        .property(prop::RETRY_TOPIC)
        .filter(|_| m.topic.starts_with("%RETRY%"))
        .unwrap_or(&m.topic);
    let bytes_of = |s: Option<&str>| PyBytes::new(py, s.unwrap_or("").as_bytes());
    let items: [Bound<'py, PyAny>; 17] = [
        topic.into_pyobject(py)?.into_any(),
        bytes_of(m.tags()).into_any(),
        bytes_of(m.keys()).into_any(),
        PyBytes::new(py, &m.body).into_any(),
        m.msg_id.as_str().into_pyobject(py)?.into_any(),
        m.offset_msg_id.as_str().into_pyobject(py)?.into_any(),
        m.queue_id.into_pyobject(py)?.into_any(),
        m.queue_offset.into_pyobject(py)?.into_any(),
        m.commit_log_offset.into_pyobject(py)?.into_any(),
        m.reconsume_times.into_pyobject(py)?.into_any(),
        m.store_size.into_pyobject(py)?.into_any(),
        m.born_timestamp.into_pyobject(py)?.into_any(),
        m.store_timestamp.into_pyobject(py)?.into_any(),
        m.prepared_transaction_offset.into_pyobject(py)?.into_any(),
        props.into_any(),
        m.born_host.to_string().into_pyobject(py)?.into_any(),
        m.store_host.to_string().into_pyobject(py)?.into_any(),
    ];
    PyTuple::new(py, items)
}
