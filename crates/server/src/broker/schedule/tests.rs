//! Tests of the delay levels and the schedule service.

use super::service::DELAY_OFFSET_CONFIG;
use super::*;
use bytes::Bytes;
use rocketmq_protocol::message::{decode_stored, StoredMessage};
use rocketmq_protocol::now_millis;
use rocketmq_protocol::properties::{
    decode_properties_map, encode_pairs, set_property, DELAY, KEYS, REAL_QID, REAL_TOPIC, TAGS,
    UNIQ_KEY, WAIT,
};
use rocketmq_protocol::tag::tags_code;
use rocketmq_store::{GetRequest, MemoryStore, MessageStore, MessageToStore};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const STANDARD: &str = "1s 5s 10s 30s 1m 2m 3m 4m 5m 6m 7m 8m 9m 10m 20m 30m 1h 2h";

fn message(
    topic: &str,
    queue_id: i32,
    tag: &str,
    body: &'static [u8],
    uniq: &str,
) -> MessageToStore {
    let properties = encode_pairs(&[(TAGS, tag), (KEYS, "k1 k2"), (UNIQ_KEY, uniq), ("p1", "v1")]);
    MessageToStore {
        topic: topic.to_string(),
        queue_id,
        flag: 5,
        sys_flag: 0,
        born_timestamp: 1_700_000_000_000,
        born_host: "10.1.2.3:4567".parse::<SocketAddr>().unwrap(),
        store_host: "127.0.0.1:10911".parse::<SocketAddr>().unwrap(),
        reconsume_times: 2,
        prepared_transaction_offset: 0,
        body: Bytes::from_static(body),
        tags_code: tags_code(Some(tag)),
        properties,
    }
}

fn read_queue(store: &dyn MessageStore, topic: &str, queue_id: i32) -> Vec<StoredMessage> {
    let req = GetRequest {
        topic,
        queue_id,
        offset: 0,
        max_msgs: 1000,
        max_bytes: usize::MAX,
    };
    store
        .get_messages(&req, &|_| true)
        .messages
        .iter()
        .map(|raw| decode_stored(raw).expect("stored record decodes").0)
        .collect()
}

type Calls = Arc<Mutex<Vec<(String, i32)>>>;

fn service(store: Arc<dyn MessageStore>, levels: &str) -> (ScheduleService, Calls) {
    let calls: Calls = Arc::new(Mutex::new(Vec::new()));
    let sink = calls.clone();
    let svc = ScheduleService::new(
        store,
        DelayLevels::parse(levels).unwrap(),
        Arc::new(move |t: &str, q: i32| sink.lock().unwrap().push((t.to_string(), q))),
    );
    (svc, calls)
}

fn schedule(
    store: &dyn MessageStore,
    levels: &DelayLevels,
    msg: MessageToStore,
    level: i32,
    now: i64,
) {
    store
        .put_messages(vec![to_scheduled(levels, msg, level, now)])
        .expect("put scheduled message");
}

#[test]
fn parses_standard_levels() {
    let l = DelayLevels::parse(STANDARD).unwrap();
    assert_eq!(l.level_count(), 18);
    assert_eq!(l.delay_of(1), Duration::from_secs(1));
    assert_eq!(l.delay_of(3), Duration::from_secs(10));
    assert_eq!(l.delay_of(5), Duration::from_secs(60));
    assert_eq!(l.delay_of(18), Duration::from_secs(7200));
    // Clamped to 1..=18.
    assert_eq!(l.delay_of(0), Duration::from_secs(1));
    assert_eq!(l.delay_of(-3), Duration::from_secs(1));
    assert_eq!(l.delay_of(19), Duration::from_secs(7200));
    assert_eq!(l.delay_of(i32::MAX), Duration::from_secs(7200));
}

