//! The POP vocabulary as text: receipt handles (`extraInfo`, the `POP_CK` property), the
//! three per-queue summaries of a POP answer (`startOffsetInfo`, `msgOffsetInfo`,
//! `orderCountInfo`), the POP retry topic names (Java's `KeyBuilder`) and the
//! BATCH_ACK_MESSAGE body.
//!
//! Formats are Java's `ExtraInfoUtil` ones, byte for byte, because clients build handles
//! from the response header and send them back verbatim. Parsers never panic: anything
//! malformed is an error value.

mod batch_ack;
mod extra_info;
mod retry_topic;

pub use batch_ack::{BatchAck, BatchAckMessageRequestBody};
pub use extra_info::{
    MsgOffsetInfo, OrderCountInfo, QueueKey, ReceiptHandle, ReceiptHandleError, StartOffsetInfo,
    TopicKind,
};
pub use retry_topic::{
    is_pop_retry_topic_v2, normal_topic_of, pop_retry_topic, pop_retry_topic_v1,
    pop_retry_topic_v2, POP_ORDER_REVIVE_QUEUE, RETRY_TOPIC_V2_BY_DEFAULT,
};
