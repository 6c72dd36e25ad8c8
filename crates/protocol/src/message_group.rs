//! FIFO message groups: which queue of a topic a message group's messages go to.
//!
//! A message group is the property `__SHARDINGKEY` (what RocketMQ 5's proxy sets from a
//! message's `message_group`). Apache's proxy sends a single message with a group to
//! `writeQueues[Hashing.consistentHash(group.hashCode(), writeQueues.size())]`, where
//! `writeQueues` are the topic's writable queues of its master brokers sorted by broker name
//! then queue id, `hashCode` is Java's `String.hashCode` (over UTF-16 units) and
//! `consistentHash` is Guava's jump consistent hash. [`message_group_queue`] is that choice.
//!
//! What must stay true: pure and deterministic, equal to the proxy's choice for every group
//! and queue set (the tests hold values computed with Guava itself), so our producer, our
//! gRPC front end and Apache's proxy put one group on the same queue.

/// The property naming a message's group.
pub const SHARDING_KEY: &str = "__SHARDINGKEY";

/// Java's `String.hashCode`: `h = 31 * h + c` over the UTF-16 code units, wrapping.
pub fn java_string_hash(s: &str) -> i32 {
    s.encode_utf16()
        .fold(0i32, |h, unit| h.wrapping_mul(31).wrapping_add(unit as i32))
}

/// Guava's `Hashing.consistentHash(long, int)`: a bucket in `0..buckets` (0 when `buckets`
/// is not positive, where Guava throws).
pub fn consistent_hash(input: i64, buckets: i32) -> i32 {
    if buckets <= 0 {
        return 0;
    }
    let mut state = input;
    let mut candidate: i32 = 0;
    loop {
        state = state
            .wrapping_mul(2_862_933_555_777_941_757)
            .wrapping_add(1);
        let unit = (((state as u64) >> 33) as i32 as f64 + 1.0) / 2_147_483_648.0;
        // Java's (int) of a double saturates, as Rust's `as` does.
        let next = ((candidate + 1) as f64 / unit) as i32;
        if next >= 0 && next < buckets {
            candidate = next;
        } else {
            return candidate;
        }
    }
}

/// Index into a list of `queue_count` sorted write queues for `group`.
pub fn message_group_index(group: &str, queue_count: usize) -> usize {
    let buckets = i32::try_from(queue_count).unwrap_or(i32::MAX);
    consistent_hash(java_string_hash(group) as i64, buckets) as usize
}

/// The queue `(broker name, queue id)` of `write_queues` (in any order) that `group`'s
/// messages go to, as Apache's proxy chooses it; `None` when there is no queue.
pub fn message_group_queue<'a>(
    group: &str,
    write_queues: &[(&'a str, i32)],
) -> Option<(&'a str, i32)> {
    let mut sorted = write_queues.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    if sorted.is_empty() {
        return None;
    }
    Some(sorted[message_group_index(group, sorted.len())])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `(group, String.hashCode, [(buckets, Guava's consistentHash)])`, computed with Guava
    /// 32.0.1 (the version Apache RocketMQ 5.5.0 ships).
    /// `(group, String.hashCode, [(buckets, Guava's consistentHash)])`.
    type Expected = (&'static str, i32, [(i32, i32); 7]);

    const GUAVA: [Expected; 7] = [
        (
            "order-1",
            -1207111310,
            [(1, 0), (2, 0), (4, 3), (8, 3), (16, 3), (3, 0), (7, 3)],
        ),
        (
            "group-A",
            293427315,
            [(1, 0), (2, 0), (4, 2), (8, 2), (16, 12), (3, 2), (7, 2)],
        ),
        (
            "g0",
            3241,
            [(1, 0), (2, 0), (4, 0), (8, 0), (16, 0), (3, 0), (7, 0)],
        ),
        (
            "",
            0,
            [(1, 0), (2, 0), (4, 0), (8, 0), (16, 0), (3, 0), (7, 0)],
        ),
        (
            "\u{e9}t\u{e9}-\u{4e2d}",
            218881470,
            [(1, 0), (2, 1), (4, 1), (8, 1), (16, 10), (3, 1), (7, 1)],
        ),
        (
            "user-42",
            -147182656,
            [(1, 0), (2, 1), (4, 1), (8, 1), (16, 1), (3, 1), (7, 1)],
        ),
        (
            "x",
            120,
            [(1, 0), (2, 1), (4, 1), (8, 4), (16, 12), (3, 1), (7, 4)],
        ),
    ];

    #[test]
    fn equals_java_and_guava() {
        for (group, hash, buckets) in GUAVA {
            assert_eq!(java_string_hash(group), hash, "{group:?}");
            for (n, expected) in buckets {
                assert_eq!(
                    consistent_hash(hash as i64, n),
                    expected,
                    "{group:?} over {n}"
                );
                assert_eq!(message_group_index(group, n as usize), expected as usize);
            }
        }
        assert_eq!(consistent_hash(5, 0), 0);
    }

    #[test]
    fn queue_is_chosen_from_the_sorted_list() {
        let queues = [("b", 1), ("a", 1), ("b", 0), ("a", 0)];
        // "order-1" over 4 queues is bucket 3 of [a0, a1, b0, b1].
        assert_eq!(message_group_queue("order-1", &queues), Some(("b", 1)));
        assert_eq!(message_group_queue("group-A", &queues), Some(("b", 0)));
        assert_eq!(message_group_queue("x", &[]), None);
    }
}
