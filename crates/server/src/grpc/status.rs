//! The `v2::Status` every answer carries: a code of `v2::Code` and a message.

use rocketmq_grpc::v2;

/// `OK`, with the message the Apache proxy sends.
pub(crate) fn ok() -> v2::Status {
    status(v2::Code::Ok, "OK")
}

/// A status of `code` with `message`.
pub(crate) fn status(code: v2::Code, message: impl Into<String>) -> v2::Status {
    v2::Status {
        code: code as i32,
        message: message.into(),
    }
}
