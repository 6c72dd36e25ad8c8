//! Server-side load balancing: QUERY_ASSIGNMENT (400) answers which queues of a topic a
//! consumer reads and how (PULL, or POP), and SET_MESSAGE_REQUEST_MODE (401) switches a
//! topic/group pair between the two, as Apache's `QueryAssignmentProcessor` does.
//!
//! A Java push consumer with `clientRebalance=false` rebalances through 400 instead of
//! allocating queues itself; when the pair is in POP mode it pops the assigned queues
//! (queue id -1 = every queue of that broker) and acks instead of committing offsets.
//!
//! What must stay true: modes survive a restart (see `broker::request_modes`); retry topics are always PULL and
//! cannot be switched; an unknown strategy, topic or member set answers "no decision"
//! (`None`), which the client treats as "keep what you have", never as an empty assignment.
//! The assigned queues are this broker's own queues of the topic (the bundled cluster's
//! brokers each answer for their own; Apache answers from the name server's full route).

use crate::broker::error::OpError;
use crate::broker::retry::RETRY_GROUP_TOPIC_PREFIX;
use crate::broker::services::Broker;
use rocketmq_protocol::body::assignment::{
    MessageQueueAssignment, MessageRequestMode, QueryAssignmentRequestBody,
    SetMessageRequestModeRequestBody,
};
use rocketmq_protocol::body::{MessageModel, MessageQueue};
use rocketmq_protocol::code::response_code as resp;

/// Java `AllocateMessageQueueAveragely`'s and `AllocateMessageQueueAveragelyByCircle`'s names.
const STRATEGY_AVERAGE: &str = "AVG";
const STRATEGY_CIRCLE: &str = "AVG_BY_CIRCLE";

/// Java's `AllocateMessageQueueAveragely`: contiguous blocks, the first `n % members`
/// members one queue more.
fn allocate_average(queues: &[MessageQueue], members: &[String], me: usize) -> Vec<MessageQueue> {
    let (n, m) = (queues.len(), members.len());
    let rest = n % m;
    let size = if n <= m {
        1
    } else if rest > 0 && me < rest {
        n / m + 1
    } else {
        n / m
    };
    let start = if rest > 0 && me < rest {
        me * size
    } else {
        me * size + rest
    };
    queues.iter().skip(start).take(size).cloned().collect()
}

/// Java's `AllocateMessageQueueAveragelyByCircle`: every `members`-th queue from `me`.
fn allocate_circle(queues: &[MessageQueue], members: &[String], me: usize) -> Vec<MessageQueue> {
    queues
        .iter()
        .enumerate()
        .filter(|(i, _)| i % members.len() == me)
        .map(|(_, q)| q.clone())
        .collect()
}

/// Java's `allocate4Pop`: every member pops every queue (queue id -1) unless the mode shares
/// only with the next `share` members.
fn allocate_pop(
    allocate: fn(&[MessageQueue], &[String], usize) -> Vec<MessageQueue>,
    queues: &[MessageQueue],
    members: &[String],
    me: usize,
    share: i32,
) -> Vec<MessageQueue> {
    let m = members.len();
    if share <= 0 || share as usize >= m.saturating_sub(1) {
        let mut whole: Vec<MessageQueue> = queues
            .iter()
            .map(|q| MessageQueue::new(q.topic.clone(), q.broker_name.clone(), -1))
            .collect();
        whole.dedup();
        return whole;
    }
    if m > queues.len() {
        // More members than queues: each gets one, round robin.
        return vec![queues[me % queues.len()].clone()];
    }
    let mut result = allocate(queues, members, me);
    for i in 1..=share as usize {
        result.extend(allocate(queues, members, (me + i) % m));
    }
    result
}