#[test]
fn parses_every_unit() {
    let l = DelayLevels::parse("  100ms 2s\t3m 4h\n1d 0s ").unwrap();
    assert_eq!(l.level_count(), 6);
    assert_eq!(l.delay_of(1), Duration::from_millis(100));
    assert_eq!(l.delay_of(2), Duration::from_secs(2));
    assert_eq!(l.delay_of(3), Duration::from_secs(180));
    assert_eq!(l.delay_of(4), Duration::from_secs(4 * 3600));
    assert_eq!(l.delay_of(5), Duration::from_secs(86_400));
    assert_eq!(l.delay_of(6), Duration::ZERO);
}

#[test]
fn rejects_bad_levels_with_a_clear_message() {
    for (spec, needle) in [
        ("", "no levels"),
        ("   ", "no levels"),
        ("1s 5", "level 2 \"5\" has no unit"),
        ("5x", "has no unit"),
        ("s", "whole number"),
        ("ms", "whole number"),
        ("1.5s", "whole number"),
        ("-1s", "whole number"),
        ("+1s", "whole number"),
        ("99999999999999999999d", "too large"),
        ("9999999999999999d", "too large"),
    ] {
        let err = DelayLevels::parse(spec).expect_err(spec);
        assert!(err.to_string().contains(needle), "{spec:?}: {err}");
        assert!(err.to_string().starts_with("invalid delay levels: "));
    }
}

#[test]
fn to_scheduled_rewrites_for_the_level_queue() {
    let levels = DelayLevels::parse("100ms 200ms 300ms").unwrap();
    let mut m = message("Orders", 3, "TagA", b"body", "U1");
    m.properties = set_property(&m.properties, DELAY, "9");
    let s = to_scheduled(&levels, m.clone(), 9, 1_000);
    assert_eq!(s.topic, SCHEDULE_TOPIC);
    assert_eq!(s.queue_id, 2);
    assert_eq!(s.tags_code, 1_300);
    let p = decode_properties_map(&s.properties);
    assert_eq!(p[REAL_TOPIC], "Orders");
    assert_eq!(p[REAL_QID], "3");
    assert_eq!(p[DELAY], "3");
    assert_eq!(p[TAGS], "TagA");
    assert_eq!(p[UNIQ_KEY], "U1");
    assert_eq!(s.body, m.body);
    assert_eq!(s.born_host, m.born_host);
    assert_eq!(s.reconsume_times, m.reconsume_times);
    let s = to_scheduled(&levels, m, 1, 1_000);
    assert_eq!((s.queue_id, s.tags_code), (0, 1_100));
    assert_eq!(requested_delay_level(&s.properties), Some(1));
    assert_eq!(requested_delay_level(&encode_pairs(&[(DELAY, "0")])), None);
    assert_eq!(requested_delay_level(&encode_pairs(&[(DELAY, "x")])), None);
    assert_eq!(requested_delay_level(""), None);
}

