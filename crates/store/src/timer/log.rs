//! The timer log: append-only segment files of fixed-size entries. Positions are byte
//! positions over the whole log; a segment file holds `entries_per_file` entries and is named
//! by the 20-digit position of its first entry.
//!
//! What must stay true: an entry is written whole at `end()` and never changed afterwards;
//! `truncate` only ever cuts whole entries off the end.

use crate::error::StoreError;
use crate::mapped_file::{list_segment_files, segment_file_name, sync_dir};
use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

/// Size of one entry: prev position 8, deliver ms 8, commit-log offset 8, size 4, magic 4.
pub const ENTRY_SIZE: u64 = 32;
const ENTRY_MAGIC: u32 = 0x5449_4D52;

/// One scheduled message as the timer log records it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimerEntry {
    /// Where the entry sits in the timer log (assigned by the append).
    pub pos: i64,
    /// Position of the previous entry of the same wheel slot, -1 for none.
    pub prev_pos: i64,
    /// When the message is due, in ms since the epoch.
    pub deliver_ms: i64,
    /// Where the stored timer message is in the commit log, and its record size.
    pub commit_log_offset: i64,
    pub size: i32,
}

impl TimerEntry {
    fn encode(&self) -> [u8; ENTRY_SIZE as usize] {
        let mut b = [0u8; ENTRY_SIZE as usize];
        b[0..8].copy_from_slice(&self.prev_pos.to_be_bytes());
        b[8..16].copy_from_slice(&self.deliver_ms.to_be_bytes());
        b[16..24].copy_from_slice(&self.commit_log_offset.to_be_bytes());
        b[24..28].copy_from_slice(&self.size.to_be_bytes());
        b[28..32].copy_from_slice(&ENTRY_MAGIC.to_be_bytes());
        b
    }

    fn decode(pos: i64, b: &[u8]) -> Option<TimerEntry> {
        let i64_at = |at: usize| i64::from_be_bytes(b[at..at + 8].try_into().unwrap_or([0; 8]));
        if b.len() < ENTRY_SIZE as usize
            || u32::from_be_bytes(b[28..32].try_into().unwrap_or([0; 4])) != ENTRY_MAGIC
        {
            return None;
        }
        Some(TimerEntry {
            pos,
            prev_pos: i64_at(0),
            deliver_ms: i64_at(8),
            commit_log_offset: i64_at(16),
            size: i32::from_be_bytes(b[24..28].try_into().unwrap_or([0; 4])),
        })
    }
}

/// What the log knows of one segment without reading it again.
#[derive(Clone, Debug)]
pub struct SegmentSummary {
    pub start: u64,
    pub path: PathBuf,
    /// Latest deliver time of its entries (`i64::MIN` when empty).
    pub max_deliver_ms: i64,
    /// Lowest commit-log offset its entries point to (`i64::MAX` when empty).
    pub min_commit_log_offset: i64,
}

pub struct TimerLog {
    dir: PathBuf,
    file_bytes: u64,
    segments: Vec<SegmentSummary>,
    /// The last segment, open for appends.
    active: Option<File>,
    end: u64,
}

impl TimerLog {
    /// Opens the log in `dir`, cuts it to `keep_end` (whole entries only) and returns it with
    /// every entry still in it, in log order (for rebuilding the wheel).
    pub fn open(
        dir: &Path,
        entries_per_file: u64,
        keep_end: u64,
    ) -> Result<(TimerLog, Vec<TimerEntry>), StoreError> {
        std::fs::create_dir_all(dir)?;
        let file_bytes = entries_per_file.max(1) * ENTRY_SIZE;
        let keep_end = keep_end - keep_end % ENTRY_SIZE;
        let mut segments: Vec<SegmentSummary> = Vec::new();
        let mut entries = Vec::new();
        let mut end: Option<u64> = None;
        // Once a segment ends early (cut or not full), every later file is beyond the end.
        let mut cut = false;
        for (start, path) in list_segment_files(dir)? {
            let contiguous = end.is_none_or(|e| e == start);
            if cut || start > keep_end || !contiguous {
                std::fs::remove_file(&path)?;
                continue;
            }
            let file = OpenOptions::new().read(true).write(true).open(&path)?;
            let len = file.metadata()?.len();
            let keep = len.min(keep_end - start).min(file_bytes);
            let keep = keep - keep % ENTRY_SIZE;
            let bytes = std::fs::read(&path)?;
            let mut summary = SegmentSummary {
                start,
                path: path.clone(),
                max_deliver_ms: i64::MIN,
                min_commit_log_offset: i64::MAX,
            };
            let mut valid = 0u64;
            for chunk in bytes[..keep as usize].chunks_exact(ENTRY_SIZE as usize) {
                let Some(entry) = TimerEntry::decode((start + valid) as i64, chunk) else {
                    tracing::warn!(path = %path.display(), at = valid, "unreadable timer log entry; the log ends there");
                    break;
                };
                summary.max_deliver_ms = summary.max_deliver_ms.max(entry.deliver_ms);
                summary.min_commit_log_offset =
                    summary.min_commit_log_offset.min(entry.commit_log_offset);
                entries.push(entry);
                valid += ENTRY_SIZE;
            }
            if valid < len {
                file.set_len(valid)?;
                file.sync_all()?;
            }
            cut = valid < file_bytes;
            end = Some(start + valid);
            segments.push(summary);
        }
        let end = end.unwrap_or(0);
        let active = match segments.last() {
            Some(s) => Some(OpenOptions::new().read(true).write(true).open(&s.path)?),
            None => None,
        };
        Ok((
            TimerLog {
                dir: dir.to_path_buf(),
                file_bytes,
                segments,
                active,
                end,
            },
            entries,
        ))
    }

