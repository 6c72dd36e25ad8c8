//! The message index: every stored message's keys (`KEYS` words and `UNIQ_KEY`, per topic)
//! with store timestamps, in fixed-size files of hash slots and linked entries under
//! `<root>/index/` (format in [`file`]), so key queries need not scan the commit log.
//!
//! How it is built: the `store-index` thread tails the commit log from the offset the index
//! covers up to the published end and appends entries, in passes a few milliseconds apart
//! while records come in; the append path only wakes it when it went idle (one relaxed load
//! otherwise), so sends never wait for the index and pay no wake-up each. The same code
//! catches up after a restart.
//! Memory is bounded: the only state is the mapped files and a reusable key buffer.
//!
//! Durability and recovery: every `durable_interval` (and when a file fills, and at a clean
//! stop) the current file is fsynced and its durable point moved; full files are sealed. On
//! open after an unclean stop the last file rolls back to its durable point (slots rebuilt
//! from the durable entries), files that start past the valid commit-log end are deleted,
//! and the thread re-indexes the commit log from there. Entries that point at records a crash
//! lost are harmless: a query reads and checks every record it returns.
//!
//! What must stay true: one writer (the thread) holds the write lock while it writes;
//! queries hold the read lock while they follow links; entries go in commit-log order.

pub mod file;
pub mod keys;
#[cfg(test)]
mod tests;

use crate::commit_log::CommitLog;
use crate::error::StoreError;
use crate::mapped_file::{list_segment_files, sync_dir};
use crate::message_store::{KeyQuery, KeyQueryResult};
use bytes::Bytes;
use file::IndexFile;
use rocketmq_protocol::message::{record_header, view_record, RecordHeader};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock, RwLock};
use std::time::{Duration, Instant};

/// Records indexed per hold of the write lock (queries wait at most one batch).
const BATCH_RECORDS: usize = 2048;
/// While records come in, the thread sleeps this long between passes (the most an index
/// lags a busy broker, and how the per-send work is batched).
const BUSY_POLL: Duration = Duration::from_millis(5);
/// Empty passes after which the thread goes idle.
const IDLE_POLLS: u32 = 20;
/// How long a query waits for the index to cover what was stored before it was asked.
const CATCH_UP_WAIT: Duration = Duration::from_secs(2);
/// Candidate entries a query follows per result it may return (hash collisions, records
/// outside the time range found late).
const CANDIDATES_PER_RESULT: usize = 4;

/// Index geometry and pacing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IndexConfig {
    /// Hash slots per file (4 bytes each).
    pub slots_per_file: u32,
    /// Entries per file (24 bytes each); a message takes one per key.
    pub entries_per_file: u32,
    /// How often the current file is fsynced (what an unclean stop re-indexes at most).
    pub durable_interval: Duration,
}

impl Default for IndexConfig {
    fn default() -> Self {
        IndexConfig {
            slots_per_file: 512 * 1024,
            entries_per_file: 2 * 1024 * 1024,
            durable_interval: Duration::from_secs(1),
        }
    }
}

/// Where the index stands.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IndexProgress {
    /// Every record below this commit-log offset is indexed.
    pub indexed_to: u64,
    /// Commit-log offset of the last record indexed.
    pub last_record_offset: i64,
    /// Store timestamp of the last record indexed (0 before the first).
    pub last_store_timestamp: i64,
    pub files: usize,
}

pub struct MessageIndex {
    dir: PathBuf,
    config: IndexConfig,
    files: RwLock<Vec<Arc<IndexFile>>>,
    indexed_to: AtomicU64,
    /// Signalled after every batch, for queries waiting to be covered.
    progress: (Mutex<()>, Condvar),
    /// The thread sleeps until woken (set by the thread, cleared by whoever wakes it).
    idle: AtomicBool,
    thread: OnceLock<std::thread::Thread>,
    stop: AtomicBool,
    clean_stop: AtomicBool,
}