#[test]
fn held_until_due_then_delivered_with_properties() {
    let store: Arc<dyn MessageStore> = Arc::new(MemoryStore::new());
    let (svc, calls) = service(store.clone(), "100ms 200ms");
    let levels = svc.levels().clone();
    let t0 = 1_800_000_000_000;
    schedule(
        &*store,
        &levels,
        message("Orders", 1, "TagA", b"first\0", "U1"),
        1,
        t0,
    );

    let wait = svc.run_once(t0);
    assert!(read_queue(&*store, "Orders", 1).is_empty());
    assert_eq!(wait, Duration::from_millis(100));
    let wait = svc.run_once(t0 + 99);
    assert!(read_queue(&*store, "Orders", 1).is_empty());
    assert_eq!(wait, Duration::from_millis(1));
    assert!(calls.lock().unwrap().is_empty());
    assert_eq!(svc.delivery_offset(1), Some(0));

    svc.run_once(t0 + 100);
    let got = read_queue(&*store, "Orders", 1);
    assert_eq!(got.len(), 1);
    let m = &got[0];
    assert_eq!(m.topic, "Orders");
    assert_eq!(m.queue_id, 1);
    assert_eq!(&m.body[..], b"first\0");
    assert_eq!(m.flag, 5);
    assert_eq!(m.born_timestamp, 1_700_000_000_000);
    assert_eq!(m.born_host, "10.1.2.3:4567".parse::<SocketAddr>().unwrap());
    assert_eq!(m.reconsume_times, 2);
    let p = decode_properties_map(&m.properties);
    assert!(!p.contains_key(DELAY));
    assert_eq!(p[REAL_TOPIC], "Orders");
    assert_eq!(p[REAL_QID], "1");
    assert_eq!(p[WAIT], "false");
    assert_eq!(p[TAGS], "TagA");
    assert_eq!(p[KEYS], "k1 k2");
    assert_eq!(p[UNIQ_KEY], "U1");
    assert_eq!(p["p1"], "v1");
    // The consume-queue entry carries the tag hash again, so tag filtering works.
    let entry = store.queue_entry("Orders", 1, 0).unwrap();
    assert_eq!(entry.tags_code, 2598919);
    assert_eq!(*calls.lock().unwrap(), vec![("Orders".to_string(), 1)]);
    assert_eq!(svc.delivery_offset(1), Some(1));
    // Persisted.
    let doc = store
        .load_config(DELAY_OFFSET_CONFIG)
        .expect("offsets saved");
    let v: serde_json::Value = serde_json::from_str(&doc).unwrap();
    assert_eq!(v["offsetTable"]["1"], 1);
    assert_eq!(v["offsetTable"]["2"], 0);
    // Nothing is delivered twice.
    svc.run_once(t0 + 10_000);
    assert_eq!(read_queue(&*store, "Orders", 1).len(), 1);
}

#[test]
fn order_within_a_level_and_independent_levels() {
    let store: Arc<dyn MessageStore> = Arc::new(MemoryStore::new());
    let (svc, calls) = service(store.clone(), "100ms 200ms");
    let levels = svc.levels().clone();
    let t0 = 1_800_000_000_000;
    schedule(&*store, &levels, message("T", 0, "A", b"slow", "S"), 2, t0);
    for (i, body) in [&b"m0"[..], b"m1", b"m2"].into_iter().enumerate() {
        schedule(
            &*store,
            &levels,
            message("T", 0, "A", body, &format!("U{i}")),
            1,
            t0 + i as i64 * 10,
        );
    }
    // At t0+110 the first two level-1 messages are due, the third (t0+120) is not.
    assert_eq!(svc.run_once(t0 + 110), Duration::from_millis(10));
    let bodies: Vec<Vec<u8>> = read_queue(&*store, "T", 0)
        .iter()
        .map(|m| m.body.to_vec())
        .collect();
    assert_eq!(bodies, vec![b"m0".to_vec(), b"m1".to_vec()]);
    svc.run_once(t0 + 200);
    let bodies: Vec<Vec<u8>> = read_queue(&*store, "T", 0)
        .iter()
        .map(|m| m.body.to_vec())
        .collect();
    assert_eq!(
        bodies,
        vec![
            b"m0".to_vec(),
            b"m1".to_vec(),
            b"m2".to_vec(),
            b"slow".to_vec()
        ]
    );
    assert_eq!(svc.delivery_offset(1), Some(3));
    assert_eq!(svc.delivery_offset(2), Some(1));
    assert!(!calls.lock().unwrap().is_empty());
}

#[test]
fn clock_going_back_does_not_hold_messages() {
    let store: Arc<dyn MessageStore> = Arc::new(MemoryStore::new());
    let (svc, _) = service(store.clone(), "100ms");
    let levels = svc.levels().clone();
    // Stored "an hour in the future": more than one delay ahead of now -> delivered now.
    schedule(
        &*store,
        &levels,
        message("T", 0, "A", b"x", "U"),
        1,
        1_800_003_600_000,
    );
    svc.run_once(1_800_000_000_000);
    assert_eq!(read_queue(&*store, "T", 0).len(), 1);
}

