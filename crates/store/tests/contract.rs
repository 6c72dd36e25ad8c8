//! The store contract: one suite of behaviours, written once over `&dyn MessageStore` and run
//! against both the file store and the memory store.

mod common;

use common::*;
use rocketmq_protocol::message::{decode_stored, peek_store_timestamp};
use rocketmq_protocol::sysflag::{TRANSACTION_PREPARED_TYPE, TRANSACTION_ROLLBACK_TYPE};
use rocketmq_protocol::tag::tags_code;
use rocketmq_store::{
    FileStore, GetRequest, GetStatus, KeyKind, KeyQuery, MemoryStore, MessageStore, StoreError,
    TopicConfig,
};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn put_one(
    store: &dyn MessageStore,
    m: rocketmq_store::MessageToStore,
) -> rocketmq_store::PutResult {
    let out = store.put_messages(vec![m]).expect("put");
    if let Some(w) = out.durable {
        w.wait(Duration::from_secs(10)).expect("durable");
    }
    out.results[0]
}

fn put_get_roundtrip(store: &dyn MessageStore) {
    let before = store.max_commit_log_offset();
    let mut results = Vec::new();
    for i in 0..3 {
        results.push(put_one(
            store,
            msg("TopicA", 1, &body_for(i, 10 + i), Some("TagA")),
        ));
    }
    for (i, r) in results.iter().enumerate() {
        assert_eq!(r.queue_offset, i as i64);
        assert!(r.store_timestamp > 0);
    }
    assert_eq!(results[0].commit_log_offset, before);
    assert_eq!(
        results[1].commit_log_offset,
        results[0].commit_log_offset + results[0].size as i64
    );
    let last = results[2];
    assert_eq!(
        store.max_commit_log_offset(),
        last.commit_log_offset + last.size as i64
    );

    let r = get_all(store, "TopicA", 1, 0, 32);
    assert_eq!(r.status, GetStatus::Found);
    assert_eq!(r.messages.len(), 3);
    assert_eq!(r.queue_offsets, vec![0, 1, 2]);
    assert_eq!(r.next_begin_offset, 3);
    assert_eq!((r.min_offset, r.max_offset), (0, 3));
    for (i, raw) in r.messages.iter().enumerate() {
        let m = decode(raw);
        assert_eq!(m.topic, "TopicA");
        assert_eq!(m.queue_id, 1);
        assert_eq!(&m.body[..], &body_for(i, 10 + i)[..]);
        assert_eq!(m.queue_offset, i as i64);
        assert_eq!(m.physical_offset, results[i].commit_log_offset);
        assert_eq!(m.store_timestamp, results[i].store_timestamp);
        assert_eq!(m.total_size, results[i].size);
        assert!(m.properties.contains("TAGS\u{1}TagA\u{2}"));
        // read_record gives the same bytes.
        assert_eq!(
            store.read_record(m.physical_offset).as_deref(),
            Some(&raw[..])
        );
        let e = store.queue_entry("TopicA", 1, i as i64).expect("entry");
        assert_eq!(e.commit_log_offset, results[i].commit_log_offset);
        assert_eq!(e.size, results[i].size);
        assert_eq!(e.tags_code, tags_code(Some("TagA")));
    }
    assert!(store.queue_entry("TopicA", 1, 3).is_none());
    assert!(store.queue_entry("TopicA", 1, -1).is_none());
    // Reading from the middle.
    let r = get_all(store, "TopicA", 1, 2, 32);
    assert_eq!(r.queue_offsets, vec![2]);
    assert!(store.queues().contains(&("TopicA".to_string(), 1)));
}

