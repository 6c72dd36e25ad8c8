//! Retention: what `MessageStore::clean_now` promises on both stores (the old data goes, the
//! queues' min offsets, earliest store times and offset-by-time follow, everything newer is
//! untouched, appends continue), and, for the file store, the files on disk, reopening, the
//! disk watermarks and cleaning while writers and readers run.

mod common;

use common::*;
use rocketmq_protocol::message::peek_store_timestamp;
use rocketmq_store::{FileStore, GetStatus, MemoryStore, MessageStore, StoreConfig, StoreError};
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const TOPIC: &str = "Retained";
const QUEUES: i32 = 2;

/// Sends `n` messages of 1 KiB round-robin over the queues; returns each queue's bodies.
fn fill(store: &dyn MessageStore, n: usize, start: usize) -> HashMap<i32, Vec<Vec<u8>>> {
    let mut sent: HashMap<i32, Vec<Vec<u8>>> = HashMap::new();
    for i in start..start + n {
        let q = (i % QUEUES as usize) as i32;
        let body = body_for(i, 1024);
        store
            .put_messages(vec![msg(TOPIC, q, &body, Some("T"))])
            .unwrap();
        sent.entry(q).or_default().push(body);
    }
    sent
}

fn store_time_at(store: &dyn MessageStore, queue_id: i32, offset: i64) -> Option<i64> {
    let e = store.queue_entry(TOPIC, queue_id, offset)?;
    peek_store_timestamp(&store.read_record(e.commit_log_offset)?)
}

/// Nothing is removed while it is younger than the reserved time.
fn keeps_unexpired(store: &dyn MessageStore) {
    fill(store, 200, 0);
    store.flush().unwrap();
    let report = store.clean_now().unwrap();
    assert_eq!(report.segments_removed, 0, "{report:?}");
    assert_eq!(store.min_commit_log_offset(), 0);
    for q in 0..QUEUES {
        assert_eq!(store.min_offset(TOPIC, q), 0);
        assert_eq!(read_queue(store, TOPIC, q).len(), 100);
    }
}

/// With a reserved time of zero everything but the newest data goes, and every read of a
/// queue agrees with its new minimum.
fn removes_expired(store: &dyn MessageStore) {
    let sent = fill(store, 200, 0);
    store.flush().unwrap();
    let max_before: Vec<i64> = (0..QUEUES).map(|q| store.max_offset(TOPIC, q)).collect();
    // The file store's own pass (once a second) may have removed some already: what counts
    // is the state after this one.
    let report = store.clean_now().unwrap();
    assert!(report.min_commit_log_offset > 0, "{report:?}");
    assert_eq!(report.min_commit_log_offset, store.min_commit_log_offset());
    let mut raised = 0;
    for q in 0..QUEUES {
        let (min, max) = (store.min_offset(TOPIC, q), store.max_offset(TOPIC, q));
        assert_eq!(max, max_before[q as usize], "max offsets never move back");
        assert!(min <= max);
        if min > 0 {
            raised += 1;
            let r = get_all(store, TOPIC, q, min - 1, 32);
            assert_eq!(r.status, GetStatus::OffsetTooSmall);
            assert_eq!((r.next_begin_offset, r.min_offset), (min, min));
            assert!(store.queue_entry(TOPIC, q, min - 1).is_none());
            assert_eq!(store.offset_by_time(TOPIC, q, 0, false), min);
        }
        if min < max {
            // The first remaining message is intact, and its store time is the earliest.
            let r = get_all(store, TOPIC, q, min, 32);
            assert_eq!(r.status, GetStatus::Found);
            assert_eq!(r.queue_offsets[0], min);
            assert_eq!(
                store.earliest_store_time(TOPIC, q),
                store_time_at(store, q, min)
            );
        }
        // Everything at or above the minimum is there, unchanged.
        let got = read_queue(store, TOPIC, q);
        let want = &sent[&q][min as usize..];
        assert_eq!(got.len(), want.len(), "queue {q}");
        for (g, w) in got.iter().zip(want) {
            assert_eq!(&g.body[..], &w[..]);
        }
    }
    assert!(raised > 0, "some queue lost its old messages");
    // Appends continue where the queues ended.
    let r = store
        .put_messages(vec![msg(TOPIC, 0, b"after", None)])
        .unwrap();
    assert_eq!(r.results[0].queue_offset, max_before[0]);
    assert_eq!(get_all(store, TOPIC, 0, max_before[0], 1).messages.len(), 1);
}

