//! Producer headers (spec 3.2): SEND_MESSAGE with long field names (V1), SEND_MESSAGE_V2 /
//! SEND_BATCH_MESSAGE with single-letter keys (V2), and the send response.
//!
//! The broker works on V1 only: [`SendMessageRequestHeader::from_command`] picks the right
//! form by request code and converts V2 to V1, as Java's `parseRequestHeader` does.

use super::codec::{CommandHeader, HeaderError};
use crate::code::request_code;
use crate::command::RemotingCommand;
use crate::command_header;

command_header! {
    /// SEND_MESSAGE (10) header; also the broker's canonical form of V2.
    pub struct SendMessageRequestHeader {
        producer_group: String = "producerGroup",
        topic: String = "topic",
        /// Auto-create template topic, normally `TBW102`.
        default_topic: String = "defaultTopic",
        default_topic_queue_nums: i32 = "defaultTopicQueueNums",
        /// Target queue; negative means "broker picks".
        queue_id: i32 = "queueId",
        sys_flag: i32 = "sysFlag",
        born_timestamp: i64 = "bornTimestamp",
        /// User flag, stored verbatim.
        flag: i32 = "flag",
        /// Property string (0x01/0x02 separated).
        properties: Option<String> = "properties",
        reconsume_times: Option<i32> = "reconsumeTimes",
        unit_mode: Option<bool> = "unitMode",
        max_reconsume_times: Option<i32> = "maxReconsumeTimes",
        /// Body is a batch (cpp 1.2.3 sends `"1"`).
        batch: Option<bool> = "batch",
        broker_name: Option<String> = "bname",
    }
}

command_header! {
    /// SEND_MESSAGE_V2 (310) / SEND_BATCH_MESSAGE (320) header: same fields, keys `a`..`n`.
    pub struct SendMessageRequestHeaderV2 {
        a: String = "a",
        b: String = "b",
        c: String = "c",
        d: i32 = "d",
        e: i32 = "e",
        f: i32 = "f",
        g: i64 = "g",
        h: i32 = "h",
        i: Option<String> = "i",
        j: Option<i32> = "j",
        k: Option<bool> = "k",
        l: Option<i32> = "l",
        m: Option<bool> = "m",
        n: Option<String> = "n",
    }
}

impl From<SendMessageRequestHeaderV2> for SendMessageRequestHeader {
    fn from(v2: SendMessageRequestHeaderV2) -> Self {
        SendMessageRequestHeader {
            producer_group: v2.a,
            topic: v2.b,
            default_topic: v2.c,
            default_topic_queue_nums: v2.d,
            queue_id: v2.e,
            sys_flag: v2.f,
            born_timestamp: v2.g,
            flag: v2.h,
            properties: v2.i,
            reconsume_times: v2.j,
            unit_mode: v2.k,
            max_reconsume_times: v2.l,
            batch: v2.m,
            broker_name: v2.n,
        }
    }
}

impl From<SendMessageRequestHeader> for SendMessageRequestHeaderV2 {
    fn from(v1: SendMessageRequestHeader) -> Self {
        SendMessageRequestHeaderV2 {
            a: v1.producer_group,
            b: v1.topic,
            c: v1.default_topic,
            d: v1.default_topic_queue_nums,
            e: v1.queue_id,
            f: v1.sys_flag,
            g: v1.born_timestamp,
            h: v1.flag,
            i: v1.properties,
            j: v1.reconsume_times,
            k: v1.unit_mode,
            l: v1.max_reconsume_times,
            m: v1.batch,
            n: v1.broker_name,
        }
    }
}

impl SendMessageRequestHeader {
    /// Decodes the send header of `cmd`: V2 keys for codes 310/320 (falling back to V1 keys
    /// if the V2 ones are absent), V1 keys otherwise.
    pub fn from_command(cmd: &RemotingCommand) -> Result<Self, HeaderError> {
        match cmd.code {
            request_code::SEND_MESSAGE_V2 | request_code::SEND_BATCH_MESSAGE => {
                match SendMessageRequestHeaderV2::decode(&cmd.ext_fields) {
                    Ok(v2) => Ok(v2.into()),
                    Err(e) => SendMessageRequestHeader::decode(&cmd.ext_fields).map_err(|_| e),
                }
            }
            _ => SendMessageRequestHeader::decode(&cmd.ext_fields),
        }
    }

    /// Whether the body is a batch (spec 3.2 \[ours\]): code 320, or `batch` true/1.
    pub fn is_batch(&self, request_code: i32) -> bool {
        request_code == request_code::SEND_BATCH_MESSAGE || self.batch == Some(true)
    }
}

command_header! {
    /// Response to a send. Every field is written as a string (cpp reads strings only).
    pub struct SendMessageResponseHeader {
        /// Offset message id, comma-separated for a batch.
        msg_id: String = "msgId",
        queue_id: i32 = "queueId",
        /// Logical offset (first message's for a batch).
        queue_offset: i64 = "queueOffset",
        /// UNIQ_KEY of the message.
        transaction_id: Option<String> = "transactionId",
        batch_uniq_id: Option<String> = "batchUniqId",
        recall_handle: Option<String> = "recallHandle",
    }
}

/// Extra response extFields a Java broker adds to send responses.
pub const MSG_REGION: &str = "MSG_REGION";
/// `"true"`/`"false"`.
pub const TRACE_ON: &str = "TRACE_ON";
