//! The POP engine's state and durability (RocketMQ 5 stateless consumption): which messages
//! each group has in flight, until when, and the journal that makes it survive a restart.
//!
//! - [`state`]: the pure bookkeeping (cursors, in-flight entries, handle checks, expiry);
//! - [`journal`]: the append-only journal of its changes, replayed and compacted at start;
//! - [`PopService`]: both behind one mutex, plus the counters of held polls and the wake-up
//!   of the revive task. The operations are in `ops::pop`, the revive in `ops::pop_revive`.
//!
//! What must stay true:
//! - one mutex (`PopService::inner`) guards state and journal together: a change is applied
//!   and its journal line written under the same lock, so the journal's order is the order
//!   of the changes. It is a leaf lock apart from the store's own locks, which may be taken
//!   inside it (the store never calls back); it is never held across an await;
//! - under sync flush a change is fsynced before the answer that reports it (see
//!   [`PopService::make_durable`]), under async flush it reaches the file at once and the
//!   disk when the OS writes it;
//! - the revive task is woken ([`PopService::wake_revive_for`]) whenever an entry expires
//!   before the time it planned to look again, or while it is working out that time: it
//!   never sleeps past an expiry.

pub mod journal;
pub mod state;

use journal::{Journal, Record};
use state::PopState;
use std::fs::File;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;

/// Most POP / NOTIFICATION requests held at once (Java's `popPollingSize`); more get
/// POLLING_FULL.
pub const MAX_HELD_POLLS: usize = 1024;
/// Journal lines after which the revive task compacts the journal.
pub const COMPACT_AFTER_LINES: usize = 100_000;
/// [`PopService::revive_planned_at`] while the revive task is working out when to look next.
const REVIVE_AWAKE: i64 = i64::MIN;

struct Inner {
    state: PopState,
    journal: Option<Journal>,
}

/// The POP state of one broker.
pub struct PopService {
    inner: Mutex<Inner>,
    sync_flush: AtomicBool,
    held: Arc<AtomicUsize>,
    counter: AtomicU64,
    /// Woken when an entry expires before `revive_planned_at` (the revive re-plans its sleep).
    pub(crate) revive_wake: Notify,
    /// When the revive task looks next (ms since the epoch), or [`REVIVE_AWAKE`].
    revive_planned_at: AtomicI64,
}

impl Default for PopService {
    fn default() -> Self {
        PopService {
            inner: Mutex::new(Inner {
                state: PopState::default(),
                journal: None,
            }),
            sync_flush: AtomicBool::new(false),
            held: Arc::new(AtomicUsize::new(0)),
            counter: AtomicU64::new(0),
            revive_wake: Notify::new(),
            revive_planned_at: AtomicI64::new(REVIVE_AWAKE),
        }
    }
}

/// A held poll; counted while alive.
pub struct HeldPoll<'a>(&'a AtomicUsize);

