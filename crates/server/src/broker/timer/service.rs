//! [`TimerService`]: takes the timer queue (`rmq_sys_wheel_timer` queue 0) into the on-disk
//! timer log and wheel, reads each wheel slot shortly before its time, and delivers every
//! entry at its deliver time into its real topic and queue.
//!
//! One pass ([`TimerService::run_once`]) does, under one lock: take in new timer-queue entries
//! (bounded); read the slots starting within the next slot width (bounded by what is held in
//! memory); deliver what is due (bounded); and prepare a checkpoint of what changed. The
//! checkpoint is written (after the deliveries it covers are durable) by a second thread when
//! the service runs on its own ([`TimerService::spawn`]), so fsyncs never hold back a due
//! delivery; [`TimerService::run_once`] writes it itself, when no delivery is due within a
//! few ms or the last one is 500 ms old. [`TimerService::spawn`] runs passes on a plain thread, waking at the next due
//! time or as soon as a timer message is appended.

use super::rules::{recall_key, recall_marker_key, redelivery, TIMER_TOPIC};
use crate::broker::notify::QueueNotifier;
use rocketmq_protocol::message::{decode_stored, StoredMessage};
use rocketmq_protocol::now_millis;
use rocketmq_store::{
    CommitTicket, DurableWaiter, MessageStore, StoreError, TimerEntry, TimerStore, TimerStoreConfig,
};
use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// Most timer-queue entries taken in per pass.
const MAX_ENQUEUE_PER_PASS: usize = 4096;
/// Most deliveries per pass (the checkpoint follows each pass).
const MAX_DELIVERIES_PER_PASS: usize = 1024;
/// Slots are no longer read ahead while this many entries wait in memory (after a downtime,
/// many slots are due at once).
const MAX_HELD: usize = 65_536;
/// Longest sleep between passes: the stop flag is seen within this time.
const IDLE_WAIT: Duration = Duration::from_millis(100);
/// Pause after the store refused a delivery before trying again.
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(1);
/// No checkpoint while a delivery is due within this many ms (unless one is overdue).
const COMMIT_GAP_MS: i64 = 25;
/// Longest time between two checkpoints while there is something to record: what a crash
/// may deliver again.
const MAX_COMMIT_INTERVAL: Duration = Duration::from_millis(500);
/// How long to wait for a delivery's sync-flush acknowledgement.
const DURABLE_WAIT: Duration = Duration::from_secs(10);

struct Progress {
    timer: TimerStore,
    /// Next timer-queue offset to take in.
    enqueue_offset: i64,
    /// Slots before this time were read into `held` (or delivered before).
    loaded_until: i64,
    /// Entries of read slots not delivered yet, by (deliver time, timer-log position).
    held: BTreeMap<(i64, i64), TimerEntry>,
    /// Delivered entries whose slot is not before the checkpoint's read time: position ->
    /// slot time.
    delivered: BTreeMap<i64, i64>,
    /// Sync-flush waiters of deliveries not yet covered by a checkpoint.
    pending: Vec<DurableWaiter>,
    /// Something was taken in or delivered since the last checkpoint.
    dirty: bool,
    /// Deliveries since the last checkpoint (under async flush: flush before it).
    delivered_since_commit: bool,
    last_commit: Instant,
}

/// Delivers timer messages at their time (see the module header).
pub struct TimerService {
    store: Arc<dyn MessageStore>,
    progress: Mutex<Progress>,
    /// The checkpoint waiting for the writer thread (see [`TimerService::spawn`]).
    checkpoints: Mutex<CheckpointSlot>,
    checkpoint_ready: Condvar,
}

/// A checkpoint and what must be durable before it is written.
struct Handoff {
    ticket: Option<CommitTicket>,
    waiters: Vec<DurableWaiter>,
    /// Deliveries without waiters (async flush): flush the store first.
    flush: bool,
}

#[derive(Default)]
struct CheckpointSlot {
    next: Option<Handoff>,
    /// No more checkpoints will come: the writer ends once `next` is written.
    closed: bool,
}

/// What one pass did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct PassReport {
    pub enqueued: usize,
    pub delivered: usize,
}

