//! Broker-side queue locks for orderly consumers (spec 5.6, Java `RebalanceLockManager`):
//! LOCK_BATCH_MQ and UNLOCK_BATCH_MQ.
//!
//! What must stay true:
//! - per consumer group, a queue is held by at most one client id at a time unless that
//!   client's lock is older than `lock_max_live` (60 s by default), after which any client of
//!   the group may take it over;
//! - locking a queue a client already holds renews it (its age starts again at `now`);
//! - unlocking removes only locks held by the asking client id;
//! - time comes in as an argument (`now`), so tests drive expiry without sleeping; a `now`
//!   earlier than a lock's last renewal counts as age zero, never as a panic.

use rocketmq_protocol::body::MessageQueue;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Java `rocketmq.broker.rebalance.lockMaxLiveTime` default.
pub const DEFAULT_LOCK_MAX_LIVE: Duration = Duration::from_secs(60);

#[derive(Debug)]
struct LockEntry {
    client_id: String,
    last_update: Instant,
}

impl LockEntry {
    fn is_expired(&self, now: Instant, max_live: Duration) -> bool {
        now.saturating_duration_since(self.last_update) > max_live
    }

    fn is_held_by(&self, client_id: &str, now: Instant, max_live: Duration) -> bool {
        self.client_id == client_id && !self.is_expired(now, max_live)
    }
}

/// The lock table of one broker: group -> queue -> holder. Thread-safe; every method takes
/// the one table mutex for a short, non-blocking critical section.
#[derive(Debug)]
pub struct RebalanceLockManager {
    lock_max_live: Duration,
    groups: Mutex<HashMap<String, HashMap<MessageQueue, LockEntry>>>,
}

impl Default for RebalanceLockManager {
    fn default() -> Self {
        Self::new(DEFAULT_LOCK_MAX_LIVE)
    }
}

impl RebalanceLockManager {
    pub fn new(lock_max_live: Duration) -> Self {
        RebalanceLockManager {
            lock_max_live,
            groups: Mutex::new(HashMap::new()),
        }
    }

