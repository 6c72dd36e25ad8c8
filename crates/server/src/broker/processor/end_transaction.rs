//! EndTransactionProcessor: END_TRANSACTION (37).

use super::answer::{bad_header, op_error};
use crate::broker::services::Broker;
use crate::broker::transaction::EndTransactionOutcome;
use rocketmq_protocol::header::EndTransactionRequestHeader;
use rocketmq_protocol::RemotingCommand;

pub(super) fn end_transaction(broker: &Broker, req: &RemotingCommand) -> RemotingCommand {
    let h: EndTransactionRequestHeader = match req.decode_header() {
        Ok(h) => h,
        Err(e) => return bad_header(req, e),
    };
    match broker.end_transaction(&h) {
        Ok(EndTransactionOutcome::Unknown | EndTransactionOutcome::Decided) => {
            RemotingCommand::response_to(req)
        }
        Ok(EndTransactionOutcome::AlreadyDecided(transaction_id)) => {
            RemotingCommand::response_to(req).with_remark(format!(
                "transaction {transaction_id} was already decided; nothing done"
            ))
        }
        Err(e) => op_error(req, e),
    }
}
