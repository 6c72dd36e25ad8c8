//! EndTransaction: commit or roll back a half message, through the broker's END_TRANSACTION
//! operation (`Broker::end_transaction`), from the client (`SOURCE_CLIENT`) or in answer to a
//! check-back (`SOURCE_SERVER_CHECK`); and the message a check-back sends over Telemetry.
//!
//! The transaction id this endpoint hands out (in the `SendResultEntry` of a transactional
//! message, and in `RecoverOrphanedTransactionCommand`) names the half message: 32 hex
//! digits, its commit-log offset then its queue offset in the half topic. The producer group
//! is the topic (see `message_in`).
//!
//! What must stay true: an id this endpoint did not hand out is refused with
//! `INVALID_TRANSACTION_ID`; the decision itself, its at-most-once rule and the check-back
//! timing are the broker's.

use super::message_out::{to_v2_message, wrap_namespace, Delivery};
use super::status::{ok, status};
use super::GrpcFront;
use rocketmq_grpc::v2;
use rocketmq_protocol::code::response_code as resp;
use rocketmq_protocol::header::{commit_or_rollback, EndTransactionRequestHeader};
use rocketmq_protocol::message::StoredMessage;
use tonic::{Request, Response, Status};

/// The transaction id of the half message at `commit_log_offset` (queue offset
/// `tran_state_table_offset` in the half topic).
pub(crate) fn transaction_id(commit_log_offset: i64, tran_state_table_offset: i64) -> String {
    format!("{commit_log_offset:016X}{tran_state_table_offset:016X}")
}

/// The half message's commit-log and queue offsets named by a transaction id.
pub(crate) fn parse_transaction_id(id: &str) -> Option<(i64, i64)> {
    if id.len() != 32 || !id.is_ascii() {
        return None;
    }
    let commit_log = u64::from_str_radix(&id[..16], 16).ok()?;
    let queue = u64::from_str_radix(&id[16..], 16).ok()?;
    Some((commit_log as i64, queue as i64))
}

pub(super) async fn end_transaction(
    front: &GrpcFront,
    request: Request<v2::EndTransactionRequest>,
) -> Result<Response<v2::EndTransactionResponse>, Status> {
    let request = request.into_inner();
    let answer = |status| {
        Ok(Response::new(v2::EndTransactionResponse {
            status: Some(status),
        }))
    };
    let Some((commit_log_offset, tran_state_table_offset)) =
        parse_transaction_id(&request.transaction_id)
    else {
        return answer(status(
            v2::Code::InvalidTransactionId,
            format!(
                "transaction id {:?} is not one this endpoint handed out",
                request.transaction_id
            ),
        ));
    };
    let decision = match v2::TransactionResolution::try_from(request.resolution) {
        Ok(v2::TransactionResolution::Commit) => commit_or_rollback::COMMIT,
        Ok(v2::TransactionResolution::Rollback) => commit_or_rollback::ROLLBACK,
        _ => commit_or_rollback::NOT_TYPE,
    };
    let topic = wrap_namespace(request.topic.as_ref());
    let header = EndTransactionRequestHeader {
        producer_group: topic.clone(),
        tran_state_table_offset,
        commit_log_offset,
        commit_or_rollback: decision,
        from_transaction_check: v2::TransactionSource::try_from(request.source)
            == Ok(v2::TransactionSource::SourceServerCheck),
        msg_id: request.message_id,
        transaction_id: Some(request.transaction_id),
        topic: Some(topic),
    };
    match front.broker.end_transaction(&header) {
        Ok(_) => answer(ok()),
        // The half message named is not there (or not of this topic).
        Err(e) if e.code == resp::SYSTEM_ERROR => {
            answer(status(v2::Code::InvalidTransactionId, e.remark))
        }
        Err(e) => answer(super::status::from_op_error(&e)),
    }
}

/// A half message as a check-back shows it to the client (`RecoverOrphanedTransactionCommand`):
/// the message as a consumer would receive it (its real topic, the client's message id, tag,
/// keys, message group, user properties, body digest), without a receipt handle.
pub(crate) fn recovered_message(stored: StoredMessage) -> v2::Message {
    let (namespace, name) = match stored.topic.split_once('%') {
        Some((ns, name)) => (ns.to_string(), name.to_string()),
        None => (String::new(), stored.topic.clone()),
    };
    let delivery = Delivery {
        receipt_handle: None,
        delivery_attempt: 1,
        invisible_ms: None,
        topic: v2::Resource {
            resource_namespace: namespace,
            name,
        },
    };
    to_v2_message(stored, delivery)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transaction_ids_name_the_half_message() {
        let id = transaction_id(123_456_789, 42);
        assert_eq!(id.len(), 32);
        assert_eq!(parse_transaction_id(&id), Some((123_456_789, 42)));
        assert_eq!(parse_transaction_id("not-an-id"), None);
        assert_eq!(parse_transaction_id(&"Z".repeat(32)), None);
    }
}