/// A registered floor (the broker's timer) holds retention back: nothing at or past the
/// offset it answers is removed, however old; once it lets go, the old data goes.
fn floor_holds_retention_back(store: &dyn MessageStore) {
    // -1: nothing needed; registered before the first append so the file store's own pass
    // cannot run ahead of it.
    let floor = Arc::new(AtomicI64::new(0));
    let f = floor.clone();
    store.retain_commit_log_from(Arc::new(move || {
        Some(f.load(Ordering::Acquire)).filter(|&o| o >= 0)
    }));
    fill(store, 200, 0);
    store.flush().unwrap();
    store.clean_now().unwrap();
    assert_eq!(
        store.min_commit_log_offset(),
        0,
        "a floor at 0 keeps everything"
    );
    let held = store.queue_entry(TOPIC, 0, 60).unwrap().commit_log_offset;
    floor.store(held, Ordering::Release);
    store.clean_now().unwrap();
    assert!(store.min_commit_log_offset() <= held);
    assert!(
        store.read_record(held).is_some(),
        "the held record was removed"
    );
    assert!(store.min_offset(TOPIC, 0) <= 60);
    floor.store(-1, Ordering::Release);
    store.clean_now().unwrap();
    assert!(
        store.min_commit_log_offset() > held,
        "released data was kept"
    );
    assert!(store.read_record(held).is_none());
}

fn file_config(root: &Path, reserved: Option<Duration>) -> StoreConfig {
    let mut c = small_config(root);
    c.file_reserved_time = reserved;
    c
}

#[test]
fn memory_store_retention_contract() {
    keeps_unexpired(&MemoryStore::new().with_file_reserved_time(Some(Duration::from_secs(3600))));
    removes_expired(&MemoryStore::new().with_file_reserved_time(Some(Duration::ZERO)));
    floor_holds_retention_back(&MemoryStore::new().with_file_reserved_time(Some(Duration::ZERO)));
}

#[test]
fn file_store_retention_contract() {
    let dir = tempfile::tempdir().unwrap();
    let store = FileStore::open(file_config(dir.path(), Some(Duration::from_secs(3600)))).unwrap();
    keeps_unexpired(&*store);
    store.shutdown();
    let dir = tempfile::tempdir().unwrap();
    let store = FileStore::open(file_config(dir.path(), Some(Duration::ZERO))).unwrap();
    removes_expired(&*store);
    store.shutdown();
    let dir = tempfile::tempdir().unwrap();
    let store = FileStore::open(file_config(dir.path(), Some(Duration::ZERO))).unwrap();
    floor_holds_retention_back(&*store);
    store.shutdown();
}

/// Index files whose entries all lie below the commit log's new minimum go with the
/// segments; the current one stays, and key queries still find what is stored.
#[test]
fn index_files_follow_the_commit_log() {
    let dir = tempfile::tempdir().unwrap();
    let store = FileStore::open(file_config(dir.path(), Some(Duration::from_secs(3600)))).unwrap();
    for round in 0..6 {
        fill(&*store, 400, round * 400);
    }
    store.flush().unwrap();
    let index_dir = dir.path().join("index");
    // The index thread catches up off the send path; a clean shutdown indexes everything.
    store.shutdown();
    drop(store);
    let newest = names(&index_dir);
    assert!(
        newest.len() > 1,
        "the test needs several index files: {newest:?}"
    );
    let store = FileStore::open(file_config(dir.path(), Some(Duration::ZERO))).unwrap();
    store.clean_now().unwrap();
    let min = store.min_commit_log_offset() as u64;
    assert!(min > 0);
    let left = names(&index_dir);
    assert!(left.len() < newest.len(), "no index file went: {left:?}");
    assert_eq!(left.last(), newest.last(), "the current index file stays");
    // Every index file left has entries at or past the minimum (it starts below the next
    // file's start, and the next file starts past the minimum or it is the last).
    for pair in left.windows(2) {
        assert!(pair[1] > min, "file {} lies wholly below {min}", pair[0]);
    }
    store.shutdown();
}

fn names(dir: &Path) -> Vec<u64> {
    let mut v: Vec<u64> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            e.unwrap()
                .file_name()
                .into_string()
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect();
    v.sort();
    v
}

