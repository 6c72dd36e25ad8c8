//! Timer rules, the send-path hook and the service over a memory store and a file store
//! (simulated clock: every pass gets its `now`).

use super::rules::{
    check_timer_max_delay, redelivery, timer_deliver_ms, to_timer, TimerRequest, TIMER_TOPIC,
};
use super::service::{held_times, PassReport, TimerService};
use crate::broker::ops::send::SendRequest;
use crate::broker::test_broker::test_broker;
use bytes::Bytes;
use rocketmq_protocol::code::response_code as resp;
use rocketmq_protocol::header::SendMessageRequestHeader;
use rocketmq_protocol::message::{decode_stored, StoredMessage};
use rocketmq_protocol::properties::{
    decode_properties_map, encode_pairs, KEYS, REAL_QID, REAL_TOPIC, START_DELIVER_TIME, TAGS,
    TIMER_DELAY_MS, TIMER_DELAY_SEC, TIMER_DELIVER_MS, TIMER_DEQUEUE_MS, TIMER_ENQUEUE_MS,
    TIMER_OUT_MS, UNIQ_KEY, WAIT,
};
use rocketmq_protocol::tag::tags_code;
use rocketmq_store::{GetRequest, MemoryStore, MessageStore, MessageToStore};
use std::sync::Arc;

fn message(topic: &str, queue_id: i32, uniq: &str, extra: &[(&str, &str)]) -> MessageToStore {
    let mut pairs = vec![(TAGS, "tagA"), (KEYS, "k1 k2"), (UNIQ_KEY, uniq)];
    pairs.extend_from_slice(extra);
    MessageToStore {
        topic: topic.to_string(),
        queue_id,
        flag: 3,
        sys_flag: 0,
        born_timestamp: 1_700_000_000_000,
        born_host: "10.1.2.3:4567".parse().unwrap(),
        store_host: "127.0.0.1:10911".parse().unwrap(),
        reconsume_times: 1,
        prepared_transaction_offset: 0,
        body: Bytes::copy_from_slice(uniq.as_bytes()),
        tags_code: tags_code(Some("tagA")),
        properties: encode_pairs(&pairs),
    }
}

fn read_queue(store: &dyn MessageStore, topic: &str, queue_id: i32) -> Vec<StoredMessage> {
    let req = GetRequest {
        topic,
        queue_id,
        offset: 0,
        max_msgs: 10_000,
        max_bytes: usize::MAX,
    };
    store
        .get_messages(&req, &|_| true)
        .messages
        .iter()
        .map(|raw| decode_stored(raw).expect("stored record decodes").0)
        .collect()
}

fn uniq_keys(messages: &[StoredMessage]) -> Vec<String> {
    messages
        .iter()
        .map(|m| decode_properties_map(&m.properties)[UNIQ_KEY].clone())
        .collect()
}

#[test]
fn timer_properties_are_read_in_apaches_order() {
    let now = 1_000_000;
    let props = |pairs: &[(&str, &str)]| encode_pairs(pairs);
    assert_eq!(timer_deliver_ms("", now), TimerRequest::None);
    assert_eq!(
        timer_deliver_ms(&props(&[(TIMER_DELIVER_MS, "1005000")]), now),
        TimerRequest::At(1_005_000)
    );
    assert_eq!(
        timer_deliver_ms(&props(&[(TIMER_DELAY_MS, "250")]), now),
        TimerRequest::At(1_000_250)
    );
    // The delay in seconds wins over the others, as in Apache's broker.
    assert_eq!(
        timer_deliver_ms(
            &props(&[
                (TIMER_DELIVER_MS, "5"),
                (TIMER_DELAY_SEC, "3"),
                (TIMER_DELAY_MS, "7")
            ]),
            now
        ),
        TimerRequest::At(1_003_000)
    );
    assert_eq!(
        timer_deliver_ms(&props(&[(START_DELIVER_TIME, "1002000")]), now),
        TimerRequest::At(1_002_000)
    );
    assert_eq!(
        timer_deliver_ms(&props(&[(TIMER_DELIVER_MS, "soon")]), now),
        TimerRequest::Malformed {
            property: TIMER_DELIVER_MS,
            value: "soon".into()
        }
    );
    // The stored form of a timer message is not scheduled a second time.
    assert_eq!(
        timer_deliver_ms(
            &props(&[(TIMER_DELIVER_MS, "2000000"), (TIMER_OUT_MS, "2000000")]),
            now
        ),
        TimerRequest::None
    );
}