#[test]
fn unreadable_entries_are_skipped() {
    let store: Arc<dyn MessageStore> = Arc::new(MemoryStore::new());
    let (svc, _) = service(store.clone(), "100ms");
    let levels = svc.levels().clone();
    let t0 = 1_800_000_000_000;
    // No REAL_TOPIC: nowhere to deliver.
    let mut bad = message("T", 0, "A", b"bad", "B");
    bad.topic = SCHEDULE_TOPIC.into();
    bad.tags_code = t0;
    store.put_messages(vec![bad]).unwrap();
    schedule(&*store, &levels, message("T", 0, "A", b"good", "G"), 1, t0);
    svc.run_once(t0 + 100);
    let got = read_queue(&*store, "T", 0);
    assert_eq!(got.len(), 1);
    assert_eq!(&got[0].body[..], b"good");
    assert_eq!(svc.delivery_offset(1), Some(2));
}

#[test]
fn new_service_resumes_from_persisted_offsets() {
    let store: Arc<dyn MessageStore> = Arc::new(MemoryStore::new());
    let levels = DelayLevels::parse("100ms 200ms").unwrap();
    let t0 = 1_800_000_000_000;
    schedule(&*store, &levels, message("T", 0, "A", b"a", "A"), 1, t0);
    schedule(&*store, &levels, message("T", 0, "A", b"b", "B"), 2, t0);
    let (first, _) = service(store.clone(), "100ms 200ms");
    first.run_once(t0 + 150);
    assert_eq!(read_queue(&*store, "T", 0).len(), 1);
    drop(first);
    let (second, _) = service(store.clone(), "100ms 200ms");
    assert_eq!(second.delivery_offset(1), Some(1));
    assert_eq!(second.delivery_offset(2), Some(0));
    second.run_once(t0 + 60_000);
    let bodies: Vec<Vec<u8>> = read_queue(&*store, "T", 0)
        .iter()
        .map(|m| m.body.to_vec())
        .collect();
    assert_eq!(bodies, vec![b"a".to_vec(), b"b".to_vec()]);
}

#[test]
fn garbage_offsets_document_restarts_levels() {
    let store: Arc<dyn MessageStore> = Arc::new(MemoryStore::new());
    store.save_config(DELAY_OFFSET_CONFIG, "{not json").unwrap();
    let (svc, _) = service(store.clone(), "1s");
    assert_eq!(svc.delivery_offset(1), Some(0));
    assert_eq!(svc.delivery_offset(2), None);
    assert_eq!(svc.delivery_offset(0), None);
}

#[test]
fn queues_of_removed_levels_are_still_drained() {
    let store: Arc<dyn MessageStore> = Arc::new(MemoryStore::new());
    let old = DelayLevels::parse("100ms 200ms 300ms").unwrap();
    let t0 = 1_800_000_000_000;
    schedule(&*store, &old, message("T", 0, "A", b"lvl3", "U"), 3, t0);
    let (svc, _) = service(store.clone(), "100ms");
    svc.run_once(t0 + 300);
    assert_eq!(read_queue(&*store, "T", 0).len(), 1);
    assert_eq!(svc.delivery_offset(3), Some(1));
}

