//! [`TimerStore`]: the timer log and the time wheel kept consistent by one checkpoint
//! (see the module above for what must stay true).

use super::log::{TimerEntry, TimerLog, ENTRY_SIZE};
use super::wheel::{Slot, TimerWheel};
use crate::atomic_file::{read_optional, write_atomic};
use crate::error::StoreError;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

const CHECKPOINT_FILE: &str = "checkpoint.json";
const LOG_DIR: &str = "log";
const WHEEL_FILE: &str = "wheel";

/// Where and how a [`TimerStore`] keeps its files.
#[derive(Clone, Debug)]
pub struct TimerStoreConfig {
    /// Directory of the timer files (`log/`, `wheel`, `checkpoint.json`).
    pub dir: PathBuf,
    /// Entries per timer-log file (32 bytes each).
    pub entries_per_file: u64,
    /// Width of one wheel slot in ms: a slot is read whole when its time comes near.
    pub precision_ms: i64,
    /// Number of wheel slots; `slot_count * precision_ms` must exceed the longest delay, or
    /// two pending deliver times would share a slot.
    pub slot_count: u64,
}

impl TimerStoreConfig {
    /// One-second slots covering `max_delay_ms` twice over; 1 Mi entries (32 MiB) per file.
    pub fn new(dir: impl Into<PathBuf>, max_delay_ms: i64) -> Self {
        let precision_ms = 1000;
        TimerStoreConfig {
            dir: dir.into(),
            entries_per_file: 1 << 20,
            precision_ms,
            slot_count: (max_delay_ms.max(0) / precision_ms) as u64 * 2 + 16,
        }
    }
}

/// What is durable about the timer: written atomically, only after what it covers is.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TimerCheckpoint {
    /// The next offset of the broker's timer queue to take into the timer log.
    pub enqueue_offset: i64,
    /// Length of the timer log this checkpoint covers.
    pub log_end: u64,
    /// Every entry due before this time (a slot boundary) is delivered.
    pub read_ms: i64,
    /// Timer-log positions of delivered entries due at or after `read_ms`.
    #[serde(default)]
    pub delivered: Vec<i64>,
}

/// A prepared checkpoint: the timer log bytes it covers are made durable and the checkpoint is
/// written by [`CommitTicket::write`], which needs no access to the [`TimerStore`].
pub struct CommitTicket {
    checkpoint: TimerCheckpoint,
    /// The segment being appended to when the ticket was made (earlier segments were synced
    /// when the next one was started).
    log_file: Option<std::fs::File>,
    path: PathBuf,
}

impl CommitTicket {
    pub fn checkpoint(&self) -> &TimerCheckpoint {
        &self.checkpoint
    }

    /// fsyncs the timer log, then replaces the checkpoint file atomically.
    pub fn write(self) -> Result<TimerCheckpoint, StoreError> {
        if let Some(f) = &self.log_file {
            f.sync_data()?;
        }
        let json = serde_json::to_vec(&self.checkpoint)
            .map_err(|e| StoreError::Io(std::io::Error::other(e.to_string())))?;
        write_atomic(&self.path, &json)?;
        Ok(self.checkpoint)
    }
}

pub struct TimerStore {
    config: TimerStoreConfig,
    log: TimerLog,
    wheel: TimerWheel,
    checkpoint: TimerCheckpoint,
    /// Timer-log position before which every entry is delivered (see
    /// [`TimerStore::lowest_needed_commit_log_offset`]); only moves forward.
    first_pending: i64,
}

/// Most timer-log entries one [`TimerStore::lowest_needed_commit_log_offset`] call reads.
const PENDING_SCAN_LIMIT: usize = 65_536;

