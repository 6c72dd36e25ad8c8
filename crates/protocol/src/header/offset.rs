//! Offset headers (spec 3.3): consumer offsets, queue min/max, search by time.

use crate::command_header;

command_header! {
    /// QUERY_CONSUMER_OFFSET (14).
    pub struct QueryConsumerOffsetRequestHeader {
        consumer_group: String = "consumerGroup",
        topic: String = "topic",
        queue_id: i32 = "queueId",
        set_zero_if_not_found: Option<bool> = "setZeroIfNotFound",
        /// The queue's broker name (Java's `RpcRequestHeader.bname`, set by 5.x clients).
        broker_name: Option<String> = "bname",
    }
}

command_header! {
    /// UPDATE_CONSUMER_OFFSET (15). `commit_offset` is the next offset to consume.
    pub struct UpdateConsumerOffsetRequestHeader {
        consumer_group: String = "consumerGroup",
        topic: String = "topic",
        queue_id: i32 = "queueId",
        commit_offset: i64 = "commitOffset",
        /// The queue's broker name (Java's `RpcRequestHeader.bname`, set by 5.x clients).
        broker_name: Option<String> = "bname",
    }
}

command_header! {
    /// GET_MAX_OFFSET (30).
    pub struct GetMaxOffsetRequestHeader {
        topic: String = "topic",
        queue_id: i32 = "queueId",
        committed: bool = "committed" => true,
        /// The queue's broker name (Java's `RpcRequestHeader.bname`): Apache's proxy needs it.
        broker_name: Option<String> = "bname",
    }
}

command_header! {
    /// GET_MIN_OFFSET (31).
    pub struct GetMinOffsetRequestHeader {
        topic: String = "topic",
        queue_id: i32 = "queueId",
        /// The queue's broker name (Java's `RpcRequestHeader.bname`): Apache's proxy needs it.
        broker_name: Option<String> = "bname",
    }
}

command_header! {
    /// GET_EARLIEST_MSG_STORETIME (32).
    pub struct GetEarliestMsgStoretimeRequestHeader {
        topic: String = "topic",
        queue_id: i32 = "queueId",
    }
}

command_header! {
    /// SEARCH_OFFSET_BY_TIMESTAMP (29).
    pub struct SearchOffsetRequestHeader {
        topic: String = "topic",
        queue_id: i32 = "queueId",
        /// Milliseconds.
        timestamp: i64 = "timestamp",
        /// `LOWER` (default) or `UPPER`, any case; see [`BoundaryType`].
        boundary_type: Option<String> = "boundaryType",
    }
}

/// Which end of a run of equal timestamps SEARCH_OFFSET_BY_TIMESTAMP answers with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum BoundaryType {
    /// First offset whose store time >= timestamp.
    #[default]
    Lower,
    /// Last offset whose store time <= timestamp.
    Upper,
}

impl BoundaryType {
    /// `UPPER` (any case) is Upper; anything else, including absent, is Lower.
    pub fn parse(text: Option<&str>) -> BoundaryType {
        match text {
            Some(t) if t.trim().eq_ignore_ascii_case("upper") => BoundaryType::Upper,
            _ => BoundaryType::Lower,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            BoundaryType::Lower => "LOWER",
            BoundaryType::Upper => "UPPER",
        }
    }
}

impl SearchOffsetRequestHeader {
    pub fn boundary(&self) -> BoundaryType {
        BoundaryType::parse(self.boundary_type.as_deref())
    }
}

command_header! {
    /// Response carrying one offset: QUERY_CONSUMER_OFFSET, GET_MAX_OFFSET, GET_MIN_OFFSET,
    /// SEARCH_OFFSET_BY_TIMESTAMP.
    pub struct OffsetResponseHeader {
        offset: i64 = "offset",
    }
}

command_header! {
    /// Response to GET_EARLIEST_MSG_STORETIME.
    pub struct TimestampResponseHeader {
        timestamp: i64 = "timestamp",
    }
}