fn statuses(store: &dyn MessageStore) {
    let r = get_all(store, "Nope", 0, 5, 32);
    assert_eq!(r.status, GetStatus::NoMatchedLogicQueue);
    assert_eq!(r.next_begin_offset, 0);
    assert!(r.messages.is_empty());
    assert_eq!(store.max_offset("Nope", 0), 0);
    assert_eq!(store.min_offset("Nope", 0), 0);
    assert_eq!(store.offset_by_time("Nope", 0, 0, false), 0);
    assert!(store.earliest_store_time("Nope", 0).is_none());

    for i in 0..4 {
        put_one(store, msg("TopicS", 0, &body_for(i, 5), None));
    }
    let r = get_all(store, "TopicS", 0, 4, 32);
    assert_eq!(r.status, GetStatus::OffsetOverflowOne);
    assert_eq!(r.next_begin_offset, 4);
    let r = get_all(store, "TopicS", 0, 9, 32);
    assert_eq!(r.status, GetStatus::OffsetOverflowBadly);
    assert_eq!(r.next_begin_offset, 4);
    let r = get_all(store, "TopicS", 0, -3, 32);
    assert_eq!(r.status, GetStatus::OffsetTooSmall);
    assert_eq!(r.next_begin_offset, 0);
    let r = get_all(store, "TopicS", 0, 1, 2);
    assert_eq!(r.status, GetStatus::Found);
    assert_eq!(r.queue_offsets, vec![1, 2]);
    assert_eq!(r.next_begin_offset, 3);
    // max_bytes: one record always comes back, a second only if it fits.
    let one = get_all(store, "TopicS", 0, 0, 1).messages[0].len();
    let r = store.get_messages(
        &GetRequest {
            topic: "TopicS",
            queue_id: 0,
            offset: 0,
            max_msgs: 32,
            max_bytes: 1,
        },
        &|_| true,
    );
    assert_eq!(r.messages.len(), 1);
    assert_eq!(r.next_begin_offset, 1);
    let r = store.get_messages(
        &GetRequest {
            topic: "TopicS",
            queue_id: 0,
            offset: 0,
            max_msgs: 32,
            max_bytes: one * 2,
        },
        &|_| true,
    );
    assert_eq!(r.messages.len(), 2);
    assert_eq!(r.next_begin_offset, 2);
}

fn batch_consecutive(store: &dyn MessageStore) {
    put_one(store, msg("TopicB", 0, b"first", None));
    let batch = (0..5)
        .map(|i| {
            msg(
                if i % 2 == 0 { "TopicB" } else { "TopicC" },
                0,
                &body_for(i, 20),
                None,
            )
        })
        .collect();
    let out = store.put_messages(batch).expect("batch");
    if let Some(w) = out.durable {
        w.wait(Duration::from_secs(10)).expect("durable");
    }
    let qos: Vec<i64> = out.results.iter().map(|r| r.queue_offset).collect();
    assert_eq!(qos, vec![1, 0, 2, 1, 3]);
    for w in out.results.windows(2) {
        assert_eq!(
            w[1].commit_log_offset,
            w[0].commit_log_offset + w[0].size as i64
        );
    }
    assert_eq!(store.max_offset("TopicB", 0), 4);
    assert_eq!(store.max_offset("TopicC", 0), 2);
    let b = read_queue(store, "TopicB", 0);
    assert_eq!(b.len(), 4);
    assert_eq!(&b[0].body[..], b"first");
    assert_eq!(&b[3].body[..], &body_for(4, 20)[..]);
}

