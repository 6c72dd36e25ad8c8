//! Index unit tests over a real commit log: building, querying, sealing into several files,
//! the roll back after an unclean stop, and removing old files.

use super::*;
use crate::config::StoreConfig;
use crate::file_store::FileStore;
use crate::message_store::{KeyKind, MessageStore, MessageToStore};
use rocketmq_protocol::properties::encode_pairs;

fn msg(topic: &str, keys: &str, uniq: &str, body: &str) -> MessageToStore {
    MessageToStore {
        topic: topic.into(),
        queue_id: 0,
        flag: 0,
        sys_flag: 0,
        born_timestamp: 1,
        born_host: "127.0.0.1:1".parse().unwrap(),
        store_host: "127.0.0.1:2".parse().unwrap(),
        reconsume_times: 0,
        prepared_transaction_offset: 0,
        body: Bytes::copy_from_slice(body.as_bytes()),
        properties: encode_pairs(&[("KEYS", keys), ("UNIQ_KEY", uniq)]),
        tags_code: 0,
    }
}

fn small(root: &std::path::Path, entries: u32) -> StoreConfig {
    let mut c = StoreConfig::new(root);
    c.commit_log_segment_size = 64 * 1024;
    c.index = Some(IndexConfig {
        slots_per_file: 64,
        entries_per_file: entries,
        durable_interval: Duration::from_millis(20),
    });
    c
}

fn query<'a>(topic: &'a str, key: &'a str, kind: KeyKind) -> KeyQuery<'a> {
    KeyQuery {
        topic,
        key,
        kind,
        max_num: 1000,
        begin_timestamp: 0,
        end_timestamp: i64::MAX,
    }
}

fn bodies(store: &FileStore, q: &KeyQuery<'_>) -> Vec<String> {
    store
        .query_by_key(q)
        .records
        .iter()
        .map(|r| String::from_utf8(view_record(r, false).unwrap().body.to_vec()).unwrap())
        .collect()
}

#[test]
fn key_hash_is_stable_and_topic_scoped() {
    assert_eq!(keys::key_hash("T", "k"), keys::key_hash("T", "k"));
    assert_ne!(keys::key_hash("T", "k"), keys::key_hash("U", "k"));
    assert_ne!(keys::key_hash("T", "k1"), keys::key_hash("T", "k2"));
}

/// Keys words and unique keys are found, newest first, per topic; a word of another message's
/// key is not; files roll over and queries span them; progress is reported.
#[test]
fn finds_keys_across_files_newest_first() {
    let dir = tempfile::tempdir().unwrap();
    // 2 entries per message (key + unique key), 10 entries per file: many files.
    let store = FileStore::open(small(dir.path(), 10)).unwrap();
    for i in 0..40 {
        let key = if i % 4 == 0 { "order-7 extra" } else { "other" };
        store
            .put_messages(vec![msg("T", key, &format!("U{i:04}"), &format!("m{i}"))])
            .unwrap();
    }
    store
        .put_messages(vec![msg("T2", "order-7", "X", "t2")])
        .unwrap();
    let found = bodies(&store, &query("T", "order-7", KeyKind::Keys));
    let expected: Vec<String> = (0..40)
        .rev()
        .filter(|i| i % 4 == 0)
        .map(|i| format!("m{i}"))
        .collect();
    assert_eq!(found, expected);
    assert_eq!(
        bodies(&store, &query("T", "extra", KeyKind::Keys)).len(),
        10
    );
    assert!(bodies(&store, &query("T", "order", KeyKind::Keys)).is_empty());
    assert_eq!(
        bodies(&store, &query("T", "U0013", KeyKind::UniqueKey)),
        ["m13"]
    );
    assert!(bodies(&store, &query("T", "U0013", KeyKind::Keys)).is_empty());
    assert_eq!(
        bodies(&store, &query("T2", "order-7", KeyKind::Keys)),
        ["t2"]
    );
    let mut limited = query("T", "order-7", KeyKind::Keys);
    limited.max_num = 3;
    assert_eq!(bodies(&store, &limited), ["m36", "m32", "m28"]);
    let p = store.index_progress().unwrap();
    assert!(p.files >= 8, "{p:?}");
    assert_eq!(p.indexed_to, store.max_commit_log_offset() as u64);
    assert!(p.last_store_timestamp > 0);
    store.shutdown();
}

/// Time bounds are inclusive store times.
#[test]
fn time_bounds_select_by_store_time() {
    let dir = tempfile::tempdir().unwrap();
    let store = FileStore::open(small(dir.path(), 1000)).unwrap();
    let first = store.put_messages(vec![msg("T", "k", "A", "a")]).unwrap();
    let t1 = first.results[0].store_timestamp;
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut t2 = t1;
    while t2 == t1 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(2));
        t2 = store
            .put_messages(vec![msg("T", "k", "B", "b")])
            .unwrap()
            .results[0]
            .store_timestamp;
    }
    assert!(t2 > t1, "the clock did not move");
    let mut q = query("T", "k", KeyKind::Keys);
    q.end_timestamp = t1;
    assert_eq!(bodies(&store, &q), ["a"]);
    q.begin_timestamp = t1 + 1;
    q.end_timestamp = i64::MAX;
    let later = bodies(&store, &q);
    assert!(
        !later.is_empty() && later.iter().all(|b| b == "b"),
        "{later:?}"
    );
    q.begin_timestamp = t2 + 1;
    assert!(bodies(&store, &q).is_empty());
    store.shutdown();
}

