//! The POP bookkeeping as pure data: per (group, stored topic, queue) the pop cursor and the
//! messages in flight, and the decisions over them (what an orderly POP may hand out, whether
//! a handle is current, what has expired). No I/O, no clock: callers pass `now`.
//!
//! What must stay true:
//! - an offset is in flight at most once per queue key; its `pop_time` identifies the
//!   delivery, so a handle is current only if its pop time equals the entry's and the entry
//!   is still invisible (`now < visible_at`);
//! - an expired entry can no longer be acked or changed: from then on it belongs to the
//!   revive (normal POP) or to the next orderly POP of its queue;
//! - the cursor only moves forward.

use std::collections::{BTreeMap, HashMap};

/// One queue as one group pops it. `topic` is the stored topic (the topic or its POP retry
/// topic).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PopKey {
    pub group: String,
    pub topic: String,
    pub queue_id: i32,
}

impl PopKey {
    pub fn new(group: &str, topic: &str, queue_id: i32) -> PopKey {
        PopKey {
            group: group.to_string(),
            topic: topic.to_string(),
            queue_id,
        }
    }
}

/// One message handed out and not yet acked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InFlight {
    pub pop_time: i64,
    pub invisible_time: i64,
    /// Handed out by an orderly POP (expiry re-hands it out instead of reviving it).
    pub order: bool,
    /// Orderly POP: how often it was handed out before this delivery.
    pub count: i32,
}

impl InFlight {
    pub fn visible_at(&self) -> i64 {
        self.pop_time.saturating_add(self.invisible_time)
    }
    pub fn is_invisible(&self, now: i64) -> bool {
        now < self.visible_at()
    }
}

/// A queue's cursor and in-flight messages.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct QueueState {
    /// The next offset never handed out (None: the group never popped this queue).
    pub cursor: Option<i64>,
    pub in_flight: BTreeMap<i64, InFlight>,
    /// Orderly POP: the attempt id of the request that handed out the in-flight messages. A
    /// POP with the same attempt id (a client retrying its request) is not blocked and gets
    /// them again without counting a new delivery, as Java's `ConsumerOrderInfoManager`.
    pub order_attempt: Option<String>,
}

/// Why a handle was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HandleRefusal {
    /// Nothing of that offset is in flight for the group (acked already, revived, or never
    /// handed out).
    NotInFlight,
    /// In flight, but handed out again since (the handle's pop time is an older delivery's).
    OtherDelivery,
    /// The invisible time has passed: the message is (being) delivered again.
    Expired,
}

impl HandleRefusal {
    pub fn reason(self) -> &'static str {
        match self {
            HandleRefusal::NotInFlight => {
                "the message is not in flight for this group (already acked, redelivered, or never popped)"
            }
            HandleRefusal::OtherDelivery => {
                "the handle belongs to an earlier delivery of the message (it was popped again since)"
            }
            HandleRefusal::Expired => {
                "the handle's invisible time has passed; the message is delivered again"
            }
        }
    }
}

/// Every queue's state.
#[derive(Clone, Debug, Default)]
pub struct PopState {
    queues: HashMap<PopKey, QueueState>,
}

impl PopState {
    pub fn queue(&self, key: &PopKey) -> Option<&QueueState> {
        self.queues.get(key)
    }

    pub fn queues(&self) -> impl Iterator<Item = (&PopKey, &QueueState)> {
        self.queues.iter()
    }

    pub fn cursor(&self, key: &PopKey) -> Option<i64> {
        self.queues.get(key).and_then(|q| q.cursor)
    }

    /// Moves the cursor forward to `next` (never back).
    pub fn advance(&mut self, key: &PopKey, next: i64) {
        let q = self.queues.entry(key.clone()).or_default();
        q.cursor = Some(q.cursor.map_or(next, |c| c.max(next)));
    }

    /// Records a delivery of `offsets` (ascending) at `pop_time`; returns each offset's
    /// delivery count (0 for a first orderly delivery, previous + 1 for a redelivery, the
    /// same again for a retried orderly request with the same attempt id).
    pub fn record_pop(
        &mut self,
        key: &PopKey,
        offsets: &[i64],
        pop_time: i64,
        invisible_time: i64,
        order: bool,
        attempt: Option<&str>,
    ) -> Vec<i32> {
        let q = self.queues.entry(key.clone()).or_default();
        let same_attempt = attempt.is_some() && q.order_attempt.as_deref() == attempt;
        if order && !offsets.is_empty() {
            q.order_attempt = attempt.map(str::to_string);
        }
        offsets
            .iter()
            .map(|o| {
                let count = q.in_flight.get(o).map_or(0, |f| {
                    if same_attempt {
                        f.count
                    } else {
                        f.count.saturating_add(1)
                    }
                });
                q.in_flight.insert(
                    *o,
                    InFlight {
                        pop_time,
                        invisible_time,
                        order,
                        count,
                    },
                );
                count
            })
            .collect()
    }

