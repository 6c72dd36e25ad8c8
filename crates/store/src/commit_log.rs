//! The commit log: one append-only log for every topic, cut into fixed-size mapped segments
//! named by their 20-digit start offset.
//!
//! What must stay true:
//! - a record never spans segments: when a record (plus the 8 spare bytes of the filler) does
//!   not fit, the rest of the segment gets the blank filler and the record goes to the next
//!   segment; segment `i` starts at `base + i * segment_size`;
//! - only the holder of the store's append lock calls the writer methods ([`CommitLog::plan`],
//!   [`CommitLog::write_at`], [`CommitLog::publish`]);
//! - readers only read below [`CommitLog::max_offset`], which is published (release) after the
//!   bytes are written.

use crate::error::StoreError;
use crate::mapped_file::{list_segment_files, segment_file_name, MappedFile};
use bytes::Bytes;
use rocketmq_protocol::message::{
    peek_store_timestamp, record_header, write_blank, RecordHeader, BLANK_RECORD_MIN_LEN,
    POS_PHYSICAL_OFFSET,
};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

pub struct CommitLog {
    dir: PathBuf,
    segment_size: u64,
    /// Start offset of the first segment.
    base: AtomicU64,
    segments: RwLock<Vec<Arc<MappedFile>>>,
    /// One past the last published byte. Shared with the segment warm-up threads, which
    /// pace themselves by it.
    max_offset: Arc<AtomicU64>,
    /// Everything below this is durable.
    flushed: AtomicU64,
}

/// Where the records of one append go.
pub struct AppendPlan {
    /// Start offset of each record, in order.
    pub positions: Vec<u64>,
    /// Fillers to write first: (offset, remaining bytes of that segment).
    pub blanks: Vec<(u64, u64)>,
    /// One past the last record.
    pub end: u64,
}

impl CommitLog {
    /// Maps the existing segment files of `dir` (creating the directory). The published end is
    /// 0 until recovery sets it with [`CommitLog::set_recovered_end`].
    pub fn open(dir: &Path, segment_size: u64) -> Result<CommitLog, StoreError> {
        std::fs::create_dir_all(dir)?;
        let files = list_segment_files(dir)?;
        let mut segments: Vec<Arc<MappedFile>> = Vec::new();
        let mut base = 0;
        for (i, (start, path)) in files.iter().enumerate() {
            if i == 0 {
                base = *start;
            } else if *start != base + i as u64 * segment_size {
                // A gap or a foreign size: everything from here on cannot be trusted as part
                // of one contiguous log. Keep it on disk for inspection but do not map it.
                tracing::error!(
                    "commit log segment {} is not contiguous; ignoring it and later files",
                    path.display()
                );
                break;
            }
            segments.push(Arc::new(MappedFile::open(path, *start, segment_size)?));
        }
        Ok(CommitLog {
            dir: dir.to_path_buf(),
            segment_size,
            base: AtomicU64::new(base),
            segments: RwLock::new(segments),
            max_offset: Arc::new(AtomicU64::new(base)),
            flushed: AtomicU64::new(base),
        })
    }

    /// Start offset of the first segment.
    pub fn min_offset(&self) -> u64 {
        self.base.load(Ordering::Acquire)
    }

    pub fn max_offset(&self) -> u64 {
        self.max_offset.load(Ordering::Acquire)
    }

    pub fn flushed_offset(&self) -> u64 {
        self.flushed.load(Ordering::Acquire)
    }