/// After an unclean stop the index rolls back to its durable point and re-indexes from the
/// commit log: every message is found once, none twice.
#[test]
fn unclean_stop_rebuilds_from_the_commit_log() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = FileStore::open(small(dir.path(), 50)).unwrap();
        for i in 0..60 {
            store
                .put_messages(vec![msg("T", "k", &format!("U{i}"), &format!("m{i}"))])
                .unwrap();
        }
        assert_eq!(bodies(&store, &query("T", "k", KeyKind::Keys)).len(), 60);
        drop(store); // no shutdown: the abort marker stays, as after kill -9
    }
    let store = FileStore::open(small(dir.path(), 50)).unwrap();
    assert!(!store.last_shutdown_clean());
    let found = bodies(&store, &query("T", "k", KeyKind::Keys));
    let expected: Vec<String> = (0..60).rev().map(|i| format!("m{i}")).collect();
    assert_eq!(found, expected);
    store
        .put_messages(vec![msg("T", "k", "new", "m60")])
        .unwrap();
    assert_eq!(bodies(&store, &query("T", "k", KeyKind::Keys)).len(), 61);
    store.shutdown();
}

/// A lost index directory is rebuilt from the whole commit log.
#[test]
fn missing_index_is_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = FileStore::open(small(dir.path(), 1000)).unwrap();
        for i in 0..20 {
            store
                .put_messages(vec![msg("T", "k", &format!("U{i}"), &format!("m{i}"))])
                .unwrap();
        }
        store.shutdown();
    }
    std::fs::remove_dir_all(dir.path().join("index")).unwrap();
    let store = FileStore::open(small(dir.path(), 1000)).unwrap();
    assert_eq!(bodies(&store, &query("T", "k", KeyKind::Keys)).len(), 20);
    store.shutdown();
}

/// Retention's call removes only files whose entries all lie below the offset, never the
/// current one; what remains is still found.
#[test]
fn removes_files_below_an_offset() {
    let dir = tempfile::tempdir().unwrap();
    let store = FileStore::open(small(dir.path(), 10)).unwrap();
    let mut offsets = Vec::new();
    for i in 0..30 {
        let r = store
            .put_messages(vec![msg("T", "k", &format!("U{i}"), &format!("m{i}"))])
            .unwrap();
        offsets.push(r.results[0].commit_log_offset);
    }
    assert_eq!(bodies(&store, &query("T", "k", KeyKind::Keys)).len(), 30);
    let before = store.index_progress().unwrap().files;
    // Messages 0..10 occupy the first two files (5 messages each).
    let removed = store.remove_index_files_below(offsets[10]).unwrap();
    assert_eq!(removed, 2);
    assert_eq!(store.index_progress().unwrap().files, before - 2);
    let found = bodies(&store, &query("T", "k", KeyKind::Keys));
    let expected: Vec<String> = (10..30).rev().map(|i| format!("m{i}")).collect();
    assert_eq!(found, expected);
    let all = store.remove_index_files_below(i64::MAX).unwrap();
    assert_eq!(store.index_progress().unwrap().files, before - 2 - all);
    assert!(store.index_progress().unwrap().files >= 1);
    store.shutdown();
}

/// Turned off, nothing is written under `index/` and queries find nothing.
#[test]
fn turned_off_index_answers_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = small(dir.path(), 10);
    c.index = None;
    let store = FileStore::open(c).unwrap();
    store.put_messages(vec![msg("T", "k", "U", "m")]).unwrap();
    assert!(store
        .query_by_key(&query("T", "k", KeyKind::Keys))
        .records
        .is_empty());
    assert!(store.index_progress().is_none());
    assert!(!dir.path().join("index").exists());
    store.shutdown();
}

/// Rolling back to the durable point forgets the entries written after it (and the slots
/// that pointed at them) and keeps every durable entry reachable.
#[test]
fn roll_back_keeps_exactly_the_durable_entries() {
    let dir = tempfile::tempdir().unwrap();
    let f = file::IndexFile::create(dir.path(), 1000, 4, 100).unwrap();
    for n in 0..10u32 {
        f.add(n, n % 3, 1000 + n as i64 * 10, 5 + n as i64);
    }
    f.advance(10, 1100, 1090, 5, 14);
    f.make_durable().unwrap();
    for n in 10..15u32 {
        f.add(n, n % 3, 1000 + n as i64 * 10, 5 + n as i64);
    }
    f.advance(15, 1150, 1140, 0, 19);
    assert!(!f.is_durable());
    let chain_of = |f: &file::IndexFile, h: u32| {
        let mut v = Vec::new();
        f.chain(h, |e| {
            v.push(e.commit_log_offset);
            true
        });
        v
    };
    assert_eq!(chain_of(&f, 1), [1130, 1100, 1070, 1040, 1010]);
    assert_eq!(f.roll_back_to_durable().unwrap(), 1100);
    assert_eq!((f.count(), f.end_offset()), (10, 1100));
    assert_eq!(chain_of(&f, 1), [1070, 1040, 1010]);
    assert_eq!(chain_of(&f, 0), [1090, 1060, 1030, 1000]);
    assert_eq!((f.begin_timestamp(), f.end_timestamp()), (5, 14));
    let path = f.path().to_path_buf();
    drop(f);
    let reopened = file::IndexFile::open(&path).unwrap().unwrap();
    assert_eq!(reopened.begin_offset(), 1000);
    assert_eq!(chain_of(&reopened, 2), [1080, 1050, 1020]);
}
