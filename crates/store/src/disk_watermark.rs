//! The disk watermarks of a store: how full the file system holding it is, whether that is
//! past the ratio above which retention removes files before they expire
//! (`disk_max_used_ratio`), and whether appends are refused (`disk_refuse_ratio`).
//!
//! What must stay true: the refusal is a flag the append path reads without a system call;
//! only [`DiskWatermarks::sample`] (the clean pass, once a second and on demand) measures the
//! disk and sets it, and it clears the flag as soon as usage is below the ratio again, so
//! appends resume by themselves. With both ratios `None` nothing is ever refused or removed
//! early because of the disk, whoever else fills it.

use crate::error::StoreError;
use crate::platform;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};

/// "Not measured" in [`DiskWatermarks::used`].
const UNKNOWN: u8 = u8::MAX;

pub struct DiskWatermarks {
    max_used_ratio: Option<u8>,
    refuse_ratio: Option<u8>,
    refusing: AtomicBool,
    /// Last measured used percent, or [`UNKNOWN`].
    used: AtomicU8,
}

impl DiskWatermarks {
    pub fn new(max_used_ratio: Option<u8>, refuse_ratio: Option<u8>) -> DiskWatermarks {
        DiskWatermarks {
            max_used_ratio,
            refuse_ratio,
            refusing: AtomicBool::new(false),
            used: AtomicU8::new(UNKNOWN),
        }
    }

    /// Whether any watermark is on (otherwise the disk is never measured).
    pub fn active(&self) -> bool {
        self.max_used_ratio.is_some() || self.refuse_ratio.is_some()
    }

    /// Measures the file system of `root` and updates the refusal. Returns the used percent
    /// (`None` when no watermark is on or it cannot be measured: nothing is then refused).
    pub fn sample(&self, root: &Path) -> Option<u8> {
        if !self.active() {
            return None;
        }
        let used = match platform::disk_used_percent(root) {
            Ok(u) => u,
            Err(e) => {
                tracing::warn!("cannot measure the disk of {}: {e}", root.display());
                None
            }
        };
        self.used.store(used.unwrap_or(UNKNOWN), Ordering::Release);
        let refuse = matches!((used, self.refuse_ratio), (Some(u), Some(r)) if u >= r);
        let was = self.refusing.swap(refuse, Ordering::AcqRel);
        if refuse && !was {
            tracing::error!(
                "store {}: disk {}% used, at or above the refusal watermark of {}%: refusing \
                 sends until space is freed",
                root.display(),
                used.unwrap_or(0),
                self.refuse_ratio.unwrap_or(0)
            );
        } else if was && !refuse {
            tracing::warn!(
                "store {}: disk usage back below the refusal watermark; accepting sends again",
                root.display()
            );
        }
        used
    }

    /// Whether `used` (from [`DiskWatermarks::sample`]) is at or above `disk_max_used_ratio`.
    pub fn over_max_used(&self, used: Option<u8>) -> bool {
        matches!((used, self.max_used_ratio), (Some(u), Some(m)) if u >= m)
    }

    /// The append path's check: `Err(DiskFull)` with what to do while refusing.
    pub fn check_writable(&self) -> Result<(), StoreError> {
        if !self.refusing.load(Ordering::Acquire) {
            return Ok(());
        }
        let used = self.used.load(Ordering::Acquire);
        Err(StoreError::DiskFull(format!(
            "the store's file system is {used}% used, at or above the \
             refusal watermark of {}% (disk_refuse_ratio); nothing stored was touched. Sends \
             resume once usage falls below it: free space on that disk, or let retention \
             remove old files (file_reserved_time, disk_max_used_ratio)",
            self.refuse_ratio.unwrap_or(0)
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watermarks_follow_the_measured_usage() {
        let dir = tempfile::tempdir().unwrap();
        let off = DiskWatermarks::new(None, None);
        assert_eq!(off.sample(dir.path()), None);
        assert!(off.check_writable().is_ok());
        assert!(!off.over_max_used(Some(100)));

        // Ratio 0: any usage is at or above it, so this refuses on every disk.
        let always = DiskWatermarks::new(Some(0), Some(0));
        assert!(
            always.check_writable().is_ok(),
            "nothing refused before a sample"
        );
        let used = always.sample(dir.path());
        assert!(used.is_some(), "a temp directory's disk is measurable");
        assert!(always.over_max_used(used));
        let err = always.check_writable().unwrap_err().to_string();
        assert!(
            err.starts_with("disk full: ") && err.contains("free space"),
            "{err}"
        );

        // Ratio 101 is never reached: never refused.
        let never = DiskWatermarks::new(Some(101), Some(101));
        let used = never.sample(dir.path());
        assert!(!never.over_max_used(used));
        assert!(never.check_writable().is_ok());
    }
}