/// Polls `cond` until true or `deadline` passes.
fn wait_for(deadline: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + deadline;
    while Instant::now() < end {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    cond()
}

#[test]
fn spawned_service_delivers_on_time_and_stops() {
    let store: Arc<dyn MessageStore> = Arc::new(MemoryStore::new());
    let (svc, calls) = service(store.clone(), "100ms 200ms");
    let levels = svc.levels().clone();
    let svc = Arc::new(svc);
    let stop = Arc::new(AtomicBool::new(false));
    let handle = svc.clone().spawn(stop.clone());
    let sent_at = now_millis();
    schedule(
        &*store,
        &levels,
        message("Live", 2, "A", b"x", "U"),
        2,
        sent_at,
    );
    assert!(wait_for(Duration::from_secs(10), || !read_queue(
        &*store, "Live", 2
    )
    .is_empty()));
    let got = read_queue(&*store, "Live", 2);
    assert_eq!(got.len(), 1);
    // Delivered no earlier than due.
    assert!(got[0].store_timestamp >= sent_at + 200, "delivered early");
    assert!(wait_for(Duration::from_secs(5), || calls
        .lock()
        .unwrap()
        .len()
        == 1));
    stop.store(true, Ordering::Release);
    let stopped_at = Instant::now();
    handle.join().expect("schedule thread");
    assert!(stopped_at.elapsed() < Duration::from_secs(2));
}

#[test]
fn file_store_restart_keeps_delays_async_flush() {
    file_store_restart_keeps_delays(rocketmq_store::FlushMode::Async);
}

#[test]
fn file_store_restart_keeps_delays_sync_flush() {
    file_store_restart_keeps_delays(rocketmq_store::FlushMode::Sync);
}

fn file_store_restart_keeps_delays(flush: rocketmq_store::FlushMode) {
    use rocketmq_store::{FileStore, StoreConfig};
    let dir = tempfile::tempdir().unwrap();
    let open = || -> Arc<dyn MessageStore> {
        let mut cfg = StoreConfig::new(dir.path());
        cfg.flush = flush;
        cfg.commit_log_segment_size = 1 << 20;
        cfg.consume_queue_entries_per_file = 1024;
        FileStore::open(cfg).expect("open file store")
    };
    let levels = DelayLevels::parse("100ms 200ms").unwrap();
    let t0 = now_millis();
    {
        let store = open();
        schedule(&*store, &levels, message("T", 0, "A", b"a", "A"), 1, t0);
        schedule(&*store, &levels, message("T", 0, "A", b"b", "B"), 2, t0);
        schedule(&*store, &levels, message("T", 1, "A", b"c", "C"), 2, t0 + 1);
        let (svc, _) = service(store.clone(), "100ms 200ms");
        // Before anything is due nothing moves.
        svc.run_once(t0 + 50);
        assert!(read_queue(&*store, "T", 0).is_empty());
        svc.run_once(t0 + 150);
        assert_eq!(read_queue(&*store, "T", 0).len(), 1);
        store.shutdown();
    }
    // Downtime: both level-2 messages fell due. The reopened store's service delivers them
    // at once, and not the level-1 message again.
    let store = open();
    assert_eq!(read_queue(&*store, "T", 0).len(), 1);
    let (svc, calls) = service(store.clone(), "100ms 200ms");
    assert_eq!(svc.delivery_offset(1), Some(1));
    svc.run_once(t0 + 5_000);
    let q0: Vec<Vec<u8>> = read_queue(&*store, "T", 0)
        .iter()
        .map(|m| m.body.to_vec())
        .collect();
    assert_eq!(q0, vec![b"a".to_vec(), b"b".to_vec()]);
    let q1 = read_queue(&*store, "T", 1);
    assert_eq!(q1.len(), 1);
    assert_eq!(decode_properties_map(&q1[0].properties)[UNIQ_KEY], "C");
    let mut woken = calls.lock().unwrap().clone();
    woken.sort();
    assert_eq!(woken, vec![("T".to_string(), 0), ("T".to_string(), 1)]);
    store.shutdown();
    // The store directory stays locked until every handle is gone.
    drop(svc);
    drop(store);
    // And after one more restart, nothing is delivered twice.
    let store = open();
    let (svc, _) = service(store.clone(), "100ms 200ms");
    svc.run_once(t0 + 60_000);
    assert_eq!(read_queue(&*store, "T", 0).len(), 2);
    assert_eq!(read_queue(&*store, "T", 1).len(), 1);
    store.shutdown();
}
