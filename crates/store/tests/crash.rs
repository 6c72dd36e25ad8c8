//! Crash recovery: a torn last record (cut at random bytes, as if the machine died mid-write)
//! and a store dropped without shutdown. After reopening, every complete record is readable,
//! the torn one is gone, appends continue at the right offsets and the consume queues agree
//! with the commit log.

mod common;

use common::*;
use rand::{Rng, SeedableRng};
use rocketmq_protocol::message::decode_stored;
use rocketmq_store::{FileStore, MessageStore, PutResult, StoreConfig};
use std::io::{Seek, SeekFrom, Write};
use std::path::Path;

const QUEUES: i32 = 3;

/// Writes `n` messages round-robin over the queues; returns their put results and bodies.
fn write_records(store: &dyn MessageStore, n: usize, seed: u64) -> Vec<(PutResult, i32, Vec<u8>)> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    (0..n)
        .map(|i| {
            let q = (i as i32) % QUEUES;
            let body = body_for(i, rng.random_range(1..2000));
            let r = store
                .put_messages(vec![msg("Crash", q, &body, Some("T"))])
                .unwrap()
                .results[0];
            (r, q, body)
        })
        .collect()
}

/// Every consume-queue entry points at a valid record of its queue with its offset.
fn check_consistent(store: &dyn MessageStore, expected: &[(PutResult, i32, Vec<u8>)]) {
    for q in 0..QUEUES {
        let want: Vec<_> = expected.iter().filter(|(_, eq, _)| *eq == q).collect();
        assert_eq!(
            store.max_offset("Crash", q),
            want.len() as i64,
            "queue {q} max offset"
        );
        for off in 0..store.max_offset("Crash", q) {
            let e = store.queue_entry("Crash", q, off).expect("entry");
            let rec = store
                .read_record(e.commit_log_offset)
                .expect("entry points at a record");
            let (m, used) = decode_stored(&rec).unwrap();
            assert_eq!(used as i32, e.size);
            assert_eq!(m.queue_offset, off);
            assert_eq!(m.queue_id, q);
            assert_eq!(&m.body[..], &want[off as usize].2[..]);
        }
        let got = read_queue(store, "Crash", q);
        assert_eq!(got.len(), want.len());
    }
}

fn segment_path(root: &Path, config: &StoreConfig, offset: u64) -> std::path::PathBuf {
    let start = offset / config.commit_log_segment_size * config.commit_log_segment_size;
    root.join("commitlog").join(format!("{start:020}"))
}

enum Tear {
    /// Zeros from the cut to the end of the record (the rest never reached the disk).
    Zero,
    /// Garbage from the cut to the end of the record.
    Garbage,
    /// The file is cut short inside the record.
    Truncate,
}

fn tear_last_record(
    root: &Path,
    config: &StoreConfig,
    last: &PutResult,
    cut: u64,
    how: &Tear,
    rng: &mut impl Rng,
) {
    let start = last.commit_log_offset as u64;
    let path = segment_path(root, config, start);
    let seg_start = start / config.commit_log_segment_size * config.commit_log_segment_size;
    let pos = start - seg_start + cut;
    let end = start - seg_start + last.size as u64;
    let mut f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    match how {
        Tear::Zero => {
            f.seek(SeekFrom::Start(pos)).unwrap();
            f.write_all(&vec![0u8; (end - pos) as usize]).unwrap();
        }
        Tear::Garbage => {
            f.seek(SeekFrom::Start(pos)).unwrap();
            let junk: Vec<u8> = (0..end - pos).map(|_| rng.random()).collect();
            f.write_all(&junk).unwrap();
        }
        Tear::Truncate => f.set_len(pos).unwrap(),
    }
    f.sync_all().unwrap();
}

fn crash_and_recover(how: Tear, seed: u64, clean_close_first: bool) {
    let dir = tempfile::tempdir().unwrap();
    let config = small_config(dir.path());
    let store = FileStore::open(config.clone()).unwrap();
    let mut records = write_records(store.as_ref(), 150, seed);
    if clean_close_first {
        store.shutdown();
    }
    drop(store); // without shutdown: no clean close, the abort marker stays
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed ^ 0xABCD);
    let (last, last_q, _) = records.pop().unwrap();
    // Garbage at byte 0..8 could by chance form a valid header only with vanishing odds;
    // the record CRC catches the rest.
    let cut = rng.random_range(1..last.size as u64);
    tear_last_record(dir.path(), &config, &last, cut, &how, &mut rng);

    let store = FileStore::open(config.clone()).unwrap();
    assert_eq!(store.last_shutdown_clean(), clean_close_first);
    let stats = store.recovery_stats();
    assert_eq!(
        stats.valid_end, last.commit_log_offset as u64,
        "cut at {cut}"
    );
    assert_eq!(store.max_commit_log_offset(), last.commit_log_offset);
    assert!(store.read_record(last.commit_log_offset).is_none());
    check_consistent(store.as_ref(), &records);

    // Appends continue with the torn record's place and queue offset.
    let r = store
        .put_messages(vec![msg("Crash", last_q, b"again", Some("T"))])
        .unwrap()
        .results[0];
    assert_eq!(r.commit_log_offset, last.commit_log_offset);
    assert_eq!(r.queue_offset, last.queue_offset);
    records.push((r, last_q, b"again".to_vec()));
    check_consistent(store.as_ref(), &records);
    store.shutdown();
    drop(store);

    // And once more after a clean close.
    let store = FileStore::open(config).unwrap();
    assert!(store.last_shutdown_clean());
    check_consistent(store.as_ref(), &records);
    store.shutdown();
}

