//! One index file: a fixed-size memory-mapped file of hash slots and linked entries.
//!
//! Layout (little-endian, our own format):
//! - header, [`HEADER_LEN`] bytes: magic, version, slot count, entry capacity, the commit-log
//!   offset the file starts indexing at (also its file name), the durable point (entries and
//!   commit-log position known fsynced), the live point (entries written and commit-log
//!   position indexed so far), the first and last store timestamp and the last indexed
//!   record's commit-log offset, and a sealed flag;
//! - `slot_count` slots of 4 bytes: 1 + the number of the newest entry whose key hashes to
//!   the slot, 0 for none;
//! - `entry_capacity` entries of [`ENTRY_LEN`] bytes: key hash (4), 1 + number of the previous
//!   entry of the same slot (4, 0 for none), commit-log offset (8), store timestamp (8).
//!
//! What must stay true: entries are appended in commit-log order, so along a slot's chain the
//! store timestamps never increase; an entry is written before the slot that points at it,
//! and the header's live point after both; the durable point only moves after an fsync of
//! everything below it. Callers serialize writers and readers (the index's lock).

use crate::error::StoreError;
use crate::mapped_file::{segment_file_name, MappedFile};
use std::path::Path;

const MAGIC: u32 = 0x524D_5149; // "RMQI"
const VERSION: u32 = 1;
pub const HEADER_LEN: usize = 128;
pub const ENTRY_LEN: usize = 24;

const H_MAGIC: usize = 0;
const H_VERSION: usize = 4;
const H_SLOTS: usize = 8;
const H_CAPACITY: usize = 12;
const H_BEGIN_OFFSET: usize = 16;
const H_DURABLE_COUNT: usize = 24;
const H_DURABLE_END: usize = 32;
const H_LIVE_COUNT: usize = 40;
const H_LIVE_END: usize = 48;
const H_BEGIN_TS: usize = 56;
const H_END_TS: usize = 64;
const H_LAST_RECORD: usize = 72;
const H_SEALED: usize = 80;

/// One entry as read back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry {
    pub hash: u32,
    /// 1 + number of the previous entry in the slot's chain; 0 ends the chain.
    pub prev: u32,
    pub commit_log_offset: i64,
    pub store_timestamp: i64,
}

pub struct IndexFile {
    map: MappedFile,
    slots: u32,
    capacity: u32,
}

/// Total file size for a geometry.
pub fn file_size(slots: u32, capacity: u32) -> u64 {
    HEADER_LEN as u64 + slots as u64 * 4 + capacity as u64 * ENTRY_LEN as u64
}

impl IndexFile {
    /// Creates a new empty file starting at commit-log offset `begin` in `dir`.
    pub fn create(dir: &Path, begin: u64, slots: u32, capacity: u32) -> Result<Self, StoreError> {
        let path = dir.join(segment_file_name(begin));
        let map = MappedFile::create(&path, 0, file_size(slots, capacity))?;
        let f = IndexFile {
            map,
            slots,
            capacity,
        };
        // A leftover file of the same name is reset: slots and header start empty.
        f.map.zero_tail(0)?;
        f.put_u32(H_MAGIC, MAGIC);
        f.put_u32(H_VERSION, VERSION);
        f.put_u32(H_SLOTS, slots);
        f.put_u32(H_CAPACITY, capacity);
        f.put_u64(H_BEGIN_OFFSET, begin);
        f.put_u64(H_DURABLE_END, begin);
        f.put_u64(H_LIVE_END, begin);
        f.put_u64(H_LAST_RECORD, begin);
        f.sync_all()?;
        Ok(f)
    }

    /// Opens an existing file; `None` when it is not a complete index file of this format
    /// (a crash while it was created), so the caller removes it and indexes again.
    pub fn open(path: &Path) -> Result<Option<Self>, StoreError> {
        let len = std::fs::metadata(path)?.len();
        if len < HEADER_LEN as u64 {
            return Ok(None);
        }
        let map = MappedFile::open(path, 0, len)?;
        let u32_at = |pos: usize| {
            map.slice(pos, 4)
                .map(|b| u32::from_le_bytes(b.try_into().unwrap_or([0; 4])))
                .unwrap_or(0)
        };
        if u32_at(H_MAGIC) != MAGIC || u32_at(H_VERSION) != VERSION {
            return Ok(None);
        }
        let (slots, capacity) = (u32_at(H_SLOTS), u32_at(H_CAPACITY));
        if slots == 0 || file_size(slots, capacity) != len {
            return Ok(None);
        }
        Ok(Some(IndexFile {
            map,
            slots,
            capacity,
        }))
    }

