//! Restart recovery: find the valid end of the commit log, cut the torn tail, make every
//! consume queue agree with it, and re-dispatch records the queues do not cover yet.
//!
//! Steps (run by [`crate::FileStore::open`] before the store is shared):
//! 1. validate the commit log record by record (size, magic V1/V2, body CRC, PHYSICALOFFSET
//!    equal to the record's position) from the start of the segment holding the checkpoint's
//!    durable commit-log offset (bytes below it were fsynced before the checkpoint was
//!    written); a blank filler continues in the next segment; the first invalid record ends
//!    the log;
//! 2. zero the rest of that segment and delete later segments;
//! 3. drop consume-queue tail entries that do not point at a valid record with the same
//!    topic, queue and queue offset;
//! 4. re-dispatch, from the start of the segment holding the checkpoint's consume-queue
//!    offset, every dispatchable record whose queue offset is at or past its queue's end
//!    (record queue offsets make this idempotent).

use crate::atomic_file::{read_optional, write_atomic};
use crate::commit_log::CommitLog;
use crate::consume_queue::ConsumeQueue;
use crate::error::StoreError;
use crate::message_store::QueueEntry;
use rocketmq_protocol::message::{
    record_header, view_record, RecordHeader, RecordView, StoredMessage,
};
use rocketmq_protocol::properties::{get_property, TAGS};
use rocketmq_protocol::tag::tags_code;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Progress known durable, written by the flusher after successful flushes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Checkpoint {
    /// Every commit-log byte below this was fsynced.
    pub commit_log_flushed: u64,
    /// Every record below this commit-log offset has its consume-queue entry fsynced.
    pub consume_queues_flushed: u64,
}

impl Checkpoint {
    pub fn load(path: &Path) -> Checkpoint {
        match read_optional(path) {
            Ok(Some(s)) => serde_json::from_str(&s).unwrap_or_else(|e| {
                tracing::warn!("ignoring unreadable checkpoint {}: {e}", path.display());
                Checkpoint::default()
            }),
            Ok(None) => Checkpoint::default(),
            Err(e) => {
                tracing::warn!("ignoring unreadable checkpoint {}: {e}", path.display());
                Checkpoint::default()
            }
        }
    }

    pub fn save(&self, path: &Path) -> Result<(), StoreError> {
        let json =
            serde_json::to_string(self).map_err(|e| StoreError::Io(std::io::Error::other(e)))?;
        write_atomic(path, json.as_bytes())
    }
}

/// What recovery found and did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RecoveryStats {
    /// Whether the `abort` marker was absent (the previous run shut down cleanly).
    pub clean_shutdown: bool,
    /// Commit-log offset where validation started.
    pub validated_from: u64,
    /// Records validated.
    pub records_validated: u64,
    /// End of the valid commit log.
    pub valid_end: u64,
    /// Consume-queue entries dropped because they pointed at no valid record.
    pub entries_truncated: u64,
    /// Consume-queue entries rebuilt from the commit log.
    pub entries_redispatched: u64,
}

/// Start of the segment holding `offset`, clamped to the mapped segments.
pub fn segment_start_for(cl: &CommitLog, offset: u64) -> u64 {
    let segs = cl.segments();
    let Some(first) = segs.first() else {
        return cl.min_offset();
    };
    let off = offset.max(first.start());
    segs.iter()
        .rev()
        .find(|s| s.start() <= off)
        .map(|s| s.start())
        .unwrap_or(first.start())
}

/// Walks records from `from` (a record boundary) over the mapped segments (published or
/// not), calling `visit` for each valid one. Returns the end of the valid log and the count.
pub fn scan_records(
    cl: &CommitLog,
    from: u64,
    check_crc: bool,
    mut visit: impl FnMut(u64, &RecordView<'_>),
) -> (u64, u64) {
    let segs = cl.segments();
    let mut count = 0;
    let Some(mut idx) = segs
        .iter()
        .position(|s| s.start() <= from && from < s.end())
    else {
        return (
            segs.last()
                .map(|s| s.end())
                .unwrap_or(cl.min_offset())
                .min(from),
            0,
        );
    };
    let mut offset = from;
    loop {
        let seg = &segs[idx];
        let pos = (offset - seg.start()) as usize;
        let rest = seg.size() as usize - pos;
        let buf = seg.slice(pos, rest).unwrap_or(&[]);
        let next_segment = match record_header(buf) {
            RecordHeader::Message { size } => match view_record(&buf[..size], check_crc) {
                Ok(v) if v.physical_offset as u64 == offset => {
                    visit(offset, &v);
                    count += 1;
                    offset += size as u64;
                    if offset >= seg.end() {
                        true
                    } else {
                        continue;
                    }
                }
                Ok(v) => {
                    tracing::warn!(
                        "commit log record at {offset} claims offset {}; log ends here",
                        v.physical_offset
                    );
                    return (offset, count);
                }
                Err(e) => {
                    tracing::warn!("commit log record at {offset} invalid ({e}); log ends here");
                    return (offset, count);
                }
            },
            RecordHeader::Blank { .. } => true,
            RecordHeader::End => return (offset, count),
            RecordHeader::Invalid => {
                tracing::warn!("commit log header at {offset} invalid; log ends here");
                return (offset, count);
            }
        };
        if next_segment {
            idx += 1;
            offset = seg.end();
            if idx >= segs.len() {
                return (offset, count);
            }
        }
    }
}

/// Whether `entry` (at logical offset `queue_offset` of `cq`) points at a valid record of that
/// queue below `valid_end`.
fn entry_is_valid(
    cl: &CommitLog,
    cq: &ConsumeQueue,
    queue_offset: i64,
    e: &QueueEntry,
    valid_end: u64,
) -> bool {
    if e.size <= 0 || e.commit_log_offset < 0 {
        return false;
    }
    let start = e.commit_log_offset as u64;
    if start + e.size as u64 > valid_end {
        return false;
    }
    let seg = match cl.segment_for(start) {
        Some(s) => s,
        None => return false,
    };
    let Some(buf) = seg.slice((start - seg.start()) as usize, e.size as usize) else {
        return false;
    };
    match view_record(buf, false) {
        Ok(v) => {
            v.total_size == e.size
                && v.queue_offset == queue_offset
                && v.queue_id == cq.queue_id()
                && v.topic == cq.topic()
        }
        Err(_) => false,
    }
}

/// Drops tail entries of `cq` that do not point at a valid record. Returns how many.
pub fn repair_consume_queue(
    cl: &CommitLog,
    cq: &ConsumeQueue,
    valid_end: u64,
) -> Result<u64, StoreError> {
    let old_max = cq.max_offset();
    let mut new_max = old_max;
    while new_max > cq.min_offset() {
        match cq.read_unpublished(new_max - 1) {
            Some(e) if entry_is_valid(cl, cq, new_max - 1, &e, valid_end) => break,
            _ => new_max -= 1,
        }
    }
    if new_max != old_max {
        cq.truncate_to(new_max)?;
    }
    Ok((old_max - new_max) as u64)
}

/// The tags code recovery writes for a record when no hook is configured: the hash of TAGS.
pub fn default_tags_code(properties: &str) -> i64 {
    tags_code(get_property(properties, TAGS))
}

/// The tags code recovery writes for `msg` when no hook is configured (the hash of its TAGS
/// property); a recovery hook calls it for the records it does not special-case.
pub fn default_tags_code_of(msg: &StoredMessage) -> i64 {
    default_tags_code(&msg.properties)
}
