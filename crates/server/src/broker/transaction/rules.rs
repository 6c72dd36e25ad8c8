//! The pure rules of transactional messages: which send is a half message, how it is
//! rewritten into the half topic, and the records that decide or re-check it. No store, no
//! locks: every function maps messages to messages.

use crate::broker::schedule::requested_delay_level;
use bytes::Bytes;
use rocketmq_protocol::message::StoredMessage;
use rocketmq_protocol::properties::{
    get_property, remove_property, set_property, REAL_QID, REAL_TOPIC, TAGS, TRANSACTION_ID,
    TRAN_MSG, UNIQ_KEY,
};
use rocketmq_protocol::sysflag::{
    with_transaction_type, TRANSACTION_COMMIT_TYPE, TRANSACTION_NOT_TYPE,
};
use rocketmq_protocol::tag::tags_code;
use rocketmq_store::MessageToStore;

pub const HALF_TOPIC: &str = "RMQ_SYS_TRANS_HALF_TOPIC";
/// Op records: which half messages are decided, queue 0.
pub const OP_HALF_TOPIC: &str = "RMQ_SYS_TRANS_OP_HALF_TOPIC";
/// Half messages given up after too many check-backs.
pub const CHECK_MAX_TIME_TOPIC: &str = "TRANS_CHECK_MAX_TIME_TOPIC";
/// Tag of op records ("delete").
pub const OP_TAG: &str = "d";

/// Whether a message with these properties is the first phase of a transaction. A retried
/// message (reconsume times > 0 with a delay level, as clients before 4.6.1 re-send it) is
/// not.
pub fn is_half_message(properties: &str, reconsume_times: i32) -> bool {
    let transactional =
        get_property(properties, TRAN_MSG).is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
    transactional && !(reconsume_times > 0 && requested_delay_level(properties).is_some())
}

/// Rewrites a transactional send into its half message (spec 5.5 step 2).
pub fn to_half(mut msg: MessageToStore, transaction_id: &str) -> MessageToStore {
    let mut props = set_property(&msg.properties, REAL_TOPIC, &msg.topic);
    props = set_property(&props, REAL_QID, &msg.queue_id.to_string());
    props = set_property(&props, TRANSACTION_ID, transaction_id);
    msg.properties = props;
    msg.sys_flag = with_transaction_type(msg.sys_flag, TRANSACTION_NOT_TYPE);
    msg.topic = HALF_TOPIC.to_string();
    msg.queue_id = 0;
    msg
}

/// The transaction a stored half message belongs to.
pub fn transaction_id_of(properties: &str) -> Option<&str> {
    get_property(properties, TRANSACTION_ID)
        .or_else(|| get_property(properties, UNIQ_KEY))
        .filter(|id| !id.is_empty())
}

pub(super) fn real_destination(properties: &str) -> Option<(String, i32)> {
    let topic = get_property(properties, REAL_TOPIC).filter(|t| !t.is_empty())?;
    let queue_id = get_property(properties, REAL_QID)?
        .trim()
        .parse::<i32>()
        .ok()
        .filter(|&q| q >= 0)?;
    Some((topic.to_string(), queue_id))
}

/// The committed copy of a half message, bound for its real topic and queue.
pub(super) fn committed(half: &StoredMessage, half_offset: i64) -> Option<MessageToStore> {
    let (topic, queue_id) = real_destination(&half.properties)?;
    let mut props = half.properties.clone();
    for name in [TRAN_MSG, REAL_TOPIC, REAL_QID] {
        props = remove_property(&props, name);
    }
    Some(MessageToStore {
        topic,
        queue_id,
        flag: half.flag,
        sys_flag: with_transaction_type(half.sys_flag, TRANSACTION_COMMIT_TYPE),
        born_timestamp: half.born_timestamp,
        born_host: half.born_host,
        store_host: half.store_host,
        reconsume_times: half.reconsume_times,
        prepared_transaction_offset: half_offset,
        body: half.body.clone(),
        tags_code: tags_code(get_property(&props, TAGS)),
        properties: props,
    })
}

/// The op record saying `half` (its transaction) is decided.
pub(super) fn op_record(half: &StoredMessage, transaction_id: &str) -> MessageToStore {
    let props = format!("{TAGS}\u{1}{OP_TAG}\u{2}{TRANSACTION_ID}\u{1}{transaction_id}\u{2}");
    MessageToStore {
        topic: OP_HALF_TOPIC.to_string(),
        queue_id: 0,
        flag: 0,
        sys_flag: 0,
        born_timestamp: rocketmq_protocol::now_millis(),
        born_host: half.store_host,
        store_host: half.store_host,
        reconsume_times: 0,
        prepared_transaction_offset: 0,
        body: Bytes::from(format!("{},", half.queue_offset)),
        tags_code: tags_code(Some(OP_TAG)),
        properties: props,
    }
}

/// A half message appended again (same content, new offsets), e.g. with a new check count.
pub(super) fn half_copy(half: &StoredMessage, properties: String, topic: &str) -> MessageToStore {
    MessageToStore {
        topic: topic.to_string(),
        queue_id: 0,
        flag: half.flag,
        sys_flag: half.sys_flag,
        born_timestamp: half.born_timestamp,
        born_host: half.born_host,
        store_host: half.store_host,
        reconsume_times: half.reconsume_times,
        prepared_transaction_offset: 0,
        body: half.body.clone(),
        tags_code: tags_code(get_property(&properties, TAGS)),
        properties,
    }
}
