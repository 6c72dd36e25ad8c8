//! Retention of the file store: the clean pass (`MessageStore::clean_now`, and the
//! `store-clean` thread once a second) and the state it keeps.
//!
//! One pass:
//! 1. measure the disk (refusal watermark, [`crate::disk_watermark`]);
//! 2. remove the oldest commit-log segments whose last write is older than
//!    `file_reserved_time` (the last write of a full segment is the store time of the first
//!    record of the next one, since that append also wrote its tail; the file's mtime when
//!    that record is unreadable), and, while the disk is at or above `disk_max_used_ratio`,
//!    the oldest ones even before they expire, one at a time, measuring again after each;
//! 3. trim everything that depends on the commit log to the new minimum
//!    ([`Inner::trim_commit_log_dependents`]).
//!
//! What must stay true: the segment being written is never removed, nor one not yet fully
//! flushed, nor one at or past [`Inner::lowest_commit_log_offset_still_needed`]; segments go
//! oldest first, so the log stays contiguous; the log's start and the queues' file bases move
//! under the append lock (the writer computes positions from them) and readers see either the
//! old or the new start (both are read under the same locks as the file lists). A reader that
//! still holds a removed segment keeps a valid mapping until it lets go.

use super::state::Inner;
use crate::error::StoreError;
use crate::mapped_file::{sync_dir, MappedFile};
use crate::message_store::CleanReport;
use rocketmq_protocol::now_millis;
use std::sync::Arc;
use std::time::{Duration, Instant, UNIX_EPOCH};

/// How often the `store-clean` thread runs a pass.
pub(super) const CLEAN_INTERVAL: Duration = Duration::from_secs(1);

/// The `store-clean` thread: a pass every [`CLEAN_INTERVAL`] until stopped.
pub(super) fn run(inner: Arc<Inner>) {
    loop {
        let deadline = Instant::now() + CLEAN_INTERVAL;
        {
            let mut stopped = inner
                .retention
                .stop
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            loop {
                if *stopped {
                    return;
                }
                let now = Instant::now();
                if now >= deadline {
                    break;
                }
                stopped = inner
                    .retention
                    .cv
                    .wait_timeout(stopped, deadline - now)
                    .unwrap_or_else(|e| e.into_inner())
                    .0;
            }
        }
        if let Err(e) = inner.clean_pass() {
            tracing::error!("retention pass failed: {e}");
        }
    }
}

fn mtime_millis(seg: &MappedFile) -> Option<i64> {
    let modified = std::fs::metadata(seg.path()).ok()?.modified().ok()?;
    Some(modified.duration_since(UNIX_EPOCH).ok()?.as_millis() as i64)
}

impl Inner {
    /// One retention pass (steps in the module docs).
    pub(super) fn clean_pass(&self) -> Result<CleanReport, StoreError> {
        let _one = self
            .retention
            .pass
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let mut report = CleanReport::default();
        let mut over = {
            let used = self.retention.disk.sample(&self.config.root);
            self.retention.disk.over_max_used(used)
        };
        let now = now_millis();
        // Each round removes at least one segment, so this ends.
        loop {
            let n = self.removable_segments(now, over);
            if n == 0 {
                break;
            }
            let (segments, files) = self.remove_oldest_segments(n)?;
            report.segments_removed += segments;
            report.queue_files_removed += files;
            if !over || segments == 0 {
                break;
            }
            let used = self.retention.disk.sample(&self.config.root);
            over = self.retention.disk.over_max_used(used);
        }
        report.min_commit_log_offset = self.commit_log.min_offset() as i64;
        Ok(report)
    }