    pub fn path(&self) -> &Path {
        self.map.path()
    }

    fn get_u32(&self, pos: usize) -> u32 {
        self.map
            .slice(pos, 4)
            .map(|b| u32::from_le_bytes(b.try_into().unwrap_or([0; 4])))
            .unwrap_or(0)
    }

    fn get_u64(&self, pos: usize) -> u64 {
        self.map
            .slice(pos, 8)
            .map(|b| u64::from_le_bytes(b.try_into().unwrap_or([0; 8])))
            .unwrap_or(0)
    }

    fn put_u32(&self, pos: usize, v: u32) {
        self.map.write(pos, &v.to_le_bytes());
    }

    fn put_u64(&self, pos: usize, v: u64) {
        self.map.write(pos, &v.to_le_bytes());
    }

    /// Commit-log offset this file starts at.
    pub fn begin_offset(&self) -> u64 {
        self.get_u64(H_BEGIN_OFFSET)
    }

    /// Entries written.
    pub fn count(&self) -> u32 {
        self.get_u32(H_LIVE_COUNT)
    }

    /// Commit-log offset up to which every record was indexed (in this file or earlier ones).
    pub fn end_offset(&self) -> u64 {
        self.get_u64(H_LIVE_END)
    }

    pub fn durable_end(&self) -> u64 {
        self.get_u64(H_DURABLE_END)
    }

    pub fn begin_timestamp(&self) -> i64 {
        self.get_u64(H_BEGIN_TS) as i64
    }

    pub fn end_timestamp(&self) -> i64 {
        self.get_u64(H_END_TS) as i64
    }

    /// Commit-log offset of the last record indexed (the file's begin when none was).
    pub fn last_record_offset(&self) -> u64 {
        self.get_u64(H_LAST_RECORD)
    }

    pub fn sealed(&self) -> bool {
        self.get_u32(H_SEALED) != 0
    }

    pub fn is_full(&self) -> bool {
        self.count() >= self.capacity
    }

    /// Room for `n` more entries after the first `count` (the writer's own count, which
    /// runs ahead of the header's until [`IndexFile::advance`]).
    pub fn has_room(&self, count: u32, n: usize) -> bool {
        count as u64 + n as u64 <= self.capacity as u64
    }

    fn slot_pos(&self, hash: u32) -> usize {
        HEADER_LEN + (hash % self.slots) as usize * 4
    }

    fn entry_pos(&self, n: u32) -> usize {
        HEADER_LEN + self.slots as usize * 4 + n as usize * ENTRY_LEN
    }

    /// Appends one entry (caller checked [`IndexFile::has_room`]); becomes visible to
    /// [`IndexFile::chain`] at once, and counted in the header at the next
    /// [`IndexFile::advance`].
    pub fn add(&self, n: u32, hash: u32, commit_log_offset: i64, store_timestamp: i64) {
        let slot = self.slot_pos(hash);
        let prev = self.get_u32(slot);
        let mut e = [0u8; ENTRY_LEN];
        e[0..4].copy_from_slice(&hash.to_le_bytes());
        e[4..8].copy_from_slice(&prev.to_le_bytes());
        e[8..16].copy_from_slice(&commit_log_offset.to_le_bytes());
        e[16..24].copy_from_slice(&store_timestamp.to_le_bytes());
        self.map.write(self.entry_pos(n), &e);
        self.put_u32(slot, n + 1);
    }

    /// Records that entries below `count` are written and every record below commit-log
    /// offset `end` is indexed; the last of them is at `last_record`, stored at `last_ts`.
    pub fn advance(&self, count: u32, end: u64, last_record: u64, first_ts: i64, last_ts: i64) {
        if self.get_u64(H_BEGIN_TS) == 0 && first_ts > 0 {
            self.put_u64(H_BEGIN_TS, first_ts as u64);
        }
        if last_ts > 0 {
            self.put_u64(H_END_TS, last_ts as u64);
        }
        self.put_u64(H_LAST_RECORD, last_record);
        self.put_u32(H_LIVE_COUNT, count);
        self.put_u64(H_LIVE_END, end);
    }