fn filters(store: &dyn MessageStore) {
    let tags = ["TagA", "TagB", "TagA", "TagC", "TagB", "TagA"];
    for (i, t) in tags.iter().enumerate() {
        put_one(store, msg("TopicF", 2, &body_for(i, 8), Some(t)));
    }
    put_one(store, msg("TopicF", 2, b"untagged", None));
    let a = tags_code(Some("TagA"));
    let only_a = move |code: i64| code == a;
    let r = store.get_messages(
        &GetRequest {
            topic: "TopicF",
            queue_id: 2,
            offset: 0,
            max_msgs: 32,
            max_bytes: usize::MAX,
        },
        &only_a,
    );
    assert_eq!(r.status, GetStatus::Found);
    assert_eq!(r.queue_offsets, vec![0, 2, 5]);
    assert_eq!(r.next_begin_offset, 7);
    // Max messages stops the scan right after the last taken entry.
    let r = store.get_messages(
        &GetRequest {
            topic: "TopicF",
            queue_id: 2,
            offset: 0,
            max_msgs: 2,
            max_bytes: usize::MAX,
        },
        &only_a,
    );
    assert_eq!(r.queue_offsets, vec![0, 2]);
    assert_eq!(r.next_begin_offset, 3);
    // Nothing matches: NO_MATCHED_MESSAGE, offset still advances.
    let r = store.get_messages(
        &GetRequest {
            topic: "TopicF",
            queue_id: 2,
            offset: 0,
            max_msgs: 32,
            max_bytes: usize::MAX,
        },
        &|code| code == 12345,
    );
    assert_eq!(r.status, GetStatus::NoMatchedMessage);
    assert!(r.messages.is_empty());
    assert_eq!(r.next_begin_offset, 7);
    assert_eq!(
        store.queue_entry("TopicF", 2, 6).map(|e| e.tags_code),
        Some(0)
    );
}

fn scan_is_bounded(store: &dyn MessageStore) {
    let batch: Vec<_> = (0..900)
        .map(|i| msg("TopicScan", 0, &body_for(i, 4), Some("X")))
        .collect();
    let out = store.put_messages(batch).expect("put");
    if let Some(w) = out.durable {
        w.wait(Duration::from_secs(10)).expect("durable");
    }
    let r = store.get_messages(
        &GetRequest {
            topic: "TopicScan",
            queue_id: 0,
            offset: 0,
            max_msgs: 32,
            max_bytes: usize::MAX,
        },
        &|_| false,
    );
    assert_eq!(r.status, GetStatus::NoMatchedMessage);
    assert_eq!(r.next_begin_offset, 800);
}