    /// How many of the oldest segments may go now: the expired prefix, or, when the disk is
    /// over its watermark and none expired, the oldest one.
    fn removable_segments(&self, now: i64, disk_over: bool) -> usize {
        let segs = self.commit_log.segments();
        let flushed = self.commit_log.flushed_offset();
        let needed = self.lowest_commit_log_offset_still_needed();
        let may_go =
            |seg: &MappedFile| seg.end() <= flushed && needed.is_none_or(|n| seg.end() <= n);
        let reserved = self.config.file_reserved_time.map(|d| d.as_millis() as i64);
        let mut n = 0;
        while n + 1 < segs.len() && may_go(&segs[n]) {
            let last_write = self
                .first_store_time_of(&segs[n + 1])
                .or_else(|| mtime_millis(&segs[n]));
            let expired =
                matches!((reserved, last_write), (Some(keep), Some(t)) if now - t >= keep);
            if !expired {
                break;
            }
            n += 1;
        }
        if n == 0 && disk_over && segs.len() > 1 && may_go(&segs[0]) {
            n = 1;
        }
        n
    }

    /// Store time of the record a segment starts with, read in place (no copy of the body).
    fn first_store_time_of(&self, seg: &MappedFile) -> Option<i64> {
        let size = self.commit_log.with_bytes(seg.start(), 4, |b| {
            i32::from_be_bytes([b[0], b[1], b[2], b[3]])
        })?;
        let size = usize::try_from(size).ok().filter(|&s| s > 4)?;
        self.commit_log.store_timestamp_at(seg.start(), size)
    }

    /// Detaches the `n` oldest segments, trims the dependents, removes the files. Returns
    /// (segments removed, dependent files removed).
    fn remove_oldest_segments(&self, n: usize) -> Result<(usize, usize), StoreError> {
        let (detached, dependents) = {
            let _append = self.append.lock().unwrap_or_else(|e| e.into_inner());
            let detached = self.commit_log.detach_oldest_segments(n);
            let min = self.commit_log.min_offset() as i64;
            (detached, self.trim_commit_log_dependents(min))
        };
        for seg in &detached {
            tracing::info!(
                "retention: removing commit log segment {}",
                seg.path().display()
            );
            std::fs::remove_file(seg.path())?;
        }
        if !detached.is_empty() {
            sync_dir(self.commit_log.dir())?;
        }
        // The message index follows outside the append lock: its thread takes the index lock,
        // then the segment list, and queries check every record they find, so an index file
        // that outlives its segments a moment answers nothing wrong.
        let index_files = match &self.index {
            Some(index) if !detached.is_empty() => {
                index.remove_files_below(self.commit_log.min_offset())?
            }
            _ => 0,
        };
        Ok((detached.len(), dependents? + index_files))
    }

    /// Where the consume queues follow the commit log's new minimum offset
    /// `min_commit_log_offset`: each queue's min offset rises to its first entry at or after
    /// it and its wholly older files go. The message index follows right after, outside the
    /// append lock ([`Inner::remove_oldest_segments`]); the timer log is never behind the
    /// minimum (the timer holds retention back, [`Inner::lowest_commit_log_offset_still_needed`])
    /// and removes its delivered files itself. Returns the number of files removed. Caller
    /// holds the append lock (or the store is not shared yet).
    pub(super) fn trim_commit_log_dependents(
        &self,
        min_commit_log_offset: i64,
    ) -> Result<usize, StoreError> {
        let queues: Vec<_> = self
            .queues
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect();
        let mut removed = 0;
        for q in queues {
            removed += q.trim_below_commit_log(min_commit_log_offset)?;
        }
        Ok(removed)
    }

    /// The lowest commit-log offset a dependent still needs, which retention must not remove:
    /// the least of what the registered floors answer (the broker's timer: its undelivered
    /// messages). `None`: nothing holds retention back. Consume queues and the message index
    /// do not: as in Java, data goes at its time whether consumed or not. Called with no store
    /// lock held (the floors may call the store).
    pub(super) fn lowest_commit_log_offset_still_needed(&self) -> Option<u64> {
        let floors = self
            .retention
            .floors
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        floors
            .iter()
            .filter_map(|floor| floor())
            .min()
            .map(|offset| offset.max(0) as u64)
    }
}
