//! Store errors.

use std::fmt;

#[derive(Debug)]
pub enum StoreError {
    /// The message cannot be stored as given (too large, bad topic, ...). Nothing was written.
    MessageIllegal(String),
    /// The disk is full or a segment could not be allocated. Nothing was written.
    DiskFull(String),
    /// Any other I/O failure.
    Io(std::io::Error),
    /// A sync-flush waiter timed out: the message is written but its durability is unknown.
    FlushTimeout,
    /// The store was shut down.
    ShutDown,
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::MessageIllegal(m) => write!(f, "message illegal: {m}"),
            StoreError::DiskFull(m) => write!(f, "disk full: {m}"),
            StoreError::Io(e) => write!(f, "store i/o error: {e}"),
            StoreError::FlushTimeout => write!(f, "flush to disk timed out"),
            StoreError::ShutDown => write!(f, "store is shut down"),
        }
    }
}

impl std::error::Error for StoreError {}

impl From<std::io::Error> for StoreError {
    fn from(e: std::io::Error) -> Self {
        if e.kind() == std::io::ErrorKind::StorageFull {
            StoreError::DiskFull(e.to_string())
        } else {
            StoreError::Io(e)
        }
    }
}