fn wait_for_clock_after(ts: i64) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while now_ms() <= ts {
        assert!(Instant::now() < deadline, "clock does not advance");
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn offsets_by_time(store: &dyn MessageStore) {
    let first: Vec<_> = (0..3)
        .map(|i| msg("TopicT", 0, &body_for(i, 6), None))
        .collect();
    let r1 = store.put_messages(first).unwrap().results;
    let t1 = r1[0].store_timestamp;
    wait_for_clock_after(t1);
    let r2 = store
        .put_messages(vec![
            msg("TopicT", 0, b"later", None),
            msg("TopicT", 0, b"later2", None),
        ])
        .unwrap()
        .results;
    let t2 = r2[0].store_timestamp;
    assert!(t2 > t1);
    assert_eq!(store.earliest_store_time("TopicT", 0), Some(t1));
    assert_eq!(store.offset_by_time("TopicT", 0, t1, false), 0);
    assert_eq!(store.offset_by_time("TopicT", 0, t1 + 1, false), 3);
    assert_eq!(store.offset_by_time("TopicT", 0, t2, false), 3);
    assert_eq!(
        store.offset_by_time("TopicT", 0, t2 + 1, false),
        5,
        "all older: max"
    );
    assert_eq!(store.offset_by_time("TopicT", 0, 0, false), 0);
    assert_eq!(store.offset_by_time("TopicT", 0, t1, true), 2);
    assert_eq!(store.offset_by_time("TopicT", 0, t2 - 1, true), 2);
    assert_eq!(store.offset_by_time("TopicT", 0, t2, true), 4);
    assert_eq!(store.offset_by_time("TopicT", 0, i64::MAX, true), 4);
    assert_eq!(
        store.offset_by_time("TopicT", 0, t1 - 1, true),
        0,
        "all newer: min"
    );
    // The stored timestamps are what the results said.
    let e = store.queue_entry("TopicT", 0, 3).unwrap();
    let rec = store.read_record(e.commit_log_offset).unwrap();
    assert_eq!(peek_store_timestamp(&rec), Some(t2));
}

fn read_record_rules(store: &dyn MessageStore) {
    let r = put_one(store, msg("TopicR", 0, b"abc", None));
    let rec = store.read_record(r.commit_log_offset).expect("record");
    let (m, _) = decode_stored(&rec).unwrap();
    assert_eq!(&m.body[..], b"abc");
    assert!(store.read_record(r.commit_log_offset + 1).is_none());
    assert!(store.read_record(store.max_commit_log_offset()).is_none());
    assert!(store.read_record(-1).is_none());
}

fn transactional_half_not_dispatched(store: &dyn MessageStore) {
    let mut m = msg("TopicH", 0, b"half", None);
    m.sys_flag = TRANSACTION_PREPARED_TYPE;
    let r = put_one(store, m);
    assert_eq!(r.queue_offset, -1);
    assert_eq!(store.max_offset("TopicH", 0), 0);
    let rec = store
        .read_record(r.commit_log_offset)
        .expect("half record stored");
    assert_eq!(&decode(&rec).body[..], b"half");
}

fn rejects_illegal(store: &dyn MessageStore) {
    let before = store.max_commit_log_offset();
    let big = vec![7u8; 16 * 1024 + 1];
    match store.put_messages(vec![
        msg("TopicI", 0, b"ok", None),
        msg("TopicI", 0, &big, None),
    ]) {
        Err(StoreError::MessageIllegal(_)) => {}
        Err(e) => panic!("unexpected error {e}"),
        Ok(_) => panic!("oversized body accepted"),
    }
    match store.put_messages(vec![msg("../evil", 0, b"x", None)]) {
        Err(StoreError::MessageIllegal(_)) => {}
        _ => panic!("path-like topic accepted"),
    }
    assert_eq!(store.max_commit_log_offset(), before, "nothing written");
    assert_eq!(store.max_offset("TopicI", 0), 0);
}

fn offsets_topics_configs(store: &dyn MessageStore) {
    assert_eq!(store.committed_offset("g1", "TopicA", 0), None);
    store.commit_offset("g1", "TopicA", 0, 12);
    store.commit_offset("g1", "TopicA", 0, 15);
    store.commit_offset("g1", "TopicA", 3, 2);
    store.commit_offset("g2", "TopicA", 0, 1);
    assert_eq!(store.committed_offset("g1", "TopicA", 0), Some(15));
    assert_eq!(store.committed_offset("g1", "TopicA", 3), Some(2));
    assert_eq!(store.committed_offset("g2", "TopicA", 0), Some(1));
    assert_eq!(store.committed_offset("g2", "TopicA", 3), None);

    assert!(store.topic_config("TopicA").is_none());
    let mut tc = TopicConfig::new("TopicA", 4, 6);
    store.put_topic_config(tc.clone()).unwrap();
    store
        .put_topic_config(TopicConfig::new("TopicZ", 8, 6))
        .unwrap();
    tc.read_queue_nums = 2;
    store.put_topic_config(tc.clone()).unwrap();
    assert_eq!(store.topic_config("TopicA"), Some(tc));
    let names: Vec<String> = store
        .topic_configs()
        .into_iter()
        .map(|t| t.topic_name)
        .collect();
    assert_eq!(names.len(), 2);
    assert!(names.contains(&"TopicZ".to_string()));

    assert_eq!(store.load_config("delayOffset"), None);
    store
        .save_config("delayOffset", r#"{"offsetTable":{"1":5}}"#)
        .unwrap();
    assert_eq!(
        store.load_config("delayOffset").as_deref(),
        Some(r#"{"offsetTable":{"1":5}}"#)
    );
    assert!(store.save_config("../escape", "{}").is_err());
    store.flush().unwrap();
}

fn shutdown_refuses_puts(store: &dyn MessageStore) {
    store.shutdown();
    assert!(matches!(
        store.put_messages(vec![msg("TopicA", 0, b"late", None)]),
        Err(StoreError::ShutDown)
    ));
    store.shutdown(); // idempotent
}

/// Key queries: `KEYS` words and unique keys of one topic, newest first, limited by count and
/// store time; rolled-back records and other topics' messages are never answered.
fn key_queries(store: &dyn MessageStore) {
    let with_keys = |i: usize, keys: &str, sys_flag: i32| {
        let mut m = msg(
            "KeyTopic",
            (i % 2) as i32,
            format!("kq{i}").as_bytes(),
            None,
        );
        m.sys_flag = sys_flag;
        m.properties = rocketmq_protocol::properties::encode_pairs(&[
            ("KEYS", keys),
            ("UNIQ_KEY", &format!("UQ{i:03}")),
        ]);
        m
    };
    let mut times = Vec::new();
    for i in 0..30 {
        let keys = if i % 3 == 0 {
            "order-1 common".to_string()
        } else {
            format!("common other-{i}")
        };
        times.push(put_one(store, with_keys(i, &keys, 0)).store_timestamp);
    }
    put_one(store, with_keys(30, "rolled", TRANSACTION_ROLLBACK_TYPE));
    let mut other = msg("OtherKeyTopic", 0, b"other", None);
    other.properties = rocketmq_protocol::properties::encode_pairs(&[("KEYS", "order-1")]);
    put_one(store, other);

    let ask = |key: &str, kind: KeyKind, max_num: usize, begin: i64, end: i64| -> Vec<String> {
        let r = store.query_by_key(&KeyQuery {
            topic: "KeyTopic",
            key,
            kind,
            max_num,
            begin_timestamp: begin,
            end_timestamp: end,
        });
        assert!(r.index_last_update_timestamp >= times[29]);
        r.records
            .iter()
            .map(|rec| String::from_utf8(decode_stored(rec).unwrap().0.body.to_vec()).unwrap())
            .collect()
    };
    let newest_first = |v: &[usize]| v.iter().rev().map(|i| format!("kq{i}")).collect::<Vec<_>>();
    let order1: Vec<usize> = (0..30).filter(|i| i % 3 == 0).collect();
    assert_eq!(
        ask("order-1", KeyKind::Keys, 64, 0, i64::MAX),
        newest_first(&order1)
    );
    assert_eq!(
        ask("order-1", KeyKind::Keys, 4, 0, i64::MAX),
        newest_first(&[18, 21, 24, 27])
    );
    assert_eq!(ask("common", KeyKind::Keys, 64, 0, i64::MAX).len(), 30);
    assert_eq!(ask("other-5", KeyKind::Keys, 64, 0, i64::MAX), ["kq5"]);
    assert!(ask("order", KeyKind::Keys, 64, 0, i64::MAX).is_empty());
    assert_eq!(ask("UQ007", KeyKind::UniqueKey, 64, 0, i64::MAX), ["kq7"]);
    assert!(ask("UQ007", KeyKind::Keys, 64, 0, i64::MAX).is_empty());
    assert!(ask("order-1", KeyKind::UniqueKey, 64, 0, i64::MAX).is_empty());
    assert!(ask("rolled", KeyKind::Keys, 64, 0, i64::MAX).is_empty());
    assert_eq!(ask("UQ007", KeyKind::Any, 64, 0, i64::MAX), ["kq7"]);
    assert_eq!(ask("other-5", KeyKind::Any, 64, 0, i64::MAX), ["kq5"]);
    assert!(ask("UQ030", KeyKind::UniqueKey, 64, 0, i64::MAX).is_empty());
    // Store-time bounds are inclusive.
    assert!(ask("order-1", KeyKind::Keys, 64, 0, times[0] - 1).is_empty());
    assert!(ask("order-1", KeyKind::Keys, 64, times[29] + 1, i64::MAX).is_empty());
    let in_range: Vec<usize> = order1
        .iter()
        .copied()
        .filter(|&i| times[i] >= times[9] && times[i] <= times[20])
        .collect();
    assert_eq!(
        ask("order-1", KeyKind::Keys, 64, times[9], times[20]),
        newest_first(&in_range)
    );
}

/// Every behaviour, in order, on one store.
fn run_suite(store: &dyn MessageStore) {
    put_get_roundtrip(store);
    statuses(store);
    batch_consecutive(store);
    filters(store);
    scan_is_bounded(store);
    offsets_by_time(store);
    read_record_rules(store);
    transactional_half_not_dispatched(store);
    rejects_illegal(store);
    offsets_topics_configs(store);
    key_queries(store);
}

fn memory_store() -> MemoryStore {
    MemoryStore::with_max_message_size(16 * 1024)
}

#[test]
fn memory_store_contract() {
    let s = memory_store();
    run_suite(&s);
    shutdown_refuses_puts(&s);
}

#[test]
fn file_store_contract_async() {
    let dir = tempfile::tempdir().unwrap();
    let s = FileStore::open(small_config(dir.path())).unwrap();
    run_suite(s.as_ref());
    shutdown_refuses_puts(s.as_ref());
}

#[test]
fn file_store_contract_sync() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = small_config(dir.path());
    c.flush = rocketmq_store::FlushMode::Sync;
    let s = FileStore::open(c).unwrap();
    run_suite(s.as_ref());
    shutdown_refuses_puts(s.as_ref());
}

/// Snapshot of what a store holds, to compare before and after reopening.
fn snapshot(store: &dyn MessageStore) -> Vec<(String, i32, Vec<Vec<u8>>)> {
    let mut qs = store.queues();
    qs.sort();
    qs.into_iter()
        .map(|(t, q)| {
            let msgs = read_queue(store, &t, q);
            assert_eq!(msgs.len() as i64, store.max_offset(&t, q));
            let raw = msgs
                .iter()
                .map(|m| {
                    store
                        .read_record(m.physical_offset)
                        .expect("record")
                        .to_vec()
                })
                .collect();
            (t, q, raw)
        })
        .collect()
}

#[test]
fn file_store_reopen_keeps_everything() {
    let dir = tempfile::tempdir().unwrap();
    let s = FileStore::open(small_config(dir.path())).unwrap();
    run_suite(s.as_ref());
    let before = snapshot(s.as_ref());
    let end = s.max_commit_log_offset();
    s.shutdown();
    drop(s);

    let s: Arc<FileStore> = FileStore::open(small_config(dir.path())).unwrap();
    assert!(s.last_shutdown_clean());
    assert_eq!(s.max_commit_log_offset(), end);
    assert_eq!(snapshot(s.as_ref()), before);
    assert_eq!(s.committed_offset("g1", "TopicA", 0), Some(15));
    assert_eq!(s.committed_offset("g1", "TopicA", 3), Some(2));
    assert_eq!(s.topic_config("TopicA").map(|t| t.read_queue_nums), Some(2));
    assert_eq!(s.topic_configs().len(), 2);
    assert_eq!(
        s.load_config("delayOffset").as_deref(),
        Some(r#"{"offsetTable":{"1":5}}"#)
    );
    // Offsets are stored in the Java shape.
    let json = std::fs::read_to_string(dir.path().join("config/consumerOffset.json")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["offsetTable"]["TopicA@g1"]["0"], 15);
    // Appends continue where they stopped.
    let r = put_one(s.as_ref(), msg("TopicA", 1, b"after reopen", None));
    assert_eq!(r.queue_offset, 3);
    assert_eq!(r.commit_log_offset, end);
    let t1 = s.earliest_store_time("TopicT", 0).unwrap();
    assert_eq!(s.offset_by_time("TopicT", 0, t1 + 1, false), 3);
    s.shutdown();
}

#[test]
fn second_open_of_same_dir_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let s = FileStore::open(small_config(dir.path())).unwrap();
    assert!(FileStore::open(small_config(dir.path())).is_err());
    s.shutdown();
    drop(s);
    FileStore::open(small_config(dir.path()))
        .unwrap()
        .shutdown();
}
