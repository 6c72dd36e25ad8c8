//! One consume queue: the dense index of one topic/queue. Entry `n` (20 bytes: commit-log
//! offset 8, record size 4, tags code 8, big-endian) is logical offset `n`, at byte `n * 20`.
//! Files hold `entries_per_file` entries and are named by their starting byte position.
//!
//! What must stay true:
//! - entries are written only by the holder of the store's append lock (or by recovery before
//!   the store is shared), and [`ConsumeQueue::max_offset`] is published after the entry
//!   bytes, so a reader that sees offset `n < max` sees a complete entry;
//! - an entry with size 0 is "never written": a loaded queue ends at the first such entry and
//!   everything after it is zeroed.

use crate::error::StoreError;
use crate::mapped_file::{list_segment_files, segment_file_name, sync_dir, MappedFile};
use crate::message_store::QueueEntry;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, RwLock};

/// Bytes per entry.
pub const CQ_ENTRY_SIZE: u64 = 20;

pub struct ConsumeQueue {
    topic: String,
    queue_id: i32,
    dir: PathBuf,
    entries_per_file: u64,
    /// Logical offset of the first entry of the first file.
    base: AtomicI64,
    /// First readable entry (>= `base`): retention raises it past entries whose records were
    /// removed from the commit log, before their file goes as a whole.
    min_logic: AtomicI64,
    files: RwLock<Vec<Arc<MappedFile>>>,
    max_offset: AtomicI64,
    /// Entries below this are durable.
    flushed: AtomicI64,
}

fn encode_entry(e: &QueueEntry) -> [u8; 20] {
    let mut b = [0u8; 20];
    b[0..8].copy_from_slice(&e.commit_log_offset.to_be_bytes());
    b[8..12].copy_from_slice(&e.size.to_be_bytes());
    b[12..20].copy_from_slice(&e.tags_code.to_be_bytes());
    b
}

fn decode_entry(b: &[u8]) -> QueueEntry {
    let mut o = [0u8; 8];
    o.copy_from_slice(&b[0..8]);
    let mut t = [0u8; 8];
    t.copy_from_slice(&b[12..20]);
    QueueEntry {
        commit_log_offset: i64::from_be_bytes(o),
        size: i32::from_be_bytes([b[8], b[9], b[10], b[11]]),
        tags_code: i64::from_be_bytes(t),
    }
}

/// Whether a topic can name a consume-queue directory: non-empty, at most 255 bytes, no path
/// separator or NUL, not `.` or `..`. Both stores refuse other topics.
pub fn valid_queue_topic(topic: &str) -> bool {
    !(topic.is_empty()
        || topic.len() > 255
        || topic == "."
        || topic == ".."
        || topic.contains(['/', '\\', '\0']))
}

/// Directory of one queue: `<root>/consumequeue/<topic>/<queueId>`.
pub fn queue_dir(consume_queue_root: &Path, topic: &str, queue_id: i32) -> PathBuf {
    consume_queue_root.join(topic).join(queue_id.to_string())
}

