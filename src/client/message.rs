//! `ReceivedMessage`: a received message as a lazy Python object.
//!
//! It holds the Rust message (shared with the consumer, which still acknowledges or sends it
//! back) and makes Python objects only for the fields that are read. A consumer callback that
//! reads nothing costs one object per message instead of the 17 values, dict and tuple of an
//! eager copy. The data never changes: a message stays valid after the callback returns, and
//! `properties` returns a fresh dict each time.
//!
//! `rocketmq.client.ReceivedMessage` (and `RecvMessage`) is this class. The library also
//! builds it from a field tuple, passed by keyword (`ReceivedMessage(fields=...)`, see
//! [`ReceivedMessage::new`]), to describe outgoing messages to queue selectors and
//! local-transaction callbacks, and pickles it the same way.

use pyo3::exceptions::{PyTypeError, PyUnicodeDecodeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBytes, PyDict, PyString, PyTuple, PyType};
use rocketmq_client::MessageExt;
use rocketmq_protocol::properties as prop;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

/// The number of fields of the tuple form (see [`ReceivedMessage::fields`]).
const FIELD_COUNT: usize = 17;

/// What `__reduce__` returns: `copyreg.__newobj_ex__` and its `(cls, args, kwargs)`.
type KeywordReduce<'py> = (
    Bound<'py, PyAny>,
    (Bound<'py, PyType>, Bound<'py, PyTuple>, Bound<'py, PyDict>),
);

#[pyclass(module = "rocketmq.client", name = "ReceivedMessage", frozen)]
pub struct ReceivedMessage {
    msg: Arc<MessageExt>,
    /// Born and store host as given, for messages built from a tuple (outgoing views carry
    /// `""`); `None`: the socket addresses of `msg`.
    hosts: Option<(String, String)>,
    /// The body as Python bytes, made on first read.
    body: PyOnceLock<Py<PyBytes>>,
}

impl ReceivedMessage {
    pub fn from_shared(msg: Arc<MessageExt>) -> ReceivedMessage {
        ReceivedMessage {
            msg,
            hosts: None,
            body: PyOnceLock::new(),
        }
    }

    pub fn from_message(msg: MessageExt) -> ReceivedMessage {
        Self::from_shared(Arc::new(msg))
    }

    /// The topic the application sent to: a retried message's original topic.
    fn topic_str(&self) -> &str {
        let m = &self.msg;
        m.property(prop::RETRY_TOPIC)
            .filter(|_| m.topic.starts_with("%RETRY%"))
            .unwrap_or(&m.topic)
    }

    fn host(&self, born: bool) -> String {
        match (&self.hosts, born) {
            (Some((b, _)), true) => b.clone(),
            (Some((_, s)), false) => s.clone(),
            (None, true) => self.msg.born_host.to_string(),
            (None, false) => self.msg.store_host.to_string(),
        }
    }

    fn body_bytes<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        self.body
            .get_or_init(py, || PyBytes::new(py, &self.msg.body).unbind())
            .bind(py)
            .clone()
    }
}

/// A property name given as `str`, `bytes` or a `MessageProperty` member.
fn property_name(name: &Bound<'_, PyAny>) -> PyResult<String> {
    if let Ok(s) = name.cast::<PyString>() {
        return Ok(s.to_cow()?.into_owned());
    }
    if let Ok(b) = name.cast::<PyBytes>() {
        return String::from_utf8(b.as_bytes().to_vec())
            .map_err(|_| PyValueError::new_err("property name must be UTF-8"));
    }
    if name.hasattr("value")? && !name.is_none() {
        let value = name.getattr("value")?;
        if value.cast::<PyString>().is_ok() {
            return property_name(&value);
        }
    }
    Err(PyTypeError::new_err(format!(
        "property name must be str, bytes or a MessageProperty, got {}",
        name.get_type().name()?
    )))
}

#[pymethods]
impl ReceivedMessage {
    /// Built by the library from the 17-field tuple of [`Self::fields`]; not meant to be
    /// called by applications.
    #[new]
    #[pyo3(signature = (*, fields))]
    fn new(fields: &Bound<'_, PyTuple>) -> PyResult<Self> {
        if fields.len() != FIELD_COUNT {
            return Err(PyValueError::new_err(format!(
                "ReceivedMessage takes a tuple of {FIELD_COUNT} fields, got {}",
                fields.len()
            )));
        }
        let f = |i: usize| fields.get_item(i);
        let mut properties: BTreeMap<String, String> = f(14)?.extract()?;
        for (i, name) in [(1, prop::TAGS), (2, prop::KEYS)] {
            let value: Vec<u8> = f(i)?.extract()?;
            if !value.is_empty() && !properties.contains_key(name) {
                let text = String::from_utf8(value)
                    .map_err(|_| PyValueError::new_err(format!("{name} must be UTF-8")))?;
                properties.insert(name.to_string(), text);
            }
        }
        let unspecified = SocketAddr::from(([0, 0, 0, 0], 0));
        let msg = MessageExt {
            topic: f(0)?.extract()?,
            flag: 0,
            body: f(3)?.extract::<Vec<u8>>()?.into(),
            properties,
            queue_id: f(6)?.extract()?,
            queue_offset: f(7)?.extract()?,
            commit_log_offset: f(8)?.extract()?,
            sys_flag: 0,
            born_timestamp: f(11)?.extract()?,
            born_host: unspecified,
            store_timestamp: f(12)?.extract()?,
            store_host: unspecified,
            reconsume_times: f(9)?.extract()?,
            prepared_transaction_offset: f(13)?.extract()?,
            body_crc: 0,
            store_size: f(10)?.extract()?,
            msg_id: f(4)?.extract()?,
            offset_msg_id: f(5)?.extract()?,
        };
        Ok(ReceivedMessage {
            msg: Arc::new(msg),
            hosts: Some((f(15)?.extract()?, f(16)?.extract()?)),
            body: PyOnceLock::new(),
        })
    }

