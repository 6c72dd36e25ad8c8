//! POP consumption headers (RocketMQ 5): POP_MESSAGE (200050), ACK_MESSAGE (200051),
//! CHANGE_MESSAGE_INVISIBLETIME (200053), NOTIFICATION (200054) and their answers.
//!
//! Wire keys are Java's field names (`PopMessageRequestHeader`, `AckMessageRequestHeader`,
//! `ChangeInvisibleTimeRequestHeader`, `NotificationRequestHeader` and their response
//! headers). What `extraInfo` holds is in [`crate::pop::ReceiptHandle`].

use crate::command_header;

/// `ConsumeInitMode`: where a group without a committed offset starts popping.
pub mod pop_init_mode {
    /// The end of the queue (Java's `ConsumeInitMode.MAX`).
    pub const MAX: i32 = 1;
    /// The beginning of the queue (`ConsumeInitMode.MIN`).
    pub const MIN: i32 = 0;
}

command_header! {
    /// POP_MESSAGE (200050).
    pub struct PopMessageRequestHeader {
        consumer_group: String = "consumerGroup",
        topic: String = "topic",
        /// -1: any queue of the topic.
        queue_id: i32 = "queueId",
        max_msg_nums: i32 = "maxMsgNums",
        /// Milliseconds a popped message stays invisible to the group.
        invisible_time: i64 = "invisibleTime",
        /// Milliseconds the broker may hold the request (long polling); 0 = answer now.
        poll_time: i64 = "pollTime",
        /// The client's clock when it sent the request (milliseconds).
        born_time: i64 = "bornTime",
        /// [`pop_init_mode`].
        init_mode: i32 = "initMode",
        /// `TAG` (default) or `SQL92`.
        exp_type: Option<String> = "expType",
        exp: Option<String> = "exp",
        /// Orderly POP: one in-flight batch per queue.
        order: bool = "order" => false,
        attempt_id: Option<String> = "attemptId",
        /// Java's `RpcRequestHeader.bname`.
        broker_name: Option<String> = "bname",
    }
}

command_header! {
    /// Answer to POP_MESSAGE (SUCCESS with messages; NO_MESSAGE / POLLING_TIMEOUT / POLLING_FULL
    /// carry it too, without messages).
    pub struct PopMessageResponseHeader {
        pop_time: i64 = "popTime",
        invisible_time: i64 = "invisibleTime",
        revive_qid: i32 = "reviveQid",
        /// Messages left in the polled queues after this answer.
        rest_num: i64 = "restNum",
        /// [`crate::pop::StartOffsetInfo`] text.
        start_offset_info: Option<String> = "startOffsetInfo",
        /// [`crate::pop::MsgOffsetInfo`] text.
        msg_offset_info: Option<String> = "msgOffsetInfo",
        /// [`crate::pop::OrderCountInfo`] text (orderly POP only).
        order_count_info: Option<String> = "orderCountInfo",
    }
}

command_header! {
    /// ACK_MESSAGE (200051).
    pub struct AckMessageRequestHeader {
        consumer_group: String = "consumerGroup",
        topic: String = "topic",
        queue_id: i32 = "queueId",
        /// The message's `POP_CK` receipt handle ([`crate::pop::ReceiptHandle`]).
        extra_info: String = "extraInfo",
        /// The message's queue offset.
        offset: i64 = "offset",
        broker_name: Option<String> = "bname",
    }
}

command_header! {
    /// CHANGE_MESSAGE_INVISIBLETIME (200053).
    pub struct ChangeInvisibleTimeRequestHeader {
        consumer_group: String = "consumerGroup",
        topic: String = "topic",
        queue_id: i32 = "queueId",
        extra_info: String = "extraInfo",
        offset: i64 = "offset",
        /// New invisible time in milliseconds, counted from now.
        invisible_time: i64 = "invisibleTime",
        broker_name: Option<String> = "bname",
    }
}

command_header! {
    /// Answer to CHANGE_MESSAGE_INVISIBLETIME: the new handle is built from these fields.
    pub struct ChangeInvisibleTimeResponseHeader {
        pop_time: i64 = "popTime",
        invisible_time: i64 = "invisibleTime",
        revive_qid: i32 = "reviveQid",
    }
}

command_header! {
    /// NOTIFICATION (200054): long-polled "does the group have a message to pop".
    pub struct NotificationRequestHeader {
        consumer_group: String = "consumerGroup",
        topic: String = "topic",
        queue_id: i32 = "queueId",
        poll_time: i64 = "pollTime",
        born_time: i64 = "bornTime",
        order: bool = "order" => false,
        attempt_id: Option<String> = "attemptId",
        broker_name: Option<String> = "bname",
    }
}

command_header! {
    /// Answer to NOTIFICATION.
    pub struct NotificationResponseHeader {
        has_msg: bool = "hasMsg" => false,
        polling_full: bool = "pollingFull" => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::header::CommandHeader;
    use std::collections::BTreeMap;

    #[test]
    fn pop_request_uses_java_keys_and_defaults() {
        let mut fields = BTreeMap::new();
        for (k, v) in [
            ("consumerGroup", "G"),
            ("topic", "T"),
            ("queueId", "-1"),
            ("maxMsgNums", "32"),
            ("invisibleTime", "60000"),
            ("pollTime", "0"),
            ("bornTime", "1700000000000"),
            ("initMode", "1"),
        ] {
            fields.insert(k.to_string(), v.to_string());
        }
        let h = PopMessageRequestHeader::decode(&fields).unwrap();
        assert_eq!(h.queue_id, -1);
        assert!(!h.order);
        assert_eq!(h.exp, None);
        let mut out = BTreeMap::new();
        h.encode(&mut out);
        assert_eq!(out.get("order").map(String::as_str), Some("false"));
        assert_eq!(PopMessageRequestHeader::decode(&out).unwrap(), h);
        fields.remove("invisibleTime");
        assert_eq!(
            PopMessageRequestHeader::decode(&fields)
                .unwrap_err()
                .field(),
            "invisibleTime"
        );
    }

    #[test]
    fn ack_and_change_headers_roundtrip() {
        let ack = AckMessageRequestHeader {
            consumer_group: "G".into(),
            topic: "T".into(),
            queue_id: 2,
            extra_info: "0 1 2 3 0 b 2 7".into(),
            offset: 7,
            broker_name: None,
        };
        let mut f = BTreeMap::new();
        ack.encode(&mut f);
        assert_eq!(f["extraInfo"], "0 1 2 3 0 b 2 7");
        assert_eq!(AckMessageRequestHeader::decode(&f).unwrap(), ack);
        let resp = NotificationResponseHeader {
            has_msg: true,
            polling_full: false,
        };
        let mut f = BTreeMap::new();
        resp.encode(&mut f);
        assert_eq!(f["hasMsg"], "true");
        assert_eq!(NotificationResponseHeader::decode(&f).unwrap(), resp);
    }
}
