//! Group commit under sync flush: concurrent writers are acknowledged only after an fsync that
//! covers their bytes, with far fewer fsyncs than messages.

mod common;

use common::*;
use rocketmq_store::{FileStore, FlushMode, MessageStore};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[test]
fn eight_sync_writers_share_fsyncs() {
    const THREADS: usize = 8;
    const PER_THREAD: usize = 200;
    let dir = tempfile::tempdir().unwrap();
    let mut config = small_config(dir.path());
    config.commit_log_segment_size = 1 << 20;
    config.flush = FlushMode::Sync;
    config.flush_interval = Duration::from_millis(500);
    let store = FileStore::open(config).unwrap();
    let start_fsyncs = store.commit_log_fsync_count();
    let started = Instant::now();
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let store: Arc<FileStore> = store.clone();
            std::thread::spawn(move || {
                for i in 0..PER_THREAD {
                    let before = store.commit_log_fsync_count();
                    let out = store
                        .put_messages(vec![msg("Sync", t as i32, &body_for(i, 100), None)])
                        .unwrap();
                    let r = out.results[0];
                    let end = r.commit_log_offset + r.size as i64;
                    out.durable
                        .expect("sync flush hands out a waiter")
                        .wait(Duration::from_secs(30))
                        .expect("durable");
                    // Acknowledged only after a flush that started after our write.
                    assert!(store.commit_log_fsync_count() > before);
                    assert!(store.flushed_offset() >= end);
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let fsyncs = store.commit_log_fsync_count() - start_fsyncs;
    let messages = THREADS * PER_THREAD;
    println!(
        "{messages} sync-flushed messages, {fsyncs} commit-log fsyncs, {:?}",
        started.elapsed()
    );
    assert!(fsyncs > 0);
    assert!(
        (fsyncs as usize) < messages / 4,
        "{fsyncs} fsyncs for {messages} messages"
    );
    for t in 0..THREADS as i32 {
        assert_eq!(store.max_offset("Sync", t), PER_THREAD as i64);
    }
    store.shutdown();
}

#[test]
fn async_flush_has_no_waiter_and_flushes_in_background() {
    let dir = tempfile::tempdir().unwrap();
    let config = small_config(dir.path()); // async, 50 ms interval
    let store = FileStore::open(config).unwrap();
    let out = store
        .put_messages(vec![msg("Async", 0, b"x", None)])
        .unwrap();
    assert!(out.durable.is_none());
    let end = store.max_commit_log_offset();
    let deadline = Instant::now() + Duration::from_secs(10);
    while store.flushed_offset() < end {
        assert!(Instant::now() < deadline, "background flush did not happen");
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(store.commit_log_fsync_count() >= 1);
    store.shutdown();
}

#[test]
fn waiters_fail_after_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = small_config(dir.path());
    config.flush = FlushMode::Sync;
    let store = FileStore::open(config).unwrap();
    let out = store.put_messages(vec![msg("S", 0, b"x", None)]).unwrap();
    out.durable.unwrap().wait(Duration::from_secs(10)).unwrap();
    store.shutdown();
    assert!(store.put_messages(vec![msg("S", 0, b"y", None)]).is_err());
}

#[tokio::test]
async fn durable_waiter_can_be_awaited() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = small_config(dir.path());
    config.flush = FlushMode::Sync;
    let store = FileStore::open(config).unwrap();
    let out = store.put_messages(vec![msg("S", 0, b"x", None)]).unwrap();
    let waiter = out.durable.unwrap();
    let r = tokio::time::timeout(Duration::from_secs(10), waiter.0).await;
    assert!(matches!(r, Ok(Ok(Ok(())))));
    store.shutdown();
}