#[test]
fn torn_tail_zeroed_at_random_cuts() {
    for seed in 0..4 {
        crash_and_recover(Tear::Zero, seed, seed % 2 == 0);
    }
}

#[test]
fn torn_tail_garbage_at_random_cuts() {
    for seed in 10..14 {
        crash_and_recover(Tear::Garbage, seed, seed % 2 == 1);
    }
}

#[test]
fn torn_tail_file_truncated_at_random_cuts() {
    for seed in 20..24 {
        crash_and_recover(Tear::Truncate, seed, false);
    }
}

#[test]
fn drop_without_shutdown_keeps_every_record() {
    let dir = tempfile::tempdir().unwrap();
    let config = small_config(dir.path());
    let store = FileStore::open(config.clone()).unwrap();
    let records = write_records(store.as_ref(), 300, 99);
    store.commit_offset("g", "Crash", 0, 7);
    store.flush().unwrap();
    drop(store);
    assert!(dir.path().join("abort").exists());

    let store = FileStore::open(config).unwrap();
    assert!(!store.last_shutdown_clean());
    assert_eq!(store.recovery_stats().entries_truncated, 0);
    check_consistent(store.as_ref(), &records);
    assert_eq!(store.committed_offset("g", "Crash", 0), Some(7));
    store.shutdown();
}

#[test]
fn lost_consume_queues_are_rebuilt_from_the_commit_log() {
    let dir = tempfile::tempdir().unwrap();
    let config = small_config(dir.path());
    let store = FileStore::open(config.clone()).unwrap();
    let records = write_records(store.as_ref(), 200, 5);
    store.shutdown();
    drop(store);
    // Lose the consume queues entirely (the checkpoint still claims they were durable).
    std::fs::remove_dir_all(dir.path().join("consumequeue")).unwrap();

    let store = FileStore::open(config.clone()).unwrap();
    assert_eq!(store.recovery_stats().entries_redispatched, 200);
    check_consistent(store.as_ref(), &records);
    store.shutdown();
    drop(store);

    // Consume-queue entries lost from one queue are rebuilt: cut the last file of queue 1
    // back to zeros after its first entry.
    let q1 = dir.path().join("consumequeue/Crash/1");
    let mut files: Vec<_> = std::fs::read_dir(&q1)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let last = files.last().unwrap();
    let len = std::fs::metadata(last).unwrap().len();
    let f = std::fs::OpenOptions::new().write(true).open(last).unwrap();
    f.set_len(20).unwrap();
    f.set_len(len).unwrap();
    let store = FileStore::open(config).unwrap();
    assert!(store.recovery_stats().entries_redispatched > 0);
    check_consistent(store.as_ref(), &records);
    store.shutdown();
}

#[test]
fn stale_consume_queue_entries_past_the_log_are_dropped() {
    // The consume queue reached the disk but the commit-log tail did not: the entries for
    // records past the valid end must go.
    let dir = tempfile::tempdir().unwrap();
    let config = small_config(dir.path());
    let store = FileStore::open(config.clone()).unwrap();
    let mut records = write_records(store.as_ref(), 60, 3);
    store.shutdown();
    drop(store);
    // Zero the last three records in the commit log.
    let keep = records.len() - 3;
    let first_lost = records[keep].0;
    for (r, _, _) in &records[keep..] {
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        tear_last_record(dir.path(), &config, r, 0, &Tear::Zero, &mut rng);
    }
    records.truncate(keep);
    let store = FileStore::open(config).unwrap();
    assert_eq!(store.max_commit_log_offset(), first_lost.commit_log_offset);
    assert_eq!(store.recovery_stats().entries_truncated, 3);
    check_consistent(store.as_ref(), &records);
    store.shutdown();
}

