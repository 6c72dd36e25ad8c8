//! Building answers: the one place where an error becomes a response command.

use crate::broker::error::OpError;
use rocketmq_protocol::RemotingCommand;

/// The answer to `req` with `code` and `remark`.
pub(super) fn error(
    req: &RemotingCommand,
    code: i32,
    remark: impl Into<String>,
) -> RemotingCommand {
    RemotingCommand::response_to(req)
        .with_code(code)
        .with_remark(remark)
}

/// The answer to `req` for an operation that failed.
pub(super) fn op_error(req: &RemotingCommand, e: OpError) -> RemotingCommand {
    error(req, e.code, e.remark)
}

/// A request whose header could not be read (`SYSTEM_ERROR`, the cause in the remark).
pub(super) fn bad_header(req: &RemotingCommand, e: impl std::fmt::Display) -> RemotingCommand {
    op_error(req, OpError::system(e.to_string()))
}

/// Success without a body, or the operation's error.
pub(super) fn done(req: &RemotingCommand, result: Result<(), OpError>) -> RemotingCommand {
    match result {
        Ok(()) => RemotingCommand::response_to(req),
        Err(e) => op_error(req, e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rocketmq_protocol::code::response_code as resp;
    use rocketmq_store::StoreError;

    #[test]
    fn an_operation_error_answers_the_request_it_belongs_to() {
        let req = RemotingCommand::new_request(10).with_opaque(3);
        let answer = op_error(&req, OpError::from(StoreError::ShutDown));
        assert_eq!(answer.code, resp::SERVICE_NOT_AVAILABLE);
        assert_eq!(answer.opaque, 3);
        assert!(answer.remark.unwrap().contains("shut down"));
        let answer = done(&req, Ok(()));
        assert_eq!((answer.code, answer.opaque), (resp::SUCCESS, 3));
    }
}
