//! What retention keeps per store: the disk watermarks, the lock that makes passes one at a
//! time, and the stop signal of the `store-clean` thread (the pass itself is `clean.rs`).

use crate::disk_watermark::DiskWatermarks;
use crate::message_store::CommitLogFloor;
use std::sync::{Condvar, Mutex};

/// Retention state of one store.
pub(super) struct Retention {
    pub(super) disk: DiskWatermarks,
    /// One pass at a time (the thread and `clean_now`).
    pub(super) pass: Mutex<()>,
    pub(super) stop: Mutex<bool>,
    pub(super) cv: Condvar,
    /// Readers outside the store that hold retention back (`retain_commit_log_from`).
    pub(super) floors: Mutex<Vec<CommitLogFloor>>,
}

impl Retention {
    pub(super) fn new(disk: DiskWatermarks) -> Retention {
        Retention {
            disk,
            pass: Mutex::new(()),
            stop: Mutex::new(false),
            cv: Condvar::new(),
            floors: Mutex::new(Vec::new()),
        }
    }

    /// Ends the `store-clean` thread after its current pass.
    pub(super) fn stop(&self) {
        *self.stop.lock().unwrap_or_else(|e| e.into_inner()) = true;
        self.cv.notify_all();
    }
}