impl TimerService {
    /// Opens the timer files under `dir` (created when missing). The wheel covers
    /// `max_delay_ms` ahead.
    pub fn open(
        store: Arc<dyn MessageStore>,
        dir: &Path,
        max_delay_ms: i64,
        now_ms: i64,
    ) -> Result<Self, StoreError> {
        let timer = TimerStore::open(TimerStoreConfig::new(dir, max_delay_ms), now_ms)?;
        let checkpoint = timer.checkpoint().clone();
        let mut delivered = BTreeMap::new();
        for &pos in &checkpoint.delivered {
            if let Some(e) = timer.entry_at(pos)? {
                delivered.insert(pos, timer.slot_ms_of(e.deliver_ms));
            }
        }
        Ok(TimerService {
            store,
            progress: Mutex::new(Progress {
                enqueue_offset: checkpoint.enqueue_offset,
                loaded_until: checkpoint.read_ms,
                held: BTreeMap::new(),
                delivered,
                timer,
                pending: Vec::new(),
                dirty: false,
                delivered_since_commit: false,
                last_commit: Instant::now(),
            }),
            checkpoints: Mutex::new(CheckpointSlot::default()),
            checkpoint_ready: Condvar::new(),
        })
    }

    /// The lowest commit-log offset holding an undelivered timer message: retention must not
    /// delete a commit-log file at or after it. `None`: the timer needs nothing.
    /// Commit-log retention calls it (through the floor the cluster registers) once a pass.
    pub fn lowest_needed_commit_log_offset(&self) -> Option<i64> {
        let mut p = self.lock();
        let not_taken_in = (p.enqueue_offset < self.store.max_offset(TIMER_TOPIC, 0))
            .then(|| self.store.queue_entry(TIMER_TOPIC, 0, p.enqueue_offset))
            .flatten()
            .map(|e| e.commit_log_offset);
        [p.timer.lowest_needed_commit_log_offset(), not_taken_in]
            .into_iter()
            .flatten()
            .min()
    }

