//! A fixed-size file mapped into memory: the unit of the commit log and of consume queues.
//!
//! What must stay true:
//! - a new file is fully allocated on disk (`posix_fallocate`) *before* it is mapped, so a
//!   full disk fails here with [`StoreError::DiskFull`] instead of raising SIGBUS on a later
//!   store into the mapping (on Linux; see [`crate::platform`] for the fallbacks elsewhere);
//! - writers and readers share the mapping without a lock: the owner of a file guarantees that
//!   a byte range is written by one thread (under the store's append lock) and read only after
//!   its end was published through an atomic with release/acquire ordering.

use crate::error::StoreError;
use crate::platform;
use memmap2::MmapRaw;
use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

pub struct MappedFile {
    path: PathBuf,
    file: File,
    map: MmapRaw,
    /// Logical offset of the first byte (commit-log offset, or consume-queue byte position).
    start: u64,
    size: u64,
}

/// The 20-digit zero-padded file name used for segment files.
pub fn segment_file_name(start: u64) -> String {
    format!("{start:020}")
}

/// Parses a segment file name; `None` for anything that is not 20 decimal digits.
pub fn parse_segment_file_name(name: &str) -> Option<u64> {
    if name.len() == 20 && name.bytes().all(|b| b.is_ascii_digit()) {
        name.parse().ok()
    } else {
        None
    }
}

/// Segment files in `dir` sorted by start offset (ignores other files).
pub fn list_segment_files(dir: &Path) -> io::Result<Vec<(u64, PathBuf)>> {
    let mut out = Vec::new();
    match std::fs::read_dir(dir) {
        Ok(rd) => {
            for e in rd {
                let e = e?;
                if let Some(start) = e.file_name().to_str().and_then(parse_segment_file_name) {
                    out.push((start, e.path()));
                }
            }
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    out.sort();
    Ok(out)
}

fn allocate(file: &File, size: u64) -> Result<(), StoreError> {
    match platform::allocate(file, size) {
        Ok(true) => Ok(()),
        // Filesystems (or platforms) without fallocate: extend the file, which still makes
        // the size right (blocks are then allocated on first write).
        Ok(false) => {
            if file.metadata()?.len() < size {
                file.set_len(size)?;
            }
            Ok(())
        }
        Err(e) if platform::is_disk_full(&e) => Err(StoreError::DiskFull(format!(
            "cannot allocate {size} bytes: {e}"
        ))),
        Err(e) => Err(StoreError::from(e)),
    }
}

/// fsync of a directory, so a created, renamed or removed entry survives a crash.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    platform::sync_dir(dir)
}

impl MappedFile {
    /// Creates (or reuses an empty leftover of) the file at `path`, allocates `size` bytes
    /// and maps it. On failure the file is removed again.
    pub fn create(path: &Path, start: u64, size: u64) -> Result<MappedFile, StoreError> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)?;
        if let Err(e) = allocate(&file, size) {
            drop(file);
            let _ = std::fs::remove_file(path);
            return Err(e);
        }
        if let Some(dir) = path.parent() {
            sync_dir(dir)?;
        }
        Self::map(path, file, start, size)
    }

    /// Opens an existing file. A file shorter than `size` (a crash during creation) is
    /// extended; a longer one is refused (the configured size changed).
    pub fn open(path: &Path, start: u64, size: u64) -> Result<MappedFile, StoreError> {
        let file = OpenOptions::new().read(true).write(true).open(path)?;
        let len = file.metadata()?.len();
        if len > size {
            return Err(StoreError::Io(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "{} is {len} bytes, expected {size}: the configured file size changed",
                    path.display()
                ),
            )));
        }
        if len < size {
            allocate(&file, size)?;
        }
        Self::map(path, file, start, size)
    }

    fn map(path: &Path, file: File, start: u64, size: u64) -> Result<MappedFile, StoreError> {
        let map = MmapRaw::map_raw(&file)?;
        if (map.len() as u64) < size {
            return Err(StoreError::Io(io::Error::other(
                "mapping shorter than file",
            )));
        }
        Ok(MappedFile {
            path: path.to_path_buf(),
            file,
            map,
            start,
            size,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn start(&self) -> u64 {
        self.start
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// One past the last logical offset of this file.
    pub fn end(&self) -> u64 {
        self.start + self.size
    }

    fn check(&self, pos: usize, len: usize) -> bool {
        pos.checked_add(len)
            .is_some_and(|end| end as u64 <= self.size)
    }

    /// Copies `data` to position `pos` (relative to the file start). Returns false (writing
    /// nothing) if the range does not fit. Callers must be the single writer of the range and
    /// no reader may read it before the writer publishes it.
    pub fn write(&self, pos: usize, data: &[u8]) -> bool {
        if !self.check(pos, data.len()) {
            return false;
        }
        // SAFETY: the range is inside the mapping (checked above); the mapping lives as long
        // as `self`; by the module contract no other thread accesses this range concurrently.
        unsafe {
            std::ptr::copy_nonoverlapping(
                data.as_ptr(),
                self.map.as_mut_ptr().add(pos),
                data.len(),
            );
        }
        true
    }

    /// A view of `len` bytes at `pos`, or `None` if out of range. Callers only read ranges that
    /// were published as written.
    pub fn slice(&self, pos: usize, len: usize) -> Option<&[u8]> {
        if !self.check(pos, len) {
            return None;
        }
        // SAFETY: in range of a mapping that lives as long as the returned borrow of `self`;
        // the range is not concurrently written (module contract).
        Some(unsafe { std::slice::from_raw_parts(self.map.as_ptr().add(pos), len) })
    }

    /// Makes `[pos, pos + len)` durable (msync of the dirty range).
    pub fn flush_range(&self, pos: usize, len: usize) -> io::Result<()> {
        if len == 0 {
            return Ok(());
        }
        if !self.check(pos, len) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "flush range out of file",
            ));
        }
        self.map.flush_range(pos, len)
    }

    /// Zeroes `[pos, size)` and makes that durable. Uses `fallocate` to zero or punch the
    /// range when the filesystem supports it (cheap even for a 1 GiB tail), otherwise writes
    /// zeros through the mapping.
    pub fn zero_tail(&self, pos: usize) -> Result<(), StoreError> {
        if pos as u64 >= self.size {
            return Ok(());
        }
        let (off, len) = (pos as u64, self.size - pos as u64);
        let zeroed = platform::zero_range(&self.file, off, len)
            || (platform::punch_hole(&self.file, off, len)
                && allocate(&self.file, self.size).is_ok());
        if !zeroed {
            const CHUNK: usize = 1 << 16;
            let zeros = vec![0u8; CHUNK];
            let mut p = pos;
            while (p as u64) < self.size {
                let n = CHUNK.min((self.size - p as u64) as usize);
                self.write(p, &zeros[..n]);
                p += n;
            }
            self.flush_range(pos, (self.size - pos as u64) as usize)?;
        }
        self.file.sync_data()?;
        Ok(())
    }

    /// Faults `[pos, pos + len)` of the mapping into memory ahead of the writer, with
    /// `madvise(MADV_POPULATE_READ)` (Linux >= 5.14): the kernel reads (for a fresh
    /// fallocated file: zero-fills) those pages into the page cache and maps them, so a later
    /// store into them takes at most a cheap write-protect fault instead of a full
    /// `filemap_fault` with a 4 KiB `memset`. Nothing is dirtied, so the kernel has nothing
    /// extra to write back. `Ok(false)`: the kernel does not support it (EINVAL), the caller
    /// should stop trying; any other error is returned. Safe to run while another thread
    /// writes into the same range: populating never changes the file's contents.
    pub fn prefault(&self, pos: usize, len: usize) -> io::Result<bool> {
        if len == 0 {
            return Ok(true);
        }
        if !self.check(pos, len) || !pos.is_multiple_of(page_size()) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "prefault range out of file or not page aligned",
            ));
        }
        // SAFETY: the range is inside the mapping, which lives as long as `self`, and starts
        // on a page.
        unsafe { platform::populate_read(self.map.as_mut_ptr().add(pos), len) }
    }

    /// fdatasync of the whole file.
    pub fn sync_file(&self) -> io::Result<()> {
        self.file.sync_data()
    }
}

