//! The send tuple: how a `SendResult` crosses to Python and back.
//!
//! Python gets `(status, msg_id, offset_msg_id, queue_id, queue_offset, broker_name,
//! recall_handle)` (the handle `""` when the message is not a timer message) and
//! turns it into its `SendResult`; `end_transaction` gets the same tuple back from
//! `send_half`. What must stay true: [`send_result`] inverts [`send_tuple`] for every status
//! a send can report, given the topic (which the tuple does not carry).

use rocketmq_client::{MessageQueue, SendResult, SendStatus};

/// `(status, msg_id, offset_msg_id, queue_id, queue_offset, broker_name, recall_handle)`.
pub type SendTuple = (i32, String, String, i32, i64, String, String);

/// The send tuple of `r`; `status` is the `SendStatus` value.
pub fn send_tuple(r: SendResult) -> SendTuple {
    (
        r.status as i32,
        r.msg_id,
        r.offset_msg_id,
        r.queue.queue_id,
        r.queue_offset,
        r.queue.broker_name,
        r.recall_handle.unwrap_or_default(),
    )
}

/// The send result a send tuple describes, for a message sent to `topic`.
pub fn send_result(topic: String, tuple: SendTuple) -> SendResult {
    let (status_code, msg_id, offset_msg_id, queue_id, queue_offset, broker_name, recall_handle) =
        tuple;
    SendResult {
        status: match status_code {
            1 => SendStatus::FlushDiskTimeout,
            2 => SendStatus::FlushSlaveTimeout,
            3 => SendStatus::SlaveNotAvailable,
            _ => SendStatus::Ok,
        },
        msg_id,
        offset_msg_id,
        queue: MessageQueue {
            topic,
            broker_name,
            queue_id,
        },
        queue_offset,
        recall_handle: Some(recall_handle).filter(|h| !h.is_empty()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn send_result_inverts_send_tuple_for_every_status() {
        for status in [
            SendStatus::Ok,
            SendStatus::FlushDiskTimeout,
            SendStatus::FlushSlaveTimeout,
            SendStatus::SlaveNotAvailable,
        ] {
            let original = SendResult {
                status,
                msg_id: "7F0000010000".into(),
                offset_msg_id: "0A00000100002A9F".into(),
                queue: MessageQueue {
                    topic: "Orders".into(),
                    broker_name: "broker-a".into(),
                    queue_id: 3,
                },
                queue_offset: 42,
                recall_handle: (status == SendStatus::Ok).then(|| "djEgVCBiIDEgaWQ=".into()),
            };
            let tuple = send_tuple(original.clone());
            assert_eq!(tuple.0, status as i32);
            assert_eq!(send_result("Orders".into(), tuple), original);
        }
    }
}