/// The files go from disk (commit log and the consume-queue files wholly below the new
/// minimum), and a reopened store starts its queues where retention left them.
#[test]
fn file_store_removes_files_and_reopens_at_the_minimum() {
    let dir = tempfile::tempdir().unwrap();
    let config = file_config(dir.path(), Some(Duration::from_secs(3600)));
    let store = FileStore::open(config.clone()).unwrap();
    fill(&*store, 600, 0);
    store.shutdown();
    drop(store);
    let cl = dir.path().join("commitlog");
    let cq = dir.path().join("consumequeue").join(TOPIC).join("0");
    let (segments, queue_files) = (names(&cl), names(&cq));
    assert!(
        segments.len() >= 8 && queue_files.len() >= 4,
        "{segments:?} {queue_files:?}"
    );

    let store = FileStore::open(file_config(dir.path(), Some(Duration::ZERO))).unwrap();
    store.clean_now().unwrap();
    assert_eq!(names(&cl), vec![*segments.last().unwrap()]);
    assert!(names(&cq).len() < queue_files.len());
    let mins: Vec<i64> = (0..QUEUES).map(|q| store.min_offset(TOPIC, q)).collect();
    let bodies: Vec<_> = (0..QUEUES).map(|q| read_queue(&*store, TOPIC, q)).collect();
    assert!(mins.iter().all(|&m| m > 0), "{mins:?}");
    store.shutdown();
    drop(store);

    let store = FileStore::open(config).unwrap();
    for q in 0..QUEUES {
        assert_eq!(store.min_offset(TOPIC, q), mins[q as usize], "queue {q}");
        let again = read_queue(&*store, TOPIC, q);
        assert_eq!(again.len(), bodies[q as usize].len());
        assert!(again
            .iter()
            .zip(&bodies[q as usize])
            .all(|(a, b)| a.body == b.body));
    }
    store.shutdown();
}

/// Above `disk_max_used_ratio` (0 here: any disk is above it) the oldest segments go before
/// they expire, down to the segment being written.
#[test]
fn disk_watermark_removes_unexpired_segments() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = file_config(dir.path(), Some(Duration::from_secs(3600)));
    let store = FileStore::open(config.clone()).unwrap();
    fill(&*store, 300, 0);
    store.shutdown();
    drop(store);
    let before = names(&dir.path().join("commitlog"));
    assert!(before.len() > 2);
    config.disk_max_used_ratio = Some(0);
    let store = FileStore::open(config).unwrap();
    store.clean_now().unwrap();
    assert_eq!(
        names(&dir.path().join("commitlog")),
        vec![*before.last().unwrap()]
    );
    store.shutdown();
}

/// At or above `disk_refuse_ratio` appends are refused with a clear error and nothing stored
/// is touched; without it the same store accepts appends again.
#[test]
fn disk_refusal_keeps_what_is_stored() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = file_config(dir.path(), Some(Duration::from_secs(3600)));
    let store = FileStore::open(config.clone()).unwrap();
    let sent = fill(&*store, 50, 0);
    store.shutdown();
    drop(store);

    config.disk_refuse_ratio = Some(0);
    let store = FileStore::open(config.clone()).unwrap();
    let err = match store.put_messages(vec![msg(TOPIC, 0, b"refused", None)]) {
        Err(e) => e,
        Ok(_) => panic!("an append above the refusal watermark was accepted"),
    };
    assert!(matches!(err, StoreError::DiskFull(_)), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("disk full") && text.contains("free space"),
        "{text}"
    );
    for q in 0..QUEUES {
        let got = read_queue(&*store, TOPIC, q);
        assert_eq!(got.len(), sent[&q].len());
    }
    store.shutdown();
    drop(store);

    config.disk_refuse_ratio = None;
    let store = FileStore::open(config).unwrap();
    store
        .put_messages(vec![msg(TOPIC, 0, b"accepted", None)])
        .unwrap();
    assert_eq!(read_queue(&*store, TOPIC, 0).len(), sent[&0].len() + 1);
    store.shutdown();
}