impl MessageIndex {
    /// Opens the index under `dir` for a commit log whose valid end is `valid_end` and whose
    /// first offset is `log_min`. `clean` says whether the store's previous run stopped
    /// cleanly (recovery steps in the module docs).
    pub fn open(
        dir: PathBuf,
        config: IndexConfig,
        clean: bool,
        log_min: u64,
        valid_end: u64,
    ) -> Result<MessageIndex, StoreError> {
        if config.slots_per_file == 0 || config.entries_per_file == 0 {
            return Err(StoreError::MessageIllegal(
                "index files need at least one slot and one entry".into(),
            ));
        }
        std::fs::create_dir_all(&dir)?;
        let mut files = Vec::new();
        for (begin, path) in list_segment_files(&dir)? {
            match IndexFile::open(&path)? {
                Some(f) if f.begin_offset() == begin && begin < valid_end.max(1) => {
                    files.push(Arc::new(f))
                }
                Some(_) | None => {
                    tracing::warn!("removing index file {} (unusable)", path.display());
                    std::fs::remove_file(&path)?;
                }
            }
        }
        // Files wholly past the valid commit-log end index records a crash lost.
        while files.last().is_some_and(|f| f.begin_offset() >= valid_end) {
            if let Some(f) = files.pop() {
                std::fs::remove_file(f.path())?;
            }
        }
        let mut indexed_to = log_min;
        if let Some(last) = files.last() {
            if !clean || !last.is_durable() {
                let from = last.roll_back_to_durable()?;
                tracing::info!(
                    "index {}: re-indexing from commit-log offset {from}",
                    last.path().display()
                );
            }
            indexed_to = last.end_offset().min(valid_end).max(log_min);
        }
        sync_dir(&dir)?;
        Ok(MessageIndex {
            dir,
            config,
            files: RwLock::new(files),
            indexed_to: AtomicU64::new(indexed_to),
            progress: (Mutex::new(()), Condvar::new()),
            idle: AtomicBool::new(false),
            thread: OnceLock::new(),
            stop: AtomicBool::new(false),
            clean_stop: AtomicBool::new(false),
        })
    }

    /// Wakes the indexing thread at once (a query waiting to be covered, a stop).
    pub fn wake(&self) {
        if let Some(t) = self.thread.get() {
            t.unpark();
        }
    }

    /// The append path's note that records were published: wakes the thread only when it went
    /// idle (one relaxed load otherwise), so a busy broker pays no wake-up per send and the
    /// thread indexes in batches, every [`BUSY_POLL`] at the most.
    pub fn appended(&self) {
        if self.idle.load(Ordering::Relaxed) && self.idle.swap(false, Ordering::SeqCst) {
            self.wake();
        }
    }

    /// Asks the indexing thread to stop; with `clean`, it first indexes everything published
    /// and makes it durable.
    pub fn stop(&self, clean: bool) {
        self.clean_stop.store(clean, Ordering::Release);
        self.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.get() {
            t.unpark();
        }
    }

    pub fn progress(&self) -> IndexProgress {
        let files = self.files.read().unwrap_or_else(|e| e.into_inner());
        let last = files.last();
        IndexProgress {
            indexed_to: self.indexed_to.load(Ordering::Acquire),
            last_record_offset: last.map_or(0, |f| f.last_record_offset() as i64),
            last_store_timestamp: last.map_or(0, |f| f.end_timestamp()),
            files: files.len(),
        }
    }

    /// The body of the `store-index` thread: index until stopped. While records come in it
    /// indexes what is there, then sleeps [`BUSY_POLL`] so that the next pass takes a batch;
    /// after [`IDLE_POLLS`] empty passes it goes idle (sleeps until `appended`, a query or the
    /// next durable point wakes it).
    pub fn run(&self, log: &CommitLog) {
        let _ = self.thread.set(std::thread::current());
        let mut last_durable = Instant::now();
        let mut empty_passes = 0u32;
        loop {
            let stopping = self.stop.load(Ordering::Acquire);
            let (indexed, failed) = match self.index_batch(log) {
                Ok(n) => (n, false),
                Err(e) => {
                    // A full disk or a failed file: try again a durable interval later.
                    tracing::error!("indexing paused at {}: {e}", self.indexed_to());
                    (0, true)
                }
            };
            if failed && !stopping {
                std::thread::park_timeout(self.config.durable_interval);
                continue;
            }
            if stopping && (indexed == 0 || !self.clean_stop.load(Ordering::Acquire)) {
                if self.clean_stop.load(Ordering::Acquire) {
                    if let Err(e) = self.make_durable() {
                        tracing::error!("index flush at shutdown failed: {e}");
                    }
                }
                return;
            }
            if last_durable.elapsed() >= self.config.durable_interval {
                if let Err(e) = self.make_durable() {
                    tracing::error!("index flush failed: {e}");
                }
                last_durable = Instant::now();
            }
            if indexed >= BATCH_RECORDS {
                continue;
            }
            empty_passes = if indexed == 0 { empty_passes + 1 } else { 0 };
            if empty_passes < IDLE_POLLS {
                std::thread::park_timeout(BUSY_POLL);
                continue;
            }
            self.idle.store(true, Ordering::SeqCst);
            // A record published before `idle` was set found it false and woke nobody.
            if log.max_offset() <= self.indexed_to() {
                std::thread::park_timeout(self.config.durable_interval);
            }
            self.idle.store(false, Ordering::SeqCst);
        }
    }

