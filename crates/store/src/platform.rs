//! The store's operating-system calls, one function per call, each with a portable fallback.
//!
//! Linux is where the store is built to run: files are allocated on disk before they are
//! mapped (`posix_fallocate`), tails are zeroed with `fallocate`, pages are faulted in ahead
//! of the writer (`madvise(MADV_POPULATE_READ)`) and the store directory is locked with
//! `flock`. Elsewhere (macOS, Windows) the same functions compile and do the closest portable
//! thing, so the broker inside the wheel runs there too:
//! - allocation reports "unsupported" and the caller only extends the file (blocks are then
//!   allocated on first write: a full disk shows as a failed write into the mapping, not as a
//!   clean `DiskFull` at file creation);
//! - zeroing in place and prefaulting report "unsupported" and the caller writes zeros or
//!   skips prefaulting;
//! - the directory lock is `flock` on every Unix and an exclusive (unshared) open on Windows;
//! - fsync of a directory is a no-op on Windows, which has no such call (entries are durable
//!   with the file system's own journal).
//!
//! What must stay true: every function here has the same meaning on every platform (its
//! documented result), and nothing outside this module calls `libc` for files.

use std::fs::File;
use std::io;
use std::path::Path;

/// Allocates `[0, len)` of `file` on disk. `Ok(true)`: allocated; `Ok(false)`: this platform
/// or file system cannot (the caller extends the file instead); `Err`: the OS refused (a full
/// disk is `StorageFull`, `QuotaExceeded` or `FileTooLarge`).
pub fn allocate(file: &File, len: u64) -> io::Result<bool> {
    #[cfg(all(unix, not(target_vendor = "apple")))]
    {
        use std::os::fd::AsRawFd;
        let len = libc::off_t::try_from(len)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "file size too large"))?;
        // SAFETY: plain call on a descriptor `file` owns. posix_fallocate returns the error
        // number instead of setting errno.
        let rc = unsafe { libc::posix_fallocate(file.as_raw_fd(), 0, len) };
        match rc {
            0 => Ok(true),
            libc::EOPNOTSUPP | libc::EINVAL => Ok(false),
            _ => Err(io::Error::from_raw_os_error(rc)),
        }
    }
    #[cfg(not(all(unix, not(target_vendor = "apple"))))]
    {
        let _ = (file, len);
        Ok(false)
    }
}

/// Whether `e` means the disk (or the user's quota, or the file size limit) is full.
pub fn is_disk_full(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded | io::ErrorKind::FileTooLarge
    )
}

/// Makes `[off, off + len)` of `file` read as zeros without writing them, keeping it
/// allocated (`FALLOC_FL_ZERO_RANGE`). `false`: not supported here; nothing was changed.
pub fn zero_range(file: &File, off: u64, len: u64) -> bool {
    #[cfg(target_os = "linux")]
    {
        fallocate(file, libc::FALLOC_FL_ZERO_RANGE, off, len)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (file, off, len);
        false
    }
}

/// Deallocates `[off, off + len)` of `file`, which then reads as zeros; the size stays
/// (`FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE`). `false`: not supported here; nothing was
/// changed.
pub fn punch_hole(file: &File, off: u64, len: u64) -> bool {
    #[cfg(target_os = "linux")]
    {
        fallocate(
            file,
            libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_KEEP_SIZE,
            off,
            len,
        )
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (file, off, len);
        false
    }
}

#[cfg(target_os = "linux")]
fn fallocate(file: &File, mode: libc::c_int, off: u64, len: u64) -> bool {
    use std::os::fd::AsRawFd;
    let (Ok(off), Ok(len)) = (libc::off_t::try_from(off), libc::off_t::try_from(len)) else {
        return false;
    };
    // SAFETY: plain call on a descriptor `file` owns.
    unsafe { libc::fallocate(file.as_raw_fd(), mode, off, len) == 0 }
}

/// Faults `len` bytes of a mapping from `addr` into memory without dirtying them
/// (`madvise(MADV_POPULATE_READ)`, Linux 5.14+). `Ok(false)`: not supported here (the caller
/// stops trying); `Err`: any other failure.
///
/// # Safety
/// `addr..addr + len` must lie inside one live mapping and `addr` must be page aligned.
pub unsafe fn populate_read(addr: *mut u8, len: usize) -> io::Result<bool> {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: the caller guarantees a live, aligned range; this advice only faults pages
        // in and does not change memory contents.
        if unsafe { libc::madvise(addr.cast(), len, libc::MADV_POPULATE_READ) } == 0 {
            return Ok(true);
        }
        let e = io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::EINVAL) => Ok(false),
            _ => Err(e),
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (addr, len);
        Ok(false)
    }
}

