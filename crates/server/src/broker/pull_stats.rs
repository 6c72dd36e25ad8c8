//! What each consumer group pulled, for GET_CONSUME_STATS: per (group, topic) the next
//! offset of the latest pull answer of each queue (Java's pull offset table) and how many
//! messages the group got per second over the last minute (Java's GROUP_GET_NUMS).
//!
//! What must stay true: memory is bounded by the (group, topic, queue) triples that pulled
//! and 60 one-second counters per (group, topic); the mutex is a leaf, held only to update
//! or read a table, never across an await.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

/// The window the rate is taken over, in seconds (Java: the last minute).
const WINDOW_SECONDS: i64 = 60;

#[derive(Default)]
struct GroupTopicPulls {
    next_offsets: HashMap<i32, i64>,
    /// (second since the epoch, messages got in it), oldest first, within the window.
    per_second: VecDeque<(i64, u64)>,
}

impl GroupTopicPulls {
    fn forget_before(&mut self, second: i64) {
        while self
            .per_second
            .front()
            .is_some_and(|(s, _)| *s <= second - WINDOW_SECONDS)
        {
            self.per_second.pop_front();
        }
    }
}

/// group -> topic -> what it pulled; nested so that a pull looks both up by `&str` and
/// allocates only the first time a (group, topic) pulls.
type PullTable = HashMap<String, HashMap<String, GroupTopicPulls>>;

#[derive(Default)]
pub struct PullStats {
    inner: Mutex<PullTable>,
}

impl PullStats {
    fn lock(&self) -> std::sync::MutexGuard<'_, PullTable> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records one pull answer: where the next pull of the queue starts and how many
    /// messages it carried.
    pub fn record(
        &self,
        group: &str,
        topic: &str,
        queue_id: i32,
        next_offset: i64,
        messages: u64,
        now_ms: i64,
    ) {
        let second = now_ms.div_euclid(1000);
        let mut table = self.lock();
        if !table.contains_key(group) {
            table.insert(group.to_string(), HashMap::new());
        }
        let topics = table.get_mut(group).expect("inserted above");
        if !topics.contains_key(topic) {
            topics.insert(topic.to_string(), GroupTopicPulls::default());
        }
        let entry = topics.get_mut(topic).expect("inserted above");
        entry.next_offsets.insert(queue_id, next_offset);
        entry.forget_before(second);
        if messages > 0 {
            match entry.per_second.back_mut() {
                Some((s, n)) if *s == second => *n += messages,
                _ => entry.per_second.push_back((second, messages)),
            }
        }
    }

    /// The next offset of the group's latest pull of a queue, if it pulled it.
    pub fn pull_offset(&self, group: &str, topic: &str, queue_id: i32) -> Option<i64> {
        self.lock()
            .get(group)
            .and_then(|topics| topics.get(topic))
            .and_then(|e| e.next_offsets.get(&queue_id).copied())
    }

    /// Messages per second the group got from a topic over the last minute.
    pub fn tps(&self, group: &str, topic: &str, now_ms: i64) -> f64 {
        let mut table = self.lock();
        let Some(entry) = table.get_mut(group).and_then(|t| t.get_mut(topic)) else {
            return 0.0;
        };
        entry.forget_before(now_ms.div_euclid(1000));
        let total: u64 = entry.per_second.iter().map(|(_, n)| n).sum();
        total as f64 / WINDOW_SECONDS as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pull_offsets_and_the_rate_over_the_last_minute() {
        let stats = PullStats::default();
        assert_eq!(stats.pull_offset("g", "T", 0), None);
        stats.record("g", "T", 0, 10, 6, 1_000_000);
        stats.record("g", "T", 0, 16, 6, 1_000_500);
        stats.record("g", "T", 1, 4, 0, 1_001_000);
        assert_eq!(stats.pull_offset("g", "T", 0), Some(16));
        assert_eq!(stats.pull_offset("g", "T", 1), Some(4));
        assert_eq!(stats.pull_offset("other", "T", 0), None);
        assert!((stats.tps("g", "T", 1_001_000) - 12.0 / 60.0).abs() < 1e-9);
        // A minute later the window no longer holds them.
        assert_eq!(stats.tps("g", "T", 1_060_000), 0.0);
        assert_eq!(stats.tps("g", "U", 1_000_000), 0.0);
    }
}
