//! Transaction headers (spec 3.2): END_TRANSACTION and the broker's check-back.

use crate::command_header;

/// Values of [`EndTransactionRequestHeader::commit_or_rollback`] (same as the sysFlag
/// transaction bits).
pub mod commit_or_rollback {
    /// Unknown / none: the broker ignores it and writes no response.
    pub const NOT_TYPE: i32 = 0;
    pub const COMMIT: i32 = 8;
    pub const ROLLBACK: i32 = 12;
}

command_header! {
    /// END_TRANSACTION (37).
    pub struct EndTransactionRequestHeader {
        producer_group: String = "producerGroup",
        /// Queue offset of the half message.
        tran_state_table_offset: i64 = "tranStateTableOffset",
        /// Physical offset of the half message.
        commit_log_offset: i64 = "commitLogOffset",
        /// See [`commit_or_rollback`].
        commit_or_rollback: i32 = "commitOrRollback",
        from_transaction_check: bool = "fromTransactionCheck" => false,
        /// UNIQ_KEY of the message.
        msg_id: String = "msgId",
        transaction_id: Option<String> = "transactionId",
        topic: Option<String> = "topic",
    }
}

command_header! {
    /// CHECK_TRANSACTION_STATE (39, broker -> producer, one-way).
    pub struct CheckTransactionStateRequestHeader {
        tran_state_table_offset: i64 = "tranStateTableOffset",
        commit_log_offset: i64 = "commitLogOffset",
        msg_id: Option<String> = "msgId",
        transaction_id: Option<String> = "transactionId",
        offset_msg_id: Option<String> = "offsetMsgId",
        topic: Option<String> = "topic",
        broker_name: Option<String> = "bname",
    }
}

command_header! {
    /// RECALL_MESSAGE (370): cancel a timer message not delivered yet.
    pub struct RecallMessageRequestHeader {
        producer_group: Option<String> = "producerGroup",
        topic: String = "topic",
        /// The send's `recallHandle` ([`crate::recall::RecallHandle`]).
        recall_handle: String = "recallHandle",
    }
}

command_header! {
    /// Response to RECALL_MESSAGE: the recalled message's `UNIQ_KEY`.
    pub struct RecallMessageResponseHeader {
        msg_id: String = "msgId",
    }
}