    /// Sets the orderly attempt id as a snapshot holds it.
    pub fn restore_attempt(&mut self, key: &PopKey, attempt: &str) {
        self.queues.entry(key.clone()).or_default().order_attempt = Some(attempt.to_string());
    }

    /// Sets one entry as a snapshot holds it.
    pub fn restore(&mut self, key: &PopKey, offset: i64, entry: InFlight) {
        self.queues
            .entry(key.clone())
            .or_default()
            .in_flight
            .insert(offset, entry);
    }

    /// Whether the handle (offset, pop time) is the current delivery at `now`.
    pub fn check(
        &self,
        key: &PopKey,
        offset: i64,
        pop_time: i64,
        now: i64,
    ) -> Result<InFlight, HandleRefusal> {
        let entry = self
            .queues
            .get(key)
            .and_then(|q| q.in_flight.get(&offset))
            .ok_or(HandleRefusal::NotInFlight)?;
        if entry.pop_time != pop_time {
            return Err(HandleRefusal::OtherDelivery);
        }
        if !entry.is_invisible(now) {
            return Err(HandleRefusal::Expired);
        }
        Ok(*entry)
    }

    /// Removes an entry (acked, or revived); true if it was there.
    pub fn remove(&mut self, key: &PopKey, offset: i64) -> bool {
        self.queues
            .get_mut(key)
            .is_some_and(|q| q.in_flight.remove(&offset).is_some())
    }

    /// Gives an entry a new pop time and invisible time (CHANGE_INVISIBLE_TIME).
    pub fn change(&mut self, key: &PopKey, offset: i64, pop_time: i64, invisible_time: i64) {
        if let Some(e) = self
            .queues
            .get_mut(key)
            .and_then(|q| q.in_flight.get_mut(&offset))
        {
            e.pop_time = pop_time;
            e.invisible_time = invisible_time;
        }
    }

    /// A pop time for a new delivery or change of `offset` at `now`: later than the entry's,
    /// so handles of two deliveries never look alike.
    pub fn fresh_pop_time(&self, key: &PopKey, offset: i64, now: i64) -> i64 {
        match self.queues.get(key).and_then(|q| q.in_flight.get(&offset)) {
            Some(e) if e.pop_time >= now => e.pop_time + 1,
            _ => now,
        }
    }

    /// Orderly POP: a queue with an invisible message in flight hands out nothing, except
    /// to a retry of the request that took them (same attempt id).
    pub fn order_blocked(&self, key: &PopKey, now: i64, attempt: Option<&str>) -> bool {
        self.queues.get(key).is_some_and(|q| {
            let same_attempt = attempt.is_some() && q.order_attempt.as_deref() == attempt;
            !same_attempt && q.in_flight.values().any(|e| e.is_invisible(now))
        })
    }

    /// Orderly POP: the in-flight offsets to hand out again before anything new (expired
    /// ones, or all of them for the same attempt id), ascending. Empty while blocked.
    pub fn order_redeliveries(&self, key: &PopKey, now: i64, attempt: Option<&str>) -> Vec<i64> {
        if self.order_blocked(key, now, attempt) {
            return Vec::new();
        }
        self.queues
            .get(key)
            .map(|q| q.in_flight.keys().copied().collect())
            .unwrap_or_default()
    }

    /// Normal-POP entries whose invisible time has passed (for the revive), oldest first.
    pub fn expired(&self, now: i64, limit: usize) -> Vec<(PopKey, i64, InFlight)> {
        let mut out: Vec<(PopKey, i64, InFlight)> = self
            .queues
            .iter()
            .flat_map(|(k, q)| {
                q.in_flight
                    .iter()
                    .filter(|(_, e)| !e.order && !e.is_invisible(now))
                    .map(move |(o, e)| (k.clone(), *o, *e))
            })
            .collect();
        out.sort_by_key(|(_, _, e)| e.visible_at());
        out.truncate(limit);
        out
    }

