//! PULL_MESSAGE / LITE_PULL_MESSAGE headers (spec 3.3).

use crate::command_header;

/// `PullSysFlag` bits of [`PullMessageRequestHeader::sys_flag`].
pub mod pull_sys_flag {
    /// Commit `commitOffset` before pulling.
    pub const COMMIT_OFFSET: i32 = 0x1;
    /// Long polling allowed.
    pub const SUSPEND: i32 = 0x2;
    /// Use the request's `subscription` instead of the heartbeat one.
    pub const SUBSCRIPTION: i32 = 0x4;
    /// Obsolete class filter.
    pub const CLASS_FILTER: i32 = 0x8;
    pub const LITE_PULL_MESSAGE: i32 = 0x10;
}

command_header! {
    /// PULL_MESSAGE (11) / LITE_PULL_MESSAGE (361).
    pub struct PullMessageRequestHeader {
        consumer_group: String = "consumerGroup",
        topic: String = "topic",
        queue_id: i32 = "queueId",
        queue_offset: i64 = "queueOffset",
        max_msg_nums: i32 = "maxMsgNums",
        sys_flag: i32 = "sysFlag",
        commit_offset: i64 = "commitOffset",
        suspend_timeout_millis: i64 = "suspendTimeoutMillis",
        /// Tag expression such as `TagA || TagB` or `*`.
        subscription: Option<String> = "subscription",
        sub_version: i64 = "subVersion",
        /// `TAG` (default) or `SQL92`.
        expression_type: Option<String> = "expressionType",
        max_msg_bytes: Option<i32> = "maxMsgBytes",
        request_source: Option<i32> = "requestSource",
        /// Spelling as in Java.
        proxy_froward_client_id: Option<String> = "proxyFrowardClientId",
        /// The queue's broker name (Java's `RpcRequestHeader.bname`, set by 5.x clients).
        broker_name: Option<String> = "bname",
    }
}

impl PullMessageRequestHeader {
    pub fn has_commit_offset(&self) -> bool {
        self.sys_flag & pull_sys_flag::COMMIT_OFFSET != 0
    }
    pub fn has_suspend(&self) -> bool {
        self.sys_flag & pull_sys_flag::SUSPEND != 0
    }
    pub fn has_subscription(&self) -> bool {
        self.sys_flag & pull_sys_flag::SUBSCRIPTION != 0
    }
}

command_header! {
    /// Response to a pull: the four required fields must be present on codes 0/19/20/21.
    pub struct PullMessageResponseHeader {
        suggest_which_broker_id: i64 = "suggestWhichBrokerId",
        next_begin_offset: i64 = "nextBeginOffset",
        min_offset: i64 = "minOffset",
        max_offset: i64 = "maxOffset",
        offset_delta: Option<i64> = "offsetDelta",
        topic_sys_flag: Option<i32> = "topicSysFlag",
        group_sys_flag: Option<i32> = "groupSysFlag",
        forbidden_type: Option<i32> = "forbiddenType",
    }
}