/// Cleaning while a writer appends and a reader reads: every message at or above a queue's
/// minimum is readable and intact, and the reader never sees a broken record.
#[test]
fn cleaning_while_writing_and_reading() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<FileStore> =
        FileStore::open(file_config(dir.path(), Some(Duration::ZERO))).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (store, stop) = (store.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut i = 0usize;
            while !stop.load(Ordering::Acquire) && i < 20_000 {
                let q = (i % QUEUES as usize) as i32;
                store
                    .put_messages(vec![msg(TOPIC, q, &body_for(i, 700), None)])
                    .unwrap();
                i += 1;
            }
            i
        })
    };
    let reader = {
        let (store, stop) = (store.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut reads = 0u64;
            while !stop.load(Ordering::Acquire) && reads < 1_000_000 {
                for q in 0..QUEUES {
                    let min = store.min_offset(TOPIC, q);
                    let r = get_all(&*store, TOPIC, q, min, 16);
                    for (m, qo) in r.messages.iter().zip(&r.queue_offsets) {
                        assert_eq!(decode(m).queue_offset, *qo);
                    }
                    reads += 1;
                }
            }
            reads
        })
    };
    // Until five segments' worth of the log's head went (this pass or the store's own).
    let deadline = Instant::now() + Duration::from_secs(20);
    let five_segments = 5 * small_config(dir.path()).commit_log_segment_size as i64;
    while store.min_commit_log_offset() < five_segments && Instant::now() < deadline {
        store.clean_now().unwrap();
    }
    stop.store(true, Ordering::Release);
    let written = writer.join().unwrap();
    assert!(reader.join().unwrap() > 0);
    assert!(
        store.min_commit_log_offset() >= five_segments,
        "the log's head did not go while {written} messages were written"
    );
    for q in 0..QUEUES {
        let got = read_queue(&*store, TOPIC, q);
        let min = store.min_offset(TOPIC, q);
        assert_eq!(got.len() as i64, store.max_offset(TOPIC, q) - min);
        for (k, m) in got.iter().enumerate() {
            let i = (min as usize + k) * QUEUES as usize + q as usize;
            assert_eq!(
                &m.body[..],
                &body_for(i, 700)[..],
                "queue {q} offset {}",
                min as usize + k
            );
        }
    }
    store.shutdown();
}

/// By age: after a pass, every message stored less than the reserved time before the pass
/// ended is still there (a segment goes only once the reserved time passed since its last
/// write, the store time of the next segment's first record), while older whole segments
/// went.
#[test]
fn only_segments_older_than_the_reserved_time_go() {
    let dir = tempfile::tempdir().unwrap();
    let reserved = Duration::from_secs(2);
    let store = FileStore::open(file_config(dir.path(), Some(reserved))).unwrap();
    fill(&*store, 300, 0);
    let newest_old = store_time_at(&*store, 0, store.max_offset(TOPIC, 0) - 1).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while rocketmq_protocol::now_millis() <= newest_old + reserved.as_millis() as i64 {
        assert!(Instant::now() < deadline, "the clock did not move");
        std::thread::sleep(Duration::from_millis(20));
    }
    // The new messages, with the store time each got.
    let mut stored_at: HashMap<i32, Vec<i64>> = HashMap::new();
    for i in 300..600 {
        let q = (i % QUEUES as usize) as i32;
        let put = store
            .put_messages(vec![msg(TOPIC, q, &body_for(i, 1024), Some("T"))])
            .unwrap();
        stored_at
            .entry(q)
            .or_default()
            .push(put.results[0].store_timestamp);
    }
    let report = store.clean_now().unwrap();
    let pass_end = rocketmq_protocol::now_millis();
    // The old messages span several segments, all but the last expired before the new ones
    // came (this pass or the store's own, once a second, removed them).
    assert!(store.min_commit_log_offset() > 0, "{report:?}");
    for q in 0..QUEUES {
        let min = store.min_offset(TOPIC, q);
        assert!(min > 0, "queue {q}");
        for m in read_queue(&*store, TOPIC, q) {
            assert!(m.queue_offset >= min);
        }
        // Everything stored within the reserved time before the pass ended is there.
        let cutoff = pass_end - reserved.as_millis() as i64;
        let young_stored = stored_at[&q].iter().filter(|&&t| t > cutoff).count();
        let young_read = read_queue(&*store, TOPIC, q)
            .into_iter()
            .filter(|m| m.store_timestamp > cutoff)
            .count();
        assert_eq!(young_read, young_stored, "queue {q}");
    }
    store.shutdown();
}