#[test]
fn timer_max_delays_take_the_delay_level_units_within_a_year() {
    let ms = |t: &str| {
        crate::parse_duration(t)
            .and_then(check_timer_max_delay)
            .map(|d| d.as_millis() as i64)
    };
    assert_eq!(ms("3d"), Ok(3 * 86_400_000));
    assert_eq!(ms("90m"), Ok(5_400_000));
    assert_eq!(ms("2h"), Ok(7_200_000));
    assert_eq!(ms("15s"), Ok(15_000));
    assert_eq!(ms("500ms"), Ok(500));
    assert!(ms("3").is_err());
    assert!(ms("-3s").is_err());
    assert!(ms("0s").unwrap_err().contains("more than 0"));
    assert!(ms("400d").unwrap_err().contains("365d"));
}

#[test]
fn the_delivered_copy_keeps_id_keys_tags_and_properties() {
    let original = message(
        "Orders",
        2,
        "UNIQ1",
        &[(TIMER_DELIVER_MS, "5000"), ("p", "v")],
    );
    let stored_form = to_timer(original.clone(), 5_000);
    assert_eq!(stored_form.topic, TIMER_TOPIC);
    assert_eq!(stored_form.queue_id, 0);
    assert_eq!(stored_form.tags_code, 5_000);
    let props = decode_properties_map(&stored_form.properties);
    assert_eq!(props[REAL_TOPIC], "Orders");
    assert_eq!(props[REAL_QID], "2");
    assert_eq!(props[TIMER_OUT_MS], "5000");

    let store = MemoryStore::new();
    let put = store.put_messages(vec![stored_form]).unwrap().results[0];
    let raw = store.read_record(put.commit_log_offset).unwrap();
    let stored = decode_stored(&raw).unwrap().0;
    let stored_at = stored.store_timestamp.to_string();
    let copy = redelivery(stored, 7_000).unwrap();
    assert_eq!((copy.topic.as_str(), copy.queue_id), ("Orders", 2));
    assert_eq!(copy.body, original.body);
    assert_eq!(
        (copy.flag, copy.reconsume_times, copy.born_timestamp),
        (3, 1, original.born_timestamp)
    );
    assert_eq!(copy.tags_code, tags_code(Some("tagA")));
    let props = decode_properties_map(&copy.properties);
    for (k, v) in [
        (UNIQ_KEY, "UNIQ1"),
        (KEYS, "k1 k2"),
        (TAGS, "tagA"),
        ("p", "v"),
        (TIMER_DELIVER_MS, "5000"),
        (WAIT, "false"),
        (TIMER_DEQUEUE_MS, "7000"),
        (TIMER_ENQUEUE_MS, stored_at.as_str()),
    ] {
        assert_eq!(props.get(k).map(String::as_str), Some(v), "{k}");
    }
    assert_eq!(
        (props[REAL_TOPIC].as_str(), props[REAL_QID].as_str()),
        ("Orders", "2")
    );
}

fn send(topic: &str, props: &str) -> SendRequest {
    SendRequest {
        header: SendMessageRequestHeader {
            producer_group: "PG".into(),
            topic: topic.into(),
            default_topic: "TBW102".into(),
            default_topic_queue_nums: 4,
            queue_id: 1,
            born_timestamp: 1,
            properties: Some(props.into()),
            ..Default::default()
        },
        body: Bytes::from_static(b"body"),
        batch: false,
        born_host: "127.0.0.1:5555".parse().unwrap(),
        client_version: 0,
    }
}