    /// One past the last entry.
    pub fn end(&self) -> u64 {
        self.end
    }

    /// Position of the first entry still kept.
    pub fn start(&self) -> u64 {
        self.segments.first().map(|s| s.start).unwrap_or(self.end)
    }

    pub fn segments(&self) -> &[SegmentSummary] {
        &self.segments
    }

    /// Writes `entry` at the end and returns its position.
    pub fn append(&mut self, mut entry: TimerEntry) -> Result<i64, StoreError> {
        let full = self
            .segments
            .last()
            .is_none_or(|s| self.end - s.start >= self.file_bytes);
        if self.active.is_none() || full {
            self.start_segment()?;
        }
        let file = self
            .active
            .as_ref()
            .ok_or_else(|| StoreError::Io(std::io::Error::other("no timer log segment")))?;
        let summary = self
            .segments
            .last_mut()
            .ok_or_else(|| StoreError::Io(std::io::Error::other("no timer log segment")))?;
        entry.pos = self.end as i64;
        write_at(file, &entry.encode(), self.end - summary.start)?;
        summary.max_deliver_ms = summary.max_deliver_ms.max(entry.deliver_ms);
        summary.min_commit_log_offset = summary.min_commit_log_offset.min(entry.commit_log_offset);
        self.end += ENTRY_SIZE;
        Ok(entry.pos)
    }

    fn start_segment(&mut self) -> Result<(), StoreError> {
        if let Some(old) = self.active.take() {
            old.sync_data()?;
        }
        let path = self.dir.join(segment_file_name(self.end));
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)?;
        sync_dir(&self.dir)?;
        self.segments.push(SegmentSummary {
            start: self.end,
            path,
            max_deliver_ms: i64::MIN,
            min_commit_log_offset: i64::MAX,
        });
        self.active = Some(file);
        Ok(())
    }

    /// The entry at `pos`, if it is kept and readable.
    pub fn read(&self, pos: i64) -> Result<Option<TimerEntry>, StoreError> {
        let Ok(upos) = u64::try_from(pos) else {
            return Ok(None);
        };
        if upos < self.start() || upos + ENTRY_SIZE > self.end || upos % ENTRY_SIZE != 0 {
            return Ok(None);
        }
        let index = self.segments.partition_point(|s| s.start <= upos) - 1;
        let segment = &self.segments[index];
        let mut buf = [0u8; ENTRY_SIZE as usize];
        let last = index + 1 == self.segments.len();
        match (&self.active, last) {
            (Some(f), true) => read_at(f, &mut buf, upos - segment.start)?,
            _ => read_at(&File::open(&segment.path)?, &mut buf, upos - segment.start)?,
        }
        Ok(TimerEntry::decode(pos, &buf))
    }

    /// A second handle on the segment being appended to (for syncing it elsewhere).
    pub fn active_handle(&self) -> Result<Option<File>, StoreError> {
        Ok(match &self.active {
            Some(f) => Some(f.try_clone()?),
            None => None,
        })
    }

    /// Makes every appended entry durable.
    pub fn sync(&self) -> Result<(), StoreError> {
        if let Some(f) = &self.active {
            f.sync_data()?;
        }
        Ok(())
    }

    /// Removes the leading segments (never the last) for which `drop(summary)` holds, in
    /// order, stopping at the first that must stay. Returns how many went.
    pub fn drop_leading(
        &mut self,
        drop: impl Fn(&SegmentSummary) -> bool,
    ) -> Result<usize, StoreError> {
        let mut removed = 0;
        while self.segments.len() > 1 && drop(&self.segments[0]) {
            let s = self.segments.remove(0);
            std::fs::remove_file(&s.path)?;
            removed += 1;
        }
        if removed > 0 {
            sync_dir(&self.dir)?;
        }
        Ok(removed)
    }
}

#[cfg(unix)]
pub(super) fn write_at(file: &File, buf: &[u8], at: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::write_all_at(file, buf, at)
}

#[cfg(unix)]
pub(super) fn read_at(file: &File, buf: &mut [u8], at: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buf, at)
}

#[cfg(windows)]
pub(super) fn write_at(file: &File, mut buf: &[u8], mut at: u64) -> std::io::Result<()> {
    while !buf.is_empty() {
        let n = std::os::windows::fs::FileExt::seek_write(file, buf, at)?;
        buf = &buf[n..];
        at += n as u64;
    }
    Ok(())
}

#[cfg(windows)]
pub(super) fn read_at(file: &File, mut buf: &mut [u8], mut at: u64) -> std::io::Result<()> {
    while !buf.is_empty() {
        let n = std::os::windows::fs::FileExt::seek_read(file, buf, at)?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf = &mut buf[n..];
        at += n as u64;
    }
    Ok(())
}