    fn indexed_to(&self) -> u64 {
        self.indexed_to.load(Ordering::Acquire)
    }

    fn make_durable(&self) -> Result<(), StoreError> {
        let files = self.files.read().unwrap_or_else(|e| e.into_inner());
        match files.last() {
            Some(f) => f.make_durable(),
            None => Ok(()),
        }
    }

    /// Indexes up to [`BATCH_RECORDS`] published records. Returns how many were read.
    pub fn index_batch(&self, log: &CommitLog) -> Result<usize, StoreError> {
        let end = log.max_offset();
        let mut off = self.indexed_to().max(log.min_offset());
        if off >= end {
            return Ok(0);
        }
        let mut files = self.files.write().unwrap_or_else(|e| e.into_inner());
        let mut current = match files.last() {
            Some(f) if !f.sealed() && !f.is_full() => f.clone(),
            _ => self.start_file(&mut files, off)?,
        };
        let mut count = current.count();
        let (mut first_ts, mut last_ts, mut last_record) =
            (0i64, 0i64, current.last_record_offset());
        let mut hashes = Vec::new();
        let mut records = 0;
        while off < end && records < BATCH_RECORDS {
            let Some(seg) = log.segment_for(off) else {
                break;
            };
            let avail = (end.min(seg.end()) - off) as usize;
            let Some(buf) = seg.slice((off - seg.start()) as usize, avail) else {
                break;
            };
            match record_header(buf) {
                RecordHeader::Message { size } => {
                    records += 1;
                    if let Ok(v) = view_record(&buf[..size.min(buf.len())], false) {
                        keys::index_hashes(&v, &mut hashes);
                        hashes.truncate(self.config.entries_per_file as usize);
                        if !hashes.is_empty() && !current.has_room(count, hashes.len()) {
                            current.advance(count, off, last_record, first_ts, last_ts);
                            // Below `off` all is indexed, even if the next file cannot be made.
                            self.indexed_to.store(off, Ordering::Release);
                            current.seal()?;
                            current = self.start_file(&mut files, off)?;
                            count = 0;
                            first_ts = 0;
                        }
                        for &h in &hashes {
                            current.add(count, h, off as i64, v.store_timestamp);
                            count += 1;
                        }
                        if !hashes.is_empty() {
                            if first_ts == 0 {
                                first_ts = v.store_timestamp;
                            }
                            last_ts = v.store_timestamp;
                            last_record = off;
                        }
                    }
                    off += size as u64;
                }
                RecordHeader::Blank { .. } => off = seg.end(),
                RecordHeader::End | RecordHeader::Invalid => {
                    tracing::error!("index: no record at published commit-log offset {off}");
                    break;
                }
            }
        }
        current.advance(count, off, last_record, first_ts, last_ts);
        drop(files);
        self.indexed_to.store(off, Ordering::Release);
        let _g = self.progress.0.lock().unwrap_or_else(|e| e.into_inner());
        self.progress.1.notify_all();
        Ok(records)
    }

