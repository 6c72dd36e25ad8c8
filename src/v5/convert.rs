//! Conversions between the 5.x client's Rust values and the plain Python values the
//! `rocketmq.v5` layer builds its public classes from: options from arguments, received
//! messages as dicts, send receipts as tuples.
//!
//! What must stay true: the dict keys are the names of `rocketmq.v5.Message`'s fields, and
//! timestamps are milliseconds since the epoch.

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};
use rocketmq_client::v5::{ClientOptions, Credentials, ReceivedMessage, SendReceipt};
use std::time::Duration;

/// (message_id, transaction_id, offset, recall_handle, topic, queue_id, broker_name, endpoint)
pub type ReceiptTuple = (String, String, i64, String, String, i32, String, String);

pub fn receipt_tuple(r: SendReceipt) -> ReceiptTuple {
    (
        r.message_id,
        r.transaction_id,
        r.offset,
        r.recall_handle,
        r.topic,
        r.queue_id,
        r.broker_name,
        r.endpoint,
    )
}

pub fn options(
    endpoints: &str,
    access_key: &str,
    secret_key: &str,
    namespace: &str,
    request_timeout_secs: f64,
    tls: bool,
) -> PyResult<ClientOptions> {
    if !(request_timeout_secs.is_finite() && request_timeout_secs > 0.0) {
        return Err(pyo3::exceptions::PyValueError::new_err(
            "request_timeout must be a positive number of seconds, e.g. 3",
        ));
    }
    Ok(ClientOptions {
        endpoints: endpoints.to_string(),
        credentials: Credentials {
            access_key: access_key.to_string(),
            secret_key: secret_key.to_string(),
        },
        namespace: namespace.to_string(),
        request_timeout: Duration::from_secs_f64(request_timeout_secs),
        tls,
    })
}

pub fn message_dict<'py>(py: Python<'py>, m: ReceivedMessage) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("topic", m.topic)?;
    d.set_item("namespace", m.namespace)?;
    d.set_item("body", PyBytes::new(py, &m.body))?;
    d.set_item("tag", m.tag)?;
    d.set_item("keys", m.keys)?;
    d.set_item("properties", m.properties)?;
    d.set_item("message_id", m.message_id)?;
    d.set_item("message_group", m.message_group)?;
    d.set_item("message_type", m.message_type)?;
    d.set_item("delivery_timestamp", m.delivery_timestamp_ms)?;
    d.set_item("priority", m.priority)?;
    d.set_item("born_host", m.born_host)?;
    d.set_item("born_timestamp", m.born_timestamp_ms)?;
    d.set_item("store_timestamp", m.store_timestamp_ms)?;
    d.set_item("delivery_attempt", m.delivery_attempt)?;
    d.set_item("receipt_handle", m.receipt_handle)?;
    d.set_item("endpoint", m.endpoint)?;
    d.set_item("corrupted", m.corrupted)?;
    Ok(d)
}