impl Drop for HeldPoll<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl PopService {
    /// Opens the journal under `dir` and replaces the state by its replay. Without it (the
    /// broker's unit tests over a memory store) the state lives in memory only.
    pub fn open_journal(&self, dir: &Path, sync_flush: bool) -> std::io::Result<()> {
        let (journal, state) = Journal::open(dir)?;
        let mut inner = self.lock();
        inner.state = state;
        inner.journal = Some(journal);
        self.sync_flush.store(sync_flush, Ordering::Release);
        Ok(())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Reads the state.
    pub fn read<R>(&self, f: impl FnOnce(&PopState) -> R) -> R {
        f(&self.lock().state)
    }

    /// Runs `f` on the state; the records it returns (already applied by `f`) are appended
    /// to the journal under the same lock. Returns `f`'s result and, under sync flush with
    /// something written, the file to fsync before answering.
    pub fn change<R>(
        &self,
        f: impl FnOnce(&mut PopState) -> (R, Vec<Record>),
    ) -> (R, Option<Arc<File>>) {
        let mut inner = self.lock();
        let (result, records) = f(&mut inner.state);
        let mut to_sync = None;
        if let Some(journal) = inner.journal.as_mut() {
            if !records.is_empty() {
                if let Err(e) = journal.append(&records) {
                    tracing::error!("cannot write the POP journal: {e}");
                }
                if self.sync_flush.load(Ordering::Acquire) {
                    to_sync = Some(journal.sync_handle());
                }
            }
        }
        (result, to_sync)
    }

    /// Fsyncs a journal handle returned by [`Self::change`], off the runtime threads.
    pub async fn make_durable(file: Option<Arc<File>>) {
        if let Some(file) = file {
            let done = tokio::task::spawn_blocking(move || file.sync_data()).await;
            if !matches!(done, Ok(Ok(()))) {
                tracing::error!("cannot fsync the POP journal: {done:?}");
            }
        }
    }

    /// Compacts the journal when it grew past [`COMPACT_AFTER_LINES`].
    pub fn compact_if_large(&self) {
        let mut inner = self.lock();
        let Inner { state, journal } = &mut *inner;
        if let Some(j) = journal.as_mut() {
            if j.lines() > COMPACT_AFTER_LINES {
                if let Err(e) = j.compact(state) {
                    tracing::error!("cannot compact the POP journal: {e}");
                }
            }
        }
    }

    /// An entry now becomes visible at `visible_at`: wakes the revive task if that is before
    /// the time it plans to look next, or if it is working that time out (a POP of a backlog
    /// with a long invisible time then costs the revive nothing).
    pub fn wake_revive_for(&self, visible_at: i64) {
        let planned = self.revive_planned_at.load(Ordering::SeqCst);
        if planned == REVIVE_AWAKE || visible_at < planned {
            self.revive_wake.notify_one();
        }
    }

    /// The revive task is about to look at the state (and then work out when to look next).
    pub(crate) fn revive_awake(&self) {
        self.revive_planned_at.store(REVIVE_AWAKE, Ordering::SeqCst);
    }

    /// The revive task sleeps until `at` (ms since the epoch) unless woken.
    pub(crate) fn revive_sleeps_until(&self, at: i64) {
        self.revive_planned_at.store(at, Ordering::SeqCst);
    }

    /// The count of POP / NOTIFICATION requests held right now, shared: it can be read
    /// after the broker is gone (it is then 0).
    pub fn held_polls(&self) -> Arc<AtomicUsize> {
        self.held.clone()
    }

    /// Counts a held poll, or `None` when [`MAX_HELD_POLLS`] are held already.
    pub fn hold(&self) -> Option<HeldPoll<'_>> {
        let before = self.held.fetch_add(1, Ordering::AcqRel);
        let poll = HeldPoll(&self.held);
        (before < MAX_HELD_POLLS).then_some(poll)
    }

    /// A number that grows with every call (revive queue ids, queue rotation).
    pub fn next_counter(&self) -> u64 {
        self.counter.fetch_add(1, Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn held_polls_are_bounded_and_released() {
        let pop = PopService::default();
        let held: Vec<_> = (0..MAX_HELD_POLLS)
            .map(|_| pop.hold().expect("room"))
            .collect();
        assert!(pop.hold().is_none(), "one more than the bound is refused");
        drop(held);
        assert!(pop.hold().is_some());
    }

    #[test]
    fn the_revive_is_woken_only_for_an_expiry_before_its_plan_or_while_awake() {
        let pop = PopService::default();
        let woken = |pop: &PopService| {
            let notified = pop.revive_wake.notified();
            let mut notified = std::pin::pin!(notified);
            // A stored permit completes the first poll.
            notified.as_mut().enable()
        };
        pop.wake_revive_for(5_000);
        assert!(woken(&pop), "awake: every new entry wakes it");
        pop.revive_sleeps_until(1_000);
        pop.wake_revive_for(5_000);
        assert!(!woken(&pop), "an expiry after the plan does not wake it");
        pop.wake_revive_for(999);
        assert!(woken(&pop), "an earlier expiry does");
        pop.revive_awake();
        pop.wake_revive_for(i64::MAX);
        assert!(woken(&pop));
    }
}