/// The size of a memory page (what `madvise` ranges must be aligned to).
pub fn page_size() -> usize {
    platform::page_size()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Prefaulting keeps what was written, leaves the rest zero, and refuses ranges outside
    /// the file or not starting on a page.
    #[test]
    fn prefault_keeps_contents_and_checks_its_range() {
        let dir = tempfile::tempdir().unwrap();
        let page = page_size();
        let size = 8 * page;
        let f = MappedFile::create(&dir.path().join("seg"), 0, size as u64).unwrap();
        assert!(f.write(page + 3, b"written before"));
        // Ok(false) only where the kernel lacks MADV_POPULATE_READ (before Linux 5.14).
        let supported = f.prefault(0, size).unwrap();
        assert!(f.write(3 * page, b"written after"));
        assert_eq!(f.slice(page + 3, 14).unwrap(), b"written before");
        assert_eq!(f.slice(3 * page, 13).unwrap(), b"written after");
        assert!(f.slice(5 * page, page).unwrap().iter().all(|&b| b == 0));
        assert!(f.prefault(2 * page, 0).unwrap());
        if supported {
            assert!(f.prefault(page, 2 * page).unwrap());
        }
        assert!(f.prefault(1, page).is_err(), "unaligned start");
        assert!(f.prefault(0, size + 1).is_err(), "past the end");
        assert!(f.prefault(usize::MAX - page + 1, page).is_err(), "overflow");
    }
}
