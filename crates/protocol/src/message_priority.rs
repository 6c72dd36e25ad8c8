//! Priority messages (RocketMQ 5.4+): which queue a priority message goes to.
//!
//! A message is a priority message when it has the property `_SYS_MSG_PRIORITY_` (a
//! non-negative number) and no stronger type: Apache's `TopicMessageType.parseFromMessageProperty` ranks a
//! transactional half message, then a delay or timer message, then a FIFO message (message
//! group), then a priority message. The broker sends a priority message to the queue named by
//! its priority, capped at the topic's last writable queue, and drops the property from a
//! message of a stronger type. Consumers of a `PRIORITY` topic read its queues from the last
//! (highest priority) down.
//!
//! What must stay true: pure; the ranking is Apache's, so one message is typed alike by our
//! gRPC front end, our remoting send path and Apache's broker.

use crate::properties::{
    get_property, DELAY, PRIORITY, SHARDING_KEY, TIMER_DELAY_MS, TIMER_DELAY_SEC, TIMER_DELIVER_MS,
    TRAN_MSG,
};

/// What the broker does with a message's priority property.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PriorityRoute {
    /// No priority property (or not a number >= 0): the queue is chosen as for any message.
    None,
    /// A priority message: it goes to this queue.
    Queue(i32),
    /// A message of a stronger type carries a priority: the property is dropped.
    Drop,
}

/// A priority property's value as a priority, when it is a number >= 0.
pub fn parse_priority(value: &str) -> Option<i32> {
    value.trim().parse::<i32>().ok().filter(|p| *p >= 0)
}

/// The priority of stored properties `props`, when it is a number >= 0.
fn priority_of(props: &str) -> Option<i32> {
    get_property(props, PRIORITY).and_then(parse_priority)
}

/// Whether `props` make a message of a type ranked above priority (transaction, delay or
/// timer, FIFO).
fn stronger_type(props: &str) -> bool {
    let set = |name| get_property(props, name).is_some_and(|v| !v.is_empty());
    get_property(props, TRAN_MSG).is_some_and(|v| v.eq_ignore_ascii_case("true"))
        || get_property(props, DELAY).is_some_and(|v| v.trim().parse::<i32>().unwrap_or(0) > 0)
        || set(TIMER_DELIVER_MS)
        || set(TIMER_DELAY_SEC)
        || set(TIMER_DELAY_MS)
        || set(SHARDING_KEY)
}

/// Where a message with properties `props` goes on a topic of `write_queues` queues.
pub fn priority_route(props: &str, write_queues: i32) -> PriorityRoute {
    match priority_of(props) {
        None => PriorityRoute::None,
        Some(_) if stronger_type(props) => PriorityRoute::Drop,
        Some(p) => PriorityRoute::Queue(p.min(write_queues.max(1) - 1)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::properties::encode_pairs;

    #[test]
    fn a_priority_names_its_queue_capped_at_the_last() {
        let props = |p: &str| encode_pairs(&[(PRIORITY, p), ("TAGS", "t")]);
        assert_eq!(priority_route(&props("0"), 8), PriorityRoute::Queue(0));
        assert_eq!(priority_route(&props("5"), 8), PriorityRoute::Queue(5));
        assert_eq!(priority_route(&props("42"), 8), PriorityRoute::Queue(7));
        assert_eq!(priority_route(&props("3"), 0), PriorityRoute::Queue(0));
        assert_eq!(priority_route(&props("-1"), 8), PriorityRoute::None);
        assert_eq!(priority_route(&props("high"), 8), PriorityRoute::None);
        assert_eq!(
            priority_route(&encode_pairs(&[("TAGS", "t")]), 8),
            PriorityRoute::None
        );
    }

    #[test]
    fn a_stronger_type_drops_the_priority() {
        for (name, value) in [
            (TRAN_MSG, "true"),
            (DELAY, "3"),
            (TIMER_DELIVER_MS, "1700000000000"),
            (TIMER_DELAY_SEC, "10"),
            (TIMER_DELAY_MS, "10"),
            (SHARDING_KEY, "g"),
        ] {
            let props = encode_pairs(&[(PRIORITY, "2"), (name, value)]);
            assert_eq!(priority_route(&props, 4), PriorityRoute::Drop, "{name}");
        }
        let weak = encode_pairs(&[(PRIORITY, "2"), (DELAY, "0"), (TRAN_MSG, "false")]);
        assert_eq!(priority_route(&weak, 4), PriorityRoute::Queue(2));
    }
}