impl Broker {
    /// The queues of `req.topic` assigned to `req.client_id`, each with its mode; `None` when
    /// no decision is possible (unknown topic or strategy, the client not a member).
    pub fn query_assignment(
        &self,
        req: &QueryAssignmentRequestBody,
    ) -> Option<Vec<MessageQueueAssignment>> {
        let mode = self
            .request_modes
            .get(&req.topic, &req.consumer_group)
            .unwrap_or_else(|| SetMessageRequestModeRequestBody {
                topic: req.topic.clone(),
                consumer_group: req.consumer_group.clone(),
                // Apache's defaultMessageRequestMode is PULL; retry topics are always PULL.
                mode: MessageRequestMode::Pull,
                pop_share_queue_num: 0,
            });
        let config = self.topics.get(&req.topic)?;
        let queues: Vec<MessageQueue> = (0..config.read_queue_nums)
            .map(|id| MessageQueue::new(req.topic.clone(), self.config.broker_name.clone(), id))
            .collect();
        let assigned = match req.message_model {
            MessageModel::Broadcasting => queues,
            MessageModel::Clustering => {
                if queues.is_empty() {
                    return None;
                }
                let mut members = self.clients.consumer_ids(&req.consumer_group);
                members.sort();
                let me = members.iter().position(|c| *c == req.client_id)?;
                let allocate = match req.strategy_name.as_str() {
                    STRATEGY_AVERAGE => allocate_average,
                    STRATEGY_CIRCLE => allocate_circle,
                    other => {
                        tracing::warn!(
                            strategy = other,
                            group = req.consumer_group,
                            "QUERY_ASSIGNMENT with an unknown allocation strategy"
                        );
                        return None;
                    }
                };
                if mode.mode == MessageRequestMode::Pop {
                    allocate_pop(allocate, &queues, &members, me, mode.pop_share_queue_num)
                } else {
                    allocate(&queues, &members, me)
                }
            }
        };
        Some(
            assigned
                .into_iter()
                .map(|message_queue| MessageQueueAssignment {
                    attachments: None,
                    message_queue,
                    mode: mode.mode,
                })
                .collect(),
        )
    }

    /// Switches a topic/group pair to `body.mode` (kept across restarts).
    pub fn set_message_request_mode(
        &self,
        body: SetMessageRequestModeRequestBody,
    ) -> Result<(), OpError> {
        if body.topic.starts_with(RETRY_GROUP_TOPIC_PREFIX) {
            return Err(OpError::new(
                resp::NO_PERMISSION,
                "retry topic is not allowed to set mode",
            ));
        }
        if self.topics.get(&body.topic).is_none() {
            return Err(OpError::new(
                resp::TOPIC_NOT_EXIST,
                format!(
                    "topic[{}] not exist; create it before setting its request mode",
                    body.topic
                ),
            ));
        }
        if body.consumer_group.is_empty() {
            return Err(OpError::new(
                resp::SUBSCRIPTION_GROUP_NOT_EXIST,
                "subscription group does not exist: name the consumer group",
            ));
        }
        self.request_modes.set(&*self.store, body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queues(n: i32) -> Vec<MessageQueue> {
        (0..n).map(|i| MessageQueue::new("t", "b", i)).collect()
    }

    fn members(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("c{i}")).collect()
    }

    fn ids(q: &[MessageQueue]) -> Vec<i32> {
        q.iter().map(|q| q.queue_id).collect()
    }

    #[test]
    fn average_gives_contiguous_blocks_the_first_members_one_more() {
        let (q, m) = (queues(8), members(3));
        assert_eq!(ids(&allocate_average(&q, &m, 0)), [0, 1, 2]);
        assert_eq!(ids(&allocate_average(&q, &m, 1)), [3, 4, 5]);
        assert_eq!(ids(&allocate_average(&q, &m, 2)), [6, 7]);
        let few = members(10);
        assert_eq!(ids(&allocate_average(&q, &few, 9)), Vec::<i32>::new());
    }

    #[test]
    fn circle_deals_queues_in_turn() {
        let (q, m) = (queues(5), members(2));
        assert_eq!(ids(&allocate_circle(&q, &m, 0)), [0, 2, 4]);
        assert_eq!(ids(&allocate_circle(&q, &m, 1)), [1, 3]);
    }

    #[test]
    fn pop_without_sharing_limit_gives_every_member_the_whole_broker() {
        let (q, m) = (queues(4), members(3));
        let all = allocate_pop(allocate_average, &q, &m, 2, -1);
        assert_eq!(all, [MessageQueue::new("t", "b", -1)]);
        // Sharing with the next member: its own block plus that member's.
        let shared = allocate_pop(allocate_average, &queues(6), &members(4), 0, 1);
        assert_eq!(ids(&shared), [0, 1, 2, 3]);
    }
}
