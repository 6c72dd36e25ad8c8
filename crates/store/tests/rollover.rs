//! Small commit-log segments and consume-queue files so that many roll-overs happen: every
//! record stays readable across segment boundaries, before and after reopening.

mod common;

use common::*;
use rand::{Rng, SeedableRng};
use rocketmq_protocol::message::{record_header, RecordHeader, BLANK_MAGIC_CODE};
use rocketmq_store::{FileStore, MessageStore};
use std::collections::HashMap;

const QUEUES: i32 = 4;

fn segment_files(root: &std::path::Path) -> Vec<(u64, u64)> {
    let mut v: Vec<(u64, u64)> = std::fs::read_dir(root.join("commitlog"))
        .unwrap()
        .map(|e| e.unwrap())
        .map(|e| {
            let name = e.file_name().into_string().unwrap();
            assert_eq!(name.len(), 20, "segment name {name}");
            (name.parse().unwrap(), e.metadata().unwrap().len())
        })
        .collect();
    v.sort();
    v
}

fn check_all(store: &dyn MessageStore, expected: &HashMap<i32, Vec<Vec<u8>>>) {
    for q in 0..QUEUES {
        let got = read_queue(store, "Roll", q);
        let want = &expected[&q];
        assert_eq!(got.len(), want.len(), "queue {q}");
        for (g, w) in got.iter().zip(want) {
            assert_eq!(&g.body[..], &w[..]);
            assert_eq!(g.queue_id, q);
            let raw = store
                .read_record(g.physical_offset)
                .expect("record by offset");
            assert_eq!(raw.len() as i32, g.total_size);
        }
    }
}

#[test]
fn records_survive_many_rollovers_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let config = small_config(dir.path());
    let seg = config.commit_log_segment_size;
    let store = FileStore::open(config.clone()).unwrap();
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let mut expected: HashMap<i32, Vec<Vec<u8>>> = (0..QUEUES).map(|q| (q, Vec::new())).collect();
    let mut i = 0usize;
    let mut crossed = 0;
    while store.max_commit_log_offset() < 20 * seg as i64 {
        let q = rng.random_range(0..QUEUES);
        let n = rng.random_range(0..3000);
        let body = body_for(i, n);
        let batch_len = rng.random_range(1..4);
        let batch: Vec<_> = (0..batch_len)
            .map(|_| msg("Roll", q, &body, Some("T")))
            .collect();
        let out = store.put_messages(batch).unwrap();
        for r in &out.results {
            let start = r.commit_log_offset as u64;
            let end = start + r.size as u64;
            // A record never spans two segments.
            assert_eq!(
                start / seg,
                (end - 1) / seg,
                "record at {start} spans segments"
            );
            if start > 0 && start / seg * seg == start {
                crossed += 1;
            }
            expected.get_mut(&q).unwrap().push(body.clone());
        }
        i += 1;
        assert!(i < 100_000);
    }
    assert!(crossed >= 19, "records started {crossed} segments");
    let files = segment_files(dir.path());
    assert!(files.len() >= 20);
    for (k, (start, len)) in files.iter().enumerate() {
        assert_eq!(*start, k as u64 * seg);
        assert_eq!(*len, seg);
    }
    // Each full segment ends with the blank filler.
    let first_seg = std::fs::read(dir.path().join("commitlog/00000000000000000000")).unwrap();
    let mut pos = 0usize;
    loop {
        match record_header(&first_seg[pos..]) {
            RecordHeader::Message { size } => pos += size,
            RecordHeader::Blank { size } => {
                assert_eq!(pos + size, seg as usize);
                assert_eq!(
                    &first_seg[pos + 4..pos + 8],
                    &BLANK_MAGIC_CODE.to_be_bytes()
                );
                break;
            }
            other => panic!("unexpected {other:?} at {pos}"),
        }
    }
    check_all(store.as_ref(), &expected);
    // Consume-queue files rolled too (64 entries per file).
    let cq_files = std::fs::read_dir(dir.path().join("consumequeue/Roll/0"))
        .unwrap()
        .count();
    assert!(cq_files > 1, "consume queue files: {cq_files}");

    let end = store.max_commit_log_offset();
    store.shutdown();
    drop(store);
    let store = FileStore::open(config.clone()).unwrap();
    assert_eq!(store.max_commit_log_offset(), end);
    // The checkpoint lets recovery validate only the last segment, not the whole log.
    let stats = store.recovery_stats();
    assert_eq!(stats.validated_from, (end as u64) / seg * seg);
    assert!(stats.validated_from > 0);
    assert_eq!(stats.valid_end, end as u64);
    assert_eq!(stats.entries_redispatched, 0);
    check_all(store.as_ref(), &expected);
    // Appending continues in the last segment.
    let r = store
        .put_messages(vec![msg("Roll", 0, b"tail", None)])
        .unwrap()
        .results[0];
    assert_eq!(r.commit_log_offset, end);
    assert_eq!(r.queue_offset, expected[&0].len() as i64);
    store.shutdown();
}
