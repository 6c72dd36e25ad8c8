//! A consumer group's progress as admin tools ask for it: GET_CONSUME_STATS (208) and
//! INVOKE_BROKER_TO_RESET_OFFSET (222); and the note taken of every pull answer that the
//! consume stats report (pull offset, messages got per second).

use super::answer::{bad_header, op_error};
use crate::broker::services::Broker;
use rocketmq_protocol::body::encode_reset_offset_body_java;
use rocketmq_protocol::code::response_code as resp;
use rocketmq_protocol::header::{GetConsumeStatsRequestHeader, ResetOffsetRequestHeader};
use rocketmq_protocol::RemotingCommand;

pub(super) fn consume_stats(broker: &Broker, req: &RemotingCommand) -> RemotingCommand {
    let h: GetConsumeStatsRequestHeader = match req.decode_header() {
        Ok(h) => h,
        Err(e) => return bad_header(req, e),
    };
    match broker.consume_stats(&h.consumer_group, h.topic.as_deref()) {
        Ok(stats) => RemotingCommand::response_to(req).with_body(stats.encode()),
        Err(e) => op_error(req, e),
    }
}

pub(super) fn reset_offset(broker: &Broker, req: &RemotingCommand) -> RemotingCommand {
    let h: ResetOffsetRequestHeader = match req.decode_header() {
        Ok(h) => h,
        Err(e) => return bad_header(req, e),
    };
    let one_queue = h.queue_id.filter(|q| *q >= 0).map(|q| (q, h.offset));
    match broker.reset_offset(&h.topic, &h.group, h.timestamp, one_queue) {
        Ok(table) => {
            RemotingCommand::response_to(req).with_body(encode_reset_offset_body_java(&table))
        }
        Err(e) => op_error(req, e),
    }
}

/// Takes note of a pull answer (see the module doc); answers other than SUCCESS and the
/// "nothing new" ones carry no progress.
pub(super) fn observe_pull(broker: &Broker, req: &RemotingCommand, answer: &RemotingCommand) {
    if !matches!(
        answer.code,
        resp::SUCCESS | resp::PULL_NOT_FOUND | resp::PULL_RETRY_IMMEDIATELY
    ) {
        return;
    }
    let (Some(group), Some(topic), Some(queue_id), Some(next)) = (
        req.field("consumerGroup"),
        req.field("topic"),
        req.field_i64("queueId"),
        answer.field_i64("nextBeginOffset"),
    ) else {
        return;
    };
    let messages = if answer.code == resp::SUCCESS {
        count_records(&answer.body)
    } else {
        0
    };
    broker.observe_pull(group, topic, queue_id as i32, next, messages);
}

/// How many stored records a pull body holds (each starts with its total size).
fn count_records(body: &[u8]) -> u64 {
    let mut at = 0usize;
    let mut count = 0u64;
    while let Some(size) = body.get(at..at + 4) {
        let size = i32::from_be_bytes([size[0], size[1], size[2], size[3]]);
        if size <= 0 {
            break;
        }
        at = at.saturating_add(size as usize);
        count += 1;
    }
    count
}

#[cfg(test)]
mod tests {
    use super::count_records;

    #[test]
    fn records_of_a_pull_body_are_counted_by_their_sizes() {
        let mut body = Vec::new();
        for len in [20i32, 8, 12] {
            body.extend_from_slice(&len.to_be_bytes());
            body.extend(std::iter::repeat_n(0u8, len as usize - 4));
        }
        assert_eq!(count_records(&body), 3);
        assert_eq!(count_records(&[]), 0);
        assert_eq!(count_records(&[0, 0, 0, 0, 1]), 0);
    }
}
