//! Flushing and stopping: what the `store-flush` and `store-maintenance` threads call
//! ([`FlushTarget`]), the full flush, the clean shutdown and the unclean drop.
//!
//! Order of durability: commit-log segments first, then consume queues, then the
//! checkpoint that records both; a clean shutdown removes `abort` only after all of it.

use super::state::{FileStore, Inner};
use crate::error::StoreError;
use crate::flush::{FlushTarget, StopMode};
use crate::recovery::Checkpoint;
use std::sync::atomic::Ordering;

impl Inner {
    pub(super) fn flush_commit_log_counted(&self) -> std::io::Result<()> {
        let (_, did) = self.commit_log.flush()?;
        if did {
            self.group_commit
                .note_fsync(self.commit_log.flushed_offset());
        }
        Ok(())
    }

    /// Flushes consume queues and records the progress in the checkpoint.
    pub(super) fn flush_queues_and_checkpoint(&self) -> Result<(), StoreError> {
        // Sampled under the append lock: every record below this has its entry published.
        let dispatched_to = {
            let _g = self.append.lock().unwrap_or_else(|e| e.into_inner());
            self.commit_log.max_offset()
        };
        let queues: Vec<_> = self
            .queues
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect();
        for q in queues {
            q.flush()?;
        }
        let cp = Checkpoint {
            commit_log_flushed: self.commit_log.flushed_offset(),
            consume_queues_flushed: dispatched_to,
        };
        let mut last = self
            .last_checkpoint
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if *last != cp {
            cp.save(&self.config.root.join("checkpoint"))?;
            *last = cp;
        }
        Ok(())
    }

    /// `MessageStore::flush`: commit log, consume queues and checkpoint, consumer offsets.
    pub(super) fn flush_all(&self) -> Result<(), StoreError> {
        self.flush_commit_log_counted()?;
        self.flush_queues_and_checkpoint()?;
        self.offsets.persist()?;
        Ok(())
    }
}

impl FlushTarget for Inner {
    fn flush_commit_log(&self) -> std::io::Result<(u64, bool)> {
        self.commit_log.flush()
    }

    fn flush_consume_queues(&self) {
        if let Err(e) = self.flush_queues_and_checkpoint() {
            tracing::error!("consume queue flush failed: {e}");
        }
    }

    fn persist_offsets(&self) {
        if let Err(e) = self.offsets.persist() {
            tracing::error!("persisting consumer offsets failed: {e}");
        }
    }
}

impl FileStore {
    fn stop_threads(&self, mode: StopMode) {
        if let Some(index) = &self.inner.index {
            index.stop(matches!(mode, StopMode::Clean));
        }
        self.inner.group_commit.stop(mode);
        self.maintenance.stop();
        self.inner.retention.stop();
        let handles = std::mem::take(&mut *self.threads.lock().unwrap_or_else(|e| e.into_inner()));
        for h in handles {
            let _ = h.join();
        }
    }

    /// `MessageStore::shutdown`: flush everything, stop the threads, remove `abort`.
    pub(super) fn close_cleanly(&self) {
        if self.inner.shut_down.swap(true, Ordering::AcqRel) {
            return;
        }
        // Wait for an append in progress to finish publishing, then make everything durable
        // before the flusher stops, so a writer registering late still gets `Ok`.
        drop(self.inner.append.lock().unwrap_or_else(|e| e.into_inner()));
        if let Err(e) = self.inner.flush_commit_log_counted() {
            tracing::error!("commit log flush at shutdown failed: {e}");
        }
        self.stop_threads(StopMode::Clean);
        let result = self.inner.flush_all();
        match result {
            Ok(()) => {
                let root = &self.inner.config.root;
                let removed = std::fs::remove_file(root.join("abort"))
                    .and_then(|_| crate::mapped_file::sync_dir(root));
                if let Err(e) = removed {
                    tracing::error!("removing the abort marker failed: {e}");
                }
                tracing::info!("store {} shut down cleanly", root.display());
            }
            Err(e) => tracing::error!("final flush at shutdown failed: {e}"),
        }
    }
}

impl Drop for FileStore {
    fn drop(&mut self) {
        if !self.inner.shut_down.load(Ordering::Acquire) {
            // Not a clean close: stop the thread, keep the abort marker.
            self.inner.shut_down.store(true, Ordering::Release);
            self.stop_threads(StopMode::Abandon);
        }
    }
}
