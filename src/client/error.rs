//! `ClientError`: the exception every failed client operation raises to Python.
//!
//! What must stay true: the message is the Rust error's text unchanged (the Python layer
//! wraps it into the originals' exception classes and tests match on its words).

pyo3::create_exception!(
    _rocketmq,
    ClientError,
    pyo3::exceptions::PyException,
    "A client operation failed; the message says what and where."
);
