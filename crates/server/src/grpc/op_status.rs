//! A broker operation's refusal (`OpError`: remoting response code + remark) as the
//! `v2::Status` Apache's proxy answers for it (`ResponseBuilder`: its code table, the topic
//! lookup it does first, and INTERNAL_SERVER_ERROR with the broker's remark for the rest).

use super::status::status;
use crate::broker::error::OpError;
use rocketmq_grpc::v2;
use rocketmq_protocol::code::response_code as resp;

/// The v2 code of a remoting response code.
pub(crate) fn code_of(response_code: i32) -> v2::Code {
    match response_code {
        resp::SUCCESS => v2::Code::Ok,
        resp::SYSTEM_BUSY => v2::Code::TooManyRequests,
        resp::REQUEST_CODE_NOT_SUPPORTED => v2::Code::NotImplemented,
        resp::SUBSCRIPTION_GROUP_NOT_EXIST => v2::Code::ConsumerGroupNotFound,
        resp::TOPIC_NOT_EXIST => v2::Code::TopicNotFound,
        resp::NO_PERMISSION => v2::Code::Forbidden,
        resp::SUBSCRIPTION_PARSE_FAILED | resp::FILTER_DATA_NOT_EXIST => {
            v2::Code::IllegalFilterExpression
        }
        _ => v2::Code::InternalServerError,
    }
}

/// The status answering `e`.
pub(crate) fn of_op_error(e: &OpError) -> v2::Status {
    status(code_of(e.code), e.remark.clone())
}