    /// Seals nothing; creates the next file starting at `begin` and makes it current.
    fn start_file(
        &self,
        files: &mut Vec<Arc<IndexFile>>,
        begin: u64,
    ) -> Result<Arc<IndexFile>, StoreError> {
        if let Some(last) = files.last() {
            if !last.sealed() {
                last.seal()?;
            }
            if last.begin_offset() == begin {
                // Nothing was indexed into it: reuse its name for the new file.
                let old = files.pop();
                drop(old);
            }
        }
        let f = Arc::new(IndexFile::create(
            &self.dir,
            begin,
            self.config.slots_per_file,
            self.config.entries_per_file,
        )?);
        sync_dir(&self.dir)?;
        files.push(f.clone());
        Ok(f)
    }

    /// Waits (bounded) until every record below `target` is indexed. False on timeout.
    pub fn wait_covered(&self, target: u64, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut g = self.progress.0.lock().unwrap_or_else(|e| e.into_inner());
        while self.indexed_to() < target {
            let now = Instant::now();
            if now >= deadline || self.stop.load(Ordering::Acquire) {
                return false;
            }
            self.wake();
            g = self
                .progress
                .1
                .wait_timeout(g, (deadline - now).min(Duration::from_millis(50)))
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        true
    }

    /// Answers a key query: waits (at most [`CATCH_UP_WAIT`]) for the index to cover what
    /// was stored when it was asked, follows the key's chains newest file first, then reads
    /// and checks each candidate record with `read`. Results newest first, no duplicates.
    pub fn query(
        &self,
        q: &KeyQuery<'_>,
        published_end: u64,
        read: impl Fn(i64) -> Option<Bytes>,
    ) -> KeyQueryResult {
        if !self.wait_covered(published_end, CATCH_UP_WAIT) {
            tracing::warn!("key query answered before the index caught up");
        }
        let hash = keys::key_hash(q.topic, q.key);
        let limit = q.max_num.saturating_mul(CANDIDATES_PER_RESULT).max(64);
        let mut candidates: Vec<i64> = Vec::new();
        {
            let files = self.files.read().unwrap_or_else(|e| e.into_inner());
            for f in files.iter().rev() {
                if candidates.len() >= limit {
                    break;
                }
                if f.count() == 0
                    || f.end_timestamp() < q.begin_timestamp
                    || f.begin_timestamp() > q.end_timestamp
                {
                    continue;
                }
                f.chain(hash, |e| {
                    if e.store_timestamp < q.begin_timestamp {
                        return false;
                    }
                    if e.store_timestamp <= q.end_timestamp
                        && !candidates.contains(&e.commit_log_offset)
                    {
                        candidates.push(e.commit_log_offset);
                    }
                    candidates.len() < limit
                });
            }
        }
        let progress = self.progress();
        let mut records = Vec::new();
        for off in candidates {
            if records.len() >= q.max_num {
                break;
            }
            let Some(rec) = read(off) else { continue };
            let matches = view_record(&rec, false).is_ok_and(|v| {
                keys::record_matches(
                    &v,
                    q.topic,
                    q.key,
                    q.kind,
                    q.begin_timestamp,
                    q.end_timestamp,
                )
            });
            if matches {
                records.push(rec);
            }
        }
        KeyQueryResult {
            records,
            index_last_update_timestamp: progress.last_store_timestamp,
            index_last_update_phy_offset: progress.last_record_offset,
        }
    }

    /// Removes the index files all of whose entries point below commit-log offset `offset`
    /// (the current file is kept). What retention calls after it deleted commit-log segments
    /// below `offset`. Returns how many files were removed.
    pub fn remove_files_below(&self, offset: u64) -> Result<usize, StoreError> {
        self.remove_files_where(|f| f.end_offset() <= offset)
    }

    /// Removes the index files whose newest entry is older than `timestamp` (the current file
    /// is kept). Returns how many files were removed.
    pub fn remove_files_before(&self, timestamp: i64) -> Result<usize, StoreError> {
        self.remove_files_where(|f| f.end_timestamp() < timestamp)
    }

    fn remove_files_where(&self, old: impl Fn(&IndexFile) -> bool) -> Result<usize, StoreError> {
        let mut files = self.files.write().unwrap_or_else(|e| e.into_inner());
        let mut removed = 0;
        while files.len() > 1 && files.first().is_some_and(|f| old(f)) {
            let f = files.remove(0);
            std::fs::remove_file(f.path())?;
            removed += 1;
        }
        if removed > 0 {
            sync_dir(&self.dir)?;
        }
        Ok(removed)
    }
}