impl ConsumeQueue {
    /// Opens the queue in `dir`, loading existing files (none yet is fine).
    pub fn open(
        dir: PathBuf,
        topic: &str,
        queue_id: i32,
        entries_per_file: u64,
    ) -> Result<ConsumeQueue, StoreError> {
        let file_size = entries_per_file * CQ_ENTRY_SIZE;
        let found = list_segment_files(&dir)?;
        let mut files: Vec<Arc<MappedFile>> = Vec::new();
        let mut base_pos = 0u64;
        for (i, (start, path)) in found.iter().enumerate() {
            if i == 0 {
                if start % file_size != 0 {
                    return Err(StoreError::Io(std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        format!(
                            "{} does not match the consume-queue file size",
                            path.display()
                        ),
                    )));
                }
                base_pos = *start;
            } else if *start != base_pos + i as u64 * file_size {
                tracing::error!(
                    "consume queue file {} is not contiguous; dropping it and later files",
                    path.display()
                );
                for (_, p) in &found[i..] {
                    std::fs::remove_file(p)?;
                }
                break;
            }
            files.push(Arc::new(MappedFile::open(path, *start, file_size)?));
        }
        let base = (base_pos / CQ_ENTRY_SIZE) as i64;
        let q = ConsumeQueue {
            topic: topic.to_string(),
            queue_id,
            dir,
            entries_per_file,
            base: AtomicI64::new(base),
            min_logic: AtomicI64::new(base),
            files: RwLock::new(files),
            max_offset: AtomicI64::new(base),
            flushed: AtomicI64::new(base),
        };
        let max = q.scan_written_end();
        q.max_offset.store(max, Ordering::Release);
        q.flushed.store(max, Ordering::Release);
        q.truncate_to(max)?;
        Ok(q)
    }

    /// The written end: the first entry with size 0, scanning from the third-last file (as the
    /// Java store does; older files are full and were flushed long ago).
    fn scan_written_end(&self) -> i64 {
        let files = self.files();
        let base = self.base.load(Ordering::Acquire);
        let first = files.len().saturating_sub(3);
        let mut n = base + (first as u64 * self.entries_per_file) as i64;
        for f in &files[first..] {
            for i in 0..self.entries_per_file {
                let Some(b) = f.slice((i * CQ_ENTRY_SIZE) as usize, CQ_ENTRY_SIZE as usize) else {
                    return n;
                };
                if decode_entry(b).size <= 0 {
                    return n;
                }
                n += 1;
            }
        }
        n
    }

    /// fdatasync of every file (used once after recovery so the checkpoint can claim them).
    pub fn sync_files(&self) -> std::io::Result<()> {
        for f in self.files() {
            f.sync_file()?;
        }
        Ok(())
    }

    pub fn topic(&self) -> &str {
        &self.topic
    }

    pub fn queue_id(&self) -> i32 {
        self.queue_id
    }

    fn files(&self) -> Vec<Arc<MappedFile>> {
        self.files.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn min_offset(&self) -> i64 {
        self.min_logic
            .load(Ordering::Acquire)
            .max(self.base.load(Ordering::Acquire))
    }

    /// Logical offset of the first entry of the first file.
    fn file_base(&self) -> i64 {
        self.base.load(Ordering::Acquire)
    }

    pub fn max_offset(&self) -> i64 {
        self.max_offset.load(Ordering::Acquire)
    }

    fn locate(&self, offset: i64) -> Option<(Arc<MappedFile>, usize)> {
        // The base is read under the file lock: retention moves both together.
        let files = self.files.read().unwrap_or_else(|e| e.into_inner());
        let rel = offset.checked_sub(self.file_base())?;
        if rel < 0 {
            return None;
        }
        let rel = rel as u64;
        let idx = usize::try_from(rel / self.entries_per_file).ok()?;
        let pos = ((rel % self.entries_per_file) * CQ_ENTRY_SIZE) as usize;
        files.get(idx).map(|f| (f.clone(), pos))
    }

    /// The entry at a logical offset in `[min, max)`.
    pub fn get(&self, offset: i64) -> Option<QueueEntry> {
        if offset < self.min_offset() || offset >= self.max_offset() {
            return None;
        }
        self.read_unpublished(offset)
    }

    /// Reads an entry even beyond the published max (recovery only).
    pub(crate) fn read_unpublished(&self, offset: i64) -> Option<QueueEntry> {
        let (f, pos) = self.locate(offset)?;
        f.slice(pos, CQ_ENTRY_SIZE as usize).map(decode_entry)
    }

    /// Creates files until the one holding `offset` exists. Caller holds the append lock.
    pub fn ensure_capacity(&self, offset: i64) -> Result<(), StoreError> {
        let file_size = self.entries_per_file * CQ_ENTRY_SIZE;
        let want = ((offset - self.file_base()).max(0) as u64 / self.entries_per_file) as usize;
        loop {
            let have = self.files.read().unwrap_or_else(|e| e.into_inner()).len();
            if have > want {
                return Ok(());
            }
            if have == 0 {
                // New queue: make `<topic>/<queueId>` and `<topic>` themselves durable, or a
                // crash could lose the whole queue while the checkpoint claims it.
                std::fs::create_dir_all(&self.dir)?;
                let topic_dir = self.dir.parent();
                for d in [topic_dir, topic_dir.and_then(Path::parent)]
                    .into_iter()
                    .flatten()
                {
                    sync_dir(d)?;
                }
            }
            let start = self.file_base() as u64 * CQ_ENTRY_SIZE + have as u64 * file_size;
            let path = self.dir.join(segment_file_name(start));
            let f = MappedFile::create(&path, start, file_size)?;
            self.files
                .write()
                .unwrap_or_else(|e| e.into_inner())
                .push(Arc::new(f));
        }
    }

    /// Writes the entry at `offset` (capacity must be ensured). Not visible until
    /// [`ConsumeQueue::publish`]. Caller holds the append lock.
    pub fn write(&self, offset: i64, entry: &QueueEntry) -> bool {
        match self.locate(offset) {
            Some((f, pos)) => f.write(pos, &encode_entry(entry)),
            None => false,
        }
    }

    /// Makes entries below `max` visible. Caller holds the append lock.
    pub fn publish(&self, max: i64) {
        self.max_offset.store(max, Ordering::Release);
    }

    /// Drops entries from `new_max` on: zeroes them in place and removes files past it.
    /// Used by recovery only (before the store is shared).
    pub fn truncate_to(&self, new_max: i64) -> Result<(), StoreError> {
        let base = self.file_base();
        let new_max = new_max.max(base);
        let mut files = self.files.write().unwrap_or_else(|e| e.into_inner());
        let rel = (new_max - base) as u64;
        let keep_idx = (rel / self.entries_per_file) as usize;
        // The file holding new_max keeps its head; zero its tail if anything is there.
        if let Some(f) = files.get(keep_idx) {
            let pos = ((rel % self.entries_per_file) * CQ_ENTRY_SIZE) as usize;
            let len = f.size() as usize - pos;
            let dirty = f.slice(pos, len).is_some_and(|s| !is_all_zero(s));
            if dirty {
                f.zero_tail(pos)?;
            }
        }
        // A file that starts exactly at new_max is kept (empty) so it can be reused.
        let keep = (keep_idx + 1).min(files.len());
        let removed: Vec<_> = files.drain(keep..).collect();
        drop(files);
        for f in &removed {
            std::fs::remove_file(f.path())?;
        }
        if !removed.is_empty() {
            sync_dir(&self.dir)?;
        }
        self.max_offset.store(new_max, Ordering::Release);
        self.flushed.fetch_min(new_max, Ordering::AcqRel);
        Ok(())
    }

    /// Retention: raises the min offset to the first entry whose record is at or after
    /// `min_commit_log_offset` (entries point at increasing offsets, so a binary search), then
    /// removes the files every entry of which is below it, never the last file. Returns how
    /// many files were removed. Caller holds the store's append lock.
    pub fn trim_below_commit_log(&self, min_commit_log_offset: i64) -> Result<usize, StoreError> {
        let (mut lo, mut hi) = (self.min_offset(), self.max_offset());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.read_unpublished(mid) {
                Some(e) if e.commit_log_offset < min_commit_log_offset => lo = mid + 1,
                _ => hi = mid,
            }
        }
        self.min_logic.fetch_max(lo, Ordering::AcqRel);
        let new_min = self.min_offset();
        let mut files = self.files.write().unwrap_or_else(|e| e.into_inner());
        let base = self.file_base();
        let whole = ((new_min - base).max(0) as u64 / self.entries_per_file) as usize;
        let count = whole.min(files.len().saturating_sub(1));
        let removed: Vec<_> = files.drain(..count).collect();
        if count > 0 {
            let moved = (count as u64 * self.entries_per_file) as i64;
            self.base.store(base + moved, Ordering::Release);
        }
        drop(files);
        for f in &removed {
            std::fs::remove_file(f.path())?;
        }
        if !removed.is_empty() {
            sync_dir(&self.dir)?;
        }
        Ok(removed.len())
    }

    /// Flushes entries written since the last flush. Returns whether anything was flushed.
    pub fn flush(&self) -> std::io::Result<bool> {
        let from = self.flushed.load(Ordering::Acquire);
        let to = self.max_offset();
        if to <= from {
            return Ok(false);
        }
        let mut off = from;
        while off < to {
            let Some((f, pos)) = self.locate(off) else {
                break;
            };
            let in_file = self.entries_per_file - (pos as u64 / CQ_ENTRY_SIZE);
            let n = (in_file as i64).min(to - off);
            f.flush_range(pos, (n as u64 * CQ_ENTRY_SIZE) as usize)?;
            off += n;
        }
        self.flushed.fetch_max(to, Ordering::AcqRel);
        Ok(true)
    }
}

/// Whether `bytes` holds only zeros. Compares page-sized blocks against a zero block, which
/// the standard library turns into `memcmp`: opening a store checks the tail of every
/// consume-queue file (6 MB each by default), so a byte-by-byte loop made restarts slow.
fn is_all_zero(bytes: &[u8]) -> bool {
    const ZEROS: [u8; 4096] = [0; 4096];
    bytes.chunks(ZEROS.len()).all(|c| c == &ZEROS[..c.len()])
}

#[cfg(test)]
mod tests {
    use super::is_all_zero;

    #[test]
    fn zero_check_sees_a_byte_anywhere() {
        let mut v = vec![0u8; 3 * 4096 + 17];
        assert!(is_all_zero(&v));
        assert!(is_all_zero(&[]));
        for pos in [0, 4095, 4096, v.len() - 1] {
            v[pos] = 1;
            assert!(!is_all_zero(&v), "byte {pos}");
            v[pos] = 0;
        }
    }
}