impl TimerStore {
    /// Opens (or creates) the timer files: cuts the log back to the checkpoint and rebuilds
    /// the wheel from it. A new store starts reading at the slot of `now_ms`.
    pub fn open(config: TimerStoreConfig, now_ms: i64) -> Result<TimerStore, StoreError> {
        std::fs::create_dir_all(&config.dir)?;
        let precision = config.precision_ms.max(1);
        let checkpoint_path = config.dir.join(CHECKPOINT_FILE);
        let mut checkpoint = match read_optional(&checkpoint_path)? {
            Some(json) => serde_json::from_str::<TimerCheckpoint>(&json).map_err(|e| {
                StoreError::Io(std::io::Error::other(format!(
                    "unreadable timer checkpoint {}: {e}",
                    checkpoint_path.display()
                )))
            })?,
            None => TimerCheckpoint {
                read_ms: now_ms.div_euclid(precision) * precision,
                ..TimerCheckpoint::default()
            },
        };
        let (log, entries) = TimerLog::open(
            &config.dir.join(LOG_DIR),
            config.entries_per_file,
            checkpoint.log_end,
        )?;
        checkpoint.log_end = log.end();
        let wheel = TimerWheel::create(
            &config.dir.join(WHEEL_FILE),
            config.slot_count,
            config.precision_ms,
        )?;
        let mut slots: BTreeMap<i64, Slot> = BTreeMap::new();
        for e in entries
            .iter()
            .filter(|e| wheel.slot_ms_of(e.deliver_ms) >= checkpoint.read_ms)
        {
            let slot_ms = wheel.slot_ms_of(e.deliver_ms);
            let slot = slots.entry(slot_ms).or_insert(Slot {
                slot_ms,
                last_pos: -1,
                count: 0,
            });
            slot.last_pos = e.pos;
            slot.count += 1;
        }
        for slot in slots.into_values() {
            wheel.put(slot)?;
        }
        Ok(TimerStore {
            config,
            log,
            wheel,
            checkpoint,
            first_pending: 0,
        })
    }

    pub fn checkpoint(&self) -> &TimerCheckpoint {
        &self.checkpoint
    }

    /// Width of a wheel slot in ms.
    pub fn precision_ms(&self) -> i64 {
        self.config.precision_ms.max(1)
    }

    /// Start of the slot `deliver_ms` falls in.
    pub fn slot_ms_of(&self, deliver_ms: i64) -> i64 {
        self.wheel.slot_ms_of(deliver_ms)
    }

    /// Records a stored timer message (not yet durable: see [`TimerStore::commit`]) and links
    /// it into the slot of its deliver time.
    pub fn append(
        &mut self,
        deliver_ms: i64,
        commit_log_offset: i64,
        size: i32,
    ) -> Result<TimerEntry, StoreError> {
        let slot = self.wheel.get(self.wheel.slot_ms_of(deliver_ms))?;
        let mut entry = TimerEntry {
            pos: -1,
            prev_pos: slot.last_pos,
            deliver_ms,
            commit_log_offset,
            size,
        };
        entry.pos = self.log.append(entry)?;
        self.wheel.put(Slot {
            slot_ms: slot.slot_ms,
            last_pos: entry.pos,
            count: slot.count + 1,
        })?;
        Ok(entry)
    }

    /// The entry at a timer-log position, if it is kept.
    pub fn entry_at(&self, pos: i64) -> Result<Option<TimerEntry>, StoreError> {
        self.log.read(pos)
    }

    /// Every entry of the slot starting at `slot_ms`, in the order they were appended.
    pub fn slot_entries(&self, slot_ms: i64) -> Result<Vec<TimerEntry>, StoreError> {
        let slot = self.wheel.get(slot_ms)?;
        let mut out = Vec::with_capacity(slot.count.clamp(0, 1 << 16) as usize);
        let mut pos = slot.last_pos;
        // Bounded by the slot's count: a damaged chain cannot loop.
        for _ in 0..slot.count {
            let Some(entry) = self.log.read(pos)? else {
                break;
            };
            if self.wheel.slot_ms_of(entry.deliver_ms) == slot_ms {
                out.push(entry);
            }
            if entry.prev_pos >= pos {
                break;
            }
            pos = entry.prev_pos;
        }
        out.reverse();
        Ok(out)
    }