#[tokio::test]
async fn the_send_path_holds_refuses_or_passes_timer_messages() {
    let t = test_broker();
    let now = rocketmq_protocol::now_millis();
    // Ahead: stored in the timer topic, answered with the real queue.
    let ahead = encode_pairs(&[(TIMER_DELAY_SEC, "60")]);
    let stored = t.broker.send_store(send("T", &ahead)).unwrap();
    let receipt = t.broker.send_finish(stored).await.unwrap();
    assert_eq!(receipt.queue_id, 1);
    assert!(read_queue(&*t.store, "T", 1).is_empty());
    let held = read_queue(&*t.store, TIMER_TOPIC, 0);
    assert_eq!(held.len(), 1);
    let out: i64 = decode_properties_map(&held[0].properties)[TIMER_OUT_MS]
        .parse()
        .unwrap();
    assert!((now + 60_000..now + 65_000).contains(&out), "{out}");

    // Beyond the 3-day maximum: refused, the limit named.
    let too_far = encode_pairs(&[(TIMER_DELIVER_MS, &(now + 4 * 86_400_000).to_string())]);
    let err = t.broker.send_store(send("T", &too_far)).err().unwrap();
    assert_eq!(err.code, resp::MESSAGE_ILLEGAL);
    assert!(
        err.remark.contains("max delay 259200000ms"),
        "{}",
        err.remark
    );

    let bad = encode_pairs(&[(TIMER_DELAY_MS, "1.5")]);
    let err = t.broker.send_store(send("T", &bad)).err().unwrap();
    assert_eq!(err.code, resp::MESSAGE_ILLEGAL);
    assert!(err.remark.contains("TIMER_DELAY_MS"), "{}", err.remark);

    // In the past: delivered at once, its property kept.
    let past = encode_pairs(&[(TIMER_DELIVER_MS, &(now - 5_000).to_string())]);
    let stored = t.broker.send_store(send("T", &past)).unwrap();
    t.broker.send_finish(stored).await.unwrap();
    let direct = read_queue(&*t.store, "T", 1);
    assert_eq!(direct.len(), 1);
    assert!(decode_properties_map(&direct[0].properties).contains_key(TIMER_DELIVER_MS));

    // A delay level and a timer: the level wins (schedule topic), as in Apache.
    let both = encode_pairs(&[("DELAY", "2"), (TIMER_DELAY_SEC, "60")]);
    t.broker.send_store(send("T", &both)).unwrap();
    assert_eq!(read_queue(&*t.store, TIMER_TOPIC, 0).len(), 1);
    assert_eq!(read_queue(&*t.store, "SCHEDULE_TOPIC_XXXX", 1).len(), 1);
}

fn timer_message(store: &dyn MessageStore, uniq: &str, deliver_ms: i64) {
    let m = message("T", 0, uniq, &[]);
    store.put_messages(vec![to_timer(m, deliver_ms)]).unwrap();
}

#[test]
fn delivered_at_its_time_never_before_and_only_what_is_due_soon_is_held() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn MessageStore> = Arc::new(MemoryStore::new());
    let t0 = 1_700_000_000_000;
    let svc = TimerService::open(store.clone(), dir.path(), 86_400_000, t0).unwrap();
    timer_message(&*store, "late", t0 + 3_600_000);
    timer_message(&*store, "b", t0 + 1_500);
    timer_message(&*store, "a", t0 + 400);
    timer_message(&*store, "c", t0 + 2_999);

    let (report, wait) = svc.run_once(t0);
    assert_eq!(
        report,
        PassReport {
            enqueued: 4,
            delivered: 0
        }
    );
    assert!(read_queue(&*store, "T", 0).is_empty());
    // Only the slots starting within a second are read: "a" (and "b" in the next slot once
    // its slot comes within reach), never the one an hour ahead.
    assert_eq!(
        held_times(&svc).into_iter().collect::<Vec<_>>(),
        [t0 + 400, t0 + 1_500]
    );
    assert!(wait <= std::time::Duration::from_millis(100));

    svc.run_once(t0 + 399);
    assert!(read_queue(&*store, "T", 0).is_empty());
    svc.run_once(t0 + 400);
    assert_eq!(uniq_keys(&read_queue(&*store, "T", 0)), ["a"]);
    svc.run_once(t0 + 2_998);
    assert_eq!(uniq_keys(&read_queue(&*store, "T", 0)), ["a", "b"]);
    svc.run_once(t0 + 3_000);
    assert_eq!(uniq_keys(&read_queue(&*store, "T", 0)), ["a", "b", "c"]);
    assert_eq!(svc.held(), 0);
    // An entry due at once is delivered from memory in the same pass it is taken in.
    timer_message(&*store, "now", t0 + 3_050);
    svc.run_once(t0 + 3_060);
    assert_eq!(
        uniq_keys(&read_queue(&*store, "T", 0)),
        ["a", "b", "c", "now"]
    );
    // The entry an hour ahead still needs its commit-log record: retention must keep it.
    assert!(svc.lowest_needed_commit_log_offset().is_some());
    svc.run_once(t0 + 3_600_000);
    assert_eq!(read_queue(&*store, "T", 0).len(), 5);
    // Everything delivered (and checkpointed by the pass): the timer holds nothing back.
    svc.run_once(t0 + 3_600_600);
    assert_eq!(svc.lowest_needed_commit_log_offset(), None);
}

