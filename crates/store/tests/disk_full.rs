//! A segment that cannot be allocated fails the put with `DiskFull` before anything is
//! written; the store stays usable for reads.
//!
//! The failure is produced without filling a disk: a segment size above the filesystem's
//! largest file size makes `fallocate` fail at once (EFBIG on ext4, ENOSPC on tmpfs) without
//! allocating anything. On other filesystems (which might try to allocate it) the test does
//! not run the allocation and says so. Linux only: it reads the filesystem type with
//! `statfs`, and elsewhere the store only extends files (see the store's `platform`).

#![cfg(target_os = "linux")]

mod common;

use common::*;
use rocketmq_store::{FileStore, MessageStore, StoreError};

const EXT4_SUPER_MAGIC: i64 = 0xEF53;
const TMPFS_MAGIC: i64 = 0x0102_1994;

fn filesystem_type(path: &std::path::Path) -> i64 {
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    assert_eq!(unsafe { libc::statfs(c.as_ptr(), &mut st) }, 0);
    st.f_type as i64
}

#[test]
fn unallocatable_segment_is_disk_full() {
    let dir = tempfile::tempdir().unwrap();
    let fs = filesystem_type(dir.path());
    if fs != EXT4_SUPER_MAGIC && fs != TMPFS_MAGIC {
        eprintln!("skipping: filesystem type {fs:#x} might really allocate a huge file");
        return;
    }
    let mut config = small_config(dir.path());
    config.commit_log_segment_size = 1 << 50; // 1 PiB: beyond ext4's 16 TiB file limit
    let store = FileStore::open(config).unwrap();
    match store.put_messages(vec![msg("Full", 0, b"x", None)]) {
        Err(StoreError::DiskFull(m)) => eprintln!("disk full as expected: {m}"),
        Err(e) => panic!("expected DiskFull, got {e}"),
        Ok(_) => panic!("a 1 PiB segment was allocated"),
    }
    assert_eq!(store.max_commit_log_offset(), 0);
    assert_eq!(store.max_offset("Full", 0), 0);
    assert!(store.read_record(0).is_none());
    // No half-created segment file is left behind.
    assert_eq!(
        std::fs::read_dir(dir.path().join("commitlog"))
            .unwrap()
            .count(),
        0
    );
    store.shutdown();
}