    /// How many entries wait in memory (for tests of the memory bound).
    #[cfg(test)]
    pub fn held(&self) -> usize {
        self.lock().held.len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Progress> {
        self.progress.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// One pass at time `now_ms`, writing the checkpoint on this thread when one is due;
    /// returns what it did and how long to wait before the next. (Tests drive the service
    /// with it on a simulated clock; [`TimerService::spawn`] runs the passes otherwise.)
    #[cfg(test)]
    pub fn run_once(&self, now_ms: i64) -> (PassReport, Duration) {
        let (report, wait, handoff) = self.pass(now_ms, false);
        if let Some(h) = handoff {
            self.write_checkpoint(h);
        }
        (report, wait)
    }

    /// The checkpoint of the state now, with what must be durable before it is written.
    fn checkpoint_handoff(&self, p: &mut Progress) -> Option<Handoff> {
        let read_ms = p
            .held
            .keys()
            .next()
            .map(|&(at, _)| p.timer.slot_ms_of(at))
            .unwrap_or(p.loaded_until)
            .min(p.loaded_until);
        p.delivered.retain(|_, slot| *slot >= read_ms);
        let delivered = p.delivered.keys().copied().collect();
        let ticket = match p.timer.prepare_commit(p.enqueue_offset, read_ms, delivered) {
            Ok(t) => t,
            Err(e) => {
                tracing::warn!(error = %e, "preparing the timer checkpoint failed");
                return None;
            }
        };
        let handoff = Handoff {
            ticket,
            waiters: std::mem::take(&mut p.pending),
            flush: std::mem::take(&mut p.delivered_since_commit),
        };
        p.dirty = false;
        p.last_commit = Instant::now();
        Some(handoff)
    }

    /// Waits until the deliveries a checkpoint covers are durable, writes it, and removes the
    /// timer-log files it shows delivered. Runs without the progress lock but for the end.
    fn write_checkpoint(&self, h: Handoff) {
        let mut durable = true;
        if h.waiters.is_empty() && h.flush {
            if let Err(e) = self.store.flush() {
                tracing::warn!(error = %e, "flush before the timer checkpoint failed");
                durable = false;
            }
        }
        for w in h.waiters {
            if let Err(e) = w.wait(DURABLE_WAIT) {
                tracing::warn!(error = %e, "timer delivery not confirmed durable");
                durable = false;
            }
        }
        let written = match (durable, h.ticket) {
            (true, Some(ticket)) => match ticket.write() {
                Ok(cp) => Some(cp),
                Err(e) => {
                    tracing::warn!(error = %e, "writing the timer checkpoint failed");
                    None
                }
            },
            (true, None) => return,
            (false, _) => None,
        };
        let mut p = self.lock();
        match written {
            Some(cp) => {
                p.timer.committed(cp);
                if let Err(e) = p.timer.drop_delivered_files() {
                    tracing::warn!(error = %e, "removing delivered timer log files failed");
                }
            }
            // Not recorded: the next pass tries again (nothing is lost meanwhile, the old
            // checkpoint stays valid).
            None => {
                p.dirty = true;
                p.delivered_since_commit = true;
            }
        }
    }

    fn pass(&self, now_ms: i64, force: bool) -> (PassReport, Duration, Option<Handoff>) {
        let mut guard = self.lock();
        let p = &mut *guard;
        let mut report = PassReport::default();
        let mut more = false;
        let precision = p.timer.precision_ms();

        // 1. Take in new timer messages.
        let min = self.store.min_offset(TIMER_TOPIC, 0);
        if p.enqueue_offset < min {
            tracing::warn!(
                from = p.enqueue_offset,
                to = min,
                "timer queue offset below its start"
            );
            p.enqueue_offset = min;
        }
        let max = self.store.max_offset(TIMER_TOPIC, 0);
        while p.enqueue_offset < max {
            if report.enqueued == MAX_ENQUEUE_PER_PASS {
                more = true;
                break;
            }
            if let Some(q) = self.store.queue_entry(TIMER_TOPIC, 0, p.enqueue_offset) {
                match p.timer.append(q.tags_code, q.commit_log_offset, q.size) {
                    Ok(entry) => {
                        if p.timer.slot_ms_of(entry.deliver_ms) < p.loaded_until {
                            p.held.insert((entry.deliver_ms, entry.pos), entry);
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "timer log append failed");
                        return (report, RETRY_AFTER_FAILURE, None);
                    }
                }
            } else {
                tracing::warn!(
                    offset = p.enqueue_offset,
                    "missing timer queue entry; skipped"
                );
            }
            p.enqueue_offset += 1;
            report.enqueued += 1;
        }

        // 2. Read the slots that start within one slot width.
        while p.loaded_until <= now_ms + precision && p.held.len() < MAX_HELD {
            match p.timer.slot_entries(p.loaded_until) {
                Ok(entries) => {
                    for e in entries {
                        if !p.delivered.contains_key(&e.pos) {
                            p.held.insert((e.deliver_ms, e.pos), e);
                        }
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "reading a timer slot failed");
                    return (report, RETRY_AFTER_FAILURE, None);
                }
            }
            p.loaded_until += precision;
        }
        if p.loaded_until <= now_ms + precision {
            more = true;
        }

        // 3. Deliver what is due: the entries due at one millisecond together, so that a
        // recall marker cancels its message whichever of the two the log holds first.
        let mut waiters = Vec::new();
        let mut failed = false;
        'due: while let Some((&(deliver_ms, _), _)) = p.held.first_key_value() {
            if deliver_ms > now_ms {
                break;
            }
            if report.delivered >= MAX_DELIVERIES_PER_PASS {
                more = true;
                break;
            }
            let group: Vec<TimerEntry> = p
                .held
                .range((deliver_ms, i64::MIN)..=(deliver_ms, i64::MAX))
                .map(|(_, e)| *e)
                .collect();
            let stored: Vec<Option<StoredMessage>> = group
                .iter()
                .map(|e| {
                    self.store
                        .read_record(e.commit_log_offset)
                        .and_then(|raw| decode_stored(&raw).ok())
                        .map(|(m, _)| m)
                })
                .collect();
            let recalled: HashSet<String> = stored
                .iter()
                .flatten()
                .filter_map(|m| recall_marker_key(&m.properties).map(str::to_string))
                .collect();
            for (entry, m) in group.iter().zip(stored) {
                // A marker is never delivered; a recalled message neither.
                let copy = match m {
                    Some(m) if recall_marker_key(&m.properties).is_some() => None,
                    Some(m) if recall_key(&m.properties).is_some_and(|k| recalled.contains(&k)) => {
                        tracing::debug!(
                            commit_log_offset = entry.commit_log_offset,
                            "timer message recalled"
                        );
                        None
                    }
                    m => {
                        let copy = m.and_then(|m| redelivery(m, now_ms));
                        if copy.is_none() {
                            tracing::warn!(
                                commit_log_offset = entry.commit_log_offset,
                                "unreadable timer message; skipped"
                            );
                        }
                        copy
                    }
                };
                if let Some(msg) = copy {
                    match self.store.put_messages(vec![msg]) {
                        Ok(outcome) => waiters.extend(outcome.durable),
                        Err(e) => {
                            tracing::warn!(error = %e, "timer delivery refused by the store");
                            failed = true;
                            break 'due;
                        }
                    }
                }
                p.held.remove(&(entry.deliver_ms, entry.pos));
                p.delivered
                    .insert(entry.pos, p.timer.slot_ms_of(entry.deliver_ms));
                report.delivered += 1;
            }
        }

        // 4. Bookkeeping: a checkpoint of what changed, not while a delivery is due within a
        // few ms (when written on this thread), but at least every MAX_COMMIT_INTERVAL and at
        // the last pass.
        p.pending.extend(waiters);
        p.delivered_since_commit |= report.delivered > 0;
        p.dirty |= report.enqueued > 0 || report.delivered > 0;
        let next_due = p.held.keys().next().map(|&(at, _)| at);
        let quiet = next_due.is_none_or(|d| d > now_ms + COMMIT_GAP_MS);
        let handoff =
            if p.dirty && (force || quiet || p.last_commit.elapsed() >= MAX_COMMIT_INTERVAL) {
                self.checkpoint_handoff(p)
            } else {
                None
            };

        let wait = if failed {
            RETRY_AFTER_FAILURE
        } else if more {
            Duration::ZERO
        } else {
            let next_due = p.held.keys().next().map(|&(at, _)| at);
            let next_load = p.loaded_until - precision;
            let until = next_due.map_or(next_load, |d| d.min(next_load));
            Duration::from_millis(until.saturating_sub(now_ms).max(0) as u64).min(IDLE_WAIT)
        };
        (report, wait, handoff)
    }

    /// Runs passes on a plain thread until `stop` is set, waking at the next due time, when a
    /// timer message is appended (`notifier`), or every 100 ms to look at `stop`. Checkpoints
    /// are written by a second thread, so their fsyncs never hold back a delivery; the last
    /// one is written before the returned thread ends.
    pub fn spawn(
        self: Arc<Self>,
        notifier: Arc<QueueNotifier>,
        stop: Arc<AtomicBool>,
    ) -> std::io::Result<std::thread::JoinHandle<()>> {
        let waker = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()?;
        let writer = {
            let service = self.clone();
            std::thread::Builder::new()
                .name("timer-checkpoint".into())
                .spawn(move || service.run_checkpoints())?
        };
        std::thread::Builder::new()
            .name("timer-service".into())
            .spawn(move || {
                let mut appended = notifier.subscribe(TIMER_TOPIC, 0);
                while !stop.load(Ordering::Acquire) {
                    appended.borrow_and_update();
                    let (_, wait, handoff) = self.pass(now_millis(), false);
                    if let Some(h) = handoff {
                        self.hand_off(h);
                    }
                    if wait.is_zero() {
                        continue;
                    }
                    waker.block_on(async {
                        tokio::select! {
                            _ = appended.changed() => {}
                            _ = tokio::time::sleep(wait) => {}
                        }
                    });
                }
                // A last pass, then the checkpoint writer finishes what it was given.
                if let Some(h) = self.pass(now_millis(), true).2 {
                    self.hand_off(h);
                }
                {
                    let mut slot = self.checkpoints.lock().unwrap_or_else(|e| e.into_inner());
                    slot.closed = true;
                }
                self.checkpoint_ready.notify_all();
                let _ = writer.join();
            })
    }

    /// Gives a checkpoint to the writer thread; one not yet taken is replaced by the newer
    /// (whose waiters it inherits).
    fn hand_off(&self, mut h: Handoff) {
        let mut slot = self.checkpoints.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(older) = slot.next.take() {
            let mut waiters = older.waiters;
            waiters.append(&mut h.waiters);
            h.waiters = waiters;
            h.flush |= older.flush;
            if h.ticket.is_none() {
                h.ticket = older.ticket;
            }
        }
        slot.next = Some(h);
        drop(slot);
        self.checkpoint_ready.notify_all();
    }

    fn run_checkpoints(&self) {
        loop {
            let next = {
                let mut slot = self.checkpoints.lock().unwrap_or_else(|e| e.into_inner());
                loop {
                    if let Some(h) = slot.next.take() {
                        break Some(h);
                    }
                    if slot.closed {
                        break None;
                    }
                    slot = self
                        .checkpoint_ready
                        .wait(slot)
                        .unwrap_or_else(|e| e.into_inner());
                }
            };
            match next {
                Some(h) => self.write_checkpoint(h),
                None => return,
            }
        }
    }
}

/// Held entries waiting in memory, for tests.
#[cfg(test)]
pub(super) fn held_times(service: &TimerService) -> std::collections::BTreeSet<i64> {
    service.lock().held.keys().map(|&(at, _)| at).collect()
}