/// The size of a memory page (what [`populate_read`] ranges must be aligned to).
pub fn page_size() -> usize {
    #[cfg(unix)]
    {
        // SAFETY: sysconf has no preconditions.
        let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        usize::try_from(n).ok().filter(|&n| n > 0).unwrap_or(4096)
    }
    #[cfg(not(unix))]
    {
        4096
    }
}

/// fsync of a directory, so a created, renamed or removed entry survives a crash. A no-op on
/// Windows, where a directory cannot be opened as a file.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(not(windows))]
    {
        File::open(dir)?.sync_all()
    }
    #[cfg(windows)]
    {
        let _ = dir;
        Ok(())
    }
}

/// Used percent (0..=100) of the file system holding `path`, as `df` shows it: used blocks
/// (`f_blocks - f_bfree`) over used plus those an unprivileged writer may still take
/// (`f_bavail`; blocks reserved for root count as neither), so "100" means this process can
/// write nothing more. `Ok(None)`: not measurable here (Windows); disk watermarks are
/// then inactive.
pub fn disk_used_percent(path: &Path) -> io::Result<Option<u8>> {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        let c = std::ffi::CString::new(path.as_os_str().as_bytes())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains NUL"))?;
        // SAFETY: statvfs writes into the zeroed struct we own; `c` is a valid C string.
        let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
        let rc = unsafe { libc::statvfs(c.as_ptr(), &mut st) };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        let used = (st.f_blocks as u128).saturating_sub(st.f_bfree as u128);
        let total = used + st.f_bavail as u128;
        if total == 0 {
            return Ok(None);
        }
        Ok(Some(((used * 100).div_ceil(total)).min(100) as u8))
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        Ok(None)
    }
}

/// Opens (creating it if needed) the lock file at `path` and holds it exclusively for as long
/// as the returned file is open. `Ok(None)`: another store holds it.
pub fn lock_file(path: &Path) -> io::Result<Option<File>> {
    let mut options = std::fs::OpenOptions::new();
    options.create(true).truncate(false).write(true);
    #[cfg(unix)]
    {
        use std::os::fd::AsRawFd;
        let file = options.open(path)?;
        // SAFETY: plain flock on a descriptor `file` owns.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            return Ok(None);
        }
        Ok(Some(file))
    }
    #[cfg(windows)]
    {
        use std::os::windows::fs::OpenOptionsExt;
        /// Windows' ERROR_SHARING_VIOLATION: another handle has the file open unshared.
        const SHARING_VIOLATION: i32 = 32;
        match options.share_mode(0).open(path) {
            Ok(file) => Ok(Some(file)),
            Err(e) if e.raw_os_error() == Some(SHARING_VIOLATION) => Ok(None),
            Err(e) => Err(e),
        }
    }
    #[cfg(not(any(unix, windows)))]
    {
        options.open(path).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A second lock on the same file is refused while the first is held, and granted once
    /// it is released.
    #[test]
    fn lock_file_is_exclusive_until_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lock");
        let first = lock_file(&path)
            .unwrap()
            .expect("the first lock is granted");
        assert!(
            lock_file(&path).unwrap().is_none(),
            "a second lock must be refused"
        );
        drop(first);
        assert!(
            lock_file(&path).unwrap().is_some(),
            "released: granted again"
        );
    }

    /// Allocation either allocates the whole length or reports that it cannot; zeroing a
    /// range (where supported) leaves zeros and the size.
    #[test]
    fn allocate_and_zero_range_keep_the_size() {
        use std::io::{Read, Seek, SeekFrom, Write};
        let dir = tempfile::tempdir().unwrap();
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(dir.path().join("f"))
            .unwrap();
        if allocate(&file, 8192).unwrap() {
            assert_eq!(file.metadata().unwrap().len(), 8192);
        } else {
            file.set_len(8192).unwrap();
        }
        file.write_all(&[7u8; 8192]).unwrap();
        if zero_range(&file, 4096, 4096) || punch_hole(&file, 4096, 4096) {
            let mut back = Vec::new();
            file.seek(SeekFrom::Start(0)).unwrap();
            file.read_to_end(&mut back).unwrap();
            assert_eq!(back.len(), 8192);
            assert!(back[..4096].iter().all(|&b| b == 7));
            assert!(back[4096..].iter().all(|&b| b == 0));
        }
        assert!(page_size().is_power_of_two());
        sync_dir(dir.path()).unwrap();
    }
}