    fn table(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<String, HashMap<MessageQueue, LockEntry>>> {
        // A panic elsewhere while holding the lock cannot leave an entry half-written (every
        // update is a single insert or field store), so a poisoned table is still usable.
        self.groups.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Locks (or renews) each queue for `client_id` where possible and returns the queues this
    /// client holds after the call, in request order, without duplicates. A queue held by
    /// another client whose lock has not expired is left out.
    pub fn try_lock_batch(
        &self,
        group: &str,
        client_id: &str,
        mqs: &[MessageQueue],
        now: Instant,
    ) -> Vec<MessageQueue> {
        let max_live = self.lock_max_live;
        let mut groups = self.table();
        let table = groups.entry(group.to_string()).or_default();
        let mut granted: Vec<MessageQueue> = Vec::with_capacity(mqs.len());
        for mq in mqs {
            if granted.contains(mq) {
                continue;
            }
            let ok = match table.get_mut(mq) {
                Some(entry) if entry.is_held_by(client_id, now, max_live) => {
                    entry.last_update = now;
                    true
                }
                Some(entry) if entry.is_expired(now, max_live) => {
                    // The holder stopped renewing: hand the queue over.
                    entry.client_id = client_id.to_string();
                    entry.last_update = now;
                    true
                }
                Some(entry) => {
                    tracing::debug!(
                        group,
                        client_id,
                        holder = %entry.client_id,
                        topic = %mq.topic,
                        queue_id = mq.queue_id,
                        "queue lock held by another client"
                    );
                    false
                }
                None => {
                    table.insert(
                        mq.clone(),
                        LockEntry {
                            client_id: client_id.to_string(),
                            last_update: now,
                        },
                    );
                    true
                }
            };
            if ok {
                granted.push(mq.clone());
            }
        }
        if table.is_empty() {
            groups.remove(group);
        }
        granted
    }

    /// Releases the given queues, but only where `client_id` is the holder (expired or not).
    pub fn unlock_batch(&self, group: &str, client_id: &str, mqs: &[MessageQueue]) {
        let mut groups = self.table();
        if let Some(table) = groups.get_mut(group) {
            for mq in mqs {
                if table.get(mq).is_some_and(|e| e.client_id == client_id) {
                    table.remove(mq);
                }
            }
            if table.is_empty() {
                groups.remove(group);
            }
        }
    }

    /// Whether a client other than `client_id` holds an unexpired lock on `mq`.
    #[cfg(test)]
    pub fn is_locked_by_other(
        &self,
        group: &str,
        client_id: &str,
        mq: &MessageQueue,
        now: Instant,
    ) -> bool {
        self.table()
            .get(group)
            .and_then(|t| t.get(mq))
            .is_some_and(|e| e.client_id != client_id && !e.is_expired(now, self.lock_max_live))
    }

    /// The client holding an unexpired lock on `mq`, if any.
    #[cfg(test)]
    pub fn holder(&self, group: &str, mq: &MessageQueue, now: Instant) -> Option<String> {
        self.table()
            .get(group)
            .and_then(|t| t.get(mq))
            .filter(|e| !e.is_expired(now, self.lock_max_live))
            .map(|e| e.client_id.clone())
    }

    /// Whether any queue of `group` is under an unexpired lock (an orderly consumer is active).
    #[cfg(test)]
    pub fn group_has_live_locks(&self, group: &str, now: Instant) -> bool {
        self.table()
            .get(group)
            .is_some_and(|t| t.values().any(|e| !e.is_expired(now, self.lock_max_live)))
    }

    /// Drops expired locks so the table does not grow with queues nobody locks any more.
    /// Returns how many were dropped.
    pub fn purge_expired(&self, now: Instant) -> usize {
        let max_live = self.lock_max_live;
        let mut groups = self.table();
        let mut dropped = 0;
        groups.retain(|_, table| {
            let before = table.len();
            table.retain(|_, e| !e.is_expired(now, max_live));
            dropped += before - table.len();
            !table.is_empty()
        });
        dropped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn qs(ids: &[i32]) -> Vec<MessageQueue> {
        ids.iter()
            .map(|&i| MessageQueue::new("T", "broker-a", i))
            .collect()
    }

    #[test]
    fn two_clients_contend() {
        let m = RebalanceLockManager::default();
        let t0 = Instant::now();
        assert_eq!(m.try_lock_batch("g", "c1", &qs(&[0, 1]), t0), qs(&[0, 1]));
        // c2 gets only the free queue.
        assert_eq!(
            m.try_lock_batch("g", "c2", &qs(&[0, 1, 2, 3]), t0),
            qs(&[2, 3])
        );
        assert!(m.is_locked_by_other("g", "c2", &qs(&[0])[0], t0));
        assert!(!m.is_locked_by_other("g", "c1", &qs(&[0])[0], t0));
        assert!(m.is_locked_by_other("g", "c1", &qs(&[2])[0], t0));
        assert_eq!(m.holder("g", &qs(&[3])[0], t0).as_deref(), Some("c2"));
        // Another group is independent.
        assert_eq!(m.try_lock_batch("other", "c2", &qs(&[0]), t0), qs(&[0]));
    }

    #[test]
    fn expiry_hands_over_and_renewal_keeps() {
        let m = RebalanceLockManager::new(Duration::from_secs(60));
        let t0 = Instant::now();
        assert_eq!(m.try_lock_batch("g", "c1", &qs(&[0, 1]), t0), qs(&[0, 1]));
        // At exactly 60 s the lock is not yet expired (Java: age > max).
        let t60 = t0 + Duration::from_secs(60);
        assert!(m.try_lock_batch("g", "c2", &qs(&[0, 1]), t60).is_empty());
        // c1 renews queue 0 only, at 50 s.
        let t50 = t0 + Duration::from_secs(50);
        assert_eq!(m.try_lock_batch("g", "c1", &qs(&[0]), t50), qs(&[0]));
        // At 61 s queue 1 has expired, queue 0 (renewed at 50 s) has not.
        let t61 = t0 + Duration::from_secs(61);
        assert!(!m.is_locked_by_other("g", "c2", &qs(&[1])[0], t61));
        assert!(m.is_locked_by_other("g", "c2", &qs(&[0])[0], t61));
        assert_eq!(m.try_lock_batch("g", "c2", &qs(&[0, 1]), t61), qs(&[1]));
        assert_eq!(m.holder("g", &qs(&[1])[0], t61).as_deref(), Some("c2"));
        // c1 lost queue 1.
        assert_eq!(m.try_lock_batch("g", "c1", &qs(&[0, 1]), t61), qs(&[0]));
    }

    #[test]
    fn unlock_only_removes_own_locks() {
        let m = RebalanceLockManager::default();
        let t0 = Instant::now();
        m.try_lock_batch("g", "c1", &qs(&[0]), t0);
        m.try_lock_batch("g", "c2", &qs(&[1]), t0);
        m.unlock_batch("g", "c2", &qs(&[0, 1]));
        assert!(m.is_locked_by_other("g", "c2", &qs(&[0])[0], t0));
        assert!(!m.is_locked_by_other("g", "c1", &qs(&[1])[0], t0));
        assert!(m.holder("g", &qs(&[1])[0], t0).is_none());
        assert!(m.try_lock_batch("g", "c3", &qs(&[0]), t0).is_empty());
        m.unlock_batch("g", "c1", &qs(&[0]));
        assert_eq!(m.try_lock_batch("g", "c3", &qs(&[0]), t0), qs(&[0]));
        // Unknown group: no effect, no panic.
        m.unlock_batch("nope", "c1", &qs(&[0]));
    }

    #[test]
    fn duplicates_and_clock_going_back() {
        let m = RebalanceLockManager::default();
        let t0 = Instant::now() + Duration::from_secs(10);
        assert_eq!(
            m.try_lock_batch("g", "c1", &qs(&[0, 0, 1]), t0),
            qs(&[0, 1])
        );
        // An earlier `now` than the last renewal is age zero.
        let earlier = t0 - Duration::from_secs(5);
        assert!(m.is_locked_by_other("g", "c2", &qs(&[0])[0], earlier));
        assert!(m.try_lock_batch("g", "c2", &qs(&[0]), earlier).is_empty());
    }

    #[test]
    fn group_liveness_and_purge() {
        let m = RebalanceLockManager::new(Duration::from_secs(1));
        let t0 = Instant::now();
        assert!(!m.group_has_live_locks("g", t0));
        m.try_lock_batch("g", "c1", &qs(&[0, 1]), t0);
        m.try_lock_batch("h", "c1", &qs(&[0]), t0 + Duration::from_secs(2));
        assert!(m.group_has_live_locks("g", t0));
        let t3 = t0 + Duration::from_millis(1500);
        assert!(!m.group_has_live_locks("g", t3));
        assert_eq!(m.purge_expired(t3), 2);
        assert!(m.group_has_live_locks("h", t3));
        assert_eq!(m.purge_expired(t3), 0);
    }

    #[test]
    fn queue_json_matches_java() {
        let q = MessageQueue::new("T", "b", 3);
        assert_eq!(
            serde_json::to_string(&q).unwrap(),
            r#"{"brokerName":"b","queueId":3,"topic":"T"}"#
        );
    }

    #[test]
    fn concurrent_lockers_never_share_a_queue() {
        let m = std::sync::Arc::new(RebalanceLockManager::default());
        let t0 = Instant::now();
        let handles: Vec<_> = (0..4)
            .map(|c| {
                let m = m.clone();
                std::thread::spawn(move || {
                    m.try_lock_batch("g", &format!("c{c}"), &qs(&[0, 1, 2, 3, 4, 5, 6, 7]), t0)
                })
            })
            .collect();
        let mut all: Vec<MessageQueue> = handles
            .into_iter()
            .flat_map(|h| h.join().expect("locker thread"))
            .collect();
        all.sort();
        assert_eq!(all, qs(&[0, 1, 2, 3, 4, 5, 6, 7]));
    }
}
