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

use super::message_in::resource_name;
use super::status::{from_op_error, ok, status};
use super::GrpcFront;
use rocketmq_grpc::v2;
use rocketmq_protocol::code::response_code as resp;
use rocketmq_protocol::header::{commit_or_rollback, EndTransactionRequestHeader};
use rocketmq_protocol::message::StoredMessage;
use rocketmq_protocol::properties::{self as p, iter_properties};
use rocketmq_protocol::sysflag::COMPRESSED_FLAG;
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
    let topic = resource_name(request.topic.as_ref());
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
        Err(e) => answer(from_op_error(&e)),
    }
}

/// The CRC32 digest of a body as the 5.x clients write and check it (upper-case hex).
pub(crate) fn crc32_digest(body: &[u8]) -> v2::Digest {
    v2::Digest {
        r#type: v2::DigestType::Crc32 as i32,
        checksum: format!("{:X}", crc32fast::hash(body)),
    }
}

fn timestamp(ms: i64) -> rocketmq_grpc::Timestamp {
    rocketmq_grpc::Timestamp {
        seconds: ms.div_euclid(1000),
        nanos: (ms.rem_euclid(1000) * 1_000_000) as i32,
    }
}

/// A half message as a check-back shows it to the client (`RecoverOrphanedTransactionCommand`):
/// its real topic, the client's message id, tag, keys, message group and user properties.
pub(crate) fn recovered_message(stored: &StoredMessage) -> v2::Message {
    let mut sys = v2::SystemProperties {
        message_type: v2::MessageType::Transaction as i32,
        born_timestamp: Some(timestamp(stored.born_timestamp)),
        born_host: stored.born_host.ip().to_string(),
        store_timestamp: Some(timestamp(stored.store_timestamp)),
        store_host: stored.store_host.to_string(),
        queue_id: stored.queue_id,
        queue_offset: Some(stored.queue_offset),
        body_digest: Some(crc32_digest(&stored.body)),
        body_encoding: if stored.sys_flag & COMPRESSED_FLAG != 0 {
            v2::Encoding::Gzip as i32
        } else {
            v2::Encoding::Identity as i32
        },
        ..Default::default()
    };
    let mut user_properties = std::collections::HashMap::new();
    for (k, v) in iter_properties(&stored.properties) {
        match k {
            p::TAGS => sys.tag = Some(v.to_string()),
            p::KEYS => {
                sys.keys = v
                    .split(' ')
                    .filter(|k| !k.is_empty())
                    .map(String::from)
                    .collect()
            }
            p::UNIQ_KEY => sys.message_id = v.to_string(),
            p::SHARDING_KEY => sys.message_group = Some(v.to_string()),
            p::TRACE_CONTEXT => sys.trace_context = Some(v.to_string()),
            p::BORN_HOST => sys.born_host = v.to_string(),
            _ if super::message_in::is_system_property(k) => {}
            _ => {
                user_properties.insert(k.to_string(), v.to_string());
            }
        }
    }
    let (namespace, name) = match stored.topic.split_once('%') {
        Some((ns, name)) => (ns.to_string(), name.to_string()),
        None => (String::new(), stored.topic.clone()),
    };
    v2::Message {
        topic: Some(v2::Resource {
            resource_namespace: namespace,
            name,
        }),
        user_properties,
        system_properties: Some(sys),
        body: stored.body.to_vec(),
    }
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