fn file_store(dir: &std::path::Path, flush: rocketmq_store::FlushMode) -> Arc<dyn MessageStore> {
    let mut cfg = rocketmq_store::StoreConfig::new(dir);
    cfg.flush = flush;
    cfg.commit_log_segment_size = 1 << 20;
    cfg.consume_queue_entries_per_file = 1024;
    rocketmq_store::FileStore::open(cfg).expect("open file store")
}

#[test]
fn a_restart_loses_nothing_and_delivers_nothing_twice() {
    for flush in [
        rocketmq_store::FlushMode::Sync,
        rocketmq_store::FlushMode::Async,
    ] {
        let dir = tempfile::tempdir().unwrap();
        let timer_dir = dir.path().join("timer");
        let t0 = 1_700_000_000_000;
        {
            let store = file_store(dir.path(), flush);
            let svc = TimerService::open(store.clone(), &timer_dir, 86_400_000, t0).unwrap();
            for i in 0..50 {
                timer_message(&*store, &format!("m{i:02}"), t0 + 100 + i * 100);
            }
            svc.run_once(t0);
            svc.run_once(t0 + 2_000);
            assert_eq!(read_queue(&*store, "T", 0).len(), 20);
            // Sent while the service is not looking, then the process stops.
            timer_message(&*store, "after", t0 + 2_500);
            store.shutdown();
        }
        // Down for a minute: everything fell due; delivered once each, after the restart.
        let store = file_store(dir.path(), flush);
        let svc = TimerService::open(store.clone(), &timer_dir, 86_400_000, t0 + 60_000).unwrap();
        for _ in 0..10 {
            svc.run_once(t0 + 60_000);
        }
        let mut keys = uniq_keys(&read_queue(&*store, "T", 0));
        assert_eq!(keys.len(), 51, "{flush:?}: {keys:?}");
        keys.sort();
        keys.dedup();
        assert_eq!(keys.len(), 51, "{flush:?}");
        store.shutdown();
    }
}

#[test]
fn a_crash_before_the_checkpoint_redelivers_rather_than_loses() {
    let dir = tempfile::tempdir().unwrap();
    let timer_dir = dir.path().join("timer");
    let t0 = 1_700_000_000_000;
    {
        let store = file_store(dir.path(), rocketmq_store::FlushMode::Sync);
        let svc = TimerService::open(store.clone(), &timer_dir, 86_400_000, t0).unwrap();
        timer_message(&*store, "x", t0 + 500);
        svc.run_once(t0);
        store.shutdown();
    }
    // The timer checkpoint is lost (as if the crash fell before it was written): the timer
    // queue is taken in again from the start and the message still comes.
    std::fs::remove_file(timer_dir.join("checkpoint.json")).unwrap();
    let store = file_store(dir.path(), rocketmq_store::FlushMode::Sync);
    let svc = TimerService::open(store.clone(), &timer_dir, 86_400_000, t0).unwrap();
    svc.run_once(t0 + 100);
    assert!(read_queue(&*store, "T", 0).is_empty());
    svc.run_once(t0 + 500);
    assert_eq!(uniq_keys(&read_queue(&*store, "T", 0)), ["x"]);
    store.shutdown();
}

#[test]
fn the_spawned_service_delivers_on_time_and_leaves_a_checkpoint_when_stopped() {
    use crate::broker::notify::{NotifyingStore, QueueNotifier};
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::{Duration, Instant};
    let dir = tempfile::tempdir().unwrap();
    let notifier = Arc::new(QueueNotifier::default());
    let memory: Arc<dyn MessageStore> = Arc::new(MemoryStore::new());
    let store: Arc<dyn MessageStore> = Arc::new(NotifyingStore::new(memory, notifier.clone()));
    let now = rocketmq_protocol::now_millis();
    let svc = Arc::new(TimerService::open(store.clone(), dir.path(), 86_400_000, now).unwrap());
    let stop = Arc::new(AtomicBool::new(false));
    let thread = svc.clone().spawn(notifier, stop.clone()).unwrap();
    let due = rocketmq_protocol::now_millis() + 300;
    timer_message(&*store, "soon", due);
    let deadline = Instant::now() + Duration::from_secs(10);
    while read_queue(&*store, "T", 0).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    let delivered = read_queue(&*store, "T", 0);
    assert_eq!(uniq_keys(&delivered), ["soon"]);
    let late = delivered[0].store_timestamp - due;
    // Never early; the 100 ms bound is checked end to end by the Python suite (this runs
    // unoptimised beside other tests).
    assert!(late >= 0, "{late}");
    stop.store(true, Ordering::Release);
    thread.join().unwrap();
    let json = std::fs::read_to_string(dir.path().join("checkpoint.json")).unwrap();
    assert!(json.contains("\"enqueueOffset\":1"), "{json}");
}