    /// Every mapped segment, oldest first.
    pub fn segments(&self) -> Vec<Arc<MappedFile>> {
        self.segments
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The segment holding `offset`, if mapped.
    pub fn segment_for(&self, offset: u64) -> Option<Arc<MappedFile>> {
        // The base is read under the segment lock: retention moves both together.
        let segs = self.segments.read().unwrap_or_else(|e| e.into_inner());
        let idx = offset.checked_sub(self.min_offset())? / self.segment_size;
        segs.get(usize::try_from(idx).ok()?).cloned()
    }

    /// Unmaps the `count` oldest segments and moves the log's start past them (retention);
    /// never the last one. Returns them so the caller removes their files. Caller holds the
    /// store's append lock (the writer methods compute positions from the start).
    pub fn detach_oldest_segments(&self, count: usize) -> Vec<Arc<MappedFile>> {
        let mut segs = self.segments.write().unwrap_or_else(|e| e.into_inner());
        let count = count.min(segs.len().saturating_sub(1));
        let removed: Vec<_> = segs.drain(..count).collect();
        if let Some(first) = segs.first() {
            self.base.store(first.start(), Ordering::Release);
        }
        removed
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Runs `f` over `len` published bytes at `offset` (never across a segment end).
    pub fn with_bytes<R>(&self, offset: u64, len: usize, f: impl FnOnce(&[u8]) -> R) -> Option<R> {
        if offset.checked_add(len as u64)? > self.max_offset() {
            return None;
        }
        let seg = self.segment_for(offset)?;
        let s = seg.slice((offset - seg.start()) as usize, len)?;
        Some(f(s))
    }

    /// A copy of `len` published bytes at `offset`.
    pub fn read(&self, offset: u64, len: usize) -> Option<Bytes> {
        self.with_bytes(offset, len, Bytes::copy_from_slice)
    }

    /// The whole record starting at `offset`, if a record starts there: header sane and its
    /// PHYSICALOFFSET field equal to `offset`.
    pub fn read_record(&self, offset: u64) -> Option<Bytes> {
        let max = self.max_offset();
        if offset >= max {
            return None;
        }
        let seg = self.segment_for(offset)?;
        let pos = (offset - seg.start()) as usize;
        let avail = (max.min(seg.end()) - offset) as usize;
        let buf = seg.slice(pos, avail)?;
        match record_header(buf) {
            RecordHeader::Message { size } => {
                let phys = buf.get(POS_PHYSICAL_OFFSET..POS_PHYSICAL_OFFSET + 8)?;
                let mut a = [0u8; 8];
                a.copy_from_slice(phys);
                (i64::from_be_bytes(a) as u64 == offset)
                    .then(|| Bytes::copy_from_slice(&buf[..size]))
            }
            _ => None,
        }
    }

    /// STORETIMESTAMP of the record at `offset` (which must be a record start).
    pub fn store_timestamp_at(&self, offset: u64, size: usize) -> Option<i64> {
        self.with_bytes(offset, size, peek_store_timestamp)
            .flatten()
    }

    /// Lays out records of the given sizes after the current end, creating every segment they
    /// need. Nothing is written, so a failure ([`StoreError::DiskFull`]) leaves the log as it
    /// was. Caller holds the append lock.
    pub fn plan(&self, sizes: &[usize]) -> Result<AppendPlan, StoreError> {
        let base = self.min_offset();
        let mut cursor = self.max_offset();
        let mut positions = Vec::with_capacity(sizes.len());
        let mut blanks = Vec::new();
        for &n in sizes {
            let n = n as u64;
            if n + BLANK_RECORD_MIN_LEN as u64 > self.segment_size {
                return Err(StoreError::MessageIllegal(format!(
                    "record of {n} bytes does not fit a commit-log segment of {} bytes",
                    self.segment_size
                )));
            }
            let seg_end = base + ((cursor - base) / self.segment_size + 1) * self.segment_size;
            if cursor + n + BLANK_RECORD_MIN_LEN as u64 > seg_end {
                blanks.push((cursor, seg_end - cursor));
                cursor = seg_end;
            }
            positions.push(cursor);
            cursor += n;
        }
        if let Some(&last) = positions.last() {
            self.ensure_segments_to(last)?;
        }
        Ok(AppendPlan {
            positions,
            blanks,
            end: cursor,
        })
    }

    /// Creates segments until the one holding `offset` exists.
    fn ensure_segments_to(&self, offset: u64) -> Result<(), StoreError> {
        let base = self.min_offset();
        let want = ((offset - base) / self.segment_size) as usize;
        loop {
            let have = self
                .segments
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .len();
            if have > want {
                return Ok(());
            }
            let start = base + have as u64 * self.segment_size;
            let path = self.dir.join(segment_file_name(start));
            // Created outside the lock so readers are not blocked by the allocation.
            let seg = Arc::new(MappedFile::create(&path, start, self.segment_size)?);
            tracing::debug!("created commit log segment {}", path.display());
            warm_in_background(&seg, Arc::clone(&self.max_offset));
            self.segments
                .write()
                .unwrap_or_else(|e| e.into_inner())
                .push(seg);
        }
    }

    /// Writes a planned filler. Caller holds the append lock.
    pub fn write_blank_at(&self, offset: u64, remaining: u64) {
        if let Some(seg) = self.segment_for(offset) {
            let mut hdr = [0u8; BLANK_RECORD_MIN_LEN];
            write_blank(&mut hdr, remaining as i32);
            seg.write((offset - seg.start()) as usize, &hdr);
        }
    }

    /// Writes record bytes at a planned position. Caller holds the append lock.
    pub fn write_at(&self, offset: u64, bytes: &[u8]) -> bool {
        match self.segment_for(offset) {
            Some(seg) => seg.write((offset - seg.start()) as usize, bytes),
            None => false,
        }
    }

    /// Makes `[.., end)` visible to readers. Caller holds the append lock.
    pub fn publish(&self, end: u64) {
        self.max_offset.store(end, Ordering::Release);
    }

    /// Sets the end found by recovery (also the flushed position: recovery syncs it).
    pub fn set_recovered_end(&self, end: u64) {
        self.max_offset.store(end, Ordering::Release);
        self.flushed.store(end, Ordering::Release);
    }

    /// Zeroes everything from `end` on: the rest of its segment, and removes later segments.
    pub fn truncate_to(&self, end: u64) -> Result<(), StoreError> {
        let base = self.min_offset();
        let mut segs = self.segments.write().unwrap_or_else(|e| e.into_inner());
        let keep = if end == base && segs.is_empty() {
            0
        } else {
            (((end - base) / self.segment_size) as usize + 1).min(segs.len())
        };
        if let Some(seg) = segs.get(keep.wrapping_sub(1)) {
            if end < seg.end() {
                seg.zero_tail((end - seg.start()) as usize)?;
            }
        }
        let removed: Vec<_> = segs.drain(keep..).collect();
        drop(segs);
        for seg in &removed {
            tracing::warn!(
                "removing commit log segment {} past the valid end",
                seg.path().display()
            );
            std::fs::remove_file(seg.path())?;
        }
        if !removed.is_empty() {
            crate::mapped_file::sync_dir(&self.dir)?;
        }
        Ok(())
    }

    /// Flushes the published but not yet durable bytes. Returns the new durable end and
    /// whether anything had to be flushed.
    pub fn flush(&self) -> io::Result<(u64, bool)> {
        let from = self.flushed_offset();
        let to = self.max_offset();
        if to <= from {
            return Ok((from, false));
        }
        let mut pos = from;
        while pos < to {
            let seg = match self.segment_for(pos) {
                Some(s) => s,
                None => break,
            };
            let until = to.min(seg.end());
            seg.flush_range((pos - seg.start()) as usize, (until - pos) as usize)?;
            pos = until;
        }
        self.flushed.fetch_max(to, Ordering::AcqRel);
        Ok((to, true))
    }
}

/// Bytes populated per `madvise` call by [`warm_in_background`]: small enough that it
/// notices soon when the segment is dropped.
const WARM_CHUNK: usize = 16 << 20;

/// How far ahead of the written end the warm-up runs: far more than a fast writer appends
/// between two looks (at most [`WARM_IDLE_MAX`] apart), while a quiet broker does not fill
/// its page cache (and RSS) with a whole zeroed segment.
const WARM_AHEAD: u64 = 64 << 20;

/// Longest pause of a warm-up thread that is far enough ahead; it backs off from 1 ms up to
/// this while the writer does not move.
const WARM_IDLE_MAX: std::time::Duration = std::time::Duration::from_millis(50);

/// Faults a new segment's pages in on a thread of its own, front to back, keeping
/// [`WARM_AHEAD`] bytes ahead of the published end (`written_end`), so appends do not stall
/// on page faults that zero-fill fresh pages (with single 1 KiB messages those faults were
/// ~20% of the broker's CPU, and they lengthened the latency tail). The zeroing still costs
/// CPU, on this thread instead of under the append lock. The thread holds only a weak
/// reference to the segment between steps, so a segment removed or a store closed stops
/// it; it also ends once the whole segment is warm. Failures only cost the speed-up.
fn warm_in_background(seg: &Arc<MappedFile>, written_end: Arc<AtomicU64>) {
    let weak = Arc::downgrade(seg);
    let size = seg.size() as usize;
    let spawned = std::thread::Builder::new()
        .name("commitlog-warm".into())
        .spawn(move || {
            let mut pos = 0;
            let mut idle = std::time::Duration::from_millis(1);
            while pos < size {
                let Some(seg) = weak.upgrade() else { return };
                let written = written_end
                    .load(Ordering::Acquire)
                    .saturating_sub(seg.start());
                let target = written.saturating_add(WARM_AHEAD).min(size as u64) as usize;
                if pos >= target {
                    drop(seg);
                    std::thread::sleep(idle);
                    idle = (idle * 2).min(WARM_IDLE_MAX);
                    continue;
                }
                idle = std::time::Duration::from_millis(1);
                let len = WARM_CHUNK.min(size - pos);
                match seg.prefault(pos, len) {
                    Ok(true) => pos += len,
                    Ok(false) => return,
                    Err(e) => {
                        tracing::debug!("warming {} stopped: {e}", seg.path().display());
                        return;
                    }
                }
            }
        });
    if let Err(e) = spawned {
        tracing::debug!("no thread to warm the new commit log segment: {e}");
    }
}
