//! The one error type of the broker's operations: a refusal or failure a front end turns into
//! its answer (the remoting processors into a response code and remark).
//!
//! What must stay true: `code` is a remoting response code (`rocketmq_protocol::code::
//! response_code`) and `remark` says why in words a client can show; a store failure keeps
//! its cause in the remark.

use rocketmq_protocol::code::response_code as resp;
use rocketmq_store::StoreError;
use std::fmt;

/// Why an operation did not do what it was asked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpError {
    pub code: i32,
    pub remark: String,
}

impl OpError {
    pub fn new(code: i32, remark: impl Into<String>) -> Self {
        OpError {
            code,
            remark: remark.into(),
        }
    }

    /// A request the broker could not read or process (`SYSTEM_ERROR`).
    pub fn system(remark: impl Into<String>) -> Self {
        OpError::new(resp::SYSTEM_ERROR, remark)
    }
}

impl fmt::Display for OpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (code {})", self.remark, self.code)
    }
}

impl std::error::Error for OpError {}

/// A store failure as the answer a client understands, cause in the remark.
impl From<&StoreError> for OpError {
    fn from(e: &StoreError) -> Self {
        let code = match e {
            StoreError::MessageIllegal(_) => resp::MESSAGE_ILLEGAL,
            StoreError::DiskFull(_) | StoreError::ShutDown => resp::SERVICE_NOT_AVAILABLE,
            StoreError::FlushTimeout => resp::FLUSH_DISK_TIMEOUT,
            StoreError::Io(_) => resp::SYSTEM_ERROR,
        };
        OpError::new(code, format!("the broker could not store the message: {e}"))
    }
}

impl From<StoreError> for OpError {
    fn from(e: StoreError) -> Self {
        OpError::from(&e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_errors_map_to_clear_answers() {
        let cases = [
            (
                StoreError::DiskFull("no space left on device".into()),
                resp::SERVICE_NOT_AVAILABLE,
                "no space left",
            ),
            (
                StoreError::ShutDown,
                resp::SERVICE_NOT_AVAILABLE,
                "shut down",
            ),
            (
                StoreError::MessageIllegal("too big".into()),
                resp::MESSAGE_ILLEGAL,
                "too big",
            ),
            (StoreError::FlushTimeout, resp::FLUSH_DISK_TIMEOUT, "flush"),
            (
                StoreError::Io(std::io::Error::other("bad sector")),
                resp::SYSTEM_ERROR,
                "bad sector",
            ),
        ];
        for (e, code, cause) in cases {
            let error = OpError::from(&e);
            assert_eq!(error.code, code, "{e}");
            assert!(error.remark.contains(cause));
        }
    }
}
