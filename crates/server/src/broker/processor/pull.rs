//! PullMessageProcessor: PULL_MESSAGE (11) and LITE_PULL_MESSAGE (361).
//!
//! What must stay true: every answer carries `suggestWhichBrokerId`, `nextBeginOffset`,
//! `minOffset` and `maxOffset` as strings, error answers included (cpp throws without them).

use crate::broker::ops::pull::{PullOutcome, PullStatus};
use crate::broker::services::Broker;
use crate::remoting::ConnectionHandle;
use rocketmq_protocol::code::response_code as resp;
use rocketmq_protocol::header::{
    pull_sys_flag, PullMessageRequestHeader, PullMessageResponseHeader,
};
use rocketmq_protocol::RemotingCommand;

fn answer(
    req: &RemotingCommand,
    code: i32,
    remark: impl Into<String>,
    next_begin_offset: i64,
    min_offset: i64,
    max_offset: i64,
) -> RemotingCommand {
    RemotingCommand::response_to(req)
        .with_code(code)
        .with_remark(remark)
        .with_header(&PullMessageResponseHeader {
            suggest_which_broker_id: 0,
            next_begin_offset,
            min_offset,
            max_offset,
            offset_delta: None,
            topic_sys_flag: None,
            group_sys_flag: None,
            forbidden_type: None,
        })
}

pub(super) async fn pull(
    broker: &Broker,
    conn: &ConnectionHandle,
    req: &RemotingCommand,
) -> RemotingCommand {
    let header: PullMessageRequestHeader = match req.decode_header() {
        Ok(h) => h,
        Err(e) => {
            let suspend = req
                .field_i32("sysFlag")
                .is_some_and(|f| f & pull_sys_flag::SUSPEND != 0);
            let answer = answer(req, resp::SYSTEM_ERROR, e.to_string(), 0, 0, 0);
            if suspend {
                broker.pause_before_pull_error(conn.closed()).await;
            }
            return answer;
        }
    };
    let PullOutcome {
        status,
        store_status,
        next_begin_offset,
        min_offset,
        max_offset,
        messages,
    } = broker.pull(&header, conn.closed()).await;
    let (code, remark) = match status {
        Ok(PullStatus::Found) => (resp::SUCCESS, store_status.to_string()),
        Ok(PullStatus::NoNewMessage) => (resp::PULL_NOT_FOUND, store_status.to_string()),
        Ok(PullStatus::NoMatchedMessage) => {
            (resp::PULL_RETRY_IMMEDIATELY, store_status.to_string())
        }
        Ok(PullStatus::OffsetIllegal) => (resp::PULL_OFFSET_MOVED, store_status.to_string()),
        Err(e) => (e.code, e.remark),
    };
    let mut answer = answer(req, code, remark, next_begin_offset, min_offset, max_offset);
    if !messages.is_empty() {
        answer.body = messages;
    }
    answer
}