    /// When the next normal-POP entry expires, if any.
    pub fn next_expiry(&self) -> Option<i64> {
        self.queues
            .values()
            .flat_map(|q| q.in_flight.values())
            .filter(|e| !e.order)
            .map(InFlight::visible_at)
            .min()
    }

    /// The offset to commit for the group (what consume stats show): orderly POP commits
    /// up to its oldest unacked message, normal POP its cursor (the rest is in its
    /// checkpoints, as Java commits it).
    pub fn commit_offset(&self, key: &PopKey) -> Option<i64> {
        let q = self.queues.get(key)?;
        let oldest_order = q.in_flight.iter().find(|(_, e)| e.order).map(|(o, _)| *o);
        match (oldest_order, q.cursor) {
            (Some(o), Some(c)) => Some(o.min(c)),
            (o, c) => o.or(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> PopKey {
        PopKey::new("G", "T", 0)
    }

    #[test]
    fn a_handle_is_current_only_for_its_delivery_and_while_invisible() {
        let mut s = PopState::default();
        s.record_pop(&key(), &[3, 4], 1000, 500, false, None);
        s.advance(&key(), 5);
        assert!(s.check(&key(), 3, 1000, 1200).is_ok());
        assert_eq!(
            s.check(&key(), 3, 999, 1200),
            Err(HandleRefusal::OtherDelivery)
        );
        assert_eq!(s.check(&key(), 3, 1000, 1500), Err(HandleRefusal::Expired));
        assert_eq!(
            s.check(&key(), 7, 1000, 1200),
            Err(HandleRefusal::NotInFlight)
        );
        assert_eq!(
            s.check(&PopKey::new("H", "T", 0), 3, 1000, 1200),
            Err(HandleRefusal::NotInFlight)
        );
        assert!(s.remove(&key(), 3));
        assert_eq!(
            s.check(&key(), 3, 1000, 1200),
            Err(HandleRefusal::NotInFlight)
        );
        assert!(!s.remove(&key(), 3));
    }

    #[test]
    fn change_makes_the_old_handle_stale_and_moves_the_expiry() {
        let mut s = PopState::default();
        s.record_pop(&key(), &[0], 1000, 100, false, None);
        let t = s.fresh_pop_time(&key(), 0, 1000);
        assert_eq!(t, 1001);
        s.change(&key(), 0, t, 5000);
        assert_eq!(
            s.check(&key(), 0, 1000, 1050),
            Err(HandleRefusal::OtherDelivery)
        );
        assert!(s.check(&key(), 0, 1001, 5000).is_ok());
        assert!(s.expired(5000, 10).is_empty());
        assert_eq!(s.expired(6001, 10).len(), 1);
        assert_eq!(s.next_expiry(), Some(6001));
    }

    #[test]
    fn orderly_pop_blocks_then_redelivers_with_a_higher_count() {
        let mut s = PopState::default();
        assert_eq!(
            s.record_pop(&key(), &[0, 1], 1000, 100, true, Some("a1")),
            vec![0, 0]
        );
        s.advance(&key(), 2);
        assert!(s.order_blocked(&key(), 1050, None));
        assert!(s.order_blocked(&key(), 1050, Some("a2")));
        assert!(s.order_redeliveries(&key(), 1050, None).is_empty());
        // A retried request (same attempt id) gets the batch again, counted once.
        assert!(!s.order_blocked(&key(), 1050, Some("a1")));
        assert_eq!(s.order_redeliveries(&key(), 1050, Some("a1")), vec![0, 1]);
        assert_eq!(
            s.record_pop(&key(), &[0, 1], 1050, 50, true, Some("a1")),
            vec![0, 0]
        );
        assert_eq!(s.commit_offset(&key()), Some(0));
        assert!(s.remove(&key(), 0));
        assert_eq!(s.commit_offset(&key()), Some(1));
        assert_eq!(s.order_redeliveries(&key(), 1100, None), vec![1]);
        assert!(
            s.expired(5000, 10).is_empty(),
            "orderly entries are never revived"
        );
        assert_eq!(s.record_pop(&key(), &[1], 1100, 100, true, None), vec![1]);
        assert!(s.remove(&key(), 1));
        assert_eq!(s.commit_offset(&key()), Some(2));
    }

    #[test]
    fn the_cursor_never_moves_back() {
        let mut s = PopState::default();
        assert_eq!(s.cursor(&key()), None);
        s.advance(&key(), 5);
        s.advance(&key(), 3);
        assert_eq!(s.cursor(&key()), Some(5));
        assert_eq!(s.commit_offset(&key()), Some(5));
    }
}