    /// `(topic, tags, keys, body, id, offset_msg_id, queue_id, queue_offset,
    /// commit_log_offset, reconsume_times, store_size, born_timestamp, store_timestamp,
    /// prepared_transaction_offset, properties, born_host, store_host)`.
    fn fields<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        let m = &self.msg;
        let items: [Bound<'py, PyAny>; FIELD_COUNT] = [
            self.topic_str().into_pyobject(py)?.into_any(),
            self.tags(py).into_any(),
            self.keys(py).into_any(),
            self.body_bytes(py).into_any(),
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
            self.properties(py)?.into_any(),
            self.host(true).into_pyobject(py)?.into_any(),
            self.host(false).into_pyobject(py)?.into_any(),
        ];
        PyTuple::new(py, items)
    }

    /// Pickles as the field tuple, given back to the constructor by keyword:
    /// `copyreg.__newobj_ex__(cls, (), {"fields": fields})`.
    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<KeywordReduce<'py>> {
        let py = slf.py();
        let new_with_keywords = py.import("copyreg")?.getattr("__newobj_ex__")?;
        let keywords = PyDict::new(py);
        keywords.set_item("fields", slf.get().fields(py)?)?;
        Ok((
            new_with_keywords,
            (slf.get_type(), PyTuple::empty(py), keywords),
        ))
    }

    /// The topic the message was sent to (a retried message's original topic).
    #[getter]
    fn topic(&self) -> &str {
        self.topic_str()
    }

    /// The ``TAGS`` property as bytes, ``b''`` when absent.
    #[getter]
    fn tags<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, self.msg.tags().unwrap_or("").as_bytes())
    }

    /// The ``KEYS`` property as bytes, ``b''`` when absent.
    #[getter]
    fn keys<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, self.msg.keys().unwrap_or("").as_bytes())
    }

    /// The (decompressed) body.
    #[getter]
    fn body<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        self.body_bytes(py)
    }

    /// The message id (the producer's ``UNIQ_KEY``, else the offset id).
    #[getter]
    fn id(&self) -> &str {
        &self.msg.msg_id
    }

    /// The broker's id: store host and commit-log offset, in hex.
    #[getter]
    fn offset_msg_id(&self) -> &str {
        &self.msg.offset_msg_id
    }

    #[getter]
    fn queue_id(&self) -> i32 {
        self.msg.queue_id
    }

    #[getter]
    fn queue_offset(&self) -> i64 {
        self.msg.queue_offset
    }

    #[getter]
    fn commit_log_offset(&self) -> i64 {
        self.msg.commit_log_offset
    }

    /// How many times the message was delivered before this delivery.
    #[getter]
    fn reconsume_times(&self) -> i32 {
        self.msg.reconsume_times
    }

    #[getter]
    fn store_size(&self) -> i32 {
        self.msg.store_size
    }

    /// When the producer created it, in milliseconds since the epoch.
    #[getter]
    fn born_timestamp(&self) -> i64 {
        self.msg.born_timestamp
    }

    /// When the broker stored it, in milliseconds since the epoch.
    #[getter]
    fn store_timestamp(&self) -> i64 {
        self.msg.store_timestamp
    }

    #[getter]
    fn prepared_transaction_offset(&self) -> i64 {
        self.msg.prepared_transaction_offset
    }

    /// Every property, as a new dict.
    #[getter]
    fn properties<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let props = PyDict::new(py);
        for (k, v) in &self.msg.properties {
            props.set_item(k, v)?;
        }
        Ok(props)
    }

    /// The producer's address, ``"ip:port"``.
    #[getter]
    fn born_host(&self) -> String {
        self.host(true)
    }

    /// The broker's address, ``"ip:port"``.
    #[getter]
    fn store_host(&self) -> String {
        self.host(false)
    }

    /// The ``DELAY`` property as an int; 0 when absent or not a number.
    #[getter]
    fn delay_time_level(&self) -> i64 {
        self.msg
            .property(prop::DELAY)
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0)
    }

    /// Length of the (decompressed) body in bytes.
    #[getter]
    fn body_length(&self) -> usize {
        self.msg.body.len()
    }

    /// A property's value as bytes; ``b''`` when absent.
    fn get_property<'py>(
        &self,
        py: Python<'py>,
        prop: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let name = property_name(prop)?;
        let value = self.msg.property(&name).unwrap_or("");
        Ok(PyBytes::new(py, value.as_bytes()))
    }

    /// ``msg[key]`` is ``msg.get_property(key)``.
    fn __getitem__<'py>(
        &self,
        py: Python<'py>,
        key: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        self.get_property(py, key)
    }

    /// The body decoded as UTF-8 (raises UnicodeDecodeError for other bodies).
    fn __str__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyString>> {
        match std::str::from_utf8(&self.msg.body) {
            Ok(text) => Ok(PyString::new(py, text)),
            Err(e) => Err(PyErr::from_value(
                PyUnicodeDecodeError::new_utf8(py, &self.msg.body, e)?.into_any(),
            )),
        }
    }

    /// The body.
    fn __bytes__<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        self.body_bytes(py)
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "<ReceivedMessage topic={} id={} body={}>",
            PyString::new(py, self.topic_str()).repr()?,
            PyString::new(py, &self.msg.msg_id).repr()?,
            self.body_bytes(py).repr()?,
        ))
    }
}