    pub fn entry(&self, n: u32) -> Option<Entry> {
        if n >= self.capacity {
            return None;
        }
        let b = self.map.slice(self.entry_pos(n), ENTRY_LEN)?;
        Some(Entry {
            hash: u32::from_le_bytes(b[0..4].try_into().ok()?),
            prev: u32::from_le_bytes(b[4..8].try_into().ok()?),
            commit_log_offset: i64::from_le_bytes(b[8..16].try_into().ok()?),
            store_timestamp: i64::from_le_bytes(b[16..24].try_into().ok()?),
        })
    }

    /// Walks the chain of `hash`'s slot, newest first, calling `visit` for each entry with
    /// that hash until it returns false. Bounded by the entry count (a damaged link cannot
    /// loop).
    pub fn chain(&self, hash: u32, mut visit: impl FnMut(&Entry) -> bool) {
        let count = self.count();
        let mut link = self.get_u32(self.slot_pos(hash));
        let mut steps = 0u32;
        while link != 0 && steps <= count {
            steps += 1;
            let n = link - 1;
            if n >= count {
                break;
            }
            let Some(e) = self.entry(n) else { break };
            if e.prev >= link {
                // Links only point backwards; anything else is damage.
                break;
            }
            if e.hash == hash && !visit(&e) {
                return;
            }
            link = e.prev;
        }
    }

    /// Makes everything written durable and moves the durable point to the live point.
    pub fn make_durable(&self) -> Result<(), StoreError> {
        let (count, end) = (self.count(), self.end_offset());
        if self.get_u32(H_DURABLE_COUNT) == count && self.durable_end() == end {
            return Ok(());
        }
        self.map.flush_range(0, self.map.size() as usize)?;
        self.put_u32(H_DURABLE_COUNT, count);
        self.put_u64(H_DURABLE_END, end);
        self.map.flush_range(0, HEADER_LEN)?;
        Ok(())
    }

    /// Marks the file full and durable; no entry is added to it again.
    pub fn seal(&self) -> Result<(), StoreError> {
        self.make_durable()?;
        self.put_u32(H_SEALED, 1);
        self.map.flush_range(0, HEADER_LEN)?;
        Ok(())
    }

    fn sync_all(&self) -> Result<(), StoreError> {
        self.map.flush_range(0, self.map.size() as usize)?;
        Ok(())
    }

    /// After an unclean stop: falls back to the durable point (entries below it were fsynced,
    /// anything after may be torn) and rebuilds the slots and links from those entries, so no
    /// slot points at an entry that is not durable. Returns the commit-log offset indexing must
    /// continue from. Cost: one pass over the durable entries.
    pub fn roll_back_to_durable(&self) -> Result<u64, StoreError> {
        let count = self.get_u32(H_DURABLE_COUNT).min(self.capacity);
        let end = self.durable_end().max(self.begin_offset());
        let zeros = vec![0u8; 1 << 16];
        let slots_len = self.slots as usize * 4;
        let mut p = 0;
        while p < slots_len {
            let n = zeros.len().min(slots_len - p);
            self.map.write(HEADER_LEN + p, &zeros[..n]);
            p += n;
        }
        let (mut first_ts, mut last_ts, mut last_record) = (0i64, 0i64, self.begin_offset());
        for n in 0..count {
            let Some(e) = self.entry(n) else { break };
            self.add(n, e.hash, e.commit_log_offset, e.store_timestamp);
            if first_ts == 0 {
                first_ts = e.store_timestamp;
            }
            last_ts = e.store_timestamp;
            last_record = e.commit_log_offset as u64;
        }
        self.put_u64(H_BEGIN_TS, first_ts as u64);
        self.put_u64(H_END_TS, last_ts as u64);
        self.advance(count, end, last_record, first_ts, last_ts);
        self.sync_all()?;
        Ok(end)
    }

    /// Whether the durable point equals the live point (nothing unsynced was written).
    pub fn is_durable(&self) -> bool {
        self.get_u32(H_DURABLE_COUNT) == self.count() && self.durable_end() == self.end_offset()
    }
}