#[test]
fn redispatch_uses_the_tags_code_hook() {
    use rocketmq_protocol::properties::{get_property, DELAY};
    use rocketmq_protocol::tag::tags_code;
    use rocketmq_store::default_tags_code_of;
    use std::sync::Arc;

    const SCHEDULE: &str = "SCHEDULE_TOPIC_XXXX";
    // The "broker" rule: a delayed message's code is its delivery time.
    fn delivery_time(store_ts: i64, properties: &str) -> i64 {
        let level: i64 = get_property(properties, DELAY).unwrap().parse().unwrap();
        store_ts + level * 1000
    }
    let dir = tempfile::tempdir().unwrap();
    let mut config = small_config(dir.path());
    config.tags_code_for_recovery = Some(Arc::new(|m| {
        if m.topic == SCHEDULE {
            delivery_time(m.store_timestamp, &m.properties)
        } else {
            default_tags_code_of(m)
        }
    }));
    let store = FileStore::open(config.clone()).unwrap();
    let mut expected = Vec::new();
    for level in 1..=3i64 {
        let mut m = msg(SCHEDULE, (level - 1) as i32, b"later", Some("TagD"));
        m.properties =
            rocketmq_protocol::properties::set_property(&m.properties, DELAY, &level.to_string());
        // Whatever the broker wrote at put time, recovery recomputes it through the hook.
        m.tags_code = 0;
        let r = store.put_messages(vec![m]).unwrap().results[0];
        expected.push((level, r));
    }
    store
        .put_messages(vec![msg("Plain", 0, b"p", Some("TagP"))])
        .unwrap();
    store.shutdown();
    drop(store);
    std::fs::remove_dir_all(dir.path().join("consumequeue")).unwrap();

    let store = FileStore::open(config).unwrap();
    assert_eq!(store.recovery_stats().entries_redispatched, 4);
    for (level, r) in &expected {
        let e = store.queue_entry(SCHEDULE, (*level - 1) as i32, 0).unwrap();
        assert_eq!(e.commit_log_offset, r.commit_log_offset);
        assert_eq!(e.tags_code, r.store_timestamp + level * 1000);
    }
    assert_eq!(
        store.queue_entry("Plain", 0, 0).unwrap().tags_code,
        tags_code(Some("TagP"))
    );
    store.shutdown();
    drop(store);

    // Without a hook, re-dispatch writes the TAGS hash.
    std::fs::remove_dir_all(dir.path().join("consumequeue")).unwrap();
    let store = FileStore::open(small_config(dir.path())).unwrap();
    assert_eq!(
        store.queue_entry(SCHEDULE, 0, 0).unwrap().tags_code,
        tags_code(Some("TagD"))
    );
    store.shutdown();
}

#[test]
fn consumer_offsets_are_persisted_periodically() {
    let dir = tempfile::tempdir().unwrap();
    let store = FileStore::open(small_config(dir.path())).unwrap();
    store.commit_offset("periodic", "Crash", 2, 41);
    let path = dir.path().join("config/consumerOffset.json");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let persisted = std::fs::read_to_string(&path)
            .ok()
            .and_then(|s| serde_json::from_str::<serde_json::Value>(&s).ok())
            .map(|v| v["offsetTable"]["Crash@periodic"]["2"] == 41)
            .unwrap_or(false);
        if persisted {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "offsets never persisted"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    drop(store); // no clean shutdown
    let store = FileStore::open(small_config(dir.path())).unwrap();
    assert_eq!(store.committed_offset("periodic", "Crash", 2), Some(41));
    store.shutdown();
}

#[test]
fn torn_first_record_of_a_new_segment() {
    let dir = tempfile::tempdir().unwrap();
    let config = small_config(dir.path());
    let seg = config.commit_log_segment_size as i64;
    let store = FileStore::open(config.clone()).unwrap();
    let mut records = Vec::new();
    // Write until a record starts a new segment (the previous one ends with a filler).
    for i in 0..10_000 {
        let q = (i as i32) % QUEUES;
        let body = body_for(i, 1500);
        let r = store
            .put_messages(vec![msg("Crash", q, &body, Some("T"))])
            .unwrap()
            .results[0];
        records.push((r, q, body));
        if r.commit_log_offset > 0 && r.commit_log_offset % seg == 0 {
            break;
        }
    }
    let (last, last_q, _) = records.pop().unwrap();
    assert_eq!(last.commit_log_offset % seg, 0, "no roll-over happened");
    drop(store);
    let mut rng = rand::rngs::StdRng::seed_from_u64(77);
    tear_last_record(dir.path(), &config, &last, 3, &Tear::Zero, &mut rng);

    let store = FileStore::open(config).unwrap();
    // The log ends right after the previous segment's filler.
    assert_eq!(store.max_commit_log_offset(), last.commit_log_offset);
    check_consistent(store.as_ref(), &records);
    let r = store
        .put_messages(vec![msg("Crash", last_q, b"next", Some("T"))])
        .unwrap()
        .results[0];
    assert_eq!(r.commit_log_offset, last.commit_log_offset);
    assert_eq!(r.queue_offset, last.queue_offset);
    records.push((r, last_q, b"next".to_vec()));
    check_consistent(store.as_ref(), &records);
    store.shutdown();
}
