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

/// The code of a refused broker operation, as the Apache proxy turns the broker's remoting
/// response codes into `v2::Code`s; the remark is kept as the message.
pub(crate) fn from_op_error(e: &crate::broker::error::OpError) -> v2::Status {
    use rocketmq_protocol::code::response_code as resp;
    let code = match e.code {
        resp::TOPIC_NOT_EXIST => v2::Code::TopicNotFound,
        resp::NO_PERMISSION => v2::Code::Forbidden,
        resp::MESSAGE_ILLEGAL => v2::Code::BadRequest,
        resp::INVALID_PARAMETER => v2::Code::BadRequest,
        resp::FLUSH_DISK_TIMEOUT => v2::Code::MasterPersistenceTimeout,
        resp::FLUSH_SLAVE_TIMEOUT => v2::Code::SlavePersistenceTimeout,
        resp::SYSTEM_BUSY => v2::Code::TooManyRequests,
        resp::SUBSCRIPTION_GROUP_NOT_EXIST => v2::Code::ConsumerGroupNotFound,
        resp::REQUEST_CODE_NOT_SUPPORTED => v2::Code::NotImplemented,
        resp::SUBSCRIPTION_PARSE_FAILED | resp::FILTER_DATA_NOT_EXIST => {
            v2::Code::IllegalFilterExpression
        }
        _ => v2::Code::InternalServerError,
    };
    status(code, e.remark.clone())
}