    /// Makes the timer log durable, then records atomically that the timer queue was taken in
    /// up to `enqueue_offset` (every entry before it appended), that everything due before
    /// `read_ms` is delivered, and which later entries are (`delivered`).
    pub fn commit(
        &mut self,
        enqueue_offset: i64,
        read_ms: i64,
        delivered: Vec<i64>,
    ) -> Result<(), StoreError> {
        if let Some(ticket) = self.prepare_commit(enqueue_offset, read_ms, delivered)? {
            let written = ticket.write()?;
            self.committed(written);
        }
        Ok(())
    }

    /// The checkpoint [`TimerStore::commit`] would write, ready to be written on another
    /// thread ([`CommitTicket::write`], then [`TimerStore::committed`]); `None` when it equals
    /// the current one. Tickets must be written in the order they were prepared.
    pub fn prepare_commit(
        &self,
        enqueue_offset: i64,
        read_ms: i64,
        delivered: Vec<i64>,
    ) -> Result<Option<CommitTicket>, StoreError> {
        let precision = self.precision_ms();
        let next = TimerCheckpoint {
            enqueue_offset,
            log_end: self.log.end(),
            read_ms: read_ms.div_euclid(precision) * precision,
            delivered,
        };
        if next == self.checkpoint {
            return Ok(None);
        }
        Ok(Some(CommitTicket {
            checkpoint: next,
            log_file: self.log.active_handle()?,
            path: self.config.dir.join(CHECKPOINT_FILE),
        }))
    }

    /// Records a checkpoint a [`CommitTicket`] wrote (an older one than the current is
    /// ignored).
    pub fn committed(&mut self, written: TimerCheckpoint) {
        if written.log_end >= self.checkpoint.log_end
            && written.enqueue_offset >= self.checkpoint.enqueue_offset
        {
            self.checkpoint = written;
        }
    }

    /// Removes the oldest timer-log files whose entries are all due before the checkpointed
    /// read time (all delivered). The file being appended to always stays.
    pub fn drop_delivered_files(&mut self) -> Result<usize, StoreError> {
        let read_ms = self.checkpoint.read_ms;
        self.log.drop_leading(|s| s.max_deliver_ms < read_ms)
    }

    /// The commit-log offset of the first entry the checkpoint does not count as delivered:
    /// retention must keep every commit-log byte from here on (and whatever the timer queue
    /// has not taken in yet). `None` when every kept entry is delivered.
    ///
    /// Entries are appended in commit-log order (the timer queue is taken in in order), so
    /// the first undelivered entry points lowest. A cursor remembers how far the delivered
    /// prefix reaches: each entry is passed once, and one call reads at most
    /// [`PENDING_SCAN_LIMIT`] entries (it answers the entry it stopped at, which only keeps
    /// more).
    pub fn lowest_needed_commit_log_offset(&mut self) -> Option<i64> {
        let read_ms = self.checkpoint.read_ms;
        let mut pos = self.first_pending.max(self.log.start() as i64);
        let end = self.log.end() as i64;
        for _ in 0..PENDING_SCAN_LIMIT {
            if pos >= end {
                break;
            }
            let Ok(Some(e)) = self.log.read(pos) else {
                // Unreadable: keep everything from the earliest entry on.
                return self.earliest_kept_commit_log_offset();
            };
            let delivered = self.wheel.slot_ms_of(e.deliver_ms) < read_ms
                || self.checkpoint.delivered.contains(&e.pos);
            if !delivered {
                self.first_pending = pos;
                return Some(e.commit_log_offset);
            }
            pos += ENTRY_SIZE as i64;
        }
        self.first_pending = pos;
        if pos >= end {
            return None;
        }
        self.log
            .read(pos)
            .ok()
            .flatten()
            .map(|e| e.commit_log_offset)
    }

    fn earliest_kept_commit_log_offset(&self) -> Option<i64> {
        self.log
            .segments()
            .iter()
            .map(|s| s.min_commit_log_offset)
            .filter(|&o| o != i64::MAX)
            .min()
    }

    /// Number of timer-log files kept.
    pub fn log_file_count(&self) -> usize {
        self.log.segments().len()
    }

    /// Makes the timer log durable (the checkpoint is written by [`TimerStore::commit`]).
    pub fn sync(&self) -> Result<(), StoreError> {
        self.log.sync()
    }
}