/// As Apache: a half message's timer waits for the commit, which then stores it in the timer
/// topic (not in its real queue).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_committed_transactional_message_gets_its_timer_at_the_commit() {
    use crate::broker::transaction::HALF_TOPIC;
    use crate::remoting::{ConnectionHandle, RequestProcessor};
    use rocketmq_protocol::code::request_code;
    use rocketmq_protocol::header::commit_or_rollback;
    use rocketmq_protocol::properties::{PGROUP, TRAN_MSG};
    use rocketmq_protocol::sysflag::TRANSACTION_PREPARED_TYPE;
    use rocketmq_protocol::RemotingCommand;
    let t = test_broker();
    let (conn, _rx) = ConnectionHandle::detached("127.0.0.1:5555".parse().unwrap());
    let properties = encode_pairs(&[(TRAN_MSG, "true"), (PGROUP, "PG"), (TIMER_DELAY_SEC, "60")]);
    let send = RemotingCommand::new_request(10)
        .with_field("producerGroup", "PG")
        .with_field("topic", "T")
        .with_field("defaultTopic", "TBW102")
        .with_field("defaultTopicQueueNums", 4)
        .with_field("queueId", 1)
        .with_field("sysFlag", TRANSACTION_PREPARED_TYPE)
        .with_field("bornTimestamp", 1)
        .with_field("flag", 0)
        .with_field("properties", properties)
        .with_body(b"x".to_vec());
    let sent = t.broker.clone().process(conn.clone(), send).await.unwrap();
    assert_eq!(sent.code, resp::SUCCESS, "{:?}", sent.remark);
    assert_eq!(t.store.max_offset(HALF_TOPIC, 0), 1);
    assert_eq!(
        t.store.max_offset(TIMER_TOPIC, 0),
        0,
        "no timer before the commit"
    );
    let (_, offset) =
        rocketmq_protocol::message_id::decode_offset_msg_id(sent.field("msgId").unwrap()).unwrap();
    let end = RemotingCommand::new_request(request_code::END_TRANSACTION)
        .with_field("producerGroup", "PG")
        .with_field("tranStateTableOffset", sent.field("queueOffset").unwrap())
        .with_field("commitLogOffset", offset)
        .with_field("commitOrRollback", commit_or_rollback::COMMIT)
        .with_field("msgId", sent.field("transactionId").unwrap());
    let ended = t.broker.clone().process(conn, end).await.unwrap();
    assert_eq!(ended.code, resp::SUCCESS, "{:?}", ended.remark);
    assert_eq!(
        t.store.max_offset("T", 1),
        0,
        "not delivered before its time"
    );
    let held = read_queue(&*t.store, TIMER_TOPIC, 0);
    assert_eq!(held.len(), 1);
    let props = decode_properties_map(&held[0].properties);
    assert_eq!(
        (props[REAL_TOPIC].as_str(), props[REAL_QID].as_str()),
        ("T", "1")
    );
}

#[test]
fn ten_thousand_timers_a_day_ahead_hold_nothing_in_memory() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn MessageStore> = Arc::new(MemoryStore::new());
    let t0 = 1_700_000_000_000;
    let svc = TimerService::open(store.clone(), dir.path(), 3 * 86_400_000, t0).unwrap();
    for i in 0..10_000 {
        timer_message(&*store, &format!("d{i}"), t0 + 86_400_000 + i);
    }
    for step in 0..10 {
        svc.run_once(t0 + step * 1_000);
    }
    assert_eq!(svc.held(), 0);
    assert!(read_queue(&*store, "T", 0).is_empty());
    // A day later they come, in order of their time.
    for step in 0..12 {
        svc.run_once(t0 + 86_400_000 + step * 1_000);
    }
    let keys = uniq_keys(&read_queue(&*store, "T", 0));
    assert_eq!(keys.len(), 10_000);
    assert_eq!(keys.first().map(String::as_str), Some("d0"));
    assert_eq!(keys.last().map(String::as_str), Some("d9999"));
}
